
/*
 * nginx-iothub: typed decoders of Redis replies (pure C); see
 * ngx_iothub_reply.h.
 */


#include <stddef.h>
#include <string.h>

#include "ngx_iothub_d2c_pack.h"
#include "ngx_iothub_reply.h"


#define ngx_iothub_reply_is(s, lit)                                          \
    ((s)->len == sizeof(lit) - 1 && memcmp((s)->data, lit, (s)->len) == 0)


typedef struct {
    const char                 *code;
    ngx_iothub_reply_rc_e       rc;
} ngx_iothub_reply_code_t;


typedef struct {
    const char                 *field;
    size_t                      offset;
} ngx_iothub_reply_field_t;


static ngx_iothub_reply_rc_e ngx_iothub_reply_text(const redisReply *r,
    int type, ngx_iothub_reply_str_t *s);
static ngx_iothub_reply_rc_e ngx_iothub_reply_array(const redisReply *r);
static ngx_iothub_reply_rc_e ngx_iothub_reply_array_of(const redisReply *r,
    int (*is_element)(const redisReply *e), size_t *n);
static int ngx_iothub_reply_is_string(const redisReply *r);
static int ngx_iothub_reply_is_hash(const redisReply *r);
static int ngx_iothub_reply_is_record(const redisReply *r);
static int ngx_iothub_reply_is_number(const ngx_iothub_reply_str_t *s);
static void ngx_iothub_reply_str(const redisReply *r,
    ngx_iothub_reply_str_t *s);
static void ngx_iothub_reply_c2d_field(ngx_iothub_reply_c2d_t *m,
    const ngx_iothub_reply_str_t *name, const ngx_iothub_reply_str_t *value);
static void ngx_iothub_reply_identity_fill(const redisReply *hash,
    ngx_iothub_identity_t *id);
static ngx_iothub_reply_rc_e ngx_iothub_reply_eh_unpack(
    ngx_iothub_reply_eh_entry_t *e, ngx_iothub_reply_eh_event_t *ev);
static ngx_iothub_reply_rc_e ngx_iothub_reply_eh_packed(
    ngx_iothub_reply_eh_entry_t *e, ngx_iothub_reply_str_t *s);
static void ngx_iothub_reply_eh_field(ngx_iothub_reply_eh_event_t *ev,
    const ngx_iothub_reply_str_t *name, const ngx_iothub_reply_str_t *value);
static ngx_iothub_reply_rc_e ngx_iothub_reply_eh_group_value(
    const redisReply *v, ngx_iothub_reply_eh_group_t *g);


static const ngx_iothub_reply_code_t  ngx_iothub_reply_codes[] = {
    { "NOT_FOUND", NGX_IOTHUB_REPLY_NOT_FOUND },
    { "NO_DEVICE", NGX_IOTHUB_REPLY_NO_DEVICE },
    { "DISABLED", NGX_IOTHUB_REPLY_DISABLED },
    { "EXISTS", NGX_IOTHUB_REPLY_EXISTS },
    { "ETAG_MISMATCH", NGX_IOTHUB_REPLY_ETAG_MISMATCH },
    { "CONFLICT", NGX_IOTHUB_REPLY_CONFLICT },
    { "FULL", NGX_IOTHUB_REPLY_FULL },
    { "LOCK_LOST", NGX_IOTHUB_REPLY_LOCK_LOST },
    { "EXPIRED", NGX_IOTHUB_REPLY_EXPIRED },
    { "NOSCRIPT", NGX_IOTHUB_REPLY_NOSCRIPT },
    { NULL, NGX_IOTHUB_REPLY_ERROR }
};


/* the hash fields of a C2D message's system properties (redis-schema.md) */

static const ngx_iothub_reply_field_t  ngx_iothub_reply_c2d_fields[] = {
    { "n", offsetof(ngx_iothub_reply_c2d_t, n) },
    { "body", offsetof(ngx_iothub_reply_c2d_t, body) },
    { "ack", offsetof(ngx_iothub_reply_c2d_t, ack) },
    { "dc", offsetof(ngx_iothub_reply_c2d_t, delivery_count) },
    { "enqueued", offsetof(ngx_iothub_reply_c2d_t, enqueued) },
    { "p:message-id", offsetof(ngx_iothub_reply_c2d_t, message_id) },
    { "p:correlation-id", offsetof(ngx_iothub_reply_c2d_t, correlation_id) },
    { "p:user-id", offsetof(ngx_iothub_reply_c2d_t, user_id) },
    { "p:content-type", offsetof(ngx_iothub_reply_c2d_t, content_type) },
    { "p:content-encoding",
      offsetof(ngx_iothub_reply_c2d_t, content_encoding) },
    { "p:absolute-expiry-time", offsetof(ngx_iothub_reply_c2d_t, expiry) },
    { NULL, 0 }
};


ngx_iothub_reply_rc_e
ngx_iothub_reply_check(const redisReply *r)
{
    size_t                          len;
    const char                     *sp;
    const ngx_iothub_reply_code_t  *c;

    if (r == NULL) {
        return NGX_IOTHUB_REPLY_LOST;
    }

    if (r->type != REDIS_REPLY_ERROR) {
        return NGX_IOTHUB_REPLY_OK;
    }

    /* the code is the first word */

    len = (r->str != NULL) ? r->len : 0;
    sp = (len > 0) ? memchr(r->str, ' ', len) : NULL;

    if (sp != NULL) {
        len = sp - r->str;
    }

    for (c = ngx_iothub_reply_codes; c->code; c++) {
        if (len == strlen(c->code) && memcmp(r->str, c->code, len) == 0) {
            return c->rc;
        }
    }

    return NGX_IOTHUB_REPLY_ERROR;
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_strings(const redisReply *r, size_t *n)
{
    return ngx_iothub_reply_array_of(r, ngx_iothub_reply_is_string, n);
}


/* ngx_iothub_reply_check(), then MALFORMED unless an array */

static ngx_iothub_reply_rc_e
ngx_iothub_reply_array(const redisReply *r)
{
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_check(r);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    return r->type == REDIS_REPLY_ARRAY ? NGX_IOTHUB_REPLY_OK
                                        : NGX_IOTHUB_REPLY_MALFORMED;
}


/* an array whose every element passes is_element; *n its length */

static ngx_iothub_reply_rc_e
ngx_iothub_reply_array_of(const redisReply *r,
    int (*is_element)(const redisReply *e), size_t *n)
{
    size_t                 i;
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_array(r);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    for (i = 0; i < r->elements; i++) {
        if (!is_element(r->element[i])) {
            return NGX_IOTHUB_REPLY_MALFORMED;
        }
    }

    *n = r->elements;

    return NGX_IOTHUB_REPLY_OK;
}


void
ngx_iothub_reply_error_text(const redisReply *r, ngx_iothub_reply_str_t *text)
{
    if (r == NULL || r->type != REDIS_REPLY_ERROR) {
        text->data = (const unsigned char *) "";
        text->len = 0;
        return;
    }

    ngx_iothub_reply_str(r, text);
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_integer(const redisReply *r, long long *n)
{
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_check(r);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    if (r->type != REDIS_REPLY_INTEGER) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    *n = r->integer;

    return NGX_IOTHUB_REPLY_OK;
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_integer_pair(const redisReply *r, long long *a,
    long long *b)
{
    long long              v[2];
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_integers(r, v, 2);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    *a = v[0];
    *b = v[1];

    return NGX_IOTHUB_REPLY_OK;
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_integers(const redisReply *r, long long *v, size_t n)
{
    size_t                 i;
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_check(r);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements != n) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    for (i = 0; i < n; i++) {
        if (r->element[i]->type != REDIS_REPLY_INTEGER) {
            return NGX_IOTHUB_REPLY_MALFORMED;
        }
    }

    for (i = 0; i < n; i++) {
        v[i] = r->element[i]->integer;
    }

    return NGX_IOTHUB_REPLY_OK;
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_bulk(const redisReply *r, ngx_iothub_reply_str_t *s)
{
    return ngx_iothub_reply_text(r, REDIS_REPLY_STRING, s);
}

ngx_iothub_reply_rc_e
ngx_iothub_reply_status(const redisReply *r, ngx_iothub_reply_str_t *s)
{
    return ngx_iothub_reply_text(r, REDIS_REPLY_STATUS, s);
}


/* a string reply of the given type (bulk or status), or nil */

static ngx_iothub_reply_rc_e
ngx_iothub_reply_text(const redisReply *r, int type,
    ngx_iothub_reply_str_t *s)
{
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_check(r);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    if (r->type == REDIS_REPLY_NIL) {
        return NGX_IOTHUB_REPLY_NIL;
    }

    if (r->type != type) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    ngx_iothub_reply_str(r, s);

    return NGX_IOTHUB_REPLY_OK;
}

ngx_iothub_reply_rc_e
ngx_iothub_reply_connect(const redisReply *r, ngx_iothub_reply_connect_t *c)
{
    long long              features, present;
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_integer_pair(r, &features, &present);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    if (features < 0 || (present != 0 && present != 1)) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    c->features = (uint64_t) features;
    c->present = (present == 1);

    return NGX_IOTHUB_REPLY_OK;
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_c2d(const redisReply *r, ngx_iothub_reply_c2d_t *m)
{
    size_t                  i;
    ngx_iothub_reply_rc_e   rc;
    ngx_iothub_reply_str_t  name, value;

    rc = ngx_iothub_reply_check(r);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    if (r->type == REDIS_REPLY_NIL) {
        return NGX_IOTHUB_REPLY_NIL;
    }

    if (!ngx_iothub_reply_is_hash(r)) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    memset(m, 0, offsetof(ngx_iothub_reply_c2d_t, app_name));

    for (i = 0; i < r->elements; i += 2) {
        ngx_iothub_reply_str(r->element[i], &name);
        ngx_iothub_reply_str(r->element[i + 1], &value);

        ngx_iothub_reply_c2d_field(m, &name, &value);
    }

    if (!ngx_iothub_reply_is_number(&m->n)) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    return NGX_IOTHUB_REPLY_OK;
}


static void
ngx_iothub_reply_c2d_field(ngx_iothub_reply_c2d_t *m,
    const ngx_iothub_reply_str_t *name, const ngx_iothub_reply_str_t *value)
{
    ngx_iothub_reply_str_t          *dst;
    const ngx_iothub_reply_field_t  *f;

    /* "u:" alone names no property */

    if (name->len > 2 && memcmp(name->data, "u:", 2) == 0) {
        if (m->napp == NGX_IOTHUB_REPLY_C2D_MAX_APP) {
            m->app_dropped++;
            return;
        }

        m->app_name[m->napp].data = name->data + 2;
        m->app_name[m->napp].len = name->len - 2;
        m->app_value[m->napp] = *value;
        m->napp++;

        return;
    }

    for (f = ngx_iothub_reply_c2d_fields; f->field; f++) {
        if (name->len == strlen(f->field)
            && memcmp(name->data, f->field, name->len) == 0)
        {
            dst = (ngx_iothub_reply_str_t *) ((unsigned char *) m
                                              + f->offset);
            *dst = *value;
            return;
        }
    }
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_identity(const redisReply *r, ngx_iothub_identity_t *id)
{
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_check(r);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    if (!ngx_iothub_reply_is_hash(r)) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    ngx_iothub_identity_init(id);

    if (r->elements == 0) {
        return NGX_IOTHUB_REPLY_NIL;
    }

    ngx_iothub_reply_identity_fill(r, id);

    return NGX_IOTHUB_REPLY_OK;
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_identity_get(const redisReply *r, ngx_iothub_identity_t *id,
    long long *count)
{
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_check(r);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || !ngx_iothub_reply_is_hash(r->element[0])
        || r->element[1]->type != REDIS_REPLY_INTEGER)
    {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    rc = ngx_iothub_reply_identity(r->element[0], id);

    if (rc == NGX_IOTHUB_REPLY_OK) {
        *count = r->element[1]->integer;
    }

    return rc;
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_list(const redisReply *r, size_t *n)
{
    return ngx_iothub_reply_array_of(r, ngx_iothub_reply_is_hash, n);
}


void
ngx_iothub_reply_list_identity(const redisReply *r, size_t i,
    ngx_iothub_identity_t *id)
{
    ngx_iothub_identity_init(id);
    ngx_iothub_reply_identity_fill(r->element[i], id);
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_twin_read(const redisReply *r, ngx_iothub_twin_t *t,
    ngx_iothub_identity_t *id, long long *count)
{
    size_t                 i;
    redisReply            *twin, *n, *v;
    ngx_iothub_twin_rc_e   trc;
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_check(r);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3
        || !ngx_iothub_reply_is_hash(r->element[0])
        || !ngx_iothub_reply_is_hash(r->element[1])
        || r->element[2]->type != REDIS_REPLY_INTEGER)
    {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    twin = r->element[0];

    for (i = 0; i < twin->elements; i += 2) {
        n = twin->element[i];
        v = twin->element[i + 1];

        trc = ngx_iothub_twin_set_field(t, n->str, n->len, v->str, v->len);

        if (trc == NGX_IOTHUB_TWIN_NO_MEMORY) {
            return NGX_IOTHUB_REPLY_NO_MEMORY;
        }

        if (trc != NGX_IOTHUB_TWIN_OK) {
            return NGX_IOTHUB_REPLY_MALFORMED;
        }
    }

    ngx_iothub_identity_init(id);
    ngx_iothub_reply_identity_fill(r->element[1], id);
    *count = r->element[2]->integer;

    return NGX_IOTHUB_REPLY_OK;
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_query_chunk(const redisReply *r, ngx_iothub_reply_str_t *next,
    size_t *n)
{
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_check(r);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1
        || r->element[0]->type != REDIS_REPLY_STRING)
    {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    next->data = (const unsigned char *) r->element[0]->str;
    next->len = r->element[0]->len;
    *n = r->elements - 1;

    return NGX_IOTHUB_REPLY_OK;
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_query_twin(const redisReply *r, size_t i,
    ngx_iothub_twin_t *t, ngx_iothub_identity_t *id, long long *count)
{
    return ngx_iothub_reply_twin_read(r->element[i + 1], t, id, count);
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_scan(const redisReply *r, ngx_iothub_reply_scan_t *scan)
{
    size_t                 i;
    const redisReply      *keys;
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_check(r);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_ARRAY)
    {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    keys = r->element[1];

    for (i = 0; i < keys->elements; i++) {
        if (keys->element[i]->type != REDIS_REPLY_STRING) {
            return NGX_IOTHUB_REPLY_MALFORMED;
        }
    }

    ngx_iothub_reply_str(r->element[0], &scan->cursor);

    if (!ngx_iothub_reply_is_number(&scan->cursor)) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    scan->nkeys = keys->elements;
    scan->keys = keys;

    return NGX_IOTHUB_REPLY_OK;
}


void
ngx_iothub_reply_scan_key(const ngx_iothub_reply_scan_t *scan, size_t i,
    ngx_iothub_reply_str_t *key)
{
    ngx_iothub_reply_str(scan->keys->element[i], key);
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_push(const redisReply *r, ngx_iothub_reply_push_t *push)
{
    ngx_iothub_reply_str_t  kind;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3
        || r->element[0]->type != REDIS_REPLY_STRING)
    {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    ngx_iothub_reply_str(r->element[0], &kind);

    if (ngx_iothub_reply_is(&kind, "subscribe")) {
        push->kind = NGX_IOTHUB_REPLY_PUSH_SUBSCRIBE;
        push->channel.data = (const unsigned char *) "";
        push->channel.len = 0;
        push->payload = push->channel;
        return NGX_IOTHUB_REPLY_OK;
    }

    if (ngx_iothub_reply_is(&kind, "message")
        && r->element[1]->type == REDIS_REPLY_STRING
        && r->element[2]->type == REDIS_REPLY_STRING)
    {
        push->kind = NGX_IOTHUB_REPLY_PUSH_MESSAGE;
        ngx_iothub_reply_str(r->element[1], &push->channel);
        ngx_iothub_reply_str(r->element[2], &push->payload);
        return NGX_IOTHUB_REPLY_OK;
    }

    return NGX_IOTHUB_REPLY_MALFORMED;
}


static int
ngx_iothub_reply_is_string(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING;
}


/* field, value, ...: an array of an even number of strings */

static int
ngx_iothub_reply_is_hash(const redisReply *r)
{
    size_t  i;

    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
        return 0;
    }

    for (i = 0; i < r->elements; i++) {
        if (!ngx_iothub_reply_is_string(r->element[i])) {
            return 0;
        }
    }

    return 1;
}


static int
ngx_iothub_reply_is_number(const ngx_iothub_reply_str_t *s)
{
    size_t  i;

    if (s->len == 0 || s->len > NGX_IOTHUB_REPLY_NUMBER_MAX) {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < '0' || s->data[i] > '9') {
            return 0;
        }
    }

    return 1;
}


/* strings, status and error replies carry their text */

static void
ngx_iothub_reply_str(const redisReply *r, ngx_iothub_reply_str_t *s)
{
    if (r->str == NULL || r->len == 0) {
        s->data = (const unsigned char *) "";
        s->len = 0;
        return;
    }

    s->data = (const unsigned char *) r->str;
    s->len = r->len;
}


static void
ngx_iothub_reply_identity_fill(const redisReply *hash,
    ngx_iothub_identity_t *id)
{
    size_t       i;
    redisReply  *n, *v;

    for (i = 0; i + 1 < hash->elements; i += 2) {
        n = hash->element[i];
        v = hash->element[i + 1];

        ngx_iothub_identity_set_field(id, n->str, n->len, v->str, v->len);
    }
}


const ngx_iothub_reply_field_name_t  ngx_iothub_reply_feedback_names[] = {
    { "originalMessageId", 0 },
    { "enqueuedTimeUtc", 0 },
    { "statusCode", 0 },
    { "description", 0 },
    { "deviceId", 0 },
    { "deviceGenerationId", 0 }
};


const ngx_iothub_reply_field_name_t
    ngx_iothub_reply_filenotification_names[] =
{
    { "deviceId", 0 },
    { "blobUri", 0 },
    { "blobName", 0 },
    { "lastUpdatedTime", 0 },
    { "blobSizeInBytes", 1 },
    { "enqueuedTimeUtc", 0 }
};


const ngx_iothub_reply_field_name_t  ngx_iothub_reply_bulkjob_names[] = {
    { "type", 0 },
    { "status", 0 },
    { "progress", 1 },
    { "startTimeUtc", 0 },
    { "endTimeUtc", 0 },
    { "inputBlobContainerUri", 0 },
    { "outputBlobContainerUri", 0 },
    { "excludeKeysInExport", 0 },
    { "failureReason", 0 },
    { "inputBlobName", 0 },
    { "outputBlobName", 0 },
    { "checkpoint", 0 }
};


ngx_iothub_reply_rc_e
ngx_iothub_reply_records(const redisReply *r, size_t *n)
{
    return ngx_iothub_reply_array_of(r, ngx_iothub_reply_is_record, n);
}


/* a record: [id, hash] */

static int
ngx_iothub_reply_is_record(const redisReply *r)
{
    return r->type == REDIS_REPLY_ARRAY && r->elements == 2
           && r->element[0]->type == REDIS_REPLY_STRING
           && ngx_iothub_reply_is_hash(r->element[1]);
}


void
ngx_iothub_reply_record(const redisReply *r, size_t i,
    const ngx_iothub_reply_field_name_t *names, size_t nnames,
    ngx_iothub_reply_record_t *rec)
{
    size_t             j, f;
    const redisReply  *h, *name;

    memset(rec, 0, sizeof(ngx_iothub_reply_record_t));

    if (nnames > NGX_IOTHUB_REPLY_RECORD_FIELDS_MAX) {
        nnames = NGX_IOTHUB_REPLY_RECORD_FIELDS_MAX;
    }

    h = r->element[i]->element[1];

    for (j = 0; j + 1 < h->elements; j += 2) {
        name = h->element[j];

        for (f = 0; f < nnames; f++) {
            if (name->len == strlen(names[f].name)
                && memcmp(name->str, names[f].name, name->len) == 0)
            {
                ngx_iothub_reply_str(h->element[j + 1], &rec->value[f]);
                break;
            }
        }
    }
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_eh_seek(const redisReply *r, ngx_iothub_reply_str_t *id)
{
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_bulk(r, id);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    if (id->len > NGX_IOTHUB_REPLY_EH_ID_MAX) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    return NGX_IOTHUB_REPLY_OK;
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_eh_read(const redisReply *r, size_t *n)
{
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_array(r);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    *n = r->elements;

    return NGX_IOTHUB_REPLY_OK;
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_eh_entry(const redisReply *r, size_t i,
    ngx_iothub_reply_eh_entry_t *e)
{
    size_t                   j;
    const redisReply        *entry, *fields, *k, *v;
    ngx_iothub_reply_str_t   count;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || i >= r->elements) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    entry = r->element[i];

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2
        || entry->element[0]->type != REDIS_REPLY_STRING
        || entry->element[1]->type != REDIS_REPLY_ARRAY)
    {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    memset(e, 0, sizeof(ngx_iothub_reply_eh_entry_t));

    ngx_iothub_reply_str(entry->element[0], &e->id);

    if (e->id.len == 0 || e->id.len > NGX_IOTHUB_REPLY_EH_ID_MAX) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    fields = entry->element[1];
    count.data = (const unsigned char *) "";
    count.len = 0;

    for (j = 0; j + 1 < fields->elements; j += 2) {
        k = fields->element[j];
        v = fields->element[j + 1];

        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING
            || k->len != 1)
        {
            continue;
        }

        if (k->str[0] == 'n') {
            ngx_iothub_reply_str(v, &count);

        } else if (k->str[0] == 'm') {
            e->next = (const unsigned char *) v->str;
            e->end = e->next + v->len;
        }
    }

    if (e->next == NULL) {
        e->count = 1;
        e->fields = fields;
        return NGX_IOTHUB_REPLY_OK;
    }

    /* at most 9 digits: an entry holds far fewer messages */

    if (!ngx_iothub_reply_is_number(&count) || count.len > 9) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    for (j = 0; j < count.len; j++) {
        e->count = e->count * 10 + (count.data[j] - '0');
    }

    return e->count > 0 ? NGX_IOTHUB_REPLY_OK : NGX_IOTHUB_REPLY_MALFORMED;
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_eh_message(ngx_iothub_reply_eh_entry_t *e,
    ngx_iothub_reply_eh_event_t *ev)
{
    size_t                   j;
    const redisReply        *k, *v;
    ngx_iothub_reply_str_t   name, value;

    if (e->read == e->count) {
        return NGX_IOTHUB_REPLY_NIL;
    }

    memset(ev, 0, offsetof(ngx_iothub_reply_eh_event_t, prop));

    ev->id = e->id;
    ev->body.data = (const unsigned char *) "";
    e->read++;

    if (e->next == NULL) {
        for (j = 0; j + 1 < e->fields->elements; j += 2) {
            k = e->fields->element[j];
            v = e->fields->element[j + 1];

            if (k->type != REDIS_REPLY_STRING
                || v->type != REDIS_REPLY_STRING)
            {
                continue;
            }

            ngx_iothub_reply_str(k, &name);
            ngx_iothub_reply_str(v, &value);

            ngx_iothub_reply_eh_field(ev, &name, &value);
        }

        return NGX_IOTHUB_REPLY_OK;
    }

    return ngx_iothub_reply_eh_unpack(e, ev);
}


/* a packed message (ngx_iothub_d2c_pack.h) */

static ngx_iothub_reply_rc_e
ngx_iothub_reply_eh_unpack(ngx_iothub_reply_eh_entry_t *e,
    ngx_iothub_reply_eh_event_t *ev)
{
    size_t                   fields, j;
    ngx_iothub_reply_str_t   name, value;

    if (e->end - e->next < 2) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    fields = (size_t) e->next[0] << 8 | e->next[1];
    e->next += 2;

    for (j = 0; j < fields; j++) {
        if (ngx_iothub_reply_eh_packed(e, &name) != NGX_IOTHUB_REPLY_OK
            || ngx_iothub_reply_eh_packed(e, &value) != NGX_IOTHUB_REPLY_OK)
        {
            return NGX_IOTHUB_REPLY_MALFORMED;
        }

        if (ngx_iothub_d2c_unpack_name(&name.data, &name.len, &value.data,
                                       &value.len)
            == 0)
        {
            ngx_iothub_reply_eh_field(ev, &name, &value);
        }
    }

    return NGX_IOTHUB_REPLY_OK;
}


/* a packed string: its length (4 bytes, big endian), bytes and a NUL */

static ngx_iothub_reply_rc_e
ngx_iothub_reply_eh_packed(ngx_iothub_reply_eh_entry_t *e,
    ngx_iothub_reply_str_t *s)
{
    size_t  len;

    if (e->end - e->next < 4) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    len = (size_t) e->next[0] << 24 | (size_t) e->next[1] << 16
          | (size_t) e->next[2] << 8 | e->next[3];
    e->next += 4;

    if ((size_t) (e->end - e->next) < len + 1 || e->next[len] != '\0') {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    s->data = e->next;
    s->len = len;
    e->next += len + 1;

    return NGX_IOTHUB_REPLY_OK;
}


static void
ngx_iothub_reply_eh_field(ngx_iothub_reply_eh_event_t *ev,
    const ngx_iothub_reply_str_t *name, const ngx_iothub_reply_str_t *value)
{
    ngx_iothub_reply_eh_prop_e   kind;
    ngx_iothub_reply_eh_prop_t  *p;

    if (name->len == 4 && memcmp(name->data, "body", 4) == 0) {
        ev->body = *value;
        ev->has_body = 1;
        return;
    }

    if (name->len < 3 || name->data[1] != ':') {
        return;
    }

    switch (name->data[0]) {

    case 'a':
        kind = NGX_IOTHUB_REPLY_EH_ANNOTATION;
        break;

    case 'p':
        kind = NGX_IOTHUB_REPLY_EH_SYSTEM;
        break;

    case 'u':
        kind = NGX_IOTHUB_REPLY_EH_APPLICATION;
        break;

    default:
        return;
    }

    if (ev->nprops == NGX_IOTHUB_REPLY_EH_MAX_PROPS) {
        ev->props_dropped++;
        return;
    }

    p = &ev->prop[ev->nprops++];

    p->kind = kind;
    p->name.data = name->data + 2;
    p->name.len = name->len - 2;
    p->value = *value;
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_eh_partition(const redisReply *r,
    ngx_iothub_reply_eh_partition_t *p)
{
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_check(r);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_STRING
        || r->element[2]->type != REDIS_REPLY_INTEGER
        || r->element[0]->len > NGX_IOTHUB_REPLY_EH_ID_MAX
        || r->element[1]->len > NGX_IOTHUB_REPLY_EH_ID_MAX)
    {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    ngx_iothub_reply_str(r->element[0], &p->first);
    ngx_iothub_reply_str(r->element[1], &p->last);
    p->entries = r->element[2]->integer;

    return NGX_IOTHUB_REPLY_OK;
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_eh_groups(const redisReply *r, size_t *n)
{
    size_t                 strings;
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_strings(r, &strings);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    if (strings % 2 != 0) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    *n = strings / 2;

    return NGX_IOTHUB_REPLY_OK;
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_eh_group(const redisReply *r, size_t i,
    ngx_iothub_reply_eh_group_t *g)
{
    size_t  n;

    if (ngx_iothub_reply_eh_groups(r, &n) != NGX_IOTHUB_REPLY_OK || i >= n)
    {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    return ngx_iothub_reply_eh_group_value(r->element[2 * i + 1], g);
}


ngx_iothub_reply_rc_e
ngx_iothub_reply_eh_group_op(const redisReply *r, long long *done,
    ngx_iothub_reply_eh_group_t *g)
{
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_check(r);
    if (rc != NGX_IOTHUB_REPLY_OK) {
        return rc;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_INTEGER
        || r->element[1]->type != REDIS_REPLY_STRING)
    {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    *done = r->element[0]->integer;

    memset(g, 0, sizeof(ngx_iothub_reply_eh_group_t));

    if (r->element[1]->len == 0) {
        return NGX_IOTHUB_REPLY_OK;
    }

    return ngx_iothub_reply_eh_group_value(r->element[1], g);
}


/* "<created> <name>" */

static ngx_iothub_reply_rc_e
ngx_iothub_reply_eh_group_value(const redisReply *v,
    ngx_iothub_reply_eh_group_t *g)
{
    const char  *sp;

    sp = (v->len > 0) ? memchr(v->str, ' ', v->len) : NULL;

    if (sp == NULL || sp == v->str) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    g->created.data = (const unsigned char *) v->str;
    g->created.len = sp - v->str;
    g->name.data = (const unsigned char *) sp + 1;
    g->name.len = v->len - g->created.len - 1;

    if (g->name.len == 0 || g->name.len > NGX_IOTHUB_REPLY_EH_GROUP_MAX) {
        return NGX_IOTHUB_REPLY_MALFORMED;
    }

    return NGX_IOTHUB_REPLY_OK;
}
