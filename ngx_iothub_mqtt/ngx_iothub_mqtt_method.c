
/*
 * nginx-iothub: direct methods over MQTT (mqtt.md 8).  Requests arrive in
 * this worker's inbox from the caller's node; the device's answer goes back
 * to the caller's inbox, which the request id names: "<inbox hex>.<n>".
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_mqtt.h"


#define NGX_IOTHUB_MQTT_INBOX_PREFIX  "iothub:inbox:"


static void ngx_iothub_mqtt_method_miss(ngx_iothub_mqtt_str_t *rid);


/* "method <session> <rid> <name> <payload>" */

void
ngx_iothub_mqtt_method(u_char *payload, size_t len)
{
    u_char                 *p, *last, *sp, *topic;
    size_t                  n, size;
    ngx_int_t               no;
    ngx_iothub_mqtt_str_t   word[3];
    ngx_iothub_mqtt_ctx_t  *ctx;
    ngx_uint_t              i;

    p = payload;
    last = payload + len;

    for (i = 0; i < 3; i++) {
        sp = ngx_strlchr(p, last, ' ');
        if (sp == NULL) {
            return;
        }

        word[i].data = p;
        word[i].len = sp - p;
        p = sp + 1;
    }

    no = ngx_atoi((u_char *) word[0].data, word[0].len);
    ctx = (no == NGX_ERROR) ? NULL : ngx_iothub_mqtt_find(no);

    if (ctx == NULL || !(ctx->features & NGX_IOTHUB_FEATURE_METHODS)) {
        /*
         * the presence named a session that just ended: the caller looks
         * again for the device's current one
         */
        ngx_iothub_mqtt_method_miss(&word[1]);
        return;
    }

    size = 3 * (word[1].len + word[2].len) + 64;

    topic = ngx_alloc(size, ctx->connection->log);
    if (topic == NULL) {
        return;
    }

    n = ngx_iothub_mqtt_method_topic(topic, size, &word[2], &word[1]);

    /* never an empty payload: the Node SDK would answer 400 by itself */
    if (n) {
        (void) ngx_iothub_mqtt_send_publish(ctx, topic, n, p, last - p,
                                            0, 0);
    }

    ngx_free(topic);
}


/* "methodmiss <n>" to the caller's inbox, which the rid names */

static void
ngx_iothub_mqtt_method_miss(ngx_iothub_mqtt_str_t *rid)
{
    u_char     *dot, inbox[NGX_IOTHUB_MQTT_RID_LEN + 32];
    ngx_str_t   name, n;

    dot = ngx_strlchr((u_char *) rid->data, (u_char *) rid->data + rid->len,
                      '.');

    if (dot == NULL || rid->len > NGX_IOTHUB_MQTT_RID_LEN) {
        return;
    }

    name.data = inbox;
    name.len = ngx_sprintf(inbox, NGX_IOTHUB_MQTT_INBOX_PREFIX "%*s",
                           (size_t) (dot - rid->data), rid->data)
               - inbox;

    n.data = dot + 1;
    n.len = rid->data + rid->len - dot - 1;

    (void) ngx_iothub_inbox_send(&name, "methodmiss", &n, NULL, NULL);
}


/* $iothub/methods/res/{status}/?$rid={rid}: back to the caller's node */

ngx_int_t
ngx_iothub_mqtt_method_response(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_publish_t *pub, ngx_iothub_mqtt_pub_t *t)
{
    u_char     *dot, *msg, *p;
    ngx_str_t   inbox, answer;

    dot = (u_char *) ngx_strlchr((u_char *) t->rid.data,
                                 (u_char *) t->rid.data + t->rid.len, '.');

    if (dot == NULL || dot == t->rid.data || t->rid.len > 128) {
        /* not a request of ours: dropped */
        return NGX_OK;
    }

    inbox.len = sizeof(NGX_IOTHUB_MQTT_INBOX_PREFIX) - 1
                + (dot - t->rid.data);
    answer.len = (t->rid.data + t->rid.len - dot - 1) + NGX_INT_T_LEN + 2
                 + pub->payload.len;

    msg = ngx_alloc(inbox.len + answer.len, ctx->connection->log);
    if (msg == NULL) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    inbox.data = msg;
    p = ngx_cpymem(msg, NGX_IOTHUB_MQTT_INBOX_PREFIX,
                   sizeof(NGX_IOTHUB_MQTT_INBOX_PREFIX) - 1);
    p = ngx_cpymem(p, t->rid.data, dot - t->rid.data);

    answer.data = p;
    p = ngx_sprintf(p, "%*s %i ", t->rid.data + t->rid.len - dot - 1,
                    dot + 1, (ngx_int_t) t->status);
    p = ngx_cpymem(p, pub->payload.data, pub->payload.len);
    answer.len = p - answer.data;

    /* Redis down: the caller times out with 504, as for a lost answer */
    (void) ngx_iothub_inbox_send(&inbox, "methodres", &answer, NULL, NULL);

    ngx_free(msg);

    return NGX_OK;
}
