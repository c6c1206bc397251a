
/*
 * nginx-iothub http module: the identity registry routes (rest.md 3-6).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_iothub_sas.h"
#include "ngx_http_iothub_module.h"


#define NGX_HTTP_IOTHUB_LIST_MAX  1000


typedef struct ngx_http_iothub_bulk_s  ngx_http_iothub_bulk_t;

typedef struct {
    ngx_iothub_registry_op_t     op;
    ngx_iothub_bulk_entry_t     *entry;
    ngx_http_iothub_bulk_t      *bulk;
    /* "update" is an upsert: it creates after a DeviceNotFound */
    unsigned                     creating:1;
} ngx_http_iothub_bulk_op_t;


struct ngx_http_iothub_bulk_s {
    ngx_http_request_t          *request;
    ngx_iothub_bulk_entry_t     *entries;
    ngx_http_iothub_bulk_op_t   *ops;
    ngx_uint_t                   n;
    ngx_uint_t                   pending;
};


static ngx_int_t ngx_http_iothub_bad_id(ngx_http_request_t *r,
    ngx_str_t *id);
static ngx_int_t ngx_http_iothub_put_identity(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_str_t *device_id, ngx_str_t *module_id);
static ngx_int_t ngx_http_iothub_check_ids(ngx_http_request_t *r,
    ngx_iothub_identity_t *id, ngx_str_t *device_id, ngx_str_t *module_id);
static ngx_int_t ngx_http_iothub_identity_error(ngx_http_request_t *r,
    ngx_iothub_identity_rc_e rc, const char *err);
static void ngx_http_iothub_identity_done(ngx_iothub_registry_op_t *op);
static ngx_int_t ngx_http_iothub_op_error(ngx_http_request_t *r,
    ngx_iothub_registry_op_t *op);
static void ngx_http_iothub_deleted(ngx_iothub_registry_op_t *op);
static void ngx_http_iothub_list_done(ngx_iothub_registry_op_t *op);
static void ngx_http_iothub_stats_done(ngx_iothub_registry_op_t *op);
static ngx_int_t ngx_http_iothub_list_top(ngx_http_request_t *r,
    ngx_uint_t *top);
static ngx_int_t ngx_http_iothub_bulk(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
static ngx_int_t ngx_http_iothub_bulk_start(ngx_http_iothub_bulk_op_t *bop);
static void ngx_http_iothub_bulk_done(ngx_iothub_registry_op_t *op);
static ngx_int_t ngx_http_iothub_bulk_respond(ngx_http_request_t *r,
    ngx_http_iothub_bulk_t *bulk);
static void ngx_http_iothub_bulk_gen_error(yajl_gen g,
    ngx_http_iothub_bulk_op_t *bop);
static void ngx_http_iothub_bulk_cleanup(void *data);


ngx_int_t
ngx_http_iothub_route_device(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    ngx_str_t  *id, etag, none;

    id = &ctx->seg[1];
    ngx_str_null(&none);

    if (!ngx_iothub_id_valid(id->data, id->len)) {
        return ngx_http_iothub_bad_id(r, id);
    }

    switch (r->method) {

    case NGX_HTTP_GET:
        ctx->op.handler = ngx_http_iothub_identity_done;
        return ngx_http_iothub_started(r,
                   ngx_iothub_registry_get(&ctx->op, id, &none));

    case NGX_HTTP_PUT:
        return ngx_http_iothub_put_identity(r, ctx, id, &none);

    default: /* NGX_HTTP_DELETE */
        ngx_http_iothub_if_match(r, &etag);
        ctx->op.handler = ngx_http_iothub_deleted;
        return ngx_http_iothub_started(r,
                   ngx_iothub_registry_delete(&ctx->op, id, &none, &etag));
    }
}


ngx_int_t
ngx_http_iothub_route_module(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    ngx_str_t  *id, *mid, etag;

    id = &ctx->seg[1];
    mid = &ctx->seg[3];

    if (!ngx_iothub_id_valid(id->data, id->len)) {
        return ngx_http_iothub_bad_id(r, id);
    }

    if (!ngx_iothub_id_valid(mid->data, mid->len)) {
        return ngx_http_iothub_bad_id(r, mid);
    }

    switch (r->method) {

    case NGX_HTTP_GET:
        ctx->op.handler = ngx_http_iothub_identity_done;
        return ngx_http_iothub_started(r,
                   ngx_iothub_registry_get(&ctx->op, id, mid));

    case NGX_HTTP_PUT:
        return ngx_http_iothub_put_identity(r, ctx, id, mid);

    default: /* NGX_HTTP_DELETE */
        ngx_http_iothub_if_match(r, &etag);
        ctx->op.handler = ngx_http_iothub_deleted;
        return ngx_http_iothub_started(r,
                   ngx_iothub_registry_delete(&ctx->op, id, mid, &etag));
    }
}


ngx_int_t
ngx_http_iothub_route_modules(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    if (!ngx_iothub_id_valid(ctx->seg[1].data, ctx->seg[1].len)) {
        return ngx_http_iothub_bad_id(r, &ctx->seg[1]);
    }

    ctx->op.handler = ngx_http_iothub_list_done;

    return ngx_http_iothub_started(r,
               ngx_iothub_registry_list(&ctx->op, &ctx->seg[1], 0));
}


ngx_int_t
ngx_http_iothub_route_devices(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    ngx_int_t   rc;
    ngx_uint_t  top;

    if (r->method == NGX_HTTP_POST) {
        return ngx_http_iothub_bulk(r, ctx);
    }

    rc = ngx_http_iothub_list_top(r, &top);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    ctx->op.handler = ngx_http_iothub_list_done;

    return ngx_http_iothub_started(r,
               ngx_iothub_registry_list(&ctx->op, NULL, top));
}


ngx_int_t
ngx_http_iothub_route_statistics(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    /* /statistics/devices or /statistics/service: one script counts both */
    ctx->op.handler = ngx_http_iothub_stats_done;

    return ngx_http_iothub_started(r, ngx_iothub_registry_stats(&ctx->op));
}


static ngx_int_t
ngx_http_iothub_bad_id(ngx_http_request_t *r, ngx_str_t *id)
{
    return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST, "ArgumentInvalid",
                                 "invalid id \"%V\": 1 to 128 letters, "
                                 "digits or -.+%%_#*?!(),=@$':", id);
}


/* PUT creates without If-Match and replaces with it (rest.md 1.1) */

static ngx_int_t
ngx_http_iothub_put_identity(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_str_t *device_id, ngx_str_t *module_id)
{
    char                       err[256];
    ngx_str_t                  etag;
    ngx_iothub_identity_t     *id;
    ngx_iothub_identity_rc_e   rc;

    id = ngx_palloc(r->pool, sizeof(ngx_iothub_identity_t));
    if (id == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_iothub_identity_parse(id, (char *) ctx->body.data,
                                   ctx->body.len, module_id->len > 0,
                                   err, sizeof(err));
    if (rc != NGX_IOTHUB_IDENTITY_OK) {
        return ngx_http_iothub_identity_error(r, rc, err);
    }

    if (ngx_http_iothub_check_ids(r, id, device_id, module_id) != NGX_OK) {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "the id in the body differs from "
                                     "the id in the path");
    }

    ctx->op.handler = ngx_http_iothub_identity_done;

    if (r->headers_in.if_match == NULL) {
        return ngx_http_iothub_started(r,
                   ngx_iothub_registry_create(&ctx->op, id));
    }

    ngx_http_iothub_if_match(r, &etag);

    return ngx_http_iothub_started(r,
               ngx_iothub_registry_update(&ctx->op, id, &etag));
}


/* ids in the body are optional; when given they must equal the path's */

static ngx_int_t
ngx_http_iothub_check_ids(ngx_http_request_t *r, ngx_iothub_identity_t *id,
    ngx_str_t *device_id, ngx_str_t *module_id)
{
    if ((id->device_id[0]
         && (ngx_strlen(id->device_id) != device_id->len
             || ngx_strncmp(id->device_id, device_id->data, device_id->len)))
        || (id->module_id[0]
            && (ngx_strlen(id->module_id) != module_id->len
                || ngx_strncmp(id->module_id, module_id->data,
                               module_id->len))))
    {
        return NGX_DECLINED;
    }

    /* a device's module id is empty, with no data (NULL) */

    if (device_id->len) {
        ngx_memcpy(id->device_id, device_id->data, device_id->len);
    }

    id->device_id[device_id->len] = '\0';

    if (module_id->len) {
        ngx_memcpy(id->module_id, module_id->data, module_id->len);
    }

    id->module_id[module_id->len] = '\0';

    return NGX_OK;
}


static ngx_int_t
ngx_http_iothub_identity_error(ngx_http_request_t *r,
    ngx_iothub_identity_rc_e rc, const char *err)
{
    switch (rc) {

    case NGX_IOTHUB_IDENTITY_BAD_JSON:
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "IotHubFormatError",
                                     "the body is not valid JSON: %s", err);

    case NGX_IOTHUB_IDENTITY_TOO_MANY:
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "TooManyDevices", "%s", err);

    case NGX_IOTHUB_IDENTITY_DUPLICATE:
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "DeviceDefinedMultipleTimes", "%s", err);

    case NGX_IOTHUB_IDENTITY_NO_MEMORY:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;

    default:
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid", "%s", err);
    }
}


ngx_int_t
ngx_http_iothub_registry_error(ngx_http_request_t *r,
    ngx_iothub_registry_op_t *op, ngx_str_t *device_id, ngx_str_t *module_id)
{
    switch (op->rc) {

    case NGX_IOTHUB_REGISTRY_NO_DEVICE:
        return ngx_http_iothub_error(r, NGX_HTTP_NOT_FOUND, "DeviceNotFound",
                                     "Device %V not registered", device_id);

    case NGX_IOTHUB_REGISTRY_NO_MODULE:
        return ngx_http_iothub_error(r, NGX_HTTP_NOT_FOUND, "ModuleNotFound",
                                     "Module %V not registered on device %V",
                                     module_id, device_id);

    case NGX_IOTHUB_REGISTRY_EXISTS:
        if (module_id->len) {
            return ngx_http_iothub_error(r, NGX_HTTP_CONFLICT,
                                         "ModuleAlreadyExistsOnDevice",
                                         "Module %V already exists on "
                                         "device %V", module_id, device_id);
        }

        return ngx_http_iothub_error(r, NGX_HTTP_CONFLICT,
                                     "DeviceAlreadyExists",
                                     "Device %V already exists", device_id);

    case NGX_IOTHUB_REGISTRY_ETAG_MISMATCH:
        return ngx_http_iothub_error(r, NGX_HTTP_PRECONDITION_FAILED,
                                     "PreconditionFailed",
                                     "the etag in If-Match does not match");

    case NGX_IOTHUB_REGISTRY_UNAVAILABLE:
        return ngx_http_iothub_started(r, NGX_DECLINED);

    default:
        return ngx_http_iothub_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "ServerError", "internal error");
    }
}


static void
ngx_http_iothub_identity_done(ngx_iothub_registry_op_t *op)
{
    ngx_http_request_t *r = op->data;

    yajl_gen   g;
    ngx_int_t  rc;

    if (op->rc != NGX_IOTHUB_REGISTRY_OK) {
        ngx_http_iothub_finish(r, ngx_http_iothub_op_error(r, op));
        return;
    }

    g = ngx_http_iothub_json_gen(r);

    if (g == NULL
        || ngx_iothub_identity_gen(op->identity, g) != yajl_gen_status_ok)
    {
        ngx_http_iothub_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_iothub_send_json(r, NGX_HTTP_OK, g, op->identity->etag);

    ngx_http_iothub_finish(r, rc);
}


/* the error response of a failed operation on the path's identity */

static ngx_int_t
ngx_http_iothub_op_error(ngx_http_request_t *r, ngx_iothub_registry_op_t *op)
{
    ngx_str_t               none;
    ngx_http_iothub_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iothub_module);
    ngx_str_null(&none);

    return ngx_http_iothub_registry_error(r, op, &ctx->seg[1],
                                          ctx->nseg > 3 ? &ctx->seg[3]
                                                        : &none);
}


static void
ngx_http_iothub_deleted(ngx_iothub_registry_op_t *op)
{
    ngx_http_request_t *r = op->data;

    if (op->rc != NGX_IOTHUB_REGISTRY_OK) {
        ngx_http_iothub_finish(r, ngx_http_iothub_op_error(r, op));
        return;
    }

    ngx_http_iothub_finish(r,
                           ngx_http_iothub_send_empty(r, NGX_HTTP_NO_CONTENT));
}


static void
ngx_http_iothub_list_done(ngx_iothub_registry_op_t *op)
{
    ngx_http_request_t *r = op->data;

    yajl_gen    g;
    ngx_uint_t  i;

    if (op->rc != NGX_IOTHUB_REGISTRY_OK) {
        ngx_http_iothub_finish(r, ngx_http_iothub_op_error(r, op));
        return;
    }

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL) {
        ngx_http_iothub_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_array_open(g);

    for (i = 0; i < op->nlist; i++) {
        if (ngx_iothub_identity_gen(&op->list[i], g) != yajl_gen_status_ok) {
            ngx_http_iothub_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    yajl_gen_array_close(g);

    ngx_http_iothub_finish(r, ngx_http_iothub_send_json(r, NGX_HTTP_OK, g,
                                                        NULL));
}


static void
ngx_http_iothub_stats_done(ngx_iothub_registry_op_t *op)
{
    ngx_http_request_t *r = op->data;

    yajl_gen                g;
    ngx_http_iothub_ctx_t  *ctx;

    if (op->rc != NGX_IOTHUB_REGISTRY_OK) {
        ngx_http_iothub_finish(r, ngx_http_iothub_op_error(r, op));
        return;
    }

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL) {
        ngx_http_iothub_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_iothub_module);

    yajl_gen_map_open(g);

    if (ctx->seg[1].data[0] == 's') {
        /* devices connected over MQTT or AMQP; modules do not count */
        ngx_http_iothub_gen_str(g, "connectedDeviceCount");
        yajl_gen_integer(g, op->connected);

    } else {
        ngx_http_iothub_gen_str(g, "totalDeviceCount");
        yajl_gen_integer(g, op->total);
        ngx_http_iothub_gen_str(g, "enabledDeviceCount");
        yajl_gen_integer(g, op->total - ngx_min(op->disabled, op->total));
        ngx_http_iothub_gen_str(g, "disabledDeviceCount");
        yajl_gen_integer(g, op->disabled);
    }

    yajl_gen_map_close(g);

    ngx_http_iothub_finish(r, ngx_http_iothub_send_json(r, NGX_HTTP_OK, g,
                                                        NULL));
}


/* ?top=N, 1..1000, default 1000 (rest.md 3); NGX_DECLINED to go on */

static ngx_int_t
ngx_http_iothub_list_top(ngx_http_request_t *r, ngx_uint_t *top)
{
    ngx_int_t  n;
    ngx_str_t  value;

    *top = NGX_HTTP_IOTHUB_LIST_MAX;

    if (ngx_http_arg(r, (u_char *) "top", 3, &value) != NGX_OK) {
        return NGX_DECLINED;
    }

    n = ngx_atoi(value.data, value.len);

    if (n <= 0 || n > NGX_HTTP_IOTHUB_LIST_MAX) {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "top must be a number from 1 to 1000");
    }

    *top = n;

    return NGX_DECLINED;
}


/*
 * POST /devices: up to 100 entries, each run as its own registry operation
 * (not atomic as a whole, as in IoT Hub); the answer lists what failed.
 */

static ngx_int_t
ngx_http_iothub_bulk(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    char                     err[256];
    ngx_int_t                rc;
    ngx_uint_t               i;
    ngx_pool_cleanup_t      *cln;
    ngx_http_iothub_bulk_t  *bulk;
    ngx_iothub_identity_rc_e irc;

    bulk = ngx_pcalloc(r->pool, sizeof(ngx_http_iothub_bulk_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (bulk == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_iothub_bulk_cleanup;
    cln->data = bulk;
    bulk->request = r;

    irc = ngx_iothub_bulk_parse((char *) ctx->body.data, ctx->body.len,
                                &bulk->entries, &bulk->n, err, sizeof(err));
    if (irc != NGX_IOTHUB_IDENTITY_OK) {
        return ngx_http_iothub_identity_error(r, irc, err);
    }

    bulk->ops = ngx_pcalloc(r->pool,
                            bulk->n * sizeof(ngx_http_iothub_bulk_op_t));
    if (bulk->ops == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < bulk->n; i++) {
        bulk->ops[i].entry = &bulk->entries[i];
        bulk->ops[i].bulk = bulk;
        bulk->ops[i].op.hub = ctx->hub;
        bulk->ops[i].op.pool = r->pool;
        bulk->ops[i].op.log = r->connection->log;
        bulk->ops[i].op.data = &bulk->ops[i];
        bulk->ops[i].op.handler = ngx_http_iothub_bulk_done;

        rc = ngx_http_iothub_bulk_start(&bulk->ops[i]);

        if (rc == NGX_DONE) {
            continue;
        }

        if (rc != NGX_OK) {
            /* what started is cancelled by the cleanup */
            return ngx_http_iothub_started(r, rc);
        }

        bulk->pending++;
    }

    if (bulk->pending == 0) {
        return ngx_http_iothub_bulk_respond(r, bulk);
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_http_iothub_bulk_start(ngx_http_iothub_bulk_op_t *bop)
{
    ngx_int_t  rc;

    rc = ngx_iothub_registry_apply(&bop->op, bop->entry, bop->creating);

    if (rc == NGX_DONE) {
        /* twin import modes: the response reports them as failed */
        bop->op.rc = NGX_IOTHUB_REGISTRY_ERROR;
    }

    return rc;
}


static void
ngx_http_iothub_bulk_done(ngx_iothub_registry_op_t *op)
{
    ngx_http_iothub_bulk_op_t *bop = op->data;

    ngx_int_t                rc;
    ngx_http_iothub_bulk_t  *bulk;

    bulk = bop->bulk;

    if (op->rc == NGX_IOTHUB_REGISTRY_NO_DEVICE
        && bop->entry->mode == NGX_IOTHUB_IMPORT_UPDATE
        && !bop->creating
        && bop->entry->identity.module_id[0] == '\0')
    {
        bop->creating = 1;

        if (ngx_http_iothub_bulk_start(bop) == NGX_OK) {
            return;
        }

        op->rc = NGX_IOTHUB_REGISTRY_UNAVAILABLE;
    }

    if (--bulk->pending > 0) {
        return;
    }

    rc = ngx_http_iothub_bulk_respond(bulk->request, bulk);

    ngx_http_iothub_finish(bulk->request, rc);
}



static ngx_int_t
ngx_http_iothub_bulk_respond(ngx_http_request_t *r,
    ngx_http_iothub_bulk_t *bulk)
{
    yajl_gen    g;
    ngx_uint_t  i, failed;

    for (i = 0; i < bulk->n; i++) {
        if (bulk->ops[i].op.rc == NGX_IOTHUB_REGISTRY_UNAVAILABLE) {
            return ngx_http_iothub_started(r, NGX_DECLINED);
        }
    }

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    failed = 0;

    yajl_gen_map_open(g);
    ngx_http_iothub_gen_str(g, "errors");
    yajl_gen_array_open(g);

    for (i = 0; i < bulk->n; i++) {
        if (bulk->ops[i].op.rc != NGX_IOTHUB_REGISTRY_OK) {
            ngx_http_iothub_bulk_gen_error(g, &bulk->ops[i]);
            failed++;
        }
    }

    yajl_gen_array_close(g);
    ngx_http_iothub_gen_str(g, "warnings");
    yajl_gen_array_open(g);
    yajl_gen_array_close(g);
    ngx_http_iothub_gen_str(g, "isSuccessful");
    yajl_gen_bool(g, failed == 0);
    yajl_gen_map_close(g);

    return ngx_http_iothub_send_json(r, failed ? NGX_HTTP_BAD_REQUEST
                                               : NGX_HTTP_OK, g, NULL);
}


static void
ngx_http_iothub_bulk_gen_error(yajl_gen g, ngx_http_iothub_bulk_op_t *bop)
{
    const char             *code, *status;
    ngx_iothub_identity_t  *id;

    static const char  *operations[] = {
        "create", "update", "updateIfMatchETag", "delete",
        "deleteIfMatchETag", "updateTwin", "updateTwinIfMatchETag"
    };

    id = &bop->entry->identity;

    switch (bop->op.rc) {

    case NGX_IOTHUB_REGISTRY_NO_DEVICE:
        code = "DeviceNotFound";
        status = "the device is not registered";
        break;

    case NGX_IOTHUB_REGISTRY_NO_MODULE:
        code = "ModuleNotFound";
        status = "the module is not registered";
        break;

    case NGX_IOTHUB_REGISTRY_EXISTS:
        code = id->module_id[0] ? "ModuleAlreadyExistsOnDevice"
                                : "DeviceAlreadyExists";
        status = "the identity already exists";
        break;

    case NGX_IOTHUB_REGISTRY_ETAG_MISMATCH:
        code = "PreconditionFailed";
        status = "the eTag does not match";
        break;

    default:
        if (bop->entry->mode >= NGX_IOTHUB_IMPORT_UPDATE_TWIN) {
            code = "ArgumentInvalid";
            status = "twin import modes are not supported yet";

        } else {
            code = "ServerError";
            status = "internal error";
        }
    }

    yajl_gen_map_open(g);
    ngx_http_iothub_gen_str(g, "deviceId");
    ngx_http_iothub_gen_str(g, id->device_id);
    ngx_http_iothub_gen_str(g, "moduleId");

    if (id->module_id[0]) {
        ngx_http_iothub_gen_str(g, id->module_id);

    } else {
        yajl_gen_null(g);
    }

    ngx_http_iothub_gen_str(g, "operation");
    ngx_http_iothub_gen_str(g, operations[bop->entry->mode]);
    ngx_http_iothub_gen_str(g, "errorCode");
    ngx_http_iothub_gen_str(g, code);
    ngx_http_iothub_gen_str(g, "errorStatus");
    ngx_http_iothub_gen_str(g, status);
    yajl_gen_map_close(g);
}


static void
ngx_http_iothub_bulk_cleanup(void *data)
{
    ngx_http_iothub_bulk_t *bulk = data;

    ngx_uint_t  i;

    for (i = 0; bulk->ops && i < bulk->n; i++) {
        ngx_iothub_registry_cancel(&bulk->ops[i].op);
    }

    free(bulk->entries);
}


void
ngx_http_iothub_gen_str(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *) s, ngx_strlen(s));
}
