
/*
 * nginx-iothub: the hub's cloud-to-device feedback over REST (rest.md:
 * the HTTP alternative to the AMQP feedback receiver):
 *   GET    /messages/serviceBound/feedback                     a batch
 *   DELETE /messages/serviceBound/feedback/{lockToken}         complete
 *   POST   /messages/serviceBound/feedback/{lockToken}/abandon abandon
 * A batch is 200 with the JSON array of records and ETag the lock token,
 * or 204 when none is due; a lock unknown or expired is 412.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_iothub_module.h"
#include "ngx_iothub_sbstream.h"


static ngx_iothub_sbstream_op_t *ngx_http_iothub_feedback_op(
    ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx,
    ngx_iothub_sbstream_handler_pt handler);
static void ngx_http_iothub_feedback_received(ngx_iothub_sbstream_op_t *op);
static ngx_int_t ngx_http_iothub_feedback_send(ngx_http_request_t *r,
    ngx_iothub_sbstream_op_t *op);
static void ngx_http_iothub_feedback_settled(ngx_iothub_sbstream_op_t *op);
static ngx_int_t ngx_http_iothub_feedback_failed(ngx_http_request_t *r,
    ngx_iothub_sbstream_op_t *op);
static void ngx_http_iothub_feedback_cleanup(void *data);


ngx_int_t
ngx_http_iothub_route_feedback(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    ngx_iothub_sbstream_op_t  *op;

    op = ngx_http_iothub_feedback_op(r, ctx,
                                     ngx_http_iothub_feedback_received);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iothub_started(r, ngx_iothub_sbstream_receive(op));
}


ngx_int_t
ngx_http_iothub_route_feedback_lock(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    ngx_iothub_sbstream_op_t  *op;

    op = ngx_http_iothub_feedback_op(r, ctx,
                                     ngx_http_iothub_feedback_settled);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the lock token, as the ETag of the batch gave it */
    op->lock = ctx->seg[3];

    return ngx_http_iothub_started(r,
               ngx_iothub_sbstream_settle(op, r->method == NGX_HTTP_DELETE));
}


/* an operation on the feedback queue, cancelled if the request ends first */

static ngx_iothub_sbstream_op_t *
ngx_http_iothub_feedback_op(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx,
    ngx_iothub_sbstream_handler_pt handler)
{
    ngx_iothub_sbstream_op_t  *op;

    op = ngx_http_iothub_op_alloc(r, sizeof(ngx_iothub_sbstream_op_t),
                                  ngx_http_iothub_feedback_cleanup);
    if (op == NULL) {
        return NULL;
    }

    op->stream = &ngx_iothub_sbstream_feedback;
    op->hub = ctx->hub;
    op->log = r->connection->log;
    op->pool = r->pool;
    op->handler = handler;
    op->data = r;

    return op;
}


static void
ngx_http_iothub_feedback_received(ngx_iothub_sbstream_op_t *op)
{
    ngx_http_request_t  *r;

    r = op->data;

    switch (op->result) {

    case NGX_IOTHUB_SBSTREAM_OK:
        ngx_http_iothub_finish(r, ngx_http_iothub_feedback_send(r, op));
        return;

    case NGX_IOTHUB_SBSTREAM_EMPTY:
        ngx_http_iothub_finish(r, ngx_http_iothub_send_empty(r,
                                                      NGX_HTTP_NO_CONTENT));
        return;

    default:
        ngx_http_iothub_finish(r, ngx_http_iothub_feedback_failed(r, op));
    }
}


/* 200: the records, ETag and iothub-messageid the lock token */

static ngx_int_t
ngx_http_iothub_feedback_send(ngx_http_request_t *r,
    ngx_iothub_sbstream_op_t *op)
{
    ngx_buf_t  *b;
    ngx_str_t   etag;

    etag.len = op->lock.len + 2;
    etag.data = ngx_pnalloc(r->pool, etag.len);
    b = ngx_calloc_buf(r->pool);

    if (etag.data == NULL || b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_sprintf(etag.data, "\"%V\"", &op->lock);

    if (ngx_http_iothub_add_header(r, "ETag", &etag) != NGX_OK
        || ngx_http_iothub_add_header(r, "iothub-messageid", &op->lock)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = op->body.data;
    b->last = op->body.data + op->body.len;
    b->memory = 1;

    ngx_str_set(&r->headers_out.content_type,
                "application/vnd.microsoft.iothub.feedback.json");

    return ngx_http_iothub_send_buf(r, NGX_HTTP_OK, b);
}


static void
ngx_http_iothub_feedback_settled(ngx_iothub_sbstream_op_t *op)
{
    ngx_http_request_t  *r;

    r = op->data;

    if (op->result == NGX_IOTHUB_SBSTREAM_OK) {
        ngx_http_iothub_finish(r, ngx_http_iothub_send_empty(r,
                                                      NGX_HTTP_NO_CONTENT));
        return;
    }

    ngx_http_iothub_finish(r, ngx_http_iothub_feedback_failed(r, op));
}


static ngx_int_t
ngx_http_iothub_feedback_failed(ngx_http_request_t *r,
    ngx_iothub_sbstream_op_t *op)
{
    switch (op->result) {

    case NGX_IOTHUB_SBSTREAM_UNAVAILABLE:
        return ngx_http_iothub_unavailable(r);

    case NGX_IOTHUB_SBSTREAM_LOCK_LOST:
        return ngx_http_iothub_error(r, NGX_HTTP_PRECONDITION_FAILED,
                                     "DeviceMessageLockLost",
                                     "the feedback lock was lost or is "
                                     "unknown");

    default:
        return ngx_http_iothub_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "ServerError", "internal error");
    }
}


static void
ngx_http_iothub_feedback_cleanup(void *data)
{
    ngx_iothub_sbstream_op_t *op = data;

    ngx_iothub_sbstream_cancel(op);
}
