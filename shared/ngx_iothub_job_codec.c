
/*
 * nginx-iothub: jobs v2, the pure part; see ngx_iothub_job_codec.h.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ngx_iothub_job_codec.h"
#include "ngx_iothub_json.h"
#include "ngx_iothub_sas.h"


/* objects and arrays nest at most this deep in a request we read */
#define NGX_IOTHUB_JOB_DEPTH_MAX  32

/* the longest method timeout, as the REST invoke takes (rest.md 8) */
#define NGX_IOTHUB_JOB_TIMEOUT_MAX  300


const char  *ngx_iothub_job_field_names[] = {
    "jobId",
    "type",
    "queryCondition",
    "spec",
    "status",
    "createdTime",
    "startTime",
    "endTime",
    "maxExecutionTimeInSeconds",
    "failureReason",
    "statusMessage",
    "deviceCount",
    "failedCount",
    "succeededCount",
    "runningCount",
    "startMs",
    "deadlineMs",
    "cursor",
    "owner",
    "counted",
    NULL
};


/* a member of the job JSON from a field of the record */
typedef struct {
    const char                    *name;
    ngx_iothub_job_field_e         field;
    int                            number;
} ngx_iothub_job_member_t;


static const ngx_iothub_job_member_t  ngx_iothub_job_members[] = {
    { "jobId", NGX_IOTHUB_JOB_F_JOB_ID, 0 },
    { "type", NGX_IOTHUB_JOB_F_TYPE, 0 },
    { "queryCondition", NGX_IOTHUB_JOB_F_CONDITION, 0 },
    { "createdTime", NGX_IOTHUB_JOB_F_CREATED, 0 },
    { "startTime", NGX_IOTHUB_JOB_F_START, 0 },
    { "endTime", NGX_IOTHUB_JOB_F_END, 0 },
    { "maxExecutionTimeInSeconds", NGX_IOTHUB_JOB_F_MAX_EXECUTION, 1 },
    { "status", NGX_IOTHUB_JOB_F_STATUS, 0 },
    { "failureReason", NGX_IOTHUB_JOB_F_FAILURE, 0 },
    { "statusMessage", NGX_IOTHUB_JOB_F_STATUS_MESSAGE, 0 },
    { NULL, 0, 0 }
};


static const ngx_iothub_job_member_t  ngx_iothub_job_statistics[] = {
    { "deviceCount", NGX_IOTHUB_JOB_F_DEVICES, 1 },
    { "failedCount", NGX_IOTHUB_JOB_F_FAILED, 1 },
    { "succeededCount", NGX_IOTHUB_JOB_F_SUCCEEDED, 1 },
    { "runningCount", NGX_IOTHUB_JOB_F_RUNNING, 1 },
    { NULL, 0, 0 }
};


static ngx_iothub_job_rc_e ngx_iothub_job_fail(ngx_iothub_job_rc_e rc,
    char *err, size_t errlen, const char *msg);
static yajl_val ngx_iothub_job_member(yajl_val obj, const char *name);
static char *ngx_iothub_job_strdup(const char *s, size_t len);
static char *ngx_iothub_job_value_text(yajl_val v);
static ngx_iothub_job_rc_e ngx_iothub_job_read_common(yajl_val root,
    const char *path_id, size_t path_id_len, ngx_iothub_job_request_t *req,
    char *err, size_t errlen);
static ngx_iothub_job_rc_e ngx_iothub_job_read_times(yajl_val root,
    ngx_iothub_job_request_t *req, char *err, size_t errlen);
static ngx_iothub_job_rc_e ngx_iothub_job_read_method(yajl_val m,
    ngx_iothub_job_method_t *out, char *err, size_t errlen);
static int ngx_iothub_job_timeout(yajl_val v, long long *t);
static char *ngx_iothub_job_method_spec(const ngx_iothub_job_method_t *m);
static ngx_iothub_reply_rc_e ngx_iothub_job_fill(const redisReply *r,
    ngx_iothub_job_record_t *rec);
static yajl_gen_status ngx_iothub_job_gen_str(yajl_gen g, const char *s);
static yajl_gen_status ngx_iothub_job_gen_span(yajl_gen g,
    const ngx_iothub_reply_str_t *s);
static yajl_gen_status ngx_iothub_job_gen_field(yajl_gen g, const char *name,
    const ngx_iothub_job_record_t *rec, ngx_iothub_job_field_e f,
    int number);
static yajl_gen_status ngx_iothub_job_gen_json(yajl_gen g, const char *text,
    size_t len);
static yajl_gen_status ngx_iothub_job_gen_members(yajl_gen g,
    const ngx_iothub_job_record_t *rec, const ngx_iothub_job_member_t *m);
static long long ngx_iothub_job_count(const ngx_iothub_job_record_t *rec,
    ngx_iothub_job_field_e f);
static yajl_gen_status ngx_iothub_job_gen_outcome(yajl_gen g,
    const ngx_iothub_job_device_t *d);
static yajl_gen_status ngx_iothub_job_gen_error(yajl_gen g,
    const ngx_iothub_job_device_t *d);
static const char *ngx_iothub_job_ids_head(const char *p, const char *last,
    int *list);
static const char *ngx_iothub_job_ids_read(const char *p, const char *last,
    int list, char ***ids, size_t *n);
static void ngx_iothub_job_ids_sort(char **ids, size_t *n);
static const char *ngx_iothub_job_skip(const char *p, const char *last);
static const char *ngx_iothub_job_word(const char *p, const char *last,
    const char *word);
static const char *ngx_iothub_job_quoted(const char *p, const char *last,
    char **id);
static int ngx_iothub_job_id_cmp(const void *a, const void *b);


static ngx_iothub_job_rc_e
ngx_iothub_job_fail(ngx_iothub_job_rc_e rc, char *err, size_t errlen,
    const char *msg)
{
    if (errlen) {
        snprintf(err, errlen, "%s", msg);
    }

    return rc;
}


ngx_iothub_job_rc_e
ngx_iothub_job_request_parse(const char *json, size_t len,
    const char *path_id, size_t path_id_len, ngx_iothub_job_request_t *req,
    char *err, size_t errlen)
{
    char                 *text, yerr[128];
    yajl_val              root, v;
    ngx_iothub_job_rc_e   rc;
    ngx_iothub_job_method_t  m;

    memset(req, 0, sizeof(ngx_iothub_job_request_t));

    if (len > NGX_IOTHUB_JOB_REQUEST_MAX) {
        return ngx_iothub_job_fail(NGX_IOTHUB_JOB_INVALID, err, errlen,
                                   "the job request is too large");
    }

    if (ngx_iothub_json_too_deep(json, len, NGX_IOTHUB_JOB_DEPTH_MAX)) {
        return ngx_iothub_job_fail(NGX_IOTHUB_JOB_INVALID, err, errlen,
                                   "the job request nests too deeply");
    }

    text = ngx_iothub_job_strdup(json, len);
    if (text == NULL) {
        return NGX_IOTHUB_JOB_NO_MEMORY;
    }

    root = yajl_tree_parse(text, yerr, sizeof(yerr));
    free(text);

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return ngx_iothub_job_fail(NGX_IOTHUB_JOB_BAD_JSON, err, errlen,
                                   "the job request is not a JSON object");
    }

    rc = ngx_iothub_job_read_common(root, path_id, path_id_len, req, err,
                                    errlen);
    if (rc != NGX_IOTHUB_JOB_OK) {
        goto failed;
    }

    if (req->type == NGX_IOTHUB_JOB_TWIN) {
        v = ngx_iothub_job_member(root, "updateTwin");

        if (!YAJL_IS_OBJECT(v)) {
            rc = ngx_iothub_job_fail(NGX_IOTHUB_JOB_INVALID, err, errlen,
                                     "updateTwin must be an object");
            goto failed;
        }

        req->spec = ngx_iothub_job_value_text(v);

    } else {
        rc = ngx_iothub_job_read_method(
                 ngx_iothub_job_member(root, "cloudToDeviceMethod"), &m, err,
                 errlen);
        if (rc != NGX_IOTHUB_JOB_OK) {
            goto failed;
        }

        req->spec = ngx_iothub_job_method_spec(&m);
        ngx_iothub_job_method_free(&m);
    }

    if (req->spec == NULL) {
        rc = NGX_IOTHUB_JOB_NO_MEMORY;
        goto failed;
    }

    yajl_tree_free(root);

    return NGX_IOTHUB_JOB_OK;

failed:

    yajl_tree_free(root);
    ngx_iothub_job_request_free(req);

    return rc;
}


/* jobId, type, queryCondition, startTime, maxExecutionTimeInSeconds */

static ngx_iothub_job_rc_e
ngx_iothub_job_read_common(yajl_val root, const char *path_id,
    size_t path_id_len, ngx_iothub_job_request_t *req, char *err,
    size_t errlen)
{
    yajl_val  v;

    if (!ngx_iothub_id_valid((const unsigned char *) path_id, path_id_len)) {
        return ngx_iothub_job_fail(NGX_IOTHUB_JOB_INVALID, err, errlen,
                                   "invalid jobId");
    }

    v = ngx_iothub_job_member(root, "jobId");

    if (v != NULL && !YAJL_IS_NULL(v)
        && (!YAJL_IS_STRING(v) || strlen(v->u.string) != path_id_len
            || memcmp(v->u.string, path_id, path_id_len) != 0))
    {
        return ngx_iothub_job_fail(NGX_IOTHUB_JOB_INVALID, err, errlen,
                                   "jobId does not match the path");
    }

    req->job_id = ngx_iothub_job_strdup(path_id, path_id_len);
    if (req->job_id == NULL) {
        return NGX_IOTHUB_JOB_NO_MEMORY;
    }

    v = ngx_iothub_job_member(root, "type");

    if (YAJL_IS_STRING(v) && strcmp(v->u.string, "scheduleUpdateTwin") == 0) {
        req->type = NGX_IOTHUB_JOB_TWIN;

    } else if (YAJL_IS_STRING(v)
               && strcmp(v->u.string, "scheduleDeviceMethod") == 0)
    {
        req->type = NGX_IOTHUB_JOB_METHOD;

    } else {
        return ngx_iothub_job_fail(NGX_IOTHUB_JOB_INVALID, err, errlen,
                                   "type must be scheduleUpdateTwin or "
                                   "scheduleDeviceMethod");
    }

    v = ngx_iothub_job_member(root, "queryCondition");

    if (!YAJL_IS_STRING(v) || v->u.string[0] == '\0'
        || strlen(v->u.string) > NGX_IOTHUB_JOB_CONDITION_MAX)
    {
        return ngx_iothub_job_fail(NGX_IOTHUB_JOB_INVALID, err, errlen,
                                   "queryCondition must be a non-empty "
                                   "string of at most 8192 characters");
    }

    req->condition = strdup(v->u.string);
    if (req->condition == NULL) {
        return NGX_IOTHUB_JOB_NO_MEMORY;
    }

    return ngx_iothub_job_read_times(root, req, err, errlen);
}


/* startTime (absent or null: now), maxExecutionTimeInSeconds */

static ngx_iothub_job_rc_e
ngx_iothub_job_read_times(yajl_val root, ngx_iothub_job_request_t *req,
    char *err, size_t errlen)
{
    yajl_val  v;

    req->start_ms = -1;
    v = ngx_iothub_job_member(root, "startTime");

    if (v != NULL && !YAJL_IS_NULL(v)) {
        req->start_ms = YAJL_IS_STRING(v)
                        ? ngx_iothub_job_parse_time(v->u.string,
                                                    strlen(v->u.string))
                        : -1;

        if (req->start_ms < 0) {
            return ngx_iothub_job_fail(NGX_IOTHUB_JOB_INVALID, err, errlen,
                                       "startTime must be an ISO 8601 UTC "
                                       "time");
        }
    }

    req->max_execution = NGX_IOTHUB_JOB_MAX_EXECUTION;
    v = ngx_iothub_job_member(root, "maxExecutionTimeInSeconds");

    if (v != NULL && !YAJL_IS_NULL(v)) {
        if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) <= 0
            || YAJL_GET_INTEGER(v) > 31536000)
        {
            return ngx_iothub_job_fail(NGX_IOTHUB_JOB_INVALID, err, errlen,
                                       "maxExecutionTimeInSeconds must be a "
                                       "positive number of seconds");
        }

        req->max_execution = YAJL_GET_INTEGER(v);
    }

    return NGX_IOTHUB_JOB_OK;
}


static ngx_iothub_job_rc_e
ngx_iothub_job_read_method(yajl_val m, ngx_iothub_job_method_t *out,
    char *err, size_t errlen)
{
    yajl_val  v;

    memset(out, 0, sizeof(ngx_iothub_job_method_t));

    if (!YAJL_IS_OBJECT(m)) {
        return ngx_iothub_job_fail(NGX_IOTHUB_JOB_INVALID, err, errlen,
                                   "cloudToDeviceMethod must be an object");
    }

    v = ngx_iothub_job_member(m, "methodName");

    if (!YAJL_IS_STRING(v) || v->u.string[0] == '\0'
        || strlen(v->u.string) > 128 || strchr(v->u.string, ' ') != NULL)
    {
        return ngx_iothub_job_fail(NGX_IOTHUB_JOB_INVALID, err, errlen,
                                   "cloudToDeviceMethod.methodName must be "
                                   "a name of 1 to 128 characters");
    }

    out->response_timeout = NGX_IOTHUB_JOB_RESPONSE_TIMEOUT;
    out->connect_timeout = NGX_IOTHUB_JOB_CONNECT_TIMEOUT;

    if (!ngx_iothub_job_timeout(ngx_iothub_job_member(m,
                                    "responseTimeoutInSeconds"),
                                &out->response_timeout)
        || !ngx_iothub_job_timeout(ngx_iothub_job_member(m,
                                       "connectTimeoutInSeconds"),
                                   &out->connect_timeout))
    {
        return ngx_iothub_job_fail(NGX_IOTHUB_JOB_INVALID, err, errlen,
                                   "method timeouts must be 0 to 300 "
                                   "seconds");
    }

    if (out->response_timeout == 0) {
        out->response_timeout = NGX_IOTHUB_JOB_RESPONSE_TIMEOUT;
    }

    out->name = strdup(v->u.string);
    out->payload = ngx_iothub_job_value_text(ngx_iothub_job_member(m,
                                                                   "payload"));

    if (out->name == NULL || out->payload == NULL) {
        ngx_iothub_job_method_free(out);
        return NGX_IOTHUB_JOB_NO_MEMORY;
    }

    return NGX_IOTHUB_JOB_OK;
}


/* absent and null keep the default */

static int
ngx_iothub_job_timeout(yajl_val v, long long *t)
{
    if (v == NULL || YAJL_IS_NULL(v)) {
        return 1;
    }

    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0
        || YAJL_GET_INTEGER(v) > NGX_IOTHUB_JOB_TIMEOUT_MAX)
    {
        return 0;
    }

    *t = YAJL_GET_INTEGER(v);

    return 1;
}


static char *
ngx_iothub_job_method_spec(const ngx_iothub_job_method_t *m)
{
    char                 *out;
    size_t                len;
    yajl_gen              g;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NULL;
    }

    out = NULL;

    if (yajl_gen_map_open(g) == yajl_gen_status_ok
        && ngx_iothub_job_gen_str(g, "methodName") == yajl_gen_status_ok
        && ngx_iothub_job_gen_str(g, m->name) == yajl_gen_status_ok
        && ngx_iothub_job_gen_str(g, "payload") == yajl_gen_status_ok
        && ngx_iothub_job_gen_json(g, m->payload, strlen(m->payload))
           == yajl_gen_status_ok
        && ngx_iothub_job_gen_str(g, "responseTimeoutInSeconds")
           == yajl_gen_status_ok
        && yajl_gen_integer(g, m->response_timeout) == yajl_gen_status_ok
        && ngx_iothub_job_gen_str(g, "connectTimeoutInSeconds")
           == yajl_gen_status_ok
        && yajl_gen_integer(g, m->connect_timeout) == yajl_gen_status_ok
        && yajl_gen_map_close(g) == yajl_gen_status_ok
        && yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
    {
        out = ngx_iothub_job_strdup((const char *) buf, len);
    }

    yajl_gen_free(g);

    return out;
}


ngx_iothub_job_rc_e
ngx_iothub_job_method_parse(const char *spec, size_t len,
    ngx_iothub_job_method_t *m, char *err, size_t errlen)
{
    char                 *text, yerr[128];
    yajl_val              root;
    ngx_iothub_job_rc_e   rc;

    memset(m, 0, sizeof(ngx_iothub_job_method_t));

    if (ngx_iothub_json_too_deep(spec, len, NGX_IOTHUB_JOB_DEPTH_MAX)) {
        return ngx_iothub_job_fail(NGX_IOTHUB_JOB_INVALID, err, errlen,
                                   "the method call nests too deeply");
    }

    text = ngx_iothub_job_strdup(spec, len);
    if (text == NULL) {
        return NGX_IOTHUB_JOB_NO_MEMORY;
    }

    root = yajl_tree_parse(text, yerr, sizeof(yerr));
    free(text);

    if (root == NULL) {
        return ngx_iothub_job_fail(NGX_IOTHUB_JOB_BAD_JSON, err, errlen,
                                   "the method call is not JSON");
    }

    rc = ngx_iothub_job_read_method(root, m, err, errlen);
    yajl_tree_free(root);

    return rc;
}


void
ngx_iothub_job_method_free(ngx_iothub_job_method_t *m)
{
    free(m->name);
    free(m->payload);
    m->name = NULL;
    m->payload = NULL;
}


void
ngx_iothub_job_request_free(ngx_iothub_job_request_t *req)
{
    free(req->job_id);
    free(req->condition);
    free(req->spec);
    req->job_id = NULL;
    req->condition = NULL;
    req->spec = NULL;
}


const char *
ngx_iothub_job_type_name(ngx_iothub_job_type_e type)
{
    return (type == NGX_IOTHUB_JOB_TWIN) ? "scheduleUpdateTwin"
                                         : "scheduleDeviceMethod";
}


static yajl_val
ngx_iothub_job_member(yajl_val obj, const char *name)
{
    size_t  i;

    if (!YAJL_IS_OBJECT(obj)) {
        return NULL;
    }

    for (i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], name) == 0) {
            return obj->u.object.values[i];
        }
    }

    return NULL;
}


static char *
ngx_iothub_job_strdup(const char *s, size_t len)
{
    char  *p;

    p = malloc(len + 1);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, s, len);
    p[len] = '\0';

    return p;
}


/* a parsed value as compact JSON text (NULL: "null"), malloc()ed */

static char *
ngx_iothub_job_value_text(yajl_val v)
{
    char                 *out;
    size_t                len;
    yajl_gen              g;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NULL;
    }

    out = NULL;

    if (ngx_iothub_json_gen_value(g, v) == yajl_gen_status_ok
        && yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
    {
        out = ngx_iothub_job_strdup((const char *) buf, len);
    }

    yajl_gen_free(g);

    return out;
}


long long
ngx_iothub_job_parse_time(const char *text, size_t len)
{
    int          n[6], i, digits;
    long long    ms, days, y, m;
    const char  *p, *last;

    static const int  widths[6] = { 4, 2, 2, 2, 2, 2 };
    static const char  seps[6] = { '-', '-', 'T', ':', ':', '\0' };

    p = text;
    last = text + len;

    for (i = 0; i < 6; i++) {
        n[i] = 0;

        for (digits = 0; digits < widths[i]; digits++, p++) {
            if (p == last || *p < '0' || *p > '9') {
                return -1;
            }

            n[i] = n[i] * 10 + (*p - '0');
        }

        if (seps[i] != '\0') {
            if (p == last || (*p != seps[i] && !(i == 2 && *p == 't'))) {
                return -1;
            }

            p++;
        }
    }

    ms = 0;

    if (p < last && *p == '.') {
        p++;

        for (digits = 0; p < last && *p >= '0' && *p <= '9'; digits++, p++) {
            if (digits < 3) {
                ms = ms * 10 + (*p - '0');
            }
        }

        if (digits == 0 || digits > 9) {
            return -1;
        }

        for ( /* void */ ; digits < 3; digits++) {
            ms *= 10;
        }
    }

    if (!((last - p == 1 && (*p == 'Z' || *p == 'z'))
          || (last - p == 6 && memcmp(p, "+00:00", 6) == 0)))
    {
        return -1;
    }

    if (n[0] < 1970 || n[1] < 1 || n[1] > 12 || n[2] < 1 || n[2] > 31
        || n[3] > 23 || n[4] > 59 || n[5] > 60)
    {
        return -1;
    }

    /* days from the civil date (Howard Hinnant's algorithm) */

    y = n[0] - (n[1] <= 2);
    m = n[1];
    days = 365 * y + y / 4 - y / 100 + y / 400
           + (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + n[2] - 1 - 719468;

    return ((days * 24 + n[3]) * 60 + n[4]) * 60000LL + n[5] * 1000LL + ms;
}


void
ngx_iothub_job_format_time(long long ms, char *buf)
{
    time_t     t;
    struct tm  tm;

    t = (time_t) (ms / 1000);
    gmtime_r(&t, &tm);

    snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
             tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100, (int) (ms % 1000));
}


/* Redis replies */

ngx_iothub_reply_rc_e
ngx_iothub_job_reply_record(const redisReply *r, ngx_iothub_job_record_t *rec)
{
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_check(r);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    if (r->type == REDIS_REPLY_NIL
        || (r->type == REDIS_REPLY_ARRAY && r->elements == 0))
    {
        return NGX_IOTHUB_REPLY_NIL;
    }

    return ngx_iothub_job_fill(r, rec);
}


static ngx_iothub_reply_rc_e
ngx_iothub_job_fill(const redisReply *r, ngx_iothub_job_record_t *rec)
{
    size_t              i, f;
    const redisReply   *name, *value;

    memset(rec, 0, sizeof(ngx_iothub_job_record_t));

    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    for (i = 0; i < r->elements; i += 2) {
        name = r->element[i];
        value = r->element[i + 1];

        if (name->type != REDIS_REPLY_STRING
            || value->type != REDIS_REPLY_STRING)
        {
            return NGX_IOTHUB_REPLY_MALFORMED;
        }

        for (f = 0; f < NGX_IOTHUB_JOB_NFIELDS; f++) {
            if (name->len == strlen(ngx_iothub_job_field_names[f])
                && memcmp(name->str, ngx_iothub_job_field_names[f],
                          name->len) == 0)
            {
                rec->value[f].data = (const unsigned char *) value->str;
                rec->value[f].len = value->len;
                break;
            }
        }
    }

    if (rec->value[NGX_IOTHUB_JOB_F_JOB_ID].len == 0
        || rec->value[NGX_IOTHUB_JOB_F_TYPE].len == 0
        || rec->value[NGX_IOTHUB_JOB_F_STATUS].len == 0)
    {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    return NGX_IOTHUB_REPLY_OK;
}


ngx_iothub_reply_rc_e
ngx_iothub_job_reply_list(const redisReply *r, long long *next, size_t *n)
{
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_check(r);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0
        || r->element[0]->type != REDIS_REPLY_INTEGER)
    {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    *next = r->element[0]->integer;
    *n = r->elements - 1;

    return NGX_IOTHUB_REPLY_OK;
}


ngx_iothub_reply_rc_e
ngx_iothub_job_reply_list_record(const redisReply *r, size_t i,
    ngx_iothub_job_record_t *rec)
{
    return ngx_iothub_job_fill(r->element[i + 1], rec);
}


ngx_iothub_reply_rc_e
ngx_iothub_job_reply_ids(const redisReply *r, size_t *n)
{
    return ngx_iothub_reply_strings(r, n);
}


void
ngx_iothub_job_reply_id(const redisReply *r, size_t i,
    ngx_iothub_reply_str_t *id)
{
    id->data = (const unsigned char *) r->element[i]->str;
    id->len = r->element[i]->len;
}


ngx_iothub_reply_rc_e
ngx_iothub_job_reply_rows(const redisReply *r, ngx_iothub_reply_str_t *next,
    size_t *n)
{
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_job_reply_ids(r, n);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    if (*n == 0) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    ngx_iothub_job_reply_id(r, 0, next);
    (*n)--;

    return NGX_IOTHUB_REPLY_OK;
}


void
ngx_iothub_job_reply_row(const redisReply *r, size_t i,
    ngx_iothub_reply_str_t *json)
{
    ngx_iothub_job_reply_id(r, i + 1, json);
}


/* the job JSON */

ngx_iothub_job_rc_e
ngx_iothub_job_emit(yajl_gen g, const ngx_iothub_job_record_t *rec)
{
    const char                    *spec_name;
    const ngx_iothub_reply_str_t  *type, *spec;

    type = &rec->value[NGX_IOTHUB_JOB_F_TYPE];
    spec = &rec->value[NGX_IOTHUB_JOB_F_SPEC];

    spec_name = (type->len == sizeof("scheduleUpdateTwin") - 1
                 && memcmp(type->data, "scheduleUpdateTwin", type->len) == 0)
                ? "updateTwin" : "cloudToDeviceMethod";

    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_iothub_job_gen_members(g, rec, ngx_iothub_job_members)
           != yajl_gen_status_ok
        || ngx_iothub_job_gen_str(g, spec_name) != yajl_gen_status_ok)
    {
        return NGX_IOTHUB_JOB_NO_MEMORY;
    }

    switch (ngx_iothub_job_gen_json(g, (const char *) spec->data,
                                    spec->len))
    {
    case yajl_gen_status_ok:
        break;

    case yajl_gen_invalid_string:
        return NGX_IOTHUB_JOB_BAD_JSON;

    default:
        return NGX_IOTHUB_JOB_NO_MEMORY;
    }

    if (ngx_iothub_job_gen_str(g, "deviceJobStatistics") != yajl_gen_status_ok
        || yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_iothub_job_gen_members(g, rec, ngx_iothub_job_statistics)
           != yajl_gen_status_ok
        || ngx_iothub_job_gen_str(g, "pendingCount") != yajl_gen_status_ok
        || yajl_gen_integer(g, ngx_iothub_job_pending(rec))
           != yajl_gen_status_ok
        || yajl_gen_map_close(g) != yajl_gen_status_ok
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return NGX_IOTHUB_JOB_NO_MEMORY;
    }

    return NGX_IOTHUB_JOB_OK;
}


/*
 * The devices the job selected that no worker has done or is doing yet:
 * deviceCount (counted when the job started running) less those
 * succeeded, failed and running, never negative; none once the job
 * completed (a device deleted meanwhile was skipped, not left pending).
 */

long long
ngx_iothub_job_pending(const ngx_iothub_job_record_t *rec)
{
    long long                      pending;
    const ngx_iothub_reply_str_t  *status;

    status = &rec->value[NGX_IOTHUB_JOB_F_STATUS];

    if (status->len == sizeof("completed") - 1
        && memcmp(status->data, "completed", status->len) == 0)
    {
        return 0;
    }

    pending = ngx_iothub_job_count(rec, NGX_IOTHUB_JOB_F_DEVICES)
              - ngx_iothub_job_count(rec, NGX_IOTHUB_JOB_F_SUCCEEDED)
              - ngx_iothub_job_count(rec, NGX_IOTHUB_JOB_F_FAILED)
              - ngx_iothub_job_count(rec, NGX_IOTHUB_JOB_F_RUNNING);

    return pending > 0 ? pending : 0;
}


/* a count of the record: 0 when absent or not all digits */

static long long
ngx_iothub_job_count(const ngx_iothub_job_record_t *rec,
    ngx_iothub_job_field_e f)
{
    size_t                         i;
    long long                      n;
    const ngx_iothub_reply_str_t  *v;

    v = &rec->value[f];

    if (v->len == 0 || v->len > 18) {
        return 0;
    }

    n = 0;

    for (i = 0; i < v->len; i++) {
        if (v->data[i] < '0' || v->data[i] > '9') {
            return 0;
        }

        n = n * 10 + (v->data[i] - '0');
    }

    return n;
}


static yajl_gen_status
ngx_iothub_job_gen_members(yajl_gen g, const ngx_iothub_job_record_t *rec,
    const ngx_iothub_job_member_t *m)
{
    yajl_gen_status  st;

    for ( /* void */ ; m->name != NULL; m++) {
        st = ngx_iothub_job_gen_field(g, m->name, rec, m->field, m->number);

        if (st != yajl_gen_status_ok) {
            return st;
        }
    }

    return yajl_gen_status_ok;
}


/*
 * A member of the record: a string, or a number when number is set (a
 * value that is not all digits then counts as 0); absent strings are
 * null.
 */

static yajl_gen_status
ngx_iothub_job_gen_field(yajl_gen g, const char *name,
    const ngx_iothub_job_record_t *rec, ngx_iothub_job_field_e f, int number)
{
    size_t                         i;
    yajl_gen_status                s;
    const ngx_iothub_reply_str_t  *v;

    v = &rec->value[f];

    s = ngx_iothub_job_gen_str(g, name);
    if (s != yajl_gen_status_ok) {
        return s;
    }

    if (number) {
        for (i = 0; i < v->len; i++) {
            if (v->data[i] < '0' || v->data[i] > '9') {
                break;
            }
        }

        if (v->len == 0 || v->len > 18 || i != v->len) {
            return yajl_gen_integer(g, 0);
        }

        return yajl_gen_number(g, (const char *) v->data, v->len);
    }

    if (v->len == 0) {
        return yajl_gen_null(g);
    }

    return ngx_iothub_job_gen_span(g, v);
}


static yajl_gen_status
ngx_iothub_job_gen_str(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *) s, strlen(s));
}


static yajl_gen_status
ngx_iothub_job_gen_span(yajl_gen g, const ngx_iothub_reply_str_t *s)
{
    return yajl_gen_string(g, s->data, s->len);
}


/*
 * JSON text as a value; yajl_gen_invalid_string when it does not parse
 * (or nests too deeply).
 */

static yajl_gen_status
ngx_iothub_job_gen_json(yajl_gen g, const char *text, size_t len)
{
    char             *copy, yerr[64];
    yajl_val          v;
    yajl_gen_status   s;

    if (len == 0
        || ngx_iothub_json_too_deep(text, len, NGX_IOTHUB_JOB_DEPTH_MAX))
    {
        return yajl_gen_invalid_string;
    }

    copy = ngx_iothub_job_strdup(text, len);
    if (copy == NULL) {
        return yajl_gen_generation_complete;
    }

    v = yajl_tree_parse(copy, yerr, sizeof(yerr));
    free(copy);

    if (v == NULL) {
        return yajl_gen_invalid_string;
    }

    s = ngx_iothub_json_gen_value(g, v);
    yajl_tree_free(v);

    return s;
}


/* the devices.jobs record */

ngx_iothub_job_rc_e
ngx_iothub_job_device_json(const ngx_iothub_job_device_t *d, char **out)
{
    size_t                i;
    size_t                len;
    yajl_gen              g;
    yajl_gen_status       st;
    const char           *pairs[16];
    const unsigned char  *buf;

    *out = NULL;

    pairs[0] = "deviceId";
    pairs[1] = d->device_id;
    pairs[2] = "jobId";
    pairs[3] = d->job_id;
    pairs[4] = "jobType";
    pairs[5] = ngx_iothub_job_type_name(d->type);
    pairs[6] = "status";
    pairs[7] = d->succeeded ? "completed" : "failed";
    pairs[8] = "startTimeUtc";
    pairs[9] = d->start;
    pairs[10] = "endTimeUtc";
    pairs[11] = d->end;
    pairs[12] = "createdDateTimeUtc";
    pairs[13] = d->created;
    pairs[14] = "lastUpdatedDateTimeUtc";
    pairs[15] = d->end;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_IOTHUB_JOB_NO_MEMORY;
    }

    st = yajl_gen_map_open(g);

    for (i = 0; i < 16 && st == yajl_gen_status_ok; i++) {
        st = ngx_iothub_job_gen_str(g, pairs[i]);
    }

    if (st == yajl_gen_status_ok && d->answered) {
        st = ngx_iothub_job_gen_outcome(g, d);
    }

    if (st == yajl_gen_status_ok && d->error_code != NULL) {
        st = ngx_iothub_job_gen_error(g, d);
    }

    if (st == yajl_gen_status_ok) {
        st = yajl_gen_map_close(g);
    }

    if (st == yajl_gen_status_ok
        && yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
    {
        *out = ngx_iothub_job_strdup((const char *) buf, len);
    }

    yajl_gen_free(g);

    return (*out != NULL) ? NGX_IOTHUB_JOB_OK : NGX_IOTHUB_JOB_NO_MEMORY;
}


/*
 * "outcome":{"deviceMethodResponse":{"status":..,"payload":..}}; a payload
 * that is not JSON is a string, an empty one null
 */

static yajl_gen_status
ngx_iothub_job_gen_outcome(yajl_gen g, const ngx_iothub_job_device_t *d)
{
    size_t           len;
    yajl_gen_status  st;

    len = (d->method_payload != NULL) ? strlen(d->method_payload) : 0;

    if (ngx_iothub_job_gen_str(g, "outcome") != yajl_gen_status_ok
        || yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_iothub_job_gen_str(g, "deviceMethodResponse")
           != yajl_gen_status_ok
        || yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_iothub_job_gen_str(g, "status") != yajl_gen_status_ok
        || yajl_gen_integer(g, d->method_status) != yajl_gen_status_ok
        || ngx_iothub_job_gen_str(g, "payload") != yajl_gen_status_ok)
    {
        return yajl_gen_generation_complete;
    }

    st = ngx_iothub_job_gen_json(g, d->method_payload, len);

    if (st == yajl_gen_invalid_string) {
        st = (len == 0) ? yajl_gen_null(g)
                        : ngx_iothub_job_gen_str(g, d->method_payload);
    }

    if (st != yajl_gen_status_ok
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return yajl_gen_generation_complete;
    }

    return yajl_gen_map_close(g);
}


static yajl_gen_status
ngx_iothub_job_gen_error(yajl_gen g, const ngx_iothub_job_device_t *d)
{
    const char  *description;

    description = d->error_description ? d->error_description : "";

    if (ngx_iothub_job_gen_str(g, "error") != yajl_gen_status_ok
        || yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_iothub_job_gen_str(g, "code") != yajl_gen_status_ok
        || ngx_iothub_job_gen_str(g, d->error_code) != yajl_gen_status_ok
        || ngx_iothub_job_gen_str(g, "description") != yajl_gen_status_ok
        || ngx_iothub_job_gen_str(g, description) != yajl_gen_status_ok)
    {
        return yajl_gen_generation_complete;
    }

    return yajl_gen_map_close(g);
}


/* the conditions that name their devices */

int
ngx_iothub_job_condition_ids(const char *cond, size_t len, char ***ids,
    size_t *n)
{
    int          list;
    const char  *p, *last;

    *ids = NULL;
    *n = 0;

    last = cond + len;

    p = ngx_iothub_job_ids_head(cond, last, &list);
    if (p == NULL) {
        return 0;
    }

    p = ngx_iothub_job_ids_read(p, last, list, ids, n);

    if (p == NULL || p != last) {
        ngx_iothub_job_ids_free(*ids, *n);
        *ids = NULL;
        *n = 0;
        return 0;
    }

    ngx_iothub_job_ids_sort(*ids, n);

    return 1;
}


/*
 * "[devices.]deviceId =" or "[devices.]deviceId IN [": the position of
 * the first id, *list set for IN; NULL for anything else
 */

static const char *
ngx_iothub_job_ids_head(const char *p, const char *last, int *list)
{
    const char  *q;

    p = ngx_iothub_job_skip(p, last);
    q = ngx_iothub_job_word(p, last, "devices.");
    p = (q != NULL) ? q : p;

    p = ngx_iothub_job_word(p, last, "deviceId");
    if (p == NULL) {
        return NULL;
    }

    p = ngx_iothub_job_skip(p, last);

    if (p < last && *p == '=') {
        *list = 0;
        return ngx_iothub_job_skip(p + 1, last);
    }

    q = ngx_iothub_job_word(p, last, "IN");

    if (q == NULL || q == last || (*q != ' ' && *q != '[')) {
        return NULL;
    }

    p = ngx_iothub_job_skip(q, last);

    if (p == last || *p != '[') {
        return NULL;
    }

    *list = 1;

    return ngx_iothub_job_skip(p + 1, last);
}


/* one id, or a list's ids and its "]": the position after, or NULL */

static const char *
ngx_iothub_job_ids_read(const char *p, const char *last, int list,
    char ***ids, size_t *n)
{
    char    *id, **v;
    size_t   cap;

    cap = 0;

    for ( ;; ) {
        p = ngx_iothub_job_quoted(p, last, &id);
        if (p == NULL) {
            return NULL;
        }

        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            v = realloc(*ids, cap * sizeof(char *));

            if (v == NULL) {
                free(id);
                return NULL;
            }

            *ids = v;
        }

        (*ids)[(*n)++] = id;
        p = ngx_iothub_job_skip(p, last);

        if (!list) {
            return p;
        }

        if (p < last && *p == ',') {
            p = ngx_iothub_job_skip(p + 1, last);
            continue;
        }

        if (p < last && *p == ']') {
            return ngx_iothub_job_skip(p + 1, last);
        }

        return NULL;
    }
}


/* sorted as Redis orders ids (bytes), duplicates dropped */

static void
ngx_iothub_job_ids_sort(char **ids, size_t *n)
{
    size_t  i, j;

    qsort(ids, *n, sizeof(char *), ngx_iothub_job_id_cmp);

    for (i = 0, j = 0; i < *n; i++) {
        if (j > 0 && strcmp(ids[j - 1], ids[i]) == 0) {
            free(ids[i]);
            continue;
        }

        ids[j++] = ids[i];
    }

    *n = j;
}


void
ngx_iothub_job_ids_free(char **ids, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        free(ids[i]);
    }

    free(ids);
}


static const char *
ngx_iothub_job_skip(const char *p, const char *last)
{
    while (p < last && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
    {
        p++;
    }

    return p;
}


/* the word, without regard to case, or NULL */

static const char *
ngx_iothub_job_word(const char *p, const char *last, const char *word)
{
    size_t  len;

    len = strlen(word);

    if ((size_t) (last - p) < len || strncasecmp(p, word, len) != 0) {
        return NULL;
    }

    return p + len;
}


/*
 * A quoted id ('x' or "x", a doubled quote stands for one) that passes
 * ngx_iothub_id_valid(); *id malloc()ed.  NULL when there is none.
 */

static const char *
ngx_iothub_job_quoted(const char *p, const char *last, char **id)
{
    char    quote, buf[129];
    size_t  len;

    if (p == last || (*p != '\'' && *p != '"')) {
        return NULL;
    }

    quote = *p++;
    len = 0;

    for ( ;; ) {
        if (p == last) {
            return NULL;
        }

        if (*p == quote) {
            if (p + 1 < last && p[1] == quote) {
                p++;

            } else {
                p++;
                break;
            }
        }

        if (len == sizeof(buf) - 1) {
            return NULL;
        }

        buf[len++] = *p++;
    }

    if (!ngx_iothub_id_valid((const unsigned char *) buf, len)) {
        return NULL;
    }

    *id = ngx_iothub_job_strdup(buf, len);

    return (*id != NULL) ? p : NULL;
}


static int
ngx_iothub_job_id_cmp(const void *a, const void *b)
{
    return strcmp(*(char * const *) a, *(char * const *) b);
}
