
/*
 * nginx-iothub: the MQTT engine: framing packets, the state table, the
 * output queue, keep-alive and the one close path.  It knows no socket:
 * a transport (the stream module's, a WebSocket later) moves its bytes.
 *
 * States and the packets legal in each:
 *
 *   WAIT_CONNECT --CONNECT--> AUTHENTICATING --CONNACK 0--> CONNECTED
 *        |                        | (reading paused)            |
 *        +--- timeout, error -----+---- refused, error ---------+--> CLOSING
 *
 *   CONNECTED: PUBLISH PUBACK SUBSCRIBE UNSUBSCRIBE PINGREQ DISCONNECT
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_mqtt.h"


static ngx_int_t ngx_iothub_mqtt_next_packet(ngx_iothub_mqtt_ctx_t *ctx);
static void ngx_iothub_mqtt_release_input(ngx_iothub_mqtt_ctx_t *ctx);
static ngx_int_t ngx_iothub_mqtt_grow_input(ngx_iothub_mqtt_ctx_t *ctx,
    size_t size);
static ngx_int_t ngx_iothub_mqtt_move(u_char **buf, size_t len, size_t size,
    ngx_log_t *log);
static ngx_int_t ngx_iothub_mqtt_bad_packet(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_rc_e mrc);
static ngx_int_t ngx_iothub_mqtt_dispatch(ngx_iothub_mqtt_ctx_t *ctx,
    u_char *p, size_t len);
static ngx_int_t ngx_iothub_mqtt_handle(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_packet_t *pkt);
static void ngx_iothub_mqtt_keepalive_handler(ngx_event_t *ev);
static void ngx_iothub_mqtt_consume(ngx_iothub_mqtt_ctx_t *ctx, size_t len);


/*
 * Starts the engine on a new connection: the transport has set
 * connection, conf, hub, transport and transport_data; bytes it already
 * holds go in with ngx_iothub_mqtt_input().
 */

ngx_int_t
ngx_iothub_mqtt_start(ngx_iothub_mqtt_ctx_t *ctx)
{
    ngx_connection_t  *c;

    c = ctx->connection;

    ngx_queue_init(&ctx->twin_ops);
    ctx->packets->start(ctx);

    ctx->keepalive.handler = ngx_iothub_mqtt_keepalive_handler;
    ctx->keepalive.data = ctx;
    ctx->keepalive.log = c->log;
    ctx->keepalive.cancelable = 1;

    c->log->action = "waiting for MQTT CONNECT";

    ngx_add_timer(&ctx->keepalive, ctx->conf->connect_timeout);

    return ngx_iothub_mqtt_grow_input(ctx, NGX_IOTHUB_MQTT_IN_SMALL);
}


/* takes bytes the transport read before the engine started */

ngx_int_t
ngx_iothub_mqtt_input(ngx_iothub_mqtt_ctx_t *ctx, u_char *data, size_t len)
{
    if (ngx_iothub_mqtt_grow_input(ctx, ctx->in_len + len) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memcpy(ctx->in + ctx->in_len, data, len);
    ctx->in_len += len;

    return NGX_OK;
}


/*
 * Handles what is buffered and reads through the transport until it has
 * nothing more, or reading is blocked; the caller then handles the read
 * event (unless the session closed: NGX_DONE).
 */

ngx_int_t
ngx_iothub_mqtt_read(ngx_iothub_mqtt_ctx_t *ctx)
{
    ssize_t    n;
    ngx_int_t  rc;

    while (!ngx_iothub_mqtt_blocked(ctx)) {
        rc = ngx_iothub_mqtt_next_packet(ctx);

        if (rc == NGX_ERROR || rc == NGX_DONE) {
            return NGX_DONE;
        }

        if (rc == NGX_OK) {
            continue;
        }

        /* NGX_AGAIN: the packet is incomplete */

        n = ctx->transport->recv(ctx->connection, ctx->transport_data,
                                 ctx->in + ctx->in_len,
                                 ctx->in_size - ctx->in_len);

        if (n == NGX_AGAIN) {
            ngx_iothub_mqtt_release_input(ctx);
            break;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_iothub_mqtt_close(ctx, "connection closed by client");
            return NGX_DONE;
        }

        ctx->in_len += n;
        ctx->last_read = ngx_current_msec;
    }

    return NGX_OK;
}


/*
 * NGX_OK: a packet was handled; NGX_AGAIN: more bytes are needed (the
 * buffer has room for them); NGX_ERROR or NGX_DONE: the session closed.
 */

static ngx_int_t
ngx_iothub_mqtt_next_packet(ngx_iothub_mqtt_ctx_t *ctx)
{
    ngx_int_t                rc;
    ngx_iothub_mqtt_rc_e     mrc;
    ngx_iothub_mqtt_frame_t  f;

    mrc = ngx_iothub_mqtt_frame(ctx->in, ctx->in_len,
                                ctx->conf->max_packet_size, &f);

    if (mrc == NGX_IOTHUB_MQTT_AGAIN) {
        if (f.len > ctx->in_size
            && ngx_iothub_mqtt_grow_input(ctx, f.len) != NGX_OK)
        {
            ngx_iothub_mqtt_close(ctx, NULL);
            return NGX_ERROR;
        }

        if (ctx->in_len == ctx->in_size
            && ngx_iothub_mqtt_grow_input(ctx, ctx->in_size * 2) != NGX_OK)
        {
            ngx_iothub_mqtt_close(ctx, NULL);
            return NGX_ERROR;
        }

        return NGX_AGAIN;
    }

    if (mrc != NGX_IOTHUB_MQTT_OK) {
        return ngx_iothub_mqtt_bad_packet(ctx, mrc);
    }

    rc = ngx_iothub_mqtt_dispatch(ctx, ctx->in, f.len);

    if (rc != NGX_OK) {
        return rc;
    }

    ngx_iothub_mqtt_consume(ctx, f.len);

    return NGX_OK;
}


/* drops a handled packet; a large buffer shrinks back when it empties */

static void
ngx_iothub_mqtt_consume(ngx_iothub_mqtt_ctx_t *ctx, size_t len)
{
    ctx->in_len -= len;

    if (ctx->in_len) {
        ngx_memmove(ctx->in, ctx->in + len, ctx->in_len);
        return;
    }

    if (ctx->in_size > NGX_IOTHUB_MQTT_IN_SMALL) {
        ngx_free(ctx->in);
        ctx->in = NULL;
        ctx->in_size = 0;
        (void) ngx_iothub_mqtt_grow_input(ctx, NGX_IOTHUB_MQTT_IN_SMALL);
    }
}


/*
 * An idle session keeps no input buffer: the next packet allocates one
 * (ngx_iothub_mqtt_next_packet grows an empty buffer).
 */

static void
ngx_iothub_mqtt_release_input(ngx_iothub_mqtt_ctx_t *ctx)
{
    if (ctx->in_len == 0 && ctx->in) {
        ngx_free(ctx->in);
        ctx->in = NULL;
        ctx->in_size = 0;
    }
}


static ngx_int_t
ngx_iothub_mqtt_grow_input(ngx_iothub_mqtt_ctx_t *ctx, size_t size)
{
    size = ngx_min(size, ctx->conf->max_packet_size);
    size = ngx_max(size, NGX_IOTHUB_MQTT_IN_SMALL);

    if (size <= ctx->in_size) {
        return NGX_OK;
    }

    if (ngx_iothub_mqtt_move(&ctx->in, ctx->in_len, size,
                             ctx->connection->log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx->in_size = size;

    return NGX_OK;
}


/* moves the len bytes of *buf into a new buffer of size bytes */

static ngx_int_t
ngx_iothub_mqtt_move(u_char **buf, size_t len, size_t size, ngx_log_t *log)
{
    u_char  *p;

    p = ngx_alloc(size, log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (len) {
        ngx_memcpy(p, *buf, len);
    }

    ngx_free(*buf);
    *buf = p;

    return NGX_OK;
}


/* a packet the codec refused: the session closes (NGX_ERROR) */

static ngx_int_t
ngx_iothub_mqtt_bad_packet(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_rc_e mrc)
{
    ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                  "iothub mqtt: %s packet", ngx_iothub_mqtt_strerror(mrc));
    ngx_iothub_mqtt_close(ctx, NULL);

    return NGX_ERROR;
}


static ngx_int_t
ngx_iothub_mqtt_dispatch(ngx_iothub_mqtt_ctx_t *ctx, u_char *p, size_t len)
{
    ngx_iothub_mqtt_rc_e      mrc;
    ngx_iothub_mqtt_packet_t  pkt;

    mrc = ngx_iothub_mqtt_parse(p, len, &pkt);

    if (mrc == NGX_IOTHUB_MQTT_BAD_LEVEL
        && ctx->state == NGX_IOTHUB_MQTT_WAIT_CONNECT)
    {
        /* MQTT-3.1.2-2: answer CONNACK 1, then close */
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub mqtt: unsupported protocol level %ui",
                      (ngx_uint_t) pkt.u.connect.level);
        if (ngx_iothub_mqtt_send(ctx, (u_char *) "\x20\x02\x00\x01", 4, 0)
            == NGX_OK
            && ngx_iothub_mqtt_flush(ctx) == NGX_OK)
        {
            ngx_iothub_mqtt_close(ctx, NULL);
        }

        return NGX_ERROR;
    }

    if (mrc != NGX_IOTHUB_MQTT_OK) {
        return ngx_iothub_mqtt_bad_packet(ctx, mrc);
    }

    if ((ctx->state == NGX_IOTHUB_MQTT_WAIT_CONNECT)
        != (pkt.type == NGX_IOTHUB_MQTT_CONNECT))
    {
        /* MQTT-3.1.0-1 and MQTT-3.1.0-2 */
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub mqtt: packet type %ui not allowed %s",
                      (ngx_uint_t) pkt.type,
                      ctx->state == NGX_IOTHUB_MQTT_WAIT_CONNECT
                      ? "before CONNECT" : "after CONNECT");
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    return ngx_iothub_mqtt_handle(ctx, &pkt);
}


static ngx_int_t
ngx_iothub_mqtt_handle(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_packet_t *pkt)
{
    u_char  pingresp[NGX_IOTHUB_MQTT_PINGRESP_LEN];

    switch (pkt->type) {

    case NGX_IOTHUB_MQTT_CONNECT:
        return ctx->packets->connect(ctx, &pkt->u.connect);

    case NGX_IOTHUB_MQTT_PUBLISH:
        return ctx->packets->publish(ctx, &pkt->u.publish);

    case NGX_IOTHUB_MQTT_PUBACK:
        return ctx->packets->puback(ctx, &pkt->u.ack);

    case NGX_IOTHUB_MQTT_SUBSCRIBE:
        return ctx->packets->subscribe(ctx, &pkt->u.subscribe);

    case NGX_IOTHUB_MQTT_UNSUBSCRIBE:
        return ctx->packets->unsubscribe(ctx, &pkt->u.subscribe);

    case NGX_IOTHUB_MQTT_PINGREQ:
        ngx_iothub_mqtt_write_pingresp(pingresp, sizeof(pingresp));
        return ngx_iothub_mqtt_send(ctx, pingresp, sizeof(pingresp), 0);

    case NGX_IOTHUB_MQTT_DISCONNECT:
        ctx->disconnected = 1;
        ngx_iothub_mqtt_close(ctx, "client sent DISCONNECT");
        return NGX_DONE;

    default:
        /* PUBREC, PUBREL, PUBCOMP: IoT Hub has no QoS 2 */
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub mqtt: QoS 2 packet type %ui refused",
                      (ngx_uint_t) pkt->type);
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }
}


/*
 * Queues bytes for the client.  Past iothub_mqtt_send_limit, a droppable
 * packet (QoS 0 to the device) is dropped with a warning (NGX_DECLINED);
 * anything else closes the session (NGX_ERROR).
 */

ngx_int_t
ngx_iothub_mqtt_send(ngx_iothub_mqtt_ctx_t *ctx, u_char *data, size_t len,
    ngx_uint_t droppable)
{
    u_char  *p;

    if (ctx->state == NGX_IOTHUB_MQTT_CLOSING) {
        return NGX_ERROR;
    }

    if (ctx->out_len + len > ctx->conf->send_limit) {
        if (droppable) {
            ngx_log_error(NGX_LOG_WARN, ctx->connection->log, 0,
                          "iothub mqtt: slow device, QoS 0 message dropped");
            return NGX_DECLINED;
        }

        ngx_iothub_mqtt_close(ctx, "slow device: send limit reached");
        return NGX_ERROR;
    }

    p = ngx_iothub_mqtt_reserve(ctx, len);
    if (p == NULL) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    ngx_memcpy(p, data, len);

    return NGX_OK;
}


/*
 * Queues a PUBLISH to the device; QoS 0 is dropped past the send limit.
 * Returns NGX_OK, NGX_DECLINED (dropped) or NGX_ERROR (closed).
 */

ngx_int_t
ngx_iothub_mqtt_send_publish(ngx_iothub_mqtt_ctx_t *ctx, u_char *topic,
    size_t topic_len, u_char *payload, size_t len, ngx_uint_t qos,
    ngx_uint_t packet_id)
{
    u_char                     *p;
    size_t                      n;
    ngx_iothub_mqtt_publish_t   pub;

    ngx_memzero(&pub, sizeof(ngx_iothub_mqtt_publish_t));
    pub.qos = qos;
    pub.packet_id = packet_id;
    pub.topic.data = topic;
    pub.topic.len = topic_len;
    pub.payload.data = payload;
    pub.payload.len = len;

    n = ngx_iothub_mqtt_publish_size(&pub);
    if (n == 0) {
        ngx_iothub_mqtt_close(ctx, "cannot encode PUBLISH");
        return NGX_ERROR;
    }

    if (ctx->out_len + n > ctx->conf->send_limit) {
        /* over the limit: send() drops or closes, it copies nothing */
        return ngx_iothub_mqtt_send(ctx, NULL, n, qos == 0);
    }

    p = ngx_iothub_mqtt_reserve(ctx, n);
    if (p == NULL) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    (void) ngx_iothub_mqtt_write_publish(p, n, &pub);

    return NGX_OK;
}


/* room for len more output bytes, counted as queued; NULL on no memory */

u_char *
ngx_iothub_mqtt_reserve(ngx_iothub_mqtt_ctx_t *ctx, size_t len)
{
    u_char  *p;
    size_t   size;

    if (ctx->out_len + len > ctx->out_size) {
        size = ngx_max(ctx->out_size * 2, ctx->out_len + len);
        size = ngx_max(size, 256);

        if (ngx_iothub_mqtt_move(&ctx->out, ctx->out_len, size,
                                 ctx->connection->log)
            != NGX_OK)
        {
            return NULL;
        }

        ctx->out_size = size;
    }

    p = ctx->out + ctx->out_len;
    ctx->out_len += len;

    if (!ctx->connection->write->posted) {
        /* written when the event loop comes round: packets coalesce */
        ngx_post_event(ctx->connection->write, &ngx_posted_events);
    }

    return p;
}


/* NGX_ERROR when the session closed */

ngx_int_t
ngx_iothub_mqtt_flush(ngx_iothub_mqtt_ctx_t *ctx)
{
    ssize_t            n;
    ngx_connection_t  *c;

    c = ctx->connection;

    while (ctx->out_len) {
        n = ctx->transport->send(c, ctx->transport_data, ctx->out,
                                 ctx->out_len);

        if (n == NGX_ERROR) {
            ngx_iothub_mqtt_close(ctx, "cannot write to client");
            return NGX_ERROR;
        }

        if (n == NGX_AGAIN) {
            break;
        }

        ctx->out_len -= n;
        ngx_memmove(ctx->out, ctx->out + n, ctx->out_len);
    }

    if (ctx->out_len == 0 && ctx->out) {
        /*
         * an idle session keeps no output buffer: the next packet
         * allocates one (ngx_iothub_mqtt_reserve)
         */
        ngx_free(ctx->out);
        ctx->out = NULL;
        ctx->out_size = 0;
    }

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Reading pauses while a CONNECT is being authenticated and while the
 * telemetry or twin operations in flight are at their limits: each is
 * checked on its own, so one ending does not lift another.
 */

ngx_uint_t
ngx_iothub_mqtt_blocked(ngx_iothub_mqtt_ctx_t *ctx)
{
    return ctx->state == NGX_IOTHUB_MQTT_AUTHENTICATING
           || ctx->inflight >= NGX_IOTHUB_MQTT_MAX_INFLIGHT
           || ctx->ntwin_ops >= NGX_IOTHUB_MQTT_MAX_TWIN_OPS;
}


/* resumes reading after an asynchronous step ended, if nothing else holds */

void
ngx_iothub_mqtt_unblock(ngx_iothub_mqtt_ctx_t *ctx)
{
    if (ngx_iothub_mqtt_blocked(ctx)) {
        return;
    }

    if (!ctx->connection->read->posted) {
        ngx_post_event(ctx->connection->read, &ngx_posted_events);
    }
}


static void
ngx_iothub_mqtt_keepalive_handler(ngx_event_t *ev)
{
    ngx_iothub_mqtt_ctx_t *ctx = ev->data;

    ngx_msec_int_t  left;

    /* one timer, re-armed for what is left since the latest bytes */

    left = (ngx_msec_int_t) (ctx->last_read + ctx->keepalive_time
                             - ngx_current_msec);

    if (ctx->state == NGX_IOTHUB_MQTT_CONNECTED && left > 0) {
        ngx_add_timer(&ctx->keepalive, (ngx_msec_t) left);
        return;
    }

    ngx_iothub_mqtt_close(ctx, ctx->state == NGX_IOTHUB_MQTT_CONNECTED
                               ? "keep-alive expired"
                               : "no CONNECT in time");
}


void
ngx_iothub_mqtt_close(ngx_iothub_mqtt_ctx_t *ctx, const char *why)
{
    ngx_connection_t  *c;

    if (ctx->state == NGX_IOTHUB_MQTT_CLOSING) {
        return;
    }

    c = ctx->connection;

    if (why) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0, "iothub mqtt: %s", why);
    }

    ctx->packets->closed(ctx);

    ctx->state = NGX_IOTHUB_MQTT_CLOSING;

    if (ctx->keepalive.timer_set) {
        ngx_del_timer(&ctx->keepalive);
    }

    if (ctx->keepalive.posted) {
        ngx_delete_posted_event(&ctx->keepalive);
    }

    ngx_free(ctx->in);
    ngx_free(ctx->out);
    ngx_free(ctx->will);
    ctx->in = NULL;
    ctx->out = NULL;
    ctx->will = NULL;

    ctx->transport->finalize(ctx->transport_data);
}
