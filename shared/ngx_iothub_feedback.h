
/*
 * nginx-iothub: the hub's cloud-to-device feedback, for back ends
 * (messaging.md 3.5): records are read in locked batches of at most 64,
 * as a JSON array, then completed (removed) or abandoned (due again).
 * A record delivered more than NGX_IOTHUB_FEEDBACK_MAX_DELIVERIES times or
 * older than NGX_IOTHUB_FEEDBACK_TTL leaves the queue; a lock lasts
 * NGX_IOTHUB_FEEDBACK_LOCK (the reference's defaults).  Served over REST
 * (GET /messages/serviceBound/feedback) and AMQP
 * (/messages/serviceBound/feedback).
 */


#ifndef _NGX_IOTHUB_FEEDBACK_H_INCLUDED_
#define _NGX_IOTHUB_FEEDBACK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"


#define NGX_IOTHUB_FEEDBACK_BATCH           64
#define NGX_IOTHUB_FEEDBACK_LOCK            60000      /* ms */
#define NGX_IOTHUB_FEEDBACK_MAX_DELIVERIES  10
#define NGX_IOTHUB_FEEDBACK_TTL             3600       /* s */
#define NGX_IOTHUB_FEEDBACK_LOCK_LEN        32         /* hex digits */


typedef enum {
    NGX_IOTHUB_FEEDBACK_OK = 0,          /* receive: body, count, lock */
    NGX_IOTHUB_FEEDBACK_EMPTY,           /* receive: none due */
    NGX_IOTHUB_FEEDBACK_LOCK_LOST,       /* settle: unknown or expired */
    NGX_IOTHUB_FEEDBACK_UNAVAILABLE,     /* Redis is down */
    NGX_IOTHUB_FEEDBACK_FAILED
} ngx_iothub_feedback_result_e;


typedef struct ngx_iothub_feedback_op_s  ngx_iothub_feedback_op_t;

typedef void (*ngx_iothub_feedback_handler_pt)(ngx_iothub_feedback_op_t *op);


/*
 * Owned by the caller, who zeroes it, sets hub, log, pool (for the body),
 * handler and data, and for a settlement the lock.  The handler runs
 * once and may free op.
 */
struct ngx_iothub_feedback_op_s {
    ngx_iothub_hub_t               *hub;
    ngx_log_t                      *log;
    ngx_pool_t                     *pool;
    ngx_iothub_feedback_handler_pt  handler;
    void                           *data;

    ngx_str_t                       lock;     /* receive: out; settle: in */
    ngx_str_t                       body;     /* JSON array, from pool */
    ngx_uint_t                      count;    /* records */
    ngx_iothub_feedback_result_e    result;

    ngx_iothub_redis_call_t        *call;
    u_char                          lock_text[NGX_IOTHUB_FEEDBACK_LOCK_LEN];
};


/* NGX_OK: started; NGX_DECLINED: Redis is down; NGX_ERROR */
ngx_int_t ngx_iothub_feedback_receive(ngx_iothub_feedback_op_t *op);

/* complete 1: remove the batch; 0: abandon it (due again at once) */
ngx_int_t ngx_iothub_feedback_settle(ngx_iothub_feedback_op_t *op,
    ngx_uint_t complete);

/* The handler will not run; safe when nothing is pending. */
void ngx_iothub_feedback_cancel(ngx_iothub_feedback_op_t *op);


#endif /* _NGX_IOTHUB_FEEDBACK_H_INCLUDED_ */
