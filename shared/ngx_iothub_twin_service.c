
/*
 * nginx-iothub: the twin service; see ngx_iothub_twin_service.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_twin_service.h"
#include "ngx_iothub_log.h"
#include "ngx_iothub_reply.h"
#include "ngx_iothub_lua.h"


/* writers racing on one twin retry from the read this often */
#define NGX_IOTHUB_TWIN_ATTEMPTS   8
#define NGX_IOTHUB_TWIN_KEY_LEN    320


typedef struct {
    u_char                     twin[NGX_IOTHUB_TWIN_KEY_LEN];
    u_char                     identity[NGX_IOTHUB_TWIN_KEY_LEN];
    u_char                     presence[NGX_IOTHUB_TWIN_KEY_LEN];
    u_char                     queue[NGX_IOTHUB_TWIN_KEY_LEN];
    size_t                     len[4];
} ngx_iothub_twin_keys_t;


static ngx_int_t ngx_iothub_twin_read(ngx_iothub_twin_op_t *op);
static void ngx_iothub_twin_read_done(void *data, redisReply *reply);
static ngx_iothub_reply_rc_e ngx_iothub_twin_load(ngx_iothub_twin_op_t *op,
    redisReply *reply);
static ngx_int_t ngx_iothub_twin_apply(ngx_iothub_twin_op_t *op);
static ngx_int_t ngx_iothub_twin_write(ngx_iothub_twin_op_t *op,
    int64_t read_version);
static void ngx_iothub_twin_write_done(void *data, redisReply *reply);
static void ngx_iothub_twin_finish(ngx_iothub_twin_op_t *op,
    ngx_iothub_twin_result_e result);
static size_t ngx_iothub_twin_key(ngx_iothub_twin_op_t *op, u_char *buf,
    const char *suffix, ngx_str_t *module_id);
static void ngx_iothub_twin_keys(ngx_iothub_twin_op_t *op,
    ngx_iothub_twin_keys_t *k);


ngx_int_t
ngx_iothub_twin_run(ngx_iothub_twin_op_t *op)
{
    ngx_int_t  rc;

    op->attempts = 0;
    op->notify = NULL;
    op->err[0] = '\0';

    if (ngx_iothub_twin_init(&op->twin, NULL) != NGX_IOTHUB_TWIN_OK) {
        return NGX_ERROR;
    }

    rc = ngx_iothub_twin_read(op);

    if (rc != NGX_OK) {
        ngx_iothub_twin_free(&op->twin);
    }

    return rc;
}


void
ngx_iothub_twin_cancel(ngx_iothub_twin_op_t *op)
{
    if (op->call) {
        ngx_iothub_redis_cancel(op->call);
        op->call = NULL;
        ngx_iothub_twin_free(&op->twin);
        free(op->notify);
        op->notify = NULL;
    }
}


static ngx_int_t
ngx_iothub_twin_read(ngx_iothub_twin_op_t *op)
{
    size_t                   lens[3];
    const char              *argv[3];
    ngx_iothub_twin_keys_t   k;

    ngx_iothub_twin_keys(op, &k);

    argv[0] = (char *) k.twin;
    argv[1] = (char *) k.identity;
    argv[2] = (char *) k.queue;
    lens[0] = k.len[0];
    lens[1] = k.len[1];
    lens[2] = k.len[3];

    op->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                       NGX_IOTHUB_LUA_TWIN_READ,
                                       ngx_iothub_twin_read_done, op, 3, 3,
                                       argv, lens);

    return op->call ? NGX_OK : NGX_DECLINED;
}


static void
ngx_iothub_twin_read_done(void *data, redisReply *reply)
{
    ngx_iothub_twin_op_t *op = data;

    int64_t  version;

    op->call = NULL;

    switch (ngx_iothub_twin_load(op, reply)) {

    case NGX_IOTHUB_REPLY_OK:
        break;

    case NGX_IOTHUB_REPLY_LOST:
        ngx_iothub_twin_finish(op, NGX_IOTHUB_TWIN_UNAVAILABLE);
        return;

    case NGX_IOTHUB_REPLY_NOT_FOUND:
        ngx_iothub_twin_finish(op, NGX_IOTHUB_TWIN_NOT_FOUND);
        return;

    default:
        ngx_iothub_twin_finish(op, NGX_IOTHUB_TWIN_FAILED);
        return;
    }

    if (op->kind == NGX_IOTHUB_TWIN_GET) {
        ngx_iothub_twin_finish(op, NGX_IOTHUB_TWIN_DONE);
        return;
    }

    version = op->twin.version;

    if (ngx_iothub_twin_apply(op) != NGX_OK) {
        return;
    }

    if (ngx_iothub_twin_write(op, version) != NGX_OK) {
        ngx_iothub_twin_finish(op, NGX_IOTHUB_TWIN_UNAVAILABLE);
    }
}


/* twin_read.lua answered: a fresh twin, the identity, the queue length */

static ngx_iothub_reply_rc_e
ngx_iothub_twin_load(ngx_iothub_twin_op_t *op, redisReply *reply)
{
    long long              count;
    ngx_iothub_reply_rc_e  rc;

    ngx_iothub_twin_free(&op->twin);

    /* a failed init holds nothing: finishing frees nothing twice */

    if (ngx_iothub_twin_init(&op->twin, NULL) != NGX_IOTHUB_TWIN_OK) {
        return NGX_IOTHUB_REPLY_NO_MEMORY;
    }

    rc = ngx_iothub_reply_twin_read(reply, &op->twin, &op->identity, &count);

    if (rc == NGX_IOTHUB_REPLY_OK) {
        op->identity.c2d_count = (long) count;
    }

    return rc;
}


/* checks If-Match and runs the engine; finishes the op on refusal */

static ngx_int_t
ngx_iothub_twin_apply(ngx_iothub_twin_op_t *op)
{
    u_char                now[40];
    char                  etag[NGX_IOTHUB_TWIN_ETAG_LEN + 1];
    ngx_iothub_twin_rc_e  rc;

    if (op->if_match.len
        && !(op->if_match.len == 1 && op->if_match.data[0] == '*'))
    {
        ngx_iothub_twin_etag(op->twin.version, etag);

        if (op->if_match.len != ngx_strlen(etag)
            || ngx_strncmp(op->if_match.data, etag, op->if_match.len) != 0)
        {
            ngx_iothub_twin_finish(op, NGX_IOTHUB_TWIN_ETAG_MISMATCH);
            return NGX_ERROR;
        }
    }

    ngx_iothub_time_now(now, sizeof(now));
    free(op->notify);
    op->notify = NULL;

    switch (op->kind) {

    case NGX_IOTHUB_TWIN_PATCH_REPORTED:
        rc = ngx_iothub_twin_patch_reported(&op->twin, (char *) op->body.data,
                                            op->body.len, (char *) now,
                                            op->err, sizeof(op->err));
        break;

    case NGX_IOTHUB_TWIN_PATCH:
        rc = ngx_iothub_twin_service_patch(&op->twin, (char *) op->body.data,
                                           op->body.len, (char *) now,
                                           &op->notify, op->err,
                                           sizeof(op->err));
        break;

    default: /* NGX_IOTHUB_TWIN_REPLACE */
        rc = ngx_iothub_twin_service_replace(&op->twin,
                                             (char *) op->body.data,
                                             op->body.len, (char *) now,
                                             &op->notify, op->err,
                                             sizeof(op->err));
    }

    op->engine_rc = rc;

    if (rc != NGX_IOTHUB_TWIN_OK) {
        ngx_iothub_twin_finish(op, (rc == NGX_IOTHUB_TWIN_CORRUPT
                                    || rc == NGX_IOTHUB_TWIN_NO_MEMORY)
                                   ? NGX_IOTHUB_TWIN_FAILED
                                   : NGX_IOTHUB_TWIN_REFUSED);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_iothub_twin_write(ngx_iothub_twin_op_t *op, int64_t read_version)
{
    int                      i, n, argc;
    char                    *body;
    u_char                   version[NGX_INT64_LEN + 1];
    u_char                   desired[NGX_INT64_LEN + 1];
    size_t                   lens[3 + 3 + 2 * NGX_IOTHUB_TWIN_NFIELDS];
    char                     scratch[NGX_IOTHUB_TWIN_SCRATCH];
    const char              *argv[3 + 3 + 2 * NGX_IOTHUB_TWIN_NFIELDS];
    const char              *names[NGX_IOTHUB_TWIN_NFIELDS];
    const char              *values[NGX_IOTHUB_TWIN_NFIELDS];
    size_t                   vlens[NGX_IOTHUB_TWIN_NFIELDS];
    ngx_iothub_twin_keys_t   k;

    body = NULL;

    if (op->notify
        && ngx_iothub_twin_notification(op->notify, ngx_strlen(op->notify),
                                        op->twin.desired_version, &body,
                                        op->err, sizeof(op->err))
           != NGX_IOTHUB_TWIN_OK)
    {
        return NGX_ERROR;
    }

    ngx_iothub_twin_keys(op, &k);

    argv[0] = (char *) k.twin;
    argv[1] = (char *) k.identity;
    argv[2] = (char *) k.presence;
    ngx_memcpy(lens, k.len, 3 * sizeof(size_t));

    argv[3] = (char *) version;
    lens[3] = ngx_sprintf(version, "%L", read_version) - version;
    argv[4] = body ? body : "";
    lens[4] = body ? ngx_strlen(body) : 0;
    argv[5] = (char *) desired;
    lens[5] = ngx_sprintf(desired, "%L", op->twin.desired_version) - desired;

    n = ngx_iothub_twin_fields(&op->twin, names, values, vlens, scratch);
    argc = 6;

    for (i = 0; i < n; i++) {
        argv[argc] = names[i];
        lens[argc++] = ngx_strlen(names[i]);
        argv[argc] = values[i];
        lens[argc++] = vlens[i];
    }

    op->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                       NGX_IOTHUB_LUA_TWIN_WRITE,
                                       ngx_iothub_twin_write_done, op, 3,
                                       argc, argv, lens);
    free(body);

    return op->call ? NGX_OK : NGX_DECLINED;
}


static void
ngx_iothub_twin_write_done(void *data, redisReply *reply)
{
    ngx_iothub_twin_op_t *op = data;

    ngx_iothub_log_buf_t    lb;
    ngx_iothub_reply_rc_e   rc;
    ngx_iothub_reply_str_t  err;

    op->call = NULL;

    rc = ngx_iothub_reply_check(reply);

    switch (rc) {

    case NGX_IOTHUB_REPLY_OK:
        ngx_iothub_twin_finish(op, NGX_IOTHUB_TWIN_DONE);
        return;

    case NGX_IOTHUB_REPLY_LOST:
        ngx_iothub_twin_finish(op, NGX_IOTHUB_TWIN_UNAVAILABLE);
        return;

    case NGX_IOTHUB_REPLY_NOT_FOUND:
        ngx_iothub_twin_finish(op, NGX_IOTHUB_TWIN_NOT_FOUND);
        return;

    default:
        break;
    }

    if (rc != NGX_IOTHUB_REPLY_CONFLICT
        || ++op->attempts == NGX_IOTHUB_TWIN_ATTEMPTS)
    {
        ngx_iothub_reply_error_text(reply, &err);
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "iothub twin: write failed: \"%V\"",
                      ngx_iothub_log_str(&lb, (u_char *) err.data, err.len));
        ngx_iothub_twin_finish(op, NGX_IOTHUB_TWIN_FAILED);
        return;
    }

    /* another writer won: read again and reapply */

    if (ngx_iothub_twin_read(op) != NGX_OK) {
        ngx_iothub_twin_finish(op, NGX_IOTHUB_TWIN_UNAVAILABLE);
    }
}


static void
ngx_iothub_twin_finish(ngx_iothub_twin_op_t *op,
    ngx_iothub_twin_result_e result)
{
    char               *notify;
    ngx_iothub_twin_t   twin;

    /* the handler may free op: its texts are freed from copies */

    twin = op->twin;
    notify = op->notify;

    op->result = result;
    op->handler(op);

    ngx_iothub_twin_free(&twin);
    free(notify);
}


static void
ngx_iothub_twin_keys(ngx_iothub_twin_op_t *op, ngx_iothub_twin_keys_t *k)
{
    ngx_str_t  *m;

    m = op->module_id.len ? &op->module_id : NULL;

    k->len[0] = ngx_iothub_twin_key(op, k->twin, m ? "twin:" : "twin", m);
    k->len[1] = ngx_iothub_twin_key(op, k->identity,
                                    m ? "module:" : "device", m);
    k->len[2] = ngx_iothub_twin_key(op, k->presence,
                                    m ? "presence:" : "presence", m);

    /* modules have no cloud-to-device queue: an absent key counts 0 */
    k->len[3] = ngx_iothub_twin_key(op, k->queue, m ? "c2d:none" : "c2d",
                                    NULL);
}


static size_t
ngx_iothub_twin_key(ngx_iothub_twin_op_t *op, u_char *buf,
    const char *suffix, ngx_str_t *module_id)
{
    return ngx_iothub_key_write(buf, buf + NGX_IOTHUB_TWIN_KEY_LEN, op->hub,
                                &op->device_id, suffix, module_id)
           - buf;
}


u_char *
ngx_iothub_twin_error_body(u_char *buf, ngx_uint_t code, const char *message)
{
    u_char  now[40], *last;

    ngx_iothub_time_now(now, sizeof(now));

    last = ngx_snprintf(buf, NGX_IOTHUB_TWIN_ERROR_LEN,
                        "{\"errorCode\":%ui,\"trackingId\":\"%08xD\","
                        "\"message\":\"", code, (uint32_t) ngx_random());
    last = (u_char *) ngx_escape_json(last, (u_char *) message,
                                      ngx_min(ngx_strlen(message), 200));

    return ngx_snprintf(last, buf + NGX_IOTHUB_TWIN_ERROR_LEN - last,
                        "\",\"timestampUtc\":\"%s\"}", now);
}


void
ngx_iothub_twin_view_identity(const ngx_iothub_identity_t *id,
    int64_t version, char *etag, ngx_iothub_twin_identity_t *ti)
{
    ngx_iothub_twin_etag(version, etag);

    ngx_memzero(ti, sizeof(ngx_iothub_twin_identity_t));
    ti->device_id = id->device_id;
    ti->module_id = id->module_id;
    ti->etag = etag;
    ti->device_etag = id->etag;
    ti->status = id->module_id[0] ? NULL : id->status;
    ti->status_update_time = id->status_updated_time;
    ti->connection_state = id->connection_state;
    ti->last_activity_time = id->last_activity_time;
    ti->auth_type = id->auth_type;
    ti->primary_thumbprint = id->primary_thumbprint;
    ti->secondary_thumbprint = id->secondary_thumbprint;
    ti->model_id = id->model_id;
    ti->c2d_count = id->c2d_count;
    ti->iot_edge = id->iot_edge;
}
