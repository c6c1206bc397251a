
/*
 * nginx-iothub: the jobs v2 store, what the REST API asks of Redis; see
 * ngx_iothub_job.h.  Each operation is one Lua script or command.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_job.h"
#include "ngx_iothub_reply.h"
#include "ngx_iothub_lua.h"


/* the fields job_create.lua writes, with the keys and its 4 arguments */
#define NGX_IOTHUB_JOB_CREATE_ARGS  (3 + 4 + 2 * 14)


static ngx_int_t ngx_iothub_job_keys(ngx_iothub_job_op_t *op,
    ngx_str_t *job, ngx_str_t *all, ngx_str_t *run);
static void ngx_iothub_job_record_done(void *data, redisReply *reply);
static void ngx_iothub_job_listed(void *data, redisReply *reply);
static ngx_iothub_job_result_e ngx_iothub_job_result(
    ngx_iothub_reply_rc_e rc);
static ngx_int_t ngx_iothub_job_started(ngx_iothub_job_op_t *op);


/* "<prefix>job:<id>", "<prefix>jobs" and "<prefix>jobs:run" */

static ngx_int_t
ngx_iothub_job_keys(ngx_iothub_job_op_t *op, ngx_str_t *job, ngx_str_t *all,
    ngx_str_t *run)
{
    if ((job != NULL
         && ngx_iothub_key(op->pool, job, op->hub, NULL, "job:", &op->job_id)
            != NGX_OK)
        || (all != NULL
            && ngx_iothub_key(op->pool, all, op->hub, NULL, "jobs", NULL)
               != NGX_OK)
        || (run != NULL
            && ngx_iothub_key(op->pool, run, op->hub, NULL, "jobs:run", NULL)
               != NGX_OK))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_iothub_job_create(ngx_iothub_job_op_t *op)
{
    int                        n;
    char                       created[32], start[32];
    size_t                     lens[NGX_IOTHUB_JOB_CREATE_ARGS];
    u_char                    *nums, *p;
    ngx_str_t                  job, all, run;
    long long                  now, start_ms;
    const char                *argv[NGX_IOTHUB_JOB_CREATE_ARGS];
    ngx_time_t                *tp;
    ngx_iothub_job_request_t  *req;

    req = op->request;

    if (ngx_iothub_job_keys(op, &job, &all, &run) != NGX_OK) {
        return NGX_ERROR;
    }

    nums = ngx_pnalloc(op->pool, 8 * NGX_INT64_LEN);
    if (nums == NULL) {
        return NGX_ERROR;
    }

    tp = ngx_timeofday();
    now = (long long) tp->sec * 1000 + tp->msec;
    start_ms = (req->start_ms < 0) ? now : req->start_ms;

    ngx_iothub_job_format_time(now, created);
    ngx_iothub_job_format_time(start_ms, start);

    n = 0;

#define NGX_IOTHUB_JOB_ARG(s, l)  argv[n] = (const char *) (s); lens[n++] = l
#define NGX_IOTHUB_JOB_STR(s)     NGX_IOTHUB_JOB_ARG(s, ngx_strlen(s))
#define NGX_IOTHUB_JOB_NUM(v)                                                 \
    p = ngx_sprintf(nums, "%L", (int64_t) (v));                               \
    NGX_IOTHUB_JOB_ARG(nums, p - nums);                                       \
    nums = p

    NGX_IOTHUB_JOB_ARG(job.data, job.len);
    NGX_IOTHUB_JOB_ARG(all.data, all.len);
    NGX_IOTHUB_JOB_ARG(run.data, run.len);
    NGX_IOTHUB_JOB_ARG(op->job_id.data, op->job_id.len);
    NGX_IOTHUB_JOB_NUM(op->hub->job_max_concurrent);
    NGX_IOTHUB_JOB_NUM(now);
    NGX_IOTHUB_JOB_NUM(start_ms);

    NGX_IOTHUB_JOB_STR("jobId");
    NGX_IOTHUB_JOB_ARG(op->job_id.data, op->job_id.len);
    NGX_IOTHUB_JOB_STR("type");
    NGX_IOTHUB_JOB_STR(ngx_iothub_job_type_name(req->type));
    NGX_IOTHUB_JOB_STR("queryCondition");
    NGX_IOTHUB_JOB_STR(req->condition);
    NGX_IOTHUB_JOB_STR("spec");
    NGX_IOTHUB_JOB_STR(req->spec);
    NGX_IOTHUB_JOB_STR("status");
    NGX_IOTHUB_JOB_STR("queued");
    NGX_IOTHUB_JOB_STR("createdTime");
    NGX_IOTHUB_JOB_STR(created);
    NGX_IOTHUB_JOB_STR("startTime");
    NGX_IOTHUB_JOB_STR(start);
    NGX_IOTHUB_JOB_STR("maxExecutionTimeInSeconds");
    NGX_IOTHUB_JOB_NUM(req->max_execution);
    NGX_IOTHUB_JOB_STR("startMs");
    NGX_IOTHUB_JOB_NUM(start_ms);
    NGX_IOTHUB_JOB_STR("deadlineMs");
    NGX_IOTHUB_JOB_NUM(start_ms + req->max_execution * 1000);
    NGX_IOTHUB_JOB_STR("deviceCount");
    NGX_IOTHUB_JOB_STR("0");
    NGX_IOTHUB_JOB_STR("failedCount");
    NGX_IOTHUB_JOB_STR("0");
    NGX_IOTHUB_JOB_STR("succeededCount");
    NGX_IOTHUB_JOB_STR("0");
    NGX_IOTHUB_JOB_STR("cursor");
    NGX_IOTHUB_JOB_STR("");

#undef NGX_IOTHUB_JOB_NUM
#undef NGX_IOTHUB_JOB_STR
#undef NGX_IOTHUB_JOB_ARG

    op->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                       NGX_IOTHUB_LUA_JOB_CREATE,
                                       ngx_iothub_job_record_done, op, 3, n,
                                       argv, lens);

    return ngx_iothub_job_started(op);
}


ngx_int_t
ngx_iothub_job_get(ngx_iothub_job_op_t *op)
{
    size_t       lens[2];
    ngx_str_t    job;
    const char  *argv[2];

    if (ngx_iothub_job_keys(op, &job, NULL, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    argv[0] = "HGETALL";
    argv[1] = (const char *) job.data;
    lens[0] = 7;
    lens[1] = job.len;

    op->call = ngx_iothub_redis_command(ngx_iothub_redis_link(),
                                        ngx_iothub_job_record_done, op, 2,
                                        argv, lens);

    return ngx_iothub_job_started(op);
}


ngx_int_t
ngx_iothub_job_cancel(ngx_iothub_job_op_t *op)
{
    char         now[32];
    u_char      *p, now_ms[NGX_INT64_LEN];
    size_t       lens[6];
    ngx_str_t    job, run, ended;
    long long    ms;
    ngx_time_t  *tp;
    const char  *argv[6];

    if (ngx_iothub_job_keys(op, &job, NULL, &run) != NGX_OK
        || ngx_iothub_key(op->pool, &ended, op->hub, NULL, "jobs:ended",
                          NULL)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    tp = ngx_timeofday();
    ms = (long long) tp->sec * 1000 + tp->msec;
    ngx_iothub_job_format_time(ms, now);
    p = ngx_sprintf(now_ms, "%L", (int64_t) ms);

    argv[0] = (const char *) job.data;
    argv[1] = (const char *) run.data;
    argv[2] = (const char *) ended.data;
    argv[3] = (const char *) op->job_id.data;
    argv[4] = now;
    argv[5] = (const char *) now_ms;
    lens[0] = job.len;
    lens[1] = run.len;
    lens[2] = ended.len;
    lens[3] = op->job_id.len;
    lens[4] = ngx_strlen(now);
    lens[5] = p - now_ms;

    op->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                       NGX_IOTHUB_LUA_JOB_CANCEL,
                                       ngx_iothub_job_record_done, op, 3, 6,
                                       argv, lens);

    return ngx_iothub_job_started(op);
}


ngx_int_t
ngx_iothub_job_list(ngx_iothub_job_op_t *op)
{
    u_char      *nums, *p, *q;
    size_t       lens[6];
    ngx_str_t    all;
    const char  *argv[6];

    if (ngx_iothub_job_keys(op, NULL, &all, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    nums = ngx_pnalloc(op->pool, 2 * NGX_INT_T_LEN);
    if (nums == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(nums, "%ui", op->offset);
    q = ngx_sprintf(p, "%ui", op->count);

    argv[0] = (const char *) all.data;
    argv[1] = (const char *) op->hub->prefix.data;
    argv[2] = (const char *) nums;
    argv[3] = (const char *) p;
    argv[4] = (const char *) op->type.data;
    argv[5] = (const char *) op->status.data;
    lens[0] = all.len;
    lens[1] = op->hub->prefix.len;
    lens[2] = p - nums;
    lens[3] = q - p;
    lens[4] = op->type.len;
    lens[5] = op->status.len;

    op->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                       NGX_IOTHUB_LUA_JOB_LIST,
                                       ngx_iothub_job_listed, op, 1, 6,
                                       argv, lens);

    return ngx_iothub_job_started(op);
}


ngx_int_t
ngx_iothub_job_list_record(ngx_iothub_job_op_t *op, size_t i,
    ngx_iothub_job_record_t *rec)
{
    return (ngx_iothub_job_reply_list_record(op->reply, i, rec)
            == NGX_IOTHUB_REPLY_OK)
           ? NGX_OK : NGX_ERROR;
}


void
ngx_iothub_job_op_cancel(ngx_iothub_job_op_t *op)
{
    if (op->call) {
        ngx_iothub_redis_cancel(op->call);
        op->call = NULL;
    }
}


static ngx_int_t
ngx_iothub_job_started(ngx_iothub_job_op_t *op)
{
    if (op->call == NULL) {
        return ngx_iothub_redis_ready(ngx_iothub_redis_link()) == NGX_OK
               ? NGX_ERROR : NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_iothub_job_record_done(void *data, redisReply *reply)
{
    ngx_iothub_job_op_t *op = data;

    ngx_iothub_reply_rc_e  rc;

    op->call = NULL;

    rc = ngx_iothub_job_reply_record(reply, &op->record);
    op->result = ngx_iothub_job_result(rc);

    if (op->result == NGX_IOTHUB_JOB_FAILED) {
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "iothub job \"%V\": unexpected Redis reply (%d)",
                      &op->job_id, (int) rc);
    }

    op->handler(op);
}


static void
ngx_iothub_job_listed(void *data, redisReply *reply)
{
    ngx_iothub_job_op_t *op = data;

    ngx_iothub_reply_rc_e  rc;

    op->call = NULL;
    op->reply = reply;

    rc = ngx_iothub_job_reply_list(reply, &op->next, &op->n);
    op->result = ngx_iothub_job_result(rc);

    op->handler(op);
}


static ngx_iothub_job_result_e
ngx_iothub_job_result(ngx_iothub_reply_rc_e rc)
{
    switch (rc) {

    case NGX_IOTHUB_REPLY_OK:
        return NGX_IOTHUB_JOB_DONE;

    case NGX_IOTHUB_REPLY_NIL:
    case NGX_IOTHUB_REPLY_NOT_FOUND:
        return NGX_IOTHUB_JOB_NOT_FOUND;

    case NGX_IOTHUB_REPLY_EXISTS:
        return NGX_IOTHUB_JOB_EXISTS;

    case NGX_IOTHUB_REPLY_FULL:
        return NGX_IOTHUB_JOB_QUOTA;

    case NGX_IOTHUB_REPLY_LOST:
        return NGX_IOTHUB_JOB_UNAVAILABLE;

    default:
        return NGX_IOTHUB_JOB_FAILED;
    }
}
