
/*
 * nginx-iothub http module: file upload's device routes (rest.md 14.4):
 * POST /devices/{id}/files asks for a blob's SAS URI, POST
 * /devices/{id}/files/notifications[/{correlationId}] completes the
 * upload.  Both run as the authenticated device
 * (ngx_http_iothub_device_auth()); the hub side is ngx_iothub_upload.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_iothub_module.h"
#include "ngx_iothub_upload.h"


/* {"blobName": "<at most 1024 bytes>"} and the notification's body */
#define NGX_HTTP_IOTHUB_FILES_BODY_MAX  8192


static ngx_iothub_upload_op_t *ngx_http_iothub_files_op(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_iothub_upload_handler_pt handler);
static ngx_int_t ngx_http_iothub_files_body(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, yajl_val *root);
static ngx_int_t ngx_http_iothub_files_string(ngx_http_request_t *r,
    yajl_val root, const char *name, ngx_str_t *out);
static void ngx_http_iothub_files_started(ngx_iothub_upload_op_t *op);
static ngx_int_t ngx_http_iothub_files_sas(ngx_http_request_t *r,
    ngx_iothub_upload_op_t *op);
static ngx_int_t ngx_http_iothub_files_blob(ngx_http_request_t *r,
    ngx_iothub_upload_op_t *op);
static void ngx_http_iothub_files_completed(ngx_iothub_upload_op_t *op);
static ngx_int_t ngx_http_iothub_files_failed(ngx_http_request_t *r,
    ngx_iothub_upload_op_t *op);
static void ngx_http_iothub_files_cleanup(void *data);


ngx_int_t
ngx_http_iothub_route_files(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    ngx_int_t                rc;
    yajl_val                 root;
    ngx_iothub_upload_op_t  *op;

    if (ctx->hub->storage == NULL) {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "DefaultStorageEndpointNotConfigured",
                                     "the hub has no storage for file "
                                     "uploads");
    }

    rc = ngx_http_iothub_files_body(r, ctx, &root);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    op = ngx_http_iothub_files_op(r, ctx, ngx_http_iothub_files_started);
    if (op == NULL) {
        yajl_tree_free(root);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_iothub_files_string(r, root, "blobName", &op->blob_name);
    yajl_tree_free(root);

    if (rc != NGX_OK || op->blob_name.len == 0) {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "InvalidStorageEndpointOrBlob",
                                     "the body has no blobName");
    }

    rc = ngx_iothub_upload_start(op);

    if (rc == NGX_ABORT) {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "InvalidStorageEndpointOrBlob",
                                     "the blob name is not one: 1 to 1024 "
                                     "bytes with the device id, without "
                                     "empty, \".\" or \"..\" segments");
    }

    return ngx_http_iothub_started(r, rc);
}


/*
 * The C SDK names the correlation in the body, the Node SDK in the path;
 * isSuccess is required (400019), statusCode and statusDescription are
 * the device's words, only logged.
 */

ngx_int_t
ngx_http_iothub_route_files_notify(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    ngx_int_t                rc;
    yajl_val                 root, v;
    const char              *path[2];
    ngx_iothub_upload_op_t  *op;

    rc = ngx_http_iothub_files_body(r, ctx, &root);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    op = ngx_http_iothub_files_op(r, ctx, ngx_http_iothub_files_completed);
    if (op == NULL) {
        yajl_tree_free(root);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    path[0] = "isSuccess";
    path[1] = NULL;
    v = yajl_tree_get(root, path, yajl_t_any);

    if (v == NULL || !(YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))) {
        yajl_tree_free(root);
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "InvalidFileUploadCompletionStatus",
                                     "isSuccess must be true or false");
    }

    op->success = YAJL_IS_TRUE(v);

    if (ctx->nseg == 5) {
        op->correlation_id = ctx->seg[4];
        rc = NGX_OK;

    } else {
        rc = ngx_http_iothub_files_string(r, root, "correlationId",
                                          &op->correlation_id);
    }

    yajl_tree_free(root);

    if (rc != NGX_OK || ngx_iothub_upload_correlation(op) != NGX_OK) {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "InvalidFileUploadCorrelationId",
                                     "no upload of the device has this "
                                     "correlation id");
    }

    if (ngx_http_iothub_files_blob(r, op) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iothub_started(r, ngx_iothub_upload_complete(op));
}


/* an upload operation, cancelled if the request ends first */

static ngx_iothub_upload_op_t *
ngx_http_iothub_files_op(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx,
    ngx_iothub_upload_handler_pt handler)
{
    ngx_iothub_upload_op_t  *op;

    op = ngx_http_iothub_op_alloc(r, sizeof(ngx_iothub_upload_op_t),
                                  ngx_http_iothub_files_cleanup);
    if (op == NULL) {
        return NULL;
    }

    op->hub = ctx->hub;
    op->log = r->connection->log;
    op->pool = r->pool;
    op->handler = handler;
    op->data = r;
    op->device_id = ctx->device_id;

    return op;
}


/* the body as a JSON object: NGX_DECLINED, or the error response's rc */

static ngx_int_t
ngx_http_iothub_files_body(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx,
    yajl_val *root)
{
    char  err[128];

    if (ctx->body.len > NGX_HTTP_IOTHUB_FILES_BODY_MAX) {
        return ngx_http_iothub_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     "MessageTooLarge",
                                     "the body is over 8 KB");
    }

    *root = yajl_tree_parse((char *) ctx->body.data, err, sizeof(err));

    if (*root == NULL || !YAJL_IS_OBJECT(*root)) {
        yajl_tree_free(*root);
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "IotHubFormatError",
                                     "the body is not a JSON object");
    }

    return NGX_DECLINED;
}


/* a string member, copied into the request pool; NGX_DECLINED: none */

static ngx_int_t
ngx_http_iothub_files_string(ngx_http_request_t *r, yajl_val root,
    const char *name, ngx_str_t *out)
{
    const char  *s, *path[2];

    path[0] = name;
    path[1] = NULL;

    s = YAJL_GET_STRING(yajl_tree_get(root, path, yajl_t_string));
    if (s == NULL) {
        return NGX_DECLINED;
    }

    out->len = ngx_strlen(s);
    out->data = ngx_pnalloc(r->pool, out->len + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, s, out->len + 1);

    return NGX_OK;
}


static void
ngx_http_iothub_files_started(ngx_iothub_upload_op_t *op)
{
    ngx_http_request_t  *r;

    r = op->data;

    ngx_http_iothub_finish(r, (op->result == NGX_IOTHUB_UPLOAD_OK)
                              ? ngx_http_iothub_files_sas(r, op)
                              : ngx_http_iothub_files_failed(r, op));
}


/* 200: where to put the blob, and the SAS to put it with */

static ngx_int_t
ngx_http_iothub_files_sas(ngx_http_request_t *r, ngx_iothub_upload_op_t *op)
{
    yajl_gen                    g;
    yajl_gen_status             st;
    ngx_uint_t                  i;
    ngx_str_t                   host, *v[5];
    ngx_iothub_blob_connstr_t  *cs;

    static const char  *names[] = {
        "correlationId", "hostName", "containerName", "blobName", "sasToken"
    };

    cs = op->hub->storage;

    host.data = (u_char *) cs->host;
    host.len = ngx_strlen(cs->host);

    v[0] = &op->correlation_id;
    v[1] = &host;
    v[2] = &op->hub->storage_container;
    v[3] = &op->blob_path;
    v[4] = &op->sas_token;

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st = yajl_gen_map_open(g);

    for (i = 0; i < 5 && st == yajl_gen_status_ok; i++) {
        st = yajl_gen_string(g, (const unsigned char *) names[i],
                             ngx_strlen(names[i]));

        if (st == yajl_gen_status_ok) {
            st = yajl_gen_string(g, v[i]->data, v[i]->len);
        }
    }

    if (st != yajl_gen_status_ok
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iothub_send_json(r, NGX_HTTP_OK, g, NULL);
}


/*
 * The blob's size and time for the notification, when this nginx serves
 * the hub's store (iothub_blob_store): a stat() of it, as the static
 * module opens what it serves.  Otherwise (an Azure account) 0 and now.
 */

static ngx_int_t
ngx_http_iothub_files_blob(ngx_http_request_t *r, ngx_iothub_upload_op_t *op)
{
    u_char            *path;
    ngx_str_t         *dir;
    ngx_file_info_t    fi;

    dir = &op->hub->blob_store_dir;

    if (dir->len == 0 || !op->success) {
        return NGX_OK;
    }

    path = ngx_pnalloc(r->pool, dir->len + 1 + op->hub->storage_container.len
                                + 1 + op->blob_path.len + 1);
    if (path == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(path, "%V/%V/%V%Z", dir, &op->hub->storage_container,
                &op->blob_path);

    if (ngx_file_info(path, &fi) == NGX_FILE_ERROR || !ngx_is_file(&fi)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, ngx_errno,
                      "iothub: the uploaded blob \"%s\" is not in the store",
                      path);
        return NGX_OK;
    }

    op->size = ngx_file_size(&fi);
    op->mtime = ngx_file_mtime(&fi);

    return NGX_OK;
}


static void
ngx_http_iothub_files_completed(ngx_iothub_upload_op_t *op)
{
    ngx_http_request_t  *r;

    r = op->data;

    ngx_http_iothub_finish(r, (op->result == NGX_IOTHUB_UPLOAD_OK)
                              ? ngx_http_iothub_send_empty(r,
                                                      NGX_HTTP_NO_CONTENT)
                              : ngx_http_iothub_files_failed(r, op));
}


static ngx_int_t
ngx_http_iothub_files_failed(ngx_http_request_t *r,
    ngx_iothub_upload_op_t *op)
{
    switch (op->result) {

    case NGX_IOTHUB_UPLOAD_TOO_MANY:
        return ngx_http_iothub_error(r, NGX_HTTP_FORBIDDEN,
                                     "DeviceMaximumActiveFileUploadLimit"
                                     "Exceeded",
                                     "the device has %d uploads in progress",
                                     NGX_IOTHUB_UPLOAD_MAX_ACTIVE);

    case NGX_IOTHUB_UPLOAD_UNKNOWN:
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "InvalidFileUploadCorrelationId",
                                     "no upload of the device has this "
                                     "correlation id");

    case NGX_IOTHUB_UPLOAD_EXPIRED:
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ExpiredFileUploadCorrelationId",
                                     "the upload's SAS expired");

    case NGX_IOTHUB_UPLOAD_UNAVAILABLE:
        return ngx_http_iothub_unavailable(r);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


static void
ngx_http_iothub_files_cleanup(void *data)
{
    ngx_iothub_upload_op_t *op = data;

    ngx_iothub_upload_cancel(op);
}
