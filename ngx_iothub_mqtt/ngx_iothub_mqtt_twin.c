
/*
 * nginx-iothub: twin requests over MQTT (mqtt.md 6-7): GET and reported
 * patches answered on $iothub/twin/res/, desired notifications pushed on
 * $iothub/twin/PATCH/properties/desired/.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_mqtt.h"


static ngx_int_t ngx_iothub_mqtt_twin_next(ngx_iothub_mqtt_ctx_t *ctx);
static void ngx_iothub_mqtt_twin_forget(ngx_iothub_mqtt_twin_t *tw);
static void ngx_iothub_mqtt_twin_done(ngx_iothub_twin_op_t *op);
static ngx_int_t ngx_iothub_mqtt_twin_result(ngx_iothub_mqtt_twin_t *tw,
    ngx_iothub_twin_op_t *op);
static ngx_int_t ngx_iothub_mqtt_twin_answer(ngx_iothub_mqtt_twin_t *tw,
    ngx_uint_t status, long long version, u_char *body, size_t len);
static ngx_int_t ngx_iothub_mqtt_twin_error(ngx_iothub_mqtt_twin_t *tw,
    ngx_uint_t status, ngx_uint_t code, const char *message);


ngx_int_t
ngx_iothub_mqtt_twin_request(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_publish_t *pub, ngx_iothub_mqtt_pub_t *t)
{
    ngx_uint_t               running;
    ngx_iothub_mqtt_twin_t  *tw;

    if (t->rid.len > NGX_IOTHUB_MQTT_RID_LEN) {
        ngx_iothub_mqtt_close(ctx, "twin request id too long");
        return NGX_ERROR;
    }

    /* the patch is copied: the input buffer moves on */

    tw = ngx_alloc(sizeof(ngx_iothub_mqtt_twin_t) + pub->payload.len,
                   ctx->connection->log);
    if (tw == NULL) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    ngx_memzero(tw, sizeof(ngx_iothub_mqtt_twin_t));
    tw->ctx = ctx;
    tw->rid_len = t->rid.len;
    ngx_memcpy(tw->rid, t->rid.data, t->rid.len);

    tw->op.hub = ctx->hub;
    tw->op.log = ctx->connection->log;
    tw->op.handler = ngx_iothub_mqtt_twin_done;
    tw->op.data = tw;
    tw->op.device_id = ctx->session.sender.device_id;
    tw->op.module_id = ctx->session.sender.module_id;

    if (t->kind == NGX_IOTHUB_MQTT_PUB_TWIN_GET) {
        /* the body (" " from Node) means nothing */
        tw->op.kind = NGX_IOTHUB_TWIN_GET;

    } else {
        tw->op.kind = NGX_IOTHUB_TWIN_PATCH_REPORTED;
        tw->op.body.data = (u_char *) (tw + 1);
        tw->op.body.len = pub->payload.len;
        ngx_memcpy(tw->op.body.data, pub->payload.data, pub->payload.len);
    }

    /*
     * one at a time: a session's patches would only race each other for
     * the twin's version
     */

    running = !ngx_queue_empty(&ctx->twin_ops);
    ngx_queue_insert_tail(&ctx->twin_ops, &tw->queue);

    ctx->ntwin_ops++;

    return running ? NGX_OK : ngx_iothub_mqtt_twin_next(ctx);
}


/*
 * Starts the oldest request; those Redis cannot take are answered 503.
 * NGX_ERROR when an answer closed the session.
 */

static ngx_int_t
ngx_iothub_mqtt_twin_next(ngx_iothub_mqtt_ctx_t *ctx)
{
    ngx_iothub_mqtt_twin_t  *tw;

    while (!ngx_queue_empty(&ctx->twin_ops)) {
        tw = ngx_queue_data(ngx_queue_head(&ctx->twin_ops),
                            ngx_iothub_mqtt_twin_t, queue);

        if (ngx_iothub_twin_run(&tw->op) == NGX_OK) {
            return NGX_OK;
        }

        /* out of the queue first: an answer can close the session */
        ngx_queue_remove(&tw->queue);

        if (ngx_iothub_mqtt_twin_error(tw, 503, 503001,
                                       "the hub's store is unavailable")
            == NGX_ERROR)
        {
            ngx_free(tw);
            return NGX_ERROR;
        }

        ngx_iothub_mqtt_twin_forget(tw);
    }

    return NGX_OK;
}


/* frees an answered request, already out of the queue */

static void
ngx_iothub_mqtt_twin_forget(ngx_iothub_mqtt_twin_t *tw)
{
    ngx_iothub_mqtt_ctx_t  *ctx;

    ctx = tw->ctx;

    ngx_free(tw);

    if (ctx->ntwin_ops-- == NGX_IOTHUB_MQTT_MAX_TWIN_OPS) {
        ngx_iothub_mqtt_unblock(ctx);
    }
}


void
ngx_iothub_mqtt_twin_cancel(ngx_iothub_mqtt_ctx_t *ctx)
{
    ngx_queue_t             *q;
    ngx_iothub_mqtt_twin_t  *tw;

    while (!ngx_queue_empty(&ctx->twin_ops)) {
        q = ngx_queue_head(&ctx->twin_ops);
        ngx_queue_remove(q);
        tw = ngx_queue_data(q, ngx_iothub_mqtt_twin_t, queue);

        ngx_iothub_twin_cancel(&tw->op);
        ngx_free(tw);
    }
}


static void
ngx_iothub_mqtt_twin_done(ngx_iothub_twin_op_t *op)
{
    ngx_iothub_mqtt_twin_t *tw = op->data;

    ngx_int_t               rc;
    ngx_iothub_mqtt_ctx_t  *ctx;

    ctx = tw->ctx;

    /* out of the queue first: an answer can close the session */
    ngx_queue_remove(&tw->queue);

    rc = ngx_iothub_mqtt_twin_result(tw, op);

    if (rc == NGX_ERROR) {
        /* the session closed (and ctx went with it) */
        ngx_free(tw);
        return;
    }

    ngx_iothub_mqtt_twin_forget(tw);
    (void) ngx_iothub_mqtt_twin_next(ctx);
}


static ngx_int_t
ngx_iothub_mqtt_twin_result(ngx_iothub_mqtt_twin_t *tw,
    ngx_iothub_twin_op_t *op)
{
    char       *view;
    ngx_int_t   rc;

    switch (op->result) {

    case NGX_IOTHUB_TWIN_DONE:
        if (op->kind == NGX_IOTHUB_TWIN_PATCH_REPORTED) {
            return ngx_iothub_mqtt_twin_answer(tw, 204,
                                               op->twin.reported_version,
                                               NULL, 0);
        }

        if (ngx_iothub_twin_device_view(&op->twin, &view, op->err,
                                        sizeof(op->err))
            != NGX_IOTHUB_TWIN_OK)
        {
            return ngx_iothub_mqtt_twin_error(tw, 500, 500001,
                                              "corrupt twin");
        }

        rc = ngx_iothub_mqtt_twin_answer(tw, 200, -1, (u_char *) view,
                                         ngx_strlen(view));
        free(view);
        return rc;

    case NGX_IOTHUB_TWIN_REFUSED:
        return ngx_iothub_mqtt_twin_error(tw, 400, 400004, op->err);

    case NGX_IOTHUB_TWIN_NOT_FOUND:
        return ngx_iothub_mqtt_twin_error(tw, 404, 404001,
                                          "identity not found");

    case NGX_IOTHUB_TWIN_UNAVAILABLE:
        return ngx_iothub_mqtt_twin_error(tw, 503, 503001,
                                          "the hub's store is unavailable");

    default:
        return ngx_iothub_mqtt_twin_error(tw, 500, 500001,
                                          "internal error");
    }
}


/* NGX_ERROR when the session closed meanwhile */

static ngx_int_t
ngx_iothub_mqtt_twin_answer(ngx_iothub_mqtt_twin_t *tw, ngx_uint_t status,
    long long version, u_char *body, size_t len)
{
    u_char                 topic[NGX_IOTHUB_MQTT_RID_LEN + 80];
    size_t                 n;
    ngx_iothub_mqtt_str_t  rid;

    rid.data = tw->rid;
    rid.len = tw->rid_len;

    n = ngx_iothub_mqtt_twin_res_topic(topic, sizeof(topic), status, &rid,
                                       version);
    if (n == 0) {
        return NGX_OK;
    }

    /* QoS 0 as the SDKs subscribe: dropped when the device lags */
    return ngx_iothub_mqtt_send_publish(tw->ctx, topic, n, body, len, 0, 0);
}


/*
 * The Node SDK looks at the body, not the status (mqtt.md 7): an error
 * body carries "errorCode".
 */

static ngx_int_t
ngx_iothub_mqtt_twin_error(ngx_iothub_mqtt_twin_t *tw, ngx_uint_t status,
    ngx_uint_t code, const char *message)
{
    u_char  body[NGX_IOTHUB_TWIN_ERROR_LEN], *last;

    last = ngx_iothub_twin_error_body(body, code, message);

    return ngx_iothub_mqtt_twin_answer(tw, status, -1, body, last - body);
}


/* a desired patch for the session, sent as a notification (mqtt.md 7) */

void
ngx_iothub_mqtt_desired(ngx_iothub_session_t *s, ngx_int_t version,
    ngx_str_t *patch)
{
    u_char  topic[80];
    size_t  n;

    n = ngx_iothub_mqtt_twin_desired_topic(topic, sizeof(topic), version);

    (void) ngx_iothub_mqtt_send_publish(s->data, topic, n, patch->data,
                                        patch->len, 0, 0);
}
