
/*
 * nginx-iothub: the query service; see ngx_iothub_query_service.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_query_service.h"
#include "ngx_iothub_twin_service.h"
#include "ngx_iothub_reply.h"
#include "ngx_iothub_args.h"
#include "ngx_iothub_lua.h"


#define NGX_IOTHUB_QUERY_KEY_LEN  320


static void ngx_iothub_query_index(ngx_iothub_query_run_t *run);
static ngx_int_t ngx_iothub_query_source_twins(ngx_iothub_query_run_t *run);
static void ngx_iothub_query_chunk_done(void *data, redisReply *reply);
static ngx_int_t ngx_iothub_query_chunk(ngx_iothub_query_run_t *run,
    redisReply *reply, size_t n);
static ngx_int_t ngx_iothub_query_twin(ngx_iothub_query_run_t *run,
    redisReply *reply, size_t i);
static yajl_val ngx_iothub_query_doc(ngx_iothub_query_run_t *run,
    ngx_iothub_twin_t *t, ngx_iothub_identity_t *id);
static void ngx_iothub_query_place(ngx_iothub_query_run_t *run,
    const u_char *device_id, size_t dlen, const u_char *module_id,
    size_t mlen);


/* the row source of each collection, by ngx_iothub_query_collection_e */
static ngx_iothub_query_source_pt  ngx_iothub_query_sources[] = {
    ngx_iothub_query_source_twins,        /* devices */
    ngx_iothub_query_source_twins,        /* devices.modules */
    ngx_iothub_query_source_jobs          /* devices.jobs */
};


ngx_int_t
ngx_iothub_query_run(ngx_iothub_query_run_t *run)
{
    ngx_int_t  rc;

    run->examined = 0;
    run->call = NULL;
    run->result = NGX_IOTHUB_QUERY_RUN_END;
    run->source = ngx_iothub_query_sources[
                      ngx_iothub_query_collection(run->query)];

    run->gen = yajl_gen_alloc(NULL);
    if (run->gen == NULL) {
        return NGX_ERROR;
    }

    ngx_iothub_query_index(run);

    rc = run->source(run);

    if (rc != NGX_OK) {
        yajl_gen_free(run->gen);
        run->gen = NULL;
    }

    return rc;
}


void
ngx_iothub_query_cancel(ngx_iothub_query_run_t *run)
{
    if (run->call) {
        ngx_iothub_redis_cancel(run->call);
        run->call = NULL;
    }

    if (run->gen) {
        yajl_gen_free(run->gen);
        run->gen = NULL;
    }
}


/* the tag index set a devices query may walk instead of every device */

static void
ngx_iothub_query_index(ngx_iothub_query_run_t *run)
{
    u_char  *last;
    char     path[256], value[512];

    run->index_len = 0;

    if (ngx_iothub_query_collection(run->query) != NGX_IOTHUB_QUERY_DEVICES
        || !ngx_iothub_query_tag_equality(run->query, path, sizeof(path),
                                          value, sizeof(value)))
    {
        return;
    }

    last = ngx_slprintf(run->index, run->index + sizeof(run->index),
                        "%Vtagidx:%s\n%s", &run->hub->prefix, path, value);

    if (last < run->index + sizeof(run->index)) {
        run->index_len = last - run->index;
    }
}


/* query_scan.lua over the hub's device index, or a tag index */

static ngx_int_t
ngx_iothub_query_source_twins(ngx_iothub_query_run_t *run)
{
    u_char              key[NGX_IOTHUB_QUERY_KEY_LEN], count[NGX_INT_T_LEN];
    u_char              ready[NGX_IOTHUB_QUERY_KEY_LEN];
    u_char             *last, *ready_last;
    int                 nkeys;
    const char         *mode;
    ngx_iothub_args_t   args;

    args.n = 0;

    last = ngx_iothub_key_write(key, key + sizeof(key), run->hub, NULL,
                                "devices", NULL);
    ngx_iothub_args_add(&args, (char *) key, last - key);
    nkeys = 1;

    if (run->index_len) {
        ready_last = ngx_iothub_key_write(ready, ready + sizeof(ready),
                                          run->hub, NULL, "tagidx:ready",
                                          NULL);
        ngx_iothub_args_add(&args, (char *) run->index, run->index_len);
        ngx_iothub_args_add(&args, (char *) ready, ready_last - ready);
        nkeys = 3;
    }

    ngx_iothub_args_add(&args, (char *) run->hub->prefix.data,
                        run->hub->prefix.len);
    ngx_iothub_args_add_str(&args, (char *) run->device_id);
    ngx_iothub_args_add_str(&args, (char *) run->module_id);

    last = ngx_sprintf(count, "%ui", (ngx_uint_t) NGX_IOTHUB_QUERY_CHUNK);
    ngx_iothub_args_add(&args, (char *) count, last - count);

    mode = (ngx_iothub_query_collection(run->query)
            == NGX_IOTHUB_QUERY_MODULES) ? "modules" : "devices";
    ngx_iothub_args_add_str(&args, mode);

    if (!ngx_iothub_args_ok(&args)) {
        return NGX_ERROR;
    }

    run->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                        NGX_IOTHUB_LUA_QUERY_SCAN,
                                        ngx_iothub_query_chunk_done, run,
                                        nkeys, args.n, args.argv, args.lens);

    return run->call ? NGX_OK : NGX_DECLINED;
}


static void
ngx_iothub_query_chunk_done(void *data, redisReply *reply)
{
    ngx_iothub_query_run_t *run = data;

    size_t                  n;
    ngx_int_t               rc;
    ngx_iothub_reply_rc_e   decoded;
    ngx_iothub_reply_str_t  next;

    run->call = NULL;

    /* the reply is read only here: what follows takes copies */

    decoded = ngx_iothub_reply_query_chunk(reply, &next, &n);

    if (!ngx_iothub_query_chunk_read(run, decoded, "query_scan.lua")) {
        return;
    }

    rc = ngx_iothub_query_chunk(run, reply, n);

    ngx_iothub_query_next(run, rc, next.data, next.len);
}


int
ngx_iothub_query_chunk_read(ngx_iothub_query_run_t *run,
    ngx_iothub_reply_rc_e rc, const char *script)
{
    switch (rc) {

    case NGX_IOTHUB_REPLY_OK:
        return 1;

    case NGX_IOTHUB_REPLY_LOST:
        ngx_iothub_query_finish(run, NGX_IOTHUB_QUERY_RUN_UNAVAILABLE);
        return 0;

    default:
        ngx_log_error(NGX_LOG_ERR, run->log, 0,
                      "iothub: unexpected reply of %s", script);
        ngx_iothub_query_finish(run, NGX_IOTHUB_QUERY_RUN_FAILED);
        return 0;
    }
}


void
ngx_iothub_query_next(ngx_iothub_query_run_t *run, ngx_int_t rc,
    const u_char *next, size_t len)
{
    switch (rc) {

    case NGX_OK:
        break;

    case NGX_DONE:
        ngx_iothub_query_finish(run, NGX_IOTHUB_QUERY_RUN_MORE);
        return;

    case NGX_DECLINED:
        ngx_iothub_query_finish(run, NGX_IOTHUB_QUERY_RUN_END);
        return;

    default:
        ngx_iothub_query_finish(run, NGX_IOTHUB_QUERY_RUN_FAILED);
        return;
    }

    if (len == 0) {
        ngx_iothub_query_finish(run, NGX_IOTHUB_QUERY_RUN_END);
        return;
    }

    /* the whole chunk was seen: on after its last device */

    ngx_iothub_query_place(run, next, len, NULL, 0);

    if (run->budget && run->examined >= run->budget) {
        ngx_iothub_query_finish(run, NGX_IOTHUB_QUERY_RUN_MORE);
        return;
    }

    switch (run->source(run)) {

    case NGX_OK:
        return;

    case NGX_DECLINED:
        ngx_iothub_query_finish(run, NGX_IOTHUB_QUERY_RUN_UNAVAILABLE);
        return;

    default:
        ngx_iothub_query_finish(run, NGX_IOTHUB_QUERY_RUN_FAILED);
        return;
    }
}


/* NGX_OK: every twin seen; else the row handler's answer that stopped */

static ngx_int_t
ngx_iothub_query_chunk(ngx_iothub_query_run_t *run, redisReply *reply,
    size_t n)
{
    size_t     i;
    ngx_int_t  rc;

    for (i = 0; i < n; i++) {
        rc = ngx_iothub_query_twin(run, reply, i);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_iothub_query_twin(ngx_iothub_query_run_t *run, redisReply *reply,
    size_t i)
{
    long long               count;
    yajl_val                doc;
    ngx_int_t               rc;
    ngx_str_t               device_id, module_id;
    ngx_iothub_twin_t       t;
    ngx_iothub_identity_t   id;
    ngx_iothub_reply_rc_e   rrc;

    if (ngx_iothub_twin_init(&t, NULL) != NGX_IOTHUB_TWIN_OK) {
        return NGX_ERROR;
    }

    rrc = ngx_iothub_reply_query_twin(reply, i, &t, &id, &count);

    if (rrc != NGX_IOTHUB_REPLY_OK) {
        ngx_iothub_twin_free(&t);

        if (rrc == NGX_IOTHUB_REPLY_NO_MEMORY) {
            return NGX_ERROR;
        }

        /* one unreadable twin does not fail a query over all of them */

        ngx_log_error(NGX_LOG_WARN, run->log, 0,
                      "iothub: query skips an unreadable twin");
        return NGX_OK;
    }

    id.c2d_count = (long) count;

    doc = ngx_iothub_query_doc(run, &t, &id);

    ngx_iothub_twin_free(&t);

    if (doc == NULL) {
        return NGX_ERROR;
    }

    device_id.data = (u_char *) id.device_id;
    device_id.len = ngx_strlen(id.device_id);
    module_id.data = (u_char *) id.module_id;
    module_id.len = ngx_strlen(id.module_id);

    rc = ngx_iothub_query_offer(run, doc, &device_id, &module_id);

    yajl_tree_free(doc);

    return rc;
}


ngx_int_t
ngx_iothub_query_offer(ngx_iothub_query_run_t *run, yajl_val doc,
    ngx_str_t *device_id, ngx_str_t *module_id)
{
    ngx_int_t  rc;

    run->examined++;

    if (!ngx_iothub_query_match(run->query, doc)) {
        return NGX_OK;
    }

    rc = run->row(run, doc, device_id, module_id);

    if (rc == NGX_OK) {
        ngx_iothub_query_place(run, device_id->data, device_id->len,
                               module_id->data, module_id->len);
    }

    return rc;
}


/* the twin's service view, as the document queries see */

static yajl_val
ngx_iothub_query_doc(ngx_iothub_query_run_t *run, ngx_iothub_twin_t *t,
    ngx_iothub_identity_t *id)
{
    char                         etag[NGX_IOTHUB_TWIN_ETAG_LEN + 1], err[128];
    char                        *text;
    size_t                       len;
    yajl_val                     doc;
    const unsigned char         *json;
    ngx_iothub_twin_rc_e         rc;
    ngx_iothub_twin_identity_t   ti;

    yajl_gen_clear(run->gen);
    yajl_gen_reset(run->gen, NULL);

    ngx_iothub_twin_view_identity(id, t->version, etag, &ti);

    rc = ngx_iothub_twin_service_view(t, &ti, run->gen, err, sizeof(err));

    if (rc != NGX_IOTHUB_TWIN_OK
        || yajl_gen_get_buf(run->gen, &json, &len) != yajl_gen_status_ok)
    {
        ngx_log_error(NGX_LOG_ERR, run->log, 0,
                      "iothub: query cannot render the twin of \"%s\": %s",
                      id->device_id, err);
        return NULL;
    }

    text = ngx_alloc(len + 1, run->log);
    if (text == NULL) {
        return NULL;
    }

    ngx_memcpy(text, json, len);
    text[len] = '\0';

    doc = yajl_tree_parse(text, NULL, 0);

    ngx_free(text);

    return doc;
}


static void
ngx_iothub_query_place(ngx_iothub_query_run_t *run, const u_char *device_id,
    size_t dlen, const u_char *module_id, size_t mlen)
{
    dlen = ngx_min(dlen, NGX_IOTHUB_QUERY_ID_LEN);
    mlen = ngx_min(mlen, NGX_IOTHUB_QUERY_ID_LEN);

    ngx_memcpy(run->device_id, device_id, dlen);
    run->device_id[dlen] = '\0';

    if (mlen) {
        ngx_memcpy(run->module_id, module_id, mlen);
    }

    run->module_id[mlen] = '\0';
}


void
ngx_iothub_query_finish(ngx_iothub_query_run_t *run,
    ngx_iothub_query_run_result_e result)
{
    run->result = result;

    if (run->gen) {
        yajl_gen_free(run->gen);
        run->gen = NULL;
    }

    run->done(run);
}
