
/*
 * nginx-iothub: the AMQP 1.0 device endpoint, a stream module: its
 * directives and the stream transport of the engine.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_conf_hub.h"
#include "ngx_iothub_amqp.h"


static void *ngx_stream_iothub_amqp_create_srv_conf(ngx_conf_t *cf);
static char *ngx_stream_iothub_amqp_merge_srv_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_stream_iothub_amqp(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_stream_iothub_amqp_read_handler(ngx_event_t *rev);
static void ngx_stream_iothub_amqp_write_handler(ngx_event_t *wev);
static void ngx_stream_iothub_amqp_finalize(void *data);


static ngx_iothub_engine_io_t  ngx_stream_iothub_amqp_transport = {
    ngx_iothub_engine_stream_recv,
    ngx_iothub_engine_stream_send,
    ngx_stream_iothub_amqp_finalize
};


static ngx_command_t  ngx_stream_iothub_amqp_commands[] = {

    { ngx_string("iothub_amqp"),
      NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_iothub_amqp,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iothub_amqp_idle_timeout"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_iothub_amqp_srv_conf_t, idle_timeout),
      NULL },

    { ngx_string("iothub_amqp_max_frame_size"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_iothub_amqp_srv_conf_t, max_frame_size),
      NULL },

    { ngx_string("iothub_amqp_telemetry_credit"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_iothub_amqp_srv_conf_t, telemetry_credit),
      NULL },

    { ngx_string("iothub_amqp_max_identities"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_iothub_amqp_srv_conf_t, max_identities),
      NULL },

      ngx_null_command
};


static ngx_stream_module_t  ngx_stream_iothub_amqp_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_iothub_amqp_eh_init_conf,          /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_stream_iothub_amqp_create_srv_conf, /* create server configuration */
    ngx_stream_iothub_amqp_merge_srv_conf  /* merge server configuration */
};


static void ngx_stream_iothub_amqp_exit_process(ngx_cycle_t *cycle);


ngx_module_t  ngx_stream_iothub_amqp_module = {
    NGX_MODULE_V1,
    &ngx_stream_iothub_amqp_module_ctx,    /* module context */
    ngx_stream_iothub_amqp_commands,       /* module directives */
    NGX_STREAM_MODULE,                     /* module type */
    NULL,                                  /* init master */
    ngx_iothub_amqp_ws_init_module,        /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_stream_iothub_amqp_exit_process,   /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_stream_iothub_amqp_create_srv_conf(ngx_conf_t *cf)
{
    ngx_stream_iothub_amqp_srv_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_stream_iothub_amqp_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->idle_timeout = NGX_CONF_UNSET_MSEC;
    conf->max_frame_size = NGX_CONF_UNSET_SIZE;
    conf->telemetry_credit = NGX_CONF_UNSET_UINT;
    conf->max_identities = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_stream_iothub_amqp_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_stream_iothub_amqp_srv_conf_t *prev = parent;
    ngx_stream_iothub_amqp_srv_conf_t *conf = child;

    if (conf->hub == NULL) {
        conf->hub = prev->hub;
    }

    ngx_conf_merge_msec_value(conf->idle_timeout, prev->idle_timeout,
                              NGX_IOTHUB_AMQP_IDLE_TIMEOUT);
    ngx_conf_merge_size_value(conf->max_frame_size, prev->max_frame_size,
                              NGX_IOTHUB_AMQP_MAX_FRAME_SIZE);
    ngx_conf_merge_uint_value(conf->telemetry_credit, prev->telemetry_credit,
                              NGX_IOTHUB_AMQP_TELEMETRY_CREDIT);
    ngx_conf_merge_uint_value(conf->max_identities, prev->max_identities,
                              NGX_IOTHUB_AMQP_MAX_IDENTITIES);

    if (conf->idle_timeout < 1000 || conf->idle_timeout > 3600000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"iothub_amqp_idle_timeout\" must be from 1s "
                           "to 1h");
        return NGX_CONF_ERROR;
    }

    /* 512 is AMQP's minimum max-frame-size (AMQP 1.0 2.7.1) */
    if (conf->max_frame_size < 512 || conf->max_frame_size > 16777216) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"iothub_amqp_max_frame_size\" must be from 512 "
                           "to 16m");
        return NGX_CONF_ERROR;
    }

    if (conf->telemetry_credit < 1 || conf->telemetry_credit > 10000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"iothub_amqp_telemetry_credit\" must be from 1 "
                           "to 10000");
        return NGX_CONF_ERROR;
    }

    if (conf->max_identities < 1 || conf->max_identities > 100000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"iothub_amqp_max_identities\" must be from 1 "
                           "to 100000");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_stream_iothub_amqp(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_iothub_amqp_srv_conf_t *iascf = conf;

    char                        *rv;
    ngx_stream_core_srv_conf_t  *cscf;

    rv = ngx_iothub_conf_set_hub(cf, &iascf->hub);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    cscf = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_core_module);
    cscf->handler = ngx_iothub_amqp_init_session;

    return NGX_CONF_OK;
}


/* the stream transport: a TCP or TLS connection of nginx's stream */

void
ngx_iothub_amqp_init_session(ngx_stream_session_t *s)
{
    ngx_connection_t       *c;
    ngx_iothub_amqp_ctx_t  *ctx;

    c = s->connection;

    ctx = ngx_pcalloc(c->pool, sizeof(ngx_iothub_amqp_ctx_t));
    if (ctx == NULL) {
        ngx_stream_finalize_session(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_stream_set_ctx(s, ctx, ngx_stream_iothub_amqp_module);

    ctx->connection = c;
    ctx->transport = &ngx_stream_iothub_amqp_transport;
    ctx->events = &ngx_iothub_amqp_events;
    ctx->transport_data = s;
    ctx->conf = ngx_stream_get_module_srv_conf(s,
                                               ngx_stream_iothub_amqp_module);
    ctx->hub = ctx->conf->hub;
    ctx->client_cert = ngx_iothub_amqp_client_cert(c);

    c->log->action = "opening AMQP connection";

    /* a graceful shutdown closes the connection (c->close) */
    c->idle = 1;

    ngx_iothub_conn_moving_writes(c);

    c->read->handler = ngx_stream_iothub_amqp_read_handler;
    c->write->handler = ngx_stream_iothub_amqp_write_handler;

    if (ngx_iothub_amqp_start(ctx) != NGX_OK) {
        ngx_iothub_amqp_close(ctx, NULL);
        return;
    }

    /* bytes a preread phase took off the socket already */

    if (c->buffer && c->buffer->last > c->buffer->pos) {
        if (ngx_iothub_amqp_input(ctx, c->buffer->pos,
                                  c->buffer->last - c->buffer->pos)
            != NGX_OK)
        {
            ngx_iothub_amqp_close(ctx, NULL);
            return;
        }

        c->buffer->pos = c->buffer->last;
    }

    ngx_stream_iothub_amqp_read_handler(c->read);
}


static void
ngx_stream_iothub_amqp_read_handler(ngx_event_t *rev)
{
    ngx_connection_t       *c;
    ngx_iothub_amqp_ctx_t  *ctx;

    c = rev->data;
    ctx = ngx_stream_get_module_ctx((ngx_stream_session_t *) c->data,
                                    ngx_stream_iothub_amqp_module);

    if (ctx->closed) {
        /* the session is finalized from the engine's finalize timer */
        return;
    }

    if (c->close) {
        ngx_iothub_amqp_close(ctx, "server shutting down");
        return;
    }

    ngx_iothub_amqp_read(ctx);

    if (ctx->closed) {
        return;
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_iothub_amqp_close(ctx, NULL);
    }
}


static void
ngx_stream_iothub_amqp_write_handler(ngx_event_t *wev)
{
    ngx_connection_t       *c;
    ngx_iothub_amqp_ctx_t  *ctx;

    c = wev->data;
    ctx = ngx_stream_get_module_ctx((ngx_stream_session_t *) c->data,
                                    ngx_stream_iothub_amqp_module);

    ngx_iothub_amqp_flush(ctx);
}


static void
ngx_stream_iothub_amqp_finalize(void *data)
{
    ngx_stream_session_t  *s = data;

    ngx_iothub_conn_no_wait_shutdown(s->connection);
    ngx_stream_finalize_session(s, NGX_STREAM_OK);
}


/* the buffers the worker's connections shared */

static void
ngx_stream_iothub_amqp_exit_process(ngx_cycle_t *cycle)
{
    ngx_iothub_amqp_telemetry_exit();
}
