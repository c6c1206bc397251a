
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * nginx-iothub: the import/export jobs of the registry (rest.md 11).  A
 * job is a Redis hash (redis-schema.md); one runs at a time, holding a
 * lease key that its runner renews.  The worker that created a job runs
 * it in the background (ngx_iothub_bulkjob_run.c): the identities and
 * their twins go to or come from a blob of the hub's own blob store
 * (iothub_blob_store), after the container URI's SAS is checked as the
 * store checks it.
 */


#ifndef _NGX_IOTHUB_BULKJOB_H_INCLUDED_
#define _NGX_IOTHUB_BULKJOB_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <yajl/yajl_gen.h>

#include "ngx_iothub.h"
#include "ngx_iothub_bulkjob_lines.h"


/* the fields of a job's hash, ngx_iothub_reply_bulkjob_names' order */
typedef enum {
    NGX_IOTHUB_BULKJOB_F_TYPE = 0,
    NGX_IOTHUB_BULKJOB_F_STATUS,
    NGX_IOTHUB_BULKJOB_F_PROGRESS,
    NGX_IOTHUB_BULKJOB_F_START,
    NGX_IOTHUB_BULKJOB_F_END,
    NGX_IOTHUB_BULKJOB_F_INPUT_URI,
    NGX_IOTHUB_BULKJOB_F_OUTPUT_URI,
    NGX_IOTHUB_BULKJOB_F_EXCLUDE_KEYS,
    NGX_IOTHUB_BULKJOB_F_FAILURE,
    NGX_IOTHUB_BULKJOB_F_INPUT_BLOB,
    NGX_IOTHUB_BULKJOB_F_OUTPUT_BLOB,
    NGX_IOTHUB_BULKJOB_F_CHECKPOINT,
    NGX_IOTHUB_BULKJOB_F_COUNT
} ngx_iothub_bulkjob_field_e;


/* jobs kept in Redis; older ones are dropped when one is created */
#define NGX_IOTHUB_BULKJOB_KEPT      100

/* the runner renews the lease at least this often */
/*
 * per event-loop turn: import lines read, or devices exported (whole
 * devices with their modules until at least this many identities)
 */
#define NGX_IOTHUB_BULKJOB_CHUNK     100

/* a job taken over more often fails: it may be what stops its nodes */
#define NGX_IOTHUB_BULKJOB_TAKEOVERS  "3"


typedef struct {
    ngx_str_t                  id;
    ngx_str_t                  value[NGX_IOTHUB_BULKJOB_F_COUNT];
} ngx_iothub_bulkjob_record_t;


typedef enum {
    NGX_IOTHUB_BULKJOB_OK = 0,
    NGX_IOTHUB_BULKJOB_NOT_FOUND,        /* 404002 JobNotFound */
    NGX_IOTHUB_BULKJOB_BUSY,             /* 403003 JobQuotaExceeded */
    NGX_IOTHUB_BULKJOB_UNAVAILABLE,      /* Redis is down */
    NGX_IOTHUB_BULKJOB_FAILED
} ngx_iothub_bulkjob_result_e;


typedef struct ngx_iothub_bulkjob_op_s  ngx_iothub_bulkjob_op_t;

typedef void (*ngx_iothub_bulkjob_handler_pt)(ngx_iothub_bulkjob_op_t *op);


/*
 * Owned by the caller, who zeroes it and sets hub, log, pool, handler
 * and data.  The handler runs once with result and, on OK, the jobs read
 * (copied into pool).
 */
struct ngx_iothub_bulkjob_op_s {
    ngx_iothub_hub_t                *hub;
    ngx_log_t                       *log;
    ngx_pool_t                      *pool;
    ngx_iothub_bulkjob_handler_pt    handler;
    void                            *data;

    ngx_iothub_bulkjob_result_e      result;
    ngx_iothub_bulkjob_record_t     *records;
    ngx_uint_t                       nrecords;

    /* create: the request, kept for the runner, and the runner's token */
    ngx_iothub_bulkjob_request_t    *request;
    u_char                           runner[37];
    ngx_iothub_redis_call_t         *call;
};


/*
 * Creates a job of req (read with ngx_iothub_bulkjob_request_parse())
 * and, once Redis stored it, starts its runner in this worker.  Each
 * returns NGX_OK (started), NGX_DECLINED (Redis is down) or NGX_ERROR.
 */
ngx_int_t ngx_iothub_bulkjob_create(ngx_iothub_bulkjob_op_t *op,
    ngx_iothub_bulkjob_request_t *req);

/* one job, or every job (id NULL), newest first */
ngx_int_t ngx_iothub_bulkjob_get(ngx_iothub_bulkjob_op_t *op, ngx_str_t *id);

ngx_int_t ngx_iothub_bulkjob_cancel(ngx_iothub_bulkjob_op_t *op,
    ngx_str_t *id);

/* The handler will not run; safe when nothing is pending. */
void ngx_iothub_bulkjob_op_cancel(ngx_iothub_bulkjob_op_t *op);

/* A job's JSON (rest.md 11's job properties) into g. */
int ngx_iothub_bulkjob_gen(yajl_gen g, ngx_iothub_bulkjob_record_t *rec);

/*
 * ngx_iothub_bulkjob_run.c: runs job id of req in the background, in
 * this worker; it copies what it needs.  NGX_ERROR when it could not
 * start (the lease then lapses and the job reads as failed).
 */
/*
 * Takes over the hub's job whose runner stopped, if there is one
 * (bulkjob_claim.lua): op->nrecords is then 1, the record holding the
 * request and its checkpoint, and op->runner the new runner's token.
 */
ngx_int_t ngx_iothub_bulkjob_claim(ngx_iothub_bulkjob_op_t *op);

/*
 * The lease of a running job, as "<ms>" (job_lease): a job whose runner
 * did not renew it for that long is taken over.
 */
u_char *ngx_iothub_bulkjob_lease(u_char *buf);

/* the request of a job from its record: NGX_OK or NGX_ERROR */
ngx_int_t ngx_iothub_bulkjob_record_request(ngx_iothub_bulkjob_record_t *rec,
    ngx_iothub_bulkjob_request_t *req);

/*
 * Runs a job in this worker as runner (its token): from the start, or
 * from checkpoint (the job's field, as ngx_iothub_bulkjob_run() stores
 * it) when it is not empty.
 */
ngx_int_t ngx_iothub_bulkjob_run(ngx_iothub_hub_t *hub, ngx_str_t *id,
    ngx_iothub_bulkjob_request_t *req, u_char *runner,
    ngx_str_t *checkpoint);

/*
 * The worker's poller of jobs to take over: every job_poll_interval, one
 * hub in turn (init_process after the Redis link; exit_process).
 */
void ngx_iothub_bulkjob_poll_start(ngx_iothub_main_conf_t *imcf,
    ngx_log_t *log);
void ngx_iothub_bulkjob_poll_stop(void);

/* the Redis keys of the jobs */
#define NGX_IOTHUB_BULKJOB_KEY_LEASE   "bulkjob:lease"
#define NGX_IOTHUB_BULKJOB_KEY_JOBS    "bulkjobs"
#define NGX_IOTHUB_BULKJOB_KEY_JOB     "bulkjob:"
#define NGX_IOTHUB_BULKJOB_KEY_LEN     (NGX_IOTHUB_ID_MAX + 160)

/*
 * Adds the hub-wide key "<prefix><suffix><id>" (id NULL: none), written
 * into buf of NGX_IOTHUB_BULKJOB_KEY_LEN bytes, to a script's arguments.
 */
void ngx_iothub_bulkjob_key_arg(ngx_iothub_args_t *args, u_char *buf,
    ngx_iothub_hub_t *hub, const char *suffix, ngx_str_t *id);


#endif /* _NGX_IOTHUB_BULKJOB_H_INCLUDED_ */
