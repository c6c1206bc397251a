
/*
 * nginx-iothub: the hub's cloud-to-device feedback for back ends; see
 * ngx_iothub_feedback.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/rand.h>
#include <yajl/yajl_gen.h>

#include "ngx_iothub_feedback.h"
#include "ngx_iothub_lua.h"
#include "ngx_iothub_reply.h"


#define NGX_IOTHUB_FEEDBACK_KEY_LEN  320



static ngx_int_t ngx_iothub_feedback_script(ngx_iothub_feedback_op_t *op,
    ngx_uint_t script, ngx_iothub_args_t *args);
static void ngx_iothub_feedback_received(void *data, redisReply *reply);
static void ngx_iothub_feedback_settled(void *data, redisReply *reply);
static ngx_int_t ngx_iothub_feedback_json(ngx_iothub_feedback_op_t *op,
    redisReply *batch, size_t n);
static yajl_gen_status ngx_iothub_feedback_record(yajl_gen g,
    ngx_iothub_reply_feedback_t *rec);
static void ngx_iothub_feedback_done(ngx_iothub_feedback_op_t *op,
    ngx_iothub_feedback_result_e result);


ngx_int_t
ngx_iothub_feedback_receive(ngx_iothub_feedback_op_t *op)
{
    u_char             id[NGX_IOTHUB_FEEDBACK_LOCK_LEN / 2];
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

    p = ngx_sprintf(nums[0], "%d", NGX_IOTHUB_FEEDBACK_LOCK);
    ngx_iothub_args_add(&args, (char *) nums[0], p - nums[0]);
    p = ngx_sprintf(nums[1], "%d", NGX_IOTHUB_FEEDBACK_BATCH);
    ngx_iothub_args_add(&args, (char *) nums[1], p - nums[1]);
    p = ngx_sprintf(nums[2], "%d", NGX_IOTHUB_FEEDBACK_MAX_DELIVERIES);
    ngx_iothub_args_add(&args, (char *) nums[2], p - nums[2]);
    p = ngx_sprintf(nums[3], "%uL",
                    ((uint64_t) tp->sec - NGX_IOTHUB_FEEDBACK_TTL) * 1000);
    ngx_iothub_args_add(&args, (char *) nums[3], p - nums[3]);

    return ngx_iothub_feedback_script(op, NGX_IOTHUB_LUA_FEEDBACK_RECEIVE,
                                      &args);
}


ngx_int_t
ngx_iothub_feedback_settle(ngx_iothub_feedback_op_t *op, ngx_uint_t complete)
{
    u_char             lock[NGX_INT_T_LEN];
    ngx_iothub_args_t  args;

    args.n = 0;
    ngx_iothub_args_add_str(&args, complete ? "complete" : "abandon");
    ngx_iothub_args_add(&args, (char *) lock,
                        ngx_sprintf(lock, "%d", NGX_IOTHUB_FEEDBACK_LOCK)
                        - lock);

    return ngx_iothub_feedback_script(op, NGX_IOTHUB_LUA_FEEDBACK_SETTLE,
                                      &args);
}


/* runs a feedback script: KEYS the feedback stream and the lock, ARGV args */

static ngx_int_t
ngx_iothub_feedback_script(ngx_iothub_feedback_op_t *op, ngx_uint_t script,
    ngx_iothub_args_t *args)
{
    int                 i;
    u_char              stream[NGX_IOTHUB_FEEDBACK_KEY_LEN];
    u_char              lock[NGX_IOTHUB_FEEDBACK_KEY_LEN];
    ngx_iothub_args_t   all;

    all.n = 0;

    ngx_iothub_args_add(&all, (char *) stream,
        ngx_iothub_key_write(stream, stream + sizeof(stream), op->hub, NULL,
                             "feedback", NULL) - stream);
    ngx_iothub_args_add(&all, (char *) lock,
        ngx_iothub_key_write(lock, lock + sizeof(lock), op->hub, NULL,
                             "feedback:lock:", &op->lock) - lock);

    for (i = 0; i < args->n; i++) {
        ngx_iothub_args_add(&all, args->argv[i], args->lens[i]);
    }

    if (!ngx_iothub_args_ok(args) || !ngx_iothub_args_ok(&all)) {
        return NGX_ERROR;
    }

    op->call = ngx_iothub_redis_script(ngx_iothub_redis_link(), script,
                                       script == NGX_IOTHUB_LUA_FEEDBACK_SETTLE
                                       ? ngx_iothub_feedback_settled
                                       : ngx_iothub_feedback_received,
                                       op, 2, all.n, all.argv, all.lens);

    return op->call ? NGX_OK : NGX_DECLINED;
}


/* feedback_receive.lua: { { id, { field, value, ... } }, ... } */

static void
ngx_iothub_feedback_received(void *data, redisReply *reply)
{
    ngx_iothub_feedback_op_t *op = data;

    size_t                 n;
    ngx_iothub_reply_rc_e  rc;

    op->call = NULL;

    rc = ngx_iothub_reply_feedback(reply, &n);

    if (rc == NGX_IOTHUB_REPLY_LOST) {
        ngx_iothub_feedback_done(op, NGX_IOTHUB_FEEDBACK_UNAVAILABLE);
        return;
    }

    if (rc != NGX_IOTHUB_REPLY_OK) {
        ngx_iothub_feedback_done(op, NGX_IOTHUB_FEEDBACK_FAILED);
        return;
    }

    if (n == 0) {
        ngx_iothub_feedback_done(op, NGX_IOTHUB_FEEDBACK_EMPTY);
        return;
    }

    ngx_iothub_feedback_done(op, ngx_iothub_feedback_json(op, reply, n)
                                 == NGX_OK
                                 ? NGX_IOTHUB_FEEDBACK_OK
                                 : NGX_IOTHUB_FEEDBACK_FAILED);
}


static void
ngx_iothub_feedback_settled(void *data, redisReply *reply)
{
    ngx_iothub_feedback_op_t *op = data;

    long long              n;
    ngx_iothub_reply_rc_e  rc;

    op->call = NULL;

    rc = ngx_iothub_reply_integer(reply, &n);

    switch (rc) {

    case NGX_IOTHUB_REPLY_OK:
        op->count = (ngx_uint_t) n;
        ngx_iothub_feedback_done(op, NGX_IOTHUB_FEEDBACK_OK);
        return;

    case NGX_IOTHUB_REPLY_LOST:
        ngx_iothub_feedback_done(op, NGX_IOTHUB_FEEDBACK_UNAVAILABLE);
        return;

    case NGX_IOTHUB_REPLY_LOCK_LOST:
        ngx_iothub_feedback_done(op, NGX_IOTHUB_FEEDBACK_LOCK_LOST);
        return;

    default:
        ngx_iothub_feedback_done(op, NGX_IOTHUB_FEEDBACK_FAILED);
    }
}


/* the batch as the hub's JSON array (messaging.md 3.5), into op->pool */

static ngx_int_t
ngx_iothub_feedback_json(ngx_iothub_feedback_op_t *op, redisReply *batch,
    size_t n)
{
    size_t                        i, len;
    yajl_gen                      g;
    yajl_gen_status               st;
    const unsigned char          *buf;
    ngx_iothub_reply_feedback_t   rec;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_ERROR;
    }

    st = yajl_gen_array_open(g);

    for (i = 0; i < n && st == yajl_gen_status_ok; i++) {
        ngx_iothub_reply_feedback_record(batch, i, &rec);
        st = ngx_iothub_feedback_record(g, &rec);
    }

    if (st == yajl_gen_status_ok) {
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
ngx_iothub_feedback_record(yajl_gen g, ngx_iothub_reply_feedback_t *rec)
{
    ngx_uint_t               i;
    const char              *name;
    yajl_gen_status          st;
    ngx_iothub_reply_str_t  *v;

    st = yajl_gen_map_open(g);

    for (i = 0; i < NGX_IOTHUB_REPLY_FEEDBACK_FIELDS; i++) {
        name = ngx_iothub_reply_feedback_names[i];
        v = &rec->value[i];

        if (st == yajl_gen_status_ok) {
            st = yajl_gen_string(g, (const unsigned char *) name,
                                 ngx_strlen(name));
        }

        if (st == yajl_gen_status_ok) {
            st = yajl_gen_string(g, v->data ? v->data
                                            : (const unsigned char *) "",
                                 v->len);
        }
    }

    return (st == yajl_gen_status_ok) ? yajl_gen_map_close(g) : st;
}


static void
ngx_iothub_feedback_done(ngx_iothub_feedback_op_t *op,
    ngx_iothub_feedback_result_e result)
{
    op->result = result;
    op->handler(op);
}


void
ngx_iothub_feedback_cancel(ngx_iothub_feedback_op_t *op)
{
    if (op->call) {
        ngx_iothub_redis_cancel(op->call);
        op->call = NULL;
    }
}
