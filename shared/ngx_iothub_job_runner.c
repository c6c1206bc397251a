
/*
 * nginx-iothub: the jobs v2 runner; see ngx_iothub_job.h.
 *
 * Every job_poll_interval a worker that runs no job tries to claim one
 * (job_claim.lua: the first of the hub's run set whose score, its start
 * time or the end of its last lease, has passed).  A claimed job runs in
 * chunks of devices after its cursor, in id order:
 *
 *   claim --> chunk of ids --> device tasks, at most job_max_in_flight
 *   at once --> each task's record (job_device_done.lua) --> all done:
 *   cursor := the chunk's last id (job_progress.lua) --> next chunk ...
 *   --> no ids left: job_finish.lua (completed)
 *
 * Before its first chunk a job notes how many devices its condition
 * selects (its deviceCount, job_count.lua), counted through the same
 * query service in runs of at most 10000 twins.
 *
 * The devices come from the condition itself when it names them
 * ("deviceId IN [...]"), else from the query service, which walks the
 * hub's twins (or a tag index) and evaluates the condition; a chunk ends
 * after 100 matching devices or 1000 examined.  A task patches the twin
 * or calls the method through the same services as the REST API.  Every
 * record and every tick renews the lease; a LOCK_LOST answer (the job was
 * cancelled, or the lease ran out and another node took it) or Redis going
 * down ends the run here.  A chunk cut short is run again by whoever
 * takes the job next: devices that have a record are not recorded twice,
 * but their operation may have run twice (at least once, as IoT Hub's own
 * jobs).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_iothub.h"
#include "ngx_iothub_job.h"
#include "ngx_iothub_log.h"
#include "ngx_iothub_lua.h"
#include "ngx_iothub_method.h"
#include "ngx_iothub_query.h"
#include "ngx_iothub_query_service.h"
#include "ngx_iothub_reply.h"
#include "ngx_iothub_twin_service.h"


/* devices per chunk, and twins a chunk examines at most */
#define NGX_IOTHUB_JOB_CHUNK      100
#define NGX_IOTHUB_JOB_EXAMINE    1000

/* twins the count examines per query run, between deadline checks */
#define NGX_IOTHUB_JOB_COUNT_EXAMINE  10000

#define NGX_IOTHUB_JOB_ID_MAX     128

/* a hub-wide key: a hub name is at most 128 bytes */
#define NGX_IOTHUB_JOB_KEY_LEN    256


typedef struct ngx_iothub_job_runner_s  ngx_iothub_job_runner_t;


typedef enum {
    NGX_IOTHUB_JOB_TASK_FREE = 0,
    NGX_IOTHUB_JOB_TASK_TWIN,
    NGX_IOTHUB_JOB_TASK_METHOD,
    NGX_IOTHUB_JOB_TASK_RECORD
} ngx_iothub_job_task_state_e;


typedef struct {
    ngx_iothub_job_runner_t       *runner;
    ngx_iothub_job_task_state_e    state;
    u_char                         device_id[NGX_IOTHUB_JOB_ID_MAX + 1];
    size_t                         len;
    char                           start[32];
    ngx_iothub_twin_op_t           twin;
    ngx_iothub_method_op_t         method;
    ngx_iothub_redis_call_t       *call;
} ngx_iothub_job_task_t;


struct ngx_iothub_job_runner_s {
    ngx_event_t                    timer;
    ngx_msec_t                     interval;
    ngx_msec_t                     lease;
    ngx_str_t                      owner;
    ngx_array_t                   *hubs;         /* ngx_iothub_hub_t * */
    ngx_uint_t                     next_hub;
    ngx_iothub_redis_call_t       *call;         /* claim, chunk, finish */
    ngx_iothub_redis_call_t       *renew;

    /* the job being run */
    unsigned                       running:1;
    ngx_pool_t                    *pool;
    ngx_iothub_hub_t              *hub;
    ngx_str_t                      job_id;
    ngx_str_t                      job_key;
    ngx_str_t                      run_key;
    ngx_str_t                      ended_key;    /* finished jobs */
    ngx_str_t                      devices_key;  /* the job's devices */
    ngx_str_t                      registry_key; /* the hub's devices */
    ngx_iothub_job_type_e          type;
    ngx_str_t                      spec;
    ngx_iothub_job_method_t        method;
    ngx_iothub_query_t            *query;        /* NULL: ids */
    ngx_iothub_query_run_t         walk;         /* the query's chunk */
    char                         **ids;
    size_t                         nids;
    char                           created[32];
    long long                      deadline;     /* ms */
    unsigned                       counted:1;    /* deviceCount noted */
    long long                      count;        /* devices counted */
    u_char                         cursor[NGX_IOTHUB_JOB_ID_MAX + 1];
    size_t                         cursor_len;

    /* the chunk, and where the next one starts */
    u_char                         next_cursor[NGX_IOTHUB_JOB_ID_MAX + 1];
    size_t                         next_cursor_len;
    unsigned                       walked:1;     /* no devices after it */
    u_char                         chunk[NGX_IOTHUB_JOB_CHUNK]
                                        [NGX_IOTHUB_JOB_ID_MAX + 1];
    size_t                         chunk_len[NGX_IOTHUB_JOB_CHUNK];
    size_t                         nchunk;
    size_t                         next;
    size_t                         done;
    ngx_iothub_job_task_t         *tasks;
    ngx_uint_t                     ntasks;
    ngx_uint_t                     in_flight;
};


static void ngx_iothub_job_tick(ngx_event_t *ev);
static void ngx_iothub_job_claim(ngx_iothub_job_runner_t *jr);
static void ngx_iothub_job_claimed(void *data, redisReply *reply);
static ngx_int_t ngx_iothub_job_load(ngx_iothub_job_runner_t *jr,
    ngx_iothub_hub_t *hub, ngx_iothub_job_record_t *rec);
static ngx_int_t ngx_iothub_job_copy(ngx_iothub_job_runner_t *jr,
    ngx_str_t *dst, ngx_iothub_reply_str_t *src);
static ngx_int_t ngx_iothub_job_load_condition(ngx_iothub_job_runner_t *jr,
    ngx_iothub_reply_str_t *cond);
static ngx_int_t ngx_iothub_job_key(ngx_iothub_job_runner_t *jr,
    ngx_str_t *key, const char *suffix, ngx_str_t *id, const char *tail);
static void ngx_iothub_job_count_start(ngx_iothub_job_runner_t *jr);
static ngx_int_t ngx_iothub_job_count_row(ngx_iothub_query_run_t *run,
    yajl_val doc, ngx_str_t *device_id, ngx_str_t *module_id);
static void ngx_iothub_job_counted(ngx_iothub_query_run_t *run);
static void ngx_iothub_job_count_store(ngx_iothub_job_runner_t *jr);
static void ngx_iothub_job_count_stored(void *data, redisReply *reply);
static ngx_int_t ngx_iothub_job_continues(ngx_iothub_job_runner_t *jr);
static void ngx_iothub_job_walk(ngx_iothub_job_runner_t *jr,
    ngx_iothub_query_row_pt row, ngx_iothub_query_done_pt done,
    ngx_uint_t budget, const u_char *after);
static void ngx_iothub_job_next_chunk(ngx_iothub_job_runner_t *jr);
static void ngx_iothub_job_next_ids(ngx_iothub_job_runner_t *jr);
static void ngx_iothub_job_next_rows(ngx_iothub_job_runner_t *jr);
static ngx_int_t ngx_iothub_job_row(ngx_iothub_query_run_t *run,
    yajl_val doc, ngx_str_t *device_id, ngx_str_t *module_id);
static void ngx_iothub_job_rows_done(ngx_iothub_query_run_t *run);
static void ngx_iothub_job_chunk_add(ngx_iothub_job_runner_t *jr,
    const u_char *id, size_t len);
static void ngx_iothub_job_launch(ngx_iothub_job_runner_t *jr);
static void ngx_iothub_job_task_start(ngx_iothub_job_task_t *t);
static void ngx_iothub_job_task_execute(ngx_iothub_job_task_t *t);
static void ngx_iothub_job_task_twin(ngx_iothub_twin_op_t *op);
static void ngx_iothub_job_task_method(ngx_iothub_method_op_t *op);
static void ngx_iothub_job_task_record(ngx_iothub_job_task_t *t,
    ngx_iothub_job_device_t *d);
static void ngx_iothub_job_task_recorded(void *data, redisReply *reply);
static void ngx_iothub_job_task_end(ngx_iothub_job_task_t *t);
static void ngx_iothub_job_task_cancel(ngx_iothub_job_task_t *t);
static void ngx_iothub_job_progress(ngx_iothub_job_runner_t *jr,
    ngx_str_t *cursor, ngx_msec_t lease, ngx_iothub_redis_handler_pt handler,
    ngx_iothub_redis_call_t **call);
static void ngx_iothub_job_advanced(void *data, redisReply *reply);
static void ngx_iothub_job_renewed(void *data, redisReply *reply);
static void ngx_iothub_job_finish(ngx_iothub_job_runner_t *jr,
    const char *status, const char *reason);
static void ngx_iothub_job_finished(void *data, redisReply *reply);
static void ngx_iothub_job_release(ngx_iothub_job_runner_t *jr);
static void ngx_iothub_job_end(ngx_iothub_job_runner_t *jr,
    const char *why);
static long long ngx_iothub_job_now(void);
static ngx_int_t ngx_iothub_job_going(void);


static ngx_iothub_job_runner_t  ngx_iothub_job_runner;


void
ngx_iothub_job_runner_start(ngx_iothub_main_conf_t *imcf, ngx_log_t *log)
{
    ngx_iothub_job_runner_t  *jr;

    jr = &ngx_iothub_job_runner;
    ngx_memzero(jr, sizeof(ngx_iothub_job_runner_t));

    jr->interval = imcf->job_poll_interval;
    jr->lease = imcf->job_lease;
    jr->owner = imcf->inbox;
    jr->hubs = &imcf->hubs;

    jr->timer.handler = ngx_iothub_job_tick;
    jr->timer.data = jr;
    jr->timer.log = log;
    jr->timer.cancelable = 1;

    /* workers start apart, so that they poll Redis at different times */
    ngx_add_timer(&jr->timer, jr->interval / 2 + ngx_random() % jr->interval);
}


void
ngx_iothub_job_runner_stop(void)
{
    ngx_iothub_job_runner_t  *jr;

    jr = &ngx_iothub_job_runner;

    if (jr->timer.timer_set) {
        ngx_del_timer(&jr->timer);
    }

    ngx_iothub_job_end(jr, NULL);
}


static void
ngx_iothub_job_tick(ngx_event_t *ev)
{
    ngx_iothub_job_runner_t *jr = ev->data;

    if (!ngx_iothub_job_going()) {
        ngx_iothub_job_release(jr);
        return;
    }

    if (!jr->running) {
        if (jr->call == NULL) {
            ngx_iothub_job_claim(jr);
        }

    } else if (jr->renew == NULL) {
        ngx_iothub_job_progress(jr, NULL, jr->lease, ngx_iothub_job_renewed,
                                &jr->renew);
    }

    ngx_add_timer(&jr->timer, jr->interval);
}


/* one hub per tick, in turn */

static void
ngx_iothub_job_claim(ngx_iothub_job_runner_t *jr)
{
    u_char             *p, now_ms[NGX_INT64_LEN], lease[NGX_INT64_LEN];
    char                now[32];
    size_t              lens[6];
    u_char              key[NGX_IOTHUB_JOB_KEY_LEN];
    long long           ms;
    const char         *argv[6];
    ngx_iothub_hub_t   *hub;

    if (jr->hubs->nelts == 0) {
        return;
    }

    hub = ((ngx_iothub_hub_t **) jr->hubs->elts)
              [jr->next_hub++ % jr->hubs->nelts];

    ms = ngx_iothub_job_now();
    ngx_iothub_job_format_time(ms, now);

    p = ngx_iothub_key_write(key, key + sizeof(key), hub, NULL, "jobs:run",
                             NULL);
    argv[0] = (const char *) key;
    lens[0] = p - key;

    argv[1] = (const char *) hub->prefix.data;
    lens[1] = hub->prefix.len;

    p = ngx_sprintf(now_ms, "%L", (int64_t) ms);
    argv[2] = (const char *) now_ms;
    lens[2] = p - now_ms;

    p = ngx_sprintf(lease, "%M", jr->lease);
    argv[3] = (const char *) lease;
    lens[3] = p - lease;

    argv[4] = (const char *) jr->owner.data;
    lens[4] = jr->owner.len;
    argv[5] = now;
    lens[5] = ngx_strlen(now);

    jr->hub = hub;
    jr->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                       NGX_IOTHUB_LUA_JOB_CLAIM,
                                       ngx_iothub_job_claimed, jr, 1, 6,
                                       argv, lens);
}


static void
ngx_iothub_job_claimed(void *data, redisReply *reply)
{
    ngx_iothub_job_runner_t *jr = data;

    ngx_iothub_reply_rc_e    rc;
    ngx_iothub_job_record_t  rec;

    jr->call = NULL;

    rc = ngx_iothub_job_reply_record(reply, &rec);

    if (rc == NGX_IOTHUB_REPLY_NIL || rc == NGX_IOTHUB_REPLY_LOST) {
        return;
    }

    if (rc != NGX_IOTHUB_REPLY_OK) {
        ngx_log_error(NGX_LOG_ERR, jr->timer.log, 0,
                      "iothub job: unexpected claim reply (%d)", (int) rc);
        return;
    }

    jr->running = 1;
    jr->timer.cancelable = 0;

    if (ngx_iothub_job_load(jr, jr->hub, &rec) != NGX_OK) {
        if (jr->ended_key.data == NULL) {
            /* out of memory: the lease runs out, the job is taken again */
            ngx_iothub_job_end(jr, "out of memory");
            return;
        }

        ngx_iothub_job_finish(jr, "failed", "the job could not be read");
        return;
    }

    ngx_log_error(NGX_LOG_INFO, jr->timer.log, 0,
                  "iothub job \"%V\" of hub \"%V\": running from \"%*s\"",
                  &jr->job_id, &jr->hub->name, jr->cursor_len, jr->cursor);

    if (ngx_iothub_job_now() >= jr->deadline) {
        ngx_iothub_job_finish(jr, "failed",
                              "the job did not end within "
                              "maxExecutionTimeInSeconds");
        return;
    }

    if (!jr->counted) {
        ngx_iothub_job_count_start(jr);
        return;
    }

    ngx_iothub_job_next_chunk(jr);
}


static ngx_int_t
ngx_iothub_job_load(ngx_iothub_job_runner_t *jr, ngx_iothub_hub_t *hub,
    ngx_iothub_job_record_t *rec)
{
    char                     err[128];
    ngx_uint_t               i;
    ngx_iothub_reply_str_t  *v;

    jr->pool = ngx_create_pool(4096, jr->timer.log);
    if (jr->pool == NULL) {
        return NGX_ERROR;
    }

    v = rec->value;

    if (ngx_iothub_job_copy(jr, &jr->job_id, &v[NGX_IOTHUB_JOB_F_JOB_ID])
        != NGX_OK
        || ngx_iothub_job_copy(jr, &jr->spec, &v[NGX_IOTHUB_JOB_F_SPEC])
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_iothub_job_key(jr, &jr->job_key, "job:", &jr->job_id, "")
           != NGX_OK
        || ngx_iothub_job_key(jr, &jr->run_key, "jobs:run", NULL, "")
           != NGX_OK
        || ngx_iothub_job_key(jr, &jr->ended_key, "jobs:ended", NULL, "")
           != NGX_OK
        || ngx_iothub_job_key(jr, &jr->devices_key, "jobdevices:",
                              &jr->job_id, "")
           != NGX_OK
        || ngx_iothub_job_key(jr, &jr->registry_key, "devices", NULL, "")
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    jr->type = (v[NGX_IOTHUB_JOB_F_TYPE].len
                == sizeof("scheduleUpdateTwin") - 1)
               ? NGX_IOTHUB_JOB_TWIN : NGX_IOTHUB_JOB_METHOD;

    if (jr->type == NGX_IOTHUB_JOB_METHOD
        && ngx_iothub_job_method_parse((char *) jr->spec.data, jr->spec.len,
                                       &jr->method, err, sizeof(err))
           != NGX_IOTHUB_JOB_OK)
    {
        return NGX_ERROR;
    }

    ngx_cpystrn((u_char *) jr->created,
                (u_char *) v[NGX_IOTHUB_JOB_F_CREATED].data,
                ngx_min(v[NGX_IOTHUB_JOB_F_CREATED].len + 1,
                        sizeof(jr->created)));

    jr->deadline = ngx_atoof((u_char *) v[NGX_IOTHUB_JOB_F_DEADLINE_MS].data,
                             v[NGX_IOTHUB_JOB_F_DEADLINE_MS].len);
    if (jr->deadline == NGX_ERROR) {
        return NGX_ERROR;
    }

    jr->counted = (v[NGX_IOTHUB_JOB_F_COUNTED].len != 0);

    jr->cursor_len = ngx_min(v[NGX_IOTHUB_JOB_F_CURSOR].len,
                             NGX_IOTHUB_JOB_ID_MAX);
    ngx_memcpy(jr->cursor, v[NGX_IOTHUB_JOB_F_CURSOR].data, jr->cursor_len);
    jr->cursor[jr->cursor_len] = '\0';

    jr->ntasks = hub->job_max_in_flight;
    jr->tasks = ngx_pcalloc(jr->pool,
                            jr->ntasks * sizeof(ngx_iothub_job_task_t));
    if (jr->tasks == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < jr->ntasks; i++) {
        jr->tasks[i].runner = jr;
    }

    return ngx_iothub_job_load_condition(jr, &v[NGX_IOTHUB_JOB_F_CONDITION]);
}


/* a NUL-terminated copy from the job's pool */

static ngx_int_t
ngx_iothub_job_copy(ngx_iothub_job_runner_t *jr, ngx_str_t *dst,
    ngx_iothub_reply_str_t *src)
{
    dst->data = ngx_pnalloc(jr->pool, src->len + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);
    dst->data[src->len] = '\0';
    dst->len = src->len;

    return NGX_OK;
}


/* a condition that names its devices runs on them, any other on all */

static ngx_int_t
ngx_iothub_job_load_condition(ngx_iothub_job_runner_t *jr,
    ngx_iothub_reply_str_t *cond)
{
    char  err[256];

    if (ngx_iothub_job_condition_ids((const char *) cond->data, cond->len,
                                     &jr->ids, &jr->nids))
    {
        return NGX_OK;
    }

    if (ngx_iothub_query_parse_condition((const char *) cond->data,
                                         cond->len, &jr->query, err,
                                         sizeof(err))
        != NGX_IOTHUB_QUERY_OK)
    {
        ngx_log_error(NGX_LOG_ERR, jr->timer.log, 0,
                      "iothub job \"%V\": %s", &jr->job_id, err);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* "<prefix><suffix><id><tail>" from the job's pool */

static ngx_int_t
ngx_iothub_job_key(ngx_iothub_job_runner_t *jr, ngx_str_t *key,
    const char *suffix, ngx_str_t *id, const char *tail)
{
    size_t   size;
    u_char  *p;

    size = jr->hub->prefix.len + ngx_strlen(suffix) + (id ? id->len : 0)
           + ngx_strlen(tail) + 1;

    key->data = ngx_pnalloc(jr->pool, size);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_iothub_key_write(key->data, key->data + size, jr->hub, NULL,
                             suffix, id);
    p = ngx_cpymem(p, tail, ngx_strlen(tail));
    *p = '\0';

    key->len = p - key->data;

    return NGX_OK;
}


/*
 * deviceCount: the devices the condition selects when the job starts
 * running, counted once before its first chunk (a takeover before the
 * count was noted counts again).  A condition that names its devices
 * counts those that exist (job_count.lua); any other walks the twins
 * through the query service, NGX_IOTHUB_JOB_COUNT_EXAMINE at a time.
 */

static void
ngx_iothub_job_count_start(ngx_iothub_job_runner_t *jr)
{
    jr->count = 0;

    if (jr->query == NULL) {
        ngx_iothub_job_count_store(jr);
        return;
    }

    ngx_iothub_job_walk(jr, ngx_iothub_job_count_row, ngx_iothub_job_counted,
                        NGX_IOTHUB_JOB_COUNT_EXAMINE, (u_char *) "");
}


static ngx_int_t
ngx_iothub_job_count_row(ngx_iothub_query_run_t *run, yajl_val doc,
    ngx_str_t *device_id, ngx_str_t *module_id)
{
    ngx_iothub_job_runner_t *jr = run->data;

    jr->count++;

    return NGX_OK;
}


static void
ngx_iothub_job_counted(ngx_iothub_query_run_t *run)
{
    ngx_iothub_job_runner_t *jr = run->data;

    switch (run->result) {

    case NGX_IOTHUB_QUERY_RUN_END:
        ngx_iothub_job_count_store(jr);
        return;

    case NGX_IOTHUB_QUERY_RUN_MORE:
        if (ngx_iothub_job_continues(jr) == NGX_OK) {
            ngx_iothub_job_walk(jr, ngx_iothub_job_count_row,
                                ngx_iothub_job_counted,
                                NGX_IOTHUB_JOB_COUNT_EXAMINE,
                                run->device_id);
        }

        return;

    case NGX_IOTHUB_QUERY_RUN_UNAVAILABLE:
        ngx_iothub_job_end(jr, "Redis is down");
        return;

    default:
        ngx_iothub_job_end(jr, "the devices could not be counted");
    }
}


static void
ngx_iothub_job_count_store(ngx_iothub_job_runner_t *jr)
{
    u_char       *p, *count;
    size_t        i, n, *lens;
    const char  **argv;

    n = 4 + jr->nids;

    argv = ngx_palloc(jr->pool, n * (sizeof(char *) + sizeof(size_t))
                                + NGX_INT64_LEN);
    if (argv == NULL) {
        ngx_iothub_job_end(jr, "out of memory");
        return;
    }

    lens = (size_t *) (argv + n);
    count = (u_char *) (lens + n);
    p = ngx_sprintf(count, "%L", (int64_t) jr->count);

    argv[0] = (const char *) jr->job_key.data;
    argv[1] = (const char *) jr->registry_key.data;
    argv[2] = (const char *) jr->owner.data;
    argv[3] = (const char *) count;
    lens[0] = jr->job_key.len;
    lens[1] = jr->registry_key.len;
    lens[2] = jr->owner.len;
    lens[3] = p - count;

    for (i = 0; i < jr->nids; i++) {
        argv[4 + i] = jr->ids[i];
        lens[4 + i] = ngx_strlen(jr->ids[i]);
    }

    jr->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                       NGX_IOTHUB_LUA_JOB_COUNT,
                                       ngx_iothub_job_count_stored, jr, 2,
                                       (int) n, argv, lens);
    if (jr->call == NULL) {
        ngx_iothub_job_end(jr, "Redis is down");
    }
}


static void
ngx_iothub_job_count_stored(void *data, redisReply *reply)
{
    ngx_iothub_job_runner_t *jr = data;

    long long  n;

    jr->call = NULL;

    if (ngx_iothub_reply_integer(reply, &n) != NGX_IOTHUB_REPLY_OK) {
        ngx_iothub_job_end(jr, "cancelled, taken over or Redis down");
        return;
    }

    ngx_log_error(NGX_LOG_INFO, jr->timer.log, 0,
                  "iothub job \"%V\": %L devices selected", &jr->job_id,
                  (int64_t) n);

    jr->counted = 1;

    ngx_iothub_job_next_chunk(jr);
}


/*
 * Whether the run goes on: a job past its deadline ends failed, a
 * stopping worker hands the job over.
 */

static ngx_int_t
ngx_iothub_job_continues(ngx_iothub_job_runner_t *jr)
{
    if (ngx_iothub_job_now() >= jr->deadline) {
        ngx_iothub_job_finish(jr, "failed",
                              "the job did not end within "
                              "maxExecutionTimeInSeconds");
        return NGX_DECLINED;
    }

    if (!ngx_iothub_job_going()) {
        ngx_iothub_job_release(jr);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The next devices after the cursor: from the condition's own list, or
 * those the query service finds.
 */

static void
ngx_iothub_job_next_chunk(ngx_iothub_job_runner_t *jr)
{
    jr->nchunk = 0;
    jr->next = 0;
    jr->done = 0;
    jr->walked = 0;

    if (ngx_iothub_job_continues(jr) != NGX_OK) {
        return;
    }

    if (jr->query == NULL) {
        ngx_iothub_job_next_ids(jr);
        return;
    }

    ngx_iothub_job_next_rows(jr);
}


static void
ngx_iothub_job_next_ids(ngx_iothub_job_runner_t *jr)
{
    size_t  i;

    for (i = 0; i < jr->nids && jr->nchunk < NGX_IOTHUB_JOB_CHUNK; i++) {
        if (jr->cursor_len == 0 || ngx_strcmp(jr->ids[i], jr->cursor) > 0) {
            ngx_iothub_job_chunk_add(jr, (u_char *) jr->ids[i],
                                     ngx_strlen(jr->ids[i]));
        }
    }

    if (jr->nchunk == 0) {
        jr->walked = 1;

    } else {
        jr->next_cursor_len = jr->chunk_len[jr->nchunk - 1];
        ngx_memcpy(jr->next_cursor, jr->chunk[jr->nchunk - 1],
                   jr->next_cursor_len + 1);
    }

    ngx_iothub_job_launch(jr);
}


static void
ngx_iothub_job_next_rows(ngx_iothub_job_runner_t *jr)
{
    ngx_iothub_job_walk(jr, ngx_iothub_job_row, ngx_iothub_job_rows_done,
                        NGX_IOTHUB_JOB_EXAMINE, jr->cursor);
}


/* a query run over the hub's twins after the device id "after" */

static void
ngx_iothub_job_walk(ngx_iothub_job_runner_t *jr, ngx_iothub_query_row_pt row,
    ngx_iothub_query_done_pt done, ngx_uint_t budget, const u_char *after)
{
    u_char                   place[NGX_IOTHUB_JOB_ID_MAX + 1];
    ngx_iothub_query_run_t  *run;

    /* after may be the run's own place */
    ngx_cpystrn(place, (u_char *) after, sizeof(place));

    run = &jr->walk;
    ngx_memzero(run, sizeof(ngx_iothub_query_run_t));

    run->hub = jr->hub;
    run->log = jr->timer.log;
    run->query = jr->query;
    run->row = row;
    run->done = done;
    run->data = jr;
    run->budget = budget;
    ngx_cpystrn(run->device_id, place, sizeof(run->device_id));

    switch (ngx_iothub_query_run(run)) {

    case NGX_OK:
        return;

    case NGX_DONE:
        done(run);
        return;

    case NGX_DECLINED:
        ngx_iothub_job_end(jr, "Redis is down");
        return;

    default:
        ngx_iothub_job_end(jr, "the query could not start");
    }
}


/* a device that satisfies the condition: taken while the chunk has room */

static ngx_int_t
ngx_iothub_job_row(ngx_iothub_query_run_t *run, yajl_val doc,
    ngx_str_t *device_id, ngx_str_t *module_id)
{
    ngx_iothub_job_runner_t *jr = run->data;

    if (jr->nchunk == NGX_IOTHUB_JOB_CHUNK) {
        return NGX_DONE;
    }

    ngx_iothub_job_chunk_add(jr, device_id->data, device_id->len);

    return NGX_OK;
}


static void
ngx_iothub_job_rows_done(ngx_iothub_query_run_t *run)
{
    ngx_iothub_job_runner_t *jr = run->data;

    switch (run->result) {

    case NGX_IOTHUB_QUERY_RUN_END:
        jr->walked = (jr->nchunk == 0);
        break;

    case NGX_IOTHUB_QUERY_RUN_MORE:
        break;

    case NGX_IOTHUB_QUERY_RUN_UNAVAILABLE:
        ngx_iothub_job_end(jr, "Redis is down");
        return;

    default:
        ngx_iothub_job_end(jr, "the devices could not be read");
        return;
    }

    /* the query's place: after the last device it examined or took */

    jr->next_cursor_len = ngx_strlen(run->device_id);
    ngx_memcpy(jr->next_cursor, run->device_id, jr->next_cursor_len + 1);

    ngx_iothub_job_launch(jr);
}


static void
ngx_iothub_job_chunk_add(ngx_iothub_job_runner_t *jr, const u_char *id,
    size_t len)
{
    if (len == 0 || len > NGX_IOTHUB_JOB_ID_MAX) {
        return;
    }

    ngx_memcpy(jr->chunk[jr->nchunk], id, len);
    jr->chunk[jr->nchunk][len] = '\0';
    jr->chunk_len[jr->nchunk] = len;
    jr->nchunk++;
}


/*
 * Starts tasks while there are free ones and ids; when the chunk is done,
 * notes the cursor and reads the next, and after an empty chunk ends the
 * job.
 */

static void
ngx_iothub_job_launch(ngx_iothub_job_runner_t *jr)
{
    ngx_str_t               cursor;
    ngx_uint_t              i;
    ngx_iothub_job_task_t  *t;

    if (jr->walked) {
        ngx_iothub_job_finish(jr, "completed", NULL);
        return;
    }

    if (!ngx_iothub_job_going()) {
        ngx_iothub_job_release(jr);
        return;
    }

    if (jr->done == jr->nchunk) {
        cursor.data = jr->next_cursor;
        cursor.len = jr->next_cursor_len;

        ngx_iothub_job_progress(jr, &cursor, jr->lease,
                                ngx_iothub_job_advanced, &jr->call);
        return;
    }

    for (i = 0; i < jr->ntasks && jr->next < jr->nchunk; i++) {
        t = &jr->tasks[i];

        if (t->state != NGX_IOTHUB_JOB_TASK_FREE) {
            continue;
        }

        ngx_memcpy(t->device_id, jr->chunk[jr->next],
                   jr->chunk_len[jr->next] + 1);
        t->len = jr->chunk_len[jr->next];
        jr->next++;
        jr->in_flight++;

        ngx_iothub_job_task_start(t);

        if (!jr->running) {
            return;
        }
    }
}


static void
ngx_iothub_job_task_start(ngx_iothub_job_task_t *t)
{
    ngx_iothub_job_format_time(ngx_iothub_job_now(), t->start);
    ngx_iothub_job_task_execute(t);
}


static void
ngx_iothub_job_task_execute(ngx_iothub_job_task_t *t)
{
    ngx_int_t                 rc;
    ngx_iothub_twin_op_t     *op;
    ngx_iothub_method_op_t   *mo;
    ngx_iothub_job_runner_t  *jr;

    jr = t->runner;

    if (jr->type == NGX_IOTHUB_JOB_TWIN) {
        op = &t->twin;
        ngx_memzero(op, sizeof(ngx_iothub_twin_op_t));

        op->hub = jr->hub;
        op->log = jr->timer.log;
        op->handler = ngx_iothub_job_task_twin;
        op->data = t;
        op->device_id.data = t->device_id;
        op->device_id.len = t->len;
        op->kind = NGX_IOTHUB_TWIN_PATCH;
        op->body = jr->spec;
        op->if_match.data = (u_char *) "";

        t->state = NGX_IOTHUB_JOB_TASK_TWIN;
        rc = ngx_iothub_twin_run(op);

    } else {
        mo = &t->method;
        ngx_memzero(mo, sizeof(ngx_iothub_method_op_t));

        mo->hub = jr->hub;
        mo->log = jr->timer.log;
        mo->handler = ngx_iothub_job_task_method;
        mo->data = t;
        mo->device_id.data = t->device_id;
        mo->device_id.len = t->len;
        mo->name.data = (u_char *) jr->method.name;
        mo->name.len = ngx_strlen(jr->method.name);
        mo->payload.data = (u_char *) jr->method.payload;
        mo->payload.len = ngx_strlen(jr->method.payload);
        mo->connect_timeout = (ngx_msec_t) jr->method.connect_timeout * 1000;
        mo->response_timeout = (ngx_msec_t) jr->method.response_timeout
                               * 1000;

        t->state = NGX_IOTHUB_JOB_TASK_METHOD;
        rc = ngx_iothub_method_invoke(mo);
    }

    if (rc != NGX_OK) {
        t->state = NGX_IOTHUB_JOB_TASK_FREE;
        ngx_iothub_job_end(jr, "a device operation could not start");
    }
}


static void
ngx_iothub_job_task_twin(ngx_iothub_twin_op_t *op)
{
    ngx_iothub_job_task_t *t = op->data;

    ngx_iothub_job_device_t  d;

    ngx_memzero(&d, sizeof(ngx_iothub_job_device_t));

    switch (op->result) {

    case NGX_IOTHUB_TWIN_DONE:
        d.succeeded = 1;
        break;

    case NGX_IOTHUB_TWIN_NOT_FOUND:
        ngx_iothub_job_task_end(t);
        return;

    case NGX_IOTHUB_TWIN_REFUSED:
        d.error_code = (op->engine_rc == NGX_IOTHUB_TWIN_BAD_JSON)
                       ? "IotHubFormatError" : "ArgumentInvalid";
        d.error_description = op->err;
        break;

    case NGX_IOTHUB_TWIN_ETAG_MISMATCH:
        d.error_code = "PreconditionFailed";
        d.error_description = "the twin changed meanwhile";
        break;

    case NGX_IOTHUB_TWIN_UNAVAILABLE:
        t->state = NGX_IOTHUB_JOB_TASK_FREE;
        ngx_iothub_job_end(t->runner, "Redis is down");
        return;

    default:
        d.error_code = "ServerError";
        d.error_description = "internal error";
    }

    ngx_iothub_job_task_record(t, &d);
}


static void
ngx_iothub_job_task_method(ngx_iothub_method_op_t *op)
{
    ngx_iothub_job_task_t *t = op->data;

    char                     *payload;
    ngx_iothub_job_device_t   d;

    ngx_memzero(&d, sizeof(ngx_iothub_job_device_t));
    payload = NULL;

    switch (op->result) {

    case NGX_IOTHUB_METHOD_ANSWERED:
        payload = ngx_alloc(op->answer.len + 1, op->log);
        if (payload != NULL) {
            ngx_memcpy(payload, op->answer.data, op->answer.len);
            payload[op->answer.len] = '\0';
        }

        d.succeeded = 1;
        d.answered = 1;
        d.method_status = op->status;
        d.method_payload = payload;
        break;

    case NGX_IOTHUB_METHOD_NOT_FOUND:
        ngx_iothub_job_task_end(t);
        return;

    case NGX_IOTHUB_METHOD_NOT_ONLINE:
        d.error_code = "DeviceNotOnline";
        d.error_description = "the device is not connected";
        break;

    case NGX_IOTHUB_METHOD_TIMED_OUT:
        d.error_code = "GatewayTimeout";
        d.error_description = "the device did not answer in time";
        break;

    default: /* NGX_IOTHUB_METHOD_UNAVAILABLE */
        t->state = NGX_IOTHUB_JOB_TASK_FREE;
        ngx_iothub_job_end(t->runner, "Redis is down");
        return;
    }

    ngx_iothub_job_task_record(t, &d);

    if (payload != NULL) {
        ngx_free(payload);
    }
}


static void
ngx_iothub_job_task_record(ngx_iothub_job_task_t *t,
    ngx_iothub_job_device_t *d)
{
    char                     *json, end[32];
    u_char                   *p, lease[NGX_INT64_LEN];
    u_char                    key[NGX_IOTHUB_JOB_KEY_LEN + 2
                                  + NGX_IOTHUB_JOB_ID_MAX];
    ngx_str_t                 id;
    size_t                    lens[10];
    const char               *argv[10];
    ngx_iothub_job_runner_t  *jr;

    jr = t->runner;

    ngx_iothub_job_format_time(ngx_iothub_job_now(), end);

    d->device_id = (const char *) t->device_id;
    d->job_id = (const char *) jr->job_id.data;
    d->type = jr->type;
    d->start = t->start;
    d->end = end;
    d->created = jr->created;

    if (ngx_iothub_job_device_json(d, &json) != NGX_IOTHUB_JOB_OK) {
        t->state = NGX_IOTHUB_JOB_TASK_FREE;
        ngx_iothub_job_end(jr, "out of memory");
        return;
    }

    p = ngx_sprintf(lease, "%L", (int64_t) (ngx_iothub_job_now()
                                            + jr->lease));

    /* the device's records of every job: "<prefix>{<device>}:jobs" */

    id.data = t->device_id;
    id.len = t->len;
    lens[1] = ngx_iothub_key_write(key, key + sizeof(key), jr->hub, &id,
                                   "jobs", NULL)
              - key;

    argv[0] = (const char *) jr->job_key.data;
    argv[1] = (const char *) key;
    argv[2] = (const char *) jr->run_key.data;
    argv[3] = (const char *) jr->devices_key.data;
    argv[4] = (const char *) jr->job_id.data;
    argv[5] = (const char *) jr->owner.data;
    argv[6] = (const char *) t->device_id;
    argv[7] = json;
    argv[8] = d->succeeded ? "succeededCount" : "failedCount";
    argv[9] = (const char *) lease;
    lens[0] = jr->job_key.len;
    lens[2] = jr->run_key.len;
    lens[3] = jr->devices_key.len;
    lens[4] = jr->job_id.len;
    lens[5] = jr->owner.len;
    lens[6] = t->len;
    lens[7] = ngx_strlen(json);
    lens[8] = ngx_strlen(argv[8]);
    lens[9] = p - lease;

    t->state = NGX_IOTHUB_JOB_TASK_RECORD;
    t->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                      NGX_IOTHUB_LUA_JOB_DEVICE_DONE,
                                      ngx_iothub_job_task_recorded, t, 4,
                                      10, argv, lens);
    free(json);

    if (t->call == NULL) {
        t->state = NGX_IOTHUB_JOB_TASK_FREE;
        ngx_iothub_job_end(jr, "Redis is down");
    }
}


static void
ngx_iothub_job_task_recorded(void *data, redisReply *reply)
{
    ngx_iothub_job_task_t *t = data;

    long long              n;
    ngx_iothub_reply_rc_e  rc;

    t->call = NULL;

    rc = ngx_iothub_reply_integer(reply, &n);

    if (rc != NGX_IOTHUB_REPLY_OK) {
        t->state = NGX_IOTHUB_JOB_TASK_FREE;
        ngx_iothub_job_end(t->runner,
                           (rc == NGX_IOTHUB_REPLY_LOCK_LOST)
                           ? "cancelled or taken over" : "Redis is down");
        return;
    }

    ngx_iothub_job_task_end(t);
}


/* the task is free again; the chunk goes on */

static void
ngx_iothub_job_task_end(ngx_iothub_job_task_t *t)
{
    ngx_iothub_job_runner_t  *jr;

    jr = t->runner;

    t->state = NGX_IOTHUB_JOB_TASK_FREE;
    jr->in_flight--;
    jr->done++;

    ngx_iothub_job_launch(jr);
}


static void
ngx_iothub_job_task_cancel(ngx_iothub_job_task_t *t)
{
    switch (t->state) {

    case NGX_IOTHUB_JOB_TASK_TWIN:
        ngx_iothub_twin_cancel(&t->twin);
        break;

    case NGX_IOTHUB_JOB_TASK_METHOD:
        ngx_iothub_method_cancel(&t->method);
        break;

    case NGX_IOTHUB_JOB_TASK_RECORD:
        if (t->call) {
            ngx_iothub_redis_cancel(t->call);
            t->call = NULL;
        }

        break;

    default:
        break;
    }

    t->state = NGX_IOTHUB_JOB_TASK_FREE;
}


/* job_progress.lua: the lease renewed, the cursor (when given) noted */

static void
ngx_iothub_job_progress(ngx_iothub_job_runner_t *jr, ngx_str_t *cursor,
    ngx_msec_t lease_time, ngx_iothub_redis_handler_pt handler,
    ngx_iothub_redis_call_t **call)
{
    u_char      *p, lease[NGX_INT64_LEN], flight[NGX_INT_T_LEN];
    size_t       lens[7];
    const char  *argv[7];

    p = ngx_sprintf(lease, "%L", (int64_t) (ngx_iothub_job_now()
                                            + lease_time));
    argv[0] = (const char *) jr->job_key.data;
    argv[1] = (const char *) jr->run_key.data;
    argv[2] = (const char *) jr->job_id.data;
    argv[3] = (const char *) jr->owner.data;
    argv[4] = (const char *) lease;
    argv[5] = cursor ? (const char *) cursor->data : "";
    lens[0] = jr->job_key.len;
    lens[1] = jr->run_key.len;
    lens[2] = jr->job_id.len;
    lens[3] = jr->owner.len;
    lens[4] = p - lease;
    lens[5] = cursor ? cursor->len : 0;

    p = ngx_sprintf(flight, "%ui", jr->in_flight);
    argv[6] = (const char *) flight;
    lens[6] = p - flight;

    *call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                    NGX_IOTHUB_LUA_JOB_PROGRESS, handler, jr,
                                    2, 7, argv, lens);

    if (*call == NULL) {
        ngx_iothub_job_end(jr, "Redis is down");
    }
}


static void
ngx_iothub_job_advanced(void *data, redisReply *reply)
{
    ngx_iothub_job_runner_t *jr = data;

    long long  n;

    jr->call = NULL;

    if (ngx_iothub_reply_integer(reply, &n) != NGX_IOTHUB_REPLY_OK) {
        ngx_iothub_job_end(jr, "cancelled, taken over or Redis down");
        return;
    }

    jr->cursor_len = jr->next_cursor_len;
    ngx_memcpy(jr->cursor, jr->next_cursor, jr->cursor_len + 1);

    ngx_iothub_job_next_chunk(jr);
}


static void
ngx_iothub_job_renewed(void *data, redisReply *reply)
{
    ngx_iothub_job_runner_t *jr = data;

    long long  n;

    jr->renew = NULL;

    if (ngx_iothub_reply_integer(reply, &n) != NGX_IOTHUB_REPLY_OK) {
        ngx_iothub_job_end(jr, "cancelled, taken over or Redis down");
        return;
    }

    if (ngx_iothub_job_now() >= jr->deadline && jr->call == NULL) {
        ngx_iothub_job_finish(jr, "failed",
                              "the job did not end within "
                              "maxExecutionTimeInSeconds");
    }
}


static void
ngx_iothub_job_finish(ngx_iothub_job_runner_t *jr, const char *status,
    const char *reason)
{
    char         end[32];
    u_char      *p, end_ms[NGX_INT64_LEN];
    size_t       lens[9];
    long long    ms;
    ngx_uint_t   i;
    const char  *argv[9];

    /* the tasks still in flight (a deadline) are given up */

    for (i = 0; i < jr->ntasks; i++) {
        ngx_iothub_job_task_cancel(&jr->tasks[i]);
    }

    jr->in_flight = 0;

    ms = ngx_iothub_job_now();
    ngx_iothub_job_format_time(ms, end);
    p = ngx_sprintf(end_ms, "%L", (int64_t) ms);

    argv[0] = (const char *) jr->job_key.data;
    argv[1] = (const char *) jr->run_key.data;
    argv[2] = (const char *) jr->ended_key.data;
    argv[3] = (const char *) jr->job_id.data;
    argv[4] = (const char *) jr->owner.data;
    argv[5] = status;
    argv[6] = end;
    argv[7] = reason ? reason : "";
    argv[8] = (const char *) end_ms;
    lens[0] = jr->job_key.len;
    lens[1] = jr->run_key.len;
    lens[2] = jr->ended_key.len;
    lens[3] = jr->job_id.len;
    lens[4] = jr->owner.len;
    lens[5] = ngx_strlen(status);
    lens[6] = ngx_strlen(end);
    lens[7] = ngx_strlen(argv[7]);
    lens[8] = p - end_ms;

    ngx_log_error(NGX_LOG_INFO, jr->timer.log, 0,
                  "iothub job \"%V\": %s%s%s", &jr->job_id, status,
                  reason ? ": " : "", reason ? reason : "");

    jr->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                       NGX_IOTHUB_LUA_JOB_FINISH,
                                       ngx_iothub_job_finished, jr, 3, 9,
                                       argv, lens);
    if (jr->call == NULL) {
        ngx_iothub_job_end(jr, "Redis is down");
    }
}


static void
ngx_iothub_job_finished(void *data, redisReply *reply)
{
    ngx_iothub_job_runner_t *jr = data;

    jr->call = NULL;

    ngx_iothub_job_end(jr, NULL);
}


/*
 * A stopping worker starts nothing more: the lease of its job ends now
 * (after the chunk, if it is done), so that another worker goes on at
 * once.  While a job runs the tick's timer is not cancelable: a graceful
 * shutdown waits for the tick, and the tick for this answer.
 */

static void
ngx_iothub_job_release(ngx_iothub_job_runner_t *jr)
{
    ngx_str_t                 cursor;
    ngx_iothub_redis_call_t  *call;

    if (!jr->running) {
        ngx_iothub_job_end(jr, NULL);
        return;
    }

    cursor.data = jr->next_cursor;
    cursor.len = jr->next_cursor_len;

    ngx_iothub_job_progress(jr, (jr->nchunk && jr->done == jr->nchunk)
                                ? &cursor : NULL,
                            0, ngx_iothub_redis_ignore, &call);

    ngx_iothub_job_end(jr, "the worker is stopping");
}


/*
 * Ends the run here, whatever is in flight; the job's state in Redis is
 * what the scripts wrote.  why (when not NULL) is logged: the lease then
 * runs out and whoever claims the job next continues it.
 */

static void
ngx_iothub_job_end(ngx_iothub_job_runner_t *jr, const char *why)
{
    ngx_uint_t  i;

    if (why != NULL && jr->running) {
        ngx_log_error(NGX_LOG_NOTICE, jr->timer.log, 0,
                      "iothub job \"%V\": run stopped here: %s",
                      &jr->job_id, why);
    }

    if (jr->call) {
        ngx_iothub_redis_cancel(jr->call);
        jr->call = NULL;
    }

    ngx_iothub_query_cancel(&jr->walk);

    if (jr->renew) {
        ngx_iothub_redis_cancel(jr->renew);
        jr->renew = NULL;
    }

    for (i = 0; i < jr->ntasks; i++) {
        ngx_iothub_job_task_cancel(&jr->tasks[i]);
    }

    ngx_iothub_job_method_free(&jr->method);

    if (jr->query) {
        ngx_iothub_query_free(jr->query);
        jr->query = NULL;
    }

    if (jr->ids) {
        ngx_iothub_job_ids_free(jr->ids, jr->nids);
        jr->ids = NULL;
        jr->nids = 0;
    }

    if (jr->pool) {
        ngx_destroy_pool(jr->pool);
        jr->pool = NULL;
    }

    /* the pool's strings are gone */

    ngx_str_null(&jr->job_id);
    ngx_str_null(&jr->job_key);
    ngx_str_null(&jr->run_key);
    ngx_str_null(&jr->ended_key);
    ngx_str_null(&jr->devices_key);
    ngx_str_null(&jr->registry_key);
    ngx_str_null(&jr->spec);

    jr->tasks = NULL;
    jr->ntasks = 0;
    jr->in_flight = 0;
    jr->running = 0;
    jr->timer.cancelable = 1;
}


static long long
ngx_iothub_job_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (long long) tp->sec * 1000 + tp->msec;
}


static ngx_int_t
ngx_iothub_job_going(void)
{
    return !ngx_exiting && !ngx_terminate && !ngx_quit;
}
