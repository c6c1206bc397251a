
/*
 * nginx-iothub: the identity registry service; see ngx_iothub_registry.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_sas.h"
#include "ngx_iothub_registry.h"
#include "ngx_iothub_idcache.h"
#include "ngx_iothub_log.h"
#include "ngx_iothub_reply.h"
#include "ngx_iothub_lua.h"



/* .NET ticks (100 ns since 0001-01-01) at the Unix epoch */
#define NGX_IOTHUB_TICKS_AT_EPOCH     621355968000000000ULL


static ngx_int_t ngx_iothub_registry_run(ngx_iothub_registry_op_t *op,
    ngx_uint_t script, int nkeys, ngx_iothub_args_t *args,
    ngx_iothub_redis_handler_pt handler);
static void ngx_iothub_registry_done_status(void *data, redisReply *reply);
static void ngx_iothub_registry_done_hash(void *data, redisReply *reply);
static void ngx_iothub_registry_done_get(void *data, redisReply *reply);
static void ngx_iothub_registry_done_lookup(void *data, redisReply *reply);
static void ngx_iothub_registry_done_list(void *data, redisReply *reply);
static void ngx_iothub_registry_done_stats(void *data, redisReply *reply);
static void ngx_iothub_registry_decoded(ngx_iothub_registry_op_t *op,
    redisReply *reply, ngx_iothub_reply_rc_e rc);
static void ngx_iothub_registry_finish(ngx_iothub_registry_op_t *op,
    ngx_iothub_registry_rc_e rc);
static void ngx_iothub_registry_fill_new(ngx_iothub_identity_t *id);
static ngx_int_t ngx_iothub_registry_keys(ngx_iothub_identity_t *id);
static ngx_int_t ngx_iothub_registry_add_key(ngx_iothub_registry_op_t *op,
    ngx_iothub_args_t *args, ngx_str_t *device_id,
    const char *suffix, ngx_str_t *module_id);
static void ngx_iothub_registry_add_fields(ngx_iothub_args_t *args,
    ngx_iothub_identity_t *id, const char **only);


/* what a client may change with an update (rest.md 3 and 4) */

static const char  *ngx_iothub_device_settable[] = {
    "status", "statusReason", "authType", "primaryKey", "secondaryKey",
    "primaryThumbprint", "secondaryThumbprint", "iotEdge", "deviceScope",
    "parentScopes", "etag", NULL
};

static const char  *ngx_iothub_module_settable[] = {
    "authType", "primaryKey", "secondaryKey", "primaryThumbprint",
    "secondaryThumbprint", "managedBy", "etag", NULL
};


ngx_int_t
ngx_iothub_registry_get(ngx_iothub_registry_op_t *op, ngx_str_t *device_id,
    ngx_str_t *module_id)
{
    ngx_str_t          none;
    ngx_iothub_args_t  args;

    op->module = module_id->len > 0;
    ngx_str_null(&none);
    args.n = 0;

    /* modules have no cloud-to-device queue: an absent key counts 0 */

    if (ngx_iothub_registry_add_key(op, &args, device_id,
                                    op->module ? "module:" : "device",
                                    module_id) != NGX_OK
        || ngx_iothub_registry_add_key(op, &args, device_id,
                                       op->module ? "c2d:none" : "c2d",
                                       &none) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_iothub_registry_run(op, NGX_IOTHUB_LUA_IDENTITY_GET, 2, &args,
                                   ngx_iothub_registry_done_get);
}


/*
 * From the worker's identity cache, or one plain HGETALL (no script, no
 * queue length) whose answer is then cached.
 */

ngx_int_t
ngx_iothub_registry_lookup(ngx_iothub_registry_op_t *op,
    ngx_str_t *device_id, ngx_str_t *module_id)
{
    ngx_iothub_args_t  args;

    op->module = module_id->len > 0;

    if (ngx_iothub_key(op->pool, &op->key, op->hub, device_id,
                       op->module ? "module:" : "device",
                       op->module ? module_id : NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    op->cached = 0;
    op->identity = ngx_iothub_idcache_get(&op->key, op->pool, &op->cached);

    if (op->identity) {
        op->rc = NGX_IOTHUB_REGISTRY_OK;
        return NGX_DONE;
    }

    op->stamp = ngx_iothub_idcache_stamp();

    args.n = 0;
    ngx_iothub_args_add_str(&args, "HGETALL");

    if (ngx_iothub_args_add(&args, (char *) op->key.data, op->key.len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    op->call = ngx_iothub_redis_command(ngx_iothub_redis_link(),
                                        ngx_iothub_registry_done_lookup, op,
                                        args.n, args.argv, args.lens);

    return op->call ? NGX_OK : NGX_DECLINED;
}


ngx_int_t
ngx_iothub_registry_create(ngx_iothub_registry_op_t *op,
    ngx_iothub_identity_t *id)
{
    ngx_str_t                   device_id, module_id, none;
    ngx_iothub_args_t  args;

    if (ngx_iothub_registry_keys(id) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_iothub_registry_fill_new(id);

    op->identity = id;
    op->module = id->module_id[0] != '\0';

    device_id.data = (u_char *) id->device_id;
    device_id.len = ngx_strlen(id->device_id);
    module_id.data = (u_char *) id->module_id;
    module_id.len = ngx_strlen(id->module_id);
    ngx_str_null(&none);

    args.n = 0;

    if (op->module) {
        if (ngx_iothub_registry_add_key(op, &args, &device_id, "module:",
                                        &module_id) != NGX_OK
            || ngx_iothub_registry_add_key(op, &args, &device_id, "twin:",
                                           &module_id) != NGX_OK
            || ngx_iothub_registry_add_key(op, &args, &device_id, "modules",
                                           &none) != NGX_OK
            || ngx_iothub_registry_add_key(op, &args, &device_id, "device",
                                           &none) != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_iothub_args_add_str(&args, id->module_id);
        ngx_iothub_registry_add_fields(&args, id, NULL);

        return ngx_iothub_registry_run(op, NGX_IOTHUB_LUA_MODULE_CREATE, 4,
                                       &args,
                                       ngx_iothub_registry_done_status);
    }

    if (ngx_iothub_registry_add_key(op, &args, &device_id, "device", &none)
        != NGX_OK
        || ngx_iothub_registry_add_key(op, &args, &device_id, "twin", &none)
           != NGX_OK
        || ngx_iothub_registry_add_key(op, &args, NULL, "devices", &none)
           != NGX_OK
        || ngx_iothub_registry_add_key(op, &args, NULL, "disabled", &none)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_iothub_args_add_str(&args, id->device_id);
    ngx_iothub_args_add_str(&args, id->status);
    ngx_iothub_registry_add_fields(&args, id, NULL);

    return ngx_iothub_registry_run(op, NGX_IOTHUB_LUA_DEVICE_CREATE, 4,
                                   &args, ngx_iothub_registry_done_status);
}


ngx_int_t
ngx_iothub_registry_update(ngx_iothub_registry_op_t *op,
    ngx_iothub_identity_t *id, ngx_str_t *if_match)
{
    int                         nkeys;
    char                        now[40];
    ngx_str_t                   device_id, module_id, none;
    ngx_iothub_args_t  args;

    if (ngx_iothub_registry_keys(id) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_iothub_registry_new_etag(id->etag, sizeof(id->etag));
    ngx_iothub_time_now((u_char *) now, sizeof(now));

    op->identity = id;
    op->module = id->module_id[0] != '\0';

    device_id.data = (u_char *) id->device_id;
    device_id.len = ngx_strlen(id->device_id);
    module_id.data = (u_char *) id->module_id;
    module_id.len = ngx_strlen(id->module_id);
    ngx_str_null(&none);

    args.n = 0;

    if (ngx_iothub_registry_add_key(op, &args, &device_id,
                                    op->module ? "module:" : "device",
                                    &module_id)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    nkeys = 1;

    if (!op->module) {
        if (ngx_iothub_registry_add_key(op, &args, NULL, "disabled", &none)
            != NGX_OK
            || ngx_iothub_registry_add_key(op, &args, &device_id, "presence",
                                           &none)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        nkeys = 3;
    }

    ngx_iothub_args_add(&args, (char *) if_match->data, if_match->len);
    ngx_iothub_args_add_str(&args, now);
    ngx_iothub_registry_add_fields(&args, id,
                                   op->module ? ngx_iothub_module_settable
                                              : ngx_iothub_device_settable);

    return ngx_iothub_registry_run(op, NGX_IOTHUB_LUA_IDENTITY_UPDATE, nkeys,
                                   &args, ngx_iothub_registry_done_hash);
}


ngx_int_t
ngx_iothub_registry_delete(ngx_iothub_registry_op_t *op,
    ngx_str_t *device_id, ngx_str_t *module_id, ngx_str_t *if_match)
{
    ngx_str_t                   none;
    ngx_iothub_args_t  args;

    op->module = module_id->len > 0;
    ngx_str_null(&none);
    args.n = 0;

    if (op->module) {
        if (ngx_iothub_registry_add_key(op, &args, device_id, "module:",
                                        module_id) != NGX_OK
            || ngx_iothub_registry_add_key(op, &args, device_id, "twin:",
                                           module_id) != NGX_OK
            || ngx_iothub_registry_add_key(op, &args, device_id, "modules",
                                           &none) != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_iothub_args_add(&args, (char *) if_match->data, if_match->len);
        ngx_iothub_args_add(&args, (char *) module_id->data, module_id->len);

        if (ngx_iothub_registry_add_key(op, &args, device_id, "", &none)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        return ngx_iothub_registry_run(op, NGX_IOTHUB_LUA_MODULE_DELETE, 3,
                                       &args,
                                       ngx_iothub_registry_done_status);
    }

    if (ngx_iothub_registry_add_key(op, &args, device_id, "device", &none)
        != NGX_OK
        || ngx_iothub_registry_add_key(op, &args, device_id, "twin", &none)
           != NGX_OK
        || ngx_iothub_registry_add_key(op, &args, device_id, "modules", &none)
           != NGX_OK
        || ngx_iothub_registry_add_key(op, &args, NULL, "devices", &none)
           != NGX_OK
        || ngx_iothub_registry_add_key(op, &args, NULL, "disabled", &none)
           != NGX_OK
        || ngx_iothub_registry_add_key(op, &args, NULL, "connected", &none)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_iothub_args_add(&args, (char *) if_match->data, if_match->len);
    ngx_iothub_args_add(&args, (char *) device_id->data, device_id->len);

    if (ngx_iothub_registry_add_key(op, &args, device_id, "module:", &none)
        != NGX_OK
        || ngx_iothub_registry_add_key(op, &args, device_id, "twin:", &none)
           != NGX_OK
        || ngx_iothub_registry_add_key(op, &args, device_id, "", &none)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_iothub_registry_run(op, NGX_IOTHUB_LUA_DEVICE_DELETE, 6,
                                   &args, ngx_iothub_registry_done_status);
}


ngx_int_t
ngx_iothub_registry_apply(ngx_iothub_registry_op_t *op,
    ngx_iothub_bulk_entry_t *e, ngx_uint_t creating)
{
    ngx_str_t               device_id, module_id, etag, any;
    ngx_iothub_identity_t  *id;

    id = &e->identity;

    device_id.data = (u_char *) id->device_id;
    device_id.len = ngx_strlen(id->device_id);
    module_id.data = (u_char *) id->module_id;
    module_id.len = ngx_strlen(id->module_id);
    etag.data = (u_char *) e->etag;
    etag.len = ngx_strlen(e->etag);
    ngx_str_set(&any, "*");

    switch (e->mode) {

    case NGX_IOTHUB_IMPORT_CREATE:
        return ngx_iothub_registry_create(op, id);

    case NGX_IOTHUB_IMPORT_UPDATE:
        if (creating) {
            return ngx_iothub_registry_create(op, id);
        }

        return ngx_iothub_registry_update(op, id, &any);

    case NGX_IOTHUB_IMPORT_UPDATE_IF_MATCH_ETAG:
        return ngx_iothub_registry_update(op, id, &etag);

    case NGX_IOTHUB_IMPORT_DELETE:
        return ngx_iothub_registry_delete(op, &device_id, &module_id, &any);

    case NGX_IOTHUB_IMPORT_DELETE_IF_MATCH_ETAG:
        return ngx_iothub_registry_delete(op, &device_id, &module_id, &etag);

    default:
        /* updateTwin, updateTwinIfMatchETag */
        return NGX_DONE;
    }
}


ngx_int_t
ngx_iothub_registry_list(ngx_iothub_registry_op_t *op, ngx_str_t *device_id,
    ngx_uint_t top)
{
    u_char                      buf[NGX_INT_T_LEN];
    ngx_str_t                   none;
    ngx_iothub_args_t  args;

    ngx_str_null(&none);
    args.n = 0;

    if (device_id != NULL) {
        op->module = 1;

        if (ngx_iothub_registry_add_key(op, &args, device_id, "device", &none)
            != NGX_OK
            || ngx_iothub_registry_add_key(op, &args, device_id, "modules",
                                           &none) != NGX_OK
            || ngx_iothub_registry_add_key(op, &args, device_id, "module:",
                                           &none) != NGX_OK)
        {
            return NGX_ERROR;
        }

        return ngx_iothub_registry_run(op, NGX_IOTHUB_LUA_MODULE_LIST, 2,
                                       &args, ngx_iothub_registry_done_list);
    }

    if (ngx_iothub_registry_add_key(op, &args, NULL, "devices", &none)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_iothub_args_add(&args, (char *) op->hub->prefix.data,
                            op->hub->prefix.len);
    ngx_iothub_args_add(&args, (char *) buf,
                            ngx_sprintf(buf, "%ui", top) - buf);

    return ngx_iothub_registry_run(op, NGX_IOTHUB_LUA_DEVICE_LIST, 1, &args,
                                   ngx_iothub_registry_done_list);
}


ngx_int_t
ngx_iothub_registry_stats(ngx_iothub_registry_op_t *op)
{
    ngx_str_t                   none;
    ngx_iothub_args_t  args;

    ngx_str_null(&none);
    args.n = 0;

    if (ngx_iothub_registry_add_key(op, &args, NULL, "devices", &none)
        != NGX_OK
        || ngx_iothub_registry_add_key(op, &args, NULL, "disabled", &none)
           != NGX_OK
        || ngx_iothub_registry_add_key(op, &args, NULL, "connected", &none)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_iothub_registry_run(op, NGX_IOTHUB_LUA_REGISTRY_STATS, 3,
                                   &args, ngx_iothub_registry_done_stats);
}


void
ngx_iothub_registry_cancel(ngx_iothub_registry_op_t *op)
{
    if (op->call) {
        ngx_iothub_redis_cancel(op->call);
        op->call = NULL;
    }
}


static ngx_int_t
ngx_iothub_registry_run(ngx_iothub_registry_op_t *op, ngx_uint_t script,
    int nkeys, ngx_iothub_args_t *args,
    ngx_iothub_redis_handler_pt handler)
{
    if (!ngx_iothub_args_ok(args)) {
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "iothub: too many arguments for a registry script");
        return NGX_ERROR;
    }

    op->call = ngx_iothub_redis_script(ngx_iothub_redis_link(), script,
                                       handler, op, nkeys, args->n,
                                       args->argv, args->lens);

    return op->call ? NGX_OK : NGX_DECLINED;
}


static void
ngx_iothub_registry_done_status(void *data, redisReply *reply)
{
    ngx_iothub_registry_op_t *op = data;

    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_check(reply);

    if (rc != NGX_IOTHUB_REPLY_OK) {
        ngx_iothub_registry_decoded(op, reply, rc);
        return;
    }

    ngx_iothub_registry_finish(op, NGX_IOTHUB_REGISTRY_OK);
}


/* identity_update.lua answers the hash as stored */

static void
ngx_iothub_registry_done_hash(void *data, redisReply *reply)
{
    ngx_iothub_registry_op_t *op = data;

    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_identity(reply, op->identity);

    if (rc != NGX_IOTHUB_REPLY_OK && rc != NGX_IOTHUB_REPLY_NIL) {
        ngx_iothub_registry_decoded(op, reply, rc);
        return;
    }

    ngx_iothub_registry_finish(op, NGX_IOTHUB_REGISTRY_OK);
}


static void
ngx_iothub_registry_done_get(void *data, redisReply *reply)
{
    ngx_iothub_registry_op_t *op = data;

    long long               count;
    ngx_iothub_identity_t  *id;
    ngx_iothub_reply_rc_e   rc;

    id = ngx_palloc(op->pool, sizeof(ngx_iothub_identity_t));
    if (id == NULL) {
        ngx_iothub_registry_finish(op, NGX_IOTHUB_REGISTRY_ERROR);
        return;
    }

    rc = ngx_iothub_reply_identity_get(reply, id, &count);

    if (rc == NGX_IOTHUB_REPLY_OK) {
        id->c2d_count = (long) count;
        op->identity = id;
    }

    ngx_iothub_registry_decoded(op, reply, rc);
}


static void
ngx_iothub_registry_done_lookup(void *data, redisReply *reply)
{
    ngx_iothub_registry_op_t *op = data;

    ngx_iothub_identity_t  *id;
    ngx_iothub_reply_rc_e   rc;

    id = ngx_palloc(op->pool, sizeof(ngx_iothub_identity_t));
    if (id == NULL) {
        ngx_iothub_registry_finish(op, NGX_IOTHUB_REGISTRY_ERROR);
        return;
    }

    rc = ngx_iothub_reply_identity(reply, id);

    if (rc == NGX_IOTHUB_REPLY_OK) {
        /* a plain read has no queue length */
        id->c2d_count = -1;
        op->identity = id;
        op->cached = ngx_iothub_idcache_put(&op->key, op->identity,
                                            op->stamp);
    }

    ngx_iothub_registry_decoded(op, reply, rc);
}


static void
ngx_iothub_registry_done_list(void *data, redisReply *reply)
{
    ngx_iothub_registry_op_t *op = data;

    size_t                 i, n;
    ngx_iothub_reply_rc_e  rc;

    rc = ngx_iothub_reply_list(reply, &n);

    if (rc != NGX_IOTHUB_REPLY_OK) {
        ngx_iothub_registry_decoded(op, reply, rc);
        return;
    }

    op->nlist = n;
    op->list = ngx_palloc(op->pool, (n + 1) * sizeof(ngx_iothub_identity_t));
    if (op->list == NULL) {
        ngx_iothub_registry_finish(op, NGX_IOTHUB_REGISTRY_ERROR);
        return;
    }

    for (i = 0; i < n; i++) {
        ngx_iothub_reply_list_identity(reply, i, &op->list[i]);
    }

    ngx_iothub_registry_finish(op, NGX_IOTHUB_REGISTRY_OK);
}


static void
ngx_iothub_registry_done_stats(void *data, redisReply *reply)
{
    ngx_iothub_registry_op_t *op = data;

    long long              counts[3];
    ngx_iothub_reply_rc_e  rc;

    /* total, disabled, connected */
    rc = ngx_iothub_reply_integers(reply, counts, 3);

    if (rc != NGX_IOTHUB_REPLY_OK) {
        ngx_iothub_registry_decoded(op, reply, rc);
        return;
    }

    op->total = (ngx_uint_t) counts[0];
    op->disabled = (ngx_uint_t) counts[1];
    op->connected = (ngx_uint_t) counts[2];

    ngx_iothub_registry_finish(op, NGX_IOTHUB_REGISTRY_OK);
}


/*
 * Finishes the operation with what a decoder said: found (OK), none there
 * (NIL: an empty identity hash), Redis down, one of the scripts' errors,
 * or an answer of another shape.
 */

static void
ngx_iothub_registry_decoded(ngx_iothub_registry_op_t *op, redisReply *reply,
    ngx_iothub_reply_rc_e rc)
{
    ngx_iothub_log_buf_t    lb;
    ngx_iothub_reply_str_t  err;

    switch (rc) {

    case NGX_IOTHUB_REPLY_OK:
        ngx_iothub_registry_finish(op, NGX_IOTHUB_REGISTRY_OK);
        return;

    case NGX_IOTHUB_REPLY_LOST:
        ngx_iothub_registry_finish(op, NGX_IOTHUB_REGISTRY_UNAVAILABLE);
        return;

    case NGX_IOTHUB_REPLY_EXISTS:
        ngx_iothub_registry_finish(op, NGX_IOTHUB_REGISTRY_EXISTS);
        return;

    case NGX_IOTHUB_REPLY_NO_DEVICE:
        ngx_iothub_registry_finish(op, NGX_IOTHUB_REGISTRY_NO_DEVICE);
        return;

    case NGX_IOTHUB_REPLY_NIL:
    case NGX_IOTHUB_REPLY_NOT_FOUND:
        ngx_iothub_registry_finish(op, op->module
                                       ? NGX_IOTHUB_REGISTRY_NO_MODULE
                                       : NGX_IOTHUB_REGISTRY_NO_DEVICE);
        return;

    case NGX_IOTHUB_REPLY_ETAG_MISMATCH:
        ngx_iothub_registry_finish(op, NGX_IOTHUB_REGISTRY_ETAG_MISMATCH);
        return;

    case NGX_IOTHUB_REPLY_MALFORMED:
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "iothub registry: unexpected redis reply");
        break;

    default:
        ngx_iothub_reply_error_text(reply, &err);
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "iothub registry: redis error \"%V\"",
                      ngx_iothub_log_str(&lb, (u_char *) err.data, err.len));
    }

    ngx_iothub_registry_finish(op, NGX_IOTHUB_REGISTRY_ERROR);
}


static void
ngx_iothub_registry_finish(ngx_iothub_registry_op_t *op,
    ngx_iothub_registry_rc_e rc)
{
    op->call = NULL;
    op->rc = rc;
    op->handler(op);
}


static void
ngx_iothub_registry_fill_new(ngx_iothub_identity_t *id)
{
    uint64_t    ticks;
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    /* Azure's generation ids are tick counts; the last digits vary */
    ticks = NGX_IOTHUB_TICKS_AT_EPOCH + (uint64_t) tp->sec * 10000000
            + (uint64_t) tp->msec * 10000 + (ngx_random() % 10000);

    ngx_sprintf((u_char *) id->generation_id, "%uL%Z", ticks);
    ngx_iothub_registry_new_etag(id->etag, sizeof(id->etag));

    ngx_cpystrn((u_char *) id->connection_state, (u_char *) "Disconnected",
                sizeof(id->connection_state));
    ngx_cpystrn((u_char *) id->status_updated_time,
                (u_char *) NGX_IOTHUB_IDENTITY_NEVER,
                sizeof(id->status_updated_time));
    ngx_cpystrn((u_char *) id->connection_state_updated_time,
                (u_char *) NGX_IOTHUB_IDENTITY_NEVER,
                sizeof(id->connection_state_updated_time));
    ngx_cpystrn((u_char *) id->last_activity_time,
                (u_char *) NGX_IOTHUB_IDENTITY_NEVER,
                sizeof(id->last_activity_time));
}


/* empty keys of a sas identity are generated (auth.md 4) */

static ngx_int_t
ngx_iothub_registry_keys(ngx_iothub_identity_t *id)
{
    if (ngx_strcmp(id->auth_type, "sas") != 0) {
        return NGX_OK;
    }

    if (id->primary_key[0] == '\0'
        && ngx_iothub_key_generate(id->primary_key, sizeof(id->primary_key))
           != 0)
    {
        return NGX_ERROR;
    }

    if (id->secondary_key[0] == '\0'
        && ngx_iothub_key_generate(id->secondary_key,
                                   sizeof(id->secondary_key))
           != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_iothub_registry_new_etag(char *etag, size_t size)
{
    u_char  digits[NGX_INT_T_LEN];
    size_t  n;

    n = ngx_sprintf(digits, "%uD", (uint32_t) ngx_random()) - digits;

    if (ngx_iothub_base64_encode(etag, size, digits, n) < 0) {
        etag[0] = '\0';
    }
}


static ngx_int_t
ngx_iothub_registry_add_key(ngx_iothub_registry_op_t *op,
    ngx_iothub_args_t *args, ngx_str_t *device_id,
    const char *suffix, ngx_str_t *module_id)
{
    ngx_str_t  key;

    if (ngx_iothub_key(op->pool, &key, op->hub, device_id, suffix, module_id)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_iothub_args_add(args, (char *) key.data, key.len);

    return NGX_OK;
}


/* adds field, value pairs: every stored field, or those listed in "only" */

static void
ngx_iothub_registry_add_fields(ngx_iothub_args_t *args,
    ngx_iothub_identity_t *id, const char **only)
{
    int          i, n;
    size_t       lens[NGX_IOTHUB_IDENTITY_NFIELDS];
    const char  *names[NGX_IOTHUB_IDENTITY_NFIELDS], **o;
    const char  *values[NGX_IOTHUB_IDENTITY_NFIELDS];

    n = ngx_iothub_identity_fields(id, names, values, lens);

    for (i = 0; i < n; i++) {
        if (only) {
            for (o = only; *o; o++) {
                if (ngx_strcmp(*o, names[i]) == 0) {
                    break;
                }
            }

            if (*o == NULL) {
                continue;
            }
        }

        ngx_iothub_args_add_str(args, names[i]);
        ngx_iothub_args_add(args, values[i], lens[i]);
    }
}
