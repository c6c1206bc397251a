
/*
 * nginx-iothub: the AMQP engine.  Proton's connection driver holds the
 * protocol state; this file feeds it what the transport reads, writes
 * what it produces, ticks its timers with an nginx timer and turns its
 * events into calls of the link meanings (ctx->events).  No Proton
 * thread or proactor: everything runs in the worker's event loop.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_amqp.h"


#define NGX_IOTHUB_AMQP_SESSION_CAPACITY  (2 * NGX_IOTHUB_AMQP_MAX_MESSAGE)


static size_t ngx_iothub_amqp_session_capacity(ngx_iothub_amqp_ctx_t *ctx);
static void ngx_iothub_amqp_process(ngx_iothub_amqp_ctx_t *ctx);
static void ngx_iothub_amqp_dispatch(ngx_iothub_amqp_ctx_t *ctx,
    pn_event_t *ev);
static void ngx_iothub_amqp_session_closed(ngx_iothub_amqp_ctx_t *ctx,
    pn_session_t *ssn);
static void ngx_iothub_amqp_log_error(ngx_iothub_amqp_ctx_t *ctx,
    pn_condition_t *cond, const char *what);
static void ngx_iothub_amqp_tick_handler(ngx_event_t *ev);
static void ngx_iothub_amqp_finalize_handler(ngx_event_t *ev);
static void ngx_iothub_amqp_schedule(ngx_iothub_amqp_ctx_t *ctx);
static ngx_uint_t ngx_iothub_amqp_awaiting_open(ngx_iothub_amqp_ctx_t *ctx);


ngx_int_t
ngx_iothub_amqp_start(ngx_iothub_amqp_ctx_t *ctx)
{
    pn_transport_t  *t;

    ngx_queue_init(&ctx->devices);

    ctx->tick.handler = ngx_iothub_amqp_tick_handler;
    ctx->tick.data = ctx;
    ctx->tick.log = ctx->connection->log;
    ctx->tick.cancelable = 1;

    if (pn_connection_driver_init(&ctx->driver, NULL, NULL) != 0) {
        return NGX_ERROR;
    }

    ctx->started = 1;

    t = ctx->driver.transport;

    pn_transport_set_server(t);
    pn_transport_set_max_frame(t, (uint32_t) ctx->conf->max_frame_size);
    pn_transport_set_channel_max(t, 255);
    pn_transport_set_idle_timeout(t, (pn_millis_t) ctx->conf->idle_timeout);

    /* SASL is optional: the IoT SDKs send the plain AMQP header */
    pn_transport_require_auth(t, false);

    ngx_iothub_amqp_sasl_init(ctx);

    pn_connection_set_container(ctx->driver.connection, "nginx-iothub");

    /*
     * Proton's idle timeout starts with the client's open frame: until
     * then the tick timer is the deadline for it, so that a client that
     * stalls in TLS's wake, in the protocol header or in SASL is closed
     */
    ngx_add_timer(&ctx->tick, ctx->conf->idle_timeout);

    return NGX_OK;
}


/* bytes a preread phase already took off the socket */

ngx_int_t
ngx_iothub_amqp_input(ngx_iothub_amqp_ctx_t *ctx, u_char *buf, size_t n)
{
    size_t        k;
    pn_rwbytes_t  rb;

    while (n) {
        rb = pn_connection_driver_read_buffer(&ctx->driver);
        if (rb.size == 0) {
            return NGX_ERROR;
        }

        k = ngx_min(n, rb.size);
        ngx_memcpy(rb.start, buf, k);
        ngx_iothub_amqp_formats_scan(ctx, (u_char *) rb.start, k);
        pn_connection_driver_read_done(&ctx->driver, k);

        buf += k;
        n -= k;
    }

    return NGX_OK;
}


void
ngx_iothub_amqp_read(ngx_iothub_amqp_ctx_t *ctx)
{
    ssize_t       n;
    pn_rwbytes_t  rb;

    if (ctx->closed) {
        return;
    }

    for ( ;; ) {
        if (pn_connection_driver_read_closed(&ctx->driver)) {
            break;
        }

        rb = pn_connection_driver_read_buffer(&ctx->driver);
        if (rb.size == 0) {
            /* Proton holds enough: its events first */
            break;
        }

        n = ctx->transport->recv(ctx->connection, ctx->transport_data,
                                 (u_char *) rb.start, rb.size);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            /* the device went away: nothing more will be written either */
            ngx_iothub_amqp_close(ctx, NULL);
            return;
        }

        ngx_iothub_amqp_formats_scan(ctx, (u_char *) rb.start, n);
        pn_connection_driver_read_done(&ctx->driver, n);

        /* the events of what came, before reading more */
        ngx_iothub_amqp_run(ctx);

        if (ctx->closed) {
            return;
        }
    }

    ngx_iothub_amqp_run(ctx);
}


/* Proton's events, each to its handler */

static void
ngx_iothub_amqp_process(ngx_iothub_amqp_ctx_t *ctx)
{
    pn_event_t  *ev;

    ctx->running = 1;

    while ((ev = pn_connection_driver_next_event(&ctx->driver)) != NULL) {
        ngx_iothub_amqp_dispatch(ctx, ev);
    }

    ctx->running = 0;
}




/* the events of what came; the output is written once per loop turn */

void
ngx_iothub_amqp_run(ngx_iothub_amqp_ctx_t *ctx)
{
    if (ctx->closed || ctx->running) {
        return;
    }

    ngx_iothub_amqp_process(ctx);

    /*
     * written when the event loop comes round: the dispositions of all
     * the XADD replies of one Redis read leave in one TLS record
     */
    if (!ctx->connection->write->posted) {
        ngx_post_event(ctx->connection->write, &ngx_posted_events);
    }
}


void
ngx_iothub_amqp_flush(ngx_iothub_amqp_ctx_t *ctx)
{
    ssize_t     n;
    pn_bytes_t  wb;

    if (ctx->closed) {
        return;
    }

    for ( ;; ) {
        wb = pn_connection_driver_write_buffer(&ctx->driver);
        if (wb.size == 0) {
            break;
        }

        n = ctx->transport->send(ctx->connection, ctx->transport_data,
                                 (u_char *) wb.start, wb.size);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(ctx->connection->write, 0) != NGX_OK) {
                ngx_iothub_amqp_close(ctx, NULL);
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_iothub_amqp_close(ctx, NULL);
            return;
        }

        pn_connection_driver_write_done(&ctx->driver, n);
    }

    /*
     * what writing ended (the transport closing) is events too, and they
     * may have more to write
     */
    if (!ctx->running && pn_connection_driver_has_event(&ctx->driver)) {
        ngx_iothub_amqp_process(ctx);

        if (!ctx->closed && !ctx->connection->write->posted) {
            ngx_post_event(ctx->connection->write, &ngx_posted_events);
        }

        return;
    }

    if (pn_connection_driver_finished(&ctx->driver)) {
        ngx_iothub_amqp_close(ctx, NULL);
        return;
    }

    ngx_iothub_amqp_schedule(ctx);
}


static void
ngx_iothub_amqp_dispatch(ngx_iothub_amqp_ctx_t *ctx, pn_event_t *ev)
{
    pn_link_t        *link;
    pn_session_t     *ssn;
    pn_connection_t  *conn;

    switch (pn_event_type(ev)) {

    case PN_CONNECTION_REMOTE_OPEN:
        conn = pn_event_connection(ev);
        pn_connection_open(conn);
        ctx->connection->log->action = "serving AMQP connection";
        break;

    case PN_CONNECTION_REMOTE_CLOSE:
        conn = pn_event_connection(ev);
        ngx_iothub_amqp_log_error(ctx, pn_connection_remote_condition(conn),
                                  "the client closed the connection");
        pn_connection_close(conn);
        break;

    case PN_SESSION_REMOTE_OPEN:
        ssn = pn_event_session(ev);
        pn_session_set_incoming_capacity(ssn,
                                         ngx_iothub_amqp_session_capacity(ctx));
        pn_session_open(ssn);
        break;

    case PN_SESSION_REMOTE_CLOSE:
        ssn = pn_event_session(ev);
        ngx_iothub_amqp_session_closed(ctx, ssn);
        pn_session_close(ssn);
        break;

    case PN_LINK_REMOTE_OPEN:
        link = pn_event_link(ev);
        if (pn_link_state(link) & PN_LOCAL_UNINIT) {
            ctx->events->link_open(ctx, link);
        }
        break;

    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH:
        link = pn_event_link(ev);
        ctx->events->link_closed(ctx, link);
        if (!(pn_link_state(link) & PN_LOCAL_CLOSED)) {
            pn_link_close(link);
        }
        break;

    case PN_LINK_FLOW:
        ctx->events->flow(ctx, pn_event_link(ev));
        break;

    case PN_DELIVERY:
        ctx->events->delivery(ctx, pn_event_delivery(ev));
        break;

    case PN_TRANSPORT_ERROR:
        ngx_iothub_amqp_log_error(ctx,
                     pn_transport_condition(pn_event_transport(ev)),
                     "AMQP connection error");
        break;

    default:
        break;
    }
}


/*
 * The peer's end of a session ended its links (AMQP 1.0 part 2): each link's
 * state goes, but no detach is sent back.  Proton would send one before
 * the end for every link closed here, and a peer that already sent its
 * end (rhea, the Node SDKs' AMQP library) answers such a detach with a
 * detach of its own on the ended channel, which Proton refuses with
 * amqp:not-allowed "no such channel", failing the client's close.  Links
 * left open in Proton after the end are never written to: their context
 * is gone, and once the end went out their channel has no frames.
 */

static void
ngx_iothub_amqp_session_closed(ngx_iothub_amqp_ctx_t *ctx, pn_session_t *ssn)
{
    pn_link_t  *link;

    for (link = pn_link_head(ctx->driver.connection, 0);
         link;
         link = pn_link_next(link, 0))
    {
        if (pn_link_session(link) == ssn
            && !(pn_link_state(link) & PN_LOCAL_CLOSED))
        {
            ctx->events->link_closed(ctx, link);
        }
    }
}


/*
 * Accepts an attach: the peer's source and target, its sender settle
 * mode, the first receiver settle mode, and on a receiver the largest
 * message taken (the C SDK sizes its sends by it and fails on 0, amqp.md
 * 2).
 */

void
ngx_iothub_amqp_open_link(pn_link_t *link)
{
    pn_terminus_copy(pn_link_source(link), pn_link_remote_source(link));
    pn_terminus_copy(pn_link_target(link), pn_link_remote_target(link));
    pn_link_set_snd_settle_mode(link, pn_link_remote_snd_settle_mode(link));
    pn_link_set_rcv_settle_mode(link, PN_RCV_FIRST);

    if (pn_link_is_receiver(link)) {
        pn_link_set_max_message_size(link, NGX_IOTHUB_AMQP_MAX_MESSAGE);
    }

    pn_link_open(link);
}


/* refuses an attach: null terminus, then detach with the error (amqp.md 2) */

void
ngx_iothub_amqp_refuse_link(pn_link_t *link, const char *condition,
    const char *description)
{
    pn_link_open(link);
    ngx_iothub_amqp_detach(link, condition, description);
}


void
ngx_iothub_amqp_detach(pn_link_t *link, const char *condition,
    const char *description)
{
    pn_condition_t  *cond;

    if (pn_link_state(link) & PN_LOCAL_CLOSED) {
        return;
    }

    cond = pn_link_condition(link);
    pn_condition_set_name(cond, condition);
    pn_condition_set_description(cond, description);

    pn_link_close(link);
}


/*
 * whether the client leaves too much unread to be sent more on the link:
 * the link's session holds the bytes of transfers not yet framed (the
 * client's incoming window ran out), the transport those framed and not
 * yet written
 */

ngx_uint_t
ngx_iothub_amqp_lagging(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link)
{
    ssize_t  framed;

    framed = pn_transport_pending(ctx->driver.transport);

    return pn_session_outgoing_bytes(pn_link_session(link))
           + (size_t) ngx_max(framed, 0)
           > NGX_IOTHUB_AMQP_LAGGING_OUTPUT;
}


/* whether the TLS client presented a certificate (EXTERNAL, X.509) */

ngx_uint_t
ngx_iothub_amqp_client_cert(ngx_connection_t *c)
{
#if (NGX_SSL)
    X509  *cert;

    if (c->ssl) {
        cert = SSL_get_peer_certificate(c->ssl->connection);
        if (cert) {
            X509_free(cert);
            return 1;
        }
    }
#endif

    return 0;
}


static void
ngx_iothub_amqp_log_error(ngx_iothub_amqp_ctx_t *ctx, pn_condition_t *cond,
    const char *what)
{
    const char  *name, *desc;

    if (cond == NULL || !pn_condition_is_set(cond)) {
        return;
    }

    name = pn_condition_get_name(cond);
    desc = pn_condition_get_description(cond);

    ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                  "iothub amqp: %s: %s %s", what, name ? name : "",
                  desc ? desc : "");
}


/* Proton's clock: idle timeouts both ways, empty frames as keep-alive */

static void
ngx_iothub_amqp_tick_handler(ngx_event_t *ev)
{
    ngx_iothub_amqp_ctx_t *ctx = ev->data;

    if (ngx_iothub_amqp_awaiting_open(ctx)) {
        ngx_iothub_amqp_close(ctx, "no open frame in time");
        return;
    }

    (void) pn_transport_tick(ctx->driver.transport, (int64_t) ngx_current_msec);

    ngx_iothub_amqp_run(ctx);
}


static ngx_uint_t
ngx_iothub_amqp_awaiting_open(ngx_iothub_amqp_ctx_t *ctx)
{
    return (pn_connection_state(ctx->driver.connection) & PN_REMOTE_UNINIT)
           != 0;
}


static void
ngx_iothub_amqp_schedule(ngx_iothub_amqp_ctx_t *ctx)
{
    int64_t  deadline, now;

    if (ngx_iothub_amqp_awaiting_open(ctx)) {
        /* the open frame's deadline stays (ngx_iothub_amqp_start) */
        return;
    }

    now = (int64_t) ngx_current_msec;
    deadline = pn_transport_tick(ctx->driver.transport, now);

    if (deadline == 0) {
        if (ctx->tick.timer_set) {
            ngx_del_timer(&ctx->tick);
        }

        return;
    }

    ngx_add_timer(&ctx->tick, (ngx_msec_t) ngx_max(deadline - now, 1));
}


void
ngx_iothub_amqp_close(ngx_iothub_amqp_ctx_t *ctx, const char *why)
{
    pn_link_t  *link;

    if (ctx->closed) {
        return;
    }

    ctx->closed = 1;

    if (why) {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub amqp: closing connection: %s", why);
    }

    if (ctx->tick.timer_set) {
        ngx_del_timer(&ctx->tick);
    }

    if (ctx->started) {
        ctx->events->closed(ctx);

        for (link = pn_link_head(ctx->driver.connection, 0);
             link;
             link = pn_link_next(link, 0))
        {
            if (pn_link_get_context(link)) {
                ngx_free(pn_link_get_context(link));
                pn_link_set_context(link, NULL);
            }
        }

        pn_connection_driver_destroy(&ctx->driver);
    }

    ngx_iothub_amqp_formats_free(ctx);

    /*
     * The transport goes (and ctx with its pool) once the handler that
     * closed it returned: the callers up the stack still test ctx->closed.
     * A timer due at once rather than a posted event: a worker that shuts
     * down exits as soon as no timer is left (ngx_event_no_timers_left()
     * does not count posted events), which would leave the socket open.
     */

    ctx->finalize.handler = ngx_iothub_amqp_finalize_handler;
    ctx->finalize.data = ctx;
    ctx->finalize.log = ctx->connection->log;

    ngx_add_timer(&ctx->finalize, 0);
}


static void
ngx_iothub_amqp_finalize_handler(ngx_event_t *ev)
{
    ngx_iothub_amqp_ctx_t *ctx = ev->data;

    ctx->transport->finalize(ctx->transport_data);
}


/*
 * Proton turns a session's incoming capacity into its incoming window by
 * counting frames of the largest size (capacity / max frame size), but a
 * telemetry message is one small frame: with only two messages' worth of
 * large frames a device could have 10 transfers on their way and then
 * waited for a flow frame, whatever its link credit.  The window holds at
 * least a telemetry link's credit of frames.
 */

static size_t
ngx_iothub_amqp_session_capacity(ngx_iothub_amqp_ctx_t *ctx)
{
    size_t  credit_frames;

    credit_frames = (ctx->conf->telemetry_credit + 1)
                    * ctx->conf->max_frame_size;

    return ngx_max(credit_frames, NGX_IOTHUB_AMQP_SESSION_CAPACITY);
}
