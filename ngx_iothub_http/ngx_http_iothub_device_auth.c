
/*
 * nginx-iothub http module: device credentials on the device routes
 * (rest.md 14, auth.md).  Every request carries them: the Authorization
 * header holds a SAS token of the identity its path names (device or
 * module) or of a policy with device_connect; without the header, the TLS
 * client certificate (ssl_verify_client optional or optional_no_ca)
 * authenticates an X.509 identity.  The decision is the shared device
 * session layer's (ngx_iothub_session_verify(): the same checks as an
 * MQTT or AMQP connect), without presence: an HTTPS request does not take
 * over the device's MQTT or AMQP session.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_iothub_module.h"
#include "ngx_iothub_log.h"


static void ngx_http_iothub_device_connected(ngx_iothub_session_t *s,
    ngx_iothub_session_rc_e rc, ngx_uint_t present);
static ngx_int_t ngx_http_iothub_device_refused(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_iothub_session_rc_e rc, const char *why);
static void ngx_http_iothub_device_cleanup(void *data);


/*
 * The session never becomes the identity's (no inbox): only "connected"
 * runs, when the identity was read from Redis.
 */
static ngx_iothub_session_protocol_t  ngx_http_iothub_device_protocol = {
    ngx_string("https"),
    ngx_http_iothub_device_connected,
    NULL,
    NULL,
    NULL,
    NULL
};


ngx_int_t
ngx_http_iothub_device_auth(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    ngx_table_elt_t           *h;
    ngx_pool_cleanup_t        *cln;
    ngx_iothub_session_t      *s;
    ngx_iothub_credentials_t   cred;
    ngx_iothub_session_rc_e    rc;

    s = ngx_pcalloc(r->pool, sizeof(ngx_iothub_session_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (s == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_iothub_session_init(s, ctx->hub, &ngx_http_iothub_device_protocol, r,
                            r->connection->log, r->pool);

    cln->handler = ngx_http_iothub_device_cleanup;
    cln->data = s;

    ngx_memzero(&cred, sizeof(ngx_iothub_credentials_t));

    cred.device_id = ctx->device_id;
    cred.module_id = ctx->module_id;
    cred.connection = r->connection;
    cred.clean = 1;

    h = r->headers_in.authorization;

    if (h != NULL) {
        cred.token = h->value;

        if (cred.token.len == 0) {
            return ngx_http_iothub_device_refused(r, ctx,
                                       NGX_IOTHUB_SESSION_BAD_CREDENTIALS,
                                       "empty Authorization header");
        }
    }

    ctx->session = s;

    rc = ngx_iothub_session_verify(s, &cred);

    switch (rc) {

    case NGX_IOTHUB_SESSION_OK:
        return ctx->route(r, ctx);

    case NGX_IOTHUB_SESSION_PENDING:
        return NGX_DONE;

    default:
        return ngx_http_iothub_device_refused(r, ctx, rc, s->why);
    }
}


/* the identity was read: the route runs, or the refusal is sent */

static void
ngx_http_iothub_device_connected(ngx_iothub_session_t *s,
    ngx_iothub_session_rc_e rc, ngx_uint_t present)
{
    ngx_http_request_t *r = s->data;

    ngx_int_t               hrc;
    ngx_http_iothub_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iothub_module);

    hrc = (rc == NGX_IOTHUB_SESSION_OK)
          ? ctx->route(r, ctx)
          : ngx_http_iothub_device_refused(r, ctx, rc, s->why);

    if (hrc != NGX_DONE) {
        ngx_http_iothub_finish(r, hrc);
    }
}


/* 401 with the reason; the log says which check failed */

static ngx_int_t
ngx_http_iothub_device_refused(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_iothub_session_rc_e rc, const char *why)
{
    ngx_iothub_log_buf_t  lb;

    switch (rc) {

    case NGX_IOTHUB_SESSION_UNAVAILABLE:
        return ngx_http_iothub_unavailable(r);

    case NGX_IOTHUB_SESSION_ERROR:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;

    default:
        break;
    }

    if (why == NULL) {
        why = "refused";
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "iothub: device \"%V\" unauthorized: %s",
                  ngx_iothub_log_str(&lb, ctx->device_id.data,
                                     ctx->device_id.len),
                  why);

    return ngx_http_iothub_error(r, NGX_HTTP_UNAUTHORIZED,
                                 "IotHubUnauthorizedAccess",
                                 "Unauthorized: %s", why);
}


static void
ngx_http_iothub_device_cleanup(void *data)
{
    ngx_iothub_session_t *s = data;

    ngx_iothub_session_close(s);
}
