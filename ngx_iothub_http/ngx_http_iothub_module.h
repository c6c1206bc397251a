
/*
 * nginx-iothub http module: the REST service API.
 */


#ifndef _NGX_HTTP_IOTHUB_MODULE_H_INCLUDED_
#define _NGX_HTTP_IOTHUB_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>

#include "ngx_iothub.h"
#include "ngx_iothub_registry.h"
#include "ngx_iothub_session.h"
#include "ngx_iothub_twin_service.h"
#include "ngx_iothub_json.h"
#include "ngx_iothub_http_route.h"


#define NGX_HTTP_IOTHUB_MAX_SEGMENTS  NGX_IOTHUB_HTTP_MAX_SEGMENTS


typedef struct {
    ngx_iothub_hub_t                *hub;
} ngx_http_iothub_loc_conf_t;


typedef struct ngx_http_iothub_ctx_s  ngx_http_iothub_ctx_t;

typedef ngx_int_t (*ngx_http_iothub_route_pt)(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);


struct ngx_http_iothub_ctx_s {
    ngx_iothub_hub_t                *hub;

    /* the decoded path split at "/", without empty segments */
    ngx_str_t                        seg[NGX_HTTP_IOTHUB_MAX_SEGMENTS];
    ngx_uint_t                       nseg;

    ngx_http_iothub_route_pt         route;
    ngx_uint_t                       rights;      /* the route needs one */
    ngx_uint_t                       policy_rights;   /* the caller's */

    /* the ids the route's path names (len 0 when none) */
    ngx_str_t                        device_id;
    ngx_str_t                        module_id;

    /* a device route: the authenticated device, s->sender its ids */
    ngx_iothub_session_t            *session;

    /* telemetry: messages sent and not yet stored */
    ngx_uint_t                       d2c_pending;
    unsigned                         d2c_failed:1;

    /* C2D receive: the lock, NGX_IOTHUB_C2D_LOCK_LEN bytes */
    u_char                          *c2d_lock;

    /* the request body, NUL-terminated, once read */
    ngx_str_t                        body;

    /* nginx's own 413 page, answered as the error envelope instead */
    ngx_buf_t                       *too_large;

    ngx_iothub_registry_op_t         op;

    /* bulk registry operations */
    void                            *bulk;
};


extern ngx_module_t  ngx_http_iothub_module;


/*
 * Sends the IoT Hub error envelope ({"Message":"ErrorCode:<name>;<text>",
 * "ExceptionMessage":"Tracking ID:..."}) with header iothub-errorcode, and
 * returns what the content handler returns.
 */
ngx_int_t ngx_http_iothub_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *name, const char *fmt, ...);

/* 503 ServiceUnavailable: Redis is down. */
ngx_int_t ngx_http_iothub_unavailable(ngx_http_request_t *r);

/*
 * Maps the start of an asynchronous operation (NGX_OK started, NGX_DECLINED
 * Redis down, else error) to the content handler's return code.
 */
ngx_int_t ngx_http_iothub_started(ngx_http_request_t *r, ngx_int_t rc);

/*
 * A zeroed operation of size bytes from the request's pool, passed to
 * cancel when the request ends (its pool is destroyed); NULL on no memory.
 */
void *ngx_http_iothub_op_alloc(ngx_http_request_t *r, size_t size,
    ngx_pool_cleanup_pt cancel);

/* Sends a JSON response: the generator's buffer, with status and etag. */
ngx_int_t ngx_http_iothub_send_json(ngx_http_request_t *r,
    ngx_uint_t status, yajl_gen g, const char *etag);

/*
 * Sends the status and b, the whole body, as the response (the caller set
 * its content type and headers); returns what the content handler returns.
 */
ngx_int_t ngx_http_iothub_send_buf(ngx_http_request_t *r,
    ngx_uint_t status, ngx_buf_t *b);

/* A yajl generator whose memory is freed with the request pool. */
yajl_gen ngx_http_iothub_json_gen(ngx_http_request_t *r);

/* A NUL-terminated string into the generator. */
void ngx_http_iothub_gen_str(yajl_gen g, const char *s);

/* Sends an empty response with status (204). */
ngx_int_t ngx_http_iothub_send_empty(ngx_http_request_t *r,
    ngx_uint_t status);

/* Adds a response header; name and value must outlive the request. */
/*
 * The first request header of that name (any case), or NULL; "count"
 * (when not NULL) gets how many lines carry it.
 */
ngx_table_elt_t *ngx_http_iothub_find_header(ngx_http_request_t *r,
    const char *name, ngx_uint_t *count);

/* where ngx_http_iothub_next_header() is: zeroed to start */
typedef struct {
    ngx_list_part_t                 *part;
    ngx_uint_t                       i;
} ngx_http_iothub_header_iter_t;

/*
 * The request's next header (in the order they came) named "name" (any
 * case), or any when name is NULL; NULL after the last.
 */
ngx_table_elt_t *ngx_http_iothub_next_header(ngx_http_request_t *r,
    ngx_http_iothub_header_iter_t *it, const char *name);

ngx_int_t ngx_http_iothub_add_header(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);

/* Completes a request that was suspended (NGX_DONE) with a response rc. */
void ngx_http_iothub_finish(ngx_http_request_t *r, ngx_int_t rc);

/* The If-Match header without quotes and W/, or an empty string. */
void ngx_http_iothub_if_match(ngx_http_request_t *r, ngx_str_t *etag);

/* Maps a failed registry operation to its HTTP error response. */
ngx_int_t ngx_http_iothub_registry_error(ngx_http_request_t *r,
    ngx_iothub_registry_op_t *op, ngx_str_t *device_id,
    ngx_str_t *module_id);

/* route handlers, ngx_http_iothub_registry.c */
ngx_int_t ngx_http_iothub_route_device(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
ngx_int_t ngx_http_iothub_route_devices(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
ngx_int_t ngx_http_iothub_route_module(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
ngx_int_t ngx_http_iothub_route_modules(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
ngx_int_t ngx_http_iothub_route_statistics(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);

/*
 * ngx_http_iothub_device_auth.c: authenticates a device route's request
 * as the device (or module) its path names, ctx->device_id and
 * ctx->module_id: a SAS token in Authorization (the identity's, or a
 * policy's with device_connect; sr must cover the identity), else the TLS
 * client certificate of an X.509 identity.  Once authenticated it runs
 * ctx->route with ctx->session set (freed with the request; s->sender
 * holds the ids and auth method for telemetry) and returns what the route
 * returns, or NGX_DONE when the identity must be read from Redis first
 * (the route runs then, and the request is finished with its answer).  A
 * refusal is 401 IotHubUnauthorizedAccess, Redis down 503.
 */
ngx_int_t ngx_http_iothub_device_auth(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);

/* ngx_http_iothub_d2c.c */
ngx_int_t ngx_http_iothub_route_d2c(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);

/* ngx_http_iothub_device_c2d.c */
ngx_int_t ngx_http_iothub_route_c2d_receive(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
ngx_int_t ngx_http_iothub_route_c2d_settle(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);

/* ngx_http_iothub_files.c */
ngx_int_t ngx_http_iothub_route_files(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
ngx_int_t ngx_http_iothub_route_files_notify(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);

/* ngx_http_iothub_feedback.c */
ngx_int_t ngx_http_iothub_route_feedback(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
ngx_int_t ngx_http_iothub_route_feedback_lock(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);

/* ngx_http_iothub_eventhub.c */
ngx_int_t ngx_http_iothub_route_eh_groups(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
ngx_int_t ngx_http_iothub_route_eh_group(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);

/* ngx_http_iothub_c2d.c */
ngx_int_t ngx_http_iothub_route_c2d_send(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
ngx_int_t ngx_http_iothub_route_c2d_purge(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);

/* ngx_http_iothub_method.c */
ngx_int_t ngx_http_iothub_route_method(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);

/* ngx_http_iothub_query.c */
ngx_int_t ngx_http_iothub_route_query(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);

/* ngx_http_iothub_bulkjobs.c: import/export jobs */
ngx_int_t ngx_http_iothub_route_bulkjob_create(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
ngx_int_t ngx_http_iothub_route_bulkjobs(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
ngx_int_t ngx_http_iothub_route_bulkjob(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);

/* ngx_http_iothub_twin.c */
ngx_int_t ngx_http_iothub_route_twin(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);

/* ngx_http_iothub_jobs.c */
ngx_int_t ngx_http_iothub_route_job(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
ngx_int_t ngx_http_iothub_route_jobs_query(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);


#endif /* _NGX_HTTP_IOTHUB_MODULE_H_INCLUDED_ */
