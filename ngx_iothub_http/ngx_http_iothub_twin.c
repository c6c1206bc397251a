
/*
 * nginx-iothub http module: device and module twins of the service API
 * (rest.md 7): GET, PATCH and PUT /twins/{id}[/modules/{moduleId}].
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_iothub_sas.h"
#include "ngx_http_iothub_module.h"


static void ngx_http_iothub_twin_done(ngx_iothub_twin_op_t *op);
static void ngx_http_iothub_twin_cleanup(void *data);
static ngx_int_t ngx_http_iothub_twin_error(ngx_http_request_t *r,
    ngx_iothub_twin_op_t *op);
static ngx_int_t ngx_http_iothub_twin_send(ngx_http_request_t *r,
    ngx_iothub_twin_op_t *op);


ngx_int_t
ngx_http_iothub_route_twin(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    ngx_iothub_twin_op_t  *op;

    if (!ngx_iothub_id_valid(ctx->seg[1].data, ctx->seg[1].len)
        || (ctx->nseg == 4
            && !ngx_iothub_id_valid(ctx->seg[3].data, ctx->seg[3].len)))
    {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid", "invalid id");
    }

    /* its own allocation: every other request's context stays small */
    op = ngx_http_iothub_op_alloc(r, sizeof(ngx_iothub_twin_op_t),
                                  ngx_http_iothub_twin_cleanup);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->hub = ctx->hub;
    op->log = r->connection->log;
    op->handler = ngx_http_iothub_twin_done;
    op->data = r;
    op->device_id = ctx->seg[1];

    if (ctx->nseg == 4) {
        op->module_id = ctx->seg[3];
    }

    switch (r->method) {

    case NGX_HTTP_GET:
        op->kind = NGX_IOTHUB_TWIN_GET;
        break;

    case NGX_HTTP_PATCH:
        op->kind = NGX_IOTHUB_TWIN_PATCH;
        break;

    default: /* NGX_HTTP_PUT */
        op->kind = NGX_IOTHUB_TWIN_REPLACE;
    }

    op->body = ctx->body;
    ngx_http_iothub_if_match(r, &op->if_match);

    return ngx_http_iothub_started(r, ngx_iothub_twin_run(op));
}


static void
ngx_http_iothub_twin_done(ngx_iothub_twin_op_t *op)
{
    ngx_http_request_t *r = op->data;

    ngx_int_t  rc;

    if (op->result == NGX_IOTHUB_TWIN_DONE) {
        rc = ngx_http_iothub_twin_send(r, op);

    } else {
        rc = ngx_http_iothub_twin_error(r, op);
    }

    ngx_http_iothub_finish(r, rc);
}


static ngx_int_t
ngx_http_iothub_twin_error(ngx_http_request_t *r, ngx_iothub_twin_op_t *op)
{
    switch (op->result) {

    case NGX_IOTHUB_TWIN_NOT_FOUND:
        if (op->module_id.len) {
            return ngx_http_iothub_error(r, NGX_HTTP_NOT_FOUND,
                                         "ModuleNotFound",
                                         "Module %V not registered on "
                                         "device %V", &op->module_id,
                                         &op->device_id);
        }

        return ngx_http_iothub_error(r, NGX_HTTP_NOT_FOUND, "DeviceNotFound",
                                     "Device %V not registered",
                                     &op->device_id);

    case NGX_IOTHUB_TWIN_ETAG_MISMATCH:
        return ngx_http_iothub_error(r, NGX_HTTP_PRECONDITION_FAILED,
                                     "PreconditionFailed",
                                     "the etag in If-Match does not match "
                                     "the twin's");

    case NGX_IOTHUB_TWIN_REFUSED:
        if (op->engine_rc == NGX_IOTHUB_TWIN_BAD_JSON) {
            return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                         "IotHubFormatError", "%s", op->err);
        }

        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid", "%s", op->err);

    case NGX_IOTHUB_TWIN_UNAVAILABLE:
        return ngx_http_iothub_unavailable(r);

    default:
        return ngx_http_iothub_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "ServerError", "internal error");
    }
}


static ngx_int_t
ngx_http_iothub_twin_send(ngx_http_request_t *r, ngx_iothub_twin_op_t *op)
{
    char                        etag[NGX_IOTHUB_TWIN_ETAG_LEN + 1];
    yajl_gen                    g;
    ngx_iothub_twin_identity_t  ti;

    ngx_iothub_twin_view_identity(&op->identity, op->twin.version, etag,
                                  &ti);

    g = ngx_http_iothub_json_gen(r);

    if (g == NULL
        || ngx_iothub_twin_service_view(&op->twin, &ti, g, op->err,
                                        sizeof(op->err))
           != NGX_IOTHUB_TWIN_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iothub_send_json(r, NGX_HTTP_OK, g, etag);
}


static void
ngx_http_iothub_twin_cleanup(void *data)
{
    ngx_iothub_twin_op_t *op = data;

    ngx_iothub_twin_cancel(op);
}
