
/*
 * nginx-iothub: the MQTT engine over WebSocket.  The http module's
 * WebSocket transport (subprotocol "mqtt", any case) runs this engine
 * through the core module's registry (ngx_iothub_ws_engine.h); the MQTT
 * engine sees one more transport of recv, send and finalize.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_mqtt.h"
#include "ngx_iothub_ws_engine.h"


/* a session with its settings: a copy of the http location's */
typedef struct {
    ngx_iothub_mqtt_ctx_t               ctx;
    ngx_stream_iothub_mqtt_srv_conf_t   conf;
} ngx_iothub_mqtt_ws_session_t;


static ngx_int_t ngx_iothub_mqtt_ws_start(ngx_iothub_ws_transport_t *t);
static ngx_int_t ngx_iothub_mqtt_ws_read(ngx_iothub_ws_transport_t *t);
static void ngx_iothub_mqtt_ws_write(ngx_iothub_ws_transport_t *t);
static void ngx_iothub_mqtt_ws_close(ngx_iothub_ws_transport_t *t,
    ngx_iothub_ws_close_e how, const char *why);


static ngx_iothub_ws_engine_t  ngx_iothub_mqtt_ws_engine = {
    ngx_iothub_mqtt_ws_start,
    ngx_iothub_mqtt_ws_read,
    ngx_iothub_mqtt_ws_write,
    ngx_iothub_mqtt_ws_close
};


/* the module's init_module: every configuration load registers "mqtt" */

ngx_int_t
ngx_iothub_mqtt_ws_init_module(ngx_cycle_t *cycle)
{
    return ngx_iothub_ws_engine_register(cycle, "mqtt",
                                         &ngx_iothub_mqtt_ws_engine);
}


static ngx_int_t
ngx_iothub_mqtt_ws_start(ngx_iothub_ws_transport_t *t)
{
    ngx_iothub_mqtt_ctx_t         *ctx;
    ngx_iothub_mqtt_ws_session_t  *s;

    s = ngx_pcalloc(t->connection->pool,
                    sizeof(ngx_iothub_mqtt_ws_session_t));
    if (s == NULL) {
        return NGX_ERROR;
    }

    s->conf.hub = t->settings->hub;
    s->conf.max_packet_size = t->settings->max_packet_size;
    s->conf.send_limit = t->settings->send_limit;
    s->conf.connect_timeout = t->settings->connect_timeout;

    ctx = &s->ctx;
    ctx->connection = t->connection;
    ctx->transport = &ngx_iothub_engine_ws_io;
    ctx->packets = &ngx_iothub_mqtt_packets;
    ctx->transport_data = t;
    ctx->conf = &s->conf;
    ctx->hub = s->conf.hub;

    t->engine_data = ctx;

    if (ngx_iothub_mqtt_start(ctx) != NGX_OK) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_iothub_mqtt_ws_read(ngx_iothub_ws_transport_t *t)
{
    return ngx_iothub_mqtt_read(t->engine_data);
}


static void
ngx_iothub_mqtt_ws_write(ngx_iothub_ws_transport_t *t)
{
    (void) ngx_iothub_mqtt_flush(t->engine_data);
}


static void
ngx_iothub_mqtt_ws_close(ngx_iothub_ws_transport_t *t,
    ngx_iothub_ws_close_e how, const char *why)
{
    ngx_iothub_mqtt_ctx_t  *ctx;

    ctx = t->engine_data;

    if (how == NGX_IOTHUB_WS_SHUTDOWN) {
        /* as over TCP: the device reconnects, its will stays unsent */
        ctx->disconnected = 1;
    }

    ngx_iothub_mqtt_close(ctx, why);
}
