
/*
 * nginx-iothub http module: routing, SAS authorization and the IoT Hub
 * error envelope of the REST service API.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_iothub_conf_hub.h"
#include "ngx_iothub_sas.h"
#include "ngx_iothub_log.h"
#include "ngx_iothub_http_route.h"
#include "ngx_http_iothub_module.h"


#define NGX_HTTP_IOTHUB_BODY_BUFFER   (512 * 1024)


#if (NGX_IOTHUB_HTTP_REGISTRY_READ != NGX_IOTHUB_RIGHT_REGISTRY_READ       \
     || NGX_IOTHUB_HTTP_REGISTRY_WRITE != NGX_IOTHUB_RIGHT_REGISTRY_WRITE  \
     || NGX_IOTHUB_HTTP_SERVICE_CONNECT != NGX_IOTHUB_RIGHT_SERVICE_CONNECT \
     || NGX_IOTHUB_HTTP_DEVICE_CONNECT != NGX_IOTHUB_RIGHT_DEVICE_CONNECT)
#error "the rights of ngx_iothub_http_route.h differ from ngx_iothub.h's"
#endif


static ngx_int_t ngx_http_iothub_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_iothub_read_request(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
static ngx_int_t ngx_http_iothub_too_large(ngx_http_request_t *r);
static yajl_gen ngx_http_iothub_error_envelope(ngx_http_request_t *r,
    const char *name, const char *fmt, ...);
static yajl_gen ngx_http_iothub_error_gen(ngx_http_request_t *r,
    const char *name, const char *fmt, va_list args);
static ngx_buf_t *ngx_http_iothub_json_buf(ngx_http_request_t *r,
    yajl_gen g);
static ngx_int_t ngx_http_iothub_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_iothub_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_iothub_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_iothub_dispatch(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
static ngx_int_t ngx_http_iothub_route(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
static unsigned ngx_http_iothub_method(ngx_http_request_t *r);
static ngx_int_t ngx_http_iothub_authorize(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
static ngx_int_t ngx_http_iothub_verify(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_iothub_sas_token_t *token);
static void ngx_http_iothub_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_iothub_read_body(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
static void ngx_http_iothub_cleanup(void *data);
static void ngx_http_iothub_gen_free(void *data);
static void *ngx_http_iothub_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_iothub_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_iothub_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/* the handler of each route, by ngx_iothub_http_route_e */
static ngx_http_iothub_route_pt  ngx_http_iothub_routes[] = {
    ngx_http_iothub_route_devices,        /* DEVICES */
    ngx_http_iothub_route_device,         /* DEVICE */
    ngx_http_iothub_route_c2d_send,       /* C2D_SEND */
    ngx_http_iothub_route_c2d_purge,      /* C2D_PURGE */
    ngx_http_iothub_route_modules,        /* MODULES */
    ngx_http_iothub_route_module,         /* MODULE */
    ngx_http_iothub_route_twin,           /* TWIN */
    ngx_http_iothub_route_method,         /* METHOD */
    ngx_http_iothub_route_statistics,     /* STATISTICS */
    ngx_http_iothub_route_feedback,       /* FEEDBACK */
    ngx_http_iothub_route_feedback_lock,  /* FEEDBACK_LOCK */
    ngx_http_iothub_route_job,            /* JOB */
    ngx_http_iothub_route_jobs_query,     /* JOBS_QUERY */
    ngx_http_iothub_route_d2c,            /* D2C */
    ngx_http_iothub_route_c2d_receive,    /* C2D_RECEIVE */
    ngx_http_iothub_route_c2d_settle,     /* C2D_SETTLE */
    ngx_http_iothub_route_files,          /* FILES */
    ngx_http_iothub_route_files_notify,   /* FILES_NOTIFY */
    ngx_http_iothub_route_query,          /* QUERY */
    ngx_http_iothub_route_eh_groups,      /* EH_GROUPS */
    ngx_http_iothub_route_eh_group,       /* EH_GROUP */
    ngx_http_iothub_route_bulkjob_create, /* BULKJOB_CREATE */
    ngx_http_iothub_route_bulkjobs,       /* BULKJOBS */
    ngx_http_iothub_route_bulkjob         /* BULKJOB */
};


static ngx_command_t  ngx_http_iothub_commands[] = {

    { ngx_string("iothub_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_iothub_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_iothub_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_iothub_init,                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_iothub_create_loc_conf,       /* create location configuration */
    ngx_http_iothub_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_iothub_module = {
    NGX_MODULE_V1,
    &ngx_http_iothub_module_ctx,           /* module context */
    ngx_http_iothub_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_int_t
ngx_http_iothub_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_pool_cleanup_t          *cln;
    ngx_http_iothub_ctx_t       *ctx;
    ngx_http_iothub_loc_conf_t  *ilcf;

    ilcf = ngx_http_get_module_loc_conf(r, ngx_http_iothub_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_iothub_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_iothub_cleanup;
    cln->data = ctx;

    ctx->hub = ilcf->hub;
    ctx->op.hub = ilcf->hub;
    ctx->op.pool = r->pool;
    ctx->op.log = r->connection->log;
    ctx->op.data = r;

    ngx_http_set_ctx(r, ctx, ngx_http_iothub_module);

    r->connection->log->action = "serving the iothub api";

    /* If-Match is ours to judge, not the not_modified filter's */
    r->disable_not_modified = 1;

    rc = ngx_http_iothub_route(r, ctx);

    if (rc == NGX_DECLINED
        && (r->method & (NGX_HTTP_PUT|NGX_HTTP_POST|NGX_HTTP_PATCH)))
    {
        return ngx_http_iothub_read_request(r, ctx);
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        rc = ngx_http_iothub_dispatch(r, ctx);
    }

    if (rc == NGX_DONE) {
        /* a Redis reply finishes the request */
        r->main->count++;
    }

    return rc;
}


/*
 * A body the route would refuse for its size is refused from its
 * Content-Length, before it is read; a chunked one once read.
 */

static ngx_int_t
ngx_http_iothub_read_request(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ctx->route == ngx_http_iothub_route_d2c
        && r->headers_in.content_length_n > NGX_IOTHUB_D2C_MAX_SIZE)
    {
        return ngx_http_iothub_too_large(r);
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_iothub_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_http_iothub_too_large(ngx_http_request_t *r)
{
    /* no "100 Continue" for a body that is refused */
    r->expect_tested = 1;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iothub_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                 "MessageTooLarge",
                                 "the message is over %uz bytes",
                                 (size_t) NGX_IOTHUB_D2C_MAX_SIZE);
}


/* the route is known; each step answers NGX_DECLINED to go on */

static ngx_int_t
ngx_http_iothub_dispatch(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ctx->rights & NGX_IOTHUB_HTTP_DEVICE) {
        /* device routes take the device's credentials, then run */
        return ngx_http_iothub_device_auth(r, ctx);
    }

    rc = ngx_http_iothub_authorize(r, ctx);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    return ctx->route(r, ctx);
}


static ngx_int_t
ngx_http_iothub_route(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    ngx_uint_t                   i;
    ngx_iothub_http_path_t       path;
    ngx_iothub_http_match_t      m;
    ngx_iothub_http_route_rc_e   rc;

    /* r->uri is percent-decoded already; ids cannot hold "/" */

    rc = ngx_iothub_http_path_split(&path, r->uri.data, r->uri.len);

    if (rc == NGX_IOTHUB_HTTP_ROUTE_OK) {
        rc = ngx_iothub_http_route_match(&path, ngx_http_iothub_method(r),
                                         &m);
    }

    if (rc == NGX_IOTHUB_HTTP_ROUTE_NOT_ALLOWED) {
        return ngx_http_iothub_error(r, NGX_HTTP_NOT_ALLOWED,
                                     "MethodNotAllowed",
                                     "method %V is not allowed on %V",
                                     &r->method_name, &r->uri);
    }

    if (rc != NGX_IOTHUB_HTTP_ROUTE_OK) {
        return ngx_http_iothub_error(r, NGX_HTTP_NOT_FOUND, "IotHubNotFound",
                                     "no such resource: %V", &r->uri);
    }

    for (i = 0; i < path.nseg; i++) {
        ctx->seg[i].data = (u_char *) path.seg[i].data;
        ctx->seg[i].len = path.seg[i].len;
    }

    ctx->nseg = path.nseg;
    ctx->route = ngx_http_iothub_routes[m.route];
    ctx->rights = m.rights;

    ctx->device_id.data = (u_char *) m.device_id.data;
    ctx->device_id.len = m.device_id.len;
    ctx->module_id.data = (u_char *) m.module_id.data;
    ctx->module_id.len = m.module_id.len;

    return NGX_DECLINED;
}


static unsigned
ngx_http_iothub_method(ngx_http_request_t *r)
{
    switch (r->method) {

    case NGX_HTTP_GET:
        return NGX_IOTHUB_HTTP_GET;

    case NGX_HTTP_PUT:
        return NGX_IOTHUB_HTTP_PUT;

    case NGX_HTTP_POST:
        return NGX_IOTHUB_HTTP_POST;

    case NGX_HTTP_DELETE:
        return NGX_IOTHUB_HTTP_DELETE;

    case NGX_HTTP_PATCH:
        return NGX_IOTHUB_HTTP_PATCH;

    default:
        return NGX_IOTHUB_HTTP_OTHER;
    }
}


/*
 * Service routes take a policy token (skn) whose sr covers the path
 * (auth.md 3.3) and whose policy holds the route's right.
 */

static ngx_int_t
ngx_http_iothub_authorize(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    ngx_table_elt_t         *h;
    ngx_iothub_sas_token_t   token;

    h = r->headers_in.authorization;

    if (h == NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iothub: no Authorization header");
        return ngx_http_iothub_error(r, NGX_HTTP_UNAUTHORIZED,
                                     "IotHubUnauthorizedAccess",
                                     "Unauthorized: no credentials");
    }

    if (ngx_iothub_sas_parse(&token, h->value.data, h->value.len)
        != NGX_IOTHUB_SAS_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iothub: malformed SAS token");
        return ngx_http_iothub_error(r, NGX_HTTP_UNAUTHORIZED,
                                     "IotHubUnauthorizedAccess",
                                     "Unauthorized: malformed "
                                     "SharedAccessSignature");
    }

    return ngx_http_iothub_verify(r, ctx, &token);
}


static ngx_int_t
ngx_http_iothub_verify(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx,
    ngx_iothub_sas_token_t *token)
{
    size_t                      k;
    ngx_uint_t                  i;
    ngx_iothub_log_buf_t        name;
    ngx_iothub_policy_t        *policy;
    ngx_iothub_http_access_t    access;
    ngx_iothub_http_auth_rc_e   rc;
    ngx_iothub_http_policy_t    policies[NGX_IOTHUB_MAX_POLICIES];

    policy = ctx->hub->policies.elts;

    for (i = 0; i < ctx->hub->policies.nelts; i++) {
        policies[i].name.data = policy[i].name.data;
        policies[i].name.len = policy[i].name.len;
        policies[i].primary_key.data = policy[i].primary_key.data;
        policies[i].primary_key.len = policy[i].primary_key.len;
        policies[i].secondary_key.data = policy[i].secondary_key.data;
        policies[i].secondary_key.len = policy[i].secondary_key.len;
        policies[i].rights = policy[i].rights;
    }

    access.host = (char *) ctx->hub->hostname.data;
    access.path = r->uri.data;
    access.path_len = r->uri.len;
    access.now = ngx_time();
    access.rights = ctx->rights;

    rc = ngx_iothub_http_authorize(token, policies, i, &access, &k);

    if (rc == NGX_IOTHUB_HTTP_AUTH_OK) {
        ctx->policy_rights = policies[k].rights;
        return NGX_DECLINED;
    }

    /* the caller's own words, escaped: a "%0A" in skn forges no line */
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "iothub: unauthorized, %s, policy \"%V\"",
                  ngx_iothub_http_auth_reason(rc),
                  ngx_iothub_log_str(&name, (u_char *) token->policy,
                                     ngx_strlen(token->policy)));

    return ngx_http_iothub_error(r, NGX_HTTP_UNAUTHORIZED,
                                 "IotHubUnauthorizedAccess",
                                 "Unauthorized: %s",
                                 ngx_iothub_http_auth_answer(rc));
}


static void
ngx_http_iothub_body_handler(ngx_http_request_t *r)
{
    ngx_int_t               rc;
    ngx_http_iothub_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iothub_module);

    rc = ngx_http_iothub_read_body(r, ctx);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_iothub_dispatch(r, ctx);
    }

    if (rc == NGX_DONE) {
        /* the count that reading the body took is kept until it finishes */
        return;
    }

    ngx_http_finalize_request(r, rc);
}


static ngx_int_t
ngx_http_iothub_read_body(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    u_char       *p;
    size_t        len;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        ctx->body.data = (u_char *) "";
        ctx->body.len = 0;
        return NGX_DECLINED;
    }

    if (r->request_body->temp_file) {
        return ngx_http_iothub_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     "MessageTooLarge",
                                     "the request body is over "
                                     "client_body_buffer_size");
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->body.data = p;
    ctx->body.len = len;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        /* an empty buffer may have no memory at all (pos NULL) */
        if (b->last != b->pos) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    *p = '\0';

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_iothub_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *name, const char *fmt, ...)
{
    va_list   args;
    yajl_gen  g;

    va_start(args, fmt);
    g = ngx_http_iothub_error_gen(r, name, fmt, args);
    va_end(args);

    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iothub_send_json(r, status, g, NULL);
}


static yajl_gen
ngx_http_iothub_error_envelope(ngx_http_request_t *r, const char *name,
    const char *fmt, ...)
{
    va_list   args;
    yajl_gen  g;

    va_start(args, fmt);
    g = ngx_http_iothub_error_gen(r, name, fmt, args);
    va_end(args);

    return g;
}


/* the error envelope, and its code as header iothub-errorcode */

static yajl_gen
ngx_http_iothub_error_gen(ngx_http_request_t *r, const char *name,
    const char *fmt, va_list args)
{
    u_char     msg[640], *last;
    ngx_tm_t   tm;
    ngx_str_t  code;
    yajl_gen   g;

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL) {
        return NULL;
    }

    yajl_gen_map_open(g);

    last = ngx_slprintf(msg, msg + sizeof(msg), "ErrorCode:%s;", name);
    last = ngx_vslprintf(last, msg + sizeof(msg), fmt, args);

    yajl_gen_string(g, (u_char *) "Message", 7);
    yajl_gen_string(g, msg, last - msg);

    ngx_gmtime(ngx_time(), &tm);

    last = ngx_snprintf(msg, sizeof(msg),
                        "Tracking ID:%08xD%08xD-G:0-TimeStamp:"
                        "%02d/%02d/%4d %02d:%02d:%02d",
                        (uint32_t) ngx_random(), (uint32_t) ngx_random(),
                        tm.ngx_tm_mon, tm.ngx_tm_mday, tm.ngx_tm_year,
                        tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);

    yajl_gen_string(g, (u_char *) "ExceptionMessage", 16);
    yajl_gen_string(g, msg, last - msg);
    yajl_gen_map_close(g);

    code.data = (u_char *) name;
    code.len = ngx_strlen(name);

    if (ngx_http_iothub_add_header(r, "iothub-errorcode", &code) != NGX_OK) {
        return NULL;
    }

    return g;
}


ngx_int_t
ngx_http_iothub_unavailable(ngx_http_request_t *r)
{
    return ngx_http_iothub_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                 "ServiceUnavailable",
                                 "the hub's store is unavailable, retry "
                                 "later");
}


ngx_int_t
ngx_http_iothub_started(ngx_http_request_t *r, ngx_int_t rc)
{
    if (rc == NGX_OK) {
        return NGX_DONE;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_iothub_unavailable(r);
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


void *
ngx_http_iothub_op_alloc(ngx_http_request_t *r, size_t size,
    ngx_pool_cleanup_pt cancel)
{
    void                *op;
    ngx_pool_cleanup_t  *cln;

    op = ngx_pcalloc(r->pool, size);
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (op == NULL || cln == NULL) {
        return NULL;
    }

    cln->handler = cancel;
    cln->data = op;

    return op;
}


yajl_gen
ngx_http_iothub_json_gen(ngx_http_request_t *r)
{
    yajl_gen             g;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_iothub_gen_free;
    cln->data = g;

    return g;
}


static void
ngx_http_iothub_gen_free(void *data)
{
    yajl_gen_free(data);
}


ngx_int_t
ngx_http_iothub_send_json(ngx_http_request_t *r, ngx_uint_t status,
    yajl_gen g, const char *etag)
{
    ngx_buf_t  *b;
    ngx_str_t   value;

    b = ngx_http_iothub_json_buf(r, g);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (etag && etag[0]) {
        value.len = ngx_strlen(etag) + 2;
        value.data = ngx_pnalloc(r->pool, value.len);
        if (value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_sprintf(value.data, "\"%s\"", etag);

        if (ngx_http_iothub_add_header(r, "ETag", &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_str_set(&r->headers_out.content_type,
                "application/json; charset=utf-8");
    r->headers_out.content_type_len = sizeof("application/json") - 1;

    return ngx_http_iothub_send_buf(r, status, b);
}


ngx_int_t
ngx_http_iothub_send_buf(ngx_http_request_t *r, ngx_uint_t status,
    ngx_buf_t *b)
{
    ngx_int_t     rc;
    ngx_chain_t   out;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = ngx_buf_size(b);

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_buf_t *
ngx_http_iothub_json_buf(ngx_http_request_t *r, yajl_gen g)
{
    size_t                len;
    ngx_buf_t            *b;
    const unsigned char  *json;

    if (yajl_gen_get_buf(g, &json, &len) != yajl_gen_status_ok) {
        return NULL;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    b->last = ngx_cpymem(b->pos, json, len);
    b->last_buf = (r == r->main) ? 1 : 0;

    return b;
}


ngx_int_t
ngx_http_iothub_send_empty(ngx_http_request_t *r, ngx_uint_t status)
{
    r->headers_out.status = status;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


void
ngx_http_iothub_finish(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t  *c;

    c = r->connection;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


void
ngx_http_iothub_if_match(ngx_http_request_t *r, ngx_str_t *etag)
{
    ngx_table_elt_t    *h;
    ngx_iothub_span_t   v;

    h = r->headers_in.if_match;

    if (h == NULL) {
        ngx_str_set(etag, "");
        return;
    }

    ngx_iothub_http_if_match(h->value.data, h->value.len, &v);

    etag->data = (u_char *) v.data;
    etag->len = v.len;
}


ngx_int_t
ngx_http_iothub_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;

    return NGX_OK;
}


ngx_table_elt_t *
ngx_http_iothub_find_header(ngx_http_request_t *r, const char *name,
    ngx_uint_t *count)
{
    ngx_table_elt_t                *h, *found;
    ngx_http_iothub_header_iter_t   it;

    ngx_memzero(&it, sizeof(ngx_http_iothub_header_iter_t));
    found = NULL;

    if (count) {
        *count = 0;
    }

    while ((h = ngx_http_iothub_next_header(r, &it, name)) != NULL) {
        if (found == NULL) {
            found = h;
        }

        if (count == NULL) {
            break;
        }

        (*count)++;
    }

    return found;
}


ngx_table_elt_t *
ngx_http_iothub_next_header(ngx_http_request_t *r,
    ngx_http_iothub_header_iter_t *it, const char *name)
{
    size_t            len;
    ngx_table_elt_t  *h;

    if (it->part == NULL) {
        it->part = &r->headers_in.headers.part;
        it->i = 0;
    }

    len = name ? ngx_strlen(name) : 0;

    for ( ;; ) {

        if (it->i >= it->part->nelts) {
            if (it->part->next == NULL) {
                return NULL;
            }

            it->part = it->part->next;
            it->i = 0;
            continue;
        }

        h = (ngx_table_elt_t *) it->part->elts + it->i++;

        if (name == NULL
            || (h->key.len == len
                && ngx_strncasecmp(h->key.data, (u_char *) name, len) == 0))
        {
            return h;
        }
    }
}


static void
ngx_http_iothub_cleanup(void *data)
{
    ngx_http_iothub_ctx_t *ctx = data;

    ngx_iothub_registry_cancel(&ctx->op);
}


/*
 * nginx answers a body over client_max_body_size (its Content-Length
 * before the handler runs, a chunked one while it is read) with its own
 * HTML 413: on the api's locations that page becomes the error envelope.
 */

static ngx_int_t
ngx_http_iothub_header_filter(ngx_http_request_t *r)
{
    yajl_gen                   g;
    ngx_http_iothub_ctx_t     *ctx;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r->headers_out.status != NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
        || clcf->handler != ngx_http_iothub_handler
        || r != r->main
        || r->headers_out.content_type.len != sizeof("text/html") - 1
        || ngx_strncmp(r->headers_out.content_type.data, "text/html",
                       sizeof("text/html") - 1)
           != 0)
    {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_iothub_module);

    if (ctx == NULL) {
        /* refused from its Content-Length: the handler has not run */
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_iothub_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_iothub_module);
    }

    g = ngx_http_iothub_error_envelope(r, "MessageTooLarge",
                                       "the request body is over %O bytes",
                                       clcf->client_max_body_size);
    if (g == NULL) {
        return NGX_ERROR;
    }

    ctx->too_large = ngx_http_iothub_json_buf(r, g);
    if (ctx->too_large == NULL) {
        return NGX_ERROR;
    }

    r->headers_out.content_length_n = ngx_buf_size(ctx->too_large);
    ngx_str_set(&r->headers_out.content_type,
                "application/json; charset=utf-8");
    r->headers_out.content_type_len = sizeof("application/json") - 1;

    return ngx_http_next_header_filter(r);
}


/* the HTML page's buffers are dropped, the envelope goes with its last */

static ngx_int_t
ngx_http_iothub_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t             *cl, out;
    ngx_http_iothub_ctx_t   *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iothub_module);

    if (ctx == NULL || ctx->too_large == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        if (cl->buf->last_buf) {
            out.buf = ctx->too_large;
            out.next = NULL;
            ctx->too_large = NULL;

            return ngx_http_next_body_filter(r, &out);
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_iothub_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_iothub_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_iothub_body_filter;

    return NGX_OK;
}


static void *
ngx_http_iothub_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_iothub_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_iothub_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    return conf;
}


static char *
ngx_http_iothub_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_iothub_loc_conf_t *prev = parent;
    ngx_http_iothub_loc_conf_t *conf = child;

    if (conf->hub == NULL) {
        conf->hub = prev->hub;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_iothub_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_iothub_loc_conf_t *ilcf = conf;

    char                      *rv;
    ngx_http_core_loc_conf_t  *clcf;

    rv = ngx_iothub_conf_set_hub(cf, &ilcf->hub);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_iothub_handler;

    /* request bodies are parsed in memory: keep them out of temp files */

    if (clcf->client_body_buffer_size == NGX_CONF_UNSET_SIZE) {
        clcf->client_body_buffer_size = NGX_HTTP_IOTHUB_BODY_BUFFER;
    }

    if (clcf->client_max_body_size == NGX_CONF_UNSET) {
        clcf->client_max_body_size = NGX_HTTP_IOTHUB_BODY_BUFFER;
    }

    return NGX_CONF_OK;
}
