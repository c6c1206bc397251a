
/*
 * nginx-iothub: what MQTT packets mean to IoT Hub (mqtt.md 2-9): CONNECT,
 * the will, telemetry, subscriptions.  The device session behind them
 * (authentication, presence, deliveries) is the shared layer's,
 * ngx_iothub_session.h; this file is its MQTT hook table.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_mqtt.h"
#include "ngx_iothub_sas.h"
#include "ngx_iothub_log.h"


#define NGX_IOTHUB_MQTT_MAX_PROPS  NGX_IOTHUB_D2C_MAX_PROPERTIES


static void ngx_iothub_mqtt_session_start(ngx_iothub_mqtt_ctx_t *ctx);
static ngx_int_t ngx_iothub_mqtt_connect(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_connect_t *connect);
static ngx_int_t ngx_iothub_mqtt_publish(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_publish_t *pub);
static ngx_int_t ngx_iothub_mqtt_subscribe(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_subscribe_t *sub);
static ngx_int_t ngx_iothub_mqtt_unsubscribe(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_subscribe_t *sub);
static void ngx_iothub_mqtt_session_closed(ngx_iothub_mqtt_ctx_t *ctx);
static ngx_int_t ngx_iothub_mqtt_will(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_connect_t *connect);
static ngx_int_t ngx_iothub_mqtt_identify(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_connect_t *connect, ngx_iothub_credentials_t *cred);
static ngx_int_t ngx_iothub_mqtt_refuse(ngx_iothub_mqtt_ctx_t *ctx,
    u_int code, const char *why);
static u_int ngx_iothub_mqtt_connack_code(ngx_iothub_session_rc_e rc);
static void ngx_iothub_mqtt_connected(ngx_iothub_session_t *s,
    ngx_iothub_session_rc_e rc, ngx_uint_t present);
static void ngx_iothub_mqtt_kick(ngx_iothub_session_t *s,
    ngx_iothub_kick_e why);
static ngx_int_t ngx_iothub_mqtt_telemetry(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_publish_t *pub, ngx_iothub_mqtt_pub_t *t);
static ngx_int_t ngx_iothub_mqtt_message(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_publish_t *pub, ngx_iothub_mqtt_pub_t *t,
    ngx_iothub_message_t *msg, u_char *buf, size_t size);
static void ngx_iothub_mqtt_send_will(ngx_iothub_mqtt_ctx_t *ctx);
static void ngx_iothub_mqtt_stored(ngx_iothub_session_t *s, ngx_int_t rc,
    ngx_uint_t packet_id);
static ngx_int_t ngx_iothub_mqtt_save_features(ngx_iothub_mqtt_ctx_t *ctx,
    u_char *suback);
static void ngx_iothub_mqtt_subscribed(ngx_iothub_session_t *s, void *arg);
static ngx_int_t ngx_iothub_mqtt_send_suback(ngx_iothub_mqtt_ctx_t *ctx,
    u_char *suback);


ngx_iothub_mqtt_packets_t  ngx_iothub_mqtt_packets = {
    ngx_iothub_mqtt_session_start,
    ngx_iothub_mqtt_connect,
    ngx_iothub_mqtt_publish,
    ngx_iothub_mqtt_puback,
    ngx_iothub_mqtt_subscribe,
    ngx_iothub_mqtt_unsubscribe,
    ngx_iothub_mqtt_session_closed
};


static ngx_iothub_session_protocol_t  ngx_iothub_mqtt_protocol = {
    ngx_string("MQTT"),
    ngx_iothub_mqtt_connected,
    ngx_iothub_mqtt_kick,
    ngx_iothub_mqtt_desired,
    ngx_iothub_mqtt_method,
    ngx_iothub_mqtt_c2d_deliver
};


static void
ngx_iothub_mqtt_session_start(ngx_iothub_mqtt_ctx_t *ctx)
{
    ngx_iothub_session_init(&ctx->session, ctx->hub,
                            &ngx_iothub_mqtt_protocol, ctx,
                            ctx->connection->log, ctx->connection->pool);
}


static ngx_int_t
ngx_iothub_mqtt_connect(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_connect_t *connect)
{
    ngx_int_t                 rc;
    ngx_iothub_session_rc_e   src;
    ngx_iothub_credentials_t  cred;

    ctx->connection->log->action = "authenticating device";

    /* 1.5 times the client's keep-alive, capped (mqtt.md 10) */
    ctx->keepalive_time = connect->keep_alive
                          ? ngx_min(connect->keep_alive * 1500,
                                    NGX_IOTHUB_MQTT_MAX_IDLE)
                          : NGX_IOTHUB_MQTT_MAX_IDLE;

    ngx_memzero(&cred, sizeof(ngx_iothub_credentials_t));

    rc = ngx_iothub_mqtt_identify(ctx, connect, &cred);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_iothub_mqtt_will(ctx, connect);
    if (rc != NGX_OK) {
        return rc;
    }

    if (connect->has_password) {
        cred.token.data = (u_char *) connect->password.data;
        cred.token.len = connect->password.len;
    }

    cred.connection = ctx->connection;
    cred.clean = connect->clean_session;

    src = ngx_iothub_session_connect(&ctx->session, &cred);

    if (src == NGX_IOTHUB_SESSION_PENDING) {
        ctx->state = NGX_IOTHUB_MQTT_AUTHENTICATING;
        return NGX_OK;
    }

    if (src == NGX_IOTHUB_SESSION_ERROR) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    return ngx_iothub_mqtt_refuse(ctx, ngx_iothub_mqtt_connack_code(src),
                                  ctx->session.why);
}


static u_int
ngx_iothub_mqtt_connack_code(ngx_iothub_session_rc_e rc)
{
    switch (rc) {

    case NGX_IOTHUB_SESSION_BAD_CREDENTIALS:
        return NGX_IOTHUB_MQTT_REFUSED_LOGIN;

    case NGX_IOTHUB_SESSION_NOT_AUTHORIZED:
        return NGX_IOTHUB_MQTT_REFUSED_AUTH;

    default:
        return NGX_IOTHUB_MQTT_REFUSED_SERVER;
    }
}


/* the session's outcome: CONNACK, then the session is up */

static void
ngx_iothub_mqtt_connected(ngx_iothub_session_t *s,
    ngx_iothub_session_rc_e rc, ngx_uint_t present)
{
    ngx_iothub_mqtt_ctx_t *ctx = s->data;

    u_char                connack[NGX_IOTHUB_MQTT_CONNACK_LEN];
    ngx_iothub_log_buf_t  id;

    if (rc != NGX_IOTHUB_SESSION_OK) {
        (void) ngx_iothub_mqtt_refuse(ctx, ngx_iothub_mqtt_connack_code(rc),
                                      s->why);
        return;
    }

    ngx_iothub_mqtt_write_connack(connack, sizeof(connack), present,
                                  NGX_IOTHUB_MQTT_ACCEPTED);

    if (ngx_iothub_mqtt_send(ctx, connack, sizeof(connack), 0) != NGX_OK) {
        return;
    }

    ctx->state = NGX_IOTHUB_MQTT_CONNECTED;
    ctx->connection->log->action = "serving device";

    ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                  "iothub mqtt: \"%V\" connected, clean session %ui",
                  ngx_iothub_log_v(&id, &ctx->client_id),
                  (ngx_uint_t) s->clean);

    ngx_add_timer(&ctx->keepalive, ctx->keepalive_time);

    ngx_iothub_mqtt_unblock(ctx);

    /* the restored subscriptions take effect now that the session is up */
    if (s->features && ngx_iothub_mqtt_save_features(ctx, NULL) != NGX_OK) {
        return;
    }

    /* messages queued while the device was away (clean session 0) */
    ngx_iothub_session_c2d_pull(s);
}


static void
ngx_iothub_mqtt_kick(ngx_iothub_session_t *s, ngx_iothub_kick_e why)
{
    static const char  *reasons[] = {
        "replaced by a newer connection of the same identity",
        "the identity was deleted or disabled",
        "SAS token expired"
    };

    /* the close path ends the presence only if it still names us */
    ngx_iothub_mqtt_close(s->data, reasons[why]);
}


/* client id and user name name the same identity (mqtt.md 2) */

static ngx_int_t
ngx_iothub_mqtt_identify(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_connect_t *connect, ngx_iothub_credentials_t *cred)
{
    size_t                      dlen, mlen;
    ngx_iothub_mqtt_username_t  u;

    if (!connect->has_username
        || ngx_iothub_mqtt_parse_username(connect->username.data,
                                          connect->username.len, &u)
           != NGX_IOTHUB_MQTT_TOPIC_OK)
    {
        return ngx_iothub_mqtt_refuse(ctx, NGX_IOTHUB_MQTT_REFUSED_LOGIN,
                                      "malformed user name");
    }

    dlen = u.device_id.len;
    mlen = u.module_id.len;

    if (!ngx_iothub_id_valid(u.device_id.data, dlen)
        || (mlen && !ngx_iothub_id_valid(u.module_id.data, mlen))
        || connect->client_id.len != dlen + (mlen ? mlen + 1 : 0)
        || ngx_strncmp(connect->client_id.data, u.device_id.data, dlen) != 0
        || (mlen && (connect->client_id.data[dlen] != '/'
                     || ngx_strncmp(connect->client_id.data + dlen + 1,
                                    u.module_id.data, mlen) != 0)))
    {
        return ngx_iothub_mqtt_refuse(ctx, NGX_IOTHUB_MQTT_REFUSED_ID,
                                      "client id does not match the user "
                                      "name");
    }

    ctx->client_id.len = connect->client_id.len;
    ctx->client_id.data = ngx_pnalloc(ctx->connection->pool,
                                      connect->client_id.len);
    if (ctx->client_id.data == NULL) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    ngx_memcpy(ctx->client_id.data, connect->client_id.data,
               connect->client_id.len);

    /* "<device>" or "<device>/<module>": the ids are parts of it */

    ctx->device.data = ctx->client_id.data;
    ctx->device.len = dlen;
    ctx->module.data = mlen ? ctx->client_id.data + dlen + 1 : NULL;
    ctx->module.len = mlen;

    cred->device_id.data = (u_char *) ctx->device.data;
    cred->device_id.len = dlen;
    cred->module_id.data = (u_char *) ctx->module.data;
    cred->module_id.len = mlen;
    cred->model_id.data = (u_char *) u.model_id.data;
    cred->model_id.len = u.model_id.len;

    return NGX_OK;
}


static ngx_int_t
ngx_iothub_mqtt_refuse(ngx_iothub_mqtt_ctx_t *ctx, u_int code,
    const char *why)
{
    u_char                connack[NGX_IOTHUB_MQTT_CONNACK_LEN];
    ngx_iothub_log_buf_t  id;

    ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                  "iothub mqtt: CONNECT refused with %ui, %s, client \"%V\"",
                  (ngx_uint_t) code, why,
                  ngx_iothub_log_v(&id, &ctx->client_id));

    ngx_iothub_mqtt_write_connack(connack, sizeof(connack), 0, code);

    /* send() and flush() close the session themselves when they fail */

    if (ngx_iothub_mqtt_send(ctx, connack, sizeof(connack), 0) == NGX_OK
        && ngx_iothub_mqtt_flush(ctx) == NGX_OK)
    {
        ngx_iothub_mqtt_close(ctx, NULL);
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_iothub_mqtt_publish(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_publish_t *pub)
{
    ngx_iothub_mqtt_pub_t  t;
    ngx_iothub_log_buf_t   topic;

    if (pub->qos > 1) {
        /* IoT Hub has no QoS 2 (mqtt.md 4) */
        ngx_iothub_mqtt_close(ctx, "QoS 2 PUBLISH refused");
        return NGX_ERROR;
    }

    switch (ngx_iothub_mqtt_pub_parse(pub->topic.data, pub->topic.len, &t)) {

    case NGX_IOTHUB_MQTT_PUB_TELEMETRY:
        return ngx_iothub_mqtt_telemetry(ctx, pub, &t);

    case NGX_IOTHUB_MQTT_PUB_TWIN_GET:
    case NGX_IOTHUB_MQTT_PUB_TWIN_REPORTED:
        return ngx_iothub_mqtt_twin_request(ctx, pub, &t);

    case NGX_IOTHUB_MQTT_PUB_METHOD_RES:
        return ngx_iothub_mqtt_method_response(ctx, pub, &t);

    default:
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub mqtt: PUBLISH to unknown topic \"%V\"",
                      ngx_iothub_log_str(&topic, pub->topic.data,
                                         pub->topic.len));
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }
}


static ngx_int_t
ngx_iothub_mqtt_telemetry(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_publish_t *pub, ngx_iothub_mqtt_pub_t *t)
{
    u_char                   *buf;
    size_t                    size;
    ngx_int_t                 rc;
    ngx_iothub_message_t      msg;
    ngx_iothub_log_buf_t      topic;

    if (!ngx_iothub_mqtt_pub_owned(t, &ctx->device, &ctx->module)) {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub mqtt: PUBLISH to another identity's topic "
                      "\"%V\"", ngx_iothub_log_str(&topic, pub->topic.data,
                                                    pub->topic.len));
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    if (pub->payload.len > NGX_IOTHUB_D2C_MAX_SIZE) {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub mqtt: message of %uz bytes over the 256 KB "
                      "limit", pub->payload.len);
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    /* decoded values, then "u:"-prefixed names: twice the bag at most */
    size = 2 * t->props.len + 4 * NGX_IOTHUB_MQTT_MAX_PROPS + 64;

    buf = ngx_alloc(size, ctx->connection->log);
    if (buf == NULL) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    rc = ngx_iothub_mqtt_message(ctx, pub, t, &msg, buf, size);
    if (rc != NGX_OK) {
        ngx_free(buf);
        return rc;
    }

    /* the command is formatted at once: msg and buf may go */
    rc = ngx_iothub_session_telemetry(&ctx->session, &msg,
                                      ngx_iothub_mqtt_stored,
                                      pub->qos ? pub->packet_id : 0);
    ngx_free(buf);

    if (rc != NGX_OK) {
        ngx_iothub_mqtt_close(ctx, rc == NGX_DECLINED
                                   ? "the hub's store is unavailable, "
                                     "message not acknowledged"
                                   : NULL);
        return NGX_ERROR;
    }

    ctx->inflight++;

    return NGX_OK;
}


/* the stream field of each system property of the topic (messaging.md 1) */

static const char  *ngx_iothub_mqtt_fields[] = {
    NULL,                               /* APP: "u:<name>" */
    "p:message-id",
    "p:correlation-id",
    "p:user-id",
    "p:to",
    "p:content-type",
    "p:content-encoding",
    "p:absolute-expiry-time",
    "u:iothub-outputname",
    "u:iothub-interface-id",
    "a:dt-subject",
    "u:iothub-creation-time-utc",
    "a:diag-id",
    "a:diag-context",
    NULL,                               /* CDID: set by the hub only */
    NULL,                               /* CMID */
    NULL                                /* another "$." name: dropped */
};


static ngx_int_t
ngx_iothub_mqtt_message(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_publish_t *pub, ngx_iothub_mqtt_pub_t *t,
    ngx_iothub_message_t *msg, u_char *buf, size_t size)
{
    size_t                       i, n;
    u_char                      *names, *name;
    ngx_int_t                    rc;
    const char                  *field;
    ngx_iothub_mqtt_prop_t       props[NGX_IOTHUB_MQTT_MAX_PROPS];
    ngx_iothub_mqtt_topic_rc_e   trc;

    msg->n = 0;
    msg->body.data = (u_char *) pub->payload.data;
    msg->body.len = pub->payload.len;

    trc = ngx_iothub_mqtt_props_parse(t->props.data, t->props.len, props,
                                      NGX_IOTHUB_MQTT_MAX_PROPS - 1, &n,
                                      buf, t->props.len + 1);
    if (trc != NGX_IOTHUB_MQTT_TOPIC_OK) {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub mqtt: property bag: %s",
                      ngx_iothub_mqtt_topic_strerror(trc));
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    names = buf + t->props.len + 1;

    for (i = 0; i < n; i++) {
        field = ngx_iothub_mqtt_fields[props[i].sys];
        name = names;

        if (props[i].sys == NGX_IOTHUB_MQTT_PROP_APP
            && ngx_iothub_app_property_reserved(props[i].key.data,
                                                props[i].key.len))
        {
            /* the hub's own names (iothub-*, mqtt-retain): dropped */
            continue;
        }

        if (props[i].sys == NGX_IOTHUB_MQTT_PROP_APP) {
            names = ngx_cpymem(ngx_cpymem(names, "u:", 2),
                               props[i].key.data, props[i].key.len);

        } else if (field != NULL) {
            name = (u_char *) field;

        } else {
            continue;
        }

        rc = ngx_iothub_message_add(msg, (char *) name,
                                    field ? ngx_strlen(field)
                                          : (size_t) (names - name),
                                    (u_char *) props[i].value.data,
                                    props[i].value.len);
        if (rc != NGX_OK) {
            break;
        }
    }

    if (pub->retain) {
        /* not stored: forwarded with mqtt-retain (mqtt.md 4) */
        (void) ngx_iothub_message_add(msg, "u:mqtt-retain", 13,
                                      (u_char *) "true", 4);
    }

    (void) size;

    return NGX_OK;
}


/* PUBACK once Redis stored the message; without it the device resends */

static void
ngx_iothub_mqtt_stored(ngx_iothub_session_t *s, ngx_int_t rc,
    ngx_uint_t packet_id)
{
    ngx_iothub_mqtt_ctx_t *ctx = s->data;

    u_char  puback[NGX_IOTHUB_MQTT_PUBACK_LEN];

    if (rc != NGX_OK) {
        ngx_iothub_mqtt_close(ctx, "the hub's store failed, message not "
                                   "acknowledged");
        return;
    }

    if (ctx->inflight-- == NGX_IOTHUB_MQTT_MAX_INFLIGHT) {
        ngx_iothub_mqtt_unblock(ctx);
    }

    if (packet_id == 0) {
        return;
    }

    ngx_iothub_mqtt_write_puback(puback, sizeof(puback), packet_id);
    (void) ngx_iothub_mqtt_send(ctx, puback, sizeof(puback), 0);
}


static ngx_int_t
ngx_iothub_mqtt_subscribe(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_subscribe_t *sub)
{
    u_char                 codes[64], *p;
    u_int                  qos;
    size_t                 pos, n, len;
    ngx_uint_t             feature;
    ngx_iothub_log_buf_t   escaped;
    ngx_iothub_mqtt_str_t  filter;

    if (sub->count > sizeof(codes)) {
        ngx_iothub_mqtt_close(ctx, "too many filters in SUBSCRIBE");
        return NGX_ERROR;
    }

    pos = 0;
    n = 0;

    while (ngx_iothub_mqtt_subscribe_next(sub, &pos, &filter, &qos)) {
        feature = ngx_iothub_mqtt_filter_valid(filter.data, filter.len)
                  ? ngx_iothub_mqtt_filter_feature(filter.data, filter.len,
                                                   &ctx->device, &ctx->module)
                  : 0;

        if (feature == 0) {
            /* a friendlier answer than closing (mqtt.md 3) */
            ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                          "iothub mqtt: SUBSCRIBE to unknown filter \"%V\"",
                          ngx_iothub_log_str(&escaped, filter.data,
                                             filter.len));
            codes[n++] = NGX_IOTHUB_MQTT_SUBACK_FAILURE;
            continue;
        }

        ctx->session.features |= feature;
        codes[n++] = ngx_min(qos, 1);
    }

    /* kept until the subscriptions are stored; at most 68 bytes */

    len = ngx_iothub_mqtt_suback_size(n);

    p = ngx_pnalloc(ctx->connection->pool, len);
    if (p == NULL) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    ngx_iothub_mqtt_write_suback(p, len, sub->packet_id, codes, n);

    return ngx_iothub_mqtt_save_features(ctx, p);
}


/*
 * The SUBACK goes once the subscriptions are in the presence hash: a
 * service call made after the device saw it finds them.  Other packets
 * go on meanwhile; SUBACKs keep their order (one Redis link, in order).
 */

static void
ngx_iothub_mqtt_subscribed(ngx_iothub_session_t *s, void *arg)
{
    /* a failed store leaves the subscriptions to this connection */
    (void) ngx_iothub_mqtt_send_suback(s->data, arg);
}


static ngx_int_t
ngx_iothub_mqtt_send_suback(ngx_iothub_mqtt_ctx_t *ctx, u_char *suback)
{
    size_t  len;

    /* the fixed header's remaining length is one byte: at most 66 */
    len = 2 + suback[1];

    if (ngx_iothub_mqtt_send(ctx, suback, len, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_iothub_session_c2d_pull(&ctx->session);

    return NGX_OK;
}


static ngx_int_t
ngx_iothub_mqtt_unsubscribe(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_subscribe_t *sub)
{
    u_char                 unsuback[NGX_IOTHUB_MQTT_UNSUBACK_LEN];
    size_t                 pos;
    ngx_iothub_mqtt_str_t  filter;

    pos = 0;

    while (ngx_iothub_mqtt_subscribe_next(sub, &pos, &filter, NULL)) {
        ctx->session.features &= ~ngx_iothub_mqtt_filter_feature(filter.data,
                                                         filter.len,
                                                         &ctx->device,
                                                         &ctx->module);
    }

    ngx_iothub_mqtt_write_unsuback(unsuback, sizeof(unsuback),
                                   sub->packet_id);

    if (ngx_iothub_mqtt_send(ctx, unsuback, sizeof(unsuback), 0) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_iothub_mqtt_save_features(ctx, NULL);
}


/* with a SUBACK to send once stored, or NULL (restored subscriptions) */

static ngx_int_t
ngx_iothub_mqtt_save_features(ngx_iothub_mqtt_ctx_t *ctx, u_char *suback)
{
    ngx_int_t  rc;

    rc = ngx_iothub_session_subscribe(&ctx->session,
                                      suback ? ngx_iothub_mqtt_subscribed
                                             : NULL,
                                      suback);

    if (rc == NGX_ERROR) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED && suback) {
        /* Redis down: the subscriptions hold on this connection */
        return ngx_iothub_mqtt_send_suback(ctx, suback);
    }

    return NGX_OK;
}


/*
 * A will must be telemetry of the identity itself, at most QoS 1; it is
 * kept (copied) until the connection ends.
 */

static ngx_int_t
ngx_iothub_mqtt_will(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_connect_t *connect)
{
    ngx_iothub_mqtt_pub_t   t;

    if (!connect->will) {
        return NGX_OK;
    }

    if (connect->will_qos > 1
        || connect->will_message.len > NGX_IOTHUB_D2C_MAX_SIZE
        || ngx_iothub_mqtt_pub_parse(connect->will_topic.data,
                                     connect->will_topic.len, &t)
           != NGX_IOTHUB_MQTT_PUB_TELEMETRY
        || !ngx_iothub_mqtt_pub_owned(&t, &ctx->device, &ctx->module))
    {
        return ngx_iothub_mqtt_refuse(ctx, NGX_IOTHUB_MQTT_REFUSED_AUTH,
                                      "the will is not telemetry of the "
                                      "identity at QoS 0 or 1");
    }

    ctx->will = ngx_alloc(connect->will_topic.len
                          + connect->will_message.len + 1,
                          ctx->connection->log);
    if (ctx->will == NULL) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    ngx_memcpy(ctx->will, connect->will_topic.data, connect->will_topic.len);
    ngx_memcpy(ctx->will + connect->will_topic.len,
               connect->will_message.data, connect->will_message.len);

    ctx->will_topic_len = connect->will_topic.len;
    ctx->will_len = connect->will_message.len;

    return NGX_OK;
}


/* the will goes out as telemetry marked iothub-MessageType: Will */

static void
ngx_iothub_mqtt_send_will(ngx_iothub_mqtt_ctx_t *ctx)
{
    u_char                     *buf;
    size_t                      size;
    ngx_iothub_mqtt_pub_t       t;
    ngx_iothub_message_t        msg;
    ngx_iothub_mqtt_publish_t   pub;

    if (ctx->will == NULL || ctx->disconnected
        || ctx->state != NGX_IOTHUB_MQTT_CONNECTED)
    {
        return;
    }

    ngx_memzero(&pub, sizeof(ngx_iothub_mqtt_publish_t));
    pub.topic.data = ctx->will;
    pub.topic.len = ctx->will_topic_len;
    pub.payload.data = ctx->will + ctx->will_topic_len;
    pub.payload.len = ctx->will_len;

    (void) ngx_iothub_mqtt_pub_parse(pub.topic.data, pub.topic.len, &t);

    size = 2 * t.props.len + 4 * NGX_IOTHUB_MQTT_MAX_PROPS + 64;

    buf = ngx_alloc(size, ctx->connection->log);
    if (buf == NULL) {
        return;
    }

    if (ngx_iothub_mqtt_message(ctx, &pub, &t, &msg, buf, size) == NGX_OK) {
        (void) ngx_iothub_message_add(&msg, "u:iothub-MessageType", 20,
                                      (u_char *) "Will", 4);
        (void) ngx_iothub_session_telemetry(&ctx->session, &msg, NULL, 0);
    }

    ngx_free(buf);
}


static void
ngx_iothub_mqtt_session_closed(ngx_iothub_mqtt_ctx_t *ctx)
{
    ngx_iothub_mqtt_send_will(ctx);
    ngx_iothub_mqtt_twin_cancel(ctx);
    ngx_iothub_session_close(&ctx->session);
}
