
/*
 * nginx-iothub: the AMQP engine over WebSocket.  The http module's
 * WebSocket transport (subprotocol "AMQPWSB10", any case, on
 * /$iothub/websocket and /$servicebus/websocket) runs this engine through
 * the core module's registry (ngx_iothub_ws_engine.h); the AMQP engine
 * sees one more transport of recv, send and finalize, and serves the same
 * CBS, device, service and Event Hubs links as on port 5671.
 *
 * The engine finalizes its transport from a timer due at once, after its
 * own calls returned (ngx_iothub_amqp_close), and the WebSocket transport
 * frees the connection, with the session in its pool, only from its write
 * event after that: the session outlives every call that may close it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_amqp.h"
#include "ngx_iothub_ws_engine.h"


/*
 * A session with its settings: the http location's hub, and the AMQP
 * directives' defaults for what a WebSocket location does not configure.
 */
typedef struct {
    ngx_iothub_amqp_ctx_t               ctx;
    ngx_stream_iothub_amqp_srv_conf_t   conf;
} ngx_iothub_amqp_ws_session_t;


static ngx_int_t ngx_iothub_amqp_ws_start(ngx_iothub_ws_transport_t *t);
static ngx_int_t ngx_iothub_amqp_ws_read(ngx_iothub_ws_transport_t *t);
static void ngx_iothub_amqp_ws_write(ngx_iothub_ws_transport_t *t);
static void ngx_iothub_amqp_ws_close(ngx_iothub_ws_transport_t *t,
    ngx_iothub_ws_close_e how, const char *why);


static ngx_iothub_ws_engine_t  ngx_iothub_amqp_ws_engine = {
    ngx_iothub_amqp_ws_start,
    ngx_iothub_amqp_ws_read,
    ngx_iothub_amqp_ws_write,
    ngx_iothub_amqp_ws_close
};


/* the module's init_module: every configuration load registers AMQPWSB10 */

ngx_int_t
ngx_iothub_amqp_ws_init_module(ngx_cycle_t *cycle)
{
    return ngx_iothub_ws_engine_register(cycle, "AMQPWSB10",
                                         &ngx_iothub_amqp_ws_engine);
}


static ngx_int_t
ngx_iothub_amqp_ws_start(ngx_iothub_ws_transport_t *t)
{
    ngx_connection_t              *c;
    ngx_iothub_amqp_ctx_t         *ctx;
    ngx_iothub_amqp_ws_session_t  *s;

    c = t->connection;

    s = ngx_pcalloc(c->pool, sizeof(ngx_iothub_amqp_ws_session_t));
    if (s == NULL) {
        return NGX_ERROR;
    }

    s->conf.hub = t->settings->hub;
    s->conf.idle_timeout = NGX_IOTHUB_AMQP_IDLE_TIMEOUT;
    s->conf.max_frame_size = NGX_IOTHUB_AMQP_MAX_FRAME_SIZE;
    s->conf.telemetry_credit = NGX_IOTHUB_AMQP_TELEMETRY_CREDIT;
    s->conf.max_identities = NGX_IOTHUB_AMQP_MAX_IDENTITIES;

    ctx = &s->ctx;
    ctx->connection = c;
    ctx->transport = &ngx_iothub_engine_ws_io;
    ctx->events = &ngx_iothub_amqp_events;
    ctx->transport_data = t;
    ctx->conf = &s->conf;
    ctx->hub = s->conf.hub;
    ctx->client_cert = ngx_iothub_amqp_client_cert(c);

    c->log->action = "opening AMQP connection";

    /*
     * Nothing started when Proton has no memory: no close, whose finalize
     * would come after the transport's own (see the header)
     */
    if (ngx_iothub_amqp_start(ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    t->engine_data = ctx;

    return NGX_OK;
}


static ngx_int_t
ngx_iothub_amqp_ws_read(ngx_iothub_ws_transport_t *t)
{
    ngx_iothub_amqp_ctx_t  *ctx;

    ctx = t->engine_data;

    ngx_iothub_amqp_read(ctx);

    /* closed: the transport is finalized from the engine's timer */
    return ctx->closed ? NGX_DONE : NGX_OK;
}


static void
ngx_iothub_amqp_ws_write(ngx_iothub_ws_transport_t *t)
{
    ngx_iothub_amqp_flush(t->engine_data);
}


static void
ngx_iothub_amqp_ws_close(ngx_iothub_ws_transport_t *t,
    ngx_iothub_ws_close_e how, const char *why)
{
    ngx_iothub_amqp_close(t->engine_data, why);
}
