
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


typedef enum {
    NGX_IOTHUB_C2D_DONE = 0,               /* count is set */
    NGX_IOTHUB_C2D_NOT_FOUND,              /* no such device */
    NGX_IOTHUB_C2D_FULL,                   /* the queue is at its depth */
    NGX_IOTHUB_C2D_UNAVAILABLE,            /* Redis is down */
    NGX_IOTHUB_C2D_FAILED
} ngx_iothub_c2d_result_e;


typedef struct ngx_iothub_c2d_op_s  ngx_iothub_c2d_op_t;

typedef void (*ngx_iothub_c2d_handler_pt)(ngx_iothub_c2d_op_t *op);


/*
 * A service operation on a device's queue (send or purge), owned by the
 * caller, who sets the fields up to "expiry" and starts it.  The handler
 * runs once and may free op.
 */
struct ngx_iothub_c2d_op_s {
    ngx_iothub_hub_t               *hub;
    ngx_log_t                      *log;
    ngx_iothub_c2d_handler_pt       handler;
    void                           *data;
    ngx_str_t                       device_id;

    /* send: fields "p:..." and "u:..." as for telemetry, and "body" */
    ngx_iothub_message_t           *msg;
    ngx_str_t                       ack;      /* none, positive, ... full */
    uint64_t                        expiry;   /* ms; 0: the hub's c2d_ttl */

    ngx_iothub_c2d_result_e         result;
    int64_t                         count;    /* message number; purged */

    ngx_iothub_redis_call_t        *call;
};


/*
 * Queues op->msg for the device.  NGX_OK: started; NGX_DECLINED: Redis is
 * down; NGX_ERROR (the message does not fit a command).
 */
ngx_int_t ngx_iothub_c2d_send(ngx_iothub_c2d_op_t *op);

/* Empties the device's queue; count is the number of messages removed. */
ngx_int_t ngx_iothub_c2d_purge(ngx_iothub_c2d_op_t *op);

/* The handler will not run; safe when nothing is pending. */
void ngx_iothub_c2d_cancel(ngx_iothub_c2d_op_t *op);

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


#endif /* _NGX_IOTHUB_C2D_H_INCLUDED_ */
