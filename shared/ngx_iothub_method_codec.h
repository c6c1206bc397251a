
/*
 * nginx-iothub: the wire strings of direct methods, pure (no nginx
 * headers) so that unit tests and fuzzers link it alone.
 *
 * A call is numbered <n> in the caller's worker and carries a random
 * nonce; the request id the device sees names both and the caller's inbox:
 *
 *   rid         <inbox: 32 hex>.<n>.<nonce: 16 hex>
 *   method      <session> <rid> <name> <payload>        to the device's node
 *   methodres   <n> <nonce> <identity> <status> <payload>    to the caller
 *   methodmiss  <n> <nonce>                                  to the caller
 *
 * identity is "<deviceId>" or "<deviceId>/<moduleId>" of the session that
 * answered; the caller checks nonce and identity against its call.
 */


#ifndef _NGX_IOTHUB_METHOD_CODEC_H_INCLUDED_
#define _NGX_IOTHUB_METHOD_CODEC_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_IOTHUB_METHOD_INBOX_HEX   32
#define NGX_IOTHUB_METHOD_NONCE_HEX   16
#define NGX_IOTHUB_METHOD_N_MAX       20      /* digits of a uint64_t */
#define NGX_IOTHUB_METHOD_RID_MAX                                            \
    (NGX_IOTHUB_METHOD_INBOX_HEX + 1 + NGX_IOTHUB_METHOD_N_MAX + 1          \
     + NGX_IOTHUB_METHOD_NONCE_HEX)

/* "<n> <nonce> " and "<status> " around identity and payload */
#define NGX_IOTHUB_METHOD_RES_OVERHEAD                                       \
    (NGX_IOTHUB_METHOD_N_MAX + 1 + NGX_IOTHUB_METHOD_NONCE_HEX + 1 + 1      \
     + 21 + 1)


typedef struct {
    const unsigned char   *inbox;         /* NGX_IOTHUB_METHOD_INBOX_HEX */
    uint64_t               n;
    const unsigned char   *nonce;         /* NGX_IOTHUB_METHOD_NONCE_HEX */
} ngx_iothub_method_rid_t;


typedef struct {
    uint64_t               session;
    const unsigned char   *rid;
    size_t                 rid_len;
    const unsigned char   *name;
    size_t                 name_len;
    const unsigned char   *payload;
    size_t                 payload_len;
} ngx_iothub_method_call_t;


typedef struct {
    uint64_t               n;
    const unsigned char   *nonce;         /* NGX_IOTHUB_METHOD_NONCE_HEX */
    const unsigned char   *identity;
    size_t                 identity_len;
    long long              status;
    const unsigned char   *payload;
    size_t                 payload_len;
} ngx_iothub_method_res_t;


/* The parsers return 0, or -1 when the text is malformed. */

int ngx_iothub_method_rid_parse(const unsigned char *p, size_t len,
    ngx_iothub_method_rid_t *rid);

/* "<session> <rid> <name> <payload>"; the rid is checked too */
int ngx_iothub_method_call_parse(const unsigned char *p, size_t len,
    ngx_iothub_method_call_t *call);

/* "<n> <nonce> <identity> <status> <payload>" */
int ngx_iothub_method_res_parse(const unsigned char *p, size_t len,
    ngx_iothub_method_res_t *res);

/* "<n> <nonce>" */
int ngx_iothub_method_miss_parse(const unsigned char *p, size_t len,
    uint64_t *n, const unsigned char **nonce);


/*
 * The writers return the length written, or 0 when it does not fit in
 * size or an input is malformed (inbox and nonce must be lowercase hex of
 * their lengths, identity without spaces and not empty).
 */

size_t ngx_iothub_method_rid_write(unsigned char *buf, size_t size,
    const unsigned char *inbox, uint64_t n, const unsigned char *nonce);

size_t ngx_iothub_method_res_write(unsigned char *buf, size_t size,
    const ngx_iothub_method_res_t *res);

size_t ngx_iothub_method_miss_write(unsigned char *buf, size_t size,
    uint64_t n, const unsigned char *nonce);

/* 1 when the nonces are equal (in constant time), else 0 */
int ngx_iothub_method_nonce_equal(const unsigned char *a,
    const unsigned char *b);

/*
 * 1 when identity is "<device_id>" (module_len 0) or
 * "<device_id>/<module_id>", else 0.
 */
int ngx_iothub_method_identity_is(const unsigned char *identity,
    size_t len, const unsigned char *device_id, size_t device_len,
    const unsigned char *module_id, size_t module_len);


/*
 * The body of a service's direct method call (rest.md 8): a JSON object
 * with "methodName" (1 to 128 printable ASCII characters, none of
 * ' $()<>@,;:\"/[]?={}'), "payload" (any JSON), "responseTimeoutInSeconds"
 * (5 to 300, default 30) and "connectTimeoutInSeconds" (0 to 300, default
 * 0), either timeout maybe null.  json is NUL-terminated, len its length.
 * On OK body->root holds the parsed tree (name and payload point into it),
 * to free with ngx_iothub_method_body_free(); else nothing is kept.
 */

#define NGX_IOTHUB_METHOD_BODY_DEPTH_MAX  64

typedef enum {
    NGX_IOTHUB_METHOD_BODY_OK = 0,
    NGX_IOTHUB_METHOD_BODY_TOO_DEEP,         /* nests over DEPTH_MAX */
    NGX_IOTHUB_METHOD_BODY_NOT_OBJECT,       /* not a JSON object */
    NGX_IOTHUB_METHOD_BODY_BAD_NAME,         /* methodName missing, bad */
    NGX_IOTHUB_METHOD_BODY_BAD_TIMEOUT       /* a timeout out of range */
} ngx_iothub_method_body_rc_e;

typedef struct {
    void                      *root;         /* a yajl_val */
    const char                *name;
    void                      *payload;      /* a yajl_val, NULL: none */
    long long                  response_timeout;   /* seconds */
    long long                  connect_timeout;
} ngx_iothub_method_body_t;

ngx_iothub_method_body_rc_e ngx_iothub_method_body_parse(
    const char *json, size_t len, ngx_iothub_method_body_t *body);
void ngx_iothub_method_body_free(ngx_iothub_method_body_t *body);

/* 1 when name is a valid method name (as above), else 0 */
int ngx_iothub_method_name_valid(const char *name);


#endif /* _NGX_IOTHUB_METHOD_CODEC_H_INCLUDED_ */
