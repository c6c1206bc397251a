
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
#include "ngx_iothub_reply.h"


/* after a failed pull or settle, the next try */
#define NGX_IOTHUB_C2D_RETRY  1000


#if (NGX_IOTHUB_C2D_MAX_APP_PROPS != NGX_IOTHUB_REPLY_C2D_MAX_APP)
#error "a C2D message holds as many properties as its decoder keeps"
#endif


static void ngx_iothub_session_c2d_received(ngx_iothub_session_t *s,
    redisReply *reply, void *arg);
static void ngx_iothub_session_c2d_deliver(ngx_iothub_session_t *s,
    ngx_iothub_reply_c2d_t *m);
static void ngx_iothub_session_c2d_message(ngx_iothub_c2d_message_t *msg,
    ngx_iothub_reply_c2d_t *m);
static void ngx_iothub_session_c2d_str(ngx_str_t *dst,
    ngx_iothub_reply_str_t *src);
static void ngx_iothub_session_c2d_settled(ngx_iothub_session_t *s,
    redisReply *reply, void *arg);
static void ngx_iothub_session_c2d_retry(ngx_iothub_session_t *s,
    ngx_msec_t delay);
static void ngx_iothub_session_c2d_timer(ngx_event_t *ev);
static ngx_iothub_redis_call_t *ngx_iothub_session_c2d_settle_call(
    ngx_iothub_session_t *s, const char *how,
    ngx_iothub_redis_handler_pt handler, void *data);
static void ngx_iothub_session_c2d_fetched(ngx_iothub_session_t *s,
    redisReply *reply, void *arg);
static void ngx_iothub_session_c2d_lock_settled(ngx_iothub_session_t *s,
    redisReply *reply, void *arg);


static const char  *ngx_iothub_c2d_settle_names[] = {
    "complete", "abandon", "reject", "release"
};


static const char  *ngx_iothub_c2d_settle_nouns[] = {
    "completion", "abandonment", "rejection", "release"
};


void
ngx_iothub_session_c2d_init(ngx_iothub_session_t *s)
{
    s->c2d_timer.handler = ngx_iothub_session_c2d_timer;
    s->c2d_timer.data = s;
    s->c2d_timer.log = s->log;
    s->c2d_timer.cancelable = 1;
}


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
    ngx_iothub_reply_rc_e   rc;
    ngx_iothub_reply_c2d_t  m;

    s->c2d_busy = 0;

    rc = ngx_iothub_reply_c2d(reply, &m);

    switch (rc) {

    case NGX_IOTHUB_REPLY_OK:
        ngx_iothub_session_c2d_deliver(s, &m);
        return;

    case NGX_IOTHUB_REPLY_NIL:
        /* none due */
        if (s->c2d_again) {
            ngx_iothub_session_c2d_pull(s);
        }

        return;

    case NGX_IOTHUB_REPLY_MALFORMED:
        /* a message the script locked stays so: the retry gets the next */
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "iothub: C2D receive answered a malformed message, "
                      "skipping it");
        break;

    default:
        ngx_log_error(NGX_LOG_INFO, s->log, 0,
                      "iothub: C2D receive failed, trying again");
    }

    ngx_iothub_session_c2d_retry(s, NGX_IOTHUB_C2D_RETRY);
}


static void
ngx_iothub_session_c2d_deliver(ngx_iothub_session_t *s,
    ngx_iothub_reply_c2d_t *m)
{
    u_char                     to[300];
    ngx_int_t                  rc;
    ngx_iothub_c2d_message_t   msg;

    msg.to.data = to;
    msg.to.len = ngx_snprintf(to, sizeof(to),
                              "/devices/%V/messages/deviceBound",
                              &s->sender.device_id) - to;

    ngx_iothub_session_c2d_message(&msg, m);

    /* the decoder checked it: 1 to 20 digits */
    s->c2d_n_len = ngx_min(m->n.len, sizeof(s->c2d_n));
    ngx_memcpy(s->c2d_n, m->n.data, s->c2d_n_len);

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

    if (s->c2d_timer.timer_set) {
        ngx_del_timer(&s->c2d_timer);
    }

    ngx_add_timer(&s->c2d_timer, s->hub->c2d_lock_timeout);
}


/* the decoded hash as the protocols see it; both point into the reply */

static void
ngx_iothub_session_c2d_message(ngx_iothub_c2d_message_t *msg,
    ngx_iothub_reply_c2d_t *m)
{
    ngx_uint_t  i;

    ngx_iothub_session_c2d_str(&msg->message_id, &m->message_id);
    ngx_iothub_session_c2d_str(&msg->correlation_id, &m->correlation_id);
    ngx_iothub_session_c2d_str(&msg->user_id, &m->user_id);
    ngx_iothub_session_c2d_str(&msg->content_type, &m->content_type);
    ngx_iothub_session_c2d_str(&msg->content_encoding,
                               &m->content_encoding);
    ngx_iothub_session_c2d_str(&msg->expiry, &m->expiry);
    ngx_iothub_session_c2d_str(&msg->ack, &m->ack);
    ngx_iothub_session_c2d_str(&msg->sequence_number, &m->n);
    ngx_iothub_session_c2d_str(&msg->delivery_count, &m->delivery_count);
    ngx_iothub_session_c2d_str(&msg->enqueued, &m->enqueued);
    ngx_iothub_session_c2d_str(&msg->body, &m->body);

    msg->napp = m->napp;

    for (i = 0; i < m->napp; i++) {
        ngx_iothub_session_c2d_str(&msg->app_name[i], &m->app_name[i]);
        ngx_iothub_session_c2d_str(&msg->app_value[i], &m->app_value[i]);
    }
}


static void
ngx_iothub_session_c2d_str(ngx_str_t *dst, ngx_iothub_reply_str_t *src)
{
    dst->data = (u_char *) src->data;
    dst->len = src->len;
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
    ngx_iothub_log_buf_t    lb;
    ngx_iothub_reply_rc_e   rc;
    ngx_iothub_reply_str_t  err;

    s->c2d_busy = 0;

    rc = ngx_iothub_reply_check(reply);

    if (rc == NGX_IOTHUB_REPLY_LOST) {
        /* the settlement may be lost: the lock holds the message till then */
        ngx_iothub_session_c2d_retry(s, s->hub->c2d_lock_timeout);
        return;
    }

    if (rc != NGX_IOTHUB_REPLY_OK) {
        ngx_iothub_reply_error_text(reply, &err);

        ngx_log_error(NGX_LOG_INFO, s->log, 0,
                      "iothub: C2D %s refused: \"%V\"", (char *) arg,
                      ngx_iothub_log_str(&lb, (u_char *) err.data, err.len));
    }

    ngx_iothub_session_c2d_pull(s);
}


static void
ngx_iothub_session_c2d_retry(ngx_iothub_session_t *s, ngx_msec_t delay)
{
    if (s->c2d_timer.timer_set || s->closed) {
        return;
    }

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


ngx_int_t
ngx_iothub_session_c2d_fetch(ngx_iothub_session_t *s, ngx_str_t *lock,
    void (*handler)(ngx_iothub_session_t *s, ngx_int_t rc,
                    ngx_iothub_c2d_message_t *msg))
{
    ngx_iothub_session_call_t  *sc;

    s->c2d_fetched = handler;

    sc = ngx_iothub_session_call(s, ngx_iothub_session_c2d_fetched, NULL);
    if (sc == NULL) {
        return NGX_ERROR;
    }

    sc->call = ngx_iothub_c2d_receive(s->hub, &s->sender.device_id,
                                      &s->sender.generation_id, lock,
                                      ngx_iothub_session_call_reply, sc);

    return ngx_iothub_session_call_sent(sc);
}


static void
ngx_iothub_session_c2d_fetched(ngx_iothub_session_t *s, redisReply *reply,
    void *arg)
{
    u_char                     to[300];
    ngx_iothub_reply_rc_e      rc;
    ngx_iothub_reply_c2d_t     m;
    ngx_iothub_c2d_message_t   msg;

    rc = ngx_iothub_reply_c2d(reply, &m);

    if (rc == NGX_IOTHUB_REPLY_NIL) {
        s->c2d_fetched(s, NGX_DECLINED, NULL);
        return;
    }

    if (rc != NGX_IOTHUB_REPLY_OK) {
        /* a malformed message stays locked: its lock expires */
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "iothub: C2D receive failed or answered a malformed "
                      "message");
        s->c2d_fetched(s, NGX_ERROR, NULL);
        return;
    }

    msg.to.data = to;
    msg.to.len = ngx_snprintf(to, sizeof(to),
                              "/devices/%V/messages/deviceBound",
                              &s->sender.device_id) - to;

    ngx_iothub_session_c2d_message(&msg, &m);

    s->c2d_fetched(s, NGX_OK, &msg);
}


ngx_int_t
ngx_iothub_session_c2d_settle_lock(ngx_iothub_session_t *s, ngx_str_t *n,
    ngx_str_t *lock, ngx_iothub_c2d_settle_e how,
    void (*handler)(ngx_iothub_session_t *s, ngx_int_t rc))
{
    ngx_iothub_session_call_t  *sc;

    s->c2d_settled = handler;

    sc = ngx_iothub_session_call(s, ngx_iothub_session_c2d_lock_settled,
                                 NULL);
    if (sc == NULL) {
        return NGX_ERROR;
    }

    sc->call = ngx_iothub_c2d_settle(s->hub, &s->sender.device_id,
                                     &s->sender.generation_id, n, lock,
                                     ngx_iothub_c2d_settle_names[how],
                                     ngx_iothub_session_call_reply, sc);

    return ngx_iothub_session_call_sent(sc);
}


static void
ngx_iothub_session_c2d_lock_settled(ngx_iothub_session_t *s,
    redisReply *reply, void *arg)
{
    switch (ngx_iothub_reply_check(reply)) {

    case NGX_IOTHUB_REPLY_OK:
        s->c2d_settled(s, NGX_OK);
        return;

    case NGX_IOTHUB_REPLY_LOCK_LOST:
        s->c2d_settled(s, NGX_DECLINED);
        return;

    default:
        s->c2d_settled(s, NGX_ERROR);
    }
}
