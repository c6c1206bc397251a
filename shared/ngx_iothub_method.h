
/*
 * nginx-iothub: the direct-method service, protocol-neutral.
 *
 * The caller side (the REST API today) invokes a method on a device or
 * module: method_invoke.lua hands the request to the node of the
 * identity's session through its inbox, and the answer comes back to this
 * worker's inbox.  The device side (a protocol's session) parses the
 * request it receives and answers it, or tells the caller its session was
 * gone.  The request id binds a call to its caller and to a random nonce,
 * and an answer counts only from the identity that was called (see
 * ngx_iothub_method_codec.h for the strings).
 */


#ifndef _NGX_IOTHUB_METHOD_H_INCLUDED_
#define _NGX_IOTHUB_METHOD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_iothub.h"
#include "ngx_iothub_method_codec.h"


typedef enum {
    NGX_IOTHUB_METHOD_ANSWERED = 0,        /* status and answer are set */
    NGX_IOTHUB_METHOD_NOT_FOUND,           /* no such device or module */
    NGX_IOTHUB_METHOD_NOT_ONLINE,          /* 404103 after connect_timeout */
    NGX_IOTHUB_METHOD_TIMED_OUT,           /* 504101 after response_timeout */
    NGX_IOTHUB_METHOD_UNAVAILABLE          /* 503001: Redis is down */
} ngx_iothub_method_result_e;


typedef struct ngx_iothub_method_op_s  ngx_iothub_method_op_t;

typedef void (*ngx_iothub_method_handler_pt)(ngx_iothub_method_op_t *op);


/*
 * Owned by the caller, who zeroes it, sets the fields up to
 * "response_timeout" and calls ngx_iothub_method_invoke().  The handler
 * runs once and may free op; answer is valid only while it runs.
 * payload is JSON text; its bytes must live until the handler runs.
 */
struct ngx_iothub_method_op_s {
    ngx_iothub_hub_t               *hub;
    ngx_log_t                      *log;
    ngx_iothub_method_handler_pt    handler;
    void                           *data;
    ngx_str_t                       device_id;
    ngx_str_t                       module_id;    /* empty for devices */
    ngx_str_t                       name;
    ngx_str_t                       payload;
    ngx_msec_t                      connect_timeout;
    ngx_msec_t                      response_timeout;

    ngx_iothub_method_result_e      result;
    ngx_int_t                       status;       /* the device's */
    ngx_str_t                       answer;       /* the device's payload */

    /* the service's own */
    ngx_rbtree_node_t               node;         /* key: the call number */
    ngx_event_t                     timer;
    ngx_iothub_redis_call_t        *call;
    u_char                         *message;      /* "<rid> <name> <json>" */
    size_t                          message_len;
    ngx_msec_t                      connect_deadline;
    u_char                          nonce[NGX_IOTHUB_METHOD_NONCE_HEX];
    unsigned                        waiting:1;    /* in the tree */
    unsigned                        delivered:1;
    unsigned                        missed:1;     /* while call was pending */
};


/* NGX_OK: started; NGX_DECLINED: Redis is down; NGX_ERROR */
ngx_int_t ngx_iothub_method_invoke(ngx_iothub_method_op_t *op);

/* The handler will not run; safe when nothing is pending. */
void ngx_iothub_method_cancel(ngx_iothub_method_op_t *op);

/*
 * Called once by the core module at configuration: registers the inbox
 * handlers of answers ("methodres", "methodmiss").
 */
ngx_int_t ngx_iothub_method_init(ngx_conf_t *cf);


/* the device side */

typedef struct {
    ngx_uint_t                      session_no;
    ngx_str_t                       rid;
    ngx_str_t                       name;
    ngx_str_t                       payload;
} ngx_iothub_method_request_t;

/*
 * parses "<session> <rid> <name> <payload>" (the inbox payload after
 * "method "); NGX_ERROR if malformed (rid must be of the format above)
 */
ngx_int_t ngx_iothub_method_request_parse(u_char *p, size_t len,
    ngx_iothub_method_request_t *req);

/*
 * publishes the methodres for rid to the caller's inbox; device_id/
 * module_id (module_id may have len 0) of the answering session;
 * NGX_DECLINED malformed rid, NGX_ERROR Redis down
 */
ngx_int_t ngx_iothub_method_answer(ngx_str_t *rid, ngx_str_t *device_id,
    ngx_str_t *module_id, ngx_int_t status, ngx_str_t *payload);

/* publishes methodmiss for rid */
void ngx_iothub_method_miss(ngx_str_t *rid);


#endif /* _NGX_IOTHUB_METHOD_H_INCLUDED_ */
