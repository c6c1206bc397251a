
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
#include "ngx_http_iothub_module.h"


typedef struct {
    const char                 *header;
    const char                 *field;
} ngx_http_iothub_c2d_header_t;


static ngx_int_t ngx_http_iothub_c2d_message(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_iothub_message_t *msg, ngx_str_t *ack,
    uint64_t *expiry);
static ngx_int_t ngx_http_iothub_c2d_properties(ngx_http_request_t *r,
    ngx_iothub_message_t *msg, ngx_str_t *ack, ngx_str_t *expiry);
static ngx_iothub_c2d_op_t *ngx_http_iothub_c2d_op(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
static void ngx_http_iothub_c2d_sent(ngx_iothub_c2d_op_t *op);
static void ngx_http_iothub_c2d_purged(ngx_iothub_c2d_op_t *op);
static ngx_int_t ngx_http_iothub_c2d_failed(ngx_http_request_t *r,
    ngx_iothub_c2d_op_t *op);
static void ngx_http_iothub_c2d_cleanup(void *data);


static ngx_http_iothub_c2d_header_t  ngx_http_iothub_c2d_headers[] = {
    { "iothub-messageid", "p:message-id" },
    { "iothub-correlationid", "p:correlation-id" },
    { "iothub-userid", "p:user-id" },
    { "iothub-contenttype", "p:content-type" },
    { "iothub-contentencoding", "p:content-encoding" },
    { NULL, NULL }
};


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

    rc = ngx_http_iothub_c2d_message(r, ctx, msg, &op->ack, &op->expiry);
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
    ngx_pool_cleanup_t   *cln;
    ngx_iothub_c2d_op_t  *op;

    op = ngx_pcalloc(r->pool, sizeof(ngx_iothub_c2d_op_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (op == NULL || cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_iothub_c2d_cleanup;
    cln->data = op;

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
    ngx_http_iothub_ctx_t *ctx, ngx_iothub_message_t *msg, ngx_str_t *ack,
    uint64_t *expiry)
{
    time_t     t;
    ngx_str_t  exp;

    if (!ngx_iothub_id_valid(ctx->seg[1].data, ctx->seg[1].len)) {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid", "invalid device id");
    }

    msg->n = 0;
    msg->body = ctx->body;

    if (ngx_http_iothub_c2d_properties(r, msg, ack, &exp) != NGX_OK) {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "too many or invalid properties");
    }

    if (ack->len == 0) {
        ngx_str_set(ack, "none");

    } else if (!(ack->len == 4 && ngx_strncmp(ack->data, "none", 4) == 0)
               && !(ack->len == 4 && ngx_strncmp(ack->data, "full", 4) == 0)
               && !(ack->len == 8
                    && ngx_strncmp(ack->data, "positive", 8) == 0)
               && !(ack->len == 8
                    && ngx_strncmp(ack->data, "negative", 8) == 0))
    {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "iothub-ack must be none, positive, "
                                     "negative or full");
    }

    *expiry = 0;

    if (exp.len) {
        /* RFC 1123 as HTTP dates, ISO 8601 is not parsed by nginx */
        t = ngx_parse_http_time(exp.data, exp.len);

        if (t == NGX_ERROR) {
            return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                         "ArgumentInvalid",
                                         "iothub-expiry is not an HTTP "
                                         "date");
        }

        *expiry = (uint64_t) t * 1000;
    }

    if (msg->body.len > NGX_IOTHUB_C2D_MAX_SIZE) {
        return ngx_http_iothub_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     "MessageTooLarge",
                                     "a cloud-to-device message holds at "
                                     "most 64 KB");
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_iothub_c2d_properties(ngx_http_request_t *r,
    ngx_iothub_message_t *msg, ngx_str_t *ack, ngx_str_t *expiry)
{
    u_char                        *name;
    ngx_uint_t                     i;
    ngx_list_part_t               *part;
    ngx_table_elt_t               *h;
    ngx_http_iothub_c2d_header_t  *ch;

    ngx_str_null(ack);
    ngx_str_null(expiry);

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len > 11
            && ngx_strncasecmp(h[i].key.data, (u_char *) "iothub-app-", 11)
               == 0)
        {
            name = ngx_pnalloc(r->pool, h[i].key.len - 9);
            if (name == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(ngx_cpymem(name, "u:", 2), h[i].key.data + 11,
                       h[i].key.len - 11);

            if (ngx_iothub_message_add(msg, (char *) name,
                                       h[i].key.len - 9, h[i].value.data,
                                       h[i].value.len)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            continue;
        }

        if (h[i].key.len == 10
            && ngx_strncasecmp(h[i].key.data, (u_char *) "iothub-ack", 10)
               == 0)
        {
            *ack = h[i].value;
            continue;
        }

        if (h[i].key.len == 13
            && ngx_strncasecmp(h[i].key.data, (u_char *) "iothub-expiry",
                               13) == 0)
        {
            *expiry = h[i].value;
            continue;
        }

        for (ch = ngx_http_iothub_c2d_headers; ch->header; ch++) {
            if (h[i].key.len == ngx_strlen(ch->header)
                && ngx_strncasecmp(h[i].key.data, (u_char *) ch->header,
                                   h[i].key.len) == 0
                && ngx_iothub_message_add(msg, ch->field,
                                          ngx_strlen(ch->field),
                                          h[i].value.data, h[i].value.len)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
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
