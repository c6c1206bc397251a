
/*
 * nginx-iothub: cloud-to-device messages, protocol-neutral: a bounded
 * queue per device in Redis with IoT Hub's semantics (messaging.md 3):
 * TTL, locks, delivery count, dead-lettering and feedback.  Sent over REST
 * now and over AMQP later; delivered over MQTT (and AMQP and HTTPS later).
 */


#ifndef _NGX_IOTHUB_C2D_H_INCLUDED_
#define _NGX_IOTHUB_C2D_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_d2c.h"


#define NGX_IOTHUB_C2D_MAX_SIZE  (64 * 1024)


/*
 * Queues msg (fields "p:..." and "u:..." as for telemetry, and "body") for
 * the device, with the ack mode ("none", "positive", "negative", "full")
 * and the absolute expiry in ms (0: the hub's c2d_ttl).  The handler gets
 * the message number (an integer reply), or the error "NOT_FOUND" or
 * "FULL", or NULL.  Returns NULL when Redis is down.
 */
ngx_iothub_redis_call_t *ngx_iothub_c2d_send(ngx_iothub_hub_t *hub,
    ngx_str_t *device_id, ngx_iothub_message_t *msg, ngx_str_t *ack,
    uint64_t expiry, ngx_iothub_redis_handler_pt handler, void *data);

/*
 * Locks the device's oldest deliverable message with lock for the hub's
 * c2d_lock_timeout.  The handler gets its hash as an array of field,
 * value, ... (with "n", its number), or nil when none is due.
 */
ngx_iothub_redis_call_t *ngx_iothub_c2d_receive(ngx_iothub_hub_t *hub,
    ngx_str_t *device_id, ngx_str_t *generation_id, ngx_str_t *lock,
    ngx_iothub_redis_handler_pt handler, void *data);

/*
 * Settles message number n under its lock: "complete", "abandon" (one
 * more delivery counted) or "release" (unlocked as by an expired lock).
 */
ngx_iothub_redis_call_t *ngx_iothub_c2d_settle(ngx_iothub_hub_t *hub,
    ngx_str_t *device_id, ngx_str_t *generation_id, ngx_str_t *n,
    ngx_str_t *lock, const char *how, ngx_iothub_redis_handler_pt handler,
    void *data);

/* The handler gets the number of messages removed or "NOT_FOUND". */
ngx_iothub_redis_call_t *ngx_iothub_c2d_purge(ngx_iothub_hub_t *hub,
    ngx_str_t *device_id, ngx_iothub_redis_handler_pt handler, void *data);


#endif /* _NGX_IOTHUB_C2D_H_INCLUDED_ */
