
/*
 * nginx-iothub: service-bound streams, the hub's queues for back ends
 * that Redis streams hold: cloud-to-device feedback (messaging.md 3.5)
 * and file-upload notifications (messaging.md 4).  One service, one
 * instance per queue (ngx_iothub_sbstream_feedback,
 * ngx_iothub_sbstream_filenotifications): records are read in locked
 * batches of at most the instance's batch size, as a JSON array (or, with
 * a batch of one, the record itself), then completed (removed) or
 * abandoned (due again).  A record delivered more than the instance's
 * max_deliveries times or older than its ttl leaves the queue.  Served
 * over REST (GET /messages/serviceBound/feedback) and AMQP
 * (/messages/serviceBound/feedback, .../filenotifications).
 */


#ifndef _NGX_IOTHUB_SBSTREAM_H_INCLUDED_
#define _NGX_IOTHUB_SBSTREAM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_reply.h"


#define NGX_IOTHUB_SBSTREAM_LOCK_LEN        32         /* hex digits */


/* one queue: its Redis key, its record's fields and its semantics */
typedef struct {
    const char                         *key;       /* "<prefix><key>" */
    const char                         *name;      /* for logs */
    const char                         *content_type;
    const ngx_iothub_reply_field_name_t *fields;
    ngx_uint_t                          nfields;
    ngx_uint_t                          batch;     /* 1: no array */
    ngx_msec_t                          lock;
    ngx_uint_t                          max_deliveries;
    time_t                              ttl;
} ngx_iothub_sbstream_t;


extern const ngx_iothub_sbstream_t  ngx_iothub_sbstream_feedback;
extern const ngx_iothub_sbstream_t  ngx_iothub_sbstream_filenotifications;


typedef enum {
    NGX_IOTHUB_SBSTREAM_OK = 0,          /* receive: body, count, lock */
    NGX_IOTHUB_SBSTREAM_EMPTY,           /* receive: none due */
    NGX_IOTHUB_SBSTREAM_LOCK_LOST,       /* settle: unknown or expired */
    NGX_IOTHUB_SBSTREAM_UNAVAILABLE,     /* Redis is down */
    NGX_IOTHUB_SBSTREAM_FAILED
} ngx_iothub_sbstream_result_e;


typedef struct ngx_iothub_sbstream_op_s  ngx_iothub_sbstream_op_t;

typedef void (*ngx_iothub_sbstream_handler_pt)(ngx_iothub_sbstream_op_t *op);


/*
 * Owned by the caller, who zeroes it, sets stream, hub, log, pool (for
 * the body), handler and data, and for a settlement the lock.  The
 * handler runs once and may free op.
 */
struct ngx_iothub_sbstream_op_s {
    const ngx_iothub_sbstream_t    *stream;
    ngx_iothub_hub_t               *hub;
    ngx_log_t                      *log;
    ngx_pool_t                     *pool;
    ngx_iothub_sbstream_handler_pt  handler;
    void                           *data;

    ngx_str_t                       lock;     /* receive: out; settle: in */
    ngx_str_t                       body;     /* JSON, from pool */
    ngx_uint_t                      count;    /* records */
    ngx_iothub_sbstream_result_e    result;

    ngx_iothub_redis_call_t        *call;
    u_char                          lock_text[NGX_IOTHUB_SBSTREAM_LOCK_LEN];
};


/* NGX_OK: started; NGX_DECLINED: Redis is down; NGX_ERROR */
ngx_int_t ngx_iothub_sbstream_receive(ngx_iothub_sbstream_op_t *op);

/* complete 1: remove the batch; 0: abandon it (due again at once) */
ngx_int_t ngx_iothub_sbstream_settle(ngx_iothub_sbstream_op_t *op,
    ngx_uint_t complete);

/* The handler will not run; safe when nothing is pending. */
void ngx_iothub_sbstream_cancel(ngx_iothub_sbstream_op_t *op);


#endif /* _NGX_IOTHUB_SBSTREAM_H_INCLUDED_ */
