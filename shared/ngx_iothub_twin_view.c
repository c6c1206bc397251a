
/*
 * nginx-iothub: what the twin engine renders from a stored twin: the
 * device's view (MQTT GET), desired notifications and the service's view
 * (REST); see ngx_iothub_twin.h.  Pure C: libc and yajl.
 */


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "ngx_iothub_twin.h"
#include "ngx_iothub_twin_json.h"


#define NGX_IOTHUB_TWIN_NEVER        "0001-01-01T00:00:00Z"


/* the parsed texts of a twin */
typedef struct {
    ngx_iothub_twin_node_t    *tags;
    ngx_iothub_twin_node_t    *desired;
    ngx_iothub_twin_node_t    *desired_meta;
    ngx_iothub_twin_node_t    *reported;
    ngx_iothub_twin_node_t    *reported_meta;
} ngx_iothub_twin_trees_t;


/* writes a view of twin t (and its identity id) from its trees into g */
typedef yajl_gen_status (*ngx_iothub_twin_gen_pt)(yajl_gen g,
    const ngx_iothub_twin_t *t, const ngx_iothub_twin_identity_t *id,
    const ngx_iothub_twin_trees_t *tr);


static yajl_gen_status ngx_iothub_twin_emit_section(yajl_gen g,
    const ngx_iothub_twin_node_t *root, const ngx_iothub_twin_node_t *meta,
    int64_t version);
static ngx_iothub_twin_rc_e ngx_iothub_twin_trees_load(
    const ngx_iothub_twin_t *t, ngx_iothub_twin_trees_t *tr, int meta,
    ngx_iothub_twin_err_t *e);
static void ngx_iothub_twin_trees_free(ngx_iothub_twin_trees_t *tr);
static yajl_gen_status ngx_iothub_twin_gen_pair(yajl_gen g,
    const char *name, const char *value, const char *dflt);
static yajl_gen_status ngx_iothub_twin_gen_ids(yajl_gen g,
    const ngx_iothub_twin_t *t, const ngx_iothub_twin_identity_t *id);
static yajl_gen_status ngx_iothub_twin_gen_auth(yajl_gen g,
    const ngx_iothub_twin_identity_t *id);
static yajl_gen_status ngx_iothub_twin_gen_props(yajl_gen g,
    const ngx_iothub_twin_t *t, const ngx_iothub_twin_trees_t *tr);
static yajl_gen_status ngx_iothub_twin_gen_caps(yajl_gen g,
    const ngx_iothub_twin_identity_t *id);
static yajl_gen_status ngx_iothub_twin_gen_sections(yajl_gen g,
    const ngx_iothub_twin_t *t, const ngx_iothub_twin_trees_t *tr);
static ngx_iothub_twin_rc_e ngx_iothub_twin_gen_view(
    const ngx_iothub_twin_t *t, const ngx_iothub_twin_identity_t *id,
    ngx_iothub_twin_gen_pt gen, yajl_gen g, char *err, size_t errlen);
static yajl_gen_status ngx_iothub_twin_gen_service(yajl_gen g,
    const ngx_iothub_twin_t *t, const ngx_iothub_twin_identity_t *id,
    const ngx_iothub_twin_trees_t *tr);
static yajl_gen_status ngx_iothub_twin_gen_members(yajl_gen g,
    const ngx_iothub_twin_t *t, const ngx_iothub_twin_identity_t *id,
    const ngx_iothub_twin_trees_t *tr);


/* {members..., "$metadata": meta (if any), "$version": version} */
static yajl_gen_status
ngx_iothub_twin_emit_section(yajl_gen g, const ngx_iothub_twin_node_t *root,
    const ngx_iothub_twin_node_t *meta, int64_t version)
{
    yajl_gen_status  s;

    s = yajl_gen_map_open(g);

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_emit_members(g, root);
    }

    if (s == yajl_gen_status_ok && meta != NULL) {
        s = ngx_iothub_twin_str(g, "$metadata");

        if (s == yajl_gen_status_ok) {
            s = ngx_iothub_twin_emit(g, meta);
        }
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_str(g, "$version");
    }

    if (s == yajl_gen_status_ok) {
        s = yajl_gen_integer(g, (long long) version);
    }

    return (s == yajl_gen_status_ok) ? yajl_gen_map_close(g) : s;
}


static ngx_iothub_twin_rc_e
ngx_iothub_twin_trees_load(const ngx_iothub_twin_t *t,
    ngx_iothub_twin_trees_t *tr, int meta, ngx_iothub_twin_err_t *e)
{
    ngx_iothub_twin_rc_e  rc;

    memset(tr, 0, sizeof(ngx_iothub_twin_trees_t));

    rc = ngx_iothub_twin_load(t->desired, "desired properties",
                              &tr->desired, e);

    if (rc == NGX_IOTHUB_TWIN_OK) {
        rc = ngx_iothub_twin_load(t->reported, "reported properties",
                                  &tr->reported, e);
    }

    if (meta) {
        if (rc == NGX_IOTHUB_TWIN_OK) {
            rc = ngx_iothub_twin_load(t->tags, "tags", &tr->tags, e);
        }

        if (rc == NGX_IOTHUB_TWIN_OK) {
            rc = ngx_iothub_twin_load(t->desired_meta, "desired metadata",
                                      &tr->desired_meta, e);
        }

        if (rc == NGX_IOTHUB_TWIN_OK) {
            rc = ngx_iothub_twin_load(t->reported_meta, "reported metadata",
                                      &tr->reported_meta, e);
        }
    }

    if (rc != NGX_IOTHUB_TWIN_OK) {
        ngx_iothub_twin_trees_free(tr);
    }

    return (rc == NGX_IOTHUB_TWIN_NO_MEMORY)
           ? ngx_iothub_twin_fail(e, rc, "out of memory") : rc;
}


static void
ngx_iothub_twin_trees_free(ngx_iothub_twin_trees_t *tr)
{
    ngx_iothub_twin_node_free(tr->tags);
    ngx_iothub_twin_node_free(tr->desired);
    ngx_iothub_twin_node_free(tr->desired_meta);
    ngx_iothub_twin_node_free(tr->reported);
    ngx_iothub_twin_node_free(tr->reported_meta);

    memset(tr, 0, sizeof(ngx_iothub_twin_trees_t));
}


ngx_iothub_twin_rc_e
ngx_iothub_twin_device_view(const ngx_iothub_twin_t *t, char **out,
    char *err, size_t errlen)
{
    yajl_gen                 g;
    yajl_gen_status          s;
    ngx_iothub_twin_rc_e     rc;
    ngx_iothub_twin_err_t    e;
    ngx_iothub_twin_trees_t  tr;

    e.err = err;
    e.errlen = errlen;
    *out = NULL;

    rc = ngx_iothub_twin_trees_load(t, &tr, 0, &e);
    if (rc != NGX_IOTHUB_TWIN_OK) {
        return rc;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        ngx_iothub_twin_trees_free(&tr);
        return ngx_iothub_twin_fail(&e, NGX_IOTHUB_TWIN_NO_MEMORY,
                                    "out of memory");
    }

    s = yajl_gen_map_open(g);

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_str(g, "desired");
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_emit_section(g, tr.desired, NULL,
                                         t->desired_version);
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_str(g, "reported");
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_emit_section(g, tr.reported, NULL,
                                         t->reported_version);
    }

    if (s == yajl_gen_status_ok) {
        s = yajl_gen_map_close(g);
    }

    ngx_iothub_twin_trees_free(&tr);

    if (s != yajl_gen_status_ok) {
        yajl_gen_free(g);
        rc = NGX_IOTHUB_TWIN_NO_MEMORY;

    } else {
        rc = ngx_iothub_twin_output(g, out);
    }

    return (rc == NGX_IOTHUB_TWIN_OK)
           ? rc : ngx_iothub_twin_fail(&e, rc, "out of memory");
}


ngx_iothub_twin_rc_e
ngx_iothub_twin_notification(const char *json, size_t len, int64_t version,
    char **out, char *err, size_t errlen)
{
    yajl_gen                 g;
    yajl_gen_status          s;
    ngx_iothub_twin_rc_e     rc;
    ngx_iothub_twin_err_t    e;
    ngx_iothub_twin_node_t  *patch;

    e.err = err;
    e.errlen = errlen;
    *out = NULL;

    rc = ngx_iothub_twin_parse_object(json, len, "the desired patch", &patch,
                                      &e);
    if (rc != NGX_IOTHUB_TWIN_OK) {
        return rc;
    }

    g = yajl_gen_alloc(NULL);

    if (g == NULL) {
        s = yajl_gen_generation_complete;

    } else {
        s = ngx_iothub_twin_emit_section(g, patch, NULL, version);
    }

    ngx_iothub_twin_node_free(patch);

    if (s != yajl_gen_status_ok) {
        if (g != NULL) {
            yajl_gen_free(g);
        }

        rc = NGX_IOTHUB_TWIN_NO_MEMORY;

    } else {
        rc = ngx_iothub_twin_output(g, out);
    }

    return (rc == NGX_IOTHUB_TWIN_OK)
           ? rc : ngx_iothub_twin_fail(&e, rc, "out of memory");
}


static yajl_gen_status
ngx_iothub_twin_gen_pair(yajl_gen g, const char *name, const char *value,
    const char *dflt)
{
    yajl_gen_status  s;

    s = ngx_iothub_twin_str(g, name);

    if (s != yajl_gen_status_ok) {
        return s;
    }

    if (value == NULL) {
        value = dflt;
    }

    return (value != NULL) ? ngx_iothub_twin_str(g, value) : yajl_gen_null(g);
}


static yajl_gen_status
ngx_iothub_twin_gen_ids(yajl_gen g, const ngx_iothub_twin_t *t,
    const ngx_iothub_twin_identity_t *id)
{
    int              module;
    char             etag[NGX_IOTHUB_TWIN_ETAG_LEN + 1];
    yajl_gen_status  s;

    module = (id->module_id != NULL && id->module_id[0] != '\0');
    ngx_iothub_twin_etag(t->version, etag);

    s = ngx_iothub_twin_gen_pair(g, "deviceId", id->device_id, "");

    if (s == yajl_gen_status_ok && module) {
        s = ngx_iothub_twin_gen_pair(g, "moduleId", id->module_id, "");
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_gen_pair(g, "etag", id->etag, etag);
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_gen_pair(g, "deviceEtag", id->device_etag, "");
    }

    /* rest.md 7: module twins omit the device-only "status" */
    if (s == yajl_gen_status_ok && !module) {
        s = ngx_iothub_twin_gen_pair(g, "status", id->status, "enabled");
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_gen_pair(g, "statusUpdateTime",
                                     id->status_update_time,
                                     NGX_IOTHUB_TWIN_NEVER);
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_gen_pair(g, "connectionState",
                                     id->connection_state, "Disconnected");
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_gen_pair(g, "lastActivityTime",
                                     id->last_activity_time,
                                     NGX_IOTHUB_TWIN_NEVER);
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_str(g, "cloudToDeviceMessageCount");
    }

    if (s == yajl_gen_status_ok) {
        s = yajl_gen_integer(g, id->c2d_count);
    }

    return s;
}


static yajl_gen_status
ngx_iothub_twin_gen_auth(yajl_gen g, const ngx_iothub_twin_identity_t *id)
{
    const char       *p, *q;
    yajl_gen_status   s;

    p = id->primary_thumbprint;
    q = id->secondary_thumbprint;

    s = ngx_iothub_twin_gen_pair(g, "authenticationType", id->auth_type,
                                 "sas");

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_str(g, "x509Thumbprint");
    }

    if (s == yajl_gen_status_ok) {
        s = yajl_gen_map_open(g);
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_gen_pair(g, "primaryThumbprint",
                                     (p != NULL && *p != '\0') ? p : NULL,
                                     NULL);
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_gen_pair(g, "secondaryThumbprint",
                                     (q != NULL && *q != '\0') ? q : NULL,
                                     NULL);
    }

    if (s == yajl_gen_status_ok) {
        s = yajl_gen_map_close(g);
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_gen_pair(g, "modelId", id->model_id, "");
    }

    return s;
}


static yajl_gen_status
ngx_iothub_twin_gen_props(yajl_gen g, const ngx_iothub_twin_t *t,
    const ngx_iothub_twin_trees_t *tr)
{
    yajl_gen_status  s;

    s = ngx_iothub_twin_str(g, "version");

    if (s == yajl_gen_status_ok) {
        s = yajl_gen_integer(g, (long long) t->version);
    }

    return (s == yajl_gen_status_ok)
           ? ngx_iothub_twin_gen_sections(g, t, tr) : s;
}


/* "tags" and "properties" (desired and reported with metadata) */
static yajl_gen_status
ngx_iothub_twin_gen_sections(yajl_gen g, const ngx_iothub_twin_t *t,
    const ngx_iothub_twin_trees_t *tr)
{
    yajl_gen_status  s;

    s = ngx_iothub_twin_str(g, "tags");

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_emit(g, tr->tags);
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_str(g, "properties");
    }

    if (s == yajl_gen_status_ok) {
        s = yajl_gen_map_open(g);
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_str(g, "desired");
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_emit_section(g, tr->desired, tr->desired_meta,
                                         t->desired_version);
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_str(g, "reported");
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_emit_section(g, tr->reported, tr->reported_meta,
                                         t->reported_version);
    }

    return (s == yajl_gen_status_ok) ? yajl_gen_map_close(g) : s;
}


static yajl_gen_status
ngx_iothub_twin_gen_caps(yajl_gen g, const ngx_iothub_twin_identity_t *id)
{
    yajl_gen_status  s;

    s = ngx_iothub_twin_str(g, "capabilities");

    if (s == yajl_gen_status_ok) {
        s = yajl_gen_map_open(g);
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_str(g, "iotEdge");
    }

    if (s == yajl_gen_status_ok) {
        s = yajl_gen_bool(g, id->iot_edge);
    }

    return (s == yajl_gen_status_ok) ? yajl_gen_map_close(g) : s;
}


ngx_iothub_twin_rc_e
ngx_iothub_twin_service_view(const ngx_iothub_twin_t *t,
    const ngx_iothub_twin_identity_t *id, yajl_gen g, char *err,
    size_t errlen)
{
    return ngx_iothub_twin_gen_view(t, id, ngx_iothub_twin_gen_service, g,
                                    err, errlen);
}


ngx_iothub_twin_rc_e
ngx_iothub_twin_export_members(const ngx_iothub_twin_t *t, yajl_gen g,
    char *err, size_t errlen)
{
    return ngx_iothub_twin_gen_view(t, NULL, ngx_iothub_twin_gen_members, g,
                                    err, errlen);
}


/* the trees with metadata loaded, gen writes into g, the trees freed */
static ngx_iothub_twin_rc_e
ngx_iothub_twin_gen_view(const ngx_iothub_twin_t *t,
    const ngx_iothub_twin_identity_t *id, ngx_iothub_twin_gen_pt gen,
    yajl_gen g, char *err, size_t errlen)
{
    yajl_gen_status          s;
    ngx_iothub_twin_rc_e     rc;
    ngx_iothub_twin_err_t    e;
    ngx_iothub_twin_trees_t  tr;

    e.err = err;
    e.errlen = errlen;

    rc = ngx_iothub_twin_trees_load(t, &tr, 1, &e);
    if (rc != NGX_IOTHUB_TWIN_OK) {
        return rc;
    }

    s = gen(g, t, id, &tr);

    ngx_iothub_twin_trees_free(&tr);

    if (s != yajl_gen_status_ok) {
        return ngx_iothub_twin_fail(&e, NGX_IOTHUB_TWIN_GEN_ERROR,
                                    "yajl_gen error %d", (int) s);
    }

    return NGX_IOTHUB_TWIN_OK;
}


/* the service's view of a twin (rest.md 7): one object */
static yajl_gen_status
ngx_iothub_twin_gen_service(yajl_gen g, const ngx_iothub_twin_t *t,
    const ngx_iothub_twin_identity_t *id, const ngx_iothub_twin_trees_t *tr)
{
    yajl_gen_status  s;

    s = yajl_gen_map_open(g);

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_gen_ids(g, t, id);
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_gen_auth(g, id);
    }

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_gen_props(g, t, tr);
    }

    /* rest.md 7: module twins omit the device-only "capabilities" */
    if (s == yajl_gen_status_ok
        && (id->module_id == NULL || id->module_id[0] == '\0'))
    {
        s = ngx_iothub_twin_gen_caps(g, id);
    }

    return (s == yajl_gen_status_ok) ? yajl_gen_map_close(g) : s;
}


/* the members of an export line (no id: the caller writes the ids) */
static yajl_gen_status
ngx_iothub_twin_gen_members(yajl_gen g, const ngx_iothub_twin_t *t,
    const ngx_iothub_twin_identity_t *id, const ngx_iothub_twin_trees_t *tr)
{
    char             etag[NGX_IOTHUB_TWIN_ETAG_LEN + 1];
    yajl_gen_status  s;

    (void) id;

    ngx_iothub_twin_etag(t->version, etag);

    s = ngx_iothub_twin_str(g, "twinETag");

    if (s == yajl_gen_status_ok) {
        s = ngx_iothub_twin_str(g, etag);
    }

    return (s == yajl_gen_status_ok)
           ? ngx_iothub_twin_gen_sections(g, t, tr) : s;
}


void
ngx_iothub_twin_etag(int64_t version, char *buf)
{
    int             i;
    uint32_t        w;
    unsigned char   b[9];

    static const char  alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    for (i = 0; i < 8; i++) {
        b[i] = (unsigned char) ((uint64_t) version >> (56 - 8 * i));
    }

    b[8] = 0;

    /* 8 bytes: two full groups of 3 and one of 2, padded with one '=' */
    for (i = 0; i < 3; i++) {
        w = (uint32_t) b[3 * i] << 16 | (uint32_t) b[3 * i + 1] << 8
            | (i < 2 ? b[3 * i + 2] : 0);

        buf[4 * i] = alphabet[(w >> 18) & 0x3f];
        buf[4 * i + 1] = alphabet[(w >> 12) & 0x3f];
        buf[4 * i + 2] = alphabet[(w >> 6) & 0x3f];
        buf[4 * i + 3] = alphabet[w & 0x3f];
    }

    buf[11] = '=';
    buf[12] = '\0';
}
