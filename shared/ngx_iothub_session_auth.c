
/*
 * nginx-iothub: the decision on a device's credentials (auth.md): its
 * identity's status, then a SAS token signed with the identity's key or a
 * policy's with device_connect, or an X.509 client certificate.  A token
 * verified before against the same identity record (the worker's identity
 * cache keeps it with the record, ngx_iothub_idcache.h) is taken without
 * its HMAC, its expiry checked again.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub_session_int.h"
#include "ngx_iothub_sas.h"
#include "ngx_iothub_idcache.h"
#include "ngx_iothub_log.h"


static ngx_iothub_session_rc_e ngx_iothub_session_verify_token(
    ngx_iothub_session_t *s, ngx_iothub_sas_token_t *token);
static ngx_iothub_session_rc_e ngx_iothub_session_token_known(
    ngx_iothub_session_t *s, long long expiry, ngx_uint_t policy);
static ngx_int_t ngx_iothub_session_signing_keys(ngx_iothub_session_t *s,
    ngx_iothub_sas_token_t *token, const char **key1, const char **key2);


ngx_iothub_session_rc_e
ngx_iothub_session_authorize(ngx_iothub_session_t *s)
{
    long long                  expiry;
    ngx_uint_t                 policy;
    ngx_iothub_sas_token_t     token;
    ngx_iothub_session_rc_e    rc;
    ngx_iothub_registry_op_t  *op;

    if (ngx_strcmp(s->auth->identity->status, "disabled") == 0) {
        s->why = "the device is disabled";
        return NGX_IOTHUB_SESSION_NOT_AUTHORIZED;
    }

    if (s->x509) {
        /* no token to expire: the session lasts */
        s->why = ngx_iothub_x509_authorize(&s->auth->cert, s->auth->identity);

        return s->why ? NGX_IOTHUB_SESSION_NOT_AUTHORIZED
                      : NGX_IOTHUB_SESSION_OK;
    }

    /* the identity record came from (or went into) entry op->cached */
    op = &s->auth->op;

    if (ngx_iothub_idcache_token_get(&op->key, op->cached, &s->auth->token,
                                     &expiry, &policy)
        == NGX_OK)
    {
        return ngx_iothub_session_token_known(s, expiry, policy);
    }

    if (ngx_iothub_sas_parse(&token, s->auth->token.data, s->auth->token.len)
        != NGX_IOTHUB_SAS_OK)
    {
        s->why = "malformed SAS token";
        return NGX_IOTHUB_SESSION_BAD_CREDENTIALS;
    }

    rc = ngx_iothub_session_verify_token(s, &token);

    if (rc == NGX_IOTHUB_SESSION_OK) {
        ngx_iothub_idcache_token_put(&op->key, op->cached, &s->auth->token,
                                     s->token_expiry, s->policy_token);
    }

    return rc;
}


/*
 * The token verified before against this identity record: what that
 * verification found, unless the token expired since.
 */

static ngx_iothub_session_rc_e
ngx_iothub_session_token_known(ngx_iothub_session_t *s, long long expiry,
    ngx_uint_t policy)
{
#if (NGX_DEBUG)
    ngx_iothub_log_buf_t  lb;

    ngx_log_debug1(NGX_LOG_DEBUG_CORE, s->log, 0,
                   "iothub: the SAS token of \"%V\" was verified before",
                   ngx_iothub_log_v(&lb, &s->auth->op.key));
#endif

    if (expiry <= (long long) ngx_time()) {
        s->why = "expired SAS token";
        return NGX_IOTHUB_SESSION_NOT_AUTHORIZED;
    }

    s->token_expiry = expiry;
    s->policy_token = policy;

    return NGX_IOTHUB_SESSION_OK;
}


static ngx_iothub_session_rc_e
ngx_iothub_session_verify_token(ngx_iothub_session_t *s,
    ngx_iothub_sas_token_t *token)
{
    u_char      path[300];
    const char *key1, *key2;

    if (ngx_iothub_session_signing_keys(s, token, &key1, &key2) != NGX_OK) {
        return NGX_IOTHUB_SESSION_NOT_AUTHORIZED;
    }

    if (ngx_iothub_sas_verify(token, key1, ngx_strlen(key1))
        != NGX_IOTHUB_SAS_OK
        && (key2 == NULL || key2[0] == '\0'
            || ngx_iothub_sas_verify(token, key2, ngx_strlen(key2))
               != NGX_IOTHUB_SAS_OK))
    {
        s->why = "bad SAS token signature";
        return NGX_IOTHUB_SESSION_NOT_AUTHORIZED;
    }

    if (ngx_iothub_sas_check_expiry(token, ngx_time()) != NGX_IOTHUB_SAS_OK) {
        s->why = "expired SAS token";
        return NGX_IOTHUB_SESSION_NOT_AUTHORIZED;
    }

    if (s->sender.module_id.len) {
        ngx_snprintf(path, sizeof(path), "/devices/%V/modules/%V%Z",
                     &s->sender.device_id, &s->sender.module_id);

    } else {
        ngx_snprintf(path, sizeof(path), "/devices/%V%Z",
                     &s->sender.device_id);
    }

    if (ngx_iothub_sas_covers(token, (char *) s->hub->hostname.data,
                              (char *) path)
        != NGX_IOTHUB_SAS_OK)
    {
        s->why = "the SAS token is for another identity";
        return NGX_IOTHUB_SESSION_NOT_AUTHORIZED;
    }

    s->token_expiry = token->expiry;

    return NGX_IOTHUB_SESSION_OK;
}


/*
 * The identity's keys, or those of the token's policy (skn) if it has
 * device_connect.  An unknown policy is refused as a bad signature is:
 * the device learns nothing of the hub's policies.
 */

static ngx_int_t
ngx_iothub_session_signing_keys(ngx_iothub_session_t *s,
    ngx_iothub_sas_token_t *token, const char **key1, const char **key2)
{
    ngx_iothub_policy_t  *policy;

    if (token->policy[0]) {
        policy = ngx_iothub_find_policy(s->hub, (u_char *) token->policy,
                                        ngx_strlen(token->policy));

        if (policy == NULL
            || !(policy->rights & NGX_IOTHUB_RIGHT_DEVICE_CONNECT))
        {
            s->why = "the policy has no device_connect right";
            return NGX_ERROR;
        }

        *key1 = (char *) policy->primary_key.data;
        *key2 = (char *) policy->secondary_key.data;
        s->policy_token = 1;

        return NGX_OK;
    }

    if (ngx_strcmp(s->auth->identity->auth_type, "sas") != 0) {
        s->why = "the identity does not authenticate with SAS tokens";
        return NGX_ERROR;
    }

    *key1 = s->auth->identity->primary_key;
    *key2 = s->auth->identity->secondary_key;

    return NGX_OK;
}
