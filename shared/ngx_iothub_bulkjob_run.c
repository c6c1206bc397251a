
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * nginx-iothub: the runner of an import/export job, in the background of
 * the worker that created it.  Every step is one Redis round trip, so
 * the worker serves its other events between steps: an export writes a
 * page of NGX_IOTHUB_BULKJOB_CHUNK devices or more identities (whole
 * devices with their modules, each with its twin) per turn (one write()
 * of their lines), an import reads at most a line's worth of the blob per
 * line (one read()) and applies its lines one registry call at a time,
 * then, for a line with a twin part, one twin service call;
 * after every NGX_IOTHUB_BULKJOB_CHUNK identities or lines the job's
 * progress is stored, its lease renewed, and a cancelled job stops.
 *
 * The files are the hub's blob store's (iothub_blob_store): a blob is
 * written under <store>/.bulkjobs/ (no container can be named so) and
 * renamed into place when complete, as the store makes its own blobs.
 * No thread pool (nginx is built --with-threads, but a pool must be
 * configured and named): each step's read() (at most 64 KB) or write()
 * (100 lines) is bounded and goes to the page cache, as nginx writes its
 * own temp files in the worker; docs/architecture.md.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub_lua.h"
#include "ngx_iothub_args.h"
#include "ngx_iothub_reply.h"
#include "ngx_iothub_registry.h"
#include "ngx_iothub_twin_service.h"
#include "ngx_iothub_bulkjob.h"


#define NGX_IOTHUB_BULKJOB_TMP_DIR   ".bulkjobs"


typedef struct ngx_iothub_bulkjob_runner_s  ngx_iothub_bulkjob_runner_t;

typedef void (*ngx_iothub_bulkjob_next_pt)(ngx_iothub_bulkjob_runner_t *r);


struct ngx_iothub_bulkjob_runner_s {
    ngx_pool_t                      *pool;
    ngx_log_t                       *log;
    ngx_iothub_hub_t                *hub;
    ngx_str_t                        id;
    ngx_iothub_bulkjob_request_t     req;
    u_char                           runner[37];   /* this run's token */

    /* where a run taken over goes on (ngx_iothub_bulkjob_resume()) */
    unsigned                         resuming:1;
    u_char                           resume_runner[37];
    off_t                            resume_in;
    off_t                            resume_out;

    /* the run whose temp file holds the output so far */
    u_char                          *out_runner;

    ngx_iothub_redis_call_t         *call;
    ngx_iothub_bulkjob_next_pt       next;     /* after a stored step */
    const char                      *status;   /* of the step */

    yajl_gen                         g;

    /* the blob written (export) or the errors (import) */
    ngx_fd_t                         out_fd;
    ngx_str_t                        out_tmp;
    ngx_str_t                        out_path;
    off_t                            out_size;

    /* export */
    u_char                           cursor[NGX_IOTHUB_ID_MAX + 1];
    ngx_uint_t                       exported;
    ngx_uint_t                       devices;
    ngx_iothub_identity_t            identity;

    /* import */
    ngx_fd_t                         in_fd;
    off_t                            in_size;
    off_t                            in_read;
    u_char                          *buf;
    size_t                           pos;
    size_t                           last;
    ngx_uint_t                       line;
    ngx_uint_t                       chunk;
    ngx_pool_t                      *chunk_pool;
    ngx_iothub_registry_op_t         op;
    ngx_iothub_bulk_entry_t          entry;

    /* the line's twin part: the line is the body of a twin PUT */
    ngx_iothub_twin_op_t             twin_op;
    ngx_str_t                        twin_body;
    char                             twin_etag[64];
    unsigned                         twin:1;

    unsigned                         creating:1;
    unsigned                         eof:1;
};


static ngx_int_t ngx_iothub_bulkjob_resume(ngx_iothub_bulkjob_runner_t *r,
    ngx_str_t *checkpoint);
static void ngx_iothub_bulkjob_begin(ngx_iothub_bulkjob_runner_t *r);
static ngx_int_t ngx_iothub_bulkjob_tmp_path(ngx_iothub_bulkjob_runner_t *r,
    ngx_str_t *path, u_char *runner, const char *suffix);
static ngx_int_t ngx_iothub_bulkjob_reopen_out(
    ngx_iothub_bulkjob_runner_t *r, const char *suffix);
static ngx_int_t ngx_iothub_bulkjob_blob(ngx_iothub_bulkjob_runner_t *r,
    const char *uri, const char *blob, char permission, ngx_str_t *path,
    const char **reason);
static ngx_int_t ngx_iothub_bulkjob_open_out(ngx_iothub_bulkjob_runner_t *r,
    const char *suffix);
static ngx_int_t ngx_iothub_bulkjob_write(ngx_iothub_bulkjob_runner_t *r,
    const u_char *data, size_t len);
static ngx_int_t ngx_iothub_bulkjob_commit(ngx_iothub_bulkjob_runner_t *r);
static void ngx_iothub_bulkjob_export_page(ngx_iothub_bulkjob_runner_t *r);
static void ngx_iothub_bulkjob_exported(void *data, redisReply *reply);
static ngx_int_t ngx_iothub_bulkjob_export_line(
    ngx_iothub_bulkjob_runner_t *r, redisReply *reply, size_t i);
static void ngx_iothub_bulkjob_import_next(ngx_iothub_bulkjob_runner_t *r);
static ngx_int_t ngx_iothub_bulkjob_next_line(ngx_iothub_bulkjob_runner_t *r,
    u_char **line, size_t *len);
static ngx_int_t ngx_iothub_bulkjob_apply(ngx_iothub_bulkjob_runner_t *r);
static void ngx_iothub_bulkjob_applied(ngx_iothub_registry_op_t *op);
static ngx_int_t ngx_iothub_bulkjob_apply_twin(
    ngx_iothub_bulkjob_runner_t *r);
static void ngx_iothub_bulkjob_twin_applied(ngx_iothub_twin_op_t *op);
static void ngx_iothub_bulkjob_import_error(ngx_iothub_bulkjob_runner_t *r,
    const char *code, const char *status);
static void ngx_iothub_bulkjob_import_end(ngx_iothub_bulkjob_runner_t *r);
static void ngx_iothub_bulkjob_step(ngx_iothub_bulkjob_runner_t *r,
    const char *status, const char *reason, off_t done, off_t total,
    ngx_iothub_bulkjob_next_pt next);
static void ngx_iothub_bulkjob_stepped(void *data, redisReply *reply);
static void ngx_iothub_bulkjob_fail(ngx_iothub_bulkjob_runner_t *r,
    const char *reason);
static void ngx_iothub_bulkjob_free(ngx_iothub_bulkjob_runner_t *r);


ngx_int_t
ngx_iothub_bulkjob_run(ngx_iothub_hub_t *hub, ngx_str_t *id,
    ngx_iothub_bulkjob_request_t *req, u_char *runner, ngx_str_t *checkpoint)
{
    ngx_pool_t                   *pool;
    ngx_iothub_bulkjob_runner_t  *r;

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    r = ngx_pcalloc(pool, sizeof(ngx_iothub_bulkjob_runner_t));
    if (r == NULL) {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    r->pool = pool;
    r->log = ngx_cycle->log;
    r->hub = hub;
    r->req = *req;
    r->out_fd = NGX_INVALID_FILE;
    r->in_fd = NGX_INVALID_FILE;

    r->id.len = id->len;
    r->id.data = ngx_pstrdup(pool, id);
    r->g = yajl_gen_alloc(NULL);
    ngx_cpystrn(r->runner, runner, sizeof(r->runner));
    r->out_runner = r->runner;

    if (r->id.data == NULL || r->g == NULL) {
        ngx_iothub_bulkjob_free(r);
        return NGX_ERROR;
    }

    if (checkpoint != NULL && checkpoint->len
        && ngx_iothub_bulkjob_resume(r, checkpoint) != NGX_OK)
    {
        /* not ours: fails the job */
        ngx_log_error(NGX_LOG_ERR, r->log, 0,
                      "iothub: job \"%V\": bad checkpoint \"%V\"", &r->id,
                      checkpoint);
        ngx_iothub_bulkjob_step(r, "failed", "the job's progress could not "
                                "be read", 0, 0, NULL);
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_INFO, r->log, 0, "iothub: %s job \"%V\" %s",
                  (req->type == NGX_IOTHUB_BULKJOB_EXPORT)
                  ? "export" : "import", &r->id,
                  r->resuming ? "taken over" : "started");

    /* "running", then the files: a failure is the job's */
    ngx_iothub_bulkjob_step(r, "running", "", 0, 0,
                            ngx_iothub_bulkjob_begin);

    return NGX_OK;
}


/*
 * A job's checkpoint, as ngx_iothub_bulkjob_step() stores it: "<runner>
 * <input bytes done> <lines done> <output bytes> <devices> <identities>
 * <cursor>"; the output so far is in the temp file of that runner.
 */

static ngx_int_t
ngx_iothub_bulkjob_resume(ngx_iothub_bulkjob_runner_t *r,
    ngx_str_t *checkpoint)
{
    u_char      *p, *q, *last;
    off_t        n[5];
    ngx_uint_t   i;

    p = checkpoint->data;
    last = p + checkpoint->len;

    q = ngx_strlchr(p, last, ' ');
    if (q == NULL || q - p != 36) {
        return NGX_ERROR;
    }

    ngx_memcpy(r->resume_runner, p, 36);
    r->resume_runner[36] = '\0';

    for (i = 0; i < 5; i++) {
        p = q + 1;
        q = ngx_strlchr(p, last, ' ');

        if (q == NULL || (n[i] = ngx_atoof(p, q - p)) == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    p = q + 1;

    if (last - p > NGX_IOTHUB_ID_MAX) {
        return NGX_ERROR;
    }

    ngx_memcpy(r->cursor, p, last - p);
    r->cursor[last - p] = '\0';

    /* until its files are open, this run's checkpoint is that one */

    r->resume_in = n[0];
    r->in_read = n[0];
    r->line = (ngx_uint_t) n[1];
    r->resume_out = n[2];
    r->out_size = n[2];
    r->devices = (ngx_uint_t) n[3];
    r->exported = (ngx_uint_t) n[4];
    r->out_runner = r->resume_runner;
    r->resuming = 1;

    return NGX_OK;
}


static void
ngx_iothub_bulkjob_begin(ngx_iothub_bulkjob_runner_t *r)
{
    ngx_str_t     in;
    const char   *reason;

    if (r->req.type == NGX_IOTHUB_BULKJOB_EXPORT) {
        if (ngx_iothub_bulkjob_blob(r, r->req.output_uri, r->req.output_blob,
                                    'w', &r->out_path, &reason)
            != NGX_OK
            || ngx_iothub_bulkjob_open_out(r, ".export") != NGX_OK)
        {
            ngx_iothub_bulkjob_fail(r, reason);
            return;
        }

        ngx_iothub_bulkjob_export_page(r);
        return;
    }

    reason = "the import's files could not be opened";

    if (ngx_iothub_bulkjob_blob(r, r->req.input_uri, r->req.input_blob, 'r',
                                &in, &reason)
        != NGX_OK
        || ngx_iothub_bulkjob_blob(r, r->req.output_uri,
                                   NGX_IOTHUB_BULKJOB_ERRORS_BLOB, 'w',
                                   &r->out_path, &reason)
           != NGX_OK)
    {
        ngx_iothub_bulkjob_fail(r, reason);
        return;
    }

    r->in_fd = ngx_open_file(in.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (r->in_fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_INFO, r->log, ngx_errno,
                      "iothub: job \"%V\": " ngx_open_file_n " \"%V\" failed",
                      &r->id, &in);
        ngx_iothub_bulkjob_fail(r, "the input blob does not exist");
        return;
    }

    /* a run taken over: after the lines done */

    if (r->resume_in
        && lseek(r->in_fd, r->resume_in, SEEK_SET) == (off_t) -1)
    {
        ngx_iothub_bulkjob_fail(r, "the input blob could not be read");
        return;
    }

    r->in_read = r->resume_in;

    r->buf = ngx_pnalloc(r->pool, NGX_IOTHUB_BULKJOB_LINE_MAX);
    r->chunk_pool = ngx_create_pool(4096, r->log);

    if (r->buf == NULL || r->chunk_pool == NULL
        || ngx_iothub_bulkjob_open_out(r, ".errors") != NGX_OK)
    {
        ngx_iothub_bulkjob_fail(r, "the import's files could not be opened");
        return;
    }

    ngx_iothub_bulkjob_import_next(r);
}


/*
 * A blob of a container URI: the URI must name the hub's blob store,
 * served by this nginx, and its SAS must allow permission on the blob;
 * *path is its file.  Otherwise *reason is the job's failure reason.
 */

static ngx_int_t
ngx_iothub_bulkjob_blob(ngx_iothub_bulkjob_runner_t *r, const char *uri,
    const char *blob, char permission, ngx_str_t *path, const char **reason)
{
    u_char                       *p;
    size_t                        len;
    ngx_str_t                    *dir;
    ngx_iothub_span_t             container, name;
    ngx_iothub_blob_rc_e          rc;
    ngx_iothub_bulkjob_uri_t      u;
    ngx_iothub_bulkjob_uri_rc_e   urc;

    dir = &r->hub->blob_store_dir;

    if (r->hub->storage == NULL) {
        *reason = "the hub has no storage_connection_string: only its own "
                  "blob store can be used";
        return NGX_ERROR;
    }

    urc = ngx_iothub_bulkjob_uri_parse(&u, uri, ngx_strlen(uri),
                                       r->hub->storage);

    if (urc == NGX_IOTHUB_BULKJOB_URI_OTHER_HOST) {
        *reason = "the container is not in the hub's blob store (its "
                  "BlobEndpoint): other stores are not supported";
        return NGX_ERROR;
    }

    if (urc != NGX_IOTHUB_BULKJOB_URI_OK) {
        *reason = "the container URI is malformed";
        return NGX_ERROR;
    }

    if (dir->len == 0) {
        *reason = "this node does not serve the hub's blob store "
                  "(iothub_blob_store)";
        return NGX_ERROR;
    }

    rc = ngx_iothub_bulkjob_uri_allows(&u, r->hub->storage, blob, permission,
                                       ngx_time());

    if (rc != NGX_IOTHUB_BLOB_OK) {
        ngx_log_error(NGX_LOG_INFO, r->log, 0,
                      "iothub: job \"%V\": the container's SAS was refused: "
                      "%s", &r->id, ngx_iothub_blob_strerror(rc));
        *reason = (permission == 'r')
                  ? "the input container's SAS does not allow reading it"
                  : "the output container's SAS does not allow writing it";
        return NGX_ERROR;
    }

    /* "/<container>/<blob>" must be a path of the store */

    len = 1 + u.container.len + 1 + ngx_strlen(blob);

    p = ngx_pnalloc(r->pool, dir->len + len + 1);
    if (p == NULL) {
        *reason = "out of memory";
        return NGX_ERROR;
    }

    path->data = p;
    path->len = dir->len + len;

    p = ngx_cpymem(p, dir->data, dir->len);
    ngx_sprintf(p, "/%*s/%s%Z", u.container.len, u.container.data, blob);

    if (ngx_iothub_blob_path_parse(p, len, &container, &name) != 0) {
        *reason = "the blob name is not one of the store";
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * <store>/.bulkjobs/<job id>.<runner><suffix>, written then renamed into
 * place; a run taken over goes on with the file of the run before.
 */

static ngx_int_t
ngx_iothub_bulkjob_open_out(ngx_iothub_bulkjob_runner_t *r,
    const char *suffix)
{
    if (ngx_iothub_bulkjob_tmp_path(r, &r->out_tmp, r->runner, suffix)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_create_full_path(r->out_tmp.data, 0700) != 0) {
        ngx_log_error(NGX_LOG_ERR, r->log, ngx_errno,
                      "iothub: job \"%V\": cannot create the directory of "
                      "\"%V\"", &r->id, &r->out_tmp);
        return NGX_ERROR;
    }

    if (r->resuming) {
        return ngx_iothub_bulkjob_reopen_out(r, suffix);
    }

    r->out_fd = ngx_open_file(r->out_tmp.data, NGX_FILE_WRONLY,
                              NGX_FILE_TRUNCATE, 0600);

    if (r->out_fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, r->log, ngx_errno,
                      "iothub: job \"%V\": " ngx_open_file_n " \"%V\" failed",
                      &r->id, &r->out_tmp);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_iothub_bulkjob_tmp_path(ngx_iothub_bulkjob_runner_t *r, ngx_str_t *path,
    u_char *runner, const char *suffix)
{
    ngx_str_t  *dir;

    dir = &r->hub->blob_store_dir;

    path->len = dir->len + sizeof("/" NGX_IOTHUB_BULKJOB_TMP_DIR "/.") - 1
                + r->id.len + ngx_strlen(runner) + ngx_strlen(suffix);
    path->data = ngx_pnalloc(r->pool, path->len + 1);

    if (path->data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(path->data, "%V/" NGX_IOTHUB_BULKJOB_TMP_DIR "/%V.%s%s%Z",
                dir, &r->id, runner, suffix);

    return NGX_OK;
}


/*
 * The output of the run taken over becomes this run's, cut to what its
 * checkpoint counted (lines written after it are written again).  It
 * must be there when the checkpoint counted output: on this node, or on
 * a store that the nodes share.
 */

static ngx_int_t
ngx_iothub_bulkjob_reopen_out(ngx_iothub_bulkjob_runner_t *r,
    const char *suffix)
{
    ngx_str_t  before;

    if (ngx_iothub_bulkjob_tmp_path(r, &before, r->resume_runner, suffix)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_rename_file(before.data, r->out_tmp.data) == NGX_FILE_ERROR
        && r->resume_out > 0)
    {
        ngx_log_error(NGX_LOG_ERR, r->log, ngx_errno,
                      "iothub: job \"%V\": the output so far, \"%V\", is "
                      "not on this node", &r->id, &before);
        return NGX_ERROR;
    }

    r->out_fd = ngx_open_file(r->out_tmp.data, NGX_FILE_WRONLY,
                              NGX_FILE_CREATE_OR_OPEN, 0600);

    if (r->out_fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, r->log, ngx_errno,
                      "iothub: job \"%V\": " ngx_open_file_n " \"%V\" failed",
                      &r->id, &r->out_tmp);
        return NGX_ERROR;
    }

    if (ftruncate(r->out_fd, r->resume_out) == -1
        || lseek(r->out_fd, r->resume_out, SEEK_SET) == (off_t) -1)
    {
        ngx_log_error(NGX_LOG_ERR, r->log, ngx_errno,
                      "iothub: job \"%V\": cannot cut \"%V\" to %O bytes",
                      &r->id, &r->out_tmp, r->resume_out);
        return NGX_ERROR;
    }

    r->out_size = r->resume_out;
    r->out_runner = r->runner;

    return NGX_OK;
}


static ngx_int_t
ngx_iothub_bulkjob_write(ngx_iothub_bulkjob_runner_t *r, const u_char *data,
    size_t len)
{
    ssize_t  n;

    while (len > 0) {
        n = ngx_write_fd(r->out_fd, (void *) data, len);

        if (n == -1) {
            if (ngx_errno == NGX_EINTR) {
                continue;
            }

            ngx_log_error(NGX_LOG_ERR, r->log, ngx_errno,
                          "iothub: job \"%V\": " ngx_write_fd_n " \"%V\" "
                          "failed", &r->id, &r->out_tmp);
            return NGX_ERROR;
        }

        data += n;
        len -= n;
        r->out_size += n;
    }

    return NGX_OK;
}


/* the written file becomes the blob, as the store's own blobs do */

static ngx_int_t
ngx_iothub_bulkjob_commit(ngx_iothub_bulkjob_runner_t *r)
{
    ngx_fd_t               fd;
    ngx_ext_rename_file_t  ext;

    fd = r->out_fd;
    r->out_fd = NGX_INVALID_FILE;

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        return NGX_ERROR;
    }

    ext.access = 0600;
    ext.path_access = 0700;
    ext.time = -1;
    ext.create_path = 1;
    ext.delete_file = 1;
    ext.log = r->log;

    if (ngx_ext_rename_file(&r->out_tmp, &r->out_path, &ext) != NGX_OK) {
        return NGX_ERROR;
    }

    r->out_tmp.len = 0;

    return NGX_OK;
}


static void
ngx_iothub_bulkjob_export_page(ngx_iothub_bulkjob_runner_t *r)
{
    u_char             n[NGX_INT_T_LEN];
    u_char             key[NGX_IOTHUB_BULKJOB_KEY_LEN];
    ngx_iothub_args_t  args;

    args.n = 0;

    ngx_iothub_bulkjob_key_arg(&args, key, r->hub, "devices", NULL);
    ngx_iothub_args_add(&args, (char *) r->hub->prefix.data,
                        r->hub->prefix.len);
    ngx_iothub_args_add(&args, (char *) n,
                        ngx_sprintf(n, "%d", NGX_IOTHUB_BULKJOB_CHUNK) - n);
    ngx_iothub_args_add_str(&args, (char *) r->cursor);

    if (!ngx_iothub_args_ok(&args)) {
        ngx_iothub_bulkjob_fail(r, "internal error");
        return;
    }

    r->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                      NGX_IOTHUB_LUA_BULKJOB_EXPORT_PAGE,
                                      ngx_iothub_bulkjob_exported, r, 1,
                                      args.n, args.argv, args.lens);

    if (r->call == NULL) {
        /* Redis is down: nothing can be stored; the lease lapses */
        ngx_iothub_bulkjob_free(r);
    }
}


static void
ngx_iothub_bulkjob_exported(void *data, redisReply *reply)
{
    ngx_iothub_bulkjob_runner_t *r = data;

    size_t                  i, n, len;
    const unsigned char    *buf;
    ngx_iothub_reply_rc_e   rc;
    ngx_iothub_reply_str_t  next;

    r->call = NULL;

    rc = ngx_iothub_reply_query_chunk(reply, &next, &n);

    if (rc == NGX_IOTHUB_REPLY_LOST) {
        ngx_iothub_bulkjob_free(r);
        return;
    }

    if (rc != NGX_IOTHUB_REPLY_OK || next.len > NGX_IOTHUB_ID_MAX) {
        ngx_iothub_bulkjob_fail(r, "internal error: the registry's page");
        return;
    }

    for (i = 0; i < n; i++) {
        if (ngx_iothub_bulkjob_export_line(r, reply, i) != NGX_OK) {
            ngx_iothub_bulkjob_fail(r, "internal error: an export line");
            return;
        }
    }

    yajl_gen_get_buf(r->g, &buf, &len);

    if (ngx_iothub_bulkjob_write(r, buf, len) != NGX_OK) {
        ngx_iothub_bulkjob_fail(r, "the blob could not be written");
        return;
    }

    yajl_gen_clear(r->g);
    r->exported += n;

    if (next.len == 0) {
        if (ngx_iothub_bulkjob_commit(r) != NGX_OK) {
            ngx_iothub_bulkjob_fail(r, "the blob could not be written");
            return;
        }

        ngx_log_error(NGX_LOG_INFO, r->log, 0,
                      "iothub: export job \"%V\" wrote %ui identities to "
                      "\"%V\"", &r->id, r->exported, &r->out_path);

        ngx_iothub_bulkjob_step(r, "completed", "", 0, 0, NULL);
        return;
    }

    ngx_memcpy(r->cursor, next.data, next.len);
    r->cursor[next.len] = '\0';

    ngx_iothub_bulkjob_step(r, "running", "", r->devices, -1,
                            ngx_iothub_bulkjob_export_page);
}


/* identity i of a page with its twin, as a line into r->g */

static ngx_int_t
ngx_iothub_bulkjob_export_line(ngx_iothub_bulkjob_runner_t *r,
    redisReply *reply, size_t i)
{
    int                     st;
    long long               count;
    ngx_iothub_twin_t       twin;
    ngx_iothub_reply_rc_e   rc;

    if (ngx_iothub_twin_init(&twin, NULL) != NGX_IOTHUB_TWIN_OK) {
        return NGX_ERROR;
    }

    rc = ngx_iothub_reply_query_twin(reply, i, &twin, &r->identity, &count);

    st = (rc == NGX_IOTHUB_REPLY_OK)
         ? ngx_iothub_bulkjob_line_gen(r->g, &r->identity, &twin,
                                       r->req.exclude_keys)
         : -1;

    ngx_iothub_twin_free(&twin);

    if (st != yajl_gen_status_ok) {
        ngx_log_error(NGX_LOG_ERR, r->log, 0,
                      "iothub: job \"%V\": the identity or twin of \"%s\" "
                      "could not be read", &r->id, r->identity.device_id);
        return NGX_ERROR;
    }

    if (r->identity.module_id[0] == '\0') {
        r->devices++;
    }

    yajl_gen_reset(r->g, "\n");

    return NGX_OK;
}


/*
 * The import's lines, one registry call each; after every
 * NGX_IOTHUB_BULKJOB_CHUNK lines (those that fail to parse included, so
 * that a turn does a bounded amount of work) the progress is stored.
 */

static void
ngx_iothub_bulkjob_import_next(ngx_iothub_bulkjob_runner_t *r)
{
    char        err[256];
    u_char     *line;
    size_t      len;
    ngx_int_t   rc;

    for ( ;; ) {
        if (r->chunk == NGX_IOTHUB_BULKJOB_CHUNK) {
            r->chunk = 0;
            ngx_reset_pool(r->chunk_pool);

            ngx_iothub_bulkjob_step(r, "running", "",
                                    r->in_read - (r->last - r->pos),
                                    r->in_size,
                                    ngx_iothub_bulkjob_import_next);
            return;
        }

        rc = ngx_iothub_bulkjob_next_line(r, &line, &len);

        if (rc == NGX_DONE) {
            ngx_iothub_bulkjob_import_end(r);
            return;
        }

        if (rc != NGX_OK) {
            ngx_iothub_bulkjob_fail(r, (rc == NGX_DECLINED)
                                       ? "a line of the input blob is "
                                         "longer than 65536 bytes"
                                       : "the input blob could not be read");
            return;
        }

        r->line++;
        r->chunk++;

        if (len == 0 || (len == 1 && line[0] == '\r')) {
            continue;
        }

        if (ngx_iothub_bulkjob_line_parse(&r->entry, (char *) line, len, err,
                                          sizeof(err))
            != NGX_IOTHUB_IDENTITY_OK)
        {
            r->entry.identity.device_id[0] = '\0';
            r->entry.identity.module_id[0] = '\0';
            r->entry.mode = NGX_IOTHUB_IMPORT_CREATE;
            ngx_iothub_bulkjob_import_error(r, "ArgumentInvalid", err);
            continue;
        }

        r->creating = 0;
        r->twin_body.data = line;
        r->twin_body.len = len;
        r->twin = ngx_iothub_bulkjob_line_twin((char *) line, len,
                                               r->twin_etag,
                                               sizeof(r->twin_etag));

        rc = ngx_iothub_bulkjob_apply(r);

        if (rc == NGX_OK) {
            return;
        }

        if (rc == NGX_DECLINED) {
            ngx_iothub_bulkjob_free(r);
            return;
        }

        ngx_iothub_bulkjob_import_error(r, "ArgumentInvalid",
                                        (rc == NGX_DONE)
                                        ? "updateTwinIfMatchETag needs the "
                                          "twinETag"
                                        : "internal error");
    }
}


/*
 * The next line (without its "\n") in the buffer, reading more of the
 * blob (one read) when it holds no whole line.  NGX_DONE at the end,
 * NGX_DECLINED for a line longer than the buffer, NGX_ERROR.
 */

static ngx_int_t
ngx_iothub_bulkjob_next_line(ngx_iothub_bulkjob_runner_t *r, u_char **line,
    size_t *len)
{
    u_char   *nl;
    ssize_t   n;

    for ( ;; ) {
        nl = ngx_strlchr(r->buf + r->pos, r->buf + r->last, '\n');

        if (nl != NULL) {
            *line = r->buf + r->pos;
            *len = nl - *line;
            r->pos = nl + 1 - r->buf;
            return NGX_OK;
        }

        if (r->eof) {
            if (r->pos == r->last) {
                return NGX_DONE;
            }

            *line = r->buf + r->pos;
            *len = r->last - r->pos;
            r->pos = r->last;
            return NGX_OK;
        }

        if (r->pos == 0 && r->last == NGX_IOTHUB_BULKJOB_LINE_MAX) {
            return NGX_DECLINED;
        }

        ngx_memmove(r->buf, r->buf + r->pos, r->last - r->pos);
        r->last -= r->pos;
        r->pos = 0;

        n = ngx_read_fd(r->in_fd, r->buf + r->last,
                        NGX_IOTHUB_BULKJOB_LINE_MAX - r->last);

        if (n == -1) {
            ngx_log_error(NGX_LOG_ERR, r->log, ngx_errno,
                          "iothub: job \"%V\": " ngx_read_fd_n " failed",
                          &r->id);
            return NGX_ERROR;
        }

        if (n == 0) {
            r->eof = 1;
        }

        r->last += n;
        r->in_read += n;
    }
}


/* as a bulk registry request applies its entries (rest.md 5) */

static ngx_int_t
ngx_iothub_bulkjob_apply(ngx_iothub_bulkjob_runner_t *r)
{
    ngx_int_t  rc;

    ngx_memzero(&r->op, sizeof(ngx_iothub_registry_op_t));
    r->op.hub = r->hub;
    r->op.pool = r->chunk_pool;
    r->op.log = r->log;
    r->op.handler = ngx_iothub_bulkjob_applied;
    r->op.data = r;

    rc = ngx_iothub_registry_apply(&r->op, &r->entry, r->creating);

    if (rc == NGX_DONE) {
        /* updateTwin, updateTwinIfMatchETag: the twin part alone */
        return ngx_iothub_bulkjob_apply_twin(r);
    }

    return rc;
}


static void
ngx_iothub_bulkjob_applied(ngx_iothub_registry_op_t *op)
{
    ngx_iothub_bulkjob_runner_t *r = op->data;

    ngx_int_t  rc;

    /* "update" creates what is not there, a module too */

    if ((op->rc == NGX_IOTHUB_REGISTRY_NO_DEVICE
         || op->rc == NGX_IOTHUB_REGISTRY_NO_MODULE)
        && r->entry.mode == NGX_IOTHUB_IMPORT_UPDATE
        && !r->creating)
    {
        r->creating = 1;

        rc = ngx_iothub_bulkjob_apply(r);

        if (rc == NGX_OK) {
            return;
        }

        op->rc = NGX_IOTHUB_REGISTRY_UNAVAILABLE;
    }

    switch (op->rc) {

    case NGX_IOTHUB_REGISTRY_OK:
        if (!r->twin || r->entry.mode == NGX_IOTHUB_IMPORT_DELETE
            || r->entry.mode == NGX_IOTHUB_IMPORT_DELETE_IF_MATCH_ETAG)
        {
            break;
        }

        /* the identity is stored: now the line's twin part */

        rc = ngx_iothub_bulkjob_apply_twin(r);

        if (rc == NGX_OK) {
            return;
        }

        if (rc == NGX_DECLINED) {
            ngx_iothub_bulkjob_free(r);
            return;
        }

        ngx_iothub_bulkjob_import_error(r, "ServerError", "internal error");
        break;

    case NGX_IOTHUB_REGISTRY_UNAVAILABLE:
        ngx_iothub_bulkjob_free(r);
        return;

    case NGX_IOTHUB_REGISTRY_NO_DEVICE:
        ngx_iothub_bulkjob_import_error(r, "DeviceNotFound",
                                        "the device is not registered");
        break;

    case NGX_IOTHUB_REGISTRY_NO_MODULE:
        ngx_iothub_bulkjob_import_error(r, "ModuleNotFound",
                                        "the module is not registered");
        break;

    case NGX_IOTHUB_REGISTRY_EXISTS:
        ngx_iothub_bulkjob_import_error(r,
                                        r->entry.identity.module_id[0]
                                        ? "ModuleAlreadyExistsOnDevice"
                                        : "DeviceAlreadyExists",
                                        "the identity already exists");
        break;

    case NGX_IOTHUB_REGISTRY_ETAG_MISMATCH:
        ngx_iothub_bulkjob_import_error(r, "PreconditionFailed",
                                        "the eTag does not match");
        break;

    default:
        ngx_iothub_bulkjob_import_error(r, "ServerError", "internal error");
    }

    ngx_iothub_bulkjob_import_next(r);
}


/*
 * The line's twin part through the twin service, as a service PUT of the
 * line (tags and desired replaced): unconditional, or for
 * updateTwinIfMatchETag if the twin's ETag is the line's twinETag.
 * NGX_DONE when that mode has no twinETag.
 */

static ngx_int_t
ngx_iothub_bulkjob_apply_twin(ngx_iothub_bulkjob_runner_t *r)
{
    ngx_iothub_twin_op_t   *op;
    ngx_iothub_identity_t  *id;

    id = &r->entry.identity;
    op = &r->twin_op;

    ngx_memzero(op, sizeof(ngx_iothub_twin_op_t));
    op->hub = r->hub;
    op->log = r->log;
    op->handler = ngx_iothub_bulkjob_twin_applied;
    op->data = r;
    op->device_id.data = (u_char *) id->device_id;
    op->device_id.len = ngx_strlen(id->device_id);
    op->module_id.data = (u_char *) id->module_id;
    op->module_id.len = ngx_strlen(id->module_id);
    op->kind = NGX_IOTHUB_TWIN_REPLACE;
    op->body = r->twin_body;
    op->if_match.data = (u_char *) "";

    if (r->entry.mode == NGX_IOTHUB_IMPORT_UPDATE_TWIN_IF_MATCH_ETAG) {
        if (r->twin_etag[0] == '\0') {
            return NGX_DONE;
        }

        op->if_match.data = (u_char *) r->twin_etag;
        op->if_match.len = ngx_strlen(r->twin_etag);
    }

    return ngx_iothub_twin_run(op);
}


static void
ngx_iothub_bulkjob_twin_applied(ngx_iothub_twin_op_t *op)
{
    ngx_iothub_bulkjob_runner_t *r = op->data;

    switch (op->result) {

    case NGX_IOTHUB_TWIN_DONE:
        break;

    case NGX_IOTHUB_TWIN_UNAVAILABLE:
        ngx_iothub_bulkjob_free(r);
        return;

    case NGX_IOTHUB_TWIN_NOT_FOUND:
        if (r->entry.identity.module_id[0]) {
            ngx_iothub_bulkjob_import_error(r, "ModuleNotFound",
                                            "the module is not registered");

        } else {
            ngx_iothub_bulkjob_import_error(r, "DeviceNotFound",
                                            "the device is not registered");
        }

        break;

    case NGX_IOTHUB_TWIN_ETAG_MISMATCH:
        ngx_iothub_bulkjob_import_error(r, "PreconditionFailed",
                                        "the twinETag does not match");
        break;

    case NGX_IOTHUB_TWIN_REFUSED:
        ngx_iothub_bulkjob_import_error(r,
                                        (op->engine_rc
                                         == NGX_IOTHUB_TWIN_BAD_JSON)
                                        ? "IotHubFormatError"
                                        : "ArgumentInvalid", op->err);
        break;

    default:
        ngx_iothub_bulkjob_import_error(r, "ServerError", "internal error");
    }

    ngx_iothub_bulkjob_import_next(r);
}


/*
 * A line of importErrors.log: {"line":N,"deviceId":...,"moduleId":...,
 * "operation":...,"errorCode":...,"errorStatus":...}.
 */

static void
ngx_iothub_bulkjob_import_error(ngx_iothub_bulkjob_runner_t *r,
    const char *code, const char *status)
{
    size_t                  len;
    const unsigned char    *buf;
    ngx_iothub_identity_t  *id;

    id = &r->entry.identity;

#define str(s)  yajl_gen_string(r->g, (const unsigned char *) (s),           \
                                ngx_strlen(s))

    yajl_gen_map_open(r->g);
    str("line");
    yajl_gen_integer(r->g, r->line);
    str("deviceId");
    str(id->device_id);
    str("moduleId");

    if (id->module_id[0]) {
        str(id->module_id);

    } else {
        yajl_gen_null(r->g);
    }

    str("operation");
    str(ngx_iothub_bulkjob_mode_name(r->entry.mode));
    str("errorCode");
    str(code);
    str("errorStatus");
    str(status);
    yajl_gen_map_close(r->g);
    yajl_gen_reset(r->g, "\n");

#undef str

    yajl_gen_get_buf(r->g, &buf, &len);

    /* a failed write is the end's: the errors file is then incomplete */
    (void) ngx_iothub_bulkjob_write(r, buf, len);

    yajl_gen_clear(r->g);
}


static void
ngx_iothub_bulkjob_import_end(ngx_iothub_bulkjob_runner_t *r)
{
    (void) ngx_close_file(r->in_fd);
    r->in_fd = NGX_INVALID_FILE;

    if (ngx_iothub_bulkjob_commit(r) != NGX_OK) {
        ngx_iothub_bulkjob_fail(r, "importErrors.log could not be written");
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->log, 0,
                  "iothub: import job \"%V\" read %ui lines", &r->id,
                  r->line);

    ngx_iothub_bulkjob_step(r, "completed", "", 0, 0, NULL);
}


/*
 * Stores a step (bulkjob_progress.lua): done of total (-1: the number of
 * devices) for "running", then next runs; the end ("completed",
 * "failed") frees the runner once stored.  A job that was cancelled or
 * lost its lease, or Redis down, stops the runner.
 */

static void
ngx_iothub_bulkjob_step(ngx_iothub_bulkjob_runner_t *r, const char *status,
    const char *reason, off_t done, off_t total,
    ngx_iothub_bulkjob_next_pt next)
{
    u_char             now[32], lease[NGX_INT_T_LEN], *cp;
    u_char             d[NGX_OFF_T_LEN], t[NGX_OFF_T_LEN];
    u_char             checkpoint[sizeof(r->runner) + 5 * NGX_OFF_T_LEN
                                  + NGX_IOTHUB_ID_MAX + 8];
    u_char             k[3][NGX_IOTHUB_BULKJOB_KEY_LEN];
    ngx_iothub_args_t  args;

    r->next = next;
    r->status = status;

    ngx_iothub_time_now(now, sizeof(now));
    args.n = 0;

    ngx_iothub_bulkjob_key_arg(&args, k[0], r->hub,
                               NGX_IOTHUB_BULKJOB_KEY_LEASE, NULL);
    ngx_iothub_bulkjob_key_arg(&args, k[1], r->hub,
                               NGX_IOTHUB_BULKJOB_KEY_JOB, &r->id);
    ngx_iothub_bulkjob_key_arg(&args, k[2], r->hub, "devices", NULL);

    ngx_iothub_args_add(&args, (char *) r->id.data, r->id.len);
    ngx_iothub_args_add(&args, (char *) lease,
                        ngx_iothub_bulkjob_lease(lease) - lease);
    ngx_iothub_args_add(&args, (char *) d, ngx_sprintf(d, "%O", done) - d);

    if (total < 0) {
        ngx_iothub_args_add_str(&args, "");

    } else {
        ngx_iothub_args_add(&args, (char *) t,
                            ngx_sprintf(t, "%O", total) - t);
    }

    ngx_iothub_args_add_str(&args, status);
    ngx_iothub_args_add_str(&args, reason);
    ngx_iothub_args_add_str(&args, (char *) now);
    ngx_iothub_args_add_str(&args, (char *) r->runner);

    /* where a run taking the job over goes on: see bulkjob_resume() */
    cp = ngx_sprintf(checkpoint, "%s %O %ui %O %ui %ui %s", r->out_runner,
                     r->in_read - (off_t) (r->last - r->pos), r->line,
                     r->out_size, r->devices, r->exported, r->cursor);
    ngx_iothub_args_add(&args, (char *) checkpoint, cp - checkpoint);

    if (!ngx_iothub_args_ok(&args)) {
        ngx_iothub_bulkjob_free(r);
        return;
    }

    r->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                      NGX_IOTHUB_LUA_BULKJOB_PROGRESS,
                                      ngx_iothub_bulkjob_stepped, r, 3,
                                      args.n, args.argv, args.lens);

    if (r->call == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->log, 0,
                      "iothub: job \"%V\" stopped: Redis is down", &r->id);
        ngx_iothub_bulkjob_free(r);
    }
}


static void
ngx_iothub_bulkjob_stepped(void *data, redisReply *reply)
{
    ngx_iothub_bulkjob_runner_t *r = data;

    long long              progress;
    ngx_iothub_reply_rc_e  rc;

    r->call = NULL;

    rc = ngx_iothub_reply_integer(reply, &progress);

    if (rc == NGX_IOTHUB_REPLY_CONFLICT) {
        ngx_log_error(NGX_LOG_INFO, r->log, 0,
                      "iothub: job \"%V\" stopped: cancelled", &r->id);
        ngx_iothub_bulkjob_free(r);
        return;
    }

    if (rc != NGX_IOTHUB_REPLY_OK) {
        ngx_log_error(NGX_LOG_ERR, r->log, 0,
                      "iothub: job \"%V\" stopped: its state could not be "
                      "stored", &r->id);
        ngx_iothub_bulkjob_free(r);
        return;
    }

    if (r->next == NULL) {
        ngx_iothub_bulkjob_free(r);
        return;
    }

    r->next(r);
}


static void
ngx_iothub_bulkjob_fail(ngx_iothub_bulkjob_runner_t *r, const char *reason)
{
    ngx_log_error(NGX_LOG_INFO, r->log, 0, "iothub: job \"%V\" failed: %s",
                  &r->id, reason);

    if (r->out_fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(r->out_fd);
        r->out_fd = NGX_INVALID_FILE;
    }

    ngx_iothub_bulkjob_step(r, "failed", reason, 0, 0, NULL);
}


/* a partial blob is never left in the store: its temp file goes */

static void
ngx_iothub_bulkjob_free(ngx_iothub_bulkjob_runner_t *r)
{
    if (r->call) {
        ngx_iothub_redis_cancel(r->call);
    }

    ngx_iothub_twin_cancel(&r->twin_op);

    if (r->out_fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(r->out_fd);
    }

    if (r->out_tmp.len) {
        (void) ngx_delete_file(r->out_tmp.data);
    }

    if (r->in_fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(r->in_fd);
    }

    if (r->g) {
        yajl_gen_free(r->g);
    }

    if (r->chunk_pool) {
        ngx_destroy_pool(r->chunk_pool);
    }

    ngx_destroy_pool(r->pool);
}
