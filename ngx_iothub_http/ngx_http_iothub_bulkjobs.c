
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * nginx-iothub http module: the import/export jobs of the registry
 * (rest.md 11), POST /jobs/create, GET /jobs, GET and DELETE /jobs/{id};
 * the jobs themselves are shared/ngx_iothub_bulkjob*.c's.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_iothub_bulkjob.h"
#include "ngx_http_iothub_module.h"


static ngx_iothub_bulkjob_op_t *ngx_http_iothub_bulkjob_op(
    ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx,
    ngx_iothub_bulkjob_handler_pt handler);
static ngx_int_t ngx_http_iothub_bulkjob_uri(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, const char *name, const char *uri);
static ngx_int_t ngx_http_iothub_bulkjob_started(ngx_http_request_t *r,
    ngx_int_t rc);
static void ngx_http_iothub_bulkjob_one(ngx_iothub_bulkjob_op_t *op);
static void ngx_http_iothub_bulkjob_all(ngx_iothub_bulkjob_op_t *op);
static ngx_int_t ngx_http_iothub_bulkjob_failed(ngx_http_request_t *r,
    ngx_iothub_bulkjob_op_t *op);
static void ngx_http_iothub_bulkjob_cleanup(void *data);


ngx_int_t
ngx_http_iothub_route_bulkjob_create(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    char                           err[256];
    ngx_int_t                      rc;
    ngx_iothub_bulkjob_op_t       *op;
    ngx_iothub_bulkjob_request_t  *req;

    req = ngx_palloc(r->pool, sizeof(ngx_iothub_bulkjob_request_t));
    if (req == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_iothub_bulkjob_request_parse(req, (char *) ctx->body.data,
                                         ctx->body.len, err, sizeof(err))
        != 0)
    {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid", "%s", err);
    }

    /* an export reads the registry, an import writes it */

    if (req->type == NGX_IOTHUB_BULKJOB_IMPORT
        && !(ctx->policy_rights & NGX_IOTHUB_RIGHT_REGISTRY_WRITE))
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iothub: unauthorized, an import needs registry_write");
        return ngx_http_iothub_error(r, NGX_HTTP_UNAUTHORIZED,
                                     "IotHubUnauthorizedAccess",
                                     "Unauthorized: an import job needs "
                                     "the RegistryWrite permission");
    }

    rc = ngx_http_iothub_bulkjob_uri(r, ctx, "outputBlobContainerUri",
                                     req->output_uri);

    if (rc == NGX_DECLINED && req->type == NGX_IOTHUB_BULKJOB_IMPORT) {
        rc = ngx_http_iothub_bulkjob_uri(r, ctx, "inputBlobContainerUri",
                                         req->input_uri);
    }

    if (rc != NGX_DECLINED) {
        return rc;
    }

    op = ngx_http_iothub_bulkjob_op(r, ctx, ngx_http_iothub_bulkjob_one);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iothub_started(r, ngx_iothub_bulkjob_create(op, req));
}


/*
 * A URI that is not one is 400 now; one of another store is accepted and
 * the job fails with its reason (no store but the hub's own is reached).
 */

static ngx_int_t
ngx_http_iothub_bulkjob_uri(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx,
    const char *name, const char *uri)
{
    ngx_iothub_bulkjob_uri_t  u;

    if (ngx_strncasecmp((u_char *) uri, (u_char *) "https://", 8) != 0
        || (ctx->hub->storage != NULL
            && ngx_iothub_bulkjob_uri_parse(&u, uri, ngx_strlen(uri),
                                            ctx->hub->storage)
               == NGX_IOTHUB_BULKJOB_URI_MALFORMED))
    {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "%s is not the https URI of a blob "
                                     "container", name);
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_iothub_route_bulkjobs(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    ngx_iothub_bulkjob_op_t  *op;

    op = ngx_http_iothub_bulkjob_op(r, ctx, ngx_http_iothub_bulkjob_all);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iothub_started(r, ngx_iothub_bulkjob_get(op, NULL));
}


ngx_int_t
ngx_http_iothub_route_bulkjob(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    ngx_int_t                 rc;
    ngx_iothub_bulkjob_op_t  *op;

    /* "/jobs/v2" is the start of the jobs v2 routes, not a job's id */

    if (ctx->seg[1].len == 2
        && ngx_strncasecmp(ctx->seg[1].data, (u_char *) "v2", 2) == 0)
    {
        return ngx_http_iothub_error(r, NGX_HTTP_NOT_FOUND, "IotHubNotFound",
                                     "no such resource: %V", &r->uri);
    }

    op = ngx_http_iothub_bulkjob_op(r, ctx, ngx_http_iothub_bulkjob_one);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_DELETE) {
        rc = ngx_iothub_bulkjob_cancel(op, &ctx->seg[1]);

    } else {
        rc = ngx_iothub_bulkjob_get(op, &ctx->seg[1]);
    }

    return ngx_http_iothub_bulkjob_started(r, rc);
}


static ngx_int_t
ngx_http_iothub_bulkjob_started(ngx_http_request_t *r, ngx_int_t rc)
{
    if (rc == NGX_ABORT) {
        return ngx_http_iothub_error(r, NGX_HTTP_NOT_FOUND, "JobNotFound",
                                     "no such job");
    }

    return ngx_http_iothub_started(r, rc);
}


static ngx_iothub_bulkjob_op_t *
ngx_http_iothub_bulkjob_op(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx,
    ngx_iothub_bulkjob_handler_pt handler)
{
    ngx_pool_cleanup_t       *cln;
    ngx_iothub_bulkjob_op_t  *op;

    op = ngx_pcalloc(r->pool, sizeof(ngx_iothub_bulkjob_op_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (op == NULL || cln == NULL) {
        return NULL;
    }

    op->hub = ctx->hub;
    op->log = r->connection->log;
    op->pool = r->pool;
    op->handler = handler;
    op->data = r;

    cln->handler = ngx_http_iothub_bulkjob_cleanup;
    cln->data = op;

    return op;
}


static void
ngx_http_iothub_bulkjob_one(ngx_iothub_bulkjob_op_t *op)
{
    yajl_gen             g;
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = op->data;

    if (op->result != NGX_IOTHUB_BULKJOB_OK || op->nrecords != 1) {
        ngx_http_iothub_finish(r, ngx_http_iothub_bulkjob_failed(r, op));
        return;
    }

    g = ngx_http_iothub_json_gen(r);

    if (g == NULL
        || ngx_iothub_bulkjob_gen(g, &op->records[0]) != yajl_gen_status_ok)
    {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

    } else {
        rc = ngx_http_iothub_send_json(r, NGX_HTTP_OK, g, NULL);
    }

    ngx_http_iothub_finish(r, rc);
}


static void
ngx_http_iothub_bulkjob_all(ngx_iothub_bulkjob_op_t *op)
{
    yajl_gen             g;
    ngx_int_t            rc;
    ngx_uint_t           i;
    yajl_gen_status      st;
    ngx_http_request_t  *r;

    r = op->data;

    if (op->result != NGX_IOTHUB_BULKJOB_OK) {
        ngx_http_iothub_finish(r, ngx_http_iothub_bulkjob_failed(r, op));
        return;
    }

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL) {
        ngx_http_iothub_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    st = yajl_gen_array_open(g);

    for (i = 0; i < op->nrecords && st == yajl_gen_status_ok; i++) {
        st = ngx_iothub_bulkjob_gen(g, &op->records[i]);
    }

    if (st == yajl_gen_status_ok) {
        st = yajl_gen_array_close(g);
    }

    rc = (st == yajl_gen_status_ok)
         ? ngx_http_iothub_send_json(r, NGX_HTTP_OK, g, NULL)
         : NGX_HTTP_INTERNAL_SERVER_ERROR;

    ngx_http_iothub_finish(r, rc);
}


static ngx_int_t
ngx_http_iothub_bulkjob_failed(ngx_http_request_t *r,
    ngx_iothub_bulkjob_op_t *op)
{
    switch (op->result) {

    case NGX_IOTHUB_BULKJOB_NOT_FOUND:
        return ngx_http_iothub_error(r, NGX_HTTP_NOT_FOUND, "JobNotFound",
                                     "no such job");

    case NGX_IOTHUB_BULKJOB_BUSY:
        return ngx_http_iothub_error(r, NGX_HTTP_FORBIDDEN,
                                     "JobQuotaExceeded",
                                     "an import or export job is running: "
                                     "only one at a time");

    case NGX_IOTHUB_BULKJOB_UNAVAILABLE:
        return ngx_http_iothub_unavailable(r);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


static void
ngx_http_iothub_bulkjob_cleanup(void *data)
{
    ngx_iothub_bulkjob_op_t *op = data;

    ngx_iothub_bulkjob_op_cancel(op);
}
