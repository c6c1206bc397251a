
/*
 * nginx-iothub http module: a device's telemetry over HTTPS (rest.md
 * 14.1, 14.2): the request headers of a single message and the JSON body
 * of a batch (Content-Type application/vnd.microsoft.iothub.json), as
 * message properties named as every device protocol stores them
 * ("p:message-id", "u:<name>", ...).  Pure C (libc and yajl, no nginx
 * headers) so that unit tests and fuzzers link it alone.
 */


#ifndef _NGX_IOTHUB_HTTP_D2C_H_INCLUDED_
#define _NGX_IOTHUB_HTTP_D2C_H_INCLUDED_


#include <stddef.h>

#include "ngx_iothub_props.h"


/* properties a message holds: NGX_IOTHUB_D2C_MAX_PROPERTIES */
#define NGX_IOTHUB_HTTP_D2C_MAX_PROPS    64

/* messages in one batch */
#define NGX_IOTHUB_HTTP_D2C_BATCH_MAX    500


typedef enum {
    NGX_IOTHUB_HTTP_D2C_OK = 0,
    NGX_IOTHUB_HTTP_D2C_TOO_MANY_PROPS,
    NGX_IOTHUB_HTTP_D2C_BAD_JSON,        /* not JSON */
    NGX_IOTHUB_HTTP_D2C_NOT_ARRAY,       /* not an array of objects */
    NGX_IOTHUB_HTTP_D2C_EMPTY,           /* an empty array */
    NGX_IOTHUB_HTTP_D2C_TOO_MANY,        /* over ..._BATCH_MAX messages */
    NGX_IOTHUB_HTTP_D2C_BAD_BODY,        /* "body" missing or not a string */
    NGX_IOTHUB_HTTP_D2C_BAD_PROPERTIES,  /* not an object of strings */
    NGX_IOTHUB_HTTP_D2C_BAD_FLAG,        /* "base64Encoded" not a boolean */
    NGX_IOTHUB_HTTP_D2C_NO_MEMORY
} ngx_iothub_http_d2c_rc_e;


/* a property (ngx_iothub_props.h); its strings point into the caller's
 * headers or the batch */
typedef ngx_iothub_prop_t  ngx_iothub_http_d2c_prop_t;


typedef struct {
    size_t                       n;
    ngx_iothub_http_d2c_prop_t   prop[NGX_IOTHUB_HTTP_D2C_MAX_PROPS];

    /* a batch's message: its "body", base64 unless base64Encoded false */
    const unsigned char         *body;
    size_t                       body_len;
    unsigned                     base64:1;
} ngx_iothub_http_d2c_msg_t;


/* a parsed batch; see ngx_iothub_http_d2c_batch_parse() */
typedef struct ngx_iothub_http_d2c_batch_s  ngx_iothub_http_d2c_batch_t;


/* Empties m for a new message. */
void ngx_iothub_http_d2c_init(ngx_iothub_http_d2c_msg_t *m);

/*
 * Takes one request header (or batch property), names compared without
 * regard to case: iothub-messageid, iothub-correlationid, iothub-userid,
 * iothub-contenttype, iothub-contentencoding, iothub-expiry,
 * iothub-creation-time-utc, iothub-interface-id, dt-subject, and
 * iothub-app-<name> (an application property, dropped when its name is
 * one the hub reserves, see ngx_iothub_props.h).  Anything else is not a
 * property (Authorization, iothub-to, iothub-ack, ...): ignored.
 * TOO_MANY_PROPS when it does not fit (m keeps the others).
 */
ngx_iothub_http_d2c_rc_e ngx_iothub_http_d2c_header(
    ngx_iothub_http_d2c_msg_t *m, const unsigned char *name,
    size_t name_len, const unsigned char *value, size_t value_len);

/*
 * Parses a batch: a JSON array of 1 to NGX_IOTHUB_HTTP_D2C_BATCH_MAX
 * objects, each with "body" (a string), optional "base64Encoded" (a
 * boolean, default true) and optional "properties" (an object of string
 * values); other members are ignored.  json is NUL-terminated.  On OK *b
 * holds the batch (free it with ngx_iothub_http_d2c_batch_free()) and *n
 * its messages; otherwise nothing is to be freed, and err (when not NULL,
 * size bytes) tells yajl's reason for BAD_JSON.
 */
ngx_iothub_http_d2c_rc_e ngx_iothub_http_d2c_batch_parse(const char *json,
    ngx_iothub_http_d2c_batch_t **b, size_t *n, char *err, size_t size);

/*
 * Message i (< n) of a parsed batch into m: its body and its properties
 * as ngx_iothub_http_d2c_header() takes them.  m points into b.
 */
ngx_iothub_http_d2c_rc_e ngx_iothub_http_d2c_batch_message(
    ngx_iothub_http_d2c_batch_t *b, size_t i, ngx_iothub_http_d2c_msg_t *m);

void ngx_iothub_http_d2c_batch_free(ngx_iothub_http_d2c_batch_t *b);

/* the reason for an answer, e.g. "the batch is not a JSON array" */
const char *ngx_iothub_http_d2c_strerror(ngx_iothub_http_d2c_rc_e rc);


#endif /* _NGX_IOTHUB_HTTP_D2C_H_INCLUDED_ */
