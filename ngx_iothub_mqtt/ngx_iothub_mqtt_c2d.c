
/*
 * nginx-iothub: cloud-to-device delivery over MQTT (mqtt.md 5): one
 * message in flight per session, PUBLISH QoS 1 on the devicebound topic,
 * completed by the device's PUBACK; a session that ends with a message in
 * flight releases it, so it is delivered again; a message unacknowledged
 * past its lock is sent again on the same session.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_mqtt.h"
#include "ngx_iothub_c2d.h"


#define NGX_IOTHUB_MQTT_C2D_PROPS  (NGX_IOTHUB_D2C_MAX_PROPERTIES + 8)


typedef struct {
    const char                 *field;
    ngx_iothub_mqtt_prop_e      sys;
} ngx_iothub_mqtt_c2d_field_t;


static void ngx_iothub_mqtt_c2d_received(ngx_iothub_mqtt_ctx_t *ctx,
    redisReply *reply, ngx_uint_t arg);
/* NGX_OK sent, NGX_DECLINED not sent, NGX_ERROR the session closed */
static ngx_int_t ngx_iothub_mqtt_c2d_deliver(ngx_iothub_mqtt_ctx_t *ctx,
    redisReply *reply);
static size_t ngx_iothub_mqtt_c2d_props(ngx_iothub_mqtt_ctx_t *ctx,
    redisReply *reply, ngx_iothub_mqtt_prop_t *props, redisReply **body);
static void ngx_iothub_mqtt_c2d_settled(ngx_iothub_mqtt_ctx_t *ctx,
    redisReply *reply, ngx_uint_t arg);
static void ngx_iothub_mqtt_c2d_abandoned(void *data, redisReply *reply);
static void ngx_iothub_mqtt_c2d_lock_expired(ngx_event_t *ev);


/* hash fields and the topic's system properties, in the hub's order */

static ngx_iothub_mqtt_c2d_field_t  ngx_iothub_mqtt_c2d_fields[] = {
    { "p:message-id", NGX_IOTHUB_MQTT_PROP_MID },
    { "p:content-encoding", NGX_IOTHUB_MQTT_PROP_CE },
    { "p:content-type", NGX_IOTHUB_MQTT_PROP_CT },
    { "p:correlation-id", NGX_IOTHUB_MQTT_PROP_CID },
    { "p:user-id", NGX_IOTHUB_MQTT_PROP_UID },
    { NULL, NGX_IOTHUB_MQTT_PROP_APP }
};


/* starts the next delivery, or notes that one is due after the current */

void
ngx_iothub_mqtt_c2d_pull(ngx_iothub_mqtt_ctx_t *ctx)
{
    ngx_str_t                 lock;
    ngx_iothub_mqtt_token_t  *t;

    if (!(ctx->features & NGX_IOTHUB_FEATURE_C2D)
        || ctx->state != NGX_IOTHUB_MQTT_CONNECTED)
    {
        return;
    }

    if (ctx->c2d_busy) {
        ctx->c2d_again = 1;
        return;
    }

    ctx->c2d_again = 0;

    lock.data = ctx->c2d_lock;
    lock.len = ngx_sprintf(ctx->c2d_lock, "%ui.%08xD.%ui", ctx->session_no,
                           (uint32_t) ngx_random(), ++ctx->c2d_count)
               - ctx->c2d_lock;
    ctx->c2d_lock_len = lock.len;

    t = ngx_iothub_mqtt_token(ctx, ngx_iothub_mqtt_c2d_received, 0);
    if (t == NULL) {
        return;
    }

    t->call = ngx_iothub_c2d_receive(ctx->hub, &ctx->sender.device_id,
                                     &ctx->sender.generation_id, &lock,
                                     ngx_iothub_mqtt_token_reply, t);
    if (t->call == NULL) {
        /* Redis down: the next notification or connection retries */
        ngx_queue_remove(&t->queue);
        ngx_free(t);
        return;
    }

    ctx->c2d_busy = 1;
}


static void
ngx_iothub_mqtt_c2d_received(ngx_iothub_mqtt_ctx_t *ctx, redisReply *reply,
    ngx_uint_t arg)
{
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        ctx->c2d_busy = 0;

        if (reply && ctx->c2d_again) {
            ngx_iothub_mqtt_c2d_pull(ctx);
        }

        return;
    }

    switch (ngx_iothub_mqtt_c2d_deliver(ctx, reply)) {

    case NGX_OK:
        break;

    case NGX_ERROR:
        /* the session closed */
        return;

    default:
        /* not sent: the lock expires and the next pull gets it again */
        ctx->c2d_busy = 0;
    }
}


static ngx_int_t
ngx_iothub_mqtt_c2d_deliver(ngx_iothub_mqtt_ctx_t *ctx, redisReply *reply)
{
    u_char                 *topic;
    size_t                  n, len;
    redisReply             *body;
    ngx_iothub_mqtt_prop_t  props[NGX_IOTHUB_MQTT_C2D_PROPS];

    n = ngx_iothub_mqtt_c2d_props(ctx, reply, props, &body);

    len = ngx_iothub_mqtt_c2d_topic(NULL, 0, &ctx->device, props, n);

    topic = ngx_alloc(len + 1, ctx->connection->log);
    if (topic == NULL) {
        return NGX_DECLINED;
    }

    (void) ngx_iothub_mqtt_c2d_topic(topic, len + 1, &ctx->device, props, n);

    if (++ctx->next_packet_id > 65535) {
        ctx->next_packet_id = 1;
    }

    ctx->c2d_packet_id = ctx->next_packet_id;

    if (ngx_iothub_mqtt_send_publish(ctx, topic, len,
                                     body ? (u_char *) body->str : NULL,
                                     body ? body->len : 0, 1,
                                     ctx->c2d_packet_id)
        != NGX_OK)
    {
        ngx_free(topic);
        return NGX_ERROR;
    }

    ngx_free(topic);

    /* unacknowledged past its lock, it is due again (messaging.md 3.1) */

    ctx->c2d_lock_timer.handler = ngx_iothub_mqtt_c2d_lock_expired;
    ctx->c2d_lock_timer.data = ctx;
    ctx->c2d_lock_timer.log = ctx->connection->log;
    ctx->c2d_lock_timer.cancelable = 1;

    ngx_add_timer(&ctx->c2d_lock_timer, ctx->hub->c2d_lock_timeout);

    return NGX_OK;
}


static void
ngx_iothub_mqtt_c2d_lock_expired(ngx_event_t *ev)
{
    ngx_iothub_mqtt_ctx_t *ctx = ev->data;

    if (!ctx->c2d_busy || ctx->c2d_packet_id == 0) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                  "iothub mqtt: C2D message not acknowledged in time, "
                  "delivering again");

    ctx->c2d_packet_id = 0;
    ctx->c2d_busy = 0;

    ngx_iothub_mqtt_c2d_pull(ctx);
}


/* the topic's property bag from the message hash (mqtt.md 5) */

static size_t
ngx_iothub_mqtt_c2d_props(ngx_iothub_mqtt_ctx_t *ctx, redisReply *reply,
    ngx_iothub_mqtt_prop_t *props, redisReply **body)
{
    size_t                        i, n, to_len;
    redisReply                   *name, *value;
    ngx_iothub_mqtt_c2d_field_t  *f;

    n = 0;
    *body = NULL;
    ctx->c2d_n_len = 0;

    to_len = ngx_snprintf(ctx->c2d_to, sizeof(ctx->c2d_to),
                          "/devices/%V/messages/deviceBound",
                          &ctx->sender.device_id) - ctx->c2d_to;

    props[n].sys = NGX_IOTHUB_MQTT_PROP_TO;
    props[n].value.data = ctx->c2d_to;
    props[n++].value.len = to_len;

    for (i = 0; i + 1 < reply->elements; i += 2) {
        name = reply->element[i];
        value = reply->element[i + 1];

        if (name->type != REDIS_REPLY_STRING
            || value->type != REDIS_REPLY_STRING
            || n == NGX_IOTHUB_MQTT_C2D_PROPS)
        {
            continue;
        }

        if (name->len == 4 && ngx_strncmp(name->str, "body", 4) == 0) {
            *body = value;
            continue;
        }

        if (name->len == 1 && name->str[0] == 'n') {
            ctx->c2d_n_len = ngx_min(value->len, sizeof(ctx->c2d_n));
            ngx_memcpy(ctx->c2d_n, value->str, ctx->c2d_n_len);
            continue;
        }

        if (name->len == 3 && ngx_strncmp(name->str, "ack", 3) == 0) {
            props[n].sys = NGX_IOTHUB_MQTT_PROP_APP;
            props[n].key.data = (u_char *) "iothub-ack";
            props[n].key.len = 10;
            props[n].value.data = (u_char *) value->str;
            props[n++].value.len = value->len;
            continue;
        }

        if (name->len > 2 && ngx_strncmp(name->str, "u:", 2) == 0) {
            props[n].sys = NGX_IOTHUB_MQTT_PROP_APP;
            props[n].key.data = (u_char *) name->str + 2;
            props[n].key.len = name->len - 2;
            props[n].value.data = (u_char *) value->str;
            props[n++].value.len = value->len;
            continue;
        }

        for (f = ngx_iothub_mqtt_c2d_fields; f->field; f++) {
            if (name->len == ngx_strlen(f->field)
                && ngx_strncmp(name->str, f->field, name->len) == 0)
            {
                props[n].sys = f->sys;
                props[n].value.data = (u_char *) value->str;
                props[n++].value.len = value->len;
                break;
            }
        }
    }

    return n;
}


/* the device's PUBACK of the message in flight completes it */

ngx_int_t
ngx_iothub_mqtt_puback(ngx_iothub_mqtt_ctx_t *ctx, ngx_iothub_mqtt_ack_t *ack)
{
    ngx_str_t                 n, lock;
    ngx_iothub_mqtt_token_t  *t;

    if (!ctx->c2d_busy || ack->packet_id != ctx->c2d_packet_id) {
        return NGX_OK;
    }

    ctx->c2d_packet_id = 0;

    if (ctx->c2d_lock_timer.timer_set) {
        ngx_del_timer(&ctx->c2d_lock_timer);
    }

    n.data = ctx->c2d_n;
    n.len = ctx->c2d_n_len;
    lock.data = ctx->c2d_lock;
    lock.len = ctx->c2d_lock_len;

    t = ngx_iothub_mqtt_token(ctx, ngx_iothub_mqtt_c2d_settled, 0);
    if (t == NULL) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    t->call = ngx_iothub_c2d_settle(ctx->hub, &ctx->sender.device_id,
                                    &ctx->sender.generation_id, &n, &lock,
                                    "complete", ngx_iothub_mqtt_token_reply,
                                    t);
    if (t->call == NULL) {
        /* Redis down: the lock expires and the message comes again */
        ngx_queue_remove(&t->queue);
        ngx_free(t);
        ctx->c2d_busy = 0;
    }

    return NGX_OK;
}


static void
ngx_iothub_mqtt_c2d_settled(ngx_iothub_mqtt_ctx_t *ctx, redisReply *reply,
    ngx_uint_t arg)
{
    ctx->c2d_busy = 0;

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub mqtt: C2D completion refused: \"%*s\"",
                      (size_t) reply->len, reply->str);
    }

    ngx_iothub_mqtt_c2d_pull(ctx);
}


/* a session ending with a message in flight releases it */

void
ngx_iothub_mqtt_c2d_release(ngx_iothub_mqtt_ctx_t *ctx)
{
    ngx_str_t  n, lock;

    if (!ctx->c2d_busy || ctx->c2d_packet_id == 0) {
        return;
    }

    n.data = ctx->c2d_n;
    n.len = ctx->c2d_n_len;
    lock.data = ctx->c2d_lock;
    lock.len = ctx->c2d_lock_len;

    /* as an expired lock: no delivery counted (mqtt.md 5) */
    (void) ngx_iothub_c2d_settle(ctx->hub, &ctx->sender.device_id,
                                 &ctx->sender.generation_id, &n, &lock,
                                 "release", ngx_iothub_mqtt_c2d_abandoned,
                                 NULL);
}


static void
ngx_iothub_mqtt_c2d_abandoned(void *data, redisReply *reply)
{
    /* a failure leaves the lock to expire: the message comes again */
}


/* "c2d <session>": a message was queued for the session's device */

void
ngx_iothub_mqtt_c2d_notify(u_char *payload, size_t len)
{
    ngx_int_t               no;
    ngx_iothub_mqtt_ctx_t  *ctx;

    no = ngx_atoi(payload, len);
    ctx = (no == NGX_ERROR) ? NULL : ngx_iothub_mqtt_find(no);

    if (ctx) {
        ngx_iothub_mqtt_c2d_pull(ctx);
    }
}
