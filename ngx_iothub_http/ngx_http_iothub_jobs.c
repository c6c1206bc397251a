
/*
 * nginx-iothub http module: jobs v2 of the service API (rest.md 10):
 * PUT and GET /jobs/v2/{jobId}, POST /jobs/v2/{jobId}/cancel and
 * GET /jobs/v2/query?jobType=&jobStatus=.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_iothub_job.h"
#include "ngx_iothub_query.h"
#include "ngx_http_iothub_module.h"


/* query paging: the page size when the caller gives none, and the most */
#define NGX_HTTP_IOTHUB_JOBS_PAGE      100
#define NGX_HTTP_IOTHUB_JOBS_PAGE_MAX  1000


static ngx_iothub_job_op_t *ngx_http_iothub_jobs_op(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_iothub_job_handler_pt handler);
static void ngx_http_iothub_jobs_cleanup(void *data);
static ngx_int_t ngx_http_iothub_jobs_schedule(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
static void ngx_http_iothub_jobs_answer(ngx_iothub_job_op_t *op);
static ngx_int_t ngx_http_iothub_jobs_error(ngx_http_request_t *r,
    ngx_iothub_job_op_t *op);
static void ngx_http_iothub_jobs_listed(ngx_iothub_job_op_t *op);
static ngx_int_t ngx_http_iothub_jobs_page(ngx_http_request_t *r,
    ngx_iothub_job_op_t *op);
static ngx_int_t ngx_http_iothub_jobs_filter(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);
static ngx_int_t ngx_http_iothub_jobs_number(ngx_http_request_t *r,
    const char *name, ngx_uint_t *n);
static ngx_str_t *ngx_http_iothub_jobs_header(ngx_http_request_t *r,
    const char *name);


ngx_int_t
ngx_http_iothub_route_job(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    ngx_iothub_job_op_t  *op;

    if (!ngx_iothub_id_valid(ctx->seg[2].data, ctx->seg[2].len)) {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid", "invalid jobId");
    }

    if (r->method == NGX_HTTP_PUT) {
        return ngx_http_iothub_jobs_schedule(r, ctx);
    }

    op = ngx_http_iothub_jobs_op(r, ctx, ngx_http_iothub_jobs_answer);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->nseg == 4) {
        return ngx_http_iothub_started(r, ngx_iothub_job_cancel(op));
    }

    return ngx_http_iothub_started(r, ngx_iothub_job_get(op));
}


ngx_int_t
ngx_http_iothub_route_jobs_query(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    ngx_iothub_job_op_t  *op;

    op = ngx_http_iothub_jobs_op(r, ctx, ngx_http_iothub_jobs_listed);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->count = NGX_HTTP_IOTHUB_JOBS_PAGE;

    if (ngx_http_iothub_jobs_filter(r, "jobType", &op->type) != NGX_OK
        || ngx_http_iothub_jobs_filter(r, "jobStatus", &op->status) != NGX_OK
        || ngx_http_iothub_jobs_number(r, "x-ms-max-item-count", &op->count)
           != NGX_OK
        || ngx_http_iothub_jobs_number(r, "x-ms-continuation", &op->offset)
           != NGX_OK
        || op->count == 0)
    {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "invalid jobType, jobStatus, "
                                     "x-ms-max-item-count or "
                                     "x-ms-continuation");
    }

    op->count = ngx_min(op->count, NGX_HTTP_IOTHUB_JOBS_PAGE_MAX);

    return ngx_http_iothub_started(r, ngx_iothub_job_list(op));
}


/* an op from the request pool, cancelled if the request ends first */

static ngx_iothub_job_op_t *
ngx_http_iothub_jobs_op(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx,
    ngx_iothub_job_handler_pt handler)
{
    ngx_pool_cleanup_t   *cln;
    ngx_iothub_job_op_t  *op;

    op = ngx_pcalloc(r->pool, sizeof(ngx_iothub_job_op_t));
    if (op == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_iothub_jobs_cleanup;
    cln->data = op;

    op->hub = ctx->hub;
    op->log = r->connection->log;
    op->pool = r->pool;
    op->handler = handler;
    op->data = r;

    if (ctx->nseg > 2) {
        op->job_id = ctx->seg[2];
    }

    ngx_str_set(&op->type, "");
    ngx_str_set(&op->status, "");

    return op;
}


static void
ngx_http_iothub_jobs_cleanup(void *data)
{
    ngx_iothub_job_op_t *op = data;

    ngx_iothub_job_op_cancel(op);
}


static ngx_int_t
ngx_http_iothub_jobs_schedule(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    char                       err[256];
    ngx_int_t                  rc;
    ngx_iothub_job_rc_e        jrc;
    ngx_iothub_query_t        *q;
    ngx_iothub_job_op_t       *op;
    ngx_iothub_job_request_t   req;

    jrc = ngx_iothub_job_request_parse((char *) ctx->body.data,
                                       ctx->body.len,
                                       (char *) ctx->seg[2].data,
                                       ctx->seg[2].len, &req, err,
                                       sizeof(err));

    switch (jrc) {

    case NGX_IOTHUB_JOB_OK:
        break;

    case NGX_IOTHUB_JOB_BAD_JSON:
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "IotHubFormatError", "%s", err);

    case NGX_IOTHUB_JOB_INVALID:
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid", "%s", err);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the condition must parse now, not when the job runs */

    if (ngx_iothub_query_parse_condition(req.condition,
                                         ngx_strlen(req.condition), &q, err,
                                         sizeof(err))
        != NGX_IOTHUB_QUERY_OK)
    {
        ngx_iothub_job_request_free(&req);
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "queryCondition: %s", err);
    }

    ngx_iothub_query_free(q);

    op = ngx_http_iothub_jobs_op(r, ctx, ngx_http_iothub_jobs_answer);
    if (op == NULL) {
        ngx_iothub_job_request_free(&req);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the script's arguments are formatted at once: req may go */

    op->request = &req;
    rc = ngx_iothub_job_create(op);
    op->request = NULL;

    ngx_iothub_job_request_free(&req);

    return ngx_http_iothub_started(r, rc);
}


static void
ngx_http_iothub_jobs_answer(ngx_iothub_job_op_t *op)
{
    ngx_http_request_t *r = op->data;

    yajl_gen  g;

    if (op->result != NGX_IOTHUB_JOB_DONE) {
        ngx_http_iothub_finish(r, ngx_http_iothub_jobs_error(r, op));
        return;
    }

    g = ngx_http_iothub_json_gen(r);

    if (g == NULL || ngx_iothub_job_emit(g, &op->record) != NGX_IOTHUB_JOB_OK)
    {
        ngx_http_iothub_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_iothub_finish(r, ngx_http_iothub_send_json(r, NGX_HTTP_OK, g,
                                                         NULL));
}


static ngx_int_t
ngx_http_iothub_jobs_error(ngx_http_request_t *r, ngx_iothub_job_op_t *op)
{
    switch (op->result) {

    case NGX_IOTHUB_JOB_NOT_FOUND:
        return ngx_http_iothub_error(r, NGX_HTTP_NOT_FOUND, "JobNotFound",
                                     "Job %V not found", &op->job_id);

    case NGX_IOTHUB_JOB_EXISTS:
        return ngx_http_iothub_error(r, NGX_HTTP_CONFLICT, "JobAlreadyExists",
                                     "Job %V already exists", &op->job_id);

    case NGX_IOTHUB_JOB_QUOTA:
        return ngx_http_iothub_error(r, NGX_HTTP_FORBIDDEN,
                                     "JobQuotaExceeded",
                                     "at most %ui jobs may be queued or "
                                     "running at once",
                                     op->hub->job_max_concurrent);

    case NGX_IOTHUB_JOB_UNAVAILABLE:
        return ngx_http_iothub_unavailable(r);

    default:
        return ngx_http_iothub_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "ServerError", "internal error");
    }
}


static void
ngx_http_iothub_jobs_listed(ngx_iothub_job_op_t *op)
{
    ngx_http_request_t *r = op->data;

    if (op->result != NGX_IOTHUB_JOB_DONE) {
        ngx_http_iothub_finish(r, ngx_http_iothub_jobs_error(r, op));
        return;
    }

    ngx_http_iothub_finish(r, ngx_http_iothub_jobs_page(r, op));
}


/*
 * A JSON array of jobs (rest.md 9: a query's page), x-ms-item-type, and
 * x-ms-continuation only when more jobs follow.
 */

static ngx_int_t
ngx_http_iothub_jobs_page(ngx_http_request_t *r, ngx_iothub_job_op_t *op)
{
    size_t                    i;
    u_char                   *p;
    yajl_gen                  g;
    ngx_str_t                 value;
    ngx_iothub_job_record_t   rec;

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL || yajl_gen_array_open(g) != yajl_gen_status_ok) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < op->n; i++) {
        if (ngx_iothub_job_list_record(op, i, &rec) != NGX_OK) {
            continue;
        }

        if (ngx_iothub_job_emit(g, &rec) != NGX_IOTHUB_JOB_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (yajl_gen_array_close(g) != yajl_gen_status_ok) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&value, "JobResponse");

    if (ngx_http_iothub_add_header(r, "x-ms-item-type", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (op->next > 0) {
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        value.data = p;
        value.len = ngx_sprintf(p, "%L", (int64_t) op->next) - p;

        if (ngx_http_iothub_add_header(r, "x-ms-continuation", &value)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_iothub_send_json(r, NGX_HTTP_OK, g, NULL);
}


/* a query argument, unescaped; "" when absent */

static ngx_int_t
ngx_http_iothub_jobs_filter(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   arg;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &arg) != NGX_OK) {
        return NGX_OK;
    }

    dst = ngx_pnalloc(r->pool, arg.len + 1);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    value->data = dst;
    src = arg.data;
    ngx_unescape_uri(&dst, &src, arg.len, 0);
    value->len = dst - value->data;
    *dst = '\0';

    return (value->len <= 64) ? NGX_OK : NGX_ERROR;
}


/* a header holding a decimal number; n is left as it is when absent */

static ngx_int_t
ngx_http_iothub_jobs_number(ngx_http_request_t *r, const char *name,
    ngx_uint_t *n)
{
    ngx_int_t   v;
    ngx_str_t  *h;

    h = ngx_http_iothub_jobs_header(r, name);
    if (h == NULL) {
        return NGX_OK;
    }

    v = ngx_atoi(h->data, h->len);
    if (v == NGX_ERROR) {
        return NGX_ERROR;
    }

    *n = (ngx_uint_t) v;

    return NGX_OK;
}


static ngx_str_t *
ngx_http_iothub_jobs_header(ngx_http_request_t *r, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i].value;
        }
    }
}
