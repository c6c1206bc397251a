
/*
 * nginx-iothub core module: the iothub{} block (Redis and hubs), shared by
 * the stream and http modules, and the per-worker Redis link.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_sas.h"
#include "ngx_iothub_idcache.h"
#include "ngx_iothub_method.h"
#include "ngx_iothub_session.h"
#include "ngx_iothub_janitor.h"
#include "ngx_iothub_job.h"
#include "ngx_iothub_bulkjob.h"
#include "ngx_iothub_eventhub.h"


/* a worker beats every 10 s; three missed beats and it counts as gone */
#define NGX_IOTHUB_HEARTBEAT     10000
#define NGX_IOTHUB_ALIVE_TTL     "30000"


typedef struct {
    ngx_str_t                  name;
    ngx_uint_t                 right;
} ngx_iothub_right_name_t;


static char *ngx_iothub_check_bounds(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_iothub_check_msec_bounds(ngx_conf_t *cf, void *post,
    void *data);
static void *ngx_iothub_create_conf(ngx_cycle_t *cycle);
static char *ngx_iothub_init_conf(ngx_cycle_t *cycle, void *conf);
static char *ngx_iothub_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_iothub_parse_block(ngx_conf_t *cf, ngx_uint_t cmd_type,
    void *conf);
static char *ngx_iothub_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iothub_hub(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_iothub_check_hub(ngx_conf_t *cf, ngx_iothub_hub_t *hub);
static char *ngx_iothub_policy(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iothub_policy_key(ngx_conf_t *cf, ngx_str_t *key,
    ngx_str_t *policy);
static char *ngx_iothub_storage(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iothub_storage_container(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iothub_hostname(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iothub_memory_trim(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_iothub_init_process(ngx_cycle_t *cycle);
static void ngx_iothub_subscribed_in(void *data, ngx_str_t *channel,
    u_char *payload, size_t len);
static void ngx_iothub_heartbeat(ngx_event_t *ev);
static void ngx_iothub_exit_process(ngx_cycle_t *cycle);


static ngx_conf_num_bounds_t  ngx_iothub_database_bounds = {
    ngx_iothub_check_bounds, 0, 15
};

static ngx_conf_num_bounds_t  ngx_iothub_partitions_bounds = {
    ngx_iothub_check_bounds, 1, 128
};

static ngx_conf_num_bounds_t  ngx_iothub_c2d_depth_bounds = {
    ngx_iothub_check_bounds, 1, 5000
};

static ngx_conf_num_bounds_t  ngx_iothub_c2d_delivery_bounds = {
    ngx_iothub_check_bounds, 1, 100
};

static ngx_conf_num_bounds_t  ngx_iothub_identity_cache_bounds = {
    ngx_iothub_check_bounds, 0, 10000000
};

static ngx_conf_num_bounds_t  ngx_iothub_feedback_length_bounds = {
    ngx_iothub_check_bounds, 100, 100000000
};

/* in milliseconds: 1s to 1d */
static ngx_conf_num_bounds_t  ngx_iothub_janitor_interval_bounds = {
    ngx_iothub_check_msec_bounds, 1000, 86400000
};

/* in milliseconds: 100ms to 1h, and a lease of 1s to 1h */
static ngx_conf_num_bounds_t  ngx_iothub_job_poll_bounds = {
    ngx_iothub_check_msec_bounds, 100, 3600000
};

static ngx_conf_num_bounds_t  ngx_iothub_job_lease_bounds = {
    ngx_iothub_check_msec_bounds, 1000, 3600000
};

/* in milliseconds: 1s to 1h, or off */
static ngx_conf_num_bounds_t  ngx_iothub_memory_trim_bounds = {
    NULL, 1000, 3600000
};

static ngx_conf_num_bounds_t  ngx_iothub_job_concurrent_bounds = {
    ngx_iothub_check_bounds, 1, 1000
};

static ngx_conf_num_bounds_t  ngx_iothub_job_in_flight_bounds = {
    ngx_iothub_check_bounds, 1, 1000
};


static ngx_iothub_right_name_t  ngx_iothub_rights[] = {
    { ngx_string("registry_read"), NGX_IOTHUB_RIGHT_REGISTRY_READ },
    { ngx_string("registry_write"),
      NGX_IOTHUB_RIGHT_REGISTRY_WRITE|NGX_IOTHUB_RIGHT_REGISTRY_READ },
    { ngx_string("service_connect"), NGX_IOTHUB_RIGHT_SERVICE_CONNECT },
    { ngx_string("device_connect"), NGX_IOTHUB_RIGHT_DEVICE_CONNECT },
    { ngx_null_string, 0 }
};


/*
 * Directives inside iothub{} and hub{} are the core module's own, told apart
 * by two command types of their own (see ngx_iothub_parse_block).
 */

#define NGX_IOTHUB_CONF      0x02000000
#define NGX_IOTHUB_HUB_CONF  0x04000000


static ngx_command_t  ngx_iothub_commands[] = {

    { ngx_string("iothub"),
      NGX_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_NOARGS,
      ngx_iothub_block,
      0,
      0,
      NULL },

    { ngx_string("redis"),
      NGX_IOTHUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_iothub_redis,
      0,
      0,
      NULL },

    { ngx_string("redis_password"),
      NGX_IOTHUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_iothub_main_conf_t, redis.password),
      NULL },

    { ngx_string("redis_database"),
      NGX_IOTHUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      0,
      offsetof(ngx_iothub_main_conf_t, redis.database),
      &ngx_iothub_database_bounds },

    { ngx_string("redis_connect_timeout"),
      NGX_IOTHUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_iothub_main_conf_t, redis.connect_timeout),
      NULL },

    { ngx_string("redis_command_timeout"),
      NGX_IOTHUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_iothub_main_conf_t, redis.command_timeout),
      NULL },

    { ngx_string("redis_max_backoff"),
      NGX_IOTHUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_iothub_main_conf_t, redis.max_backoff),
      NULL },

    { ngx_string("identity_cache"),
      NGX_IOTHUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      0,
      offsetof(ngx_iothub_main_conf_t, identity_cache),
      &ngx_iothub_identity_cache_bounds },

    { ngx_string("janitor_interval"),
      NGX_IOTHUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_iothub_main_conf_t, janitor_interval),
      &ngx_iothub_janitor_interval_bounds },

    { ngx_string("job_poll_interval"),
      NGX_IOTHUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_iothub_main_conf_t, job_poll_interval),
      &ngx_iothub_job_poll_bounds },

    { ngx_string("job_lease"),
      NGX_IOTHUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_iothub_main_conf_t, job_lease),
      &ngx_iothub_job_lease_bounds },

    { ngx_string("memory_trim"),
      NGX_IOTHUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_iothub_memory_trim,
      0,
      offsetof(ngx_iothub_main_conf_t, memory_trim),
      &ngx_iothub_memory_trim_bounds },

    { ngx_string("hub"),
      NGX_IOTHUB_CONF|NGX_DIRECT_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_iothub_hub,
      0,
      0,
      NULL },

    { ngx_string("hostname"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_iothub_hostname,
      0,
      0,
      NULL },

    { ngx_string("policy"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_2MORE,
      ngx_iothub_policy,
      0,
      0,
      NULL },

    { ngx_string("partitions"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      0,
      offsetof(ngx_iothub_hub_t, partitions),
      &ngx_iothub_partitions_bounds },

    { ngx_string("c2d_queue_depth"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      0,
      offsetof(ngx_iothub_hub_t, c2d_queue_depth),
      &ngx_iothub_c2d_depth_bounds },

    { ngx_string("c2d_ttl"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      0,
      offsetof(ngx_iothub_hub_t, c2d_ttl),
      NULL },

    { ngx_string("c2d_max_delivery_count"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      0,
      offsetof(ngx_iothub_hub_t, c2d_max_delivery_count),
      &ngx_iothub_c2d_delivery_bounds },

    { ngx_string("c2d_lock_timeout"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_iothub_hub_t, c2d_lock_timeout),
      NULL },

    { ngx_string("feedback_max_length"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      0,
      offsetof(ngx_iothub_hub_t, feedback_max_length),
      &ngx_iothub_feedback_length_bounds },

    { ngx_string("job_max_concurrent"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      0,
      offsetof(ngx_iothub_hub_t, job_max_concurrent),
      &ngx_iothub_job_concurrent_bounds },

    { ngx_string("job_max_in_flight"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      0,
      offsetof(ngx_iothub_hub_t, job_max_in_flight),
      &ngx_iothub_job_in_flight_bounds },

    { ngx_string("job_history"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      0,
      offsetof(ngx_iothub_hub_t, job_history),
      NULL },

    { ngx_string("consumer_group"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_iothub_eh_consumer_group,
      0,
      0,
      NULL },

    { ngx_string("retention"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      0,
      offsetof(ngx_iothub_hub_t, retention),
      NULL },

    { ngx_string("storage_connection_string"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_iothub_storage,
      0,
      0,
      NULL },

    { ngx_string("storage_container"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_iothub_storage_container,
      0,
      0,
      NULL },

    { ngx_string("file_upload_sas_ttl"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      0,
      offsetof(ngx_iothub_hub_t, file_upload_sas_ttl),
      NULL },

    { ngx_string("file_notifications"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      0,
      offsetof(ngx_iothub_hub_t, file_notifications),
      NULL },

    { ngx_string("file_notifications_max_length"),
      NGX_IOTHUB_HUB_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      0,
      offsetof(ngx_iothub_hub_t, file_notifications_max_length),
      &ngx_iothub_feedback_length_bounds },

      ngx_null_command
};


static ngx_core_module_t  ngx_iothub_module_ctx = {
    ngx_string("iothub"),
    ngx_iothub_create_conf,
    ngx_iothub_init_conf
};


ngx_module_t  ngx_iothub_module = {
    NGX_MODULE_V1,
    &ngx_iothub_module_ctx,                /* module context */
    ngx_iothub_commands,                   /* module directives */
    NGX_CORE_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_iothub_init_process,               /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_iothub_exit_process,               /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_iothub_create_conf(ngx_cycle_t *cycle)
{
    ngx_iothub_main_conf_t  *imcf;

    imcf = ngx_pcalloc(cycle->pool, sizeof(ngx_iothub_main_conf_t));
    if (imcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&imcf->hubs, cycle->pool, 2,
                       sizeof(ngx_iothub_hub_t *))
        != NGX_OK
        || ngx_array_init(&imcf->inbox_types, cycle->pool, 4,
                          sizeof(ngx_iothub_inbox_type_t))
           != NGX_OK)
    {
        return NULL;
    }

    imcf->redis.database = NGX_CONF_UNSET;
    imcf->redis.connect_timeout = NGX_CONF_UNSET_MSEC;
    imcf->redis.command_timeout = NGX_CONF_UNSET_MSEC;
    imcf->redis.max_backoff = NGX_CONF_UNSET_MSEC;
    imcf->identity_cache = NGX_CONF_UNSET;
    imcf->janitor_interval = NGX_CONF_UNSET_MSEC;
    imcf->job_poll_interval = NGX_CONF_UNSET_MSEC;
    imcf->job_lease = NGX_CONF_UNSET_MSEC;
    imcf->memory_trim = NGX_CONF_UNSET_MSEC;

    return imcf;
}


static char *
ngx_iothub_init_conf(ngx_cycle_t *cycle, void *conf)
{
    ngx_iothub_main_conf_t *imcf = conf;

    ngx_url_t  u;

    ngx_conf_init_value(imcf->redis.database, 0);
    ngx_conf_init_msec_value(imcf->redis.connect_timeout, 1000);
    ngx_conf_init_msec_value(imcf->redis.command_timeout, 2000);
    ngx_conf_init_msec_value(imcf->redis.max_backoff, 5000);
    ngx_conf_init_value(imcf->identity_cache, 10000);
    ngx_conf_init_msec_value(imcf->janitor_interval, 60000);
    ngx_conf_init_msec_value(imcf->job_poll_interval, 1000);
    ngx_conf_init_msec_value(imcf->job_lease, 30000);
    ngx_conf_init_msec_value(imcf->memory_trim, 30000);

    if (!imcf->configured || imcf->redis.addr != NULL) {
        return NGX_CONF_OK;
    }

    /* the default Redis: 127.0.0.1:6379 */

    ngx_memzero(&u, sizeof(ngx_url_t));
    ngx_str_set(&u.url, "127.0.0.1:6379");
    u.default_port = 6379;
    u.no_resolve = 1;

    if (ngx_parse_url(cycle->pool, &u) != NGX_OK || u.naddrs == 0) {
        return NGX_CONF_ERROR;
    }

    imcf->redis.addr = &u.addrs[0];

    return NGX_CONF_OK;
}


/* ngx_conf_check_num_bounds(), with the directive's name in the error */

static char *
ngx_iothub_check_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_conf_num_bounds_t *bounds = post;
    ngx_int_t             *np = data;

    if (*np >= bounds->low && *np <= bounds->high) {
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" directive value must be between %i and %i",
                       &((ngx_str_t *) cf->args->elts)[0], bounds->low,
                       bounds->high);

    return NGX_CONF_ERROR;
}


/* the same for a time; the bounds are milliseconds, whole seconds */

static char *
ngx_iothub_check_msec_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_conf_num_bounds_t *bounds = post;
    ngx_msec_t            *mp = data;

    if (*mp >= (ngx_msec_t) bounds->low && *mp <= (ngx_msec_t) bounds->high) {
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" directive value must be from %is to %is",
                       &((ngx_str_t *) cf->args->elts)[0],
                       bounds->low / 1000, bounds->high / 1000);

    return NGX_CONF_ERROR;
}


/* memory_trim off | time: a time within the bounds, "off" is 0 */

static char *
ngx_iothub_memory_trim(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_conf_num_bounds_t  *bounds = cmd->post;

    ngx_str_t   *value;
    ngx_msec_t  *mp, ms;

    mp = (ngx_msec_t *) ((char *) conf + cmd->offset);

    if (*mp != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        *mp = 0;
        return NGX_CONF_OK;
    }

    ms = ngx_parse_time(&value[1], 0);

    if (ms == (ngx_msec_t) NGX_ERROR
        || ms < (ngx_msec_t) bounds->low || ms > (ngx_msec_t) bounds->high)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" directive value must be \"off\" or "
                           "from %is to %is, not \"%V\"",
                           &cmd->name, bounds->low / 1000,
                           bounds->high / 1000, &value[1]);
        return NGX_CONF_ERROR;
    }

    *mp = ms;

    return NGX_CONF_OK;
}


static char *
ngx_iothub_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iothub_main_conf_t  *imcf;

    imcf = *(ngx_iothub_main_conf_t **) conf;

    if (imcf->configured) {
        return "is duplicate";
    }

    imcf->configured = 1;

    /* the services' inbox handlers, once whichever modules are loaded */
    if (ngx_iothub_method_init(cf) != NGX_OK
        || ngx_iothub_session_conf_init(cf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return ngx_iothub_parse_block(cf, NGX_IOTHUB_CONF, imcf);
}


/*
 * Parses a nested block with nginx's own directive handler: it looks up
 * the directives of type cmd_type among core modules and, as they are
 * NGX_DIRECT_CONF, hands each ((void **) cf->ctx)[module index], our conf.
 * (ctx_index is not set for core modules, so it cannot be used.)
 */

static char *
ngx_iothub_parse_block(ngx_conf_t *cf, ngx_uint_t cmd_type, void *conf)
{
    char        *rv;
    void       **confs;
    ngx_conf_t   save;

    confs = ngx_pcalloc(cf->pool,
                        (ngx_iothub_module.index + 1) * sizeof(void *));
    if (confs == NULL) {
        return NGX_CONF_ERROR;
    }

    confs[ngx_iothub_module.index] = conf;

    save = *cf;
    cf->ctx = confs;
    cf->module_type = NGX_CORE_MODULE;
    cf->cmd_type = cmd_type;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    return rv;
}


static char *
ngx_iothub_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iothub_main_conf_t *imcf = conf;

    ngx_url_t   u;
    ngx_str_t  *value;

    if (imcf->redis.addr != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = value[1];
    u.default_port = 6379;
    u.no_resolve = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in \"redis\" directive \"%V\"",
                               u.err, &u.url);
        }

        return NGX_CONF_ERROR;
    }

    if (u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"redis\" directive needs an IP address or a "
                           "unix socket, not a host name: \"%V\"", &u.url);
        return NGX_CONF_ERROR;
    }

    imcf->redis.addr = &u.addrs[0];

    return NGX_CONF_OK;
}


static char *
ngx_iothub_hub(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iothub_main_conf_t *imcf = conf;

    char               *rv;
    ngx_str_t          *value;
    ngx_uint_t          i;
    ngx_iothub_hub_t   *hub, **hubp;

    value = cf->args->elts;

    if (!ngx_iothub_id_valid(value[1].data, value[1].len)
        || ngx_strlchr(value[1].data, value[1].data + value[1].len, ':'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid hub name \"%V\" in \"hub\" directive",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    hubp = imcf->hubs.elts;

    for (i = 0; i < imcf->hubs.nelts; i++) {
        if (hubp[i]->name.len == value[1].len
            && ngx_strncmp(hubp[i]->name.data, value[1].data,
                           value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate hub \"%V\" in \"hub\" directive",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    hub = ngx_pcalloc(cf->pool, sizeof(ngx_iothub_hub_t));
    if (hub == NULL) {
        return NGX_CONF_ERROR;
    }

    hub->name = value[1];
    hub->partitions = NGX_CONF_UNSET_UINT;
    hub->retention = NGX_CONF_UNSET;
    hub->job_history = NGX_CONF_UNSET;
    hub->c2d_queue_depth = NGX_CONF_UNSET_UINT;
    hub->c2d_ttl = NGX_CONF_UNSET;
    hub->c2d_max_delivery_count = NGX_CONF_UNSET_UINT;
    hub->c2d_lock_timeout = NGX_CONF_UNSET_MSEC;
    hub->feedback_max_length = NGX_CONF_UNSET_UINT;
    hub->job_max_concurrent = NGX_CONF_UNSET_UINT;
    hub->job_max_in_flight = NGX_CONF_UNSET_UINT;
    hub->file_upload_sas_ttl = NGX_CONF_UNSET;
    hub->file_notifications = NGX_CONF_UNSET;
    hub->file_notifications_max_length = NGX_CONF_UNSET_UINT;
    hub->file = cf->conf_file->file.name;
    hub->line = cf->conf_file->line;

    hub->prefix.len = sizeof("iothub::") - 1 + hub->name.len;
    hub->prefix.data = ngx_pnalloc(cf->pool, hub->prefix.len);
    if (hub->prefix.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(hub->prefix.data, "iothub:%V:", &hub->name);

    if (ngx_array_init(&hub->policies, cf->pool, 5,
                       sizeof(ngx_iothub_policy_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    hubp = ngx_array_push(&imcf->hubs);
    if (hubp == NULL) {
        return NGX_CONF_ERROR;
    }

    *hubp = hub;

    rv = ngx_iothub_parse_block(cf, NGX_IOTHUB_HUB_CONF, hub);

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_iothub_check_hub(cf, hub);
}


static char *
ngx_iothub_check_hub(ngx_conf_t *cf, ngx_iothub_hub_t *hub)
{
    if (hub->hostname.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no \"hostname\" directive in hub \"%V\"",
                           &hub->name);
        return NGX_CONF_ERROR;
    }

    if (hub->policies.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no \"policy\" directive in hub \"%V\"",
                           &hub->name);
        return NGX_CONF_ERROR;
    }

    ngx_conf_init_uint_value(hub->partitions, 4);
    ngx_conf_init_value(hub->retention, 86400);
    ngx_conf_init_value(hub->job_history, 30 * 86400);

    /* IoT Hub's defaults (messaging.md 3) */
    ngx_conf_init_uint_value(hub->c2d_queue_depth, 50);
    ngx_conf_init_value(hub->c2d_ttl, 3600);
    ngx_conf_init_uint_value(hub->c2d_max_delivery_count, 10);
    ngx_conf_init_msec_value(hub->c2d_lock_timeout, 60000);
    ngx_conf_init_uint_value(hub->feedback_max_length, 100000);
    ngx_conf_init_uint_value(hub->job_max_concurrent, 1);
    ngx_conf_init_uint_value(hub->job_max_in_flight, 10);
    ngx_conf_init_value(hub->file_upload_sas_ttl, 3600);
    ngx_conf_init_value(hub->file_notifications, 1);
    ngx_conf_init_uint_value(hub->file_notifications_max_length, 100000);

    if (hub->storage_container.len == 0) {
        ngx_str_set(&hub->storage_container, "fileupload");
    }

    if (hub->file_upload_sas_ttl < 60 || hub->file_upload_sas_ttl > 86400) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"file_upload_sas_ttl\" of hub \"%V\" must be "
                           "from 1m to 1d", &hub->name);
        return NGX_CONF_ERROR;
    }

    if (hub->c2d_ttl < 60 || hub->c2d_ttl > 2 * 86400) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"c2d_ttl\" of hub \"%V\" must be from 1m to 2d",
                           &hub->name);
        return NGX_CONF_ERROR;
    }

    if (hub->c2d_lock_timeout < 5000 || hub->c2d_lock_timeout > 300000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"c2d_lock_timeout\" of hub \"%V\" must be from "
                           "5s to 300s", &hub->name);
        return NGX_CONF_ERROR;
    }

    if (hub->retention < 60 || hub->retention > 7 * 86400) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"retention\" of hub \"%V\" must be from 1m to "
                           "7d", &hub->name);
        return NGX_CONF_ERROR;
    }

    if (hub->job_history < 1 || hub->job_history > 365 * 86400) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"job_history\" of hub \"%V\" must be from 1s "
                           "to 365d", &hub->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_iothub_hostname(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iothub_hub_t *hub = conf;

    ngx_str_t  *value;

    if (hub->hostname.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > 255
        || ngx_strlchr(value[1].data, value[1].data + value[1].len, '/'))
    {
        return "has an invalid host name";
    }

    hub->hostname = value[1];

    return NGX_CONF_OK;
}


/*
 * storage_connection_string "AccountName=...;AccountKey=...;
 * BlobEndpoint=<https URL of the store>" (or EndpointSuffix=...): the
 * account file uploads go to (rest.md 14.4).
 */

static char *
ngx_iothub_storage(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iothub_hub_t *hub = conf;

    ngx_str_t  *value;

    if (hub->storage) {
        return "is duplicate";
    }

    value = cf->args->elts;

    hub->storage = ngx_pcalloc(cf->pool, sizeof(ngx_iothub_blob_connstr_t));
    if (hub->storage == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_iothub_blob_connstr_parse(hub->storage, value[1].data,
                                      value[1].len)
        != NGX_IOTHUB_BLOB_OK)
    {
        return "has an invalid storage connection string: it needs "
               "AccountName, a base64 AccountKey and an https BlobEndpoint "
               "or an EndpointSuffix";
    }

    return NGX_CONF_OK;
}


static char *
ngx_iothub_storage_container(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iothub_hub_t *hub = conf;

    u_char             path[NGX_IOTHUB_BLOB_CONTAINER_MAX + 8];
    ngx_str_t         *value;
    ngx_iothub_span_t  container, blob;

    if (hub->storage_container.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* the container rule of a blob path: "/<container>/x" must parse */

    if (value[1].len > NGX_IOTHUB_BLOB_CONTAINER_MAX
        || ngx_iothub_blob_path_parse(path,
                                      ngx_sprintf(path, "/%V/x", &value[1])
                                      - path, &container, &blob) != 0)
    {
        return "has an invalid container name (3 to 63 of a-z, 0-9, \"-\")";
    }

    hub->storage_container = value[1];

    return NGX_CONF_OK;
}


/* policy <name> <primary key> [<secondary key>] <right> ... */

static char *
ngx_iothub_policy(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iothub_hub_t *hub = conf;

    ngx_str_t                *value;
    ngx_uint_t                i, n;
    ngx_iothub_policy_t      *policy;
    ngx_iothub_right_name_t  *right;

    value = cf->args->elts;

    if (hub->policies.nelts == NGX_IOTHUB_MAX_POLICIES) {
        return "is over the limit of 16 policies per hub";
    }

    if (!ngx_iothub_id_valid(value[1].data, value[1].len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid policy name \"%V\" in \"policy\" "
                           "directive", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_iothub_find_policy(hub, value[1].data, value[1].len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate policy \"%V\" in \"policy\" directive",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    policy = ngx_array_push(&hub->policies);
    if (policy == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(policy, sizeof(ngx_iothub_policy_t));
    policy->name = value[1];

    if (ngx_iothub_policy_key(cf, &value[2], &value[1]) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    policy->primary_key = value[2];
    n = 3;

    if (cf->args->nelts > 3 && ngx_iothub_key_valid((char *) value[3].data,
                                                    value[3].len))
    {
        policy->secondary_key = value[3];
        n = 4;
    }

    for (i = n; i < cf->args->nelts; i++) {
        for (right = ngx_iothub_rights; right->name.len; right++) {
            if (right->name.len == value[i].len
                && ngx_strncmp(right->name.data, value[i].data,
                               value[i].len) == 0)
            {
                break;
            }
        }

        if (right->name.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid right or key \"%V\" in \"policy\" "
                               "directive; rights are registry_read, "
                               "registry_write, service_connect and "
                               "device_connect", &value[i]);
            return NGX_CONF_ERROR;
        }

        policy->rights |= right->right;
    }

    if (policy->rights == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no rights for policy \"%V\" in \"policy\" "
                           "directive", &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_iothub_policy_key(ngx_conf_t *cf, ngx_str_t *key, ngx_str_t *policy)
{
    if (ngx_iothub_key_valid((char *) key->data, key->len)) {
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid key for policy \"%V\" in \"policy\" "
                       "directive: a key is base64 of 16 to 64 bytes",
                       policy);

    return NGX_CONF_ERROR;
}


ngx_iothub_hub_t *
ngx_iothub_conf_find_hub(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_uint_t               i;
    ngx_iothub_hub_t       **hubs;
    ngx_iothub_main_conf_t  *imcf;

    imcf = (ngx_iothub_main_conf_t *)
               ngx_get_conf(cf->cycle->conf_ctx, ngx_iothub_module);

    hubs = imcf->hubs.elts;

    for (i = 0; i < imcf->hubs.nelts; i++) {
        if (hubs[i]->name.len == name->len
            && ngx_strncmp(hubs[i]->name.data, name->data, name->len) == 0)
        {
            return hubs[i];
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown hub \"%V\" in \"%V\" directive; hubs are "
                       "defined in an iothub{} block before it",
                       name, &((ngx_str_t *) cf->args->elts)[0]);

    return NULL;
}


ngx_int_t
ngx_iothub_key(ngx_pool_t *pool, ngx_str_t *key, ngx_iothub_hub_t *hub,
    ngx_str_t *device_id, const char *suffix, ngx_str_t *module_id)
{
    size_t   len;
    u_char  *p;

    len = hub->prefix.len + ngx_strlen(suffix)
          + (module_id ? module_id->len : 0)
          + (device_id ? device_id->len + 3 : 0);

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    key->data = p;
    key->len = ngx_iothub_key_write(p, p + len, hub, device_id, suffix,
                                    module_id)
               - p;

    return NGX_OK;
}


u_char *
ngx_iothub_key_write(u_char *buf, u_char *last, ngx_iothub_hub_t *hub,
    ngx_str_t *device_id, const char *suffix, ngx_str_t *module_id)
{
    u_char  *p;

    if (device_id) {
        p = ngx_slprintf(buf, last, "%V{%V}:%s", &hub->prefix, device_id,
                         suffix);

    } else {
        p = ngx_slprintf(buf, last, "%V%s", &hub->prefix, suffix);
    }

    if (module_id) {
        p = ngx_slprintf(p, last, "%V", module_id);
    }

    return p;
}


void
ngx_iothub_time_now(u_char *buf, size_t size)
{
    ngx_tm_t     tm;
    ngx_time_t  *tp;

    tp = ngx_timeofday();
    ngx_gmtime(tp->sec, &tm);

    ngx_snprintf(buf, size, "%4d-%02d-%02dT%02d:%02d:%02d.%03M0000Z%Z",
                 tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                 tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec, tp->msec);
}


ngx_iothub_policy_t *
ngx_iothub_find_policy(ngx_iothub_hub_t *hub, const u_char *name, size_t len)
{
    ngx_uint_t            i;
    ngx_iothub_policy_t  *policy;

    policy = hub->policies.elts;

    for (i = 0; i < hub->policies.nelts; i++) {
        if (policy[i].name.len == len
            && ngx_strncmp(policy[i].name.data, name, len) == 0)
        {
            return &policy[i];
        }
    }

    return NULL;
}


ngx_iothub_redis_t *
ngx_iothub_redis_link(void)
{
    ngx_iothub_main_conf_t  *imcf;

    imcf = (ngx_iothub_main_conf_t *)
               ngx_get_conf(ngx_cycle->conf_ctx, ngx_iothub_module);

    return imcf ? imcf->link : NULL;
}


static ngx_int_t
ngx_iothub_init_process(ngx_cycle_t *cycle)
{
    ngx_iothub_main_conf_t  *imcf;

    imcf = (ngx_iothub_main_conf_t *)
               ngx_get_conf(cycle->conf_ctx, ngx_iothub_module);

    if (imcf == NULL || !imcf->configured) {
        return NGX_OK;
    }

    imcf->link = ngx_iothub_redis_create(&imcf->redis, cycle->log);
    if (imcf->link == NULL) {
        return NGX_ERROR;
    }

    if (ngx_iothub_inbox_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    imcf->channels[0] = imcf->inbox;
    ngx_str_set(&imcf->channels[1], NGX_IOTHUB_IDCACHE_CHANNEL);

    imcf->subscriber = ngx_iothub_redis_create_subscriber(
                           &imcf->redis, cycle->log, imcf->channels, 2,
                           ngx_iothub_subscribed_in, imcf);
    if (imcf->subscriber == NULL) {
        return NGX_ERROR;
    }

    ngx_iothub_idcache_init((ngx_uint_t) imcf->identity_cache,
                            imcf->subscriber);

    imcf->heartbeat.handler = ngx_iothub_heartbeat;
    imcf->heartbeat.data = imcf;
    imcf->heartbeat.log = cycle->log;
    imcf->heartbeat.cancelable = 1;

    ngx_add_timer(&imcf->heartbeat, 1);

    ngx_iothub_janitor_start(imcf, cycle->log);
    ngx_iothub_job_runner_start(imcf, cycle->log);
    ngx_iothub_bulkjob_poll_start(imcf, cycle->log);
    ngx_iothub_memtrim_start(imcf->memory_trim, cycle->log);

    return NGX_OK;
}


/*
 * "<inbox>:alive" lives while the worker does: senders skip the sessions
 * of a worker that died (presence records name its inbox)
 */

static void
ngx_iothub_heartbeat(ngx_event_t *ev)
{
    ngx_iothub_main_conf_t *imcf = ev->data;

    u_char              key[sizeof("iothub:inbox:") + 32 + 6];
    ngx_iothub_args_t   args;

    args.n = 0;
    ngx_iothub_args_add_str(&args, "SET");
    ngx_iothub_args_add(&args, (char *) key,
                        ngx_sprintf(key, "%V:alive", &imcf->inbox) - key);
    ngx_iothub_args_add_str(&args, "1");
    ngx_iothub_args_add_str(&args, "PX");
    ngx_iothub_args_add_str(&args, NGX_IOTHUB_ALIVE_TTL);

    if (!ngx_iothub_args_ok(&args)) {
        return;
    }

    /* Redis down: the next beat tries again */
    (void) ngx_iothub_redis_command(imcf->link, ngx_iothub_redis_ignore, NULL,
                                    args.n, args.argv, args.lens);

    ngx_add_timer(ev, NGX_IOTHUB_HEARTBEAT);
}


static void
ngx_iothub_subscribed_in(void *data, ngx_str_t *channel, u_char *payload,
    size_t len)
{
    ngx_iothub_main_conf_t *imcf = data;

    if (channel == NULL) {
        /* (re)subscribed: invalidations and notifications may be lost */
        ngx_iothub_idcache_flush();
        ngx_iothub_session_resume_all();
        ngx_iothub_eh_wake_all();

        /* Redis may be back empty: say at once that this worker lives */
        if (imcf->heartbeat.timer_set) {
            ngx_del_timer(&imcf->heartbeat);
            ngx_iothub_heartbeat(&imcf->heartbeat);
        }

        return;
    }

    if (channel->len == imcf->inbox.len
        && ngx_strncmp(channel->data, imcf->inbox.data, channel->len) == 0)
    {
        ngx_iothub_inbox_in(payload, len);
        return;
    }

    ngx_iothub_idcache_invalidate(payload, len);
}


static void
ngx_iothub_exit_process(ngx_cycle_t *cycle)
{
    ngx_iothub_main_conf_t  *imcf;

    imcf = (ngx_iothub_main_conf_t *)
               ngx_get_conf(cycle->conf_ctx, ngx_iothub_module);

    if (imcf == NULL || imcf->link == NULL) {
        return;
    }

    if (imcf->heartbeat.timer_set) {
        ngx_del_timer(&imcf->heartbeat);
    }

    ngx_iothub_janitor_stop();
    ngx_iothub_job_runner_stop();
    ngx_iothub_bulkjob_poll_stop();
    ngx_iothub_memtrim_stop();

    /* the cache's entries die with the worker: freed for the checkers */
    ngx_iothub_idcache_flush();

    ngx_iothub_redis_destroy(imcf->link);
    imcf->link = NULL;

    if (imcf->subscriber) {
        ngx_iothub_redis_destroy(imcf->subscriber);
        imcf->subscriber = NULL;
    }
}
