
/*
 * nginx-iothub http module: a blob store for file upload (rest.md 14.4),
 * served as Azure Blob Storage is to @azure/storage-blob: Put Blob, Put
 * Block, Put Block List, Get Blob and Get Blob Properties (HEAD), each
 * authorized by the service SAS the hub issued (signed with the account
 * key of the hub's storage_connection_string).  Files live under the
 * location's directory: <dir>/<container>/<blob>, uncommitted blocks in
 * <dir>/.blocks/<container>/<blob>/<hex id>.  Request bodies are written
 * by nginx to client_body_temp and renamed into place; a block list of
 * one block is a rename, of several a copy of the blocks into one file
 * (the kernel's copy_file_range) as nginx's own file moves copy across
 * file systems.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_iothub.h"
#include "ngx_iothub_conf_hub.h"
#include "ngx_iothub_blob_sas.h"
#include "ngx_iothub_log.h"
#include "ngx_http_iothub_module.h"


/* a Put Block List body is read into memory: at most this many blocks */
#define NGX_HTTP_IOTHUB_BLOB_MAX_BLOCKS   50000
#define NGX_HTTP_IOTHUB_BLOB_LIST_MAX     (4 * 1024 * 1024)

#define NGX_HTTP_IOTHUB_BLOB_VERSION      "2020-10-02"


typedef struct {
    ngx_iothub_hub_t                *hub;
    ngx_str_t                        dir;
    off_t                            max_size;
} ngx_http_iothub_blob_loc_conf_t;


typedef enum {
    NGX_HTTP_IOTHUB_BLOB_PUT = 0,
    NGX_HTTP_IOTHUB_BLOB_BLOCK,
    NGX_HTTP_IOTHUB_BLOB_BLOCK_LIST,
    NGX_HTTP_IOTHUB_BLOB_GET
} ngx_http_iothub_blob_op_e;


typedef struct {
    ngx_http_iothub_blob_op_e        op;
    ngx_iothub_blob_query_t          query;
    ngx_str_t                        container;
    ngx_str_t                        blob;
    ngx_str_t                        path;        /* <dir>/<c>/<blob> */
    ngx_str_t                        blocks;      /* <dir>/.blocks/<c>/<b> */
    char                             block[NGX_IOTHUB_BLOB_BLOCK_NAME_LEN + 1];
} ngx_http_iothub_blob_ctx_t;


static ngx_int_t ngx_http_iothub_blob_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_iothub_blob_request(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx);
static ngx_int_t ngx_http_iothub_blob_authorize(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx);
static ngx_int_t ngx_http_iothub_blob_paths(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx);
static ngx_int_t ngx_http_iothub_blob_put(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx);
static void ngx_http_iothub_blob_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_iothub_blob_store(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx);
static ngx_int_t ngx_http_iothub_blob_commit(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx);
static ngx_int_t ngx_http_iothub_blob_list(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx, ngx_str_t *xml);
static ngx_int_t ngx_http_iothub_blob_join(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx, ngx_array_t *files);
static ngx_int_t ngx_http_iothub_blob_append(ngx_fd_t out, ngx_str_t *name,
    ngx_log_t *log);
static void ngx_http_iothub_blob_drop_blocks(ngx_http_request_t *r,
    ngx_str_t *dir);
static ngx_int_t ngx_http_iothub_blob_rename(ngx_http_request_t *r,
    ngx_str_t *from, ngx_str_t *to);
static ngx_int_t ngx_http_iothub_blob_created(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx, ngx_uint_t blob);
static ngx_int_t ngx_http_iothub_blob_get(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx);
static ngx_int_t ngx_http_iothub_blob_headers(ngx_http_request_t *r);
static ngx_int_t ngx_http_iothub_blob_header(ngx_http_request_t *r,
    const char *name, const char *value);
static ngx_int_t ngx_http_iothub_blob_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *message);
static void *ngx_http_iothub_blob_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_iothub_blob_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_iothub_blob_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_http_iothub_blob_commands[] = {

    { ngx_string("iothub_blob_store"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_iothub_blob_conf,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iothub_blob_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_iothub_blob_loc_conf_t, max_size),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_iothub_blob_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_iothub_blob_create_loc_conf,  /* create location configuration */
    ngx_http_iothub_blob_merge_loc_conf    /* merge location configuration */
};


ngx_module_t  ngx_http_iothub_blob_module = {
    NGX_MODULE_V1,
    &ngx_http_iothub_blob_module_ctx,      /* module context */
    ngx_http_iothub_blob_commands,         /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_iothub_blob_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_http_iothub_blob_ctx_t  *ctx;

    r->connection->log->action = "serving the iothub blob store";

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_iothub_blob_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_iothub_blob_module);

    rc = ngx_http_iothub_blob_request(r, ctx);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ctx->op == NGX_HTTP_IOTHUB_BLOB_GET) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_iothub_blob_get(r, ctx);
    }

    return ngx_http_iothub_blob_put(r, ctx);
}


/* what the request is, and whether its SAS allows it: NGX_DECLINED yes */

static ngx_int_t
ngx_http_iothub_blob_request(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx)
{
    ngx_iothub_span_t  *comp;

    if (ngx_iothub_blob_query_parse(&ctx->query, r->args.data, r->args.len)
        != NGX_IOTHUB_BLOB_OK)
    {
        return ngx_http_iothub_blob_error(r, NGX_HTTP_BAD_REQUEST,
                                          "InvalidQueryParameterValue",
                                          "A query parameter is repeated.");
    }

    comp = &ctx->query.f[NGX_IOTHUB_BLOB_Q_COMP];

    switch (r->method) {

    case NGX_HTTP_GET:
    case NGX_HTTP_HEAD:
        if (comp->data != NULL) {
            return ngx_http_iothub_blob_error(r, NGX_HTTP_BAD_REQUEST,
                                              "UnsupportedQueryParameter",
                                              "Only blobs are served: no comp "
                                              "is supported on GET.");
        }

        ctx->op = NGX_HTTP_IOTHUB_BLOB_GET;
        break;

    case NGX_HTTP_PUT:
        if (comp->data == NULL) {
            ctx->op = NGX_HTTP_IOTHUB_BLOB_PUT;

        } else if (comp->len == 5 && ngx_strncmp(comp->data, "block", 5) == 0)
        {
            ctx->op = NGX_HTTP_IOTHUB_BLOB_BLOCK;

        } else if (comp->len == 9
                   && ngx_strncmp(comp->data, "blocklist", 9) == 0)
        {
            ctx->op = NGX_HTTP_IOTHUB_BLOB_BLOCK_LIST;

        } else {
            return ngx_http_iothub_blob_error(r, NGX_HTTP_BAD_REQUEST,
                                              "InvalidQueryParameterValue",
                                              "The comp parameter is not one "
                                              "of block, blocklist.");
        }

        break;

    default:
        return ngx_http_iothub_blob_error(r, NGX_HTTP_NOT_ALLOWED,
                                          "UnsupportedHttpVerb",
                                          "The resource doesn't support the "
                                          "specified HTTP verb.");
    }

    return ngx_http_iothub_blob_authorize(r, ctx);
}


static ngx_int_t
ngx_http_iothub_blob_authorize(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx)
{
    ngx_str_t                          prefix;
    ngx_iothub_span_t                  container, blob;
    ngx_iothub_blob_rc_e               rc;
    ngx_iothub_blob_access_t           a;
    ngx_iothub_blob_connstr_t         *cs;
    ngx_http_iothub_blob_loc_conf_t   *blcf;

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_iothub_blob_module);
    cs = blcf->hub->storage;

    /* the BlobEndpoint's path ("/acct"), then /<container>/<blob> */

    prefix.data = (u_char *) cs->path;
    prefix.len = ngx_strlen(cs->path);

    if (r->uri.len <= prefix.len
        || ngx_strncmp(r->uri.data, prefix.data, prefix.len) != 0
        || ngx_iothub_blob_path_parse(r->uri.data + prefix.len,
                                      r->uri.len - prefix.len,
                                      &container, &blob) != 0)
    {
        return ngx_http_iothub_blob_error(r, NGX_HTTP_BAD_REQUEST,
                                          "InvalidResourceName",
                                          "The specifed resource name "
                                          "contains invalid characters.");
    }

    ctx->container.data = (u_char *) container.data;
    ctx->container.len = container.len;
    ctx->blob.data = (u_char *) blob.data;
    ctx->blob.len = blob.len;

    ngx_memzero(&a, sizeof(ngx_iothub_blob_access_t));

    a.account = cs->account;
    a.key = cs->key;
    a.key_len = cs->key_len;
    a.container = container.data;
    a.container_len = container.len;
    a.blob = blob.data;
    a.blob_len = blob.len;
    a.permission = (ctx->op == NGX_HTTP_IOTHUB_BLOB_GET) ? 'r' : 'w';
    a.now = ngx_time();

    rc = ngx_iothub_blob_sas_check(&ctx->query, &a);

    if (rc == NGX_IOTHUB_BLOB_OK) {
        return ngx_http_iothub_blob_paths(r, ctx);
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "iothub blob: forbidden, %s",
                  ngx_iothub_blob_strerror(rc));

    if (rc == NGX_IOTHUB_BLOB_NO_PERMISSION) {
        return ngx_http_iothub_blob_error(r, NGX_HTTP_FORBIDDEN,
                                          "AuthorizationPermissionMismatch",
                                          "This request is not authorized "
                                          "to perform this operation using "
                                          "this permission.");
    }

    return ngx_http_iothub_blob_error(r, NGX_HTTP_FORBIDDEN,
                                      "AuthenticationFailed",
                                      ngx_iothub_blob_strerror(rc));
}


/* the files of the blob: it, and its uncommitted blocks' directory */

static ngx_int_t
ngx_http_iothub_blob_paths(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx)
{
    size_t                            len;
    ngx_iothub_span_t                *id;
    ngx_http_iothub_blob_loc_conf_t  *blcf;

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_iothub_blob_module);

    len = blcf->dir.len + sizeof("/.blocks/") + ctx->container.len + 1
          + ctx->blob.len + 1;

    ctx->path.data = ngx_pnalloc(r->pool, len);
    ctx->blocks.data = ngx_pnalloc(r->pool, len);
    if (ctx->path.data == NULL || ctx->blocks.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->path.len = ngx_sprintf(ctx->path.data, "%V/%V/%V%Z", &blcf->dir,
                                &ctx->container, &ctx->blob)
                    - ctx->path.data - 1;
    ctx->blocks.len = ngx_sprintf(ctx->blocks.data, "%V/.blocks/%V/%V%Z",
                                  &blcf->dir, &ctx->container, &ctx->blob)
                      - ctx->blocks.data - 1;

    if (ctx->op != NGX_HTTP_IOTHUB_BLOB_BLOCK) {
        return NGX_DECLINED;
    }

    id = &ctx->query.f[NGX_IOTHUB_BLOB_Q_BLOCKID];

    if (id->data == NULL
        || ngx_iothub_blob_block_name(ctx->block, sizeof(ctx->block),
                                      id->data, id->len) < 0)
    {
        return ngx_http_iothub_blob_error(r, NGX_HTTP_BAD_REQUEST,
                                          "InvalidQueryParameterValue",
                                          "The blockid is not base64 of 1 "
                                          "to 64 bytes.");
    }

    return NGX_DECLINED;
}


/* a body to read: to a file (a blob, a block) or to memory (a list) */

static ngx_int_t
ngx_http_iothub_blob_put(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx)
{
    off_t                             max;
    ngx_int_t                         rc;
    ngx_table_elt_t                  *type;
    ngx_http_iothub_blob_loc_conf_t  *blcf;

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_iothub_blob_module);

    if (ctx->op == NGX_HTTP_IOTHUB_BLOB_PUT) {
        type = ngx_http_iothub_find_header(r, "x-ms-blob-type", NULL);

        if (type == NULL || type->value.len != 9
            || ngx_strncasecmp(type->value.data, (u_char *) "BlockBlob", 9)
               != 0)
        {
            return ngx_http_iothub_blob_error(r, NGX_HTTP_BAD_REQUEST,
                                              "MissingRequiredHeader",
                                              "x-ms-blob-type: BlockBlob is "
                                              "required: only block blobs "
                                              "are stored.");
        }
    }

    /* Blob Storage takes no chunked body (411), and none over the limit */

    max = (ctx->op == NGX_HTTP_IOTHUB_BLOB_BLOCK_LIST)
          ? NGX_HTTP_IOTHUB_BLOB_LIST_MAX : blcf->max_size;

    if (r->headers_in.content_length_n < 0) {
        return ngx_http_iothub_blob_error(r, NGX_HTTP_LENGTH_REQUIRED,
                                          "MissingContentLengthHeader",
                                          "Content-Length is required.");
    }

    if (r->headers_in.content_length_n > max) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iothub blob: body of %O bytes is over %O",
                      r->headers_in.content_length_n, max);
        return ngx_http_iothub_blob_error(r,
                                          NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                          "RequestBodyTooLarge",
                                          "The request body is too large and "
                                          "exceeds the maximum permissible "
                                          "limit.");
    }

    if (ctx->op == NGX_HTTP_IOTHUB_BLOB_BLOCK_LIST) {
        r->request_body_in_single_buf = 1;

    } else {
        /* as the dav module: nginx writes it, we rename the file */
        r->request_body_in_file_only = 1;
        r->request_body_in_persistent_file = 1;
        r->request_body_in_clean_file = 1;
        r->request_body_file_log_level = 0;
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_iothub_blob_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_iothub_blob_body(ngx_http_request_t *r)
{
    ngx_http_iothub_blob_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iothub_blob_module);

    if (ctx->op == NGX_HTTP_IOTHUB_BLOB_BLOCK_LIST) {
        ngx_http_finalize_request(r, ngx_http_iothub_blob_commit(r, ctx));
        return;
    }

    ngx_http_finalize_request(r, ngx_http_iothub_blob_store(r, ctx));
}


/* Put Blob, Put Block: the body's temporary file is renamed into place */

static ngx_int_t
ngx_http_iothub_blob_store(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx)
{
    u_char     *p;
    ngx_str_t   to;

    if (r->request_body == NULL || r->request_body->temp_file == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->op == NGX_HTTP_IOTHUB_BLOB_PUT) {
        to = ctx->path;

    } else {
        to.len = ctx->blocks.len + 1 + ngx_strlen(ctx->block);
        to.data = ngx_pnalloc(r->pool, to.len + 1);
        if (to.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_sprintf(to.data, "%V/%s", &ctx->blocks, ctx->block);
        *p = '\0';
    }

    if (ngx_http_iothub_blob_rename(r, &r->request_body->temp_file->file.name,
                                    &to)
        != NGX_OK)
    {
        return ngx_http_iothub_blob_error(r, NGX_HTTP_CONFLICT,
                                          "OperationNotAllowed",
                                          "The blob cannot be written (is "
                                          "its name a directory?).");
    }

    return ngx_http_iothub_blob_created(r, ctx,
                                        ctx->op == NGX_HTTP_IOTHUB_BLOB_PUT);
}


/*
 * Put Block List: the listed blocks, in order, become the blob.  A list
 * over client_body_buffer_size (a blob of some hundred blocks) was
 * written to a temporary file: it is read back, at most
 * NGX_HTTP_IOTHUB_BLOB_LIST_MAX bytes just written.
 */

static ngx_int_t
ngx_http_iothub_blob_commit(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx)
{
    ssize_t      n;
    ngx_buf_t   *b;
    ngx_str_t    xml;
    ngx_file_t  *file;

    ngx_str_set(&xml, "");

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return ngx_http_iothub_blob_list(r, ctx, &xml);
    }

    if (r->request_body->temp_file == NULL) {
        b = r->request_body->bufs->buf;
        xml.data = b->pos;
        xml.len = b->last - b->pos;

        return ngx_http_iothub_blob_list(r, ctx, &xml);
    }

    file = &r->request_body->temp_file->file;

    xml.len = (size_t) r->headers_in.content_length_n;
    xml.data = ngx_pnalloc(r->pool, xml.len + 1);
    if (xml.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = ngx_read_file(file, xml.data, xml.len, 0);

    if (n != (ssize_t) xml.len) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iothub_blob_list(r, ctx, &xml);
}


static ngx_int_t
ngx_http_iothub_blob_list(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx, ngx_str_t *xml)
{
    char                name[NGX_IOTHUB_BLOB_BLOCK_NAME_LEN + 1];
    size_t              i, n, max;
    ngx_str_t          *file;
    ngx_file_info_t     fi;
    ngx_array_t         files;
    ngx_iothub_span_t  *ids;

    /* an element takes at least 21 bytes: "<Latest>AAAA</Latest>" */
    max = ngx_min(xml->len / 21 + 1, NGX_HTTP_IOTHUB_BLOB_MAX_BLOCKS);

    ids = ngx_palloc(r->pool, max * sizeof(ngx_iothub_span_t));
    if (ids == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_iothub_blob_block_list_parse(xml->data, xml->len, ids, max, &n)
        != 0)
    {
        return ngx_http_iothub_blob_error(r, NGX_HTTP_BAD_REQUEST,
                                          "InvalidXmlDocument",
                                          "XML specified is not syntactically "
                                          "valid.");
    }

    if (ngx_array_init(&files, r->pool, n ? n : 1, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < n; i++) {
        (void) ngx_iothub_blob_block_name(name, sizeof(name), ids[i].data,
                                          ids[i].len);

        file = ngx_array_push(&files);
        if (file == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        file->len = ctx->blocks.len + 1 + ngx_strlen(name);
        file->data = ngx_pnalloc(r->pool, file->len + 1);
        if (file->data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_sprintf(file->data, "%V/%s%Z", &ctx->blocks, name);

        if (ngx_file_info(file->data, &fi) == NGX_FILE_ERROR
            || !ngx_is_file(&fi))
        {
            return ngx_http_iothub_blob_error(r, NGX_HTTP_BAD_REQUEST,
                                              "InvalidBlockList",
                                              "The specified block list is "
                                              "invalid.");
        }
    }

    return ngx_http_iothub_blob_join(r, ctx, &files);
}


static ngx_int_t
ngx_http_iothub_blob_join(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx, ngx_array_t *files)
{
    ngx_fd_t     fd;
    ngx_str_t   *file, joined;
    ngx_uint_t   i;

    file = files->elts;

    /* one block is the blob: a rename */

    if (files->nelts == 1) {
        if (ngx_http_iothub_blob_rename(r, &file[0], &ctx->path) != NGX_OK) {
            goto failed;
        }

        goto done;
    }

    joined.len = ctx->blocks.len + sizeof("/.joined") - 1;
    joined.data = ngx_pnalloc(r->pool, joined.len + 1);
    if (joined.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_sprintf(joined.data, "%V/.joined%Z", &ctx->blocks);

    if (ngx_create_full_path(joined.data, 0700) != 0) {
        goto failed;
    }

    fd = ngx_open_file(joined.data, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE, 0600);
    if (fd == NGX_INVALID_FILE) {
        goto failed;
    }

    for (i = 0; i < files->nelts; i++) {
        if (ngx_http_iothub_blob_append(fd, &file[i], r->connection->log)
            != NGX_OK)
        {
            (void) ngx_close_file(fd);
            goto failed;
        }
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR
        || ngx_http_iothub_blob_rename(r, &joined, &ctx->path) != NGX_OK)
    {
        goto failed;
    }

    for (i = 0; i < files->nelts; i++) {
        (void) ngx_delete_file(file[i].data);
    }

done:

    ngx_http_iothub_blob_drop_blocks(r, &ctx->blocks);

    return ngx_http_iothub_blob_created(r, ctx, 1);

failed:

    return ngx_http_iothub_blob_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "InternalError",
                                      "The blocks could not be joined.");
}


static ngx_int_t
ngx_http_iothub_blob_append(ngx_fd_t out, ngx_str_t *name, ngx_log_t *log)
{
    ssize_t   n;
    ngx_fd_t  in;

    in = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (in == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      ngx_open_file_n " \"%V\" failed", name);
        return NGX_ERROR;
    }

    do {
        n = copy_file_range(in, NULL, out, NULL, 1024 * 1024 * 1024, 0);
    } while (n > 0);

    if (n < 0) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "copy_file_range() \"%V\" failed", name);
    }

    (void) ngx_close_file(in);

    return (n == 0) ? NGX_OK : NGX_ERROR;
}


/*
 * The uncommitted blocks left are dropped, as Blob Storage does on a
 * commit: the files of the blob's block directory (its subdirectories
 * are other blobs' "<blob>/..." blocks).
 */

static void
ngx_http_iothub_blob_drop_blocks(ngx_http_request_t *r, ngx_str_t *dir)
{
    u_char     *name;
    size_t      len;
    ngx_dir_t   d;

    if (ngx_open_dir(dir, &d) == NGX_ERROR) {
        return;
    }

    while (ngx_read_dir(&d) == NGX_OK) {
        len = ngx_de_namelen(&d);

        if (ngx_de_name(&d)[0] == '.') {
            continue;
        }

        name = ngx_pnalloc(r->pool, dir->len + 1 + len + 1);
        if (name == NULL) {
            break;
        }

        ngx_sprintf(name, "%V/%*s%Z", dir, len, ngx_de_name(&d));

        if (!d.valid_info && ngx_de_info(name, &d) == NGX_FILE_ERROR) {
            continue;
        }

        if (ngx_de_is_file(&d)) {
            (void) ngx_delete_file(name);
        }
    }

    (void) ngx_close_dir(&d);
    (void) ngx_delete_dir(dir->data);
}


static ngx_int_t
ngx_http_iothub_blob_rename(ngx_http_request_t *r, ngx_str_t *from,
    ngx_str_t *to)
{
    ngx_ext_rename_file_t  ext;

    ext.access = 0600;
    ext.path_access = 0700;
    ext.time = -1;
    ext.create_path = 1;
    ext.delete_file = 1;
    ext.log = r->connection->log;

    return ngx_ext_rename_file(from, to, &ext);
}


/* 201 Created, with the blob's ETag and Last-Modified when it is one */

static ngx_int_t
ngx_http_iothub_blob_created(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx, ngx_uint_t blob)
{
    u_char            modified[sizeof("Mon, 28 Sep 1970 06:00:00 GMT")];
    ngx_file_info_t   fi;

    r->headers_out.status = NGX_HTTP_CREATED;
    r->header_only = 1;

    if (blob && ngx_file_info(ctx->path.data, &fi) != NGX_FILE_ERROR) {
        r->headers_out.last_modified_time = ngx_file_mtime(&fi);

        /* nginx writes Last-Modified only for 200: it is written here */
        *ngx_http_time(modified, ngx_file_mtime(&fi)) = '\0';

        /* the ETag a Get Blob will give: of the time and the size */
        r->headers_out.content_length_n = ngx_file_size(&fi);

        if (ngx_http_set_etag(r) != NGX_OK
            || ngx_http_iothub_blob_header(r, "Last-Modified",
                                           (char *) modified) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    r->headers_out.content_length_n = 0;

    if (ngx_http_iothub_blob_headers(r) != NGX_OK
        || ngx_http_iothub_blob_header(r, "x-ms-request-server-encrypted",
                                       "false") != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_send_header(r);
}


/* Get Blob, and Get Blob Properties (HEAD): the file, as static does */

static ngx_int_t
ngx_http_iothub_blob_get(ngx_http_request_t *r,
    ngx_http_iothub_blob_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_chain_t                out;
    ngx_open_file_info_t       of;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    ngx_memzero(&of, sizeof(ngx_open_file_info_t));

    of.read_ahead = clcf->read_ahead;
    of.directio = NGX_MAX_OFF_T_VALUE;
    of.valid = clcf->open_file_cache_valid;
    of.min_uses = clcf->open_file_cache_min_uses;
    of.errors = clcf->open_file_cache_errors;
    of.events = clcf->open_file_cache_events;

    if (ngx_open_cached_file(clcf->open_file_cache, &ctx->path, &of, r->pool)
        != NGX_OK || !of.is_file)
    {
        return ngx_http_iothub_blob_error(r, NGX_HTTP_NOT_FOUND,
                                          "BlobNotFound",
                                          "The specified blob does not "
                                          "exist.");
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = of.size;
    r->headers_out.last_modified_time = of.mtime;
    r->allow_ranges = 1;

    /* Blob Storage's own name of Range, which the SDK sends: nginx's
     * range filter serves it */
    if (r->headers_in.range == NULL) {
        r->headers_in.range = ngx_http_iothub_find_header(r, "x-ms-range",
                                                          NULL);
    }

    ngx_str_set(&r->headers_out.content_type, "application/octet-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (ngx_http_set_etag(r) != NGX_OK
        || ngx_http_iothub_blob_headers(r) != NGX_OK
        || ngx_http_iothub_blob_header(r, "x-ms-blob-type", "BlockBlob")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
    if (b->file == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->file_pos = 0;
    b->file_last = of.size;
    b->in_file = b->file_last ? 1 : 0;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    b->file->fd = of.fd;
    b->file->name = ctx->path;
    b->file->log = r->connection->log;
    b->file->directio = of.is_directio;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* the headers every Blob Storage answer carries */

static ngx_int_t
ngx_http_iothub_blob_headers(ngx_http_request_t *r)
{
    u_char  id[NGX_INT64_LEN * 2 + 2];

    ngx_sprintf(id, "%uA-%ui%Z", r->connection->number,
                r->connection->requests);

    if (ngx_http_iothub_blob_header(r, "x-ms-version",
                                    NGX_HTTP_IOTHUB_BLOB_VERSION)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_iothub_blob_header(r, "x-ms-request-id", (char *) id);
}


static ngx_int_t
ngx_http_iothub_blob_header(ngx_http_request_t *r, const char *name,
    const char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.len = ngx_strlen(value);
    h->value.data = ngx_pnalloc(r->pool, h->value.len);
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(h->value.data, value, h->value.len);

    return NGX_OK;
}


/* Blob Storage's error: the XML body and x-ms-error-code */

static ngx_int_t
ngx_http_iothub_blob_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    size_t      len;
    ngx_buf_t  *b;

    static const char  head[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
                                "<Error><Code>";

    /* a body not read yet is not wanted (a no-op once it was read) */
    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    len = sizeof(head) - 1 + ngx_strlen(code) + sizeof("</Code><Message>") - 1
          + ngx_strlen(message) + sizeof("</Message></Error>") - 1;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_sprintf(b->last, "%s%s</Code><Message>%s</Message></Error>",
                          head, code, message);

    ngx_str_set(&r->headers_out.content_type, "application/xml");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (ngx_http_iothub_blob_headers(r) != NGX_OK
        || ngx_http_iothub_blob_header(r, "x-ms-error-code", code) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iothub_send_buf(r, status, b);
}


static void *
ngx_http_iothub_blob_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_iothub_blob_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_iothub_blob_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->max_size = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_iothub_blob_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_iothub_blob_loc_conf_t *prev = parent;
    ngx_http_iothub_blob_loc_conf_t *conf = child;

    ngx_conf_merge_off_value(conf->max_size, prev->max_size,
                             256 * 1024 * 1024);

    return NGX_CONF_OK;
}


/* iothub_blob_store <hub> <directory> */

static char *
ngx_http_iothub_blob_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_iothub_blob_loc_conf_t *blcf = conf;

    char                      *rv;
    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    rv = ngx_iothub_conf_set_hub(cf, &blcf->hub);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    value = cf->args->elts;

    if (blcf->hub->storage == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "hub \"%V\" of \"iothub_blob_store\" has no "
                           "\"storage_connection_string\": its account "
                           "name and key sign the store's SAS", &value[1]);
        return NGX_CONF_ERROR;
    }

    blcf->dir = value[2];

    while (blcf->dir.len > 1 && blcf->dir.data[blcf->dir.len - 1] == '/') {
        blcf->dir.len--;
    }

    if (ngx_conf_full_name(cf->cycle, &blcf->dir, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (blcf->hub->blob_store_dir.len
        && (blcf->hub->blob_store_dir.len != blcf->dir.len
            || ngx_strncmp(blcf->hub->blob_store_dir.data, blcf->dir.data,
                           blcf->dir.len) != 0))
    {
        return "names another directory for the same hub: a hub has one "
               "store";
    }

    blcf->hub->blob_store_dir = blcf->dir;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_iothub_blob_handler;

    /* the store checks sizes itself (iothub_blob_max_size), in XML */
    if (clcf->client_max_body_size == NGX_CONF_UNSET) {
        clcf->client_max_body_size = 0;
    }

    return NGX_CONF_OK;
}
