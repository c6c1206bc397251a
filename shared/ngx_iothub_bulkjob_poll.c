
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * nginx-iothub: the takeover of import/export jobs whose runner stopped.
 * A job runs in the worker that created it and renews the hub's lease
 * with every step; when that worker or its node dies (or loses Redis for
 * longer than the lease), the lease lapses with the job still enqueued
 * or running.  Every job_poll_interval each worker asks one hub in turn
 * (bulkjob_claim.lua, one EXISTS when a lease is held) whether its newest
 * job is such a job; the one that gets it runs it from its checkpoint
 * (ngx_iothub_bulkjob_run()).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_iothub.h"
#include "ngx_iothub_bulkjob.h"


typedef struct {
    ngx_event_t                  timer;
    ngx_msec_t                   interval;
    ngx_array_t                 *hubs;         /* ngx_iothub_hub_t * */
    ngx_uint_t                   next_hub;
    ngx_pool_t                  *pool;         /* the claim's */
    ngx_iothub_bulkjob_op_t      op;
    unsigned                     pending:1;
} ngx_iothub_bulkjob_poll_t;


static void ngx_iothub_bulkjob_poll(ngx_event_t *ev);
static void ngx_iothub_bulkjob_claimed(ngx_iothub_bulkjob_op_t *op);
static void ngx_iothub_bulkjob_take(ngx_iothub_bulkjob_op_t *op);
static void ngx_iothub_bulkjob_poll_done(ngx_iothub_bulkjob_poll_t *bp);


static ngx_iothub_bulkjob_poll_t  ngx_iothub_bulkjob_poller;


void
ngx_iothub_bulkjob_poll_start(ngx_iothub_main_conf_t *imcf, ngx_log_t *log)
{
    ngx_iothub_bulkjob_poll_t  *bp;

    bp = &ngx_iothub_bulkjob_poller;
    ngx_memzero(bp, sizeof(ngx_iothub_bulkjob_poll_t));

    bp->interval = imcf->job_poll_interval;
    bp->hubs = &imcf->hubs;

    bp->timer.handler = ngx_iothub_bulkjob_poll;
    bp->timer.data = bp;
    bp->timer.log = log;
    bp->timer.cancelable = 1;

    ngx_add_timer(&bp->timer, bp->interval / 2 + ngx_random() % bp->interval);
}


void
ngx_iothub_bulkjob_poll_stop(void)
{
    ngx_iothub_bulkjob_poll_t  *bp;

    bp = &ngx_iothub_bulkjob_poller;

    if (bp->timer.timer_set) {
        ngx_del_timer(&bp->timer);
    }

    if (bp->pending) {
        ngx_iothub_bulkjob_op_cancel(&bp->op);
        ngx_iothub_bulkjob_poll_done(bp);
    }
}


static void
ngx_iothub_bulkjob_poll(ngx_event_t *ev)
{
    ngx_iothub_bulkjob_poll_t *bp = ev->data;

    ngx_iothub_hub_t  *hub;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_add_timer(&bp->timer, bp->interval);

    if (bp->pending || bp->hubs->nelts == 0) {
        return;
    }

    hub = ((ngx_iothub_hub_t **) bp->hubs->elts)
              [bp->next_hub++ % bp->hubs->nelts];

    bp->pool = ngx_create_pool(4096, ev->log);
    if (bp->pool == NULL) {
        return;
    }

    ngx_memzero(&bp->op, sizeof(ngx_iothub_bulkjob_op_t));
    bp->op.hub = hub;
    bp->op.log = ev->log;
    bp->op.pool = bp->pool;
    bp->op.handler = ngx_iothub_bulkjob_claimed;
    bp->op.data = bp;

    if (ngx_iothub_bulkjob_claim(&bp->op) != NGX_OK) {
        /* Redis is down: the next interval asks again */
        ngx_iothub_bulkjob_poll_done(bp);
        return;
    }

    bp->pending = 1;
}


static void
ngx_iothub_bulkjob_claimed(ngx_iothub_bulkjob_op_t *op)
{
    ngx_iothub_bulkjob_poll_t *bp = op->data;

    if (op->result == NGX_IOTHUB_BULKJOB_OK && op->nrecords == 1) {
        ngx_iothub_bulkjob_take(op);

    } else if (op->result == NGX_IOTHUB_BULKJOB_FAILED) {
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "iothub: the takeover of a job failed");
    }

    ngx_iothub_bulkjob_poll_done(bp);
}


/*
 * This worker now holds the job's lease: it runs the job, or fails it
 * when its request cannot be read (the lease then ends with it).
 */

static void
ngx_iothub_bulkjob_take(ngx_iothub_bulkjob_op_t *op)
{
    ngx_str_t                      *checkpoint, none;
    ngx_iothub_bulkjob_record_t    *rec;
    ngx_iothub_bulkjob_request_t    req;

    rec = &op->records[0];
    checkpoint = &rec->value[NGX_IOTHUB_BULKJOB_F_CHECKPOINT];

    ngx_log_error(NGX_LOG_NOTICE, op->log, 0,
                  "iothub: hub \"%V\": taking over job \"%V\" from \"%V\"",
                  &op->hub->name, &rec->id, checkpoint);

    if (ngx_iothub_bulkjob_record_request(rec, &req) != NGX_OK) {
        /* a stored request that does not fit: the run fails at once */
        ngx_memzero(&req, sizeof(ngx_iothub_bulkjob_request_t));
        ngx_str_set(&none, "-");
        checkpoint = &none;
    }

    if (ngx_iothub_bulkjob_run(op->hub, &rec->id, &req, op->runner,
                               checkpoint)
        != NGX_OK)
    {
        /* out of memory: the lease lapses, the job is taken again */
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "iothub: could not take over the job \"%V\"",
                      &rec->id);
    }
}


static void
ngx_iothub_bulkjob_poll_done(ngx_iothub_bulkjob_poll_t *bp)
{
    bp->pending = 0;

    if (bp->pool) {
        ngx_destroy_pool(bp->pool);
        bp->pool = NULL;
    }
}
