
/*
 * nginx-iothub: the MQTT 3.1.1 device endpoint, a stream module.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_conf_hub.h"
#include "ngx_iothub_mqtt.h"


static void *ngx_stream_iothub_mqtt_create_srv_conf(ngx_conf_t *cf);
static char *ngx_stream_iothub_mqtt_merge_srv_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_stream_iothub_mqtt(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_stream_iothub_mqtt_read_handler(ngx_event_t *rev);
static void ngx_stream_iothub_mqtt_write_handler(ngx_event_t *wev);
static void ngx_stream_iothub_mqtt_finalize(void *data);
static ngx_int_t ngx_stream_iothub_mqtt_init_module(ngx_cycle_t *cycle);
static void ngx_stream_iothub_mqtt_size_pools(ngx_cycle_t *cycle);
static ngx_uint_t ngx_stream_iothub_mqtt_listener(ngx_listening_t *ls);


/*
 * What an idle MQTT session holds in its connection's pool besides the
 * session structures counted in ngx_stream_iothub_mqtt_size_pools: the
 * pool header, the peer's address and its text, the TLS connection, the
 * client and device ids.
 */
#define NGX_STREAM_IOTHUB_MQTT_POOL_SLACK  512


static ngx_iothub_engine_io_t  ngx_stream_iothub_mqtt_transport = {
    ngx_iothub_engine_stream_recv,
    ngx_iothub_engine_stream_send,
    ngx_stream_iothub_mqtt_finalize
};


static ngx_command_t  ngx_stream_iothub_mqtt_commands[] = {

    { ngx_string("iothub_mqtt"),
      NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_iothub_mqtt,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iothub_mqtt_max_packet_size"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_iothub_mqtt_srv_conf_t, max_packet_size),
      NULL },

    { ngx_string("iothub_mqtt_send_limit"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_iothub_mqtt_srv_conf_t, send_limit),
      NULL },

    { ngx_string("iothub_mqtt_connect_timeout"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_iothub_mqtt_srv_conf_t, connect_timeout),
      NULL },

      ngx_null_command
};


static ngx_stream_module_t  ngx_stream_iothub_mqtt_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_stream_iothub_mqtt_create_srv_conf, /* create server configuration */
    ngx_stream_iothub_mqtt_merge_srv_conf  /* merge server configuration */
};


ngx_module_t  ngx_stream_iothub_mqtt_module = {
    NGX_MODULE_V1,
    &ngx_stream_iothub_mqtt_module_ctx,    /* module context */
    ngx_stream_iothub_mqtt_commands,       /* module directives */
    NGX_STREAM_MODULE,                     /* module type */
    NULL,                                  /* init master */
    ngx_stream_iothub_mqtt_init_module,    /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_stream_iothub_mqtt_create_srv_conf(ngx_conf_t *cf)
{
    ngx_stream_iothub_mqtt_srv_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_stream_iothub_mqtt_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->max_packet_size = NGX_CONF_UNSET_SIZE;
    conf->send_limit = NGX_CONF_UNSET_SIZE;
    conf->connect_timeout = NGX_CONF_UNSET_MSEC;

    return conf;
}


static char *
ngx_stream_iothub_mqtt_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_stream_iothub_mqtt_srv_conf_t *prev = parent;
    ngx_stream_iothub_mqtt_srv_conf_t *conf = child;

    if (conf->hub == NULL) {
        conf->hub = prev->hub;
    }

    /* 256 KB of telemetry plus its topic and property bag */
    ngx_conf_merge_size_value(conf->max_packet_size, prev->max_packet_size,
                              288 * 1024);
    ngx_conf_merge_size_value(conf->send_limit, prev->send_limit,
                              1024 * 1024);
    ngx_conf_merge_msec_value(conf->connect_timeout, prev->connect_timeout,
                              30000);

    if (conf->max_packet_size < 1024
        || conf->max_packet_size > NGX_IOTHUB_MQTT_REMAINING_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"iothub_mqtt_max_packet_size\" must be from "
                           "1k to 268435455");
        return NGX_CONF_ERROR;
    }

    if (conf->send_limit < conf->max_packet_size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"iothub_mqtt_send_limit\" must be at least "
                           "\"iothub_mqtt_max_packet_size\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_stream_iothub_mqtt(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_iothub_mqtt_srv_conf_t *imscf = conf;

    char                        *rv;
    ngx_stream_core_srv_conf_t  *cscf;

    rv = ngx_iothub_conf_set_hub(cf, &imscf->hub);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    cscf = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_core_module);
    cscf->handler = ngx_iothub_mqtt_init_session;

    return NGX_CONF_OK;
}


/* the stream transport: a TCP or TLS connection of nginx's stream */

void
ngx_iothub_mqtt_init_session(ngx_stream_session_t *s)
{
    ngx_connection_t       *c;
    ngx_iothub_mqtt_ctx_t  *ctx;

    c = s->connection;

    ctx = ngx_pcalloc(c->pool, sizeof(ngx_iothub_mqtt_ctx_t));
    if (ctx == NULL) {
        ngx_stream_finalize_session(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_stream_set_ctx(s, ctx, ngx_stream_iothub_mqtt_module);

    ctx->connection = c;
    ctx->transport = &ngx_stream_iothub_mqtt_transport;
    ctx->packets = &ngx_iothub_mqtt_packets;
    ctx->transport_data = s;
    ctx->conf = ngx_stream_get_module_srv_conf(s,
                                               ngx_stream_iothub_mqtt_module);
    ctx->hub = ctx->conf->hub;

    /*
     * a session is idle between packets: a graceful shutdown closes it
     * (c->close) instead of waiting for its timers
     */
    c->idle = 1;

    ngx_iothub_conn_moving_writes(c);

    c->read->handler = ngx_stream_iothub_mqtt_read_handler;
    c->write->handler = ngx_stream_iothub_mqtt_write_handler;

    /* the TLS handshake is over (ssl phase): idle memory */
    ngx_iothub_x509_release_ca_names(c);

    if (ngx_iothub_mqtt_start(ctx) != NGX_OK) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return;
    }

    /* bytes a preread phase took off the socket already */

    if (c->buffer && c->buffer->last > c->buffer->pos) {
        if (ngx_iothub_mqtt_input(ctx, c->buffer->pos,
                                  c->buffer->last - c->buffer->pos)
            != NGX_OK)
        {
            ngx_iothub_mqtt_close(ctx, NULL);
            return;
        }

        c->buffer->pos = c->buffer->last;
    }

    ngx_stream_iothub_mqtt_read_handler(c->read);
}


static void
ngx_stream_iothub_mqtt_read_handler(ngx_event_t *rev)
{
    ngx_connection_t       *c;
    ngx_iothub_mqtt_ctx_t  *ctx;

    c = rev->data;
    ctx = ngx_stream_get_module_ctx((ngx_stream_session_t *) c->data,
                                    ngx_stream_iothub_mqtt_module);

    if (c->close) {
        /*
         * a graceful shutdown or reload closes idle connections: the
         * device reconnects, its will stays unsent
         */
        ctx->disconnected = 1;
        ngx_iothub_mqtt_close(ctx, "server shutting down");
        return;
    }

    if (ngx_iothub_mqtt_read(ctx) == NGX_DONE) {
        return;
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_iothub_mqtt_close(ctx, NULL);
    }
}


static void
ngx_stream_iothub_mqtt_write_handler(ngx_event_t *wev)
{
    ngx_connection_t       *c;
    ngx_iothub_mqtt_ctx_t  *ctx;

    c = wev->data;
    ctx = ngx_stream_get_module_ctx((ngx_stream_session_t *) c->data,
                                    ngx_stream_iothub_mqtt_module);

    (void) ngx_iothub_mqtt_flush(ctx);
}


static void
ngx_stream_iothub_mqtt_finalize(void *data)
{
    ngx_stream_session_t  *s = data;

    ngx_iothub_conn_no_wait_shutdown(s->connection);
    ngx_stream_finalize_session(s, NGX_STREAM_OK);
}


static ngx_int_t
ngx_stream_iothub_mqtt_init_module(ngx_cycle_t *cycle)
{
    ngx_stream_iothub_mqtt_size_pools(cycle);

    return ngx_iothub_mqtt_ws_init_module(cycle);
}


/*
 * A stream connection's pool starts with 256 bytes: an MQTT session then
 * spreads over four pool blocks and a large allocation (its context).  An
 * MQTT listener's pool is sized to hold all of an idle session in one
 * block instead (docs/performance.md, "Idle density").
 */

static void
ngx_stream_iothub_mqtt_size_pools(ngx_cycle_t *cycle)
{
    size_t                        size;
    ngx_uint_t                    i;
    ngx_listening_t              *ls;
    ngx_stream_core_main_conf_t  *cmcf;

    cmcf = ngx_stream_cycle_get_module_main_conf(cycle,
                                                 ngx_stream_core_module);
    if (cmcf == NULL) {
        return;
    }

    size = sizeof(ngx_stream_session_t)
           + ngx_stream_max_module * sizeof(void *)
           + cmcf->variables.nelts * sizeof(ngx_stream_variable_value_t)
           + sizeof(ngx_iothub_mqtt_ctx_t)
           + NGX_STREAM_IOTHUB_MQTT_POOL_SLACK;

    size = ngx_align(size, NGX_POOL_ALIGNMENT);

    ls = cycle->listening.elts;

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].pool_size < size
            && ngx_stream_iothub_mqtt_listener(&ls[i]))
        {
            ls[i].pool_size = size;
        }
    }
}


/* a stream listener whose servers all speak MQTT */

static ngx_uint_t
ngx_stream_iothub_mqtt_listener(ngx_listening_t *ls)
{
    ngx_uint_t                          i;
    ngx_stream_port_t                  *port;
    ngx_stream_addr_conf_t             *addr_conf;
    ngx_stream_iothub_mqtt_srv_conf_t  *imscf;

    if (ls->handler != ngx_stream_init_connection || ls->servers == NULL) {
        return 0;
    }

    port = ls->servers;

    for (i = 0; i < port->naddrs; i++) {

#if (NGX_HAVE_INET6)
        if (ls->sockaddr->sa_family == AF_INET6) {
            addr_conf = &((ngx_stream_in6_addr_t *) port->addrs)[i].conf;

        } else
#endif
        {
            addr_conf = &((ngx_stream_in_addr_t *) port->addrs)[i].conf;
        }

        imscf = addr_conf->ctx->srv_conf[
                                    ngx_stream_iothub_mqtt_module.ctx_index];

        if (imscf->hub == NULL) {
            return 0;
        }
    }

    return port->naddrs > 0;
}
