
/*
 * nginx-iothub: the SASL mechanisms of the AMQP endpoint (auth.md 6.2), a
 * Proton SASL plugin.  TLS is nginx's, so Proton sees plain text.
 *
 *   ANONYMOUS, MSSBCBS  succeed at once: identities authenticate later
 *                       with CBS put-token, each with its own token
 *   EXTERNAL            succeeds when the TLS connection carries a client
 *                       certificate; the identities it may act as are
 *                       decided when links attach (X.509, auth.md 5)
 *   PLAIN               a SAS token as the password (amqp.md 1.1): the
 *                       user "<deviceId>@sas.<hub>" (or
 *                       "<d>/modules/<m>@sas.<hub>") makes the identity's
 *                       session as a CBS put-token would, and the outcome
 *                       waits for it; "<policy>@sas.root.<hub>" is a back
 *                       end's policy claim, as a put-token for the hub
 *
 * Clients may also skip SASL.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include <proton/sasl_plugin.h>

#include "ngx_iothub_amqp.h"
#include "ngx_iothub_log.h"
#include "ngx_iothub_sas.h"


static const char *ngx_iothub_amqp_sasl_list(pn_transport_t *t);
static bool ngx_iothub_amqp_sasl_init_server(pn_transport_t *t);
static bool ngx_iothub_amqp_sasl_init_client(pn_transport_t *t);
static void ngx_iothub_amqp_sasl_nothing(pn_transport_t *t);
static void ngx_iothub_amqp_sasl_process_init(pn_transport_t *t,
    const char *mechanism, const pn_bytes_t *recv);
static void ngx_iothub_amqp_sasl_process_response(pn_transport_t *t,
    const pn_bytes_t *recv);
static bool ngx_iothub_amqp_sasl_process_mechanisms(pn_transport_t *t,
    const char *mechs);
static void ngx_iothub_amqp_sasl_process_bytes(pn_transport_t *t,
    const pn_bytes_t *recv);
static bool ngx_iothub_amqp_sasl_can_encrypt(pn_transport_t *t);
static ssize_t ngx_iothub_amqp_sasl_max_encrypt(pn_transport_t *t);
static ssize_t ngx_iothub_amqp_sasl_code(pn_transport_t *t, pn_bytes_t in,
    pn_bytes_t *out);
static ngx_int_t ngx_iothub_amqp_sasl_plain(ngx_iothub_amqp_ctx_t *ctx,
    const pn_bytes_t *recv);
static ngx_int_t ngx_iothub_amqp_sasl_policy(ngx_iothub_amqp_ctx_t *ctx,
    ngx_iothub_amqp_addr_t *a, pn_bytes_t *token);
static ngx_uint_t ngx_iothub_amqp_sasl_hub(ngx_iothub_hub_t *hub,
    const char *name);


static const pnx_sasl_implementation  ngx_iothub_amqp_sasl = {
    ngx_iothub_amqp_sasl_nothing,               /* free */
    ngx_iothub_amqp_sasl_list,
    ngx_iothub_amqp_sasl_init_server,
    ngx_iothub_amqp_sasl_init_client,
    ngx_iothub_amqp_sasl_nothing,               /* prepare_write */
    ngx_iothub_amqp_sasl_process_init,
    ngx_iothub_amqp_sasl_process_response,
    ngx_iothub_amqp_sasl_process_mechanisms,
    ngx_iothub_amqp_sasl_process_bytes,         /* challenge */
    ngx_iothub_amqp_sasl_process_bytes,         /* outcome */
    ngx_iothub_amqp_sasl_can_encrypt,
    ngx_iothub_amqp_sasl_max_encrypt,
    ngx_iothub_amqp_sasl_code,                  /* encode */
    ngx_iothub_amqp_sasl_code                   /* decode */
};


void
ngx_iothub_amqp_sasl_init(ngx_iothub_amqp_ctx_t *ctx)
{
    pn_sasl_t  *sasl;

    sasl = pn_sasl(ctx->driver.transport);
    pn_sasl_set_allow_insecure_mechs(sasl, true);

    pnx_sasl_set_implementation(ctx->driver.transport, &ngx_iothub_amqp_sasl,
                                ctx);
}


static const char *
ngx_iothub_amqp_sasl_list(pn_transport_t *t)
{
    ngx_iothub_amqp_ctx_t *ctx = pnx_sasl_get_context(t);

    return ctx->client_cert ? "MSSBCBS ANONYMOUS PLAIN EXTERNAL"
                            : "MSSBCBS ANONYMOUS PLAIN";
}


static bool
ngx_iothub_amqp_sasl_init_server(pn_transport_t *t)
{
    pnx_sasl_set_desired_state(t, SASL_POSTED_MECHANISMS);
    return true;
}


static bool
ngx_iothub_amqp_sasl_init_client(pn_transport_t *t)
{
    return false;
}


static void
ngx_iothub_amqp_sasl_nothing(pn_transport_t *t)
{
}


static void
ngx_iothub_amqp_sasl_process_init(pn_transport_t *t, const char *mechanism,
    const pn_bytes_t *recv)
{
    ngx_iothub_amqp_ctx_t *ctx = pnx_sasl_get_context(t);

    if (ngx_strcmp(mechanism, "ANONYMOUS") == 0
        || ngx_strcmp(mechanism, "MSSBCBS") == 0)
    {
        pnx_sasl_set_succeeded(t, "anonymous", NULL);

    } else if (ngx_strcmp(mechanism, "EXTERNAL") == 0 && ctx->client_cert) {
        pnx_sasl_set_succeeded(t, "external", NULL);

    } else if (ngx_strcmp(mechanism, "PLAIN") == 0) {

        switch (ngx_iothub_amqp_sasl_plain(ctx, recv)) {

        case NGX_AGAIN:
            /* ngx_iothub_amqp_sasl_outcome() once the session answers */
            return;

        case NGX_OK:
            pnx_sasl_set_succeeded(t, "plain", NULL);
            break;

        default:
            pnx_sasl_set_failed(t);
        }

    } else {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub amqp: SASL mechanism \"%s\" refused",
                      mechanism);
        pnx_sasl_set_failed(t);
    }

    pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
}


/* the outcome of a PLAIN authentication that waited for the session */

void
ngx_iothub_amqp_sasl_outcome(ngx_iothub_amqp_ctx_t *ctx, ngx_uint_t ok)
{
    pn_transport_t  *t;

    t = ctx->driver.transport;

    if (ok) {
        pnx_sasl_set_succeeded(t, "plain", NULL);

    } else {
        pnx_sasl_set_failed(t);
    }

    pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
}


/*
 * PLAIN's initial response: [authzid] NUL user NUL password.  NGX_OK
 * authenticated, NGX_AGAIN the outcome comes later, NGX_DECLINED refused.
 */

static ngx_int_t
ngx_iothub_amqp_sasl_plain(ngx_iothub_amqp_ctx_t *ctx,
    const pn_bytes_t *recv)
{
    char                    hub[256];
    u_char                 *p, *last, *user, *password;
    pn_bytes_t              token;
    ngx_iothub_amqp_addr_t  a;
    ngx_iothub_log_buf_t    escaped;

    p = (u_char *) recv->start;
    last = p + recv->size;

    user = (p == NULL) ? NULL : ngx_strlchr(p, last, '\0');
    password = (user == NULL) ? NULL : ngx_strlchr(user + 1, last, '\0');

    if (password == NULL) {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub amqp: malformed SASL PLAIN response");
        return NGX_DECLINED;
    }

    user++;
    password++;

    if (ngx_iothub_amqp_plain_user(user, password - 1 - user, &a, hub,
                                   sizeof(hub))
        != 0
        || !ngx_iothub_amqp_sasl_hub(ctx->hub, hub))
    {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub amqp: SASL PLAIN user \"%V\" refused: not "
                      "<id>@sas.<hub> nor <policy>@sas.root.<hub> of this "
                      "hub",
                      ngx_iothub_log_str(&escaped, user,
                                         password - 1 - user));
        return NGX_DECLINED;
    }

    token.start = (char *) password;
    token.size = last - password;

    if (a.kind == NGX_IOTHUB_AMQP_ADDR_POLICY) {
        return ngx_iothub_amqp_sasl_policy(ctx, &a, &token);
    }

    return ngx_iothub_amqp_plain_device(ctx, &a, &token);
}


/* a back end's policy token, as a put-token for the hub would be */

static ngx_int_t
ngx_iothub_amqp_sasl_policy(ngx_iothub_amqp_ctx_t *ctx,
    ngx_iothub_amqp_addr_t *a, pn_bytes_t *token)
{
    int                      status;
    pn_bytes_t               audience;
    const char              *why;
    ngx_iothub_log_buf_t     escaped;
    ngx_iothub_sas_token_t   sas;

    if (ngx_iothub_sas_parse(&sas, (u_char *) token->start, token->size)
        != NGX_IOTHUB_SAS_OK)
    {
        why = "malformed SAS token";
        status = 400;

    } else if (ngx_strcmp(sas.policy, a->device) != 0) {
        why = "the SAS token is of another policy than the user name's";
        status = 401;

    } else {
        audience.start = (char *) ctx->hub->hostname.data;
        audience.size = ctx->hub->hostname.len;

        status = ngx_iothub_amqp_service_put_token(ctx, &audience, token,
                                                   &why);
    }

    if (status == 200) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                  "iothub amqp: SASL PLAIN policy \"%V\" refused: %s",
                  ngx_iothub_log_str(&escaped, (u_char *) a->device,
                                     a->device_len),
                  why);

    return NGX_DECLINED;
}


/* the user name's hub: the hub's name or its host name's first label */

static ngx_uint_t
ngx_iothub_amqp_sasl_hub(ngx_iothub_hub_t *hub, const char *name)
{
    size_t   len;
    u_char  *dot;

    len = ngx_strlen(name);

    if (len == hub->name.len
        && ngx_strncasecmp((u_char *) name, hub->name.data, len) == 0)
    {
        return 1;
    }

    dot = ngx_strlchr(hub->hostname.data,
                      hub->hostname.data + hub->hostname.len, '.');

    if (dot == NULL) {
        dot = hub->hostname.data + hub->hostname.len;
    }

    return len == (size_t) (dot - hub->hostname.data)
           && ngx_strncasecmp((u_char *) name, hub->hostname.data, len) == 0;
}


static void
ngx_iothub_amqp_sasl_process_response(pn_transport_t *t,
    const pn_bytes_t *recv)
{
    /* no mechanism of ours has a challenge */
    pnx_sasl_set_failed(t);
    pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
}


static bool
ngx_iothub_amqp_sasl_process_mechanisms(pn_transport_t *t, const char *mechs)
{
    return false;
}


static void
ngx_iothub_amqp_sasl_process_bytes(pn_transport_t *t, const pn_bytes_t *recv)
{
}


static bool
ngx_iothub_amqp_sasl_can_encrypt(pn_transport_t *t)
{
    return false;
}


static ssize_t
ngx_iothub_amqp_sasl_max_encrypt(pn_transport_t *t)
{
    return 0;
}


static ssize_t
ngx_iothub_amqp_sasl_code(pn_transport_t *t, pn_bytes_t in, pn_bytes_t *out)
{
    return -1;
}
