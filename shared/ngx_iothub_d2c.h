
/*
 * nginx-iothub: device-to-cloud messages into the hub's partitioned Redis
 * streams (the built-in endpoint), protocol-neutral.  The entry format is
 * documented in docs/redis-schema.md.
 */


#ifndef _NGX_IOTHUB_D2C_H_INCLUDED_
#define _NGX_IOTHUB_D2C_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_props.h"


#define NGX_IOTHUB_D2C_MAX_SIZE        (256 * 1024)
#define NGX_IOTHUB_D2C_MAX_PROPERTIES  64
#define NGX_IOTHUB_D2C_KEY_LEN         320     /* a hub name is <= 128 */


/*
 * A message: properties as stream field names and values.  Field names
 * carry a kind prefix: "p:" for AMQP message properties (message-id,
 * correlation-id, user-id, to, content-type, content-encoding,
 * absolute-expiry-time), "a:" for annotations the hub stamps, "u:" for
 * application properties.
 */
typedef struct {
    ngx_uint_t                 n;
    ngx_str_t                  name[NGX_IOTHUB_D2C_MAX_PROPERTIES];
    ngx_str_t                  value[NGX_IOTHUB_D2C_MAX_PROPERTIES];
    ngx_str_t                  body;
} ngx_iothub_message_t;


/* the authenticated sender of a message, stamped by the hub */
typedef struct {
    ngx_str_t                  device_id;
    ngx_str_t                  module_id;       /* empty for devices */
    ngx_str_t                  generation_id;
    ngx_str_t                  model_id;        /* empty when none */
    unsigned                   x509:1;
    unsigned                   policy:1;        /* a policy (skn) token */
} ngx_iothub_sender_t;


/*
 * Adds a property; the strings must live until the message is sent.
 * Returns NGX_ERROR when the message has too many properties.
 */
ngx_int_t ngx_iothub_message_add(ngx_iothub_message_t *msg,
    const char *prefixed_name, size_t name_len, u_char *value, size_t len);

/*
 * Appends the message's fields, then "body", to a command's arguments
 * (a cloud-to-device message's hash); NGX_ERROR when they do not fit (see
 * ngx_iothub_args_add()).
 */
ngx_int_t ngx_iothub_message_args(ngx_iothub_args_t *args,
    ngx_iothub_message_t *msg);

/* The partition of a device: a stable hash of its id. */
ngx_uint_t ngx_iothub_d2c_partition(ngx_iothub_hub_t *hub, ngx_str_t *id);

/*
 * A partition's key: kind "d2c" is the stream, "d2c-last" its last entry
 * id, "d2c-wait" the inboxes waiting for its next entry.  buf holds
 * NGX_IOTHUB_D2C_KEY_LEN bytes; returns the end.
 */
u_char *ngx_iothub_d2c_key(u_char *buf, ngx_iothub_hub_t *hub,
    ngx_uint_t partition, const char *kind);

/*
 * Appends the message to the device's partition stream with the system
 * properties the hub stamps (connection ids, auth generation and method,
 * enqueued time, message source), with d2c_append.lua.  The message is
 * packed with the others of this event-loop turn for its partition into
 * one stream entry, "<ms>-<sequence number of the last>"; the fields are
 * copied at once, so msg may go.  The handler gets the entry's id (a bulk
 * reply) or a failure (an error reply, NULL); acknowledge the device only
 * after the id.  Returns NULL when Redis is down; the call may be cancelled
 * (ngx_iothub_redis_cancel()) as any other.
 */
ngx_iothub_redis_call_t *ngx_iothub_d2c_send(ngx_iothub_hub_t *hub,
    ngx_iothub_sender_t *sender, ngx_iothub_message_t *msg,
    ngx_iothub_redis_handler_pt handler, void *data);


#endif /* _NGX_IOTHUB_D2C_H_INCLUDED_ */
