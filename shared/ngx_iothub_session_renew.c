
/*
 * nginx-iothub: renewal of a connected session's SAS token (AMQP CBS
 * put-token for an identity already authenticated on the connection,
 * amqp.md 3).  The identity is read again and the token checked as at
 * connect; a good token moves the session's expiry.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub_session_int.h"


static void ngx_iothub_session_renew_identity(ngx_iothub_registry_op_t *op);
static ngx_iothub_session_rc_e ngx_iothub_session_renew_check(
    ngx_iothub_session_t *s);


ngx_iothub_session_rc_e
ngx_iothub_session_renew(ngx_iothub_session_t *s, ngx_str_t *token)
{
    ngx_int_t  rc;

    if (s->x509 || !s->connected || s->auth_pool) {
        s->why = "no SAS token to renew";
        return NGX_IOTHUB_SESSION_NOT_AUTHORIZED;
    }

    if (token->len == 0 || token->len > NGX_IOTHUB_SESSION_TOKEN_MAX) {
        s->why = "malformed SAS token";
        return NGX_IOTHUB_SESSION_BAD_CREDENTIALS;
    }

    s->auth_pool = ngx_create_pool(4096, s->log);
    if (s->auth_pool == NULL) {
        return NGX_IOTHUB_SESSION_ERROR;
    }

    s->token.len = token->len;
    s->token.data = ngx_pstrdup(s->auth_pool, token);
    if (s->token.data == NULL) {
        ngx_iothub_session_auth_done(s);
        return NGX_IOTHUB_SESSION_ERROR;
    }

    s->op.hub = s->hub;
    s->op.pool = s->auth_pool;
    s->op.log = s->log;
    s->op.handler = ngx_iothub_session_renew_identity;
    s->op.data = s;

    rc = ngx_iothub_registry_lookup(&s->op, &s->sender.device_id,
                                    &s->sender.module_id);

    if (rc == NGX_DONE) {
        s->identity = s->op.identity;
        return ngx_iothub_session_renew_check(s);
    }

    if (rc == NGX_OK) {
        return NGX_IOTHUB_SESSION_PENDING;
    }

    ngx_iothub_session_auth_done(s);

    if (rc == NGX_DECLINED) {
        s->why = "the hub's store is unavailable";
        return NGX_IOTHUB_SESSION_UNAVAILABLE;
    }

    return NGX_IOTHUB_SESSION_ERROR;
}


static void
ngx_iothub_session_renew_identity(ngx_iothub_registry_op_t *op)
{
    ngx_iothub_session_t *s = op->data;

    ngx_iothub_session_rc_e  rc;

    switch (op->rc) {

    case NGX_IOTHUB_REGISTRY_OK:
        s->identity = op->identity;
        rc = ngx_iothub_session_renew_check(s);
        break;

    case NGX_IOTHUB_REGISTRY_NO_DEVICE:
    case NGX_IOTHUB_REGISTRY_NO_MODULE:
        ngx_iothub_session_auth_done(s);
        s->why = "identity not registered";
        rc = NGX_IOTHUB_SESSION_NOT_AUTHORIZED;
        break;

    default:
        ngx_iothub_session_auth_done(s);
        s->why = "the hub's store is unavailable";
        rc = NGX_IOTHUB_SESSION_UNAVAILABLE;
    }

    s->protocol->connected(s, rc, 0);
}


static ngx_iothub_session_rc_e
ngx_iothub_session_renew_check(ngx_iothub_session_t *s)
{
    time_t                   left;
    long long                expiry;
    ngx_uint_t               policy;
    ngx_iothub_session_rc_e  rc;

    expiry = s->token_expiry;
    policy = s->policy_token;
    s->policy_token = 0;

    rc = ngx_iothub_session_authorize(s);

    ngx_iothub_session_auth_done(s);

    if (rc != NGX_IOTHUB_SESSION_OK) {
        s->token_expiry = expiry;
        s->policy_token = policy;
        return rc;
    }

    s->sender.policy = s->policy_token;

    /* the layer's expiry timer, as at connect */

    left = (time_t) (s->token_expiry - ngx_time());

    ngx_add_timer(&s->expiry,
                  (ngx_msec_t) ngx_max(ngx_min(left, 86400 * 24), 1) * 1000);

    return NGX_IOTHUB_SESSION_OK;
}
