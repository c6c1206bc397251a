
/*
 * nginx-iothub http module: POST /devices/query (rest.md 9), a page of
 * rows per request.  x-ms-max-item-count is the page size; a response
 * carries x-ms-continuation only when more rows exist, an opaque token
 * (base64url of "<rows before the next page>\n<device id>\n<module id>",
 * the place of the last row sent) that the next request sends back with
 * the same query.  Aggregates answer in one page.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_iothub_query_service.h"
#include "ngx_http_iothub_module.h"
#include "ngx_iothub_http_paging.h"


#define NGX_HTTP_IOTHUB_QUERY_PAGE       100      /* rest.md 9: default */
#define NGX_HTTP_IOTHUB_QUERY_PAGE_MAX   1000

/* twins one request examines at most before answering a short page */
#define NGX_HTTP_IOTHUB_QUERY_BUDGET     20000

/* {"query": "<8192 characters, escaped>"} */
#define NGX_HTTP_IOTHUB_QUERY_BODY_MAX   (16 * 1024)

#define NGX_HTTP_IOTHUB_TOKEN_MAX                                          \
    (NGX_INT_T_LEN + 2 * NGX_IOTHUB_QUERY_ID_LEN + 2)


typedef struct {
    ngx_iothub_query_run_t      run;
    ngx_iothub_query_t         *query;
    ngx_iothub_query_agg_t     *agg;
    ngx_http_request_t         *request;
    yajl_gen                    out;
    ngx_uint_t                  page_size;
    ngx_uint_t                  before;       /* rows of earlier pages */
    ngx_uint_t                  rows;         /* rows of this page */
    unsigned                    too_many_groups:1;
} ngx_http_iothub_query_t;


static ngx_int_t ngx_http_iothub_query_text(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_http_iothub_query_t *hq);
static ngx_int_t ngx_http_iothub_query_parse(ngx_http_request_t *r,
    ngx_http_iothub_query_t *hq, const char *text);
static ngx_int_t ngx_http_iothub_query_paging(ngx_http_request_t *r,
    ngx_http_iothub_query_t *hq);
static ngx_int_t ngx_http_iothub_query_token_read(ngx_http_iothub_query_t *hq,
    ngx_str_t *token);
static ngx_int_t ngx_http_iothub_query_row(ngx_iothub_query_run_t *run,
    yajl_val doc, ngx_str_t *device_id, ngx_str_t *module_id);
static void ngx_http_iothub_query_done(ngx_iothub_query_run_t *run);
static ngx_int_t ngx_http_iothub_query_send(ngx_http_request_t *r,
    ngx_http_iothub_query_t *hq);
static ngx_int_t ngx_http_iothub_query_token(ngx_http_request_t *r,
    ngx_http_iothub_query_t *hq);
static void ngx_http_iothub_query_cleanup(void *data);


ngx_int_t
ngx_http_iothub_route_query(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    ngx_int_t                 rc;
    ngx_pool_cleanup_t       *cln;
    ngx_http_iothub_query_t  *hq;

    hq = ngx_pcalloc(r->pool, sizeof(ngx_http_iothub_query_t));
    if (hq == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_iothub_query_cleanup;
    cln->data = hq;

    hq->request = r;

    rc = ngx_http_iothub_query_text(r, ctx, hq);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    rc = ngx_http_iothub_query_paging(r, hq);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    hq->out = ngx_http_iothub_json_gen(r);
    if (hq->out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_array_open(hq->out);

    if (ngx_iothub_query_is_aggregate(hq->query)) {
        hq->agg = ngx_iothub_query_agg_create(hq->query);
        if (hq->agg == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else {
        hq->run.budget = NGX_HTTP_IOTHUB_QUERY_BUDGET;
    }

    hq->run.hub = ctx->hub;
    hq->run.log = r->connection->log;
    hq->run.query = hq->query;
    hq->run.row = ngx_http_iothub_query_row;
    hq->run.done = ngx_http_iothub_query_done;
    hq->run.data = hq;

    rc = ngx_iothub_query_run(&hq->run);

    if (rc == NGX_DONE) {
        return ngx_http_iothub_query_send(r, hq);
    }

    return ngx_http_iothub_started(r, rc);
}


/* the body's "query", parsed into hq->query; NGX_DECLINED goes on */

static ngx_int_t
ngx_http_iothub_query_text(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx,
    ngx_http_iothub_query_t *hq)
{
    ngx_int_t    rc;
    yajl_val     root, v;
    const char  *path[] = { "query", NULL };

    if (ctx->body.len > NGX_HTTP_IOTHUB_QUERY_BODY_MAX) {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "the query is longer than %d "
                                     "characters", NGX_IOTHUB_QUERY_MAX_LEN);
    }

    root = (ctx->body.len > 0)
           ? yajl_tree_parse((char *) ctx->body.data, NULL, 0) : NULL;

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "IotHubFormatError",
                                     "the body is not a JSON object");
    }

    v = yajl_tree_get(root, path, yajl_t_string);

    if (v == NULL) {
        yajl_tree_free(root);
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentNull",
                                     "the body has no query string");
    }

    rc = ngx_http_iothub_query_parse(r, hq, YAJL_GET_STRING(v));

    yajl_tree_free(root);

    return rc;
}


static ngx_int_t
ngx_http_iothub_query_parse(ngx_http_request_t *r,
    ngx_http_iothub_query_t *hq, const char *text)
{
    char                   err[256];
    ngx_iothub_query_rc_e  rc;

    rc = ngx_iothub_query_parse(text, ngx_strlen(text), &hq->query, err,
                                sizeof(err));

    switch (rc) {

    case NGX_IOTHUB_QUERY_OK:
        return NGX_DECLINED;

    case NGX_IOTHUB_QUERY_NO_MEMORY:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;

    default:
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid", "%s", err);
    }
}


static ngx_int_t
ngx_http_iothub_query_paging(ngx_http_request_t *r,
    ngx_http_iothub_query_t *hq)
{
    ngx_int_t         n;
    ngx_table_elt_t  *h;

    hq->page_size = NGX_HTTP_IOTHUB_QUERY_PAGE;

    h = ngx_http_iothub_find_header(r, "x-ms-max-item-count", NULL);

    if (h) {
        n = ngx_atoi(h->value.data, h->value.len);

        if (n <= 0) {
            return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                         "ArgumentInvalid",
                                         "x-ms-max-item-count must be a "
                                         "positive integer");
        }

        hq->page_size = ngx_min((ngx_uint_t) n,
                                NGX_HTTP_IOTHUB_QUERY_PAGE_MAX);
    }

    h = ngx_http_iothub_find_header(r, "x-ms-continuation", NULL);

    if (h && h->value.len
        && ngx_http_iothub_query_token_read(hq, &h->value) != NGX_OK)
    {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "invalid x-ms-continuation token");
    }

    return NGX_DECLINED;
}


/*
 * "<before>\n<device id>\n<module id>", base64url (the text read by
 * ngx_iothub_paging_parse()); buf holds all that a token of the length
 * allowed decodes to, a few bytes over the longest text written.
 */

static ngx_int_t
ngx_http_iothub_query_token_read(ngx_http_iothub_query_t *hq,
    ngx_str_t *token)
{
    u_char               buf[ngx_base64_decoded_length(
                             ngx_base64_encoded_length(
                                 NGX_HTTP_IOTHUB_TOKEN_MAX))];
    ngx_str_t            text;
    ngx_iothub_paging_t  t;

    if (token->len > ngx_base64_encoded_length(NGX_HTTP_IOTHUB_TOKEN_MAX)) {
        return NGX_ERROR;
    }

    text.data = buf;

    if (ngx_decode_base64url(&text, token) != NGX_OK
        || ngx_iothub_paging_parse(buf, text.len, &t) != 0)
    {
        return NGX_ERROR;
    }

    hq->before = t.before;

    ngx_memcpy(hq->run.device_id, t.device_id, sizeof(t.device_id));
    ngx_memcpy(hq->run.module_id, t.module_id, sizeof(t.module_id));

    return NGX_OK;
}


static ngx_int_t
ngx_http_iothub_query_row(ngx_iothub_query_run_t *run, yajl_val doc,
    ngx_str_t *device_id, ngx_str_t *module_id)
{
    ngx_http_iothub_query_t *hq = run->data;

    unsigned long          top;
    ngx_iothub_query_rc_e  rc;

    if (hq->agg) {
        rc = ngx_iothub_query_agg_add(hq->agg, doc);

        if (rc == NGX_IOTHUB_QUERY_TOO_MANY_GROUPS) {
            hq->too_many_groups = 1;
        }

        return rc == NGX_IOTHUB_QUERY_OK ? NGX_OK : NGX_ERROR;
    }

    top = ngx_iothub_query_top(hq->query);

    if (top && hq->before + hq->rows >= top) {
        return NGX_DECLINED;
    }

    /* a row past the page: it exists, so the page gets a continuation */

    if (hq->rows == hq->page_size) {
        return NGX_DONE;
    }

    if (ngx_iothub_query_emit_row(hq->query, doc, hq->out)
        != NGX_IOTHUB_QUERY_OK)
    {
        return NGX_ERROR;
    }

    hq->rows++;

    return NGX_OK;
}


static void
ngx_http_iothub_query_done(ngx_iothub_query_run_t *run)
{
    ngx_http_iothub_query_t *hq = run->data;

    ngx_http_iothub_finish(hq->request,
                           ngx_http_iothub_query_send(hq->request, hq));
}


static ngx_int_t
ngx_http_iothub_query_send(ngx_http_request_t *r, ngx_http_iothub_query_t *hq)
{
    ngx_str_t  type;

    switch (hq->run.result) {

    case NGX_IOTHUB_QUERY_RUN_UNAVAILABLE:
        return ngx_http_iothub_unavailable(r);

    case NGX_IOTHUB_QUERY_RUN_FAILED:
        if (hq->too_many_groups) {
            return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                         "ArgumentInvalid",
                                         "GROUP BY makes more than %d "
                                         "groups",
                                         NGX_IOTHUB_QUERY_GROUPS_MAX);
        }

        return ngx_http_iothub_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "ServerError", "internal error");

    default:
        break;
    }

    if (hq->agg
        && ngx_iothub_query_agg_emit(hq->agg, hq->out) != NGX_IOTHUB_QUERY_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_array_close(hq->out);

    type.data = (u_char *) ngx_iothub_query_item_type(hq->query);
    type.len = ngx_strlen(type.data);

    if (ngx_http_iothub_add_header(r, "x-ms-item-type", &type) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (hq->run.result == NGX_IOTHUB_QUERY_RUN_MORE && hq->agg == NULL
        && ngx_http_iothub_query_token(r, hq) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iothub_send_json(r, NGX_HTTP_OK, hq->out, NULL);
}


static ngx_int_t
ngx_http_iothub_query_token(ngx_http_request_t *r, ngx_http_iothub_query_t *hq)
{
    u_char     buf[NGX_HTTP_IOTHUB_TOKEN_MAX];
    ngx_str_t  text, *token;

    text.data = buf;
    text.len = ngx_snprintf(buf, sizeof(buf), "%ui\n%s\n%s",
                            hq->before + hq->rows, hq->run.device_id,
                            hq->run.module_id)
               - buf;

    token = ngx_palloc(r->pool, sizeof(ngx_str_t));
    if (token == NULL) {
        return NGX_ERROR;
    }

    token->data = ngx_pnalloc(r->pool, ngx_base64_encoded_length(text.len));
    if (token->data == NULL) {
        return NGX_ERROR;
    }

    ngx_encode_base64url(token, &text);

    return ngx_http_iothub_add_header(r, "x-ms-continuation", token);
}


static void
ngx_http_iothub_query_cleanup(void *data)
{
    ngx_http_iothub_query_t *hq = data;

    ngx_iothub_query_cancel(&hq->run);
    ngx_iothub_query_agg_free(hq->agg);
    ngx_iothub_query_free(hq->query);
}
