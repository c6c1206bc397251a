
/*
 * nginx-iothub: jobs v2 (rest.md 10), protocol-neutral.  A job is state in
 * Redis (redis-schema.md, jobs): the store (ngx_iothub_job.c) schedules,
 * reads, cancels and lists jobs for the REST API; the runner
 * (ngx_iothub_job_runner.c) of any worker of any node takes a due job for
 * a lease and runs it a chunk of devices at a time, with a bounded number
 * of device operations in flight, through the twin and direct-method
 * services.
 */


#ifndef _NGX_IOTHUB_JOB_H_INCLUDED_
#define _NGX_IOTHUB_JOB_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_job_codec.h"


typedef enum {
    NGX_IOTHUB_JOB_DONE = 0,
    NGX_IOTHUB_JOB_NOT_FOUND,            /* 404002 JobNotFound */
    NGX_IOTHUB_JOB_EXISTS,               /* 409104 JobAlreadyExists */
    NGX_IOTHUB_JOB_QUOTA,                /* 403003 JobQuotaExceeded */
    NGX_IOTHUB_JOB_UNAVAILABLE,          /* 503001 */
    NGX_IOTHUB_JOB_FAILED                /* 500001 */
} ngx_iothub_job_result_e;


typedef struct ngx_iothub_job_op_s  ngx_iothub_job_op_t;

typedef void (*ngx_iothub_job_handler_pt)(ngx_iothub_job_op_t *op);


/*
 * Owned by the caller, who zeroes it, sets hub, log, pool, handler, data
 * and the operation's inputs, and calls one of the functions below.  The
 * handler runs once; record (create, get, cancel) and the list's records
 * are valid only while it runs.
 */
struct ngx_iothub_job_op_s {
    ngx_iothub_hub_t               *hub;
    ngx_log_t                      *log;
    ngx_pool_t                     *pool;       /* the keys' memory */
    ngx_iothub_job_handler_pt       handler;
    void                           *data;

    ngx_str_t                       job_id;     /* create, get, cancel */
    ngx_iothub_job_request_t       *request;    /* create */
    ngx_str_t                       type;       /* list filters, or "" */
    ngx_str_t                       status;
    ngx_uint_t                      offset;     /* list paging */
    ngx_uint_t                      count;

    ngx_iothub_job_result_e         result;
    ngx_iothub_job_record_t         record;
    long long                       next;       /* list: 0 when no more */
    size_t                          n;          /* list: records */

    const void                     *reply;
    ngx_iothub_redis_call_t        *call;
};


/* NGX_OK: started; NGX_DECLINED: Redis is down; NGX_ERROR */
ngx_int_t ngx_iothub_job_create(ngx_iothub_job_op_t *op);
ngx_int_t ngx_iothub_job_get(ngx_iothub_job_op_t *op);
ngx_int_t ngx_iothub_job_cancel(ngx_iothub_job_op_t *op);
ngx_int_t ngx_iothub_job_list(ngx_iothub_job_op_t *op);

/* record i (0..n-1) of a list, while the handler runs */
ngx_int_t ngx_iothub_job_list_record(ngx_iothub_job_op_t *op, size_t i,
    ngx_iothub_job_record_t *rec);

/* The handler will not run; safe when nothing is pending. */
void ngx_iothub_job_op_cancel(ngx_iothub_job_op_t *op);


/*
 * The runner: arms the worker's job timer (init_process, after the Redis
 * link and the inbox exist: the inbox names a lease's owner), and stops
 * it, giving up the job it runs (exit_process): the lease then runs out
 * and another worker continues from the progress kept in Redis.
 */
void ngx_iothub_job_runner_start(ngx_iothub_main_conf_t *imcf,
    ngx_log_t *log);
void ngx_iothub_job_runner_stop(void);


#endif /* _NGX_IOTHUB_JOB_H_INCLUDED_ */
