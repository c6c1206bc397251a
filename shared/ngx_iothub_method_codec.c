
/*
 * nginx-iothub: the wire strings of direct methods; see
 * ngx_iothub_method_codec.h.
 */


#include <string.h>

#include <yajl/yajl_tree.h>

#include "ngx_iothub_json.h"
#include "ngx_iothub_method_codec.h"


/* a status is at most a sign and 18 digits: no overflow of long long */
#define NGX_IOTHUB_METHOD_STATUS_DIGITS  18


typedef struct {
    const unsigned char   *p;
    const unsigned char   *last;
} ngx_iothub_method_in_t;


static int ngx_iothub_method_word(ngx_iothub_method_in_t *in,
    const unsigned char **word, size_t *len);
static int ngx_iothub_method_number(const unsigned char *p, size_t len,
    uint64_t *n);
static int ngx_iothub_method_status(const unsigned char *p, size_t len,
    long long *status);
static int ngx_iothub_method_hex(const unsigned char *p, size_t len);
static unsigned char *ngx_iothub_method_put_number(unsigned char *p,
    uint64_t n);
static unsigned char *ngx_iothub_method_put_id(unsigned char *p, uint64_t n,
    unsigned char sep, const unsigned char *nonce);
static long long ngx_iothub_method_timeout(yajl_val root, const char *name,
    long long dflt);
static size_t ngx_iothub_method_fit(unsigned char *buf, size_t size,
    const unsigned char *text, const unsigned char *end);


int
ngx_iothub_method_rid_parse(const unsigned char *p, size_t len,
    ngx_iothub_method_rid_t *rid)
{
    size_t                n_len;
    const unsigned char  *n;

    if (len < NGX_IOTHUB_METHOD_INBOX_HEX + 1 + 1 + 1
              + NGX_IOTHUB_METHOD_NONCE_HEX
        || len > NGX_IOTHUB_METHOD_RID_MAX)
    {
        return -1;
    }

    n = p + NGX_IOTHUB_METHOD_INBOX_HEX + 1;
    n_len = len - (NGX_IOTHUB_METHOD_INBOX_HEX + 1)
            - (1 + NGX_IOTHUB_METHOD_NONCE_HEX);

    if (!ngx_iothub_method_hex(p, NGX_IOTHUB_METHOD_INBOX_HEX)
        || p[NGX_IOTHUB_METHOD_INBOX_HEX] != '.'
        || n[n_len] != '.'
        || !ngx_iothub_method_hex(n + n_len + 1,
                                  NGX_IOTHUB_METHOD_NONCE_HEX)
        || ngx_iothub_method_number(n, n_len, &rid->n) != 0)
    {
        return -1;
    }

    rid->inbox = p;
    rid->nonce = n + n_len + 1;

    return 0;
}


int
ngx_iothub_method_call_parse(const unsigned char *p, size_t len,
    ngx_iothub_method_call_t *call)
{
    size_t                   session_len;
    const unsigned char     *session;
    ngx_iothub_method_in_t   in;
    ngx_iothub_method_rid_t  rid;

    in.p = p;
    in.last = p + len;

    if (ngx_iothub_method_word(&in, &session, &session_len) != 0
        || ngx_iothub_method_number(session, session_len, &call->session)
           != 0
        || ngx_iothub_method_word(&in, &call->rid, &call->rid_len) != 0
        || ngx_iothub_method_rid_parse(call->rid, call->rid_len, &rid) != 0
        || ngx_iothub_method_word(&in, &call->name, &call->name_len) != 0)
    {
        return -1;
    }

    call->payload = in.p;
    call->payload_len = in.last - in.p;

    return 0;
}


int
ngx_iothub_method_res_parse(const unsigned char *p, size_t len,
    ngx_iothub_method_res_t *res)
{
    size_t                  n_len, nonce_len, status_len;
    const unsigned char    *n, *status;
    ngx_iothub_method_in_t  in;

    in.p = p;
    in.last = p + len;

    if (ngx_iothub_method_word(&in, &n, &n_len) != 0
        || ngx_iothub_method_number(n, n_len, &res->n) != 0
        || ngx_iothub_method_word(&in, &res->nonce, &nonce_len) != 0
        || nonce_len != NGX_IOTHUB_METHOD_NONCE_HEX
        || !ngx_iothub_method_hex(res->nonce, nonce_len)
        || ngx_iothub_method_word(&in, &res->identity, &res->identity_len)
           != 0
        || ngx_iothub_method_word(&in, &status, &status_len) != 0
        || ngx_iothub_method_status(status, status_len, &res->status) != 0)
    {
        return -1;
    }

    res->payload = in.p;
    res->payload_len = in.last - in.p;

    return 0;
}


int
ngx_iothub_method_miss_parse(const unsigned char *p, size_t len,
    uint64_t *n, const unsigned char **nonce)
{
    const unsigned char  *sp;

    sp = memchr(p, ' ', len);

    if (sp == NULL
        || ngx_iothub_method_number(p, sp - p, n) != 0
        || (size_t) (p + len - sp - 1) != NGX_IOTHUB_METHOD_NONCE_HEX
        || !ngx_iothub_method_hex(sp + 1, NGX_IOTHUB_METHOD_NONCE_HEX))
    {
        return -1;
    }

    *nonce = sp + 1;

    return 0;
}


size_t
ngx_iothub_method_rid_write(unsigned char *buf, size_t size,
    const unsigned char *inbox, uint64_t n, const unsigned char *nonce)
{
    unsigned char  tmp[NGX_IOTHUB_METHOD_RID_MAX], *p;

    if (!ngx_iothub_method_hex(inbox, NGX_IOTHUB_METHOD_INBOX_HEX)
        || !ngx_iothub_method_hex(nonce, NGX_IOTHUB_METHOD_NONCE_HEX))
    {
        return 0;
    }

    p = tmp;
    memcpy(p, inbox, NGX_IOTHUB_METHOD_INBOX_HEX);
    p += NGX_IOTHUB_METHOD_INBOX_HEX;
    *p++ = '.';
    p = ngx_iothub_method_put_id(p, n, '.', nonce);

    return ngx_iothub_method_fit(buf, size, tmp, p);
}


size_t
ngx_iothub_method_res_write(unsigned char *buf, size_t size,
    const ngx_iothub_method_res_t *res)
{
    size_t          len;
    uint64_t        magnitude;
    unsigned char  *p;

    if (!ngx_iothub_method_hex(res->nonce, NGX_IOTHUB_METHOD_NONCE_HEX)
        || res->identity_len == 0
        || memchr(res->identity, ' ', res->identity_len) != NULL
        || res->status > 999999999999999999LL
        || res->status < -999999999999999999LL)
    {
        return 0;
    }

    len = NGX_IOTHUB_METHOD_RES_OVERHEAD + res->identity_len
          + res->payload_len;

    if (len > size) {
        return 0;
    }

    p = ngx_iothub_method_put_number(buf, res->n);
    *p++ = ' ';
    memcpy(p, res->nonce, NGX_IOTHUB_METHOD_NONCE_HEX);
    p += NGX_IOTHUB_METHOD_NONCE_HEX;
    *p++ = ' ';
    memcpy(p, res->identity, res->identity_len);
    p += res->identity_len;
    *p++ = ' ';

    if (res->status < 0) {
        *p++ = '-';
        magnitude = (uint64_t) -res->status;

    } else {
        magnitude = (uint64_t) res->status;
    }

    p = ngx_iothub_method_put_number(p, magnitude);
    *p++ = ' ';

    if (res->payload_len) {
        memcpy(p, res->payload, res->payload_len);
        p += res->payload_len;
    }

    return p - buf;
}


size_t
ngx_iothub_method_miss_write(unsigned char *buf, size_t size, uint64_t n,
    const unsigned char *nonce)
{
    unsigned char  tmp[NGX_IOTHUB_METHOD_N_MAX + 1
                       + NGX_IOTHUB_METHOD_NONCE_HEX], *p;

    if (!ngx_iothub_method_hex(nonce, NGX_IOTHUB_METHOD_NONCE_HEX)) {
        return 0;
    }

    p = ngx_iothub_method_put_id(tmp, n, ' ', nonce);

    return ngx_iothub_method_fit(buf, size, tmp, p);
}


int
ngx_iothub_method_nonce_equal(const unsigned char *a, const unsigned char *b)
{
    size_t         i;
    unsigned char  diff;

    diff = 0;

    for (i = 0; i < NGX_IOTHUB_METHOD_NONCE_HEX; i++) {
        diff |= a[i] ^ b[i];
    }

    return diff == 0;
}


int
ngx_iothub_method_identity_is(const unsigned char *identity, size_t len,
    const unsigned char *device_id, size_t device_len,
    const unsigned char *module_id, size_t module_len)
{
    if (module_len == 0) {
        return len == device_len
               && memcmp(identity, device_id, device_len) == 0;
    }

    return len == device_len + 1 + module_len
           && memcmp(identity, device_id, device_len) == 0
           && identity[device_len] == '/'
           && memcmp(identity + device_len + 1, module_id, module_len) == 0;
}


/* the next word up to a space, which is consumed; -1 if there is none */

static int
ngx_iothub_method_word(ngx_iothub_method_in_t *in,
    const unsigned char **word, size_t *len)
{
    const unsigned char  *sp;

    sp = memchr(in->p, ' ', in->last - in->p);

    if (sp == NULL || sp == in->p) {
        return -1;
    }

    *word = in->p;
    *len = sp - in->p;
    in->p = sp + 1;

    return 0;
}


/* decimal digits only, no sign, within uint64_t */

static int
ngx_iothub_method_number(const unsigned char *p, size_t len, uint64_t *n)
{
    size_t    i;
    uint64_t  v;

    if (len == 0 || len > NGX_IOTHUB_METHOD_N_MAX) {
        return -1;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9'
            || v > (UINT64_MAX - (p[i] - '0')) / 10)
        {
            return -1;
        }

        v = v * 10 + (p[i] - '0');
    }

    *n = v;

    return 0;
}


static int
ngx_iothub_method_status(const unsigned char *p, size_t len,
    long long *status)
{
    int       negative;
    uint64_t  v;

    negative = (len > 0 && p[0] == '-');

    if (negative) {
        p++;
        len--;
    }

    if (len > NGX_IOTHUB_METHOD_STATUS_DIGITS
        || ngx_iothub_method_number(p, len, &v) != 0)
    {
        return -1;
    }

    *status = negative ? -(long long) v : (long long) v;

    return 0;
}


/* lowercase hex digits, as ngx_hex_dump() writes them */

static int
ngx_iothub_method_hex(const unsigned char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return 0;
        }
    }

    return 1;
}


static unsigned char *
ngx_iothub_method_put_number(unsigned char *p, uint64_t n)
{
    size_t         len;
    unsigned char  digits[NGX_IOTHUB_METHOD_N_MAX];

    len = 0;

    do {
        digits[len++] = (unsigned char) ('0' + n % 10);
        n /= 10;
    } while (n);

    while (len) {
        *p++ = digits[--len];
    }

    return p;
}


/* "<n><sep><nonce>" */

static unsigned char *
ngx_iothub_method_put_id(unsigned char *p, uint64_t n, unsigned char sep,
    const unsigned char *nonce)
{
    p = ngx_iothub_method_put_number(p, n);
    *p++ = sep;
    memcpy(p, nonce, NGX_IOTHUB_METHOD_NONCE_HEX);

    return p + NGX_IOTHUB_METHOD_NONCE_HEX;
}


/* the text up to end into buf when it fits in size bytes: its length, or 0 */

static size_t
ngx_iothub_method_fit(unsigned char *buf, size_t size,
    const unsigned char *text, const unsigned char *end)
{
    if ((size_t) (end - text) > size) {
        return 0;
    }

    memcpy(buf, text, end - text);

    return end - text;
}


ngx_iothub_method_body_rc_e
ngx_iothub_method_body_parse(const char *json, size_t len,
    ngx_iothub_method_body_t *body)
{
    yajl_val     root;
    const char  *path[2];

    memset(body, 0, sizeof(ngx_iothub_method_body_t));

    if (ngx_iothub_json_too_deep(json, len,
                                 NGX_IOTHUB_METHOD_BODY_DEPTH_MAX))
    {
        return NGX_IOTHUB_METHOD_BODY_TOO_DEEP;
    }

    root = yajl_tree_parse(json, NULL, 0);

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return NGX_IOTHUB_METHOD_BODY_NOT_OBJECT;
    }

    path[0] = "methodName";
    path[1] = NULL;
    body->name = YAJL_GET_STRING(yajl_tree_get(root, path, yajl_t_string));

    if (body->name == NULL || !ngx_iothub_method_name_valid(body->name)) {
        yajl_tree_free(root);
        return NGX_IOTHUB_METHOD_BODY_BAD_NAME;
    }

    body->response_timeout =
        ngx_iothub_method_timeout(root, "responseTimeoutInSeconds", 30);
    body->connect_timeout =
        ngx_iothub_method_timeout(root, "connectTimeoutInSeconds", 0);

    if (body->response_timeout < 5 || body->response_timeout > 300
        || body->connect_timeout < 0 || body->connect_timeout > 300)
    {
        yajl_tree_free(root);
        return NGX_IOTHUB_METHOD_BODY_BAD_TIMEOUT;
    }

    path[0] = "payload";
    body->payload = yajl_tree_get(root, path, yajl_t_any);
    body->root = root;

    return NGX_IOTHUB_METHOD_BODY_OK;
}


/* an integer member, dflt when absent or null, -1 when of another type */

static long long
ngx_iothub_method_timeout(yajl_val root, const char *name, long long dflt)
{
    yajl_val     v;
    const char  *path[2];

    path[0] = name;
    path[1] = NULL;

    v = yajl_tree_get(root, path, yajl_t_any);

    if (v == NULL || YAJL_IS_NULL(v)) {
        return dflt;
    }

    return YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : -1;
}


void
ngx_iothub_method_body_free(ngx_iothub_method_body_t *body)
{
    yajl_tree_free(body->root);
    body->root = NULL;
    body->name = NULL;
    body->payload = NULL;
}


int
ngx_iothub_method_name_valid(const char *name)
{
    const char  *p;

    if (*name == '\0' || strlen(name) > 128) {
        return 0;
    }

    for (p = name; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f
            || strchr("$()<>@,;:\\\"/[]?={}", *p))
        {
            return 0;
        }
    }

    return 1;
}
