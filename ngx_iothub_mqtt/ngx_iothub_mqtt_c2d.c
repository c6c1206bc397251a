
/*
 * nginx-iothub: cloud-to-device delivery over MQTT (mqtt.md 5).  The
 * shared session layer picks the message, locks it and releases it when
 * the session ends; here it goes out as a QoS 1 PUBLISH on the devicebound
 * topic, and the device's PUBACK completes it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_mqtt.h"


/* the system properties, the ack mode, then the application's */
#define NGX_IOTHUB_MQTT_C2D_PROPS  (NGX_IOTHUB_C2D_MAX_APP_PROPS + 8)


static size_t ngx_iothub_mqtt_c2d_props(ngx_iothub_c2d_message_t *msg,
    ngx_iothub_mqtt_prop_t *props);
static size_t ngx_iothub_mqtt_c2d_prop(ngx_iothub_mqtt_prop_t *props,
    size_t n, ngx_iothub_mqtt_prop_e sys, ngx_str_t *value);


ngx_int_t
ngx_iothub_mqtt_c2d_deliver(ngx_iothub_session_t *s,
    ngx_iothub_c2d_message_t *msg)
{
    u_char                 *topic;
    size_t                  n, len;
    ngx_int_t               rc;
    ngx_iothub_mqtt_ctx_t  *ctx;
    ngx_iothub_mqtt_prop_t  props[NGX_IOTHUB_MQTT_C2D_PROPS];

    ctx = s->data;

    n = ngx_iothub_mqtt_c2d_props(msg, props);

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

    rc = ngx_iothub_mqtt_send_publish(ctx, topic, len, msg->body.data,
                                      msg->body.len, 1, ctx->c2d_packet_id);
    ngx_free(topic);

    return (rc == NGX_OK) ? NGX_OK : NGX_ERROR;
}


/* the topic's property bag, in the hub's order (mqtt.md 5) */

static size_t
ngx_iothub_mqtt_c2d_props(ngx_iothub_c2d_message_t *msg,
    ngx_iothub_mqtt_prop_t *props)
{
    size_t      i, n;
    ngx_str_t   ack;

    n = ngx_iothub_mqtt_c2d_prop(props, 0, NGX_IOTHUB_MQTT_PROP_TO, &msg->to);

    if (msg->ack.len) {
        ngx_str_set(&ack, "iothub-ack");
        props[n].key.data = ack.data;
        props[n].key.len = ack.len;
        n = ngx_iothub_mqtt_c2d_prop(props, n, NGX_IOTHUB_MQTT_PROP_APP,
                                     &msg->ack);
    }

    n = ngx_iothub_mqtt_c2d_prop(props, n, NGX_IOTHUB_MQTT_PROP_MID,
                                 &msg->message_id);
    n = ngx_iothub_mqtt_c2d_prop(props, n, NGX_IOTHUB_MQTT_PROP_CID,
                                 &msg->correlation_id);
    n = ngx_iothub_mqtt_c2d_prop(props, n, NGX_IOTHUB_MQTT_PROP_UID,
                                 &msg->user_id);
    n = ngx_iothub_mqtt_c2d_prop(props, n, NGX_IOTHUB_MQTT_PROP_CT,
                                 &msg->content_type);
    n = ngx_iothub_mqtt_c2d_prop(props, n, NGX_IOTHUB_MQTT_PROP_CE,
                                 &msg->content_encoding);

    for (i = 0; i < msg->napp; i++) {
        props[n].key.data = msg->app_name[i].data;
        props[n].key.len = msg->app_name[i].len;
        n = ngx_iothub_mqtt_c2d_prop(props, n, NGX_IOTHUB_MQTT_PROP_APP,
                                     &msg->app_value[i]);
    }

    return n;
}


static size_t
ngx_iothub_mqtt_c2d_prop(ngx_iothub_mqtt_prop_t *props, size_t n,
    ngx_iothub_mqtt_prop_e sys, ngx_str_t *value)
{
    if (value->data == NULL) {
        return n;
    }

    props[n].sys = sys;
    props[n].value.data = value->data;
    props[n].value.len = value->len;

    return n + 1;
}


/* the device's PUBACK of the message in flight completes it */

ngx_int_t
ngx_iothub_mqtt_puback(ngx_iothub_mqtt_ctx_t *ctx, ngx_iothub_mqtt_ack_t *ack)
{
    if (ctx->c2d_packet_id == 0 || ack->packet_id != ctx->c2d_packet_id) {
        return NGX_OK;
    }

    ctx->c2d_packet_id = 0;

    ngx_iothub_session_c2d_settle(&ctx->session, NGX_IOTHUB_C2D_COMPLETE);

    return NGX_OK;
}
