
/*
 * nginx-iothub http module: cloud-to-device messages for back ends.
 *
 *   POST   /devices/{id}/messages/devicebound   send (an extension: IoT
 *          Hub's own service path is AMQP); the body is the message,
 *          iothub-* headers its properties (docs/rest-extensions.md)
 *   DELETE /devices/{id}/commands                purge the queue
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_iothub_sas.h"
#include "ngx_iothub_c2d.h"
#include "ngx_iothub_http_c2d_headers.h"
#include "ngx_http_iothub_module.h"


#if (NGX_IOTHUB_C2D_HEADERS_MAX != NGX_IOTHUB_D2C_MAX_PROPERTIES          \
     || NGX_IOTHUB_C2D_HEADERS_BODY_MAX != NGX_IOTHUB_C2D_MAX_SIZE)
#error "ngx_iothub_http_c2d_headers.h's limits differ from the service's"
#endif


static ngx_int_t ngx_http_iothub_c2d_message(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_iothub_c2d_op_t *op);
static ngx_int_t ngx_http_iothub_c2d_headers(ngx_http_request_t *r,
    ngx_iothub_c2d_headers_t *h);
static ngx_int_t ngx_http_iothub_c2d_properties(ngx_http_request_t *r,
    ngx_iothub_c2d_headers_t *h, ngx_iothub_message_t *msg);
static ngx_iothub_c2d_op_t *ngx_http_iothub_c2d_op(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
static void ngx_http_iothub_c2d_sent(ngx_iothub_c2d_op_t *op);
static void ngx_http_iothub_c2d_purged(ngx_iothub_c2d_op_t *op);
static ngx_int_t ngx_http_iothub_c2d_failed(ngx_http_request_t *r,
    ngx_iothub_c2d_op_t *op);
static void ngx_http_iothub_c2d_cleanup(void *data);


ngx_int_t
ngx_http_iothub_route_c2d_send(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    ngx_int_t              rc;
    ngx_iothub_c2d_op_t   *op;
    ngx_iothub_message_t  *msg;

    op = ngx_http_iothub_c2d_op(r, ctx);
    msg = ngx_palloc(r->pool, sizeof(ngx_iothub_message_t));

    if (op == NULL || msg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->msg = msg;

    rc = ngx_http_iothub_c2d_message(r, ctx, op);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    return ngx_http_iothub_started(r, ngx_iothub_c2d_send(op));
}


ngx_int_t
ngx_http_iothub_route_c2d_purge(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    ngx_iothub_c2d_op_t  *op;

    if (!ngx_iothub_id_valid(ctx->seg[1].data, ctx->seg[1].len)) {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid", "invalid device id");
    }

    op = ngx_http_iothub_c2d_op(r, ctx);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iothub_started(r, ngx_iothub_c2d_purge(op));
}


/* an operation on the device's queue, cancelled if the request ends first */

static ngx_iothub_c2d_op_t *
ngx_http_iothub_c2d_op(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    ngx_iothub_c2d_op_t  *op;

    op = ngx_http_iothub_op_alloc(r, sizeof(ngx_iothub_c2d_op_t),
                                  ngx_http_iothub_c2d_cleanup);
    if (op == NULL) {
        return NULL;
    }

    op->hub = ctx->hub;
    op->log = r->connection->log;
    op->handler = (r->method == NGX_HTTP_DELETE) ? ngx_http_iothub_c2d_purged
                                                 : ngx_http_iothub_c2d_sent;
    op->data = r;
    op->device_id = ctx->seg[1];

    return op;
}


/* NGX_DECLINED when the message is good, else the response's rc */

static ngx_int_t
ngx_http_iothub_c2d_message(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_iothub_c2d_op_t *op)
{
    ngx_iothub_c2d_headers_t  *h;

    if (!ngx_iothub_id_valid(ctx->seg[1].data, ctx->seg[1].len)) {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid", "invalid device id");
    }

    h = ngx_palloc(r->pool, sizeof(ngx_iothub_c2d_headers_t));
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_iothub_c2d_headers(r, h) != NGX_OK) {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "too many or invalid properties");
    }

    switch (ngx_iothub_c2d_headers_check(h, ctx->body.len)) {

    case NGX_IOTHUB_C2D_HEADERS_OK:
        break;

    case NGX_IOTHUB_C2D_HEADERS_BAD_ACK:
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "iothub-ack must be none, positive, "
                                     "negative or full");

    case NGX_IOTHUB_C2D_HEADERS_BAD_EXPIRY:
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "iothub-expiry is not an HTTP "
                                     "date");

    default: /* NGX_IOTHUB_C2D_HEADERS_TOO_LARGE */
        return ngx_http_iothub_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     "MessageTooLarge",
                                     "a cloud-to-device message holds at "
                                     "most 64 KB");
    }

    op->ack.data = (u_char *) h->ack;
    op->ack.len = ngx_strlen(h->ack);
    op->expiry = h->expiry;

    op->msg->n = 0;
    op->msg->body = ctx->body;

    return ngx_http_iothub_c2d_properties(r, h, op->msg);
}


/* hands every request header to the pure reader, in the order sent */

static ngx_int_t
ngx_http_iothub_c2d_headers(ngx_http_request_t *r,
    ngx_iothub_c2d_headers_t *h)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *hd;

    ngx_iothub_c2d_headers_init(h);

    part = &r->headers_in.headers.part;
    hd = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            hd = part->elts;
            i = 0;
        }

        if (ngx_iothub_c2d_headers_add(h, hd[i].key.data, hd[i].key.len,
                                       hd[i].value.data, hd[i].value.len)
            != NGX_IOTHUB_C2D_HEADERS_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* the message's fields: application names get their "u:" prefix here */

static ngx_int_t
ngx_http_iothub_c2d_properties(ngx_http_request_t *r,
    ngx_iothub_c2d_headers_t *h, ngx_iothub_message_t *msg)
{
    u_char                     *name;
    size_t                      len;
    ngx_uint_t                  i;
    ngx_iothub_c2d_property_t  *pr;

    for (i = 0; i < h->n; i++) {
        pr = &h->prop[i];
        len = ngx_strlen(pr->field);
        name = (u_char *) pr->field;

        if (pr->name_len != 0) {
            name = ngx_pnalloc(r->pool, len + pr->name_len);
            if (name == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ngx_memcpy(ngx_cpymem(name, pr->field, len), pr->name,
                       pr->name_len);
            len += pr->name_len;
        }

        /* cannot fail: the reader keeps to the message's capacity */
        (void) ngx_iothub_message_add(msg, (char *) name, len,
                                      (u_char *) pr->value, pr->value_len);
    }

    return NGX_DECLINED;
}


static void
ngx_http_iothub_c2d_sent(ngx_iothub_c2d_op_t *op)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = op->data;

    if (op->result == NGX_IOTHUB_C2D_DONE) {
        rc = ngx_http_iothub_send_empty(r, NGX_HTTP_NO_CONTENT);

    } else {
        rc = ngx_http_iothub_c2d_failed(r, op);
    }

    ngx_http_iothub_finish(r, rc);
}


static void
ngx_http_iothub_c2d_purged(ngx_iothub_c2d_op_t *op)
{
    yajl_gen             g;
    ngx_http_request_t  *r;

    r = op->data;

    if (op->result != NGX_IOTHUB_C2D_DONE) {
        ngx_http_iothub_finish(r, ngx_http_iothub_c2d_failed(r, op));
        return;
    }

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL) {
        ngx_http_iothub_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (u_char *) "deviceId", 8);
    yajl_gen_string(g, op->device_id.data, op->device_id.len);
    yajl_gen_string(g, (u_char *) "moduleId", 8);
    yajl_gen_null(g);
    yajl_gen_string(g, (u_char *) "totalMessagesPurged", 19);
    yajl_gen_integer(g, op->count);
    yajl_gen_map_close(g);

    ngx_http_iothub_finish(r, ngx_http_iothub_send_json(r, NGX_HTTP_OK, g,
                                                        NULL));
}


static ngx_int_t
ngx_http_iothub_c2d_failed(ngx_http_request_t *r, ngx_iothub_c2d_op_t *op)
{
    switch (op->result) {

    case NGX_IOTHUB_C2D_UNAVAILABLE:
        return ngx_http_iothub_unavailable(r);

    case NGX_IOTHUB_C2D_NOT_FOUND:
        return ngx_http_iothub_error(r, NGX_HTTP_NOT_FOUND, "DeviceNotFound",
                                     "Device %V not registered",
                                     &op->device_id);

    case NGX_IOTHUB_C2D_FULL:
        return ngx_http_iothub_error(r, NGX_HTTP_FORBIDDEN,
                                     "DeviceMaximumQueueDepthExceeded",
                                     "the queue of device %V is full",
                                     &op->device_id);

    default:
        return ngx_http_iothub_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "ServerError", "internal error");
    }
}


static void
ngx_http_iothub_c2d_cleanup(void *data)
{
    ngx_iothub_c2d_op_t *op = data;

    ngx_iothub_c2d_cancel(op);
}
