
/*
 * nginx-iothub: file upload's hub side (rest.md 14.4, messaging.md 4):
 * starting an upload issues the blob's SAS and a correlation id that
 * Redis keeps as long as the SAS lasts (at most
 * NGX_IOTHUB_UPLOAD_MAX_ACTIVE of a device at once); completing it ends
 * the correlation and, for a successful upload of a hub with file
 * notifications on, appends the notification to the hub's
 * "filenotifications" service-bound stream (ngx_iothub_sbstream.h).
 */


#ifndef _NGX_IOTHUB_UPLOAD_H_INCLUDED_
#define _NGX_IOTHUB_UPLOAD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"


#define NGX_IOTHUB_UPLOAD_MAX_ACTIVE  10      /* messaging.md 8: 403006 */


typedef enum {
    NGX_IOTHUB_UPLOAD_OK = 0,
    NGX_IOTHUB_UPLOAD_TOO_MANY,          /* 403006 */
    NGX_IOTHUB_UPLOAD_UNKNOWN,           /* 400015 */
    NGX_IOTHUB_UPLOAD_EXPIRED,           /* 400016 */
    NGX_IOTHUB_UPLOAD_UNAVAILABLE,       /* Redis is down */
    NGX_IOTHUB_UPLOAD_FAILED
} ngx_iothub_upload_result_e;


typedef struct ngx_iothub_upload_op_s  ngx_iothub_upload_op_t;

typedef void (*ngx_iothub_upload_handler_pt)(ngx_iothub_upload_op_t *op);


/*
 * Owned by the caller, who zeroes it and sets hub (with storage), log,
 * pool, handler, data and device_id, then for a start blob_name, for a
 * completion correlation_id, success and the blob's size and mtime
 * (both 0 when unknown).  The handler runs once and may free op.
 */
struct ngx_iothub_upload_op_s {
    ngx_iothub_hub_t               *hub;
    ngx_log_t                      *log;
    ngx_pool_t                     *pool;
    ngx_iothub_upload_handler_pt    handler;
    void                           *data;

    ngx_str_t                       device_id;
    ngx_str_t                       blob_name;       /* start: as asked */
    ngx_str_t                       correlation_id;  /* start: out */
    ngx_str_t                       blob_path;       /* "<device>/<name>" */
    ngx_str_t                       sas_token;       /* start: out */

    ngx_uint_t                      success;         /* complete: in */
    off_t                           size;
    time_t                          mtime;

    ngx_iothub_upload_result_e      result;
    ngx_iothub_redis_call_t        *call;
};


/*
 * NGX_OK: started; NGX_DECLINED: Redis is down; NGX_ABORT: the blob
 * name is not one (empty, too long, a "." or ".." segment: 400020);
 * NGX_ERROR.
 */
ngx_int_t ngx_iothub_upload_start(ngx_iothub_upload_op_t *op);

/*
 * Reads op->correlation_id: op->blob_path is the blob it names.
 * NGX_ABORT: not a correlation id of op->device_id (400015).
 */
ngx_int_t ngx_iothub_upload_correlation(ngx_iothub_upload_op_t *op);

/*
 * After ngx_iothub_upload_correlation(): NGX_OK started, NGX_DECLINED
 * Redis is down, NGX_ERROR.
 */
ngx_int_t ngx_iothub_upload_complete(ngx_iothub_upload_op_t *op);

/* The handler will not run; safe when nothing is pending. */
void ngx_iothub_upload_cancel(ngx_iothub_upload_op_t *op);


#endif /* _NGX_IOTHUB_UPLOAD_H_INCLUDED_ */
