
/*
 * nginx-iothub: the identity registry service, protocol-neutral: REST now,
 * MQTT and AMQP authentication later.  Identities live in Redis hashes;
 * the key schema is in docs/redis-schema.md.
 */


#ifndef _NGX_IOTHUB_REGISTRY_H_INCLUDED_
#define _NGX_IOTHUB_REGISTRY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_identity.h"


typedef enum {
    NGX_IOTHUB_REGISTRY_OK = 0,
    NGX_IOTHUB_REGISTRY_NO_DEVICE,         /* 404001 DeviceNotFound */
    NGX_IOTHUB_REGISTRY_NO_MODULE,         /* 404010 ModuleNotFound */
    NGX_IOTHUB_REGISTRY_EXISTS,            /* 409001 / 409301 */
    NGX_IOTHUB_REGISTRY_ETAG_MISMATCH,     /* 412001 PreconditionFailed */
    NGX_IOTHUB_REGISTRY_UNAVAILABLE,       /* 503001: Redis down */
    NGX_IOTHUB_REGISTRY_ERROR              /* 500001: unexpected reply */
} ngx_iothub_registry_rc_e;


typedef struct ngx_iothub_registry_op_s  ngx_iothub_registry_op_t;

typedef void (*ngx_iothub_registry_handler_pt)(ngx_iothub_registry_op_t *op);


/*
 * One registry operation, owned by the caller (e.g. in a request context).
 * The caller sets hub, pool, handler and data, then starts one operation;
 * the handler runs once with rc and the results set, allocated from pool.
 */
struct ngx_iothub_registry_op_s {
    ngx_iothub_hub_t                *hub;
    ngx_pool_t                      *pool;
    ngx_log_t                       *log;
    ngx_iothub_registry_handler_pt   handler;
    void                            *data;

    ngx_iothub_registry_rc_e         rc;
    ngx_iothub_identity_t           *identity;     /* get, create, update */
    ngx_iothub_identity_t           *list;         /* list */
    ngx_uint_t                       nlist;
    ngx_uint_t                       total;        /* stats */
    ngx_uint_t                       disabled;
    ngx_uint_t                       connected;

    ngx_iothub_redis_call_t         *call;
    ngx_str_t                        key;          /* lookup */
    ngx_uint_t                       stamp;        /* lookup */
    ngx_uint_t                       cached;       /* lookup: the identity
                                                      cache's entry, 0 none */
    unsigned                         module:1;
};


/*
 * Each returns NGX_OK when the operation started (the handler will run),
 * NGX_DECLINED when Redis is down (the handler will not run) or NGX_ERROR.
 * An empty module id means the device itself.
 */
ngx_int_t ngx_iothub_registry_get(ngx_iothub_registry_op_t *op,
    ngx_str_t *device_id, ngx_str_t *module_id);

/*
 * The identity alone, for authenticating a connection: from the worker's
 * identity cache (NGX_DONE: op->identity is set, the handler will not
 * run), or one plain read; c2d_count is -1.
 */
ngx_int_t ngx_iothub_registry_lookup(ngx_iothub_registry_op_t *op,
    ngx_str_t *device_id, ngx_str_t *module_id);

/*
 * Creates the identity (a module when id->module_id is set): generates
 * empty keys, the etag, the generation id and the times.  op->identity is
 * id itself.
 */
ngx_int_t ngx_iothub_registry_create(ngx_iothub_registry_op_t *op,
    ngx_iothub_identity_t *id);

/* if_match: unquoted etag, "*" or empty for unconditional */
ngx_int_t ngx_iothub_registry_update(ngx_iothub_registry_op_t *op,
    ngx_iothub_identity_t *id, ngx_str_t *if_match);
ngx_int_t ngx_iothub_registry_delete(ngx_iothub_registry_op_t *op,
    ngx_str_t *device_id, ngx_str_t *module_id, ngx_str_t *if_match);

/*
 * Applies one entry of a bulk registry request (rest.md 5): create, update
 * or delete by its import mode; "creating" turns an update into a create.
 * NGX_DONE when the mode is a twin one: nothing started.
 */
ngx_int_t ngx_iothub_registry_apply(ngx_iothub_registry_op_t *op,
    ngx_iothub_bulk_entry_t *e, ngx_uint_t creating);

/* devices when device_id is NULL, else the modules of that device */
ngx_int_t ngx_iothub_registry_list(ngx_iothub_registry_op_t *op,
    ngx_str_t *device_id, ngx_uint_t top);
ngx_int_t ngx_iothub_registry_stats(ngx_iothub_registry_op_t *op);

/* The handler will not run; safe when nothing is pending. */
void ngx_iothub_registry_cancel(ngx_iothub_registry_op_t *op);

/* A new etag for an identity: base64 of a random decimal number. */
void ngx_iothub_registry_new_etag(char *etag, size_t size);


#endif /* _NGX_IOTHUB_REGISTRY_H_INCLUDED_ */
