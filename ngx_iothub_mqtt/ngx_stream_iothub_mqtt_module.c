
/*
 * nginx-iothub: the MQTT 3.1.1 device endpoint, a stream module.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_mqtt.h"


static void *ngx_stream_iothub_mqtt_create_srv_conf(ngx_conf_t *cf);
static char *ngx_stream_iothub_mqtt_merge_srv_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_stream_iothub_mqtt(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_stream_iothub_mqtt_init(ngx_conf_t *cf);


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
    ngx_stream_iothub_mqtt_init,           /* postconfiguration */

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
    NULL,                                  /* init module */
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
                           "1k to 256m");
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

    ngx_str_t                   *value;
    ngx_stream_core_srv_conf_t  *cscf;

    if (imscf->hub) {
        return "is duplicate";
    }

    value = cf->args->elts;

    imscf->hub = ngx_iothub_conf_find_hub(cf, &value[1]);
    if (imscf->hub == NULL) {
        return NGX_CONF_ERROR;
    }

    cscf = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_core_module);
    cscf->handler = ngx_iothub_mqtt_init_session;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_stream_iothub_mqtt_init(ngx_conf_t *cf)
{
    return ngx_iothub_mqtt_session_init(cf);
}
