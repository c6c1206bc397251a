
/*
 * nginx-iothub: the SASL mechanisms of the AMQP endpoint (auth.md 6.2), a
 * Proton SASL plugin.  TLS is nginx's, so Proton sees plain text.
 *
 *   ANONYMOUS, MSSBCBS  succeed at once: identities authenticate later
 *                       with CBS put-token, each with its own token
 *   EXTERNAL            succeeds when the TLS connection carries a client
 *                       certificate; the identities it may act as are
 *                       decided when links attach (X.509, auth.md 5)
 *
 * PLAIN (a SAS token as password) would need the outcome to wait for the
 * registry; it is not offered yet.  Clients may also skip SASL.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include <proton/sasl_plugin.h>

#include "ngx_iothub_amqp.h"


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

    return ctx->client_cert ? "MSSBCBS ANONYMOUS EXTERNAL"
                            : "MSSBCBS ANONYMOUS";
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

    } else {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub amqp: SASL mechanism \"%s\" refused",
                      mechanism);
        pnx_sasl_set_failed(t);
    }

    pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
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
