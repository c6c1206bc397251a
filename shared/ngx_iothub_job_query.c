
/*
 * nginx-iothub: the row source of devices.jobs for the query service
 * (ngx_iothub_query_service.h): the device job records jobs v2 keep in
 * P{<dev>}:jobs, read by query_jobs.lua a chunk of devices at a time, in
 * device id order and each device's by job id.  A row's place is its
 * device id and job id (where the twins' source has a module id).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_job_codec.h"
#include "ngx_iothub_query_service.h"
#include "ngx_iothub_lua.h"


/* device ids read per command */
#define NGX_IOTHUB_JOB_QUERY_CHUNK  200


static void ngx_iothub_job_query_read(void *data, redisReply *reply);
static ngx_int_t ngx_iothub_job_query_row(ngx_iothub_query_run_t *run,
    const ngx_iothub_reply_str_t *json);
static ngx_int_t ngx_iothub_job_query_member(yajl_val doc, const char *name,
    ngx_str_t *value);


ngx_int_t
ngx_iothub_query_source_jobs(ngx_iothub_query_run_t *run)
{
    u_char       key[NGX_IOTHUB_QUERY_INDEX_LEN], count[NGX_INT_T_LEN];
    size_t       lens[5];
    const char  *argv[5];

    argv[0] = (const char *) key;
    lens[0] = ngx_iothub_key_write(key, key + sizeof(key), run->hub, NULL,
                                   "devices", NULL)
              - key;
    argv[1] = (const char *) run->hub->prefix.data;
    lens[1] = run->hub->prefix.len;
    argv[2] = (const char *) run->device_id;
    lens[2] = ngx_strlen(run->device_id);
    argv[3] = (const char *) run->module_id;
    lens[3] = ngx_strlen(run->module_id);
    argv[4] = (const char *) count;
    lens[4] = ngx_sprintf(count, "%d", NGX_IOTHUB_JOB_QUERY_CHUNK) - count;

    run->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                        NGX_IOTHUB_LUA_QUERY_JOBS,
                                        ngx_iothub_job_query_read, run, 1, 5,
                                        argv, lens);

    return run->call ? NGX_OK : NGX_DECLINED;
}


static void
ngx_iothub_job_query_read(void *data, redisReply *reply)
{
    ngx_iothub_query_run_t *run = data;

    size_t                  i, n;
    ngx_int_t               rc;
    ngx_iothub_reply_rc_e   decoded;
    ngx_iothub_reply_str_t  next, json;

    run->call = NULL;

    decoded = ngx_iothub_job_reply_rows(reply, &next, &n);

    if (!ngx_iothub_query_chunk_read(run, decoded, "query_jobs.lua")) {
        return;
    }

    rc = NGX_OK;

    for (i = 0; i < n && rc == NGX_OK; i++) {
        ngx_iothub_job_reply_row(reply, i, &json);
        rc = ngx_iothub_job_query_row(run, &json);
    }

    ngx_iothub_query_next(run, rc, next.data, next.len);
}


/* one record offered to the query; one that does not read is skipped */

static ngx_int_t
ngx_iothub_job_query_row(ngx_iothub_query_run_t *run,
    const ngx_iothub_reply_str_t *json)
{
    char       *text;
    yajl_val    doc;
    ngx_int_t   rc;
    ngx_str_t   device_id, job_id;

    text = ngx_alloc(json->len + 1, run->log);
    if (text == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(text, json->data, json->len);
    text[json->len] = '\0';

    doc = yajl_tree_parse(text, NULL, 0);
    ngx_free(text);

    if (doc == NULL
        || ngx_iothub_job_query_member(doc, "deviceId", &device_id) != NGX_OK
        || ngx_iothub_job_query_member(doc, "jobId", &job_id) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, run->log, 0,
                      "iothub: query skips an unreadable job record");
        yajl_tree_free(doc);
        return NGX_OK;
    }

    rc = ngx_iothub_query_offer(run, doc, &device_id, &job_id);

    yajl_tree_free(doc);

    return rc;
}


static ngx_int_t
ngx_iothub_job_query_member(yajl_val doc, const char *name, ngx_str_t *value)
{
    const char  *path[2];
    yajl_val     v;

    path[0] = name;
    path[1] = NULL;

    v = yajl_tree_get(doc, path, yajl_t_string);
    if (v == NULL || v->u.string[0] == '\0') {
        return NGX_ERROR;
    }

    value->data = (u_char *) v->u.string;
    value->len = ngx_strlen(v->u.string);

    return NGX_OK;
}
