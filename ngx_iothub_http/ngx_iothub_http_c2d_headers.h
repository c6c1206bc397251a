
/*
 * nginx-iothub http module: the request headers of a cloud-to-device send
 * (docs/rest-extensions.md): iothub-ack, iothub-expiry, the system
 * properties and iothub-app-<name>.  Pure C (libc only, no nginx headers)
 * so that unit tests and fuzzers link it alone.
 */


#ifndef _NGX_IOTHUB_HTTP_C2D_HEADERS_H_INCLUDED_
#define _NGX_IOTHUB_HTTP_C2D_HEADERS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "ngx_iothub_props.h"


/* properties a message holds: NGX_IOTHUB_D2C_MAX_PROPERTIES */
#define NGX_IOTHUB_C2D_HEADERS_MAX   64

/* a message's body: NGX_IOTHUB_C2D_MAX_SIZE */
#define NGX_IOTHUB_C2D_HEADERS_BODY_MAX  (64 * 1024)


typedef enum {
    NGX_IOTHUB_C2D_HEADERS_OK = 0,
    NGX_IOTHUB_C2D_HEADERS_TOO_MANY,      /* more than ..._MAX properties */
    NGX_IOTHUB_C2D_HEADERS_BAD_ACK,
    NGX_IOTHUB_C2D_HEADERS_BAD_EXPIRY,    /* not an HTTP date */
    NGX_IOTHUB_C2D_HEADERS_TOO_LARGE      /* the body is over 64 KB */
} ngx_iothub_c2d_headers_rc_e;


/* a property (ngx_iothub_props.h); its strings point into the caller's
 * headers */
typedef ngx_iothub_prop_t  ngx_iothub_c2d_property_t;


typedef struct {
    size_t                       n;
    ngx_iothub_c2d_property_t    prop[NGX_IOTHUB_C2D_HEADERS_MAX];

    /* the last iothub-ack and iothub-expiry seen, as sent */
    const unsigned char         *ack_text;
    size_t                       ack_len;
    const unsigned char         *expiry_text;
    size_t                       expiry_len;

    /* set by ngx_iothub_c2d_headers_check() */
    const char                  *ack;        /* "none", ... "full" */
    uint64_t                     expiry;     /* ms; 0: the hub's c2d_ttl */
} ngx_iothub_c2d_headers_t;


/* Empties h for a new request. */
void ngx_iothub_c2d_headers_init(ngx_iothub_c2d_headers_t *h);

/*
 * Takes one request header, in the order they came.  Header names compare
 * without regard to case; headers that are not ours are ignored, as is a
 * bare "iothub-app-".  A repeated iothub-ack or iothub-expiry: the last
 * wins.  TOO_MANY when the property does not fit (h keeps the others).
 * The strings must outlive h.
 */
ngx_iothub_c2d_headers_rc_e ngx_iothub_c2d_headers_add(
    ngx_iothub_c2d_headers_t *h, const unsigned char *name, size_t name_len,
    const unsigned char *value, size_t value_len);

/*
 * Checks what the headers said, once all are added, and the body's
 * length; sets h->ack (an absent or empty iothub-ack is "none"; else it
 * must be none, positive, negative or full, in lower case) and h->expiry
 * (from iothub-expiry when present and not empty; a date in the past is
 * good: the message dead-letters).  BAD_ACK, BAD_EXPIRY or TOO_LARGE, in
 * this order.
 */
ngx_iothub_c2d_headers_rc_e ngx_iothub_c2d_headers_check(
    ngx_iothub_c2d_headers_t *h, size_t body_len);

/*
 * Parses an HTTP date (RFC 9110 5.6.7): the preferred IMF-fixdate
 * "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete RFC 850
 * "Sunday, 06-Nov-94 08:49:37 GMT" (years 70-99 are 19xx, 00-69 20xx) and
 * asctime "Sun Nov  6 08:49:37 1994".  Names are case-sensitive, the
 * weekday is not checked against the date, the day must exist in its
 * month, and the time must be 1970 or later.  Returns 0 and the seconds
 * since the epoch in *t, or -1.
 */
int ngx_iothub_http_date_parse(const unsigned char *p, size_t len,
    int64_t *t);


/*
 * The lock token of a cloud-to-device message delivered over HTTPS, its
 * ETag (rest.md 14.3): GUID-shaped, "rrrrrrrr-rrrr-4rrr-8rrr-nnnnnnnnnnnn",
 * the first four groups (NGX_IOTHUB_C2D_LOCK_LEN characters) the random
 * lock stored with the message, the last the message's number in hex, so
 * that a settlement names both.
 */
#define NGX_IOTHUB_C2D_LOCK_LEN          23
#define NGX_IOTHUB_C2D_TOKEN_LEN         36
#define NGX_IOTHUB_C2D_TOKEN_MAX_N       0xffffffffffffULL

/*
 * Writes the lock part from 64 random bits into buf (at least
 * NGX_IOTHUB_C2D_LOCK_LEN bytes, not NUL-terminated).
 */
void ngx_iothub_c2d_lock_write(unsigned char *buf, uint64_t random);

/*
 * Writes the token of lock (NGX_IOTHUB_C2D_LOCK_LEN bytes) and message
 * number n into buf (NGX_IOTHUB_C2D_TOKEN_LEN bytes, not NUL-terminated).
 * -1 when n is over NGX_IOTHUB_C2D_TOKEN_MAX_N.
 */
int ngx_iothub_c2d_token_write(unsigned char *buf, const unsigned char *lock,
    uint64_t n);

/*
 * Parses a token as a device sends it back (quotes removed): 0 with the
 * message number in *n (the lock is the first NGX_IOTHUB_C2D_LOCK_LEN
 * bytes of p), or -1 when it is not one of ours (hex in any case).
 */
int ngx_iothub_c2d_token_parse(const unsigned char *p, size_t len,
    uint64_t *n);


/*
 * Nonzero when a settlement's query string (without "?") asks to reject:
 * a "reject" argument, bare or with an empty value or "true" (any case).
 */
int ngx_iothub_c2d_query_reject(const unsigned char *args, size_t len);


/*
 * Whether a property can be written as a response header: its name a
 * token of RFC 9110 5.6.2, its value without control characters but HTAB
 * (a CR or LF would split the response).  Nonzero when it can.
 */
int ngx_iothub_http_header_name_ok(const unsigned char *p, size_t len);
int ngx_iothub_http_header_value_ok(const unsigned char *p, size_t len);


#endif /* _NGX_IOTHUB_HTTP_C2D_HEADERS_H_INCLUDED_ */
