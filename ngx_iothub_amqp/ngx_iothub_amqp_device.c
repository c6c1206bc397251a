
/*
 * nginx-iothub: what AMQP links mean to IoT Hub (amqp.md 2-6): the CBS
 * node ($cbs put-token), the identities authenticated on a connection
 * (each a device session of the shared layer: the field-gateway case),
 * and the device links, authorized against those identities.  This file
 * is the AMQP hook table of the session layer.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_amqp.h"
#include "ngx_iothub_features.h"
#include "ngx_iothub_log.h"
#include "ngx_iothub_sas.h"


/* what a CBS put-token request's properties say */
typedef struct {
    ngx_uint_t                      operation;   /* put-token */
    ngx_uint_t                      type;        /* a SAS token's */
    pn_bytes_t                      audience;    /* name */
} ngx_iothub_amqp_put_token_t;


static void ngx_iothub_amqp_link_open(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link);
static void ngx_iothub_amqp_link_closed(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link);
static void ngx_iothub_amqp_flow(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link);
static void ngx_iothub_amqp_delivery(ngx_iothub_amqp_ctx_t *ctx,
    pn_delivery_t *d);
static void ngx_iothub_amqp_closed(ngx_iothub_amqp_ctx_t *ctx);
static void ngx_iothub_amqp_device_link(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link, ngx_iothub_amqp_link_t *lc, ngx_iothub_amqp_addr_t *a);
static void ngx_iothub_amqp_accept_link(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link, ngx_iothub_amqp_link_t *lc);
static void ngx_iothub_amqp_waiting_links(ngx_iothub_amqp_device_t *dev);
static void ngx_iothub_amqp_put_token(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link, pn_delivery_t *d);
static ngx_int_t ngx_iothub_amqp_put_token_args(pn_message_t *m,
    pn_bytes_t *audience, pn_bytes_t *token);
static ngx_int_t ngx_iothub_amqp_put_token_entry(pn_atom_t *key,
    pn_data_t *data, void *arg);
static void ngx_iothub_amqp_cbs_reply(ngx_iothub_amqp_ctx_t *ctx,
    pn_atom_t *id, int status, const char *description);
static ngx_iothub_amqp_device_t *ngx_iothub_amqp_device_find(
    ngx_iothub_amqp_ctx_t *ctx, ngx_iothub_amqp_addr_t *a);
static ngx_iothub_amqp_device_t *ngx_iothub_amqp_device_create(
    ngx_iothub_amqp_ctx_t *ctx, ngx_iothub_amqp_addr_t *a);
static ngx_iothub_session_rc_e ngx_iothub_amqp_device_connect(
    ngx_iothub_amqp_device_t *dev, pn_bytes_t *token);
static void ngx_iothub_amqp_device_remove(ngx_iothub_amqp_device_t *dev,
    const char *condition, const char *why);
static int ngx_iothub_amqp_cbs_status(ngx_iothub_session_rc_e rc);
static void ngx_iothub_amqp_connected(ngx_iothub_session_t *s,
    ngx_iothub_session_rc_e rc, ngx_uint_t present);
static void ngx_iothub_amqp_kick(ngx_iothub_session_t *s,
    ngx_iothub_kick_e why);
static void ngx_iothub_amqp_c2d_pull(ngx_iothub_amqp_device_t *dev);
static void ngx_iothub_amqp_feature(ngx_iothub_amqp_device_t *dev,
    ngx_uint_t feature, ngx_uint_t on);


ngx_iothub_amqp_events_t  ngx_iothub_amqp_events = {
    ngx_iothub_amqp_link_open,
    ngx_iothub_amqp_link_closed,
    ngx_iothub_amqp_flow,
    ngx_iothub_amqp_delivery,
    ngx_iothub_amqp_closed
};


static ngx_iothub_session_protocol_t  ngx_iothub_amqp_protocol = {
    ngx_string("AMQP"),
    ngx_iothub_amqp_connected,
    ngx_iothub_amqp_kick,
    ngx_iothub_amqp_desired,
    ngx_iothub_amqp_method,
    ngx_iothub_amqp_c2d_deliver
};


/* a client attached a link: the address says what it is (amqp.md 4) */

static void
ngx_iothub_amqp_link_open(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link)
{
    const char              *addr;
    pn_terminus_t           *t;
    ngx_iothub_amqp_addr_t   a;
    ngx_iothub_amqp_link_t  *lc;
    ngx_iothub_log_buf_t     escaped;

    /* the client's sender names its target, its receiver its source */
    t = pn_link_is_receiver(link) ? pn_link_remote_target(link)
                                  : pn_link_remote_source(link);
    addr = pn_terminus_get_address(t);

    /* the Event Hubs-compatible endpoint's links: its own file */
    if (addr != NULL
        && ngx_iothub_amqp_eh_link_open(ctx, link, addr) != NGX_DECLINED)
    {
        return;
    }

    if (addr == NULL
        || ngx_iothub_amqp_addr_parse((u_char *) addr, ngx_strlen(addr), &a)
           != 0)
    {
        ngx_iothub_amqp_refuse_link(link, "amqp:not-found",
                                    "malformed or missing address");
        return;
    }

    lc = ngx_calloc(sizeof(ngx_iothub_amqp_link_t), ctx->connection->log);
    if (lc == NULL) {
        ngx_iothub_amqp_refuse_link(link, "amqp:internal-error",
                                    "out of memory");
        return;
    }

    lc->kind = a.kind;
    pn_link_set_context(link, lc);

    switch (a.kind) {

    case NGX_IOTHUB_AMQP_ADDR_CBS:
        ngx_iothub_amqp_accept_link(ctx, link, lc);
        return;

    case NGX_IOTHUB_AMQP_ADDR_TELEMETRY:
    case NGX_IOTHUB_AMQP_ADDR_C2D:
    case NGX_IOTHUB_AMQP_ADDR_TWIN:       /* a link each way, paired */
    case NGX_IOTHUB_AMQP_ADDR_METHODS:
        ngx_iothub_amqp_device_link(ctx, link, lc, &a);
        return;

    case NGX_IOTHUB_AMQP_ADDR_SERVICE_C2D:
    case NGX_IOTHUB_AMQP_ADDR_FEEDBACK:
    case NGX_IOTHUB_AMQP_ADDR_FILE_NOTIFICATIONS:
        ngx_iothub_amqp_service_link(ctx, link, lc);
        return;

    default:
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub amqp: link to unknown address \"%V\"",
                      ngx_iothub_log_str(&escaped, (u_char *) addr,
                                         ngx_strlen(addr)));
        ngx_iothub_amqp_refuse_link(link, "amqp:not-found",
                                    "unknown address");
    }
}


/*
 * A device link is the identity's own, in the direction the address
 * means; with no token put for the identity, a client certificate may
 * authenticate it (X.509, auth.md 5), else it is refused.
 */

static void
ngx_iothub_amqp_device_link(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link,
    ngx_iothub_amqp_link_t *lc, ngx_iothub_amqp_addr_t *a)
{
    ngx_iothub_amqp_device_t  *dev;
    ngx_iothub_session_rc_e    rc;

    /*
     * a module's receiver on its telemetry address is the Node SDK's
     * module input link (amqp.md 11); a device's is a mistake
     */
    if ((a->kind == NGX_IOTHUB_AMQP_ADDR_C2D && pn_link_is_receiver(link))
        || (a->kind == NGX_IOTHUB_AMQP_ADDR_TELEMETRY
            && pn_link_is_sender(link) && a->module_len == 0))
    {
        ngx_iothub_amqp_refuse_link(link, "amqp:not-allowed",
                                    a->kind == NGX_IOTHUB_AMQP_ADDR_C2D
                                    ? "cloud-to-device messages are received"
                                    : "telemetry is sent; only modules "
                                      "receive input messages");
        return;
    }

    dev = ngx_iothub_amqp_device_find(ctx, a);

    if (dev == NULL && !ctx->client_cert) {
        ngx_iothub_amqp_refuse_link(link, "amqp:unauthorized-access",
                                    "no valid token was put for this "
                                    "identity");
        return;
    }

    if (dev == NULL) {
        dev = ngx_iothub_amqp_device_create(ctx, a);
        if (dev == NULL) {
            ngx_iothub_amqp_refuse_link(link,
                                        "amqp:resource-limit-exceeded",
                                        "too many identities on the "
                                        "connection");
            return;
        }

        lc->device = dev;
        dev->nlinks++;

        rc = ngx_iothub_amqp_device_connect(dev, NULL);

        if (rc != NGX_IOTHUB_SESSION_PENDING) {
            ngx_iothub_amqp_device_remove(dev, "amqp:unauthorized-access",
                                          dev->session.why);
        }

        return;
    }

    if (dev->nlinks == NGX_IOTHUB_AMQP_LINKS_MAX) {
        ngx_iothub_amqp_refuse_link(link, "amqp:resource-limit-exceeded",
                                    "too many links for this identity");
        return;
    }

    lc->device = dev;
    dev->nlinks++;

    if (dev->connected && !dev->renewing) {
        ngx_iothub_amqp_accept_link(ctx, link, lc);
    }

    /* else it waits for the identity's authentication */
}


static void
ngx_iothub_amqp_accept_link(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link,
    ngx_iothub_amqp_link_t *lc)
{
    ngx_iothub_amqp_device_t  *dev;

    ngx_iothub_amqp_open_link(link);
    lc->opened = 1;

    if (lc->kind == NGX_IOTHUB_AMQP_ADDR_CBS) {
        if (pn_link_is_receiver(link)) {
            pn_link_flow(link, NGX_IOTHUB_AMQP_CBS_CREDIT);
        }

        return;
    }

    dev = lc->device;

    if (lc->kind == NGX_IOTHUB_AMQP_ADDR_TELEMETRY
        && pn_link_is_sender(link))
    {
        /*
         * module inputs: recorded as MQTT records its inputs/#
         * subscription; nothing is delivered yet, as the hub routes no
         * messages to module inputs (compatibility.md)
         */
        ngx_iothub_amqp_feature(dev, NGX_IOTHUB_FEATURE_INPUTS, 1);
        return;
    }

    if (lc->kind == NGX_IOTHUB_AMQP_ADDR_TELEMETRY) {
        /* back-pressure: credit comes back as Redis stores messages */
        pn_link_flow(link, (int) ctx->conf->telemetry_credit);
        return;
    }

    if (lc->kind == NGX_IOTHUB_AMQP_ADDR_TWIN) {
        ngx_iothub_amqp_twin_link(dev, link);
        return;
    }

    if (lc->kind == NGX_IOTHUB_AMQP_ADDR_METHODS) {
        ngx_iothub_amqp_method_link(dev, link);
        return;
    }

    /* cloud-to-device: one link per identity delivers */

    if (dev->c2d_link == NULL) {
        dev->c2d_link = link;
        ngx_iothub_amqp_feature(dev, NGX_IOTHUB_FEATURE_C2D, 1);
        ngx_iothub_amqp_c2d_pull(dev);
    }
}


/* links that waited for their identity's authentication (X.509) */

static void
ngx_iothub_amqp_waiting_links(ngx_iothub_amqp_device_t *dev)
{
    pn_link_t               *link;
    ngx_iothub_amqp_link_t  *lc;

    for (link = pn_link_head(dev->ctx->driver.connection, 0);
         link;
         link = pn_link_next(link, 0))
    {
        lc = pn_link_get_context(link);

        if (lc == NULL || lc->device != dev || lc->opened) {
            continue;
        }

        ngx_iothub_amqp_accept_link(dev->ctx, link, lc);
    }
}


static void
ngx_iothub_amqp_link_closed(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link)
{
    ngx_iothub_amqp_link_t    *lc;
    ngx_iothub_amqp_addr_e     kind;
    ngx_iothub_amqp_device_t  *dev;

    lc = pn_link_get_context(link);
    if (lc == NULL) {
        return;
    }

    if (lc->kind == NGX_IOTHUB_AMQP_ADDR_EVENTHUB) {
        ngx_iothub_amqp_eh_link_closed(ctx, link);
        return;
    }

    if (ngx_iothub_amqp_service_kind(lc->kind)) {
        ngx_iothub_amqp_service_link_closed(ctx, link);
    }

    dev = lc->device;
    kind = lc->kind;
    pn_link_set_context(link, NULL);
    ngx_free(lc);

    if (dev == NULL) {
        return;
    }

    dev->nlinks--;

    if (kind == NGX_IOTHUB_AMQP_ADDR_METHODS) {
        ngx_iothub_amqp_method_links(dev);
    }

    if (kind == NGX_IOTHUB_AMQP_ADDR_TELEMETRY && pn_link_is_sender(link)
        && (dev->session.features & NGX_IOTHUB_FEATURE_INPUTS))
    {
        ngx_iothub_amqp_feature(dev, NGX_IOTHUB_FEATURE_INPUTS, 0);
    }

    if (link != dev->c2d_link) {
        return;
    }

    /* a detach abandons the message in flight (amqp.md 6) */

    dev->c2d_link = NULL;

    if (dev->c2d_delivery) {
        dev->c2d_delivery = NULL;
        ngx_iothub_session_c2d_settle(&dev->session, NGX_IOTHUB_C2D_ABANDON);
    }

    ngx_iothub_amqp_feature(dev, NGX_IOTHUB_FEATURE_C2D, 0);
}


static void
ngx_iothub_amqp_flow(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link)
{
    ngx_iothub_amqp_link_t  *lc;

    lc = pn_link_get_context(link);

    if (lc && lc->kind == NGX_IOTHUB_AMQP_ADDR_EVENTHUB) {
        ngx_iothub_amqp_eh_flow(ctx, link);
        return;
    }

    if (lc && ngx_iothub_amqp_service_kind(lc->kind)) {
        ngx_iothub_amqp_service_flow(ctx, link);
        return;
    }

    if (lc && lc->device && link == lc->device->c2d_link
        && pn_link_credit(link) > 0)
    {
        ngx_iothub_session_c2d_pull(&lc->device->session);
    }
}


static void
ngx_iothub_amqp_delivery(ngx_iothub_amqp_ctx_t *ctx, pn_delivery_t *d)
{
    pn_link_t               *link;
    ngx_iothub_amqp_link_t  *lc;

    link = pn_delivery_link(d);
    lc = pn_link_get_context(link);

    if (lc && lc->kind == NGX_IOTHUB_AMQP_ADDR_EVENTHUB) {
        ngx_iothub_amqp_eh_delivery(ctx, d);
        return;
    }

    if (pn_link_is_sender(link)) {
        if (lc && ngx_iothub_amqp_service_kind(lc->kind)) {
            ngx_iothub_amqp_service_delivery(ctx, d);
            return;
        }

        if (lc && lc->device && d == lc->device->c2d_delivery
            && pn_delivery_updated(d))
        {
            ngx_iothub_amqp_c2d_outcome(lc->device, d);
        }

        return;
    }

    if (!ngx_iothub_amqp_transfer_complete(link, d)) {
        return;
    }

    if (lc == NULL || !lc->opened) {
        /* a link being closed: its transfers go */
        (void) pn_link_advance(link);
        pn_delivery_settle(d);
        return;
    }

    if (lc->kind == NGX_IOTHUB_AMQP_ADDR_CBS) {
        ngx_iothub_amqp_put_token(ctx, link, d);
        return;
    }

    if (ngx_iothub_amqp_service_kind(lc->kind)) {
        ngx_iothub_amqp_service_delivery(ctx, d);
        return;
    }

    if (lc->device == NULL) {
        (void) pn_link_advance(link);
        ngx_iothub_amqp_settle(d, PN_REJECTED, "amqp:unauthorized-access",
                               "the identity is no longer authenticated");
        return;
    }

    switch (lc->kind) {

    case NGX_IOTHUB_AMQP_ADDR_TWIN:
        ngx_iothub_amqp_twin_request(lc->device, link, d);
        return;

    case NGX_IOTHUB_AMQP_ADDR_METHODS:
        ngx_iothub_amqp_method_response(lc->device, link, d);
        return;

    default:
        ngx_iothub_amqp_telemetry(lc->device, link, d);
    }
}


/* put-token (amqp.md 3): a session per identity, or a renewed token */

static void
ngx_iothub_amqp_put_token(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link,
    pn_delivery_t *d)
{
    ngx_str_t                  t;
    ngx_int_t                  status;
    pn_atom_t                  id;
    pn_bytes_t                 audience, token;
    const char                *error, *description;
    pn_message_t              *m;
    ngx_iothub_amqp_addr_t     a;
    ngx_iothub_session_rc_e    rc;
    ngx_iothub_amqp_device_t  *dev;

    m = ngx_iothub_amqp_recv_message(ctx, link, d, &error);

    pn_delivery_update(d, m ? PN_ACCEPTED : PN_REJECTED);
    pn_delivery_settle(d);
    pn_link_flow(link, 1);

    if (m == NULL) {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub amqp: CBS request: %s", error);
        return;
    }

    id = pn_message_get_id(m);

    if (ngx_iothub_amqp_put_token_args(m, &audience, &token) != NGX_OK) {
        ngx_iothub_amqp_cbs_reply(ctx, &id, 400,
                                  "a put-token with a SAS token expected");
        goto done;
    }

    /* "sb://<host>/<entity>/...": the Event Hubs-compatible endpoint */

    status = ngx_iothub_amqp_eh_put_token(ctx, &audience, &token,
                                          &description);

    if (status != NGX_DECLINED) {
        ngx_iothub_amqp_cbs_reply(ctx, &id, (int) status, description);
        goto done;
    }

    if (ngx_iothub_amqp_audience_parse((u_char *) audience.start,
                                       audience.size, &a)
        != 0
        || (a.kind == NGX_IOTHUB_AMQP_ADDR_IDENTITY
            && (!ngx_iothub_id_valid((u_char *) a.device, a.device_len)
                || (a.module_len
                    && !ngx_iothub_id_valid((u_char *) a.module,
                                            a.module_len)))))
    {
        ngx_iothub_amqp_cbs_reply(ctx, &id, 400, "malformed audience");
        goto done;
    }

    if (a.kind != NGX_IOTHUB_AMQP_ADDR_IDENTITY) {
        /* the hub: a back end's policy token */
        status = ngx_iothub_amqp_service_put_token(ctx, &audience, &token,
                                                   &error);
        ngx_iothub_amqp_cbs_reply(ctx, &id, (int) status, error);
        goto done;
    }

    dev = ngx_iothub_amqp_device_find(ctx, &a);

    if (dev && (dev->cbs_pending || !dev->connected)) {
        ngx_iothub_amqp_cbs_reply(ctx, &id, 400, "a put-token for this "
                                  "identity is being processed");
        goto done;
    }

    if (dev) {
        /* renewal: the links stay, the expiry moves */
        dev->renewing = 1;
        dev->cbs_id = id;

        t.len = token.size;
        t.data = (u_char *) token.start;

        rc = ngx_iothub_session_renew(&dev->session, &t);

        if (rc == NGX_IOTHUB_SESSION_PENDING) {
            dev->cbs_pending = 1;
            goto keep_id;
        }

        dev->renewing = 0;
        ngx_iothub_amqp_cbs_reply(ctx, &id, ngx_iothub_amqp_cbs_status(rc),
                                  rc == NGX_IOTHUB_SESSION_OK
                                  ? "OK" : dev->session.why);
        goto done;
    }

    dev = ngx_iothub_amqp_device_create(ctx, &a);
    if (dev == NULL) {
        ngx_iothub_amqp_cbs_reply(ctx, &id, 403, "too many identities on "
                                  "the connection");
        goto done;
    }

    dev->cbs_id = id;

    rc = ngx_iothub_amqp_device_connect(dev, &token);

    if (rc == NGX_IOTHUB_SESSION_PENDING) {
        dev->cbs_pending = 1;
        goto keep_id;
    }

    ngx_iothub_amqp_cbs_reply(ctx, &id, ngx_iothub_amqp_cbs_status(rc),
                              dev->session.why ? dev->session.why
                                               : "refused");
    ngx_iothub_amqp_device_remove(dev, "amqp:unauthorized-access",
                                  dev->session.why);
    goto done;

keep_id:

    /* the answer needs the request's id, of the same type (amqp.md 3) */

    if (id.type == PN_STRING || id.type == PN_BINARY
        || id.type == PN_SYMBOL)
    {
        dev->cbs_id.u.as_bytes.start = ngx_pnalloc(dev->pool,
                                                   id.u.as_bytes.size + 1);
        if (dev->cbs_id.u.as_bytes.start == NULL) {
            dev->cbs_id.type = PN_NULL;

        } else {
            ngx_memcpy((char *) dev->cbs_id.u.as_bytes.start,
                       id.u.as_bytes.start, id.u.as_bytes.size);
        }
    }

done:

    pn_message_free(m);
}


/*
 * SASL PLAIN with a device's or module's token (amqp.md 1.1): the
 * identity's session as a put-token makes it.  NGX_AGAIN: the SASL outcome
 * waits for the hook "connected"; NGX_DECLINED: refused now.
 */

ngx_int_t
ngx_iothub_amqp_plain_device(ngx_iothub_amqp_ctx_t *ctx,
    ngx_iothub_amqp_addr_t *a, pn_bytes_t *token)
{
    ngx_iothub_amqp_device_t  *dev;

    if (!ngx_iothub_id_valid((u_char *) a->device, a->device_len)
        || (a->module_len
            && !ngx_iothub_id_valid((u_char *) a->module, a->module_len)))
    {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub amqp: SASL PLAIN: malformed identity");
        return NGX_DECLINED;
    }

    dev = ngx_iothub_amqp_device_create(ctx, a);
    if (dev == NULL) {
        return NGX_DECLINED;
    }

    dev->sasl_pending = 1;

    if (ngx_iothub_amqp_device_connect(dev, token)
        == NGX_IOTHUB_SESSION_PENDING)
    {
        return NGX_AGAIN;
    }

    ngx_iothub_amqp_device_remove(dev, "amqp:unauthorized-access",
                                  dev->session.why);

    return NGX_DECLINED;
}


/* operation put-token, a SAS token type, name and an amqp-value token */

static ngx_int_t
ngx_iothub_amqp_put_token_args(pn_message_t *m, pn_bytes_t *audience,
    pn_bytes_t *token)
{
    pn_data_t                      *body;
    ngx_iothub_amqp_put_token_t     put;

    ngx_memzero(&put, sizeof(ngx_iothub_amqp_put_token_t));

    if (ngx_iothub_amqp_map_each(pn_message_properties(m),
                                 ngx_iothub_amqp_put_token_entry, &put)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    body = pn_message_body(m);
    pn_data_rewind(body);

    if (!put.operation || !put.type || put.audience.size == 0
        || !pn_data_next(body) || pn_data_type(body) != PN_STRING)
    {
        return NGX_ERROR;
    }

    *audience = put.audience;
    *token = pn_data_get_string(body);

    return NGX_OK;
}


/* a CBS request's property, as text (a string or a symbol) */

static ngx_int_t
ngx_iothub_amqp_put_token_entry(pn_atom_t *key, pn_data_t *data, void *arg)
{
    ngx_iothub_amqp_put_token_t *put = arg;

    pn_bytes_t  k, value;

    if ((key->type != PN_STRING && key->type != PN_SYMBOL)
        || (pn_data_type(data) != PN_STRING
            && pn_data_type(data) != PN_SYMBOL))
    {
        return NGX_OK;
    }

    k = key->u.as_bytes;
    value = pn_data_type(data) == PN_STRING ? pn_data_get_string(data)
                                             : pn_data_get_symbol(data);

    if (k.size == 9 && ngx_strncmp(k.start, "operation", 9) == 0) {
        put->operation = (value.size == 9
                          && ngx_strncmp(value.start, "put-token", 9) == 0);

    } else if (k.size == 4 && ngx_strncmp(k.start, "type", 4) == 0) {
        put->type = (value.size == 31
                     && ngx_strncmp(value.start,
                                    "servicebus.windows.net:sastoken", 31)
                        == 0)
                    || (value.size == 26
                        && ngx_strncmp(value.start,
                                       "azure-devices.net:sastoken", 26)
                           == 0);

    } else if (k.size == 4 && ngx_strncmp(k.start, "name", 4) == 0) {
        put->audience = value;
    }

    return NGX_OK;
}


/* on the $cbs receiver: status-code (int) and status-description */

static void
ngx_iothub_amqp_cbs_reply(ngx_iothub_amqp_ctx_t *ctx, pn_atom_t *id,
    int status, const char *description)
{
    pn_link_t               *link;
    ngx_iothub_amqp_link_t  *lc;

    for (link = pn_link_head(ctx->driver.connection, PN_LOCAL_ACTIVE);
         link;
         link = pn_link_next(link, PN_LOCAL_ACTIVE))
    {
        lc = pn_link_get_context(link);

        if (lc && lc->kind == NGX_IOTHUB_AMQP_ADDR_CBS
            && pn_link_is_sender(link))
        {
            break;
        }
    }

    if (link == NULL) {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub amqp: no $cbs receiver for the put-token "
                      "answer %d", status);
        return;
    }

    if (ngx_iothub_amqp_send_status(ctx, link, NULL, id, status, description,
                                    NULL)
        != NGX_OK)
    {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                  "iothub amqp: put-token answered %d %s", status,
                  description);
}


static int
ngx_iothub_amqp_cbs_status(ngx_iothub_session_rc_e rc)
{
    switch (rc) {

    case NGX_IOTHUB_SESSION_OK:
        return 200;

    case NGX_IOTHUB_SESSION_BAD_CREDENTIALS:
        return 400;

    case NGX_IOTHUB_SESSION_NOT_AUTHORIZED:
        return 401;

    default:
        return 500;
    }
}


static ngx_iothub_amqp_device_t *
ngx_iothub_amqp_device_find(ngx_iothub_amqp_ctx_t *ctx,
    ngx_iothub_amqp_addr_t *a)
{
    ngx_queue_t               *q;
    ngx_iothub_amqp_device_t  *dev;

    for (q = ngx_queue_head(&ctx->devices);
         q != ngx_queue_sentinel(&ctx->devices);
         q = ngx_queue_next(q))
    {
        dev = ngx_queue_data(q, ngx_iothub_amqp_device_t, queue);

        if (dev->id->device_len == a->device_len
            && dev->id->module_len == a->module_len
            && ngx_memcmp(dev->id->device, a->device, a->device_len) == 0
            && ngx_memcmp(dev->id->module, a->module, a->module_len) == 0)
        {
            return dev;
        }
    }

    return NULL;
}


/* each identity has its own pool: it goes with the identity */

static ngx_iothub_amqp_device_t *
ngx_iothub_amqp_device_create(ngx_iothub_amqp_ctx_t *ctx,
    ngx_iothub_amqp_addr_t *a)
{
    ngx_pool_t                *pool;
    ngx_iothub_amqp_device_t  *dev;

    if (ctx->ndevices >= ctx->conf->max_identities) {
        return NULL;
    }

    pool = ngx_create_pool(1024, ctx->connection->log);
    if (pool == NULL) {
        return NULL;
    }

    dev = ngx_pcalloc(pool, sizeof(ngx_iothub_amqp_device_t));
    if (dev == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    dev->id = ngx_palloc(pool, sizeof(ngx_iothub_amqp_addr_t));
    if (dev->id == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    ngx_memcpy(dev->id, a, sizeof(ngx_iothub_amqp_addr_t));

    dev->pool = pool;
    dev->ctx = ctx;
    dev->cbs_id.type = PN_NULL;
    ngx_queue_init(&dev->twin_ops);
    ngx_queue_init(&dev->method_ids);

    ngx_iothub_session_init(&dev->session, ctx->hub,
                            &ngx_iothub_amqp_protocol, dev,
                            ctx->connection->log, pool);

    ngx_queue_insert_tail(&ctx->devices, &dev->queue);
    ctx->ndevices++;

    return dev;
}


/* a SAS token, or none: the connection's client certificate */

static ngx_iothub_session_rc_e
ngx_iothub_amqp_device_connect(ngx_iothub_amqp_device_t *dev,
    pn_bytes_t *token)
{
    ngx_iothub_credentials_t  cred;

    ngx_memzero(&cred, sizeof(ngx_iothub_credentials_t));

    cred.device_id.data = (u_char *) dev->id->device;
    cred.device_id.len = dev->id->device_len;
    cred.module_id.data = (u_char *) dev->id->module;
    cred.module_id.len = dev->id->module_len;
    cred.connection = dev->ctx->connection;

    /* AMQP has no persistent session: queued C2D messages stay anyway */
    cred.clean = 1;

    if (token) {
        cred.token.data = (u_char *) token->start;
        cred.token.len = token->size;
    }

    return ngx_iothub_session_connect(&dev->session, &cred);
}


/* the identity leaves the connection: its links go with the condition */

static void
ngx_iothub_amqp_device_remove(ngx_iothub_amqp_device_t *dev,
    const char *condition, const char *why)
{
    pn_link_t               *link;
    ngx_iothub_amqp_ctx_t   *ctx;
    ngx_iothub_amqp_link_t  *lc;
    ngx_iothub_log_buf_t     id;

    ctx = dev->ctx;

    ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                  "iothub amqp: \"%V\" leaves the connection: %s",
                  ngx_iothub_log_str(&id, (u_char *) dev->id->device,
                                     dev->id->device_len),
                  why ? why : "closed");

    for (link = pn_link_head(ctx->driver.connection, 0);
         link;
         link = pn_link_next(link, 0))
    {
        lc = pn_link_get_context(link);

        if (lc == NULL || lc->device != dev) {
            continue;
        }

        lc->device = NULL;

        if (!lc->opened) {
            lc->opened = 1;
            ngx_iothub_amqp_refuse_link(link, condition,
                                        why ? why : "not authorized");

        } else {
            ngx_iothub_amqp_detach(link, condition,
                                   why ? why : "not authorized");
        }
    }

    ngx_iothub_amqp_twin_cancel(dev);
    ngx_iothub_amqp_method_cancel(dev);
    ngx_iothub_session_close(&dev->session);

    ngx_queue_remove(&dev->queue);
    ctx->ndevices--;

    ngx_destroy_pool(dev->pool);
}


static void
ngx_iothub_amqp_closed(ngx_iothub_amqp_ctx_t *ctx)
{
    ngx_queue_t               *q;
    ngx_iothub_amqp_device_t  *dev;

    ngx_iothub_amqp_service_closed(ctx);
    ngx_iothub_amqp_eh_closed(ctx);

    while (!ngx_queue_empty(&ctx->devices)) {
        q = ngx_queue_head(&ctx->devices);
        dev = ngx_queue_data(q, ngx_iothub_amqp_device_t, queue);

        ngx_iothub_amqp_twin_cancel(dev);
        ngx_iothub_amqp_method_cancel(dev);
        ngx_iothub_session_close(&dev->session);

        ngx_queue_remove(q);
        ngx_destroy_pool(dev->pool);
    }

    ctx->ndevices = 0;
}


/* the session layer's outcome of a connect or a renewal */

static void
ngx_iothub_amqp_connected(ngx_iothub_session_t *s,
    ngx_iothub_session_rc_e rc, ngx_uint_t present)
{
    ngx_iothub_amqp_device_t *dev = s->data;

    ngx_iothub_amqp_ctx_t  *ctx;
    ngx_iothub_log_buf_t    id;

    ctx = dev->ctx;

    if (dev->cbs_pending) {
        dev->cbs_pending = 0;
        ngx_iothub_amqp_cbs_reply(ctx, &dev->cbs_id,
                                  ngx_iothub_amqp_cbs_status(rc),
                                  rc == NGX_IOTHUB_SESSION_OK
                                  ? "OK" : (s->why ? s->why : "refused"));
    }

    if (dev->sasl_pending) {
        dev->sasl_pending = 0;
        ngx_iothub_amqp_sasl_outcome(ctx, rc == NGX_IOTHUB_SESSION_OK);
    }

    if (dev->renewing) {
        /* a refused renewal leaves the identity as it was */
        dev->renewing = 0;
        ngx_iothub_amqp_run(ctx);
        return;
    }

    if (rc != NGX_IOTHUB_SESSION_OK) {
        ngx_iothub_amqp_device_remove(dev, "amqp:unauthorized-access",
                                      s->why);
        ngx_iothub_amqp_run(ctx);
        return;
    }

    dev->connected = 1;

    ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                  "iothub amqp: \"%V\" authenticated",
                  ngx_iothub_log_str(&id, (u_char *) dev->id->device,
                                     dev->id->device_len));

    ngx_iothub_amqp_waiting_links(dev);

    ngx_iothub_amqp_run(ctx);
}


static void
ngx_iothub_amqp_kick(ngx_iothub_session_t *s, ngx_iothub_kick_e why)
{
    ngx_iothub_amqp_device_t *dev = s->data;

    ngx_iothub_amqp_ctx_t  *ctx;

    static const char  *conditions[] = {
        "amqp:link:detach-forced",
        "amqp:unauthorized-access",
        "amqp:unauthorized-access"
    };

    static const char  *reasons[] = {
        "replaced by a newer connection of the same identity",
        "the identity was deleted or disabled",
        "SAS token expired"
    };

    ctx = dev->ctx;

    ngx_iothub_amqp_device_remove(dev, conditions[why], reasons[why]);
    ngx_iothub_amqp_run(ctx);
}


static void
ngx_iothub_amqp_feature(ngx_iothub_amqp_device_t *dev, ngx_uint_t feature,
    ngx_uint_t on)
{
    if (on) {
        dev->session.features |= feature;

    } else {
        dev->session.features &= ~feature;
    }

    /*
     * the presence records it; Redis down: it holds on this connection.
     * The handler is the one of every AMQP subscription (the session keeps
     * one): a twin PUT may be waiting for its store.
     */
    if (ngx_iothub_session_subscribe(&dev->session,
                                     ngx_iothub_amqp_subscribed, NULL)
        == NGX_ERROR)
    {
        ngx_log_error(NGX_LOG_ERR, dev->ctx->connection->log, 0,
                      "iothub amqp: subscriptions not stored");
    }
}


static void
ngx_iothub_amqp_c2d_pull(ngx_iothub_amqp_device_t *dev)
{
    if (pn_link_credit(dev->c2d_link) > 0) {
        ngx_iothub_session_c2d_pull(&dev->session);
    }
}
