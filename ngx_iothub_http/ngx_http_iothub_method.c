
/*
 * nginx-iothub http module: direct methods (rest.md 8).  The request is
 * checked here and handed to the method service (ngx_iothub_method.h),
 * whose result becomes the response.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_tree.h>

#include "ngx_iothub_json.h"
#include "ngx_iothub_sas.h"
#include "ngx_iothub_method.h"
#include "ngx_http_iothub_module.h"


#define NGX_HTTP_IOTHUB_METHOD_PAYLOAD_MAX  (128 * 1024)
#define NGX_HTTP_IOTHUB_METHOD_DEPTH_MAX    64


static ngx_int_t ngx_http_iothub_method_parse(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_iothub_method_op_t *op);
static ngx_int_t ngx_http_iothub_method_payload(ngx_http_request_t *r,
    ngx_iothub_method_op_t *op, const char *name, yajl_val payload);
static void ngx_http_iothub_method_done(ngx_iothub_method_op_t *op);
static ngx_int_t ngx_http_iothub_method_result(ngx_http_request_t *r,
    ngx_iothub_method_op_t *op);
static ngx_int_t ngx_http_iothub_method_reply(ngx_http_request_t *r,
    ngx_int_t status, u_char *payload, size_t len);
static ngx_int_t ngx_http_iothub_method_fail(ngx_http_request_t *r,
    ngx_uint_t status, ngx_uint_t code, const char *name,
    const char *message, ngx_uint_t timeout);
static void ngx_http_iothub_method_cleanup(void *data);


ngx_int_t
ngx_http_iothub_route_method(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    ngx_int_t                rc;
    ngx_pool_cleanup_t      *cln;
    ngx_iothub_method_op_t  *op;

    /* as the twin routes: the ids end up in Redis keys and in answers */

    if (!ngx_iothub_id_valid(ctx->seg[1].data, ctx->seg[1].len)
        || (ctx->nseg == 5
            && !ngx_iothub_id_valid(ctx->seg[3].data, ctx->seg[3].len)))
    {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid", "invalid id");
    }

    op = ngx_pcalloc(r->pool, sizeof(ngx_iothub_method_op_t));
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_iothub_method_parse(r, ctx, op);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_iothub_method_cleanup;
    cln->data = op;

    op->hub = ctx->hub;
    op->log = r->connection->log;
    op->handler = ngx_http_iothub_method_done;
    op->data = r;
    op->device_id = ctx->seg[1];

    if (ctx->nseg == 5) {
        op->module_id = ctx->seg[3];
    }

    rc = ngx_iothub_method_invoke(op);

    if (rc == NGX_DECLINED) {
        return ngx_http_iothub_method_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           503001, "ServiceUnavailable",
                                           "the hub's store is unavailable",
                                           0);
    }

    return (rc == NGX_OK) ? NGX_DONE : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/* NGX_DECLINED when the request is good, else the response's rc */

static ngx_int_t
ngx_http_iothub_method_parse(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_iothub_method_op_t *op)
{
    ngx_int_t                 rc;
    ngx_iothub_method_body_t  req;

    if (ctx->body.len > NGX_HTTP_IOTHUB_METHOD_PAYLOAD_MAX + 4096) {
        return ngx_http_iothub_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     "MessageTooLarge",
                                     "the method payload is over 128 KB");
    }

    switch (ngx_iothub_method_body_parse((char *) ctx->body.data,
                                            ctx->body.len, &req))
    {
    case NGX_IOTHUB_METHOD_BODY_OK:
        break;

    case NGX_IOTHUB_METHOD_BODY_TOO_DEEP:
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "the body nests too deep");

    case NGX_IOTHUB_METHOD_BODY_NOT_OBJECT:
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "IotHubFormatError",
                                     "the body is not a JSON object");

    case NGX_IOTHUB_METHOD_BODY_BAD_NAME:
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "methodName is missing or invalid");

    default: /* NGX_IOTHUB_METHOD_BODY_BAD_TIMEOUT */
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "responseTimeoutInSeconds must be 5 to "
                                     "300 and connectTimeoutInSeconds 0 to "
                                     "300");
    }

    op->response_timeout = (ngx_msec_t) req.response_timeout * 1000;
    op->connect_timeout = (ngx_msec_t) req.connect_timeout * 1000;

    rc = ngx_http_iothub_method_payload(r, op, req.name, req.payload);

    ngx_iothub_method_body_free(&req);

    return rc;
}


/* the method's name and its payload as JSON text, from the request pool */

static ngx_int_t
ngx_http_iothub_method_payload(ngx_http_request_t *r,
    ngx_iothub_method_op_t *op, const char *name, yajl_val payload)
{
    size_t                len;
    yajl_gen              g;
    const unsigned char  *json;

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_iothub_json_gen_value(g, payload) != yajl_gen_status_ok
        || yajl_gen_get_buf(g, &json, &len) != yajl_gen_status_ok)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (len > NGX_HTTP_IOTHUB_METHOD_PAYLOAD_MAX) {
        return ngx_http_iothub_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     "MessageTooLarge",
                                     "the method payload is over 128 KB");
    }

    /* the generator lives as long as the request: json stays valid */
    op->payload.data = (u_char *) json;
    op->payload.len = len;

    op->name.len = ngx_strlen(name);
    op->name.data = ngx_pnalloc(r->pool, op->name.len);
    if (op->name.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(op->name.data, name, op->name.len);

    return NGX_DECLINED;
}


static void
ngx_http_iothub_method_done(ngx_iothub_method_op_t *op)
{
    ngx_http_request_t  *r;

    r = op->data;

    ngx_http_iothub_finish(r, ngx_http_iothub_method_result(r, op));
}


static ngx_int_t
ngx_http_iothub_method_result(ngx_http_request_t *r,
    ngx_iothub_method_op_t *op)
{
    switch (op->result) {

    case NGX_IOTHUB_METHOD_ANSWERED:
        return ngx_http_iothub_method_reply(r, op->status, op->answer.data,
                                            op->answer.len);

    case NGX_IOTHUB_METHOD_NOT_FOUND:
        if (op->module_id.len) {
            return ngx_http_iothub_error(r, NGX_HTTP_NOT_FOUND,
                                         "ModuleNotFound",
                                         "Module %V not registered on "
                                         "device %V", &op->module_id,
                                         &op->device_id);
        }

        return ngx_http_iothub_error(r, NGX_HTTP_NOT_FOUND,
                                     "DeviceNotFound",
                                     "Device %V not registered",
                                     &op->device_id);

    case NGX_IOTHUB_METHOD_NOT_ONLINE:
        return ngx_http_iothub_method_fail(r, NGX_HTTP_NOT_FOUND, 404103,
                                           "DeviceNotOnline",
                                           "The operation failed because "
                                           "the requested device isn't "
                                           "online or hasn't registered the "
                                           "direct method callback.",
                                           op->connect_timeout / 1000);

    case NGX_IOTHUB_METHOD_TIMED_OUT:
        return ngx_http_iothub_method_fail(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                           504101, "GatewayTimeout",
                                           "Timed out waiting for the "
                                           "response from device.",
                                           op->response_timeout / 1000);

    default: /* NGX_IOTHUB_METHOD_UNAVAILABLE */
        return ngx_http_iothub_method_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           503001, "ServiceUnavailable",
                                           "the hub's store is unavailable",
                                           0);
    }
}


/* 200 {"status":<device status>,"payload":<device JSON>} (rest.md 8) */

static ngx_int_t
ngx_http_iothub_method_reply(ngx_http_request_t *r, ngx_int_t status,
    u_char *payload, size_t len)
{
    yajl_val   v;
    yajl_gen   g;
    u_char    *json;

    json = ngx_pnalloc(r->pool, len + 1);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(json, payload, len);
    json[len] = '\0';

    v = NULL;

    if (len && !ngx_iothub_json_too_deep((char *) json, len,
                                         NGX_HTTP_IOTHUB_METHOD_DEPTH_MAX))
    {
        v = yajl_tree_parse((char *) json, NULL, 0);
    }

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL) {
        yajl_tree_free(v);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (u_char *) "status", 6);
    yajl_gen_integer(g, status);
    yajl_gen_string(g, (u_char *) "payload", 7);

    if (v) {
        (void) ngx_iothub_json_gen_value(g, v);

    } else if (len) {
        /* not JSON: passed on as a string */
        yajl_gen_string(g, json, len);

    } else {
        yajl_gen_null(g);
    }

    yajl_gen_map_close(g);
    yajl_tree_free(v);

    return ngx_http_iothub_send_json(r, NGX_HTTP_OK, g, NULL);
}


/* the nested error envelope of direct methods (rest.md 2.1) */

static ngx_int_t
ngx_http_iothub_method_fail(ngx_http_request_t *r, ngx_uint_t status,
    ngx_uint_t code, const char *name, const char *message,
    ngx_uint_t timeout)
{
    u_char     inner[640], now[40], *last;
    yajl_gen   g;
    ngx_str_t  value;

    ngx_iothub_time_now(now, sizeof(now));

    last = ngx_snprintf(inner, sizeof(inner),
                        "{\"errorCode\":%ui,\"trackingId\":\"%08xD%08xD\","
                        "\"message\":\"%s\",\"info\":{\"timeout\":"
                        "\"%02ui:%02ui:%02ui\"},\"timestampUtc\":\"%s\"}",
                        code, (uint32_t) ngx_random(),
                        (uint32_t) ngx_random(), message,
                        timeout / 3600, timeout / 60 % 60, timeout % 60, now);

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (u_char *) "Message", 7);
    yajl_gen_string(g, inner, last - inner);
    yajl_gen_string(g, (u_char *) "ExceptionMessage", 16);
    yajl_gen_string(g, (u_char *) "", 0);
    yajl_gen_map_close(g);

    value.data = (u_char *) name;
    value.len = ngx_strlen(name);

    if (ngx_http_iothub_add_header(r, "iothub-errorcode", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iothub_send_json(r, status, g, NULL);
}


static void
ngx_http_iothub_method_cleanup(void *data)
{
    ngx_iothub_method_op_t *op = data;

    ngx_iothub_method_cancel(op);
}
