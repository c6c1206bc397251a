
/*
 * nginx-iothub: the janitor; see ngx_iothub_janitor.h.
 *
 * A round:  SET lock NX PX --> for each hub: trim partitions (Lua)
 *           --> SCAN presence keys, COUNT 1000 --> reap the batch (Lua)
 *           --> SCAN again until the cursor is 0
 *           --> build the tag index (Lua, until complete: once per hub)
 *           --> trim the jobs v2 that ended before job_history (Lua,
 *               bounded calls until none is left)
 *           --> next hub --> timer.
 * Any failure (Redis down, the lock taken by another worker) ends the
 * round; the next one starts over.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_janitor.h"
#include "ngx_iothub_log.h"
#include "ngx_iothub_reply.h"
#include "ngx_iothub_lua.h"


#define NGX_IOTHUB_JANITOR_LOCK   "iothub:janitor"

/* keys looked at per SCAN call: one call costs Redis well under 1 ms */
#define NGX_IOTHUB_JANITOR_SCAN   "1000"

/* devices whose tags one tag_index_build.lua call indexes */
#define NGX_IOTHUB_JANITOR_INDEX  "500"

/* deletions (device job records, jobs) one job_trim.lua call makes */
#define NGX_IOTHUB_JANITOR_JOBS   "500"

/* "iothub:<hub>:" with the hub name's glob characters escaped, then more */
#define NGX_IOTHUB_JANITOR_MATCH  (sizeof("iothub::{*}:presence*") + 2 * 128)


typedef struct {
    ngx_event_t                timer;
    ngx_msec_t                 interval;
    u_char                     ttl[NGX_INT_T_LEN];
    size_t                     ttl_len;
    ngx_str_t                  owner;
    ngx_array_t               *hubs;         /* ngx_iothub_hub_t * */
    ngx_iothub_redis_t        *link;
    ngx_iothub_redis_call_t   *call;

    /* the round in progress */
    ngx_uint_t                 hub;
    ngx_uint_t                 ended;
    u_char                     cursor[NGX_INT64_LEN + 1];
    size_t                     cursor_len;
    u_char                     match[NGX_IOTHUB_JANITOR_MATCH];
    size_t                     match_len;
} ngx_iothub_janitor_t;


static void ngx_iothub_janitor_round(ngx_event_t *ev);
static void ngx_iothub_janitor_locked(void *data, redisReply *reply);
static void ngx_iothub_janitor_hub(ngx_iothub_janitor_t *j);
static void ngx_iothub_janitor_match(ngx_iothub_janitor_t *j,
    ngx_iothub_hub_t *hub);
static void ngx_iothub_janitor_trimmed(void *data, redisReply *reply);
static void ngx_iothub_janitor_scan(ngx_iothub_janitor_t *j);
static void ngx_iothub_janitor_scanned(void *data, redisReply *reply);
static void ngx_iothub_janitor_reap(ngx_iothub_janitor_t *j,
    ngx_iothub_reply_scan_t *scan);
static void ngx_iothub_janitor_reaped(void *data, redisReply *reply);
static void ngx_iothub_janitor_next(ngx_iothub_janitor_t *j);
static void ngx_iothub_janitor_index(ngx_iothub_janitor_t *j);
static void ngx_iothub_janitor_indexed(void *data, redisReply *reply);
static void ngx_iothub_janitor_jobs(ngx_iothub_janitor_t *j);
static void ngx_iothub_janitor_jobs_trimmed(void *data, redisReply *reply);
static ngx_iothub_hub_t *ngx_iothub_janitor_current(
    ngx_iothub_janitor_t *j);
static void ngx_iothub_janitor_script(ngx_iothub_janitor_t *j,
    ngx_uint_t script, ngx_iothub_redis_handler_pt handler, int nkeys,
    int argc, const char **argv, const size_t *lens);
static ngx_int_t ngx_iothub_janitor_integer(ngx_iothub_janitor_t *j,
    redisReply *reply, const char *step, long long *value);
static void ngx_iothub_janitor_done(ngx_iothub_janitor_t *j,
    redisReply *reply, const char *step);
static ngx_int_t ngx_iothub_janitor_going(void);
static void ngx_iothub_janitor_key(ngx_iothub_args_t *args, u_char **p,
    ngx_iothub_hub_t *hub, char *name);
static void ngx_iothub_janitor_lease(ngx_iothub_janitor_t *j,
    ngx_iothub_args_t *args);


static ngx_iothub_janitor_t  ngx_iothub_janitor;


void
ngx_iothub_janitor_start(ngx_iothub_main_conf_t *imcf, ngx_log_t *log)
{
    ngx_iothub_janitor_t  *j;

    j = &ngx_iothub_janitor;
    ngx_memzero(j, sizeof(ngx_iothub_janitor_t));

    j->interval = imcf->janitor_interval;
    j->ttl_len = ngx_sprintf(j->ttl, "%M", j->interval) - j->ttl;
    j->owner = imcf->inbox;
    j->hubs = &imcf->hubs;
    j->link = imcf->link;

    j->timer.handler = ngx_iothub_janitor_round;
    j->timer.data = j;
    j->timer.log = log;
    j->timer.cancelable = 1;

    ngx_add_timer(&j->timer, j->interval);
}


void
ngx_iothub_janitor_stop(void)
{
    ngx_iothub_janitor_t  *j;

    j = &ngx_iothub_janitor;

    if (j->timer.timer_set) {
        ngx_del_timer(&j->timer);
    }

    if (j->call) {
        ngx_iothub_redis_cancel(j->call);
        j->call = NULL;
    }
}


/*
 * The lock lives one interval: rounds start at most once an interval in
 * the whole cluster, and a round's steps keep it while they run.
 */

static void
ngx_iothub_janitor_round(ngx_event_t *ev)
{
    ngx_iothub_janitor_t *j = ev->data;

    size_t       lens[6];
    const char  *argv[6];

    if (!ngx_iothub_janitor_going()) {
        return;
    }

    argv[0] = "SET";
    argv[1] = NGX_IOTHUB_JANITOR_LOCK;
    argv[2] = (char *) j->owner.data;
    argv[3] = "NX";
    argv[4] = "PX";
    argv[5] = (char *) j->ttl;
    lens[0] = 3;
    lens[1] = sizeof(NGX_IOTHUB_JANITOR_LOCK) - 1;
    lens[2] = j->owner.len;
    lens[3] = 2;
    lens[4] = 2;
    lens[5] = j->ttl_len;

    j->call = ngx_iothub_redis_command(j->link, ngx_iothub_janitor_locked, j,
                                       6, argv, lens);
    if (j->call == NULL) {
        /* Redis down: the next interval tries again */
        ngx_add_timer(&j->timer, j->interval);
    }
}


static void
ngx_iothub_janitor_locked(void *data, redisReply *reply)
{
    ngx_iothub_janitor_t *j = data;

    ngx_iothub_reply_str_t  ok;

    j->call = NULL;

    if (ngx_iothub_reply_status(reply, &ok) != NGX_IOTHUB_REPLY_OK) {
        /* another worker's round, or Redis down */
        ngx_iothub_janitor_done(j, NULL, NULL);
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_CORE, j->timer.log, 0,
                   "iothub janitor: round started");

    j->hub = 0;
    ngx_iothub_janitor_hub(j);
}


/* the partitions first: one Lua call of at most 128 XTRIMs */

static void
ngx_iothub_janitor_hub(ngx_iothub_janitor_t *j)
{
    u_char             *keys, *p, *q, minid[NGX_INT64_LEN];
    size_t              size;
    ngx_uint_t          i;
    ngx_iothub_hub_t   *hub;
    ngx_iothub_args_t   args;

    if (!ngx_iothub_janitor_going()) {
        return;
    }

    if (j->hub == j->hubs->nelts) {
        ngx_iothub_janitor_done(j, NULL, NULL);
        return;
    }

    hub = ngx_iothub_janitor_current(j);

    ngx_iothub_janitor_match(j, hub);

    size = hub->partitions * (hub->prefix.len + sizeof("d2c:") + NGX_INT_T_LEN);

    keys = ngx_alloc(size, j->timer.log);
    if (keys == NULL) {
        ngx_iothub_janitor_done(j, NULL, NULL);
        return;
    }

    args.n = 0;
    ngx_iothub_args_add_str(&args, NGX_IOTHUB_JANITOR_LOCK);

    p = keys;

    for (i = 0; i < hub->partitions; i++) {
        q = ngx_sprintf(p, "%Vd2c:%ui", &hub->prefix, i);
        ngx_iothub_args_add(&args, (char *) p, q - p);
        p = q;
    }

    ngx_iothub_janitor_lease(j, &args);
    ngx_iothub_args_add(&args, (char *) minid,
                        ngx_sprintf(minid, "%uL",
                                    (uint64_t) (ngx_time() - hub->retention)
                                    * 1000)
                        - minid);

    /* the command is formatted at once: the keys can go */
    ngx_iothub_janitor_script(j, NGX_IOTHUB_LUA_JANITOR_TRIM,
                              ngx_iothub_janitor_trimmed,
                              1 + (int) hub->partitions, args.n, args.argv,
                              args.lens);
    ngx_free(keys);
}


/* the presence keys of a hub: "iothub:<hub>:{*}:presence*" */

static void
ngx_iothub_janitor_match(ngx_iothub_janitor_t *j, ngx_iothub_hub_t *hub)
{
    u_char      *p, *last;
    ngx_uint_t   i;

    p = j->match;
    last = j->match + sizeof(j->match) - sizeof("{*}:presence*");

    /* hub names may hold "*" and "?" */

    for (i = 0; i < hub->prefix.len && p < last - 1; i++) {
        if (ngx_strchr("*?[]\\", hub->prefix.data[i]) != NULL) {
            *p++ = '\\';
        }

        *p++ = hub->prefix.data[i];
    }

    p = ngx_cpymem(p, "{*}:presence*", sizeof("{*}:presence*") - 1);
    j->match_len = p - j->match;
}


static void
ngx_iothub_janitor_trimmed(void *data, redisReply *reply)
{
    ngx_iothub_janitor_t *j = data;

    long long  trimmed;

    if (ngx_iothub_janitor_integer(j, reply, "trimming partitions", &trimmed)
        != NGX_OK)
    {
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_CORE, j->timer.log, 0,
                   "iothub janitor: hub \"%V\": %L entries trimmed",
                   &ngx_iothub_janitor_current(j)->name,
                   (int64_t) trimmed);

    j->cursor[0] = '0';
    j->cursor_len = 1;
    j->ended = 0;

    ngx_iothub_janitor_scan(j);
}


static void
ngx_iothub_janitor_scan(ngx_iothub_janitor_t *j)
{
    size_t       lens[6];
    const char  *argv[6];

    if (!ngx_iothub_janitor_going()) {
        return;
    }

    argv[0] = "SCAN";
    argv[1] = (char *) j->cursor;
    argv[2] = "MATCH";
    argv[3] = (char *) j->match;
    argv[4] = "COUNT";
    argv[5] = NGX_IOTHUB_JANITOR_SCAN;
    lens[0] = 4;
    lens[1] = j->cursor_len;
    lens[2] = 5;
    lens[3] = j->match_len;
    lens[4] = 5;
    lens[5] = sizeof(NGX_IOTHUB_JANITOR_SCAN) - 1;

    j->call = ngx_iothub_redis_command(j->link, ngx_iothub_janitor_scanned,
                                       j, 6, argv, lens);
    if (j->call == NULL) {
        ngx_iothub_janitor_done(j, NULL, NULL);
    }
}


/* SCAN answers [ cursor, [ key, ... ] ] */

static void
ngx_iothub_janitor_scanned(void *data, redisReply *reply)
{
    ngx_iothub_janitor_t *j = data;

    ngx_iothub_reply_scan_t  scan;

    j->call = NULL;

    if (ngx_iothub_reply_scan(reply, &scan) != NGX_IOTHUB_REPLY_OK) {
        ngx_iothub_janitor_done(j, reply, "scanning presence keys");
        return;
    }

    /* at most NGX_IOTHUB_REPLY_NUMBER_MAX digits: it fits */
    ngx_memcpy(j->cursor, scan.cursor.data, scan.cursor.len);
    j->cursor_len = scan.cursor.len;

    if (scan.nkeys == 0) {
        ngx_iothub_janitor_next(j);
        return;
    }

    ngx_iothub_janitor_reap(j, &scan);
}


static void
ngx_iothub_janitor_reap(ngx_iothub_janitor_t *j,
    ngx_iothub_reply_scan_t *scan)
{
    u_char                   now[40];
    size_t                  *lens, i, n;
    const char             **argv;
    ngx_iothub_reply_str_t   key;

    /* the lock, the keys, then owner, lock time and now */
    n = scan->nkeys + 4;

    argv = ngx_alloc(n * (sizeof(char *) + sizeof(size_t)), j->timer.log);
    if (argv == NULL) {
        ngx_iothub_janitor_done(j, NULL, NULL);
        return;
    }

    lens = (size_t *) (argv + n);

    argv[0] = NGX_IOTHUB_JANITOR_LOCK;
    lens[0] = sizeof(NGX_IOTHUB_JANITOR_LOCK) - 1;

    for (i = 0; i < scan->nkeys; i++) {
        ngx_iothub_reply_scan_key(scan, i, &key);
        argv[i + 1] = (const char *) key.data;
        lens[i + 1] = key.len;
    }

    ngx_iothub_time_now(now, sizeof(now));

    argv[n - 3] = (char *) j->owner.data;
    lens[n - 3] = j->owner.len;
    argv[n - 2] = (char *) j->ttl;
    lens[n - 2] = j->ttl_len;
    argv[n - 1] = (char *) now;
    lens[n - 1] = ngx_strlen(now);

    ngx_iothub_janitor_script(j, NGX_IOTHUB_LUA_JANITOR_REAP,
                              ngx_iothub_janitor_reaped,
                              (int) scan->nkeys + 1, (int) n, argv, lens);
    ngx_free(argv);
}


static void
ngx_iothub_janitor_reaped(void *data, redisReply *reply)
{
    ngx_iothub_janitor_t *j = data;

    long long  ended;

    if (ngx_iothub_janitor_integer(j, reply, "ending sessions", &ended)
        != NGX_OK)
    {
        return;
    }

    j->ended += (ngx_uint_t) ended;

    ngx_iothub_janitor_next(j);
}


static void
ngx_iothub_janitor_next(ngx_iothub_janitor_t *j)
{
    ngx_iothub_hub_t  *hub;

    if (j->cursor_len != 1 || j->cursor[0] != '0') {
        ngx_iothub_janitor_scan(j);
        return;
    }

    hub = ngx_iothub_janitor_current(j);

    if (j->ended) {
        ngx_log_error(NGX_LOG_INFO, j->timer.log, 0,
                      "iothub janitor: hub \"%V\": ended %ui sessions of "
                      "workers that are gone", &hub->name, j->ended);
    }

    ngx_iothub_janitor_index(j);
}


/* a chunk of the hub's tag index, for twins written before it existed */

static void
ngx_iothub_janitor_index(ngx_iothub_janitor_t *j)
{
    u_char              *keys, *p;
    ngx_iothub_hub_t    *hub;
    ngx_iothub_args_t    args;

    if (!ngx_iothub_janitor_going()) {
        return;
    }

    hub = ngx_iothub_janitor_current(j);

    keys = ngx_alloc(3 * (hub->prefix.len + sizeof("tagidx:cursor")),
                     j->timer.log);
    if (keys == NULL) {
        ngx_iothub_janitor_done(j, NULL, NULL);
        return;
    }

    args.n = 0;
    ngx_iothub_args_add_str(&args, NGX_IOTHUB_JANITOR_LOCK);

    p = keys;
    ngx_iothub_janitor_key(&args, &p, hub, "devices");
    ngx_iothub_janitor_key(&args, &p, hub, "tagidx:ready");
    ngx_iothub_janitor_key(&args, &p, hub, "tagidx:cursor");

    ngx_iothub_janitor_lease(j, &args);
    ngx_iothub_args_add(&args, (char *) hub->prefix.data, hub->prefix.len);
    ngx_iothub_args_add_str(&args, NGX_IOTHUB_JANITOR_INDEX);

    ngx_iothub_janitor_script(j, NGX_IOTHUB_LUA_TAG_INDEX_BUILD,
                              ngx_iothub_janitor_indexed, 4, args.n,
                              args.argv, args.lens);
    ngx_free(keys);
}


static void
ngx_iothub_janitor_indexed(void *data, redisReply *reply)
{
    ngx_iothub_janitor_t *j = data;

    long long  complete;

    if (ngx_iothub_janitor_integer(j, reply, "building the tag index",
                                   &complete)
        != NGX_OK)
    {
        return;
    }

    if (!complete) {
        ngx_iothub_janitor_index(j);
        return;
    }

    ngx_iothub_janitor_jobs(j);
}


/* a bounded step of trimming the jobs v2 older than the hub's history */

static void
ngx_iothub_janitor_jobs(ngx_iothub_janitor_t *j)
{
    u_char             *keys, *p, oldest[NGX_INT64_LEN];
    ngx_iothub_hub_t   *hub;
    ngx_iothub_args_t   args;

    if (!ngx_iothub_janitor_going()) {
        return;
    }

    hub = ngx_iothub_janitor_current(j);

    keys = ngx_alloc(2 * (hub->prefix.len + sizeof("jobs:ended")),
                     j->timer.log);
    if (keys == NULL) {
        ngx_iothub_janitor_done(j, NULL, NULL);
        return;
    }

    args.n = 0;
    ngx_iothub_args_add_str(&args, NGX_IOTHUB_JANITOR_LOCK);

    p = keys;
    ngx_iothub_janitor_key(&args, &p, hub, "jobs");
    ngx_iothub_janitor_key(&args, &p, hub, "jobs:ended");

    ngx_iothub_janitor_lease(j, &args);
    ngx_iothub_args_add(&args, (char *) hub->prefix.data, hub->prefix.len);
    ngx_iothub_args_add(&args, (char *) oldest,
                        ngx_sprintf(oldest, "%uL",
                                    (uint64_t) (ngx_time() - hub->job_history)
                                    * 1000)
                        - oldest);
    ngx_iothub_args_add_str(&args, NGX_IOTHUB_JANITOR_JOBS);

    ngx_iothub_janitor_script(j, NGX_IOTHUB_LUA_JOB_TRIM,
                              ngx_iothub_janitor_jobs_trimmed, 3, args.n,
                              args.argv, args.lens);
    ngx_free(keys);
}


static void
ngx_iothub_janitor_jobs_trimmed(void *data, redisReply *reply)
{
    ngx_iothub_janitor_t *j = data;

    long long  complete;

    if (ngx_iothub_janitor_integer(j, reply, "trimming the job history",
                                   &complete)
        != NGX_OK)
    {
        return;
    }

    if (!complete) {
        ngx_iothub_janitor_jobs(j);
        return;
    }

    j->hub++;
    ngx_iothub_janitor_hub(j);
}


static ngx_iothub_hub_t *
ngx_iothub_janitor_current(ngx_iothub_janitor_t *j)
{
    return ((ngx_iothub_hub_t **) j->hubs->elts)[j->hub];
}


/* a step's script; the round ends when it cannot be sent */

static void
ngx_iothub_janitor_script(ngx_iothub_janitor_t *j, ngx_uint_t script,
    ngx_iothub_redis_handler_pt handler, int nkeys, int argc,
    const char **argv, const size_t *lens)
{
    j->call = ngx_iothub_redis_script(j->link, script, handler, j, nkeys,
                                      argc, argv, lens);
    if (j->call == NULL) {
        ngx_iothub_janitor_done(j, NULL, NULL);
    }
}


/* a step's integer answer: NGX_ERROR ended the round at that step */

static ngx_int_t
ngx_iothub_janitor_integer(ngx_iothub_janitor_t *j, redisReply *reply,
    const char *step, long long *value)
{
    j->call = NULL;

    if (ngx_iothub_reply_integer(reply, value) != NGX_IOTHUB_REPLY_OK) {
        ngx_iothub_janitor_done(j, reply, step);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Ends the round; with a step, it failed there (an error reply is logged,
 * a lost lock only at debug level: another worker's round goes on).
 */

static void
ngx_iothub_janitor_done(ngx_iothub_janitor_t *j, redisReply *reply,
    const char *step)
{
    ngx_iothub_log_buf_t    lb;
    ngx_iothub_reply_rc_e   rc;
    ngx_iothub_reply_str_t  err;

    rc = ngx_iothub_reply_check(reply);

    if (rc == NGX_IOTHUB_REPLY_LOCK_LOST) {
        ngx_log_debug0(NGX_LOG_DEBUG_CORE, j->timer.log, 0,
                       "iothub janitor: lock lost");

    } else if (rc != NGX_IOTHUB_REPLY_OK && rc != NGX_IOTHUB_REPLY_LOST) {
        ngx_iothub_reply_error_text(reply, &err);
        ngx_log_error(NGX_LOG_WARN, j->timer.log, 0,
                      "iothub janitor: %s failed: \"%V\"", step,
                      ngx_iothub_log_str(&lb, (u_char *) err.data,
                                         err.len));

    } else if (step) {
        ngx_log_error(NGX_LOG_WARN, j->timer.log, 0,
                      "iothub janitor: %s failed", step);
    }

    if (ngx_iothub_janitor_going()) {
        ngx_add_timer(&j->timer, j->interval);
    }
}


/* "<hub prefix><name>" written at *p, which moves past it, as an argument */

static void
ngx_iothub_janitor_key(ngx_iothub_args_t *args, u_char **p,
    ngx_iothub_hub_t *hub, char *name)
{
    u_char  *q;

    q = ngx_sprintf(*p, "%V%s", &hub->prefix, name);
    ngx_iothub_args_add(args, (char *) *p, q - *p);
    *p = q;
}


/* the lock's owner and time to live: every step's arguments after its keys */

static void
ngx_iothub_janitor_lease(ngx_iothub_janitor_t *j, ngx_iothub_args_t *args)
{
    ngx_iothub_args_add(args, (char *) j->owner.data, j->owner.len);
    ngx_iothub_args_add(args, (char *) j->ttl, j->ttl_len);
}


/* a worker that is shutting down starts nothing more */

static ngx_int_t
ngx_iothub_janitor_going(void)
{
    return !(ngx_exiting || ngx_terminate || ngx_quit);
}
