
/*
 * nginx-iothub: direct methods over MQTT (mqtt.md 8).  The shared session
 * layer hands a request to the session; it goes out on
 * $iothub/methods/POST/{name}/?$rid={rid}, and the device's
 * $iothub/methods/res/{status}/?$rid={rid} goes back to the caller through
 * the session layer, which accepts only request ids it gave this session.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_mqtt.h"


void
ngx_iothub_mqtt_method(ngx_iothub_session_t *s,
    ngx_iothub_session_method_t *m)
{
    u_char                 *topic;
    size_t                  n, size;
    ngx_iothub_mqtt_ctx_t  *ctx;
    ngx_iothub_mqtt_str_t   name, rid;

    ctx = s->data;

    name.data = m->name.data;
    name.len = m->name.len;
    rid.data = m->rid.data;
    rid.len = m->rid.len;

    size = 3 * (name.len + rid.len) + 64;

    topic = ngx_alloc(size, ctx->connection->log);
    if (topic == NULL) {
        return;
    }

    n = ngx_iothub_mqtt_method_topic(topic, size, &name, &rid);

    /* never an empty payload: the Node SDK would answer 400 by itself */
    if (n) {
        (void) ngx_iothub_mqtt_send_publish(ctx, topic, n, m->payload.data,
                                            m->payload.len, 0, 0);
    }

    ngx_free(topic);
}


/* $iothub/methods/res/{status}/?$rid={rid}: back to the caller's node */

ngx_int_t
ngx_iothub_mqtt_method_response(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_publish_t *pub, ngx_iothub_mqtt_pub_t *t)
{
    ngx_str_t  rid, payload;

    rid.data = (u_char *) t->rid.data;
    rid.len = t->rid.len;
    payload.data = (u_char *) pub->payload.data;
    payload.len = pub->payload.len;

    /* an answer to a request this session was not given is dropped */
    (void) ngx_iothub_session_method_answer(&ctx->session, &rid,
                                            (ngx_int_t) t->status, &payload);

    return NGX_OK;
}
