
/*
 * nginx-iothub: cloud-to-device messages; see ngx_iothub_c2d.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_c2d.h"
#include "ngx_iothub_reply.h"
#include "ngx_iothub_lua.h"


#define NGX_IOTHUB_C2D_KEY_LEN  320


typedef struct {
    u_char                     device[NGX_IOTHUB_C2D_KEY_LEN];
    u_char                     queue[NGX_IOTHUB_C2D_KEY_LEN];
    u_char                     prefix[NGX_IOTHUB_C2D_KEY_LEN];
    u_char                     feedback[NGX_IOTHUB_C2D_KEY_LEN];
    u_char                     text[NGX_IOTHUB_C2D_KEY_LEN];
} ngx_iothub_c2d_keys_t;


static void ngx_iothub_c2d_done(void *data, redisReply *reply);
static ngx_iothub_redis_call_t *ngx_iothub_c2d_script(ngx_uint_t script,
    ngx_iothub_redis_handler_pt handler, void *data, int nkeys,
    ngx_iothub_args_t *args);
static void ngx_iothub_c2d_add_key(ngx_iothub_args_t *args, u_char *buf,
    ngx_iothub_hub_t *hub, ngx_str_t *device_id, const char *suffix);
static void ngx_iothub_c2d_add_now_ms(ngx_iothub_args_t *args, u_char *buf);


ngx_int_t
ngx_iothub_c2d_send(ngx_iothub_c2d_op_t *op)
{
    u_char                  depth[NGX_INT_T_LEN], exp[NGX_INT64_LEN];
    u_char                  now[40];
    uint64_t                expiry;
    ngx_time_t             *tp;
    ngx_iothub_hub_t       *hub;
    ngx_iothub_args_t       args;
    ngx_iothub_c2d_keys_t   k;

    hub = op->hub;
    tp = ngx_timeofday();
    expiry = op->expiry;

    if (expiry == 0) {
        expiry = ((uint64_t) tp->sec + hub->c2d_ttl) * 1000 + tp->msec;
    }

    ngx_iothub_time_now(now, sizeof(now));

    args.n = 0;
    ngx_iothub_c2d_add_key(&args, k.device, hub, &op->device_id, "device");
    ngx_iothub_c2d_add_key(&args, k.queue, hub, &op->device_id, "c2d");
    ngx_iothub_c2d_add_key(&args, k.text, hub, &op->device_id, "c2d:seq");
    ngx_iothub_c2d_add_key(&args, k.feedback, hub, &op->device_id,
                           "presence");

    ngx_iothub_args_add(&args, (char *) depth,
                        ngx_sprintf(depth, "%ui", hub->c2d_queue_depth)
                        - depth);
    ngx_iothub_c2d_add_key(&args, k.prefix, hub, &op->device_id, "c2d:");

    ngx_iothub_args_add_str(&args, "expiry");
    ngx_iothub_args_add(&args, (char *) exp,
                        ngx_sprintf(exp, "%uL", expiry) - exp);
    ngx_iothub_args_add_str(&args, "ack");
    ngx_iothub_args_add(&args, (char *) op->ack.data, op->ack.len);
    ngx_iothub_args_add_str(&args, "enqueued");
    ngx_iothub_args_add_str(&args, (char *) now);

    if (ngx_iothub_message_args(&args, op->msg) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "iothub: too many arguments for a cloud-to-device "
                      "message");
        return NGX_ERROR;
    }

    op->call = ngx_iothub_c2d_script(NGX_IOTHUB_LUA_C2D_SEND,
                                     ngx_iothub_c2d_done, op, 4, &args);

    return op->call ? NGX_OK : NGX_DECLINED;
}


ngx_int_t
ngx_iothub_c2d_purge(ngx_iothub_c2d_op_t *op)
{
    ngx_iothub_args_t       args;
    ngx_iothub_c2d_keys_t   k;

    args.n = 0;
    ngx_iothub_c2d_add_key(&args, k.device, op->hub, &op->device_id,
                           "device");
    ngx_iothub_c2d_add_key(&args, k.queue, op->hub, &op->device_id, "c2d");
    ngx_iothub_c2d_add_key(&args, k.prefix, op->hub, &op->device_id,
                           "c2d:");

    if (!ngx_iothub_args_ok(&args)) {
        return NGX_ERROR;
    }

    op->call = ngx_iothub_c2d_script(NGX_IOTHUB_LUA_C2D_PURGE,
                                     ngx_iothub_c2d_done, op, 2, &args);

    return op->call ? NGX_OK : NGX_DECLINED;
}


void
ngx_iothub_c2d_cancel(ngx_iothub_c2d_op_t *op)
{
    if (op->call) {
        ngx_iothub_redis_cancel(op->call);
        op->call = NULL;
    }
}


/* the integer reply of c2d_send.lua and c2d_purge.lua, or their errors */

static void
ngx_iothub_c2d_done(void *data, redisReply *reply)
{
    ngx_iothub_c2d_op_t *op = data;

    long long  count;

    op->call = NULL;

    switch (ngx_iothub_reply_integer(reply, &count)) {

    case NGX_IOTHUB_REPLY_OK:
        op->result = NGX_IOTHUB_C2D_DONE;
        op->count = count;
        break;

    case NGX_IOTHUB_REPLY_LOST:
        op->result = NGX_IOTHUB_C2D_UNAVAILABLE;
        break;

    case NGX_IOTHUB_REPLY_NOT_FOUND:
        op->result = NGX_IOTHUB_C2D_NOT_FOUND;
        break;

    case NGX_IOTHUB_REPLY_FULL:
        op->result = NGX_IOTHUB_C2D_FULL;
        break;

    default:
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "iothub: unexpected reply of a cloud-to-device "
                      "script");
        op->result = NGX_IOTHUB_C2D_FAILED;
    }

    op->handler(op);
}


ngx_iothub_redis_call_t *
ngx_iothub_c2d_receive(ngx_iothub_hub_t *hub, ngx_str_t *device_id,
    ngx_str_t *generation_id, ngx_str_t *lock,
    ngx_iothub_redis_handler_pt handler, void *data)
{
    u_char                  now_ms[NGX_INT64_LEN], lock_ms[NGX_INT_T_LEN];
    u_char                  max[NGX_INT_T_LEN], now[40];
    u_char                  maxlen[NGX_INT_T_LEN];
    ngx_iothub_args_t       args;
    ngx_iothub_c2d_keys_t   k;

    ngx_iothub_time_now(now, sizeof(now));

    args.n = 0;
    ngx_iothub_c2d_add_key(&args, k.queue, hub, device_id, "c2d");
    ngx_iothub_c2d_add_key(&args, k.feedback, hub, NULL, "feedback");
    ngx_iothub_c2d_add_key(&args, k.prefix, hub, device_id, "c2d:");

    ngx_iothub_c2d_add_now_ms(&args, now_ms);
    ngx_iothub_args_add(&args, (char *) lock_ms,
                        ngx_sprintf(lock_ms, "%M", hub->c2d_lock_timeout)
                        - lock_ms);
    ngx_iothub_args_add(&args, (char *) max,
                        ngx_sprintf(max, "%ui", hub->c2d_max_delivery_count)
                        - max);
    ngx_iothub_args_add(&args, (char *) lock->data, lock->len);
    ngx_iothub_args_add_str(&args, (char *) now);
    ngx_iothub_args_add(&args, (char *) device_id->data, device_id->len);
    ngx_iothub_args_add(&args, (char *) generation_id->data,
                        generation_id->len);
    ngx_iothub_args_add(&args, (char *) maxlen,
                        ngx_sprintf(maxlen, "%ui", hub->feedback_max_length)
                        - maxlen);

    return ngx_iothub_c2d_script(NGX_IOTHUB_LUA_C2D_RECEIVE, handler, data, 2,
                                 &args);
}


ngx_iothub_redis_call_t *
ngx_iothub_c2d_settle(ngx_iothub_hub_t *hub, ngx_str_t *device_id,
    ngx_str_t *generation_id, ngx_str_t *n, ngx_str_t *lock,
    const char *how, ngx_iothub_redis_handler_pt handler, void *data)
{
    u_char                  now[40], maxlen[NGX_INT_T_LEN];
    u_char                  now_ms[NGX_INT64_LEN];
    ngx_iothub_args_t       args;
    ngx_iothub_c2d_keys_t   k;

    ngx_iothub_time_now(now, sizeof(now));

    args.n = 0;
    ngx_iothub_c2d_add_key(&args, k.queue, hub, device_id, "c2d");
    ngx_iothub_c2d_add_key(&args, k.feedback, hub, NULL, "feedback");
    ngx_iothub_c2d_add_key(&args, k.device, hub, device_id, "presence");
    ngx_iothub_c2d_add_key(&args, k.prefix, hub, device_id, "c2d:");

    ngx_iothub_args_add(&args, (char *) n->data, n->len);
    ngx_iothub_args_add(&args, (char *) lock->data, lock->len);
    ngx_iothub_args_add_str(&args, how);
    ngx_iothub_args_add_str(&args, (char *) now);
    ngx_iothub_args_add(&args, (char *) device_id->data, device_id->len);
    ngx_iothub_args_add(&args, (char *) generation_id->data,
                        generation_id->len);
    ngx_iothub_args_add(&args, (char *) maxlen,
                        ngx_sprintf(maxlen, "%ui", hub->feedback_max_length)
                        - maxlen);
    ngx_iothub_c2d_add_now_ms(&args, now_ms);

    return ngx_iothub_c2d_script(NGX_IOTHUB_LUA_C2D_SETTLE, handler, data, 3,
                                 &args);
}


/* every argument must have fitted (a message of too many properties) */

static ngx_iothub_redis_call_t *
ngx_iothub_c2d_script(ngx_uint_t script, ngx_iothub_redis_handler_pt handler,
    void *data, int nkeys, ngx_iothub_args_t *args)
{
    if (!ngx_iothub_args_ok(args)) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "iothub: too many arguments for a cloud-to-device "
                      "script");
        return NULL;
    }

    return ngx_iothub_redis_script(ngx_iothub_redis_link(), script, handler,
                                   data, nkeys, args->n, args->argv,
                                   args->lens);
}


/* "<prefix>{<device>}:<suffix>", or "<prefix><suffix>" without a device */

static void
ngx_iothub_c2d_add_key(ngx_iothub_args_t *args, u_char *buf,
    ngx_iothub_hub_t *hub, ngx_str_t *device_id, const char *suffix)
{
    u_char  *last;

    last = ngx_iothub_key_write(buf, buf + NGX_IOTHUB_C2D_KEY_LEN, hub,
                                device_id, suffix, NULL);

    ngx_iothub_args_add(args, (char *) buf, last - buf);
}


/* buf: NGX_INT64_LEN bytes */

static void
ngx_iothub_c2d_add_now_ms(ngx_iothub_args_t *args, u_char *buf)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    ngx_iothub_args_add(args, (char *) buf,
                        ngx_sprintf(buf, "%uL",
                                    (uint64_t) tp->sec * 1000 + tp->msec)
                        - buf);
}
