
/*
 * nginx-iothub: cloud-to-device delivery to a device session, whatever
 * its protocol (messaging.md 3): one message in flight per session, asked
 * for (c2d_receive.lua, under a lock) after the session is up, after a
 * subscription, on a "c2d" inbox message, after the message in flight was
 * settled, and again after a failure (a retry timer) or after the
 * subscriber link came back (notifications may have been lost).  A
 * message not settled within the hub's c2d_lock_timeout is delivered
 * again; a session that ends with one in flight releases it.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub_session_int.h"
#include "ngx_iothub_c2d.h"
#include "ngx_iothub_log.h"


/* after a failed pull or settle, the next try */
#define NGX_IOTHUB_C2D_RETRY  1000


typedef struct {
    const char                 *field;
    size_t                      offset;
} ngx_iothub_c2d_field_t;


static void ngx_iothub_session_c2d_received(ngx_iothub_session_t *s,
    redisReply *reply, void *arg);
static void ngx_iothub_session_c2d_deliver(ngx_iothub_session_t *s,
    redisReply *reply);
static void ngx_iothub_session_c2d_decode(ngx_iothub_session_t *s,
    redisReply *reply, ngx_iothub_c2d_message_t *msg);
static ngx_int_t ngx_iothub_session_c2d_field(ngx_iothub_c2d_message_t *msg,
    redisReply *name, redisReply *value);
static void ngx_iothub_session_c2d_settled(ngx_iothub_session_t *s,
    redisReply *reply, void *arg);
static void ngx_iothub_session_c2d_retry(ngx_iothub_session_t *s,
    ngx_msec_t delay);
static void ngx_iothub_session_c2d_timer(ngx_event_t *ev);
static ngx_iothub_redis_call_t *ngx_iothub_session_c2d_settle_call(
    ngx_iothub_session_t *s, const char *how,
    ngx_iothub_redis_handler_pt handler, void *data);


/* the hash fields of the system properties (redis-schema.md) */

static ngx_iothub_c2d_field_t  ngx_iothub_c2d_fields[] = {
    { "p:message-id", offsetof(ngx_iothub_c2d_message_t, message_id) },
    { "p:correlation-id",
      offsetof(ngx_iothub_c2d_message_t, correlation_id) },
    { "p:user-id", offsetof(ngx_iothub_c2d_message_t, user_id) },
    { "p:content-type", offsetof(ngx_iothub_c2d_message_t, content_type) },
    { "p:content-encoding",
      offsetof(ngx_iothub_c2d_message_t, content_encoding) },
    { "p:absolute-expiry-time",
      offsetof(ngx_iothub_c2d_message_t, expiry) },
    { "ack", offsetof(ngx_iothub_c2d_message_t, ack) },
    { "body", offsetof(ngx_iothub_c2d_message_t, body) },
    { NULL, 0 }
};


static const char  *ngx_iothub_c2d_settle_names[] = {
    "complete", "abandon", "reject", "release"
};


static const char  *ngx_iothub_c2d_settle_nouns[] = {
    "completion", "abandonment", "rejection", "release"
};


void
ngx_iothub_session_c2d_pull(ngx_iothub_session_t *s)
{
    ngx_str_t                   lock;
    ngx_iothub_session_call_t  *sc;

    if (!(s->features & NGX_IOTHUB_FEATURE_C2D) || !s->connected
        || s->closed)
    {
        return;
    }

    if (s->c2d_busy) {
        s->c2d_again = 1;
        return;
    }

    s->c2d_again = 0;

    lock.data = s->c2d_lock;
    lock.len = ngx_sprintf(s->c2d_lock, "%ui.%08xD.%ui", s->no,
                           (uint32_t) ngx_random(), ++s->c2d_count)
               - s->c2d_lock;
    s->c2d_lock_len = lock.len;

    sc = ngx_iothub_session_call(s, ngx_iothub_session_c2d_received, NULL);
    if (sc == NULL) {
        return;
    }

    sc->call = ngx_iothub_c2d_receive(s->hub, &s->sender.device_id,
                                      &s->sender.generation_id, &lock,
                                      ngx_iothub_session_call_reply, sc);
    if (sc->call == NULL) {
        ngx_iothub_session_call_drop(sc);
        ngx_iothub_session_c2d_retry(s, NGX_IOTHUB_C2D_RETRY);
        return;
    }

    s->c2d_busy = 1;
}


static void
ngx_iothub_session_c2d_received(ngx_iothub_session_t *s, redisReply *reply,
    void *arg)
{
    s->c2d_busy = 0;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_INFO, s->log, 0,
                      "iothub: C2D receive failed, trying again");
        ngx_iothub_session_c2d_retry(s, NGX_IOTHUB_C2D_RETRY);
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY) {
        /* none due */
        if (s->c2d_again) {
            ngx_iothub_session_c2d_pull(s);
        }

        return;
    }

    ngx_iothub_session_c2d_deliver(s, reply);
}


static void
ngx_iothub_session_c2d_deliver(ngx_iothub_session_t *s, redisReply *reply)
{
    u_char                     to[300];
    ngx_int_t                  rc;
    ngx_iothub_c2d_message_t   msg;

    ngx_memzero(&msg, offsetof(ngx_iothub_c2d_message_t, app_name));
    ngx_str_null(&msg.body);

    msg.to.data = to;
    msg.to.len = ngx_snprintf(to, sizeof(to),
                              "/devices/%V/messages/deviceBound",
                              &s->sender.device_id) - to;

    ngx_iothub_session_c2d_decode(s, reply, &msg);

    s->c2d_busy = 1;

    rc = s->protocol->c2d(s, &msg);

    if (rc == NGX_ERROR) {
        /* the session closed */
        return;
    }

    if (rc != NGX_OK) {
        /* not sent: its lock expires and a later pull gets it again */
        s->c2d_busy = 0;
        return;
    }

    /* unsettled past its lock, it is due again (messaging.md 3.1) */

    s->c2d_sent = 1;

    s->c2d_timer.handler = ngx_iothub_session_c2d_timer;
    s->c2d_timer.data = s;
    s->c2d_timer.log = s->log;
    s->c2d_timer.cancelable = 1;

    if (s->c2d_timer.timer_set) {
        ngx_del_timer(&s->c2d_timer);
    }

    ngx_add_timer(&s->c2d_timer, s->hub->c2d_lock_timeout);
}


/* c2d_receive.lua answers the message hash: field, value, ... */

static void
ngx_iothub_session_c2d_decode(ngx_iothub_session_t *s, redisReply *reply,
    ngx_iothub_c2d_message_t *msg)
{
    size_t       i;
    redisReply  *name, *value;

    s->c2d_n_len = 0;
    msg->napp = 0;

    for (i = 0; i + 1 < reply->elements; i += 2) {
        name = reply->element[i];
        value = reply->element[i + 1];

        if (name->type != REDIS_REPLY_STRING
            || value->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        if (name->len == 1 && name->str[0] == 'n') {
            s->c2d_n_len = ngx_min(value->len, sizeof(s->c2d_n));
            ngx_memcpy(s->c2d_n, value->str, s->c2d_n_len);
            continue;
        }

        (void) ngx_iothub_session_c2d_field(msg, name, value);
    }
}


static ngx_int_t
ngx_iothub_session_c2d_field(ngx_iothub_c2d_message_t *msg,
    redisReply *name, redisReply *value)
{
    ngx_str_t               *dst;
    ngx_iothub_c2d_field_t  *f;

    if (name->len > 2 && ngx_strncmp(name->str, "u:", 2) == 0) {
        if (msg->napp == NGX_IOTHUB_C2D_MAX_APP_PROPS) {
            return NGX_DECLINED;
        }

        msg->app_name[msg->napp].data = (u_char *) name->str + 2;
        msg->app_name[msg->napp].len = name->len - 2;
        msg->app_value[msg->napp].data = (u_char *) value->str;
        msg->app_value[msg->napp].len = value->len;
        msg->napp++;

        return NGX_OK;
    }

    for (f = ngx_iothub_c2d_fields; f->field; f++) {
        if (name->len == ngx_strlen(f->field)
            && ngx_strncmp(name->str, f->field, name->len) == 0)
        {
            dst = (ngx_str_t *) ((u_char *) msg + f->offset);
            dst->data = (u_char *) value->str;
            dst->len = value->len;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


void
ngx_iothub_session_c2d_settle(ngx_iothub_session_t *s,
    ngx_iothub_c2d_settle_e how)
{
    ngx_iothub_session_call_t  *sc;

    if (!s->c2d_sent) {
        return;
    }

    s->c2d_sent = 0;

    if (s->c2d_timer.timer_set) {
        ngx_del_timer(&s->c2d_timer);
    }

    sc = ngx_iothub_session_call(s, ngx_iothub_session_c2d_settled,
                                 (void *) ngx_iothub_c2d_settle_nouns[how]);
    if (sc == NULL) {
        s->c2d_busy = 0;
        return;
    }

    sc->call = ngx_iothub_session_c2d_settle_call(
                   s, ngx_iothub_c2d_settle_names[how],
                   ngx_iothub_session_call_reply, sc);

    if (sc->call == NULL) {
        /* Redis down: once the lock expired, the message comes again */
        ngx_iothub_session_call_drop(sc);
        s->c2d_busy = 0;
        ngx_iothub_session_c2d_retry(s, s->hub->c2d_lock_timeout);
    }
}


static void
ngx_iothub_session_c2d_settled(ngx_iothub_session_t *s, redisReply *reply,
    void *arg)
{
    ngx_iothub_log_buf_t  error;

    s->c2d_busy = 0;

    if (reply == NULL) {
        /* the settlement may be lost: the lock holds the message till then */
        ngx_iothub_session_c2d_retry(s, s->hub->c2d_lock_timeout);
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_INFO, s->log, 0,
                      "iothub: C2D %s refused: \"%V\"", (char *) arg,
                      ngx_iothub_log_str(&error, (u_char *) reply->str,
                                         reply->len));
    }

    ngx_iothub_session_c2d_pull(s);
}


static void
ngx_iothub_session_c2d_retry(ngx_iothub_session_t *s, ngx_msec_t delay)
{
    if (s->c2d_timer.timer_set || s->closed) {
        return;
    }

    s->c2d_timer.handler = ngx_iothub_session_c2d_timer;
    s->c2d_timer.data = s;
    s->c2d_timer.log = s->log;
    s->c2d_timer.cancelable = 1;

    ngx_add_timer(&s->c2d_timer, delay);
}


/* the lock of the message in flight expired, or a retry is due */

static void
ngx_iothub_session_c2d_timer(ngx_event_t *ev)
{
    ngx_iothub_session_t *s = ev->data;

    if (s->c2d_sent) {
        ngx_log_error(NGX_LOG_INFO, s->log, 0,
                      "iothub: C2D message not acknowledged in time, "
                      "delivering again");

        s->c2d_sent = 0;
        s->c2d_busy = 0;
    }

    ngx_iothub_session_c2d_pull(s);
}


/* a session ending with a message in flight releases it */

void
ngx_iothub_session_c2d_close(ngx_iothub_session_t *s)
{
    if (s->c2d_timer.timer_set) {
        ngx_del_timer(&s->c2d_timer);
    }

    if (!s->c2d_sent) {
        return;
    }

    s->c2d_sent = 0;

    /* as an expired lock: no delivery counted (mqtt.md 5) */
    (void) ngx_iothub_session_c2d_settle_call(s, "release",
                                              ngx_iothub_redis_ignore, NULL);
}


static ngx_iothub_redis_call_t *
ngx_iothub_session_c2d_settle_call(ngx_iothub_session_t *s, const char *how,
    ngx_iothub_redis_handler_pt handler, void *data)
{
    ngx_str_t  n, lock;

    n.data = s->c2d_n;
    n.len = s->c2d_n_len;
    lock.data = s->c2d_lock;
    lock.len = s->c2d_lock_len;

    return ngx_iothub_c2d_settle(s->hub, &s->sender.device_id,
                                 &s->sender.generation_id, &n, &lock, how,
                                 handler, data);
}
