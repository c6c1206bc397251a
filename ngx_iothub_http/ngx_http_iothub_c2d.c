
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
static void ngx_http_iothub_c2d_sent(void *data, redisReply *reply);
static void ngx_http_iothub_c2d_purged(void *data, redisReply *reply);
static ngx_int_t ngx_http_iothub_c2d_failed(ngx_http_request_t *r,
    redisReply *reply);
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
    uint64_t               expiry;
    ngx_int_t              rc;
    ngx_str_t              ack;
    ngx_pool_cleanup_t    *cln;
    ngx_iothub_message_t   msg;

    expiry = 0;

    rc = ngx_http_iothub_c2d_message(r, ctx, &msg, &ack, &expiry);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->call = ngx_iothub_c2d_send(ctx->hub, &ctx->seg[1], &msg, &ack,
                                    expiry, ngx_http_iothub_c2d_sent, r);

    cln->handler = ngx_http_iothub_c2d_cleanup;
    cln->data = ctx;

    if (ctx->call == NULL) {
        return ngx_http_iothub_unavailable(r);
    }

    return NGX_DONE;
}


ngx_int_t
ngx_http_iothub_route_c2d_purge(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    ngx_pool_cleanup_t  *cln;

    if (!ngx_iothub_id_valid(ctx->seg[1].data, ctx->seg[1].len)) {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid", "invalid device id");
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->call = ngx_iothub_c2d_purge(ctx->hub, &ctx->seg[1],
                                     ngx_http_iothub_c2d_purged, r);

    cln->handler = ngx_http_iothub_c2d_cleanup;
    cln->data = ctx;

    if (ctx->call == NULL) {
        return ngx_http_iothub_unavailable(r);
    }

    return NGX_DONE;
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
ngx_http_iothub_c2d_sent(void *data, redisReply *reply)
{
    ngx_http_request_t *r = data;

    ngx_http_iothub_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iothub_module);
    ctx->call = NULL;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        ngx_http_iothub_finish(r, ngx_http_iothub_c2d_failed(r, reply));
        return;
    }

    ngx_http_iothub_finish(r,
                           ngx_http_iothub_send_empty(r, NGX_HTTP_NO_CONTENT));
}


static void
ngx_http_iothub_c2d_purged(void *data, redisReply *reply)
{
    ngx_http_request_t *r = data;

    yajl_gen                g;
    ngx_http_iothub_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iothub_module);
    ctx->call = NULL;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        ngx_http_iothub_finish(r, ngx_http_iothub_c2d_failed(r, reply));
        return;
    }

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL) {
        ngx_http_iothub_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (u_char *) "deviceId", 8);
    yajl_gen_string(g, ctx->seg[1].data, ctx->seg[1].len);
    yajl_gen_string(g, (u_char *) "moduleId", 8);
    yajl_gen_null(g);
    yajl_gen_string(g, (u_char *) "totalMessagesPurged", 19);
    yajl_gen_integer(g, reply->integer);
    yajl_gen_map_close(g);

    ngx_http_iothub_finish(r, ngx_http_iothub_send_json(r, NGX_HTTP_OK, g,
                                                        NULL));
}


static ngx_int_t
ngx_http_iothub_c2d_failed(ngx_http_request_t *r, redisReply *reply)
{
    ngx_http_iothub_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iothub_module);

    if (reply == NULL) {
        return ngx_http_iothub_unavailable(r);
    }

    if (reply->type == REDIS_REPLY_ERROR
        && ngx_strncmp(reply->str, "NOT_FOUND", 9) == 0)
    {
        return ngx_http_iothub_error(r, NGX_HTTP_NOT_FOUND, "DeviceNotFound",
                                     "Device %V not registered",
                                     &ctx->seg[1]);
    }

    if (reply->type == REDIS_REPLY_ERROR
        && ngx_strncmp(reply->str, "FULL", 4) == 0)
    {
        return ngx_http_iothub_error(r, NGX_HTTP_FORBIDDEN,
                                     "DeviceMaximumQueueDepthExceeded",
                                     "the queue of device %V is full",
                                     &ctx->seg[1]);
    }

    return ngx_http_iothub_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "ServerError", "internal error");
}


static void
ngx_http_iothub_c2d_cleanup(void *data)
{
    ngx_http_iothub_ctx_t *ctx = data;

    if (ctx->call) {
        ngx_iothub_redis_cancel(ctx->call);
        ctx->call = NULL;
    }
}
