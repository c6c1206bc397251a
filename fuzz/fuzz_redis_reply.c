
/*
 * libFuzzer target for Redis replies: the input is what a Redis server
 * (or whatever answers on its port) sends; hiredis's redisReader parses
 * it as the link does (shared/ngx_iothub_redis.c), and every decoder of
 * shared/ngx_iothub_reply.c reads each reply it yields.  Every span a
 * decoder returns is read byte by byte, so that ASan sees one that points
 * outside the reply.
 *
 * Random bytes seldom spell a C2D message hash or a twin: the input is
 * also read as a recipe for one well-formed reply tree (arrays, field
 * names the decoders know, numbers, errors, slices of the input), which
 * is written in RESP and parsed the same way.
 */


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_iothub_reply.h"
#include "ngx_iothub_job_codec.h"


#define fuzz_assert(e)  if (!(e)) __builtin_trap()

#define FUZZ_RESP_MAX   (64 * 1024)
#define FUZZ_DEPTH_MAX  3


typedef struct {
    const uint8_t              *in;
    size_t                      in_len;
    size_t                      pos;
    char                       *out;
    size_t                      len;
} fuzz_recipe_t;


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_parse(const char *resp, size_t len);
static void fuzz_recipe(const uint8_t *data, size_t size);
static unsigned fuzz_byte(fuzz_recipe_t *rc);
static void fuzz_value(fuzz_recipe_t *rc, unsigned depth);
static void fuzz_write(fuzz_recipe_t *rc, const char *fmt,
    unsigned long long n);
static void fuzz_bulk(fuzz_recipe_t *rc, const void *data, size_t len);
static void fuzz_decoders(const redisReply *r);
static void fuzz_scalars(const redisReply *r);
static void fuzz_c2d(const redisReply *r);
static void fuzz_identities(const redisReply *r);
static void fuzz_twin(const redisReply *r);
static void fuzz_scan(const redisReply *r);
static void fuzz_query_chunk(const redisReply *r);
static void fuzz_push(const redisReply *r);
static void fuzz_jobs(const redisReply *r);
static void fuzz_job_record(const ngx_iothub_job_record_t *rec);
static void fuzz_records(const redisReply *r);
static void fuzz_eh(const redisReply *r);
static void fuzz_eh_event(const redisReply *r, size_t i);
static void fuzz_eh_message(const ngx_iothub_reply_eh_event_t *ev);
static void fuzz_eh_groups(const redisReply *r);
static void fuzz_identity_ok(const ngx_iothub_identity_t *id);
static void fuzz_span(const ngx_iothub_reply_str_t *s);


/* what the decoders look for, and a few things they must refuse */

static const char  *fuzz_words[] = {
    "n", "body", "ack", "u:", "u:color", "p:message-id",
    "p:correlation-id", "p:user-id", "p:content-type",
    "p:content-encoding", "p:absolute-expiry-time", "p:to",
    "deviceId", "moduleId", "generationId", "etag", "status",
    "statusReason", "authType", "primaryKey", "primaryThumbprint",
    "parentScopes", "iotEdge", "version", "desiredVersion",
    "reportedVersion", "tags", "desired", "reported", "desiredMeta",
    "reportedMeta", "message", "subscribe", "0", "1", "-1", "42",
    "18446744073709551615", "100000000000000000000", "", "enabled",
    "disabled", "sas", "{}", "{\"a\":1}", "[]", "full", "1-0", "9-4",
    "a:", "a:iothub-enqueuedtime", "a:iothub-connection-device-id", "z:q",
    "jobId", "type", "spec", "cursor", "queued", "scheduleUpdateTwin",
    "deviceCount"
};


static const char  *fuzz_errors[] = {
    "NOT_FOUND", "NO_DEVICE", "DISABLED", "EXISTS", "ETAG_MISMATCH",
    "CONFLICT", "FULL", "LOCK_LOST", "NOSCRIPT No matching script",
    "ERR Error running script", "NOT_FOUNDS", ""
};


static volatile unsigned char  fuzz_sink;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parse((const char *) data, size);
    fuzz_recipe(data, size);

    return 0;
}


static void
fuzz_parse(const char *resp, size_t len)
{
    void         *reply;
    redisReader  *reader;

    reader = redisReaderCreate();
    if (reader == NULL) {
        return;
    }

    if (redisReaderFeed(reader, resp, len) != REDIS_OK) {
        redisReaderFree(reader);
        return;
    }

    /* every complete reply, until a protocol error or the end */

    for ( ;; ) {
        reply = NULL;

        if (redisReaderGetReply(reader, &reply) != REDIS_OK
            || reply == NULL)
        {
            break;
        }

        fuzz_decoders(reply);
        freeReplyObject(reply);
    }

    redisReaderFree(reader);
}


static void
fuzz_recipe(const uint8_t *data, size_t size)
{
    fuzz_recipe_t  rc;

    rc.in = data;
    rc.in_len = size;
    rc.pos = 0;
    rc.len = 0;
    rc.out = malloc(FUZZ_RESP_MAX);

    if (rc.out == NULL) {
        return;
    }

    fuzz_value(&rc, 0);

    if (rc.len < FUZZ_RESP_MAX) {
        fuzz_parse(rc.out, rc.len);
    }

    free(rc.out);
}


static unsigned
fuzz_byte(fuzz_recipe_t *rc)
{
    return (rc->pos < rc->in_len) ? rc->in[rc->pos++] : 0;
}


static void
fuzz_value(fuzz_recipe_t *rc, unsigned depth)
{
    size_t       i, n;
    unsigned     b;
    const char  *w;

    b = fuzz_byte(rc);

    switch (b % 8) {

    case 0:
        if (depth < FUZZ_DEPTH_MAX) {
            n = fuzz_byte(rc) % 8;
            fuzz_write(rc, "*%llu\r\n", n);

            for (i = 0; i < n; i++) {
                fuzz_value(rc, depth + 1);
            }

            break;
        }

        /* fall through */

    case 1:
        /* a hash: known field names, values of any kind */
        n = fuzz_byte(rc) % 8;
        fuzz_write(rc, "*%llu\r\n", 2 * n);

        for (i = 0; i < n; i++) {
            w = fuzz_words[fuzz_byte(rc) % (sizeof(fuzz_words)
                                             / sizeof(fuzz_words[0]))];
            fuzz_bulk(rc, w, strlen(w));

            if (depth < FUZZ_DEPTH_MAX && fuzz_byte(rc) % 16 == 0) {
                fuzz_value(rc, depth + 1);

            } else {
                w = fuzz_words[fuzz_byte(rc) % (sizeof(fuzz_words)
                                                 / sizeof(fuzz_words[0]))];
                fuzz_bulk(rc, w, strlen(w));
            }
        }

        break;

    case 2:
        w = fuzz_words[fuzz_byte(rc) % (sizeof(fuzz_words)
                                         / sizeof(fuzz_words[0]))];
        fuzz_bulk(rc, w, strlen(w));
        break;

    case 3:
        /* a slice of the input itself */
        n = fuzz_byte(rc) % 64;
        n = (n < rc->in_len - rc->pos) ? n : rc->in_len - rc->pos;
        fuzz_bulk(rc, rc->in + rc->pos, n);
        rc->pos += n;
        break;

    case 4:
        b = fuzz_byte(rc);
        fuzz_write(rc, ":%llu\r\n", (b < 128) ? b % 4 : (b << 24) + b);
        break;

    case 5:
        fuzz_write(rc, (b & 8) ? "$-1\r\n" : "*-1\r\n", 0);
        break;

    case 6:
        w = fuzz_errors[fuzz_byte(rc) % (sizeof(fuzz_errors)
                                          / sizeof(fuzz_errors[0]))];
        fuzz_write(rc, "-", 0);

        if (rc->len + strlen(w) + 2 < FUZZ_RESP_MAX) {
            memcpy(rc->out + rc->len, w, strlen(w));
            rc->len += strlen(w);
        }

        fuzz_write(rc, "\r\n", 0);
        break;

    case 7:
        if ((b & 16) && depth < FUZZ_DEPTH_MAX) {
            /* a stream entry: { id, { field, value, ... } } */
            fuzz_write(rc, "*2\r\n", 0);
            w = fuzz_words[fuzz_byte(rc) % (sizeof(fuzz_words)
                                             / sizeof(fuzz_words[0]))];
            fuzz_bulk(rc, w, strlen(w));
            fuzz_value(rc, depth + 1);
            break;
        }

        /* fall through */

    default:
        fuzz_write(rc, (b & 8) ? ":-1\r\n" : "+OK\r\n", 0);
    }
}


/* appends; past FUZZ_RESP_MAX the recipe is dropped */

static void
fuzz_write(fuzz_recipe_t *rc, const char *fmt, unsigned long long n)
{
    int  w;

    if (rc->len >= FUZZ_RESP_MAX) {
        return;
    }

    w = snprintf(rc->out + rc->len, FUZZ_RESP_MAX - rc->len, fmt, n);

    rc->len = (w < 0 || (size_t) w >= FUZZ_RESP_MAX - rc->len)
              ? FUZZ_RESP_MAX : rc->len + w;
}


static void
fuzz_bulk(fuzz_recipe_t *rc, const void *data, size_t len)
{
    fuzz_write(rc, "$%llu\r\n", len);

    if (rc->len + len + 2 >= FUZZ_RESP_MAX) {
        rc->len = FUZZ_RESP_MAX;
        return;
    }

    memcpy(rc->out + rc->len, data, len);
    rc->len += len;

    fuzz_write(rc, "\r\n", 0);
}


static void
fuzz_decoders(const redisReply *r)
{
    fuzz_scalars(r);
    fuzz_c2d(r);
    fuzz_identities(r);
    fuzz_twin(r);
    fuzz_query_chunk(r);
    fuzz_scan(r);
    fuzz_push(r);
    fuzz_jobs(r);
    fuzz_records(r);
    fuzz_eh(r);
}


/* the job codec's decoders; a decoded record renders as job JSON */

static void
fuzz_jobs(const redisReply *r)
{
    size_t                   i, n;
    long long                next;
    ngx_iothub_reply_str_t   id;
    ngx_iothub_job_record_t  rec;

    if (ngx_iothub_job_reply_record(r, &rec) == NGX_IOTHUB_REPLY_OK) {
        fuzz_job_record(&rec);
    }

    if (ngx_iothub_job_reply_list(r, &next, &n) == NGX_IOTHUB_REPLY_OK) {
        fuzz_assert(n + 1 == r->elements);

        for (i = 0; i < n; i++) {
            if (ngx_iothub_job_reply_list_record(r, i, &rec)
                == NGX_IOTHUB_REPLY_OK)
            {
                fuzz_job_record(&rec);
            }
        }
    }

    if (ngx_iothub_job_reply_ids(r, &n) == NGX_IOTHUB_REPLY_OK) {
        for (i = 0; i < n; i++) {
            ngx_iothub_job_reply_id(r, i, &id);
            fuzz_span(&id);
        }
    }

    if (ngx_iothub_job_reply_rows(r, &id, &n) == NGX_IOTHUB_REPLY_OK) {
        fuzz_span(&id);
        fuzz_assert(n + 1 == r->elements);

        for (i = 0; i < n; i++) {
            ngx_iothub_job_reply_row(r, i, &id);
            fuzz_span(&id);
        }
    }
}


static void
fuzz_job_record(const ngx_iothub_job_record_t *rec)
{
    size_t    f;
    yajl_gen  g;

    fuzz_assert(rec->value[NGX_IOTHUB_JOB_F_JOB_ID].len > 0);
    fuzz_assert(rec->value[NGX_IOTHUB_JOB_F_STATUS].len > 0);

    for (f = 0; f < NGX_IOTHUB_JOB_NFIELDS; f++) {
        fuzz_span(&rec->value[f]);
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return;
    }

    /* any stored text: JSON out, or BAD_JSON for a spec that is not */
    (void) ngx_iothub_job_emit(g, rec);

    yajl_gen_free(g);
}


static void
fuzz_scalars(const redisReply *r)
{
    long long                   n, m, v[3];
    ngx_iothub_reply_rc_e       rc;
    ngx_iothub_reply_str_t      s;
    ngx_iothub_reply_connect_t  c;

    rc = ngx_iothub_reply_check(r);
    fuzz_assert(rc != NGX_IOTHUB_REPLY_LOST);
    fuzz_assert((rc == NGX_IOTHUB_REPLY_OK) == (r->type != REDIS_REPLY_ERROR));

    ngx_iothub_reply_error_text(r, &s);
    fuzz_span(&s);
    fuzz_assert(r->type == REDIS_REPLY_ERROR || s.len == 0);

    (void) ngx_iothub_reply_integer(r, &n);
    (void) ngx_iothub_reply_integer_pair(r, &n, &m);
    (void) ngx_iothub_reply_integers(r, v, 3);

    if (ngx_iothub_reply_bulk(r, &s) == NGX_IOTHUB_REPLY_OK) {
        fuzz_span(&s);
    }

    if (ngx_iothub_reply_status(r, &s) == NGX_IOTHUB_REPLY_OK) {
        fuzz_span(&s);
    }

    if (ngx_iothub_reply_connect(r, &c) == NGX_IOTHUB_REPLY_OK) {
        fuzz_assert(c.features <= (uint64_t) INT64_MAX);
    }
}


static void
fuzz_c2d(const redisReply *r)
{
    size_t                   i;
    ngx_iothub_reply_c2d_t  *m;

    /* on the heap: ASan then sees a write past it */
    m = malloc(sizeof(ngx_iothub_reply_c2d_t));
    if (m == NULL) {
        return;
    }

    if (ngx_iothub_reply_c2d(r, m) == NGX_IOTHUB_REPLY_OK) {
        fuzz_assert(m->n.len >= 1
                    && m->n.len <= NGX_IOTHUB_REPLY_NUMBER_MAX);

        for (i = 0; i < m->n.len; i++) {
            fuzz_assert(m->n.data[i] >= '0' && m->n.data[i] <= '9');
        }

        fuzz_span(&m->message_id);
        fuzz_span(&m->correlation_id);
        fuzz_span(&m->user_id);
        fuzz_span(&m->content_type);
        fuzz_span(&m->content_encoding);
        fuzz_span(&m->expiry);
        fuzz_span(&m->ack);
        fuzz_span(&m->body);

        fuzz_assert(m->napp <= NGX_IOTHUB_REPLY_C2D_MAX_APP);
        fuzz_assert(m->app_dropped == 0
                    || m->napp == NGX_IOTHUB_REPLY_C2D_MAX_APP);

        for (i = 0; i < m->napp; i++) {
            fuzz_assert(m->app_name[i].len > 0);
            fuzz_span(&m->app_name[i]);
            fuzz_span(&m->app_value[i]);
        }
    }

    free(m);
}


static void
fuzz_identities(const redisReply *r)
{
    size_t                  i, n;
    long long               count;
    ngx_iothub_reply_rc_e   rc;
    ngx_iothub_identity_t  *id;

    id = malloc(sizeof(ngx_iothub_identity_t));
    if (id == NULL) {
        return;
    }

    rc = ngx_iothub_reply_identity(r, id);

    if (rc == NGX_IOTHUB_REPLY_OK || rc == NGX_IOTHUB_REPLY_NIL) {
        fuzz_identity_ok(id);
    }

    rc = ngx_iothub_reply_identity_get(r, id, &count);

    if (rc == NGX_IOTHUB_REPLY_OK || rc == NGX_IOTHUB_REPLY_NIL) {
        fuzz_identity_ok(id);
    }

    if (ngx_iothub_reply_list(r, &n) == NGX_IOTHUB_REPLY_OK) {
        fuzz_assert(n == r->elements);

        for (i = 0; i < n; i++) {
            ngx_iothub_reply_list_identity(r, i, id);
            fuzz_identity_ok(id);
        }
    }

    free(id);
}


static void
fuzz_twin(const redisReply *r)
{
    long long               count;
    ngx_iothub_twin_t       t;
    ngx_iothub_identity_t  *id;

    id = malloc(sizeof(ngx_iothub_identity_t));
    if (id == NULL) {
        return;
    }

    if (ngx_iothub_twin_init(&t, NULL) != NGX_IOTHUB_TWIN_OK) {
        free(id);
        return;
    }

    if (ngx_iothub_reply_twin_read(r, &t, id, &count) == NGX_IOTHUB_REPLY_OK)
    {
        fuzz_identity_ok(id);
        fuzz_assert(t.tags != NULL && t.desired != NULL
                    && t.reported != NULL);
        fuzz_assert(t.version >= 1);
    }

    ngx_iothub_twin_free(&t);
    free(id);
}


static void
fuzz_query_chunk(const redisReply *r)
{
    size_t                  i, n;
    long long               count;
    ngx_iothub_twin_t       t;
    ngx_iothub_identity_t  *id;
    ngx_iothub_reply_str_t  next;

    if (ngx_iothub_reply_query_chunk(r, &next, &n) != NGX_IOTHUB_REPLY_OK) {
        return;
    }

    fuzz_span(&next);

    id = malloc(sizeof(ngx_iothub_identity_t));
    if (id == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        if (ngx_iothub_twin_init(&t, NULL) != NGX_IOTHUB_TWIN_OK) {
            break;
        }

        if (ngx_iothub_reply_query_twin(r, i, &t, id, &count)
            == NGX_IOTHUB_REPLY_OK)
        {
            fuzz_identity_ok(id);
        }

        ngx_iothub_twin_free(&t);
    }

    free(id);
}


static void
fuzz_scan(const redisReply *r)
{
    size_t                   i;
    ngx_iothub_reply_str_t   key;
    ngx_iothub_reply_scan_t  scan;

    if (ngx_iothub_reply_scan(r, &scan) != NGX_IOTHUB_REPLY_OK) {
        return;
    }

    fuzz_assert(scan.cursor.len >= 1
                && scan.cursor.len <= NGX_IOTHUB_REPLY_NUMBER_MAX);
    fuzz_span(&scan.cursor);

    for (i = 0; i < scan.nkeys; i++) {
        ngx_iothub_reply_scan_key(&scan, i, &key);
        fuzz_span(&key);
    }
}


static void
fuzz_push(const redisReply *r)
{
    ngx_iothub_reply_push_t  push;

    if (ngx_iothub_reply_push(r, &push) != NGX_IOTHUB_REPLY_OK) {
        return;
    }

    fuzz_assert(push.kind == NGX_IOTHUB_REPLY_PUSH_MESSAGE
                || push.kind == NGX_IOTHUB_REPLY_PUSH_SUBSCRIBE);
    fuzz_span(&push.channel);
    fuzz_span(&push.payload);
}


/* every text of a decoded identity is NUL-terminated within its member */

static void
fuzz_identity_ok(const ngx_iothub_identity_t *id)
{
    fuzz_assert(memchr(id->device_id, '\0', sizeof(id->device_id)));
    fuzz_assert(memchr(id->module_id, '\0', sizeof(id->module_id)));
    fuzz_assert(memchr(id->status, '\0', sizeof(id->status)));
    fuzz_assert(memchr(id->auth_type, '\0', sizeof(id->auth_type)));
    fuzz_assert(memchr(id->primary_key, '\0', sizeof(id->primary_key)));
    fuzz_assert(memchr(id->parent_scopes, '\0',
                       sizeof(id->parent_scopes)));
}


static void
fuzz_span(const ngx_iothub_reply_str_t *s)
{
    size_t  i;

    fuzz_assert(s->data != NULL || s->len == 0);

    for (i = 0; i < s->len; i++) {
        fuzz_sink ^= s->data[i];
    }
}


/* the records of both service-bound streams, by each one's names */

static void
fuzz_records(const redisReply *r)
{
    size_t                     i, j, n;
    ngx_iothub_reply_record_t  rec;

    if (ngx_iothub_reply_records(r, &n) != NGX_IOTHUB_REPLY_OK) {
        return;
    }

    for (i = 0; i < n; i++) {
        ngx_iothub_reply_record(r, i, ngx_iothub_reply_feedback_names,
                                NGX_IOTHUB_REPLY_FEEDBACK_FIELDS, &rec);
        for (j = 0; j < NGX_IOTHUB_REPLY_FEEDBACK_FIELDS; j++) {
            fuzz_span(&rec.value[j]);
        }

        ngx_iothub_reply_record(r, i,
                                ngx_iothub_reply_filenotification_names,
                                NGX_IOTHUB_REPLY_FILENOTIFICATION_FIELDS,
                                &rec);
        for (j = 0; j < NGX_IOTHUB_REPLY_FILENOTIFICATION_FIELDS; j++) {
            fuzz_span(&rec.value[j]);
        }
    }
}


static void
fuzz_eh(const redisReply *r)
{
    size_t                           i, n;
    ngx_iothub_reply_str_t           id;
    ngx_iothub_reply_eh_partition_t  p;

    if (ngx_iothub_reply_eh_seek(r, &id) == NGX_IOTHUB_REPLY_OK) {
        fuzz_assert(id.len <= NGX_IOTHUB_REPLY_EH_ID_MAX);
        fuzz_span(&id);
    }

    if (ngx_iothub_reply_eh_partition(r, &p) == NGX_IOTHUB_REPLY_OK) {
        fuzz_assert(p.first.len <= NGX_IOTHUB_REPLY_EH_ID_MAX);
        fuzz_assert(p.last.len <= NGX_IOTHUB_REPLY_EH_ID_MAX);
        fuzz_span(&p.first);
        fuzz_span(&p.last);
    }

    if (ngx_iothub_reply_eh_read(r, &n) == NGX_IOTHUB_REPLY_OK) {
        /* one past the batch as well: it must be refused, not read */
        for (i = 0; i <= n; i++) {
            fuzz_eh_event(r, i);
        }
    }

    /* an entry of any reply, as a caller with a wrong index would ask */
    fuzz_eh_event(r, 0);

    fuzz_eh_groups(r);
}


/* consumer groups: a list (one past its end too) and eh_group.lua */

static void
fuzz_eh_groups(const redisReply *r)
{
    size_t                       i, n;
    long long                    done;
    ngx_iothub_reply_eh_group_t  g;

    n = 0;

    if (ngx_iothub_reply_eh_groups(r, &n) == NGX_IOTHUB_REPLY_OK) {
        fuzz_assert(n * 2 == r->elements);
    }

    for (i = 0; i <= n; i++) {
        if (ngx_iothub_reply_eh_group(r, i, &g) == NGX_IOTHUB_REPLY_OK) {
            fuzz_assert(i < n);
            fuzz_assert(g.name.len >= 1
                        && g.name.len <= NGX_IOTHUB_REPLY_EH_GROUP_MAX);
            fuzz_span(&g.name);
            fuzz_span(&g.created);
        }
    }

    if (ngx_iothub_reply_eh_group_op(r, &done, &g) == NGX_IOTHUB_REPLY_OK) {
        fuzz_assert(g.name.len <= NGX_IOTHUB_REPLY_EH_GROUP_MAX);
        fuzz_span(&g.name);
        fuzz_span(&g.created);
    }
}


/* entry i of a read, and every message it holds (one past its count too) */

static void
fuzz_eh_event(const redisReply *r, size_t i)
{
    long long                     read;
    ngx_iothub_reply_rc_e         rc;
    ngx_iothub_reply_eh_entry_t   e;
    ngx_iothub_reply_eh_event_t  *ev;

    rc = ngx_iothub_reply_eh_entry(r, i, &e);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || i >= r->elements) {
        fuzz_assert(rc == NGX_IOTHUB_REPLY_MALFORMED);
    }

    if (rc != NGX_IOTHUB_REPLY_OK) {
        return;
    }

    fuzz_assert(e.id.len >= 1 && e.id.len <= NGX_IOTHUB_REPLY_EH_ID_MAX);
    fuzz_span(&e.id);
    fuzz_assert(e.count >= 1);

    /* on the heap: ASan then sees a write past it */
    ev = malloc(sizeof(ngx_iothub_reply_eh_event_t));
    if (ev == NULL) {
        return;
    }

    for (read = 0; read <= e.count; read++) {
        rc = ngx_iothub_reply_eh_message(&e, ev);

        if (read == e.count) {
            fuzz_assert(rc == NGX_IOTHUB_REPLY_NIL);
        }

        if (rc != NGX_IOTHUB_REPLY_OK) {
            break;
        }

        fuzz_eh_message(ev);
    }

    free(ev);
}


static void
fuzz_eh_message(const ngx_iothub_reply_eh_event_t *ev)
{
    size_t  j;

    fuzz_span(&ev->id);
    fuzz_span(&ev->body);
    fuzz_assert(ev->has_body || ev->body.len == 0);

    /* the spans end with a NUL, as hiredis's strings do */
    fuzz_assert(ev->body.data[ev->body.len] == '\0');

    fuzz_assert(ev->nprops <= NGX_IOTHUB_REPLY_EH_MAX_PROPS);
    fuzz_assert(ev->props_dropped == 0
                || ev->nprops == NGX_IOTHUB_REPLY_EH_MAX_PROPS);

    for (j = 0; j < ev->nprops; j++) {
        fuzz_assert(ev->prop[j].kind == NGX_IOTHUB_REPLY_EH_ANNOTATION
                    || ev->prop[j].kind == NGX_IOTHUB_REPLY_EH_SYSTEM
                    || ev->prop[j].kind == NGX_IOTHUB_REPLY_EH_APPLICATION);
        fuzz_assert(ev->prop[j].name.len > 0);
        fuzz_span(&ev->prop[j].name);
        fuzz_span(&ev->prop[j].value);
        fuzz_assert(ev->prop[j].value.data[ev->prop[j].value.len] == '\0');
    }
}
