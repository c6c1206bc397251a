
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
    ngx_iothub_session_rc_e  rc;

    if (s->x509 || !s->connected || s->auth) {
        s->why = "no SAS token to renew";
        return NGX_IOTHUB_SESSION_NOT_AUTHORIZED;
    }

    if (token->len == 0 || token->len > NGX_IOTHUB_SESSION_TOKEN_MAX) {
        s->why = "malformed SAS token";
        return NGX_IOTHUB_SESSION_BAD_CREDENTIALS;
    }

    if (ngx_iothub_session_auth_start(s) != NGX_OK) {
        return NGX_IOTHUB_SESSION_ERROR;
    }

    if (ngx_iothub_session_keep_token(s, token) != NGX_OK) {
        ngx_iothub_session_auth_done(s);
        return NGX_IOTHUB_SESSION_ERROR;
    }

    rc = ngx_iothub_session_read_identity(s,
                                          ngx_iothub_session_renew_identity);

    if (rc == NGX_IOTHUB_SESSION_OK) {
        return ngx_iothub_session_renew_check(s);
    }

    if (rc != NGX_IOTHUB_SESSION_PENDING) {
        ngx_iothub_session_auth_done(s);
    }

    return rc;
}


static void
ngx_iothub_session_renew_identity(ngx_iothub_registry_op_t *op)
{
    ngx_iothub_session_t *s = op->data;

    ngx_iothub_session_rc_e  rc;

    rc = ngx_iothub_session_identity_read(s, op);

    if (rc == NGX_IOTHUB_SESSION_OK) {
        rc = ngx_iothub_session_renew_check(s);

    } else {
        ngx_iothub_session_auth_done(s);
    }

    s->protocol->connected(s, rc, 0);
}


static ngx_iothub_session_rc_e
ngx_iothub_session_renew_check(ngx_iothub_session_t *s)
{
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

    ngx_iothub_session_arm_expiry(s);

    return NGX_IOTHUB_SESSION_OK;
}
