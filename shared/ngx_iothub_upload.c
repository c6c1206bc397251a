
/*
 * nginx-iothub: file upload's hub side; see ngx_iothub_upload.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/rand.h>

#include "ngx_iothub_lua.h"
#include "ngx_iothub_reply.h"
#include "ngx_iothub_sbstream.h"
#include "ngx_iothub_upload.h"


#define NGX_IOTHUB_UPLOAD_KEY_LEN  (NGX_IOTHUB_ID_MAX + 160)


typedef struct {
    u_char                     uploads[NGX_IOTHUB_UPLOAD_KEY_LEN];
    u_char                     correlation[NGX_IOTHUB_UPLOAD_KEY_LEN];
    u_char                     stream[NGX_IOTHUB_UPLOAD_KEY_LEN];
} ngx_iothub_upload_keys_t;


static ngx_int_t ngx_iothub_upload_path(ngx_iothub_upload_op_t *op);
static void ngx_iothub_upload_keys(ngx_iothub_upload_op_t *op,
    ngx_iothub_upload_keys_t *k, ngx_iothub_args_t *args);
static ngx_int_t ngx_iothub_upload_notification(ngx_iothub_upload_op_t *op,
    ngx_iothub_args_t *args);
static void ngx_iothub_upload_replied(void *data, redisReply *reply);


ngx_int_t
ngx_iothub_upload_start(ngx_iothub_upload_op_t *op)
{
    int                       n;
    u_char                    nonce[NGX_IOTHUB_BLOB_NONCE_LEN / 2];
    u_char                    hex[NGX_IOTHUB_BLOB_NONCE_LEN + 1];
    u_char                    nums[3][NGX_INT64_LEN];
    ngx_time_t               *tp;
    ngx_iothub_hub_t         *hub;
    ngx_iothub_args_t         args;
    ngx_iothub_upload_keys_t  k;

    hub = op->hub;

    if (ngx_iothub_upload_path(op) != NGX_OK) {
        return NGX_ABORT;
    }

    op->correlation_id.data = ngx_pnalloc(op->pool,
                                          NGX_IOTHUB_BLOB_CORRELATION_MAX + 1);
    op->sas_token.data = ngx_pnalloc(op->pool,
                                     NGX_IOTHUB_BLOB_SAS_TOKEN_MAX
                                     + NGX_IOTHUB_BLOB_NAME_MAX);
    if (op->correlation_id.data == NULL || op->sas_token.data == NULL
        || RAND_bytes(nonce, sizeof(nonce)) != 1)
    {
        return NGX_ERROR;
    }

    *ngx_hex_dump(hex, nonce, sizeof(nonce)) = '\0';

    n = ngx_iothub_blob_correlation_make((char *) op->correlation_id.data,
                                         NGX_IOTHUB_BLOB_CORRELATION_MAX + 1,
                                         (char *) hex,
                                         op->blob_path.data,
                                         op->blob_path.len);
    if (n < 0) {
        return NGX_ERROR;
    }

    op->correlation_id.len = n;

    tp = ngx_timeofday();

    n = ngx_iothub_blob_sas_make((char *) op->sas_token.data,
                                 NGX_IOTHUB_BLOB_SAS_TOKEN_MAX
                                 + NGX_IOTHUB_BLOB_NAME_MAX,
                                 hub->storage,
                                 (char *) hub->storage_container.data,
                                 (char *) op->blob_path.data,
                                 (long long) tp->sec
                                 + hub->file_upload_sas_ttl);
    if (n < 0) {
        return NGX_ERROR;
    }

    op->sas_token.len = n;

    args.n = 0;
    ngx_iothub_upload_keys(op, &k, &args);

    ngx_iothub_args_add(&args, (char *) op->correlation_id.data,
                        NGX_IOTHUB_BLOB_NONCE_LEN);
    ngx_iothub_args_add(&args, (char *) op->blob_path.data,
                        op->blob_path.len);
    ngx_iothub_args_add(&args, (char *) nums[0],
                        ngx_sprintf(nums[0], "%uL",
                                    (uint64_t) tp->sec * 1000 + tp->msec)
                        - nums[0]);
    ngx_iothub_args_add(&args, (char *) nums[1],
                        ngx_sprintf(nums[1], "%uL",
                                    (uint64_t) hub->file_upload_sas_ttl
                                    * 1000)
                        - nums[1]);
    ngx_iothub_args_add(&args, (char *) nums[2],
                        ngx_sprintf(nums[2], "%d",
                                    NGX_IOTHUB_UPLOAD_MAX_ACTIVE)
                        - nums[2]);

    if (!ngx_iothub_args_ok(&args)) {
        return NGX_ERROR;
    }

    op->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                       NGX_IOTHUB_LUA_UPLOAD_START,
                                       ngx_iothub_upload_replied, op, 2,
                                       args.n, args.argv, args.lens);

    return op->call ? NGX_OK : NGX_DECLINED;
}


/* "<device>/<blob name>", which must make a blob path of the store */

static ngx_int_t
ngx_iothub_upload_path(ngx_iothub_upload_op_t *op)
{
    u_char             *p;
    size_t              len;
    ngx_str_t          *c;
    ngx_iothub_span_t   container, blob;

    c = &op->hub->storage_container;
    len = 1 + c->len + 1 + op->device_id.len + 1 + op->blob_name.len;

    if (op->device_id.len + 1 + op->blob_name.len > NGX_IOTHUB_BLOB_NAME_MAX)
    {
        return NGX_DECLINED;
    }

    p = ngx_pnalloc(op->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(p, "/%V/%V/%V%Z", c, &op->device_id, &op->blob_name);

    if (ngx_iothub_blob_path_parse(p, len, &container, &blob) != 0) {
        return NGX_DECLINED;
    }

    op->blob_path.data = (u_char *) blob.data;
    op->blob_path.len = blob.len;

    return NGX_OK;
}


ngx_int_t
ngx_iothub_upload_correlation(ngx_iothub_upload_op_t *op)
{
    int  n;

    op->blob_path.data = ngx_pnalloc(op->pool, NGX_IOTHUB_BLOB_NAME_MAX + 1);
    if (op->blob_path.data == NULL) {
        return NGX_ERROR;
    }

    n = ngx_iothub_blob_correlation_parse(op->correlation_id.data,
                                          op->correlation_id.len,
                                          (char *) op->blob_path.data,
                                          NGX_IOTHUB_BLOB_NAME_MAX + 1);

    /* the device's own uploads only: "<device>/..." */

    if (n <= 0 || (size_t) n <= op->device_id.len
        || ngx_strncmp(op->blob_path.data, op->device_id.data,
                       op->device_id.len) != 0
        || op->blob_path.data[op->device_id.len] != '/')
    {
        return NGX_ABORT;
    }

    op->blob_path.len = n;

    return NGX_OK;
}


ngx_int_t
ngx_iothub_upload_complete(ngx_iothub_upload_op_t *op)
{
    u_char                    now[NGX_INT64_LEN], maxlen[NGX_INT_T_LEN];
    ngx_time_t               *tp;
    ngx_iothub_hub_t         *hub;
    ngx_iothub_args_t         args;
    ngx_iothub_upload_keys_t  k;

    hub = op->hub;
    tp = ngx_timeofday();
    args.n = 0;

    ngx_iothub_upload_keys(op, &k, &args);
    ngx_iothub_args_add_str(&args, (char *) k.stream);

    ngx_iothub_args_add(&args, (char *) op->correlation_id.data,
                        NGX_IOTHUB_BLOB_NONCE_LEN);
    ngx_iothub_args_add(&args, (char *) op->blob_path.data,
                        op->blob_path.len);
    ngx_iothub_args_add(&args, (char *) now,
                        ngx_sprintf(now, "%uL",
                                    (uint64_t) tp->sec * 1000 + tp->msec)
                        - now);
    ngx_iothub_args_add_str(&args, (op->success && hub->file_notifications)
                                   ? "1" : "0");
    ngx_iothub_args_add(&args, (char *) maxlen,
                        ngx_sprintf(maxlen, "%ui",
                                    hub->file_notifications_max_length)
                        - maxlen);

    if (ngx_iothub_upload_notification(op, &args) != NGX_OK
        || !ngx_iothub_args_ok(&args))
    {
        return NGX_ERROR;
    }

    op->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                       NGX_IOTHUB_LUA_UPLOAD_COMPLETE,
                                       ngx_iothub_upload_replied, op, 3,
                                       args.n, args.argv, args.lens);

    return op->call ? NGX_OK : NGX_DECLINED;
}


/* the device's uploads and the correlation; the stream's key is written */

static void
ngx_iothub_upload_keys(ngx_iothub_upload_op_t *op,
    ngx_iothub_upload_keys_t *k, ngx_iothub_args_t *args)
{
    u_char     *p;
    ngx_str_t   nonce;

    nonce.data = op->correlation_id.data;
    nonce.len = NGX_IOTHUB_BLOB_NONCE_LEN;

    ngx_iothub_args_add(args, (char *) k->uploads,
        ngx_iothub_key_write(k->uploads, k->uploads + sizeof(k->uploads),
                             op->hub, &op->device_id, "uploads", NULL)
        - k->uploads);
    ngx_iothub_args_add(args, (char *) k->correlation,
        ngx_iothub_key_write(k->correlation,
                             k->correlation + sizeof(k->correlation),
                             op->hub, &op->device_id, "upload:", &nonce)
        - k->correlation);

    p = ngx_iothub_key_write(k->stream, k->stream + sizeof(k->stream) - 1,
                             op->hub, NULL,
                             ngx_iothub_sbstream_filenotifications.key, NULL);
    *p = '\0';
}


/*
 * The notification's fields (amqp.md 9.3, messaging.md 4), as the
 * service-bound stream's record names them.
 */

static ngx_int_t
ngx_iothub_upload_notification(ngx_iothub_upload_op_t *op,
    ngx_iothub_args_t *args)
{
    u_char            *uri, *updated, *size, *now;
    ngx_tm_t           tm;
    ngx_iothub_hub_t  *hub;

    hub = op->hub;

    uri = ngx_pnalloc(op->pool, sizeof("https:///") + NGX_IOTHUB_BLOB_HOST_MAX
                                + hub->storage_container.len + 1
                                + op->blob_path.len);
    updated = ngx_pnalloc(op->pool, sizeof("1970-01-01T00:00:00+00:00"));
    size = ngx_pnalloc(op->pool, NGX_OFF_T_LEN);
    now = ngx_pnalloc(op->pool, 32);

    if (uri == NULL || updated == NULL || size == NULL || now == NULL) {
        return NGX_ERROR;
    }

    ngx_gmtime(op->mtime ? op->mtime : ngx_time(), &tm);
    ngx_iothub_time_now(now, 32);

    ngx_iothub_args_add_str(args, "deviceId");
    ngx_iothub_args_add(args, (char *) op->device_id.data, op->device_id.len);
    ngx_iothub_args_add_str(args, "blobUri");
    ngx_iothub_args_add(args, (char *) uri,
                        ngx_sprintf(uri, "https://%s/%V/%V",
                                    hub->storage->host,
                                    &hub->storage_container, &op->blob_path)
                        - uri);
    ngx_iothub_args_add_str(args, "blobName");
    ngx_iothub_args_add(args, (char *) op->blob_path.data,
                        op->blob_path.len);
    ngx_iothub_args_add_str(args, "lastUpdatedTime");
    ngx_iothub_args_add(args, (char *) updated,
                        ngx_sprintf(updated,
                                    "%4d-%02d-%02dT%02d:%02d:%02d+00:00",
                                    tm.ngx_tm_year, tm.ngx_tm_mon,
                                    tm.ngx_tm_mday, tm.ngx_tm_hour,
                                    tm.ngx_tm_min, tm.ngx_tm_sec)
                        - updated);
    ngx_iothub_args_add_str(args, "blobSizeInBytes");
    ngx_iothub_args_add(args, (char *) size,
                        ngx_sprintf(size, "%O", op->size) - size);
    ngx_iothub_args_add_str(args, "enqueuedTimeUtc");
    ngx_iothub_args_add_str(args, (char *) now);

    return NGX_OK;
}


static void
ngx_iothub_upload_replied(void *data, redisReply *reply)
{
    ngx_iothub_upload_op_t *op = data;

    long long  n;

    op->call = NULL;

    switch (ngx_iothub_reply_integer(reply, &n)) {

    case NGX_IOTHUB_REPLY_OK:
        op->result = NGX_IOTHUB_UPLOAD_OK;
        break;

    case NGX_IOTHUB_REPLY_FULL:
        op->result = NGX_IOTHUB_UPLOAD_TOO_MANY;
        break;

    case NGX_IOTHUB_REPLY_NOT_FOUND:
        op->result = NGX_IOTHUB_UPLOAD_UNKNOWN;
        break;

    case NGX_IOTHUB_REPLY_EXPIRED:
        op->result = NGX_IOTHUB_UPLOAD_EXPIRED;
        break;

    case NGX_IOTHUB_REPLY_LOST:
        op->result = NGX_IOTHUB_UPLOAD_UNAVAILABLE;
        break;

    default:
        op->result = NGX_IOTHUB_UPLOAD_FAILED;
    }

    op->handler(op);
}


void
ngx_iothub_upload_cancel(ngx_iothub_upload_op_t *op)
{
    if (op->call) {
        ngx_iothub_redis_cancel(op->call);
        op->call = NULL;
    }
}
