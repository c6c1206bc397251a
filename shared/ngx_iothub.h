
/*
 * nginx-iothub: the core module's configuration, shared by every module
 * of the suite (stream and http).
 */


#ifndef _NGX_IOTHUB_H_INCLUDED_
#define _NGX_IOTHUB_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_iothub_redis.h"
#include "ngx_iothub_args.h"
#include "ngx_iothub_blob_sas.h"


#define NGX_IOTHUB_RIGHT_REGISTRY_READ     0x01
#define NGX_IOTHUB_RIGHT_REGISTRY_WRITE    0x02
#define NGX_IOTHUB_RIGHT_SERVICE_CONNECT   0x04
#define NGX_IOTHUB_RIGHT_DEVICE_CONNECT    0x08

#define NGX_IOTHUB_MAX_POLICIES            16


typedef struct {
    ngx_str_t                  name;
    ngx_str_t                  primary_key;
    ngx_str_t                  secondary_key;
    ngx_uint_t                 rights;
} ngx_iothub_policy_t;


typedef struct {
    ngx_str_t                  name;
    ngx_str_t                  hostname;
    /* "iothub:<name>:", the start of every Redis key of the hub */
    ngx_str_t                  prefix;
    ngx_array_t                policies;     /* ngx_iothub_policy_t */
    ngx_uint_t                 partitions;
    time_t                     retention;    /* of device-to-cloud streams */
    ngx_uint_t                 c2d_queue_depth;
    time_t                     c2d_ttl;
    ngx_uint_t                 c2d_max_delivery_count;
    ngx_msec_t                 c2d_lock_timeout;
    ngx_uint_t                 feedback_max_length;
    ngx_uint_t                 job_max_concurrent;   /* unfinished jobs */
    ngx_uint_t                 job_max_in_flight;    /* per running job */
    time_t                     job_history;  /* finished jobs kept */
    ngx_array_t               *consumer_groups;  /* ngx_str_t, or NULL */

    /* file upload (rest.md 14.4): no storage, no upload (400014) */
    ngx_iothub_blob_connstr_t *storage;
    ngx_str_t                  storage_container;
    time_t                     file_upload_sas_ttl;
    ngx_flag_t                 file_notifications;
    ngx_uint_t                 file_notifications_max_length;
    /* the directory of this nginx's blob store for the hub, if any */
    ngx_str_t                  blob_store_dir;
    ngx_str_t                  file;
    ngx_uint_t                 line;
} ngx_iothub_hub_t;


/* handles "<type> <payload>" messages sent to this worker's inbox */
typedef void (*ngx_iothub_inbox_handler_pt)(u_char *payload, size_t len);


typedef struct {
    ngx_str_t                    type;
    ngx_iothub_inbox_handler_pt  handler;
} ngx_iothub_inbox_type_t;


typedef struct {
    ngx_iothub_redis_conf_t    redis;
    ngx_array_t                hubs;         /* ngx_iothub_hub_t * */
    ngx_flag_t                 configured;   /* an iothub{} block was seen */

    ngx_array_t                inbox_types;  /* ngx_iothub_inbox_type_t */
    ngx_array_t               *ws_engines;   /* ngx_iothub_ws_engine.c */
    ngx_int_t                  identity_cache;   /* entries per worker */
    ngx_msec_t                 janitor_interval;
    ngx_msec_t                 job_poll_interval;
    ngx_msec_t                 job_lease;
    ngx_msec_t                 memory_trim;  /* 0: off */

    /* per worker, set up in init_process */
    ngx_iothub_redis_t        *link;
    ngx_iothub_redis_t        *subscriber;
    ngx_str_t                  inbox;
    u_char                     inbox_name[sizeof("iothub:inbox:") + 32];
    ngx_str_t                  channels[2];  /* inbox, identity changes */
    ngx_event_t                heartbeat;
} ngx_iothub_main_conf_t;


extern ngx_module_t  ngx_iothub_module;


/*
 * Finds a hub by name at configuration time; the iothub{} block must come
 * before the directive that names the hub.  Logs the error naming
 * directive "cmd" and returns NULL when it is unknown.
 */
ngx_iothub_hub_t *ngx_iothub_conf_find_hub(ngx_conf_t *cf, ngx_str_t *name);

/* The worker's Redis link; NULL outside worker processes. */
ngx_iothub_redis_t *ngx_iothub_redis_link(void);

/*
 * Every worker has an inbox: a Redis channel only it subscribes to, named
 * in presence records so that other nodes can reach a device's session.
 * Messages are "<type> <payload>"; a module registers the types it handles
 * at configuration time.
 */
ngx_int_t ngx_iothub_inbox_register(ngx_conf_t *cf, const char *type,
    ngx_iothub_inbox_handler_pt handler);

/* This worker's inbox channel name. */
ngx_str_t *ngx_iothub_inbox(void);

/* Draws this worker's inbox name (init_process). */
ngx_int_t ngx_iothub_inbox_init_process(ngx_cycle_t *cycle);

/* Hands a message that arrived in the inbox to its type's handler. */
void ngx_iothub_inbox_in(u_char *payload, size_t len);

/*
 * memory_trim: every interval, a worker whose connections changed gives
 * its heap's free pages back (ngx_iothub_memtrim.c; interval 0: never).
 */
void ngx_iothub_memtrim_start(ngx_msec_t interval, ngx_log_t *log);
void ngx_iothub_memtrim_stop(void);

/* A Redis handler for calls whose reply nobody needs. */
void ngx_iothub_redis_ignore(void *data, redisReply *reply);

/*
 * Publishes "<type> <payload>" to an inbox.  handler (may be NULL) gets the
 * PUBLISH reply: the number of receivers.  Returns NULL when Redis is down.
 */
ngx_iothub_redis_call_t *ngx_iothub_inbox_send(ngx_str_t *inbox,
    const char *type, ngx_str_t *payload, ngx_iothub_redis_handler_pt handler,
    void *data);

/*
 * A Redis key of the hub: "<prefix>{<device>}:<suffix><module>", or
 * "<prefix><suffix>" for hub-wide keys (device_id NULL); from pool.
 */
ngx_int_t ngx_iothub_key(ngx_pool_t *pool, ngx_str_t *key,
    ngx_iothub_hub_t *hub, ngx_str_t *device_id, const char *suffix,
    ngx_str_t *module_id);

/* The same key written into buf (at most up to last); returns its end. */
u_char *ngx_iothub_key_write(u_char *buf, u_char *last,
    ngx_iothub_hub_t *hub, ngx_str_t *device_id, const char *suffix,
    ngx_str_t *module_id);

/* Now in ISO 8601 UTC with 7 fractional digits, NUL-terminated. */
void ngx_iothub_time_now(u_char *buf, size_t size);

/* Finds a policy of the hub by name (case-sensitive), or NULL. */
ngx_iothub_policy_t *ngx_iothub_find_policy(ngx_iothub_hub_t *hub,
    const u_char *name, size_t len);


#endif /* _NGX_IOTHUB_H_INCLUDED_ */
