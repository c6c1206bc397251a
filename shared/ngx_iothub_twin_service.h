
/*
 * nginx-iothub: the twin service, protocol-neutral: MQTT and AMQP device
 * requests and the REST service API run the same operations.  A twin is
 * read with its identity, changed by the pure engine (ngx_iothub_twin.h)
 * and written back only if its version did not change meanwhile.
 */


#ifndef _NGX_IOTHUB_TWIN_SERVICE_H_INCLUDED_
#define _NGX_IOTHUB_TWIN_SERVICE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_identity.h"
#include "ngx_iothub_twin.h"


typedef enum {
    NGX_IOTHUB_TWIN_GET = 0,
    NGX_IOTHUB_TWIN_PATCH_REPORTED,        /* from the device */
    NGX_IOTHUB_TWIN_PATCH,                 /* service PATCH */
    NGX_IOTHUB_TWIN_REPLACE                /* service PUT */
} ngx_iothub_twin_kind_e;


typedef enum {
    NGX_IOTHUB_TWIN_DONE = 0,
    NGX_IOTHUB_TWIN_NOT_FOUND,             /* 404001 / 404010 */
    NGX_IOTHUB_TWIN_ETAG_MISMATCH,         /* 412001 */
    NGX_IOTHUB_TWIN_REFUSED,               /* 400: see engine_rc, err */
    NGX_IOTHUB_TWIN_UNAVAILABLE,           /* 503001 */
    NGX_IOTHUB_TWIN_FAILED                 /* 500001 */
} ngx_iothub_twin_result_e;


typedef struct ngx_iothub_twin_op_s  ngx_iothub_twin_op_t;

typedef void (*ngx_iothub_twin_handler_pt)(ngx_iothub_twin_op_t *op);


/*
 * Owned by the caller, who sets the fields up to "if_match" and calls
 * ngx_iothub_twin_run().  The handler runs once and may free op; twin and
 * identity are valid only while it runs.
 */
struct ngx_iothub_twin_op_s {
    ngx_iothub_hub_t               *hub;
    ngx_log_t                      *log;
    ngx_iothub_twin_handler_pt      handler;
    void                           *data;
    ngx_str_t                       device_id;
    ngx_str_t                       module_id;    /* empty for devices */
    ngx_iothub_twin_kind_e          kind;
    ngx_str_t                       body;         /* the patch */
    ngx_str_t                       if_match;     /* twin etag, "*", "" */

    ngx_iothub_twin_result_e        result;
    ngx_iothub_twin_rc_e            engine_rc;
    ngx_iothub_twin_t               twin;
    ngx_iothub_identity_t           identity;
    char                            err[256];

    ngx_uint_t                      attempts;
    ngx_iothub_redis_call_t        *call;
    char                           *notify;
};


/* NGX_OK: started; NGX_DECLINED: Redis is down; NGX_ERROR */
ngx_int_t ngx_iothub_twin_run(ngx_iothub_twin_op_t *op);

/* The handler will not run; safe when nothing is pending. */
void ngx_iothub_twin_cancel(ngx_iothub_twin_op_t *op);

/*
 * The identity fields of a twin's service view (rest.md 7) from the
 * identity it belongs to; etag (NGX_IOTHUB_TWIN_ETAG_LEN + 1 bytes)
 * receives the twin ETag of version.  ti points into id and etag.
 */
void ngx_iothub_twin_view_identity(const ngx_iothub_identity_t *id,
    int64_t version, char *etag, ngx_iothub_twin_identity_t *ti);

/* The size of an error body: enough for any message (200 bytes kept). */
#define NGX_IOTHUB_TWIN_ERROR_LEN  512

/*
 * A device's twin error body, as the SDKs read it over MQTT and AMQP
 * (mqtt.md 7, amqp.md 7.2): {"errorCode", "trackingId", "message",
 * "timestampUtc"}, into buf of NGX_IOTHUB_TWIN_ERROR_LEN bytes; returns
 * its end.
 */
u_char *ngx_iothub_twin_error_body(u_char *buf, ngx_uint_t code,
    const char *message);

#endif /* _NGX_IOTHUB_TWIN_SERVICE_H_INCLUDED_ */
