
/*
 * nginx-iothub: service-bound streams (feedback, file notifications); see
 * ngx_iothub_sbstream.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/rand.h>
#include <yajl/yajl_gen.h>

#include "ngx_iothub_lua.h"
#include "ngx_iothub_sbstream.h"


#define NGX_IOTHUB_SBSTREAM_KEY_LEN  320


/* messaging.md 3.5: batches of 64, lock 60 s, 10 deliveries, TTL 1 h */
const ngx_iothub_sbstream_t  ngx_iothub_sbstream_feedback = {
    "feedback", "feedback",
    "application/vnd.microsoft.iothub.feedback.json",
    ngx_iothub_reply_feedback_names, NGX_IOTHUB_REPLY_FEEDBACK_FIELDS,
    64, 60000, 10, 3600
};


/* messaging.md 4, amqp.md 9.3: one a message, lock 60 s, 100, TTL 1 h */
const ngx_iothub_sbstream_t  ngx_iothub_sbstream_filenotifications = {
    "filenotifications", "file notification",
    "application/vnd.microsoft.iothub.filenotification.json",
    ngx_iothub_reply_filenotification_names,
    NGX_IOTHUB_REPLY_FILENOTIFICATION_FIELDS,
    1, 60000, 100, 3600
};


static ngx_int_t ngx_iothub_sbstream_script(ngx_iothub_sbstream_op_t *op,
    ngx_uint_t script, ngx_iothub_args_t *args);
static void ngx_iothub_sbstream_received(void *data, redisReply *reply);
static void ngx_iothub_sbstream_settled(void *data, redisReply *reply);
static ngx_int_t ngx_iothub_sbstream_json(ngx_iothub_sbstream_op_t *op,
    redisReply *batch, size_t n);
static yajl_gen_status ngx_iothub_sbstream_record(yajl_gen g,
    const ngx_iothub_sbstream_t *stream, ngx_iothub_reply_record_t *rec);
static yajl_gen_status ngx_iothub_sbstream_number(yajl_gen g,
    ngx_iothub_reply_str_t *v);
static void ngx_iothub_sbstream_done(ngx_iothub_sbstream_op_t *op,
    ngx_iothub_sbstream_result_e result);


ngx_int_t
ngx_iothub_sbstream_receive(ngx_iothub_sbstream_op_t *op)
{
    u_char             id[NGX_IOTHUB_SBSTREAM_LOCK_LEN / 2];
    u_char             nums[4][NGX_INT64_LEN], *p;
    ngx_time_t        *tp;
    ngx_iothub_args_t  args;

    if (RAND_bytes(id, sizeof(id)) != 1) {
        return NGX_ERROR;
    }

    ngx_hex_dump(op->lock_text, id, sizeof(id));
    op->lock.data = op->lock_text;
    op->lock.len = sizeof(op->lock_text);

    tp = ngx_timeofday();
    args.n = 0;

    p = ngx_sprintf(nums[0], "%M", op->stream->lock);
    ngx_iothub_args_add(&args, (char *) nums[0], p - nums[0]);
    p = ngx_sprintf(nums[1], "%ui", op->stream->batch);
    ngx_iothub_args_add(&args, (char *) nums[1], p - nums[1]);
    p = ngx_sprintf(nums[2], "%ui", op->stream->max_deliveries);
    ngx_iothub_args_add(&args, (char *) nums[2], p - nums[2]);
    p = ngx_sprintf(nums[3], "%uL",
                    ((uint64_t) tp->sec - op->stream->ttl) * 1000);
    ngx_iothub_args_add(&args, (char *) nums[3], p - nums[3]);

    return ngx_iothub_sbstream_script(op, NGX_IOTHUB_LUA_SBSTREAM_RECEIVE,
                                      &args);
}


ngx_int_t
ngx_iothub_sbstream_settle(ngx_iothub_sbstream_op_t *op, ngx_uint_t complete)
{
    u_char             lock[NGX_INT_T_LEN];
    ngx_iothub_args_t  args;

    args.n = 0;
    ngx_iothub_args_add_str(&args, complete ? "complete" : "abandon");
    ngx_iothub_args_add(&args, (char *) lock,
                        ngx_sprintf(lock, "%M", op->stream->lock)
                        - lock);

    return ngx_iothub_sbstream_script(op, NGX_IOTHUB_LUA_SBSTREAM_SETTLE,
                                      &args);
}


/* runs a stream script: KEYS the stream and the lock, ARGV args */

static ngx_int_t
ngx_iothub_sbstream_script(ngx_iothub_sbstream_op_t *op, ngx_uint_t script,
    ngx_iothub_args_t *args)
{
    int                 i;
    u_char              stream[NGX_IOTHUB_SBSTREAM_KEY_LEN];
    u_char              lock[NGX_IOTHUB_SBSTREAM_KEY_LEN];
    u_char              lock_suffix[64];
    ngx_iothub_args_t   all;

    all.n = 0;

    /* "<key>:lock:" */
    *ngx_snprintf(lock_suffix, sizeof(lock_suffix) - 1, "%s:lock:",
                  op->stream->key) = '\0';

    ngx_iothub_args_add(&all, (char *) stream,
        ngx_iothub_key_write(stream, stream + sizeof(stream), op->hub, NULL,
                             op->stream->key, NULL) - stream);
    ngx_iothub_args_add(&all, (char *) lock,
        ngx_iothub_key_write(lock, lock + sizeof(lock), op->hub, NULL,
                             (char *) lock_suffix, &op->lock) - lock);

    for (i = 0; i < args->n; i++) {
        ngx_iothub_args_add(&all, args->argv[i], args->lens[i]);
    }

    if (!ngx_iothub_args_ok(args) || !ngx_iothub_args_ok(&all)) {
        return NGX_ERROR;
    }

    op->call = ngx_iothub_redis_script(ngx_iothub_redis_link(), script,
                                       script == NGX_IOTHUB_LUA_SBSTREAM_SETTLE
                                       ? ngx_iothub_sbstream_settled
                                       : ngx_iothub_sbstream_received,
                                       op, 2, all.n, all.argv, all.lens);

    return op->call ? NGX_OK : NGX_DECLINED;
}


/* sbstream_receive.lua: { { id, { field, value, ... } }, ... } */

static void
ngx_iothub_sbstream_received(void *data, redisReply *reply)
{
    ngx_iothub_sbstream_op_t *op = data;

    size_t                 n;
    ngx_iothub_reply_rc_e  rc;

    op->call = NULL;

    rc = ngx_iothub_reply_records(reply, &n);

    if (rc == NGX_IOTHUB_REPLY_LOST) {
        ngx_iothub_sbstream_done(op, NGX_IOTHUB_SBSTREAM_UNAVAILABLE);
        return;
    }

    if (rc != NGX_IOTHUB_REPLY_OK) {
        ngx_iothub_sbstream_done(op, NGX_IOTHUB_SBSTREAM_FAILED);
        return;
    }

    if (n == 0) {
        ngx_iothub_sbstream_done(op, NGX_IOTHUB_SBSTREAM_EMPTY);
        return;
    }

    ngx_iothub_sbstream_done(op, ngx_iothub_sbstream_json(op, reply, n)
                                 == NGX_OK
                                 ? NGX_IOTHUB_SBSTREAM_OK
                                 : NGX_IOTHUB_SBSTREAM_FAILED);
}


static void
ngx_iothub_sbstream_settled(void *data, redisReply *reply)
{
    ngx_iothub_sbstream_op_t *op = data;

    long long              n;
    ngx_iothub_reply_rc_e  rc;

    op->call = NULL;

    rc = ngx_iothub_reply_integer(reply, &n);

    switch (rc) {

    case NGX_IOTHUB_REPLY_OK:
        op->count = (ngx_uint_t) n;
        ngx_iothub_sbstream_done(op, NGX_IOTHUB_SBSTREAM_OK);
        return;

    case NGX_IOTHUB_REPLY_LOST:
        ngx_iothub_sbstream_done(op, NGX_IOTHUB_SBSTREAM_UNAVAILABLE);
        return;

    case NGX_IOTHUB_REPLY_LOCK_LOST:
        ngx_iothub_sbstream_done(op, NGX_IOTHUB_SBSTREAM_LOCK_LOST);
        return;

    default:
        ngx_iothub_sbstream_done(op, NGX_IOTHUB_SBSTREAM_FAILED);
    }
}


/*
 * The batch as a JSON array (feedback, messaging.md 3.5), or the one
 * record itself when the stream's batch is 1 (a file notification,
 * messaging.md 4), into op->pool.
 */

static ngx_int_t
ngx_iothub_sbstream_json(ngx_iothub_sbstream_op_t *op, redisReply *batch,
    size_t n)
{
    size_t                        i, len;
    yajl_gen                      g;
    yajl_gen_status               st;
    const unsigned char          *buf;
    ngx_iothub_reply_record_t     rec;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_ERROR;
    }

    st = (op->stream->batch > 1) ? yajl_gen_array_open(g)
                                 : yajl_gen_status_ok;

    for (i = 0; i < n && st == yajl_gen_status_ok; i++) {
        ngx_iothub_reply_record(batch, i, op->stream->fields,
                                op->stream->nfields, &rec);
        st = ngx_iothub_sbstream_record(g, op->stream, &rec);
    }

    if (st == yajl_gen_status_ok && op->stream->batch > 1) {
        st = yajl_gen_array_close(g);
    }

    op->count = n;

    if (st == yajl_gen_status_ok
        && yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
    {
        op->body.data = ngx_pnalloc(op->pool, len);

        if (op->body.data) {
            ngx_memcpy(op->body.data, buf, len);
            op->body.len = len;
        }
    }

    yajl_gen_free(g);

    return op->body.data ? NGX_OK : NGX_ERROR;
}


static yajl_gen_status
ngx_iothub_sbstream_record(yajl_gen g, const ngx_iothub_sbstream_t *stream,
    ngx_iothub_reply_record_t *rec)
{
    ngx_uint_t               i;
    const char              *name;
    yajl_gen_status          st;
    ngx_iothub_reply_str_t  *v;

    st = yajl_gen_map_open(g);

    for (i = 0; i < stream->nfields; i++) {
        name = stream->fields[i].name;
        v = &rec->value[i];

        if (st == yajl_gen_status_ok) {
            st = yajl_gen_string(g, (const unsigned char *) name,
                                 ngx_strlen(name));
        }

        if (st != yajl_gen_status_ok) {
            break;
        }

        if (stream->fields[i].number) {
            st = ngx_iothub_sbstream_number(g, v);
            continue;
        }

        st = yajl_gen_string(g, v->data ? v->data
                                        : (const unsigned char *) "",
                             v->len);
    }

    return (st == yajl_gen_status_ok) ? yajl_gen_map_close(g) : st;
}


/* a decimal the hub wrote; anything else (never expected) reads as 0 */

static yajl_gen_status
ngx_iothub_sbstream_number(yajl_gen g, ngx_iothub_reply_str_t *v)
{
    size_t  i;

    if (v->len == 0 || v->len > NGX_INT64_LEN - 1) {
        return yajl_gen_number(g, "0", 1);
    }

    for (i = 0; i < v->len; i++) {
        if (v->data[i] < '0' || v->data[i] > '9') {
            return yajl_gen_number(g, "0", 1);
        }
    }

    return yajl_gen_number(g, (const char *) v->data, v->len);
}


static void
ngx_iothub_sbstream_done(ngx_iothub_sbstream_op_t *op,
    ngx_iothub_sbstream_result_e result)
{
    op->result = result;
    op->handler(op);
}


void
ngx_iothub_sbstream_cancel(ngx_iothub_sbstream_op_t *op)
{
    if (op->call) {
        ngx_iothub_redis_cancel(op->call);
        op->call = NULL;
    }
}
