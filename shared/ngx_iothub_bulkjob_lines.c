
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * nginx-iothub: the words of the import/export jobs; see
 * ngx_iothub_bulkjob_lines.h.
 */


#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yajl/yajl_tree.h>

#include "ngx_iothub_bulkjob_lines.h"


#define NGX_IOTHUB_BULKJOB_DEFAULT_MODE  "[{\"importMode\":\"update\""


static int ngx_iothub_bulkjob_copy(yajl_val root, const char *name,
    char *out, size_t size, const char *dflt, char *err, size_t errlen);
static int ngx_iothub_bulkjob_exclude_keys(yajl_val root, int *exclude,
    char *err, size_t errlen);
static int ngx_iothub_bulkjob_container_valid(const unsigned char *s,
    size_t len);
static yajl_gen_status ngx_iothub_bulkjob_gen_str(yajl_gen g, const char *s);
static yajl_gen_status ngx_iothub_bulkjob_gen_opt(yajl_gen g, const char *s);
static yajl_gen_status ngx_iothub_bulkjob_gen_auth(yajl_gen g,
    const ngx_iothub_identity_t *id, int exclude_keys);
static yajl_gen_status ngx_iothub_bulkjob_gen_scopes(yajl_gen g,
    const char *text);


int
ngx_iothub_bulkjob_request_parse(ngx_iothub_bulkjob_request_t *req,
    const char *json, size_t len, char *err, size_t errlen)
{
    int          rc;
    char        *text, type[16];
    char         auth[32];
    yajl_val     root;

    memset(req, 0, sizeof(ngx_iothub_bulkjob_request_t));

    if (errlen) {
        err[0] = '\0';
    }

    /* yajl_tree_parse() wants a C string */

    text = malloc(len + 1);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    memcpy(text, json, len);
    text[len] = '\0';

    root = yajl_tree_parse(text, NULL, 0);
    free(text);

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        snprintf(err, errlen, "the body is not a JSON object");
        return -1;
    }

    rc = ngx_iothub_bulkjob_copy(root, "type", type, sizeof(type), NULL,
                                 err, errlen);

    if (rc == 0) {
        if (strcasecmp(type, "export") == 0) {
            req->type = NGX_IOTHUB_BULKJOB_EXPORT;

        } else if (strcasecmp(type, "import") == 0) {
            req->type = NGX_IOTHUB_BULKJOB_IMPORT;

        } else {
            snprintf(err, errlen, "type must be export or import");
            rc = -1;
        }
    }

    if (rc == 0) {
        rc = ngx_iothub_bulkjob_copy(root, "outputBlobContainerUri",
                                     req->output_uri, sizeof(req->output_uri),
                                     NULL, err, errlen);
    }

    if (rc == 0) {
        rc = ngx_iothub_bulkjob_copy(root, "inputBlobContainerUri",
                                     req->input_uri, sizeof(req->input_uri),
                                     (req->type == NGX_IOTHUB_BULKJOB_EXPORT)
                                     ? "" : NULL, err, errlen);
    }

    if (rc == 0) {
        rc = ngx_iothub_bulkjob_copy(root, "inputBlobName", req->input_blob,
                                     sizeof(req->input_blob),
                                     NGX_IOTHUB_BULKJOB_DEFAULT_BLOB,
                                     err, errlen);
    }

    if (rc == 0) {
        rc = ngx_iothub_bulkjob_copy(root, "outputBlobName",
                                     req->output_blob,
                                     sizeof(req->output_blob),
                                     NGX_IOTHUB_BULKJOB_DEFAULT_BLOB,
                                     err, errlen);
    }

    if (rc == 0) {
        rc = ngx_iothub_bulkjob_copy(root, "storageAuthenticationType", auth,
                                     sizeof(auth), "keyBased", err, errlen);

        if (rc == 0 && strcasecmp(auth, "keyBased") != 0) {
            snprintf(err, errlen, "storageAuthenticationType %s is not "
                     "supported: only keyBased (a SAS in the URI)", auth);
            rc = -1;
        }
    }

    if (rc == 0) {
        rc = ngx_iothub_bulkjob_exclude_keys(root, &req->exclude_keys, err,
                                             errlen);
    }

    yajl_tree_free(root);

    return rc;
}


/* a string member into out; absent or null: dflt, or an error if NULL */

static int
ngx_iothub_bulkjob_copy(yajl_val root, const char *name, char *out,
    size_t size, const char *dflt, char *err, size_t errlen)
{
    size_t       len;
    const char  *s;
    const char  *path[2];
    yajl_val     v;

    path[0] = name;
    path[1] = NULL;

    v = yajl_tree_get(root, path, yajl_t_any);

    if (v == NULL || YAJL_IS_NULL(v)) {
        if (dflt == NULL) {
            snprintf(err, errlen, "%s is required", name);
            return -1;
        }

        s = dflt;

    } else if (!YAJL_IS_STRING(v)) {
        snprintf(err, errlen, "%s must be a string", name);
        return -1;

    } else {
        s = YAJL_GET_STRING(v);
    }

    len = strlen(s);

    if (len >= size) {
        snprintf(err, errlen, "%s is longer than %zu bytes", name, size - 1);
        return -1;
    }

    if (len == 0 && dflt == NULL) {
        snprintf(err, errlen, "%s must not be empty", name);
        return -1;
    }

    memcpy(out, s, len + 1);

    return 0;
}


static int
ngx_iothub_bulkjob_exclude_keys(yajl_val root, int *exclude, char *err,
    size_t errlen)
{
    const char  *s;
    const char  *path[] = { "excludeKeysInExport", NULL };
    yajl_val     v;

    v = yajl_tree_get(root, path, yajl_t_any);

    *exclude = 0;

    if (v == NULL || YAJL_IS_NULL(v) || YAJL_IS_FALSE(v)) {
        return 0;
    }

    if (YAJL_IS_TRUE(v)) {
        *exclude = 1;
        return 0;
    }

    s = YAJL_GET_STRING(v);

    if (s != NULL && (strcasecmp(s, "true") == 0
                      || strcasecmp(s, "false") == 0))
    {
        *exclude = (strcasecmp(s, "true") == 0);
        return 0;
    }

    snprintf(err, errlen, "excludeKeysInExport must be a boolean");

    return -1;
}


ngx_iothub_bulkjob_uri_rc_e
ngx_iothub_bulkjob_uri_parse(ngx_iothub_bulkjob_uri_t *u, const char *uri,
    size_t len, const ngx_iothub_blob_connstr_t *cs)
{
    size_t                hlen;
    const unsigned char  *p, *last, *start;

    memset(u, 0, sizeof(ngx_iothub_bulkjob_uri_t));

    p = (const unsigned char *) uri;
    last = p + len;

    if (len < sizeof("https://") - 1
        || strncasecmp(uri, "https://", sizeof("https://") - 1) != 0)
    {
        return NGX_IOTHUB_BULKJOB_URI_MALFORMED;
    }

    p += sizeof("https://") - 1;
    hlen = strlen(cs->host);

    if ((size_t) (last - p) <= hlen
        || strncasecmp((const char *) p, cs->host, hlen) != 0
        || p[hlen] != '/')
    {
        return NGX_IOTHUB_BULKJOB_URI_OTHER_HOST;
    }

    p += hlen + 1;
    start = p;

    while (p < last && *p != '/' && *p != '?') {
        p++;
    }

    u->container.data = start;
    u->container.len = p - start;

    if (!ngx_iothub_bulkjob_container_valid(start, p - start)) {
        return NGX_IOTHUB_BULKJOB_URI_MALFORMED;
    }

    if (p < last && *p == '/') {
        p++;
    }

    if (p < last && *p != '?') {
        /* a blob's URI, not a container's */
        return NGX_IOTHUB_BULKJOB_URI_MALFORMED;
    }

    /* an empty query is one too, not a NULL pointer */

    u->query.data = (p < last) ? p + 1 : last;
    u->query.len = (p < last) ? (size_t) (last - p - 1) : 0;

    return NGX_IOTHUB_BULKJOB_URI_OK;
}


static int
ngx_iothub_bulkjob_container_valid(const unsigned char *s, size_t len)
{
    size_t  i;

    if (len < NGX_IOTHUB_BLOB_CONTAINER_MIN
        || len > NGX_IOTHUB_BLOB_CONTAINER_MAX)
    {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')
              || s[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}


ngx_iothub_blob_rc_e
ngx_iothub_bulkjob_uri_allows(const ngx_iothub_bulkjob_uri_t *u,
    const ngx_iothub_blob_connstr_t *cs, const char *blob, char permission,
    long long now)
{
    ngx_iothub_blob_rc_e      rc;
    ngx_iothub_blob_query_t   q;
    ngx_iothub_blob_access_t  a;

    rc = ngx_iothub_blob_query_parse(&q, u->query.data, u->query.len);
    if (rc != NGX_IOTHUB_BLOB_OK) {
        return rc;
    }

    a.account = cs->account;
    a.key = cs->key;
    a.key_len = cs->key_len;
    a.container = u->container.data;
    a.container_len = u->container.len;
    a.blob = (const unsigned char *) blob;
    a.blob_len = strlen(blob);
    a.permission = permission;
    a.now = now;

    return ngx_iothub_blob_sas_check(&q, &a);
}


int
ngx_iothub_bulkjob_line_gen(yajl_gen g, const ngx_iothub_identity_t *id,
    const ngx_iothub_twin_t *twin, int exclude_keys)
{
    char             err[128];
    yajl_gen_status  st;

    st = yajl_gen_map_open(g);

#define gen(call)  if (st == yajl_gen_status_ok) st = (call)

    gen(ngx_iothub_bulkjob_gen_str(g, "id"));
    gen(ngx_iothub_bulkjob_gen_str(g, id->device_id));

    if (id->module_id[0]) {
        gen(ngx_iothub_bulkjob_gen_str(g, "moduleId"));
        gen(ngx_iothub_bulkjob_gen_str(g, id->module_id));
        gen(ngx_iothub_bulkjob_gen_str(g, "managedBy"));
        gen(ngx_iothub_bulkjob_gen_opt(g, id->managed_by));
    }

    gen(ngx_iothub_bulkjob_gen_str(g, "eTag"));
    gen(ngx_iothub_bulkjob_gen_str(g, id->etag));

    if (id->module_id[0] == '\0') {
        gen(ngx_iothub_bulkjob_gen_str(g, "status"));
        gen(ngx_iothub_bulkjob_gen_str(g, id->status));
        gen(ngx_iothub_bulkjob_gen_str(g, "statusReason"));
        gen(ngx_iothub_bulkjob_gen_opt(g, id->status_reason));
    }

    gen(ngx_iothub_bulkjob_gen_str(g, "authentication"));
    gen(ngx_iothub_bulkjob_gen_auth(g, id, exclude_keys));

    if (twin != NULL && st == yajl_gen_status_ok
        && ngx_iothub_twin_export_members(twin, g, err, sizeof(err))
           != NGX_IOTHUB_TWIN_OK)
    {
        return -1;
    }

    if (id->module_id[0] == '\0') {
        gen(ngx_iothub_bulkjob_gen_str(g, "capabilities"));
        gen(yajl_gen_map_open(g));
        gen(ngx_iothub_bulkjob_gen_str(g, "iotEdge"));
        gen(yajl_gen_bool(g, id->iot_edge));
        gen(yajl_gen_map_close(g));
        gen(ngx_iothub_bulkjob_gen_str(g, "deviceScope"));
        gen(ngx_iothub_bulkjob_gen_opt(g, id->device_scope));
        gen(ngx_iothub_bulkjob_gen_str(g, "parentScopes"));
        gen(ngx_iothub_bulkjob_gen_scopes(g, id->parent_scopes));
    }

    gen(yajl_gen_map_close(g));

#undef gen

    return st;
}


static yajl_gen_status
ngx_iothub_bulkjob_gen_auth(yajl_gen g, const ngx_iothub_identity_t *id,
    int exclude_keys)
{
    int              sas, x509;
    yajl_gen_status  st;

    sas = (strcmp(id->auth_type, "sas") == 0) && !exclude_keys;
    x509 = (strcmp(id->auth_type, "selfSigned") == 0);

    st = yajl_gen_map_open(g);

#define gen(call)  if (st == yajl_gen_status_ok) st = (call)

    gen(ngx_iothub_bulkjob_gen_str(g, "symmetricKey"));
    gen(yajl_gen_map_open(g));
    gen(ngx_iothub_bulkjob_gen_str(g, "primaryKey"));
    gen(ngx_iothub_bulkjob_gen_opt(g, sas ? id->primary_key : ""));
    gen(ngx_iothub_bulkjob_gen_str(g, "secondaryKey"));
    gen(ngx_iothub_bulkjob_gen_opt(g, sas ? id->secondary_key : ""));
    gen(yajl_gen_map_close(g));
    gen(ngx_iothub_bulkjob_gen_str(g, "x509Thumbprint"));
    gen(yajl_gen_map_open(g));
    gen(ngx_iothub_bulkjob_gen_str(g, "primaryThumbprint"));
    gen(ngx_iothub_bulkjob_gen_opt(g, x509 ? id->primary_thumbprint : ""));
    gen(ngx_iothub_bulkjob_gen_str(g, "secondaryThumbprint"));
    gen(ngx_iothub_bulkjob_gen_opt(g, x509 ? id->secondary_thumbprint : ""));
    gen(yajl_gen_map_close(g));
    gen(ngx_iothub_bulkjob_gen_str(g, "type"));
    gen(ngx_iothub_bulkjob_gen_str(g, id->auth_type));
    gen(yajl_gen_map_close(g));

#undef gen

    return st;
}


/* the stored parentScopes text; anything but an array of strings is [] */

static yajl_gen_status
ngx_iothub_bulkjob_gen_scopes(yajl_gen g, const char *text)
{
    size_t           i;
    yajl_val         root, v;
    yajl_gen_status  st;

    root = yajl_tree_parse(text, NULL, 0);

    st = yajl_gen_array_open(g);

    for (i = 0; root != NULL && YAJL_IS_ARRAY(root)
                && i < root->u.array.len && st == yajl_gen_status_ok; i++)
    {
        v = root->u.array.values[i];

        if (YAJL_IS_STRING(v)) {
            st = ngx_iothub_bulkjob_gen_str(g, YAJL_GET_STRING(v));
        }
    }

    yajl_tree_free(root);

    if (st == yajl_gen_status_ok) {
        st = yajl_gen_array_close(g);
    }

    return st;
}


static yajl_gen_status
ngx_iothub_bulkjob_gen_str(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *) s, strlen(s));
}


/* an optional string: "" is null */

static yajl_gen_status
ngx_iothub_bulkjob_gen_opt(yajl_gen g, const char *s)
{
    return s[0] ? ngx_iothub_bulkjob_gen_str(g, s) : yajl_gen_null(g);
}


ngx_iothub_identity_rc_e
ngx_iothub_bulkjob_line_parse(ngx_iothub_bulk_entry_t *e, const char *line,
    size_t len, char *err, size_t errlen)
{
    char                      *text, *p;
    size_t                     n, head;
    ngx_iothub_bulk_entry_t   *entries;
    ngx_iothub_identity_rc_e   rc;

    /*
     * The line is an entry of a bulk request whose first member is the
     * default importMode, which the line's own importMode follows and
     * overrides: "[{"importMode":"update"," + the object after "{" + "]".
     */

    while (len > 0 && (*line == ' ' || *line == '\t' || *line == '\r')) {
        line++;
        len--;
    }

    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'
                       || line[len - 1] == '\r'))
    {
        len--;
    }

    if (len < 2 || line[0] != '{') {
        snprintf(err, errlen, "the line is not a JSON object");
        return NGX_IOTHUB_IDENTITY_BAD_JSON;
    }

    head = sizeof(NGX_IOTHUB_BULKJOB_DEFAULT_MODE) - 1;

    text = malloc(head + 1 + len + 1);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory");
        return NGX_IOTHUB_IDENTITY_NO_MEMORY;
    }

    p = text;
    memcpy(p, NGX_IOTHUB_BULKJOB_DEFAULT_MODE, head);
    p += head;

    /* "{}" has no member to put a "," before */

    for (n = 1; n < len && strchr(" \t\r\n", line[n]) != NULL; n++) {
        /* void */
    }

    if (n >= len || line[n] != '}') {
        *p++ = ',';
    }

    memcpy(p, line + 1, len - 1);
    p += len - 1;
    *p++ = ']';

    rc = ngx_iothub_bulk_parse(text, p - text, &entries, &n, err, errlen);
    free(text);

    if (rc != NGX_IOTHUB_IDENTITY_OK) {
        return rc;
    }

    if (n != 1) {
        /* "{...},{...}": more than one object on the line */
        free(entries);
        snprintf(err, errlen, "the line holds more than one object");
        return NGX_IOTHUB_IDENTITY_INVALID;
    }

    *e = entries[0];
    free(entries);

    return NGX_IOTHUB_IDENTITY_OK;
}


int
ngx_iothub_bulkjob_line_twin(const char *line, size_t len, char *twin_etag,
    size_t size)
{
    int          twin;
    char        *text;
    yajl_val     root, v;
    const char  *s;

    static const char  *tags[] = { "tags", NULL };
    static const char  *desired[] = { "properties", "desired", NULL };
    static const char  *etag[] = { "twinETag", NULL };

    if (size) {
        twin_etag[0] = '\0';
    }

    text = malloc(len + 1);
    if (text == NULL) {
        return 0;
    }

    memcpy(text, line, len);
    text[len] = '\0';

    root = yajl_tree_parse(text, NULL, 0);
    free(text);

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return 0;
    }

    v = yajl_tree_get(root, tags, yajl_t_any);
    twin = (v != NULL && !YAJL_IS_NULL(v));

    v = yajl_tree_get(root, desired, yajl_t_any);
    twin |= (v != NULL && !YAJL_IS_NULL(v));

    s = YAJL_GET_STRING(yajl_tree_get(root, etag, yajl_t_string));

    if (s != NULL && strlen(s) < size) {
        memcpy(twin_etag, s, strlen(s) + 1);
    }

    yajl_tree_free(root);

    return twin;
}


const char *
ngx_iothub_bulkjob_mode_name(ngx_iothub_import_mode_e mode)
{
    static const char  *names[] = {
        "create", "update", "updateIfMatchETag", "delete",
        "deleteIfMatchETag", "updateTwin", "updateTwinIfMatchETag"
    };

    if ((size_t) mode >= sizeof(names) / sizeof(names[0])) {
        return "unknown";
    }

    return names[mode];
}
