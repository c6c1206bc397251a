
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * nginx-iothub: the import/export jobs' records in Redis; see
 * ngx_iothub_bulkjob.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/rand.h>

#include "ngx_iothub_lua.h"
#include "ngx_iothub_args.h"
#include "ngx_iothub_reply.h"
#include "ngx_iothub_bulkjob.h"


#define NGX_IOTHUB_BULKJOB_ID_MAX   64


static ngx_int_t ngx_iothub_bulkjob_id_valid(ngx_str_t *id);
static void ngx_iothub_bulkjob_new_id(u_char *out);
static ngx_int_t ngx_iothub_bulkjob_field(char *dst, size_t size,
    ngx_str_t *v);
static ngx_int_t ngx_iothub_bulkjob_script(ngx_iothub_bulkjob_op_t *op,
    ngx_uint_t script, ngx_iothub_redis_handler_pt handler, int nkeys,
    ngx_iothub_args_t *args);
static void ngx_iothub_bulkjob_created(void *data, redisReply *reply);
static void ngx_iothub_bulkjob_replied(void *data, redisReply *reply);
static ngx_iothub_bulkjob_result_e ngx_iothub_bulkjob_read(
    ngx_iothub_bulkjob_op_t *op, redisReply *reply);
static ngx_int_t ngx_iothub_bulkjob_copy(ngx_pool_t *pool, ngx_str_t *dst,
    ngx_iothub_reply_str_t *src);
static yajl_gen_status ngx_iothub_bulkjob_gen_str(yajl_gen g,
    const char *s);
static yajl_gen_status ngx_iothub_bulkjob_gen_value(yajl_gen g,
    ngx_str_t *v);


ngx_int_t
ngx_iothub_bulkjob_create(ngx_iothub_bulkjob_op_t *op,
    ngx_iothub_bulkjob_request_t *req)
{
    u_char              id[37], now[32], ms[NGX_INT64_LEN];
    u_char              lease[NGX_INT_T_LEN], kept[NGX_INT_T_LEN];
    u_char              k[3][NGX_IOTHUB_BULKJOB_KEY_LEN];
    ngx_str_t           job_id;
    ngx_time_t         *tp;
    ngx_iothub_args_t   args;

    ngx_iothub_bulkjob_new_id(id);
    ngx_iothub_time_now(now, sizeof(now));
    tp = ngx_timeofday();

    job_id.data = id;
    job_id.len = 36;

    op->request = req;
    args.n = 0;

    ngx_iothub_bulkjob_key_arg(&args, k[0], op->hub,
                               NGX_IOTHUB_BULKJOB_KEY_LEASE, NULL);
    ngx_iothub_bulkjob_key_arg(&args, k[1], op->hub,
                               NGX_IOTHUB_BULKJOB_KEY_JOBS, NULL);
    ngx_iothub_bulkjob_key_arg(&args, k[2], op->hub,
                               NGX_IOTHUB_BULKJOB_KEY_JOB, &job_id);

    ngx_iothub_args_add(&args, (char *) id, 36);
    ngx_iothub_args_add(&args, (char *) lease,
                        ngx_iothub_bulkjob_lease(lease) - lease);
    ngx_iothub_args_add(&args, (char *) ms,
                        ngx_sprintf(ms, "%uL",
                                    (uint64_t) tp->sec * 1000 + tp->msec)
                        - ms);
    ngx_iothub_args_add(&args, (char *) kept,
                        ngx_sprintf(kept, "%d", NGX_IOTHUB_BULKJOB_KEPT)
                        - kept);
    ngx_iothub_args_add(&args, (char *) k[2], args.lens[2] - 36);

    ngx_iothub_args_add_str(&args, "type");
    ngx_iothub_args_add_str(&args, (req->type == NGX_IOTHUB_BULKJOB_EXPORT)
                                   ? "export" : "import");
    ngx_iothub_args_add_str(&args, "status");
    ngx_iothub_args_add_str(&args, "enqueued");
    ngx_iothub_args_add_str(&args, "progress");
    ngx_iothub_args_add_str(&args, "0");
    ngx_iothub_args_add_str(&args, "startTimeUtc");
    ngx_iothub_args_add_str(&args, (char *) now);
    ngx_iothub_args_add_str(&args, "inputBlobContainerUri");
    ngx_iothub_args_add_str(&args, req->input_uri);
    ngx_iothub_args_add_str(&args, "outputBlobContainerUri");
    ngx_iothub_args_add_str(&args, req->output_uri);
    ngx_iothub_args_add_str(&args, "excludeKeysInExport");
    ngx_iothub_args_add_str(&args, req->exclude_keys ? "true" : "false");
    ngx_iothub_args_add_str(&args, "inputBlobName");
    ngx_iothub_args_add_str(&args, req->input_blob);
    ngx_iothub_args_add_str(&args, "outputBlobName");
    ngx_iothub_args_add_str(&args, req->output_blob);

    /* the runner this worker starts once the job is stored */
    ngx_iothub_bulkjob_new_id(op->runner);
    ngx_iothub_args_add_str(&args, "runner");
    ngx_iothub_args_add_str(&args, (char *) op->runner);

    return ngx_iothub_bulkjob_script(op, NGX_IOTHUB_LUA_BULKJOB_CREATE,
                                     ngx_iothub_bulkjob_created, 3, &args);
}


/* a random UUID (version 4), as Azure's job ids look */

static void
ngx_iothub_bulkjob_new_id(u_char *out)
{
    u_char  b[16], hex[33];

    if (RAND_bytes(b, sizeof(b)) != 1) {
        ngx_memzero(b, sizeof(b));
        *(ngx_msec_t *) b = ngx_current_msec;
    }

    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;

    ngx_hex_dump(hex, b, sizeof(b));

    ngx_sprintf(out, "%*s-%*s-%*s-%*s-%*s%Z", 8, hex, 4, hex + 8, 4,
                hex + 12, 4, hex + 16, 12, hex + 20);
}


ngx_int_t
ngx_iothub_bulkjob_get(ngx_iothub_bulkjob_op_t *op, ngx_str_t *id)
{
    u_char             k[2][NGX_IOTHUB_BULKJOB_KEY_LEN];
    ngx_iothub_args_t  args;

    if (id != NULL && ngx_iothub_bulkjob_id_valid(id) != NGX_OK) {
        return NGX_ABORT;
    }

    args.n = 0;

    ngx_iothub_bulkjob_key_arg(&args, k[0], op->hub,
                               NGX_IOTHUB_BULKJOB_KEY_JOBS, NULL);
    ngx_iothub_bulkjob_key_arg(&args, k[1], op->hub,
                               NGX_IOTHUB_BULKJOB_KEY_JOB, NULL);

    if (id != NULL) {
        ngx_iothub_args_add(&args, (char *) id->data, id->len);

    } else {
        ngx_iothub_args_add_str(&args, "");
    }

    return ngx_iothub_bulkjob_script(op, NGX_IOTHUB_LUA_BULKJOB_GET,
                                     ngx_iothub_bulkjob_replied, 1, &args);
}


ngx_int_t
ngx_iothub_bulkjob_claim(ngx_iothub_bulkjob_op_t *op)
{
    u_char             now[32], lease[NGX_INT_T_LEN];
    u_char             k[3][NGX_IOTHUB_BULKJOB_KEY_LEN];
    ngx_iothub_args_t  args;

    ngx_iothub_time_now(now, sizeof(now));
    ngx_iothub_bulkjob_new_id(op->runner);
    args.n = 0;

    ngx_iothub_bulkjob_key_arg(&args, k[0], op->hub,
                               NGX_IOTHUB_BULKJOB_KEY_LEASE, NULL);
    ngx_iothub_bulkjob_key_arg(&args, k[1], op->hub,
                               NGX_IOTHUB_BULKJOB_KEY_JOBS, NULL);
    ngx_iothub_bulkjob_key_arg(&args, k[2], op->hub,
                               NGX_IOTHUB_BULKJOB_KEY_JOB, NULL);
    ngx_iothub_args_add(&args, (char *) lease,
                        ngx_iothub_bulkjob_lease(lease) - lease);
    ngx_iothub_args_add_str(&args, (char *) op->runner);
    ngx_iothub_args_add_str(&args, (char *) now);
    ngx_iothub_args_add_str(&args, NGX_IOTHUB_BULKJOB_TAKEOVERS);

    return ngx_iothub_bulkjob_script(op, NGX_IOTHUB_LUA_BULKJOB_CLAIM,
                                     ngx_iothub_bulkjob_replied, 2, &args);
}


u_char *
ngx_iothub_bulkjob_lease(u_char *buf)
{
    ngx_iothub_main_conf_t  *imcf;

    imcf = (ngx_iothub_main_conf_t *)
               ngx_get_conf(ngx_cycle->conf_ctx, ngx_iothub_module);

    return ngx_sprintf(buf, "%M", imcf->job_lease);
}


ngx_int_t
ngx_iothub_bulkjob_record_request(ngx_iothub_bulkjob_record_t *rec,
    ngx_iothub_bulkjob_request_t *req)
{
    ngx_str_t  *v;

    v = rec->value;

    ngx_memzero(req, sizeof(ngx_iothub_bulkjob_request_t));

    req->type = (v[NGX_IOTHUB_BULKJOB_F_TYPE].len == sizeof("export") - 1
                 && ngx_strncmp(v[NGX_IOTHUB_BULKJOB_F_TYPE].data, "export",
                                sizeof("export") - 1) == 0)
                ? NGX_IOTHUB_BULKJOB_EXPORT : NGX_IOTHUB_BULKJOB_IMPORT;
    req->exclude_keys = (v[NGX_IOTHUB_BULKJOB_F_EXCLUDE_KEYS].len == 4);

    if (ngx_iothub_bulkjob_field(req->input_uri, sizeof(req->input_uri),
                                 &v[NGX_IOTHUB_BULKJOB_F_INPUT_URI])
        != NGX_OK
        || ngx_iothub_bulkjob_field(req->output_uri, sizeof(req->output_uri),
                                    &v[NGX_IOTHUB_BULKJOB_F_OUTPUT_URI])
           != NGX_OK
        || ngx_iothub_bulkjob_field(req->input_blob, sizeof(req->input_blob),
                                    &v[NGX_IOTHUB_BULKJOB_F_INPUT_BLOB])
           != NGX_OK
        || ngx_iothub_bulkjob_field(req->output_blob,
                                    sizeof(req->output_blob),
                                    &v[NGX_IOTHUB_BULKJOB_F_OUTPUT_BLOB])
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a NUL-terminated copy of a field that must fit */

static ngx_int_t
ngx_iothub_bulkjob_field(char *dst, size_t size, ngx_str_t *v)
{
    if (v->len >= size) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst, v->data, v->len);
    dst[v->len] = '\0';

    return NGX_OK;
}


void
ngx_iothub_bulkjob_key_arg(ngx_iothub_args_t *args, u_char *buf,
    ngx_iothub_hub_t *hub, const char *suffix, ngx_str_t *id)
{
    ngx_iothub_args_add(args, (char *) buf,
                        ngx_iothub_key_write(buf,
                                             buf + NGX_IOTHUB_BULKJOB_KEY_LEN,
                                             hub, NULL, suffix, id)
                        - buf);
}


ngx_int_t
ngx_iothub_bulkjob_cancel(ngx_iothub_bulkjob_op_t *op, ngx_str_t *id)
{
    u_char             now[32];
    u_char             k[2][NGX_IOTHUB_BULKJOB_KEY_LEN];
    ngx_iothub_args_t  args;

    if (ngx_iothub_bulkjob_id_valid(id) != NGX_OK) {
        return NGX_ABORT;
    }

    ngx_iothub_time_now(now, sizeof(now));
    args.n = 0;

    ngx_iothub_bulkjob_key_arg(&args, k[0], op->hub,
                               NGX_IOTHUB_BULKJOB_KEY_LEASE, NULL);
    ngx_iothub_bulkjob_key_arg(&args, k[1], op->hub,
                               NGX_IOTHUB_BULKJOB_KEY_JOB, id);
    ngx_iothub_args_add(&args, (char *) id->data, id->len);
    ngx_iothub_args_add_str(&args, (char *) now);

    return ngx_iothub_bulkjob_script(op, NGX_IOTHUB_LUA_BULKJOB_CANCEL,
                                     ngx_iothub_bulkjob_replied, 2, &args);
}


/* starts a bulk job script for op: NGX_OK, NGX_DECLINED or NGX_ERROR */

static ngx_int_t
ngx_iothub_bulkjob_script(ngx_iothub_bulkjob_op_t *op, ngx_uint_t script,
    ngx_iothub_redis_handler_pt handler, int nkeys, ngx_iothub_args_t *args)
{
    if (!ngx_iothub_args_ok(args)) {
        return NGX_ERROR;
    }

    op->call = ngx_iothub_redis_script(ngx_iothub_redis_link(), script,
                                       handler, op, nkeys, args->n,
                                       args->argv, args->lens);

    return op->call ? NGX_OK : NGX_DECLINED;
}


/* job ids are ours: up to 64 letters, digits and "-" */

static ngx_int_t
ngx_iothub_bulkjob_id_valid(ngx_str_t *id)
{
    ngx_uint_t  i;

    if (id->len == 0 || id->len > NGX_IOTHUB_BULKJOB_ID_MAX) {
        return NGX_DECLINED;
    }

    for (i = 0; i < id->len; i++) {
        if (!isalnum(id->data[i]) && id->data[i] != '-') {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static void
ngx_iothub_bulkjob_created(void *data, redisReply *reply)
{
    ngx_iothub_bulkjob_op_t *op = data;

    op->call = NULL;
    op->result = ngx_iothub_bulkjob_read(op, reply);

    if (op->result == NGX_IOTHUB_BULKJOB_OK
        && ngx_iothub_bulkjob_run(op->hub, &op->records[0].id, op->request,
                                  op->runner, NULL)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "iothub: could not start the job \"%V\"",
                      &op->records[0].id);
    }

    op->handler(op);
}


static void
ngx_iothub_bulkjob_replied(void *data, redisReply *reply)
{
    ngx_iothub_bulkjob_op_t *op = data;

    op->call = NULL;
    op->result = ngx_iothub_bulkjob_read(op, reply);

    op->handler(op);
}


static ngx_iothub_bulkjob_result_e
ngx_iothub_bulkjob_read(ngx_iothub_bulkjob_op_t *op, redisReply *reply)
{
    size_t                        i, f, n;
    ngx_iothub_reply_str_t        id;
    ngx_iothub_reply_record_t     rec;
    ngx_iothub_bulkjob_record_t  *r;

    switch (ngx_iothub_reply_records(reply, &n)) {

    case NGX_IOTHUB_REPLY_OK:
        break;

    case NGX_IOTHUB_REPLY_FULL:
        return NGX_IOTHUB_BULKJOB_BUSY;

    case NGX_IOTHUB_REPLY_NOT_FOUND:
        return NGX_IOTHUB_BULKJOB_NOT_FOUND;

    case NGX_IOTHUB_REPLY_LOST:
        return NGX_IOTHUB_BULKJOB_UNAVAILABLE;

    default:
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "iothub: unexpected reply to a job's script");
        return NGX_IOTHUB_BULKJOB_FAILED;
    }

    op->records = ngx_pcalloc(op->pool,
                              (n + 1) * sizeof(ngx_iothub_bulkjob_record_t));
    if (op->records == NULL) {
        return NGX_IOTHUB_BULKJOB_FAILED;
    }

    op->nrecords = n;

    for (i = 0; i < n; i++) {
        r = &op->records[i];

        ngx_iothub_reply_record(reply, i, ngx_iothub_reply_bulkjob_names,
                                NGX_IOTHUB_REPLY_BULKJOB_FIELDS, &rec);

        id.data = (const unsigned char *) reply->element[i]->element[0]->str;
        id.len = reply->element[i]->element[0]->len;

        if (ngx_iothub_bulkjob_copy(op->pool, &r->id, &id) != NGX_OK) {
            return NGX_IOTHUB_BULKJOB_FAILED;
        }

        for (f = 0; f < NGX_IOTHUB_BULKJOB_F_COUNT; f++) {
            if (ngx_iothub_bulkjob_copy(op->pool, &r->value[f],
                                        &rec.value[f])
                != NGX_OK)
            {
                return NGX_IOTHUB_BULKJOB_FAILED;
            }
        }
    }

    return NGX_IOTHUB_BULKJOB_OK;
}


static ngx_int_t
ngx_iothub_bulkjob_copy(ngx_pool_t *pool, ngx_str_t *dst,
    ngx_iothub_reply_str_t *src)
{
    dst->len = src->len;

    if (src->len == 0) {
        dst->data = (u_char *) "";
        return NGX_OK;
    }

    dst->data = ngx_pnalloc(pool, src->len);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);

    return NGX_OK;
}


void
ngx_iothub_bulkjob_op_cancel(ngx_iothub_bulkjob_op_t *op)
{
    if (op->call) {
        ngx_iothub_redis_cancel(op->call);
        op->call = NULL;
    }
}


int
ngx_iothub_bulkjob_gen(yajl_gen g, ngx_iothub_bulkjob_record_t *rec)
{
    ngx_str_t       *v;
    ngx_int_t        progress;
    yajl_gen_status  st;

    v = rec->value;

    st = yajl_gen_map_open(g);

#define gen(call)  if (st == yajl_gen_status_ok) st = (call)

    gen(ngx_iothub_bulkjob_gen_str(g, "jobId"));
    gen(ngx_iothub_bulkjob_gen_value(g, &rec->id));
    gen(ngx_iothub_bulkjob_gen_str(g, "type"));
    gen(ngx_iothub_bulkjob_gen_value(g, &v[NGX_IOTHUB_BULKJOB_F_TYPE]));
    gen(ngx_iothub_bulkjob_gen_str(g, "status"));
    gen(ngx_iothub_bulkjob_gen_value(g, &v[NGX_IOTHUB_BULKJOB_F_STATUS]));

    progress = ngx_atoi(v[NGX_IOTHUB_BULKJOB_F_PROGRESS].data,
                        v[NGX_IOTHUB_BULKJOB_F_PROGRESS].len);

    gen(ngx_iothub_bulkjob_gen_str(g, "progress"));
    gen(yajl_gen_integer(g, (progress < 0) ? 0 : progress));
    gen(ngx_iothub_bulkjob_gen_str(g, "startTimeUtc"));
    gen(ngx_iothub_bulkjob_gen_value(g, &v[NGX_IOTHUB_BULKJOB_F_START]));

    if (v[NGX_IOTHUB_BULKJOB_F_END].len) {
        gen(ngx_iothub_bulkjob_gen_str(g, "endTimeUtc"));
        gen(ngx_iothub_bulkjob_gen_value(g, &v[NGX_IOTHUB_BULKJOB_F_END]));
    }

    if (v[NGX_IOTHUB_BULKJOB_F_INPUT_URI].len) {
        gen(ngx_iothub_bulkjob_gen_str(g, "inputBlobContainerUri"));
        gen(ngx_iothub_bulkjob_gen_value(g,
                                    &v[NGX_IOTHUB_BULKJOB_F_INPUT_URI]));
        gen(ngx_iothub_bulkjob_gen_str(g, "inputBlobName"));
        gen(ngx_iothub_bulkjob_gen_value(g,
                                    &v[NGX_IOTHUB_BULKJOB_F_INPUT_BLOB]));
    }

    gen(ngx_iothub_bulkjob_gen_str(g, "outputBlobContainerUri"));
    gen(ngx_iothub_bulkjob_gen_value(g, &v[NGX_IOTHUB_BULKJOB_F_OUTPUT_URI]));
    gen(ngx_iothub_bulkjob_gen_str(g, "outputBlobName"));
    gen(ngx_iothub_bulkjob_gen_value(g,
                                     &v[NGX_IOTHUB_BULKJOB_F_OUTPUT_BLOB]));
    gen(ngx_iothub_bulkjob_gen_str(g, "excludeKeysInExport"));
    gen(yajl_gen_bool(g, v[NGX_IOTHUB_BULKJOB_F_EXCLUDE_KEYS].len == 4));
    gen(ngx_iothub_bulkjob_gen_str(g, "storageAuthenticationType"));
    gen(ngx_iothub_bulkjob_gen_str(g, "keyBased"));

    if (v[NGX_IOTHUB_BULKJOB_F_FAILURE].len) {
        gen(ngx_iothub_bulkjob_gen_str(g, "failureReason"));
        gen(ngx_iothub_bulkjob_gen_value(g,
                                         &v[NGX_IOTHUB_BULKJOB_F_FAILURE]));
    }

    gen(yajl_gen_map_close(g));

#undef gen

    return st;
}


static yajl_gen_status
ngx_iothub_bulkjob_gen_str(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *) s, ngx_strlen(s));
}


static yajl_gen_status
ngx_iothub_bulkjob_gen_value(yajl_gen g, ngx_str_t *v)
{
    return yajl_gen_string(g, v->data, v->len);
}
