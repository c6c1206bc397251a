
/*
 * nginx-iothub: direct methods over MQTT (mqtt.md 8).  Requests arrive in
 * this worker's inbox from the caller's node; the device's answer goes back
 * to the caller's inbox, which the request id names (ngx_iothub_method.h).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_mqtt.h"
#include "ngx_iothub_method.h"


/* "method <session> <rid> <name> <payload>" */

void
ngx_iothub_mqtt_method(u_char *payload, size_t len)
{
    u_char                       *topic;
    size_t                        n, size;
    ngx_iothub_mqtt_str_t         name, rid;
    ngx_iothub_mqtt_ctx_t        *ctx;
    ngx_iothub_method_request_t   req;

    if (ngx_iothub_method_request_parse(payload, len, &req) != NGX_OK) {
        return;
    }

    ctx = ngx_iothub_mqtt_find(req.session_no);

    if (ctx == NULL || !(ctx->features & NGX_IOTHUB_FEATURE_METHODS)) {
        /*
         * the presence named a session that just ended: the caller looks
         * again for the device's current one
         */
        ngx_iothub_method_miss(&req.rid);
        return;
    }

    name.data = req.name.data;
    name.len = req.name.len;
    rid.data = req.rid.data;
    rid.len = req.rid.len;

    size = 3 * (rid.len + name.len) + 64;

    topic = ngx_alloc(size, ctx->connection->log);
    if (topic == NULL) {
        return;
    }

    n = ngx_iothub_mqtt_method_topic(topic, size, &name, &rid);

    /* never an empty payload: the Node SDK would answer 400 by itself */
    if (n) {
        (void) ngx_iothub_mqtt_send_publish(ctx, topic, n, req.payload.data,
                                            req.payload.len, 0, 0);
    }

    ngx_free(topic);
}


/*
 * $iothub/methods/res/{status}/?$rid={rid}: back to the caller's node,
 * which checks the rid's nonce and this session's identity
 */

ngx_int_t
ngx_iothub_mqtt_method_response(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_publish_t *pub, ngx_iothub_mqtt_pub_t *t)
{
    ngx_str_t  rid, answer;

    rid.data = (u_char *) t->rid.data;
    rid.len = t->rid.len;
    answer.data = (u_char *) pub->payload.data;
    answer.len = pub->payload.len;

    /*
     * not a request of ours: dropped; Redis down: the caller times out
     * with 504, as for a lost answer
     */
    (void) ngx_iothub_method_answer(&rid, &ctx->sender.device_id,
                                    &ctx->sender.module_id, t->status,
                                    &answer);

    return NGX_OK;
}
