
/*
 * Copyright (C) nginx-iothub authors
 */


#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ngx_iothub_sas.h"


#define NGX_IOTHUB_SAS_HMAC_LEN      32
#define NGX_IOTHUB_SAS_SIG_B64_LEN   44
#define NGX_IOTHUB_SAS_KEY_BYTES_MAX 256
#define NGX_IOTHUB_SHA256_BLOCK      64

/* decoded sr: an optional scheme, the host, the path and a trailing "/" */
#define NGX_IOTHUB_SAS_SR_DECODED    1024

/* first segments of a path kept to find /devices/<id>/modules/<mid> */
#define NGX_IOTHUB_SAS_SEGS          4

#define ngx_iothub_lc(c)                                                      \
    (unsigned char) (((c) >= 'A' && (c) <= 'Z') ? ((c) | 0x20) : (c))

#define ngx_iothub_is_alnum(c)                                                \
    (((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z')                 \
     || ((c) >= '0' && (c) <= '9'))

#define ngx_iothub_cs_field(f)                                                \
    offsetof(ngx_iothub_connstr_t, f), sizeof(((ngx_iothub_connstr_t *) 0)->f)


typedef struct {
    size_t                 n;
    const char            *data[NGX_IOTHUB_SAS_SEGS];
    size_t                 len[NGX_IOTHUB_SAS_SEGS];
} ngx_iothub_sas_segs_t;


/* size 0 marks the x509 switch, which is not copied */
typedef struct {
    const char            *name;
    size_t                 offset;
    size_t                 size;
} ngx_iothub_connstr_key_t;


static ngx_iothub_span_t *ngx_iothub_sas_field(ngx_iothub_sas_token_t *t,
    const unsigned char *name, size_t len);
static ngx_iothub_sas_rc_e ngx_iothub_sas_parse_fields(
    ngx_iothub_sas_token_t *t, const unsigned char *p,
    const unsigned char *last);
static ngx_iothub_sas_rc_e ngx_iothub_sas_parse_expiry(
    ngx_iothub_sas_token_t *t);
static ngx_iothub_sas_rc_e ngx_iothub_sas_parse_policy(
    ngx_iothub_sas_token_t *t);
static ngx_iothub_sas_rc_e ngx_iothub_sas_parse_resource(
    ngx_iothub_sas_token_t *t);
static ngx_iothub_sas_rc_e ngx_iothub_sas_parse_path(
    ngx_iothub_sas_token_t *t);
static int ngx_iothub_sas_copy_id(char *dst, const char *id, size_t len);
static const char *ngx_iothub_sas_skip_scheme(const char *p);
static int ngx_iothub_sas_next_seg(const char **p, const char **seg,
    size_t *len);
static int ngx_iothub_sas_seg_eq(const char *a, size_t alen, const char *b,
    size_t blen, const char *word);
static int ngx_iothub_case_eq(const char *s, size_t len, const char *str);
static int ngx_iothub_sas_hmac(const unsigned char *key, size_t key_len,
    const ngx_iothub_span_t *sr, const ngx_iothub_span_t *se,
    unsigned char *mac);
static int ngx_iothub_sha256_parts(EVP_MD_CTX *ctx, const EVP_MD *md,
    const unsigned char *a, size_t a_len, const unsigned char *b,
    size_t b_len, unsigned char *out);
static int ngx_iothub_sas_decode_sig(const ngx_iothub_sas_token_t *t,
    unsigned char *sig);
static int ngx_iothub_sas_make_sig(char *out, size_t size,
    const char *key_b64, const char *sr, size_t sr_len, const char *se);
static ngx_iothub_connstr_rc_e ngx_iothub_connstr_pair(
    ngx_iothub_connstr_t *cs, const char *p, const char *end,
    unsigned *seen);
static ngx_iothub_connstr_rc_e ngx_iothub_connstr_value(
    ngx_iothub_connstr_t *cs, const ngx_iothub_connstr_key_t *k,
    const char *v, size_t len);
static ngx_iothub_connstr_rc_e ngx_iothub_connstr_check(
    const ngx_iothub_connstr_t *cs);
static int ngx_iothub_hex_value(unsigned char c);
static int ngx_iothub_b64_value(unsigned char c);


/* ngx_iothub_hmac_sha256(): fetched and allocated on first use */
static EVP_MD      *ngx_iothub_sha256_md;
static EVP_MD_CTX  *ngx_iothub_sha256_ctx;

static const char  ngx_iothub_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static const char  ngx_iothub_hex_upper[] = "0123456789ABCDEF";

/* encodeURIComponent leaves these and ASCII letters and digits alone */
static const char  ngx_iothub_url_unreserved[] = "-_.!~*'()";

/* id characters besides ASCII letters and digits */
static const char  ngx_iothub_id_punct[] = "-.+%_#*?!(),=@$':";

static const ngx_iothub_connstr_key_t  ngx_iothub_connstr_keys[] = {
    { "HostName", ngx_iothub_cs_field(host_name) },
    { "DeviceId", ngx_iothub_cs_field(device_id) },
    { "ModuleId", ngx_iothub_cs_field(module_id) },
    { "SharedAccessKeyName", ngx_iothub_cs_field(key_name) },
    { "SharedAccessKey", ngx_iothub_cs_field(key) },
    { "SharedAccessSignature", ngx_iothub_cs_field(signature) },
    { "GatewayHostName", ngx_iothub_cs_field(gateway_host_name) },
    { "x509", 0, 0 }
};

#define NGX_IOTHUB_CONNSTR_NKEYS                                              \
    (sizeof(ngx_iothub_connstr_keys) / sizeof(ngx_iothub_connstr_keys[0]))


ngx_iothub_sas_rc_e
ngx_iothub_sas_parse(ngx_iothub_sas_token_t *t, const unsigned char *text,
    size_t len)
{
    size_t               n;
    ngx_iothub_sas_rc_e  rc;

    memset(t, 0, sizeof(ngx_iothub_sas_token_t));

    n = sizeof(NGX_IOTHUB_SAS_PREFIX) - 1;

    if (text == NULL || len < n
        || memcmp(text, NGX_IOTHUB_SAS_PREFIX, n) != 0)
    {
        return NGX_IOTHUB_SAS_MALFORMED;
    }

    rc = ngx_iothub_sas_parse_fields(t, text + n, text + len);
    if (rc != NGX_IOTHUB_SAS_OK) {
        return rc;
    }

    if (t->sr.data == NULL || t->sig.data == NULL || t->se.data == NULL
        || t->sr.len > NGX_IOTHUB_SAS_SR_MAX)
    {
        return NGX_IOTHUB_SAS_MALFORMED;
    }

    rc = ngx_iothub_sas_parse_expiry(t);
    if (rc != NGX_IOTHUB_SAS_OK) {
        return rc;
    }

    rc = ngx_iothub_sas_parse_policy(t);
    if (rc != NGX_IOTHUB_SAS_OK) {
        return rc;
    }

    return ngx_iothub_sas_parse_resource(t);
}


static ngx_iothub_span_t *
ngx_iothub_sas_field(ngx_iothub_sas_token_t *t, const unsigned char *name,
    size_t len)
{
    if (len == 2 && memcmp(name, "sr", 2) == 0) {
        return &t->sr;
    }

    if (len == 2 && memcmp(name, "se", 2) == 0) {
        return &t->se;
    }

    if (len == 3 && memcmp(name, "sig", 3) == 0) {
        return &t->sig;
    }

    if (len == 3 && memcmp(name, "skn", 3) == 0) {
        return &t->skn;
    }

    return NULL;
}


static ngx_iothub_sas_rc_e
ngx_iothub_sas_parse_fields(ngx_iothub_sas_token_t *t,
    const unsigned char *p, const unsigned char *last)
{
    ngx_iothub_span_t    *v;
    const unsigned char  *end, *eq;

    for ( ;; ) {
        end = memchr(p, '&', last - p);
        if (end == NULL) {
            end = last;
        }

        eq = memchr(p, '=', end - p);
        if (eq == NULL || eq == p) {
            return NGX_IOTHUB_SAS_MALFORMED;
        }

        v = ngx_iothub_sas_field(t, p, eq - p);

        if (v != NULL) {
            /* a repeated field would let the signed and the used differ */
            if (v->data != NULL || end == eq + 1) {
                return NGX_IOTHUB_SAS_MALFORMED;
            }

            v->data = eq + 1;
            v->len = end - eq - 1;
        }

        if (end == last) {
            return NGX_IOTHUB_SAS_OK;
        }

        p = end + 1;
    }
}


static ngx_iothub_sas_rc_e
ngx_iothub_sas_parse_expiry(ngx_iothub_sas_token_t *t)
{
    size_t         i;
    long long      v;
    unsigned char  c;

    if (t->se.len > NGX_IOTHUB_SAS_SE_MAX) {
        return NGX_IOTHUB_SAS_MALFORMED;
    }

    v = 0;

    for (i = 0; i < t->se.len; i++) {
        c = t->se.data[i];

        if (c < '0' || c > '9') {
            return NGX_IOTHUB_SAS_MALFORMED;
        }

        v = v * 10 + (c - '0');

        if (v > NGX_IOTHUB_SAS_EXPIRY_MAX) {
            return NGX_IOTHUB_SAS_MALFORMED;
        }
    }

    t->expiry = v;

    return NGX_IOTHUB_SAS_OK;
}


static ngx_iothub_sas_rc_e
ngx_iothub_sas_parse_policy(ngx_iothub_sas_token_t *t)
{
    int  n;

    if (t->skn.data == NULL) {
        return NGX_IOTHUB_SAS_OK;
    }

    n = ngx_iothub_url_decode(t->policy, sizeof(t->policy), t->skn.data,
                              t->skn.len);

    if (n <= 0 || strlen(t->policy) != (size_t) n) {
        return NGX_IOTHUB_SAS_MALFORMED;
    }

    return NGX_IOTHUB_SAS_OK;
}


static ngx_iothub_sas_rc_e
ngx_iothub_sas_parse_resource(ngx_iothub_sas_token_t *t)
{
    int          n;
    char         buf[NGX_IOTHUB_SAS_SR_DECODED];
    size_t       len;
    const char  *p, *slash;

    n = ngx_iothub_url_decode(buf, sizeof(buf), t->sr.data, t->sr.len);

    if (n <= 0 || strlen(buf) != (size_t) n) {
        return NGX_IOTHUB_SAS_MALFORMED;
    }

    p = ngx_iothub_sas_skip_scheme(buf);

    slash = strchr(p, '/');
    len = (slash != NULL) ? (size_t) (slash - p) : strlen(p);

    if (len == 0 || len >= sizeof(t->host)) {
        return NGX_IOTHUB_SAS_MALFORMED;
    }

    memcpy(t->host, p, len);
    t->host[len] = '\0';

    if (slash == NULL) {
        return NGX_IOTHUB_SAS_OK;
    }

    /* "host/devices/d/" is "host/devices/d", "host/" is the hub */
    len = strlen(slash);

    if (slash[len - 1] == '/') {
        len--;
    }

    if (len >= sizeof(t->path) || (len != 0 && slash[len - 1] == '/')) {
        return NGX_IOTHUB_SAS_MALFORMED;
    }

    memcpy(t->path, slash, len);
    t->path[len] = '\0';

    return ngx_iothub_sas_parse_path(t);
}


static ngx_iothub_sas_rc_e
ngx_iothub_sas_parse_path(ngx_iothub_sas_token_t *t)
{
    size_t                 len;
    const char            *p, *seg;
    ngx_iothub_sas_segs_t  s;

    s.n = 0;
    p = t->path;

    while (ngx_iothub_sas_next_seg(&p, &seg, &len)) {

        /* such a path would cover more than it says, or nothing */
        if (len == 0
            || (len == 1 && seg[0] == '.')
            || (len == 2 && seg[0] == '.' && seg[1] == '.'))
        {
            return NGX_IOTHUB_SAS_MALFORMED;
        }

        if (s.n < NGX_IOTHUB_SAS_SEGS) {
            s.data[s.n] = seg;
            s.len[s.n] = len;
        }

        s.n++;
    }

    if (s.n < 2 || !ngx_iothub_case_eq(s.data[0], s.len[0], "devices")) {
        return NGX_IOTHUB_SAS_OK;
    }

    if (ngx_iothub_sas_copy_id(t->device_id, s.data[1], s.len[1]) != 0) {
        return NGX_IOTHUB_SAS_MALFORMED;
    }

    if (s.n < 4 || !ngx_iothub_case_eq(s.data[2], s.len[2], "modules")) {
        return NGX_IOTHUB_SAS_OK;
    }

    if (ngx_iothub_sas_copy_id(t->module_id, s.data[3], s.len[3]) != 0) {
        return NGX_IOTHUB_SAS_MALFORMED;
    }

    return NGX_IOTHUB_SAS_OK;
}


/* dst holds NGX_IOTHUB_ID_MAX + 1 bytes */

static int
ngx_iothub_sas_copy_id(char *dst, const char *id, size_t len)
{
    if (!ngx_iothub_id_valid((const unsigned char *) id, len)) {
        return -1;
    }

    memcpy(dst, id, len);
    dst[len] = '\0';

    return 0;
}


/* skips "scheme://" (RFC 3986 scheme syntax) if p starts with one */

static const char *
ngx_iothub_sas_skip_scheme(const char *p)
{
    const char  *s;

    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))) {
        return p;
    }

    s = p + 1;

    while (ngx_iothub_is_alnum(*s) || *s == '+' || *s == '-' || *s == '.') {
        s++;
    }

    if (s[0] == ':' && s[1] == '/' && s[2] == '/') {
        return s + 3;
    }

    return p;
}


/*
 * Yields the next "/"-separated segment of a path; one leading "/" is
 * skipped, so "", "/" and a trailing "/" end the walk, and "//" yields an
 * empty segment.
 */

static int
ngx_iothub_sas_next_seg(const char **p, const char **seg, size_t *len)
{
    const char  *s;

    s = *p;

    if (*s == '/') {
        s++;
    }

    if (*s == '\0') {
        return 0;
    }

    *seg = s;
    *len = strcspn(s, "/");
    *p = s + *len;

    return 1;
}


ngx_iothub_sas_rc_e
ngx_iothub_sas_verify(const ngx_iothub_sas_token_t *t, const char *key_b64,
    size_t key_len)
{
    int                  n;
    unsigned char        key[NGX_IOTHUB_SAS_KEY_BYTES_MAX];
    ngx_iothub_sas_rc_e  rc;

    if (key_b64 == NULL || key_len == 0) {
        return NGX_IOTHUB_SAS_BAD_KEY;
    }

    n = ngx_iothub_base64_decode(key, sizeof(key), key_b64, key_len);

    if (n <= 0) {
        rc = NGX_IOTHUB_SAS_BAD_KEY;

    } else {
        rc = ngx_iothub_sas_verify_raw(t, key, n);
    }

    OPENSSL_cleanse(key, sizeof(key));

    return rc;
}


ngx_iothub_sas_rc_e
ngx_iothub_sas_verify_raw(const ngx_iothub_sas_token_t *t,
    const unsigned char *key, size_t key_len)
{
    unsigned char  sig[NGX_IOTHUB_SAS_HMAC_LEN];
    unsigned char  mac[EVP_MAX_MD_SIZE];

    if (key == NULL || key_len == 0 || key_len > INT_MAX) {
        return NGX_IOTHUB_SAS_BAD_KEY;
    }

    if (ngx_iothub_sas_decode_sig(t, sig) != 0
        || ngx_iothub_sas_hmac(key, key_len, &t->sr, &t->se, mac) != 0)
    {
        return NGX_IOTHUB_SAS_BAD_SIGNATURE;
    }

    if (CRYPTO_memcmp(mac, sig, NGX_IOTHUB_SAS_HMAC_LEN) != 0) {
        return NGX_IOTHUB_SAS_BAD_SIGNATURE;
    }

    return NGX_IOTHUB_SAS_OK;
}


/* mac gets NGX_IOTHUB_SAS_HMAC_LEN bytes of HMAC-SHA256(key, sr "\n" se) */

static int
ngx_iothub_sas_hmac(const unsigned char *key, size_t key_len,
    const ngx_iothub_span_t *sr, const ngx_iothub_span_t *se,
    unsigned char *mac)
{
    size_t         n;
    unsigned char  buf[NGX_IOTHUB_SAS_SR_MAX + 1 + NGX_IOTHUB_SAS_SE_MAX];

    if (sr->data == NULL || se->data == NULL
        || sr->len > NGX_IOTHUB_SAS_SR_MAX || se->len > NGX_IOTHUB_SAS_SE_MAX)
    {
        return -1;
    }

    memcpy(buf, sr->data, sr->len);
    n = sr->len;
    buf[n++] = '\n';
    memcpy(buf + n, se->data, se->len);
    n += se->len;

    return ngx_iothub_hmac_sha256(key, key_len, buf, n, mac);
}


/*
 * HMAC-SHA256 (RFC 2104) on a digest fetched once and a digest context
 * kept for the process: OpenSSL 3's HMAC() fetches the MAC and the digest
 * by name and builds three contexts on every call, about 24,000
 * instructions, most of a SAS check's cost.  Single-threaded callers only
 * (an nginx worker, the tools).
 */

int
ngx_iothub_hmac_sha256(const unsigned char *key, size_t key_len,
    const unsigned char *msg, size_t len, unsigned char *mac)
{
    int             rc;
    size_t          i;
    EVP_MD         *sha256;
    EVP_MD_CTX     *ctx;
    unsigned char   pad[NGX_IOTHUB_SHA256_BLOCK];
    unsigned char   hashed_key[NGX_IOTHUB_SAS_HMAC_LEN];
    unsigned char   inner[NGX_IOTHUB_SAS_HMAC_LEN];

    if (ngx_iothub_sha256_md == NULL) {
        ngx_iothub_sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
        if (ngx_iothub_sha256_md == NULL) {
            return -1;
        }
    }

    if (ngx_iothub_sha256_ctx == NULL) {
        ngx_iothub_sha256_ctx = EVP_MD_CTX_new();
        if (ngx_iothub_sha256_ctx == NULL) {
            return -1;
        }
    }

    sha256 = ngx_iothub_sha256_md;
    ctx = ngx_iothub_sha256_ctx;

    if (key_len > NGX_IOTHUB_SHA256_BLOCK) {
        /* a key longer than a block is its digest */
        if (ngx_iothub_sha256_parts(ctx, sha256, key, key_len, NULL, 0,
                                    hashed_key) != 0)
        {
            return -1;
        }

        key = hashed_key;
        key_len = sizeof(hashed_key);
    }

    memset(pad, 0x36, sizeof(pad));

    for (i = 0; i < key_len; i++) {
        pad[i] ^= key[i];
    }

    rc = ngx_iothub_sha256_parts(ctx, sha256, pad, sizeof(pad), msg, len,
                                 inner);

    if (rc == 0) {
        for (i = 0; i < sizeof(pad); i++) {
            pad[i] ^= 0x36 ^ 0x5c;
        }

        rc = ngx_iothub_sha256_parts(ctx, sha256, pad, sizeof(pad), inner,
                                     sizeof(inner), mac);
    }

    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(hashed_key, sizeof(hashed_key));
    OPENSSL_cleanse(inner, sizeof(inner));

    return rc;
}


/* out gets SHA-256 of a then b (b may be empty) */

static int
ngx_iothub_sha256_parts(EVP_MD_CTX *ctx, const EVP_MD *md,
    const unsigned char *a, size_t a_len, const unsigned char *b,
    size_t b_len, unsigned char *out)
{
    unsigned int  n;

    if (EVP_DigestInit_ex2(ctx, md, NULL) != 1
        || EVP_DigestUpdate(ctx, a, a_len) != 1
        || (b_len && EVP_DigestUpdate(ctx, b, b_len) != 1)
        || EVP_DigestFinal_ex(ctx, out, &n) != 1
        || n != NGX_IOTHUB_SAS_HMAC_LEN)
    {
        return -1;
    }

    return 0;
}


/* sig gets the NGX_IOTHUB_SAS_HMAC_LEN bytes the token's sig carries */

static int
ngx_iothub_sas_decode_sig(const ngx_iothub_sas_token_t *t,
    unsigned char *sig)
{
    int   n;
    char  b64[NGX_IOTHUB_SAS_SIG_B64_LEN + 1];

    if (t->sig.data == NULL) {
        return -1;
    }

    n = ngx_iothub_url_decode(b64, sizeof(b64), t->sig.data, t->sig.len);

    if (n != NGX_IOTHUB_SAS_SIG_B64_LEN) {
        return -1;
    }

    n = ngx_iothub_base64_decode(sig, NGX_IOTHUB_SAS_HMAC_LEN, b64, n);

    return (n == NGX_IOTHUB_SAS_HMAC_LEN) ? 0 : -1;
}


ngx_iothub_sas_rc_e
ngx_iothub_sas_check_expiry(const ngx_iothub_sas_token_t *t, long long now)
{
    return (t->expiry <= now) ? NGX_IOTHUB_SAS_EXPIRED : NGX_IOTHUB_SAS_OK;
}


ngx_iothub_sas_rc_e
ngx_iothub_sas_covers(const ngx_iothub_sas_token_t *t, const char *host,
    const char *path)
{
    int          devices;
    size_t       i, tlen, rlen;
    const char  *tp, *rp, *ts, *rs, *word;

    if (host == NULL || path == NULL
        || !ngx_iothub_case_eq(host, strlen(host), t->host))
    {
        return NGX_IOTHUB_SAS_NOT_COVERED;
    }

    tp = t->path;
    rp = path;
    devices = 0;

    for (i = 0; ngx_iothub_sas_next_seg(&tp, &ts, &tlen); i++) {

        if (!ngx_iothub_sas_next_seg(&rp, &rs, &rlen)) {
            return NGX_IOTHUB_SAS_NOT_COVERED;
        }

        /* fixed words: /devices/<id>/modules/<mid> (auth.md 3.3) */
        word = (i == 0) ? "devices" : (i == 2 && devices) ? "modules" : NULL;

        if (!ngx_iothub_sas_seg_eq(ts, tlen, rs, rlen, word)) {
            return NGX_IOTHUB_SAS_NOT_COVERED;
        }

        if (i == 0) {
            devices = ngx_iothub_case_eq(ts, tlen, "devices");
        }
    }

    return NGX_IOTHUB_SAS_OK;
}


/*
 * Segments a and b match byte for byte, or, when word is not NULL, both
 * match word ignoring ASCII case.
 */

static int
ngx_iothub_sas_seg_eq(const char *a, size_t alen, const char *b, size_t blen,
    const char *word)
{
    if (word != NULL && ngx_iothub_case_eq(a, alen, word)) {
        return ngx_iothub_case_eq(b, blen, word);
    }

    return alen == blen && memcmp(a, b, alen) == 0;
}


/* s (len bytes) equals the NUL-terminated str ignoring ASCII case */

static int
ngx_iothub_case_eq(const char *s, size_t len, const char *str)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (str[i] == '\0'
            || ngx_iothub_lc((unsigned char) s[i])
               != ngx_iothub_lc((unsigned char) str[i]))
        {
            return 0;
        }
    }

    return str[len] == '\0';
}


const char *
ngx_iothub_sas_strerror(ngx_iothub_sas_rc_e rc)
{
    switch (rc) {

    case NGX_IOTHUB_SAS_OK:
        return "ok";

    case NGX_IOTHUB_SAS_MALFORMED:
        return "malformed";

    case NGX_IOTHUB_SAS_EXPIRED:
        return "expired";

    case NGX_IOTHUB_SAS_BAD_SIGNATURE:
        return "bad signature";

    case NGX_IOTHUB_SAS_BAD_KEY:
        return "bad key";

    case NGX_IOTHUB_SAS_NOT_COVERED:
        return "resource not covered";
    }

    return "unknown";
}


int
ngx_iothub_sas_make(char *out, size_t size, const char *resource,
    const char *key_b64, const char *skn, long long expiry)
{
    int   n, sr_len;
    char  se[NGX_IOTHUB_SAS_SE_MAX + 1];
    char  sr[NGX_IOTHUB_SAS_SR_MAX + 1];
    char  sig[3 * NGX_IOTHUB_SAS_SIG_B64_LEN + 1];
    char  policy[3 * NGX_IOTHUB_ID_MAX + 1];

    if (out == NULL || resource == NULL || key_b64 == NULL
        || resource[0] == '\0' || expiry < 0
        || expiry > NGX_IOTHUB_SAS_EXPIRY_MAX)
    {
        return -1;
    }

    sr_len = ngx_iothub_url_encode(sr, sizeof(sr),
                                   (const unsigned char *) resource,
                                   strlen(resource));
    if (sr_len < 0) {
        return -1;
    }

    snprintf(se, sizeof(se), "%lld", expiry);

    if (ngx_iothub_sas_make_sig(sig, sizeof(sig), key_b64, sr, sr_len, se)
        != 0)
    {
        return -1;
    }

    if (skn != NULL
        && (skn[0] == '\0' || strlen(skn) > NGX_IOTHUB_ID_MAX
            || ngx_iothub_url_encode(policy, sizeof(policy),
                                     (const unsigned char *) skn,
                                     strlen(skn)) < 0))
    {
        return -1;
    }

    n = snprintf(out, size, NGX_IOTHUB_SAS_PREFIX "sr=%s&sig=%s&se=%s%s%s",
                 sr, sig, se, (skn != NULL) ? "&skn=" : "",
                 (skn != NULL) ? policy : "");

    if (n < 0 || (size_t) n >= size) {
        return -1;
    }

    return n;
}


/* out gets the URL-encoded base64 signature over sr "\n" se */

static int
ngx_iothub_sas_make_sig(char *out, size_t size, const char *key_b64,
    const char *sr, size_t sr_len, const char *se)
{
    int                n, rc;
    char               b64[NGX_IOTHUB_SAS_SIG_B64_LEN + 1];
    unsigned char      mac[EVP_MAX_MD_SIZE];
    unsigned char      key[NGX_IOTHUB_SAS_KEY_BYTES_MAX];
    ngx_iothub_span_t  srs, ses;

    n = ngx_iothub_base64_decode(key, sizeof(key), key_b64, strlen(key_b64));
    if (n <= 0) {
        return -1;
    }

    srs.len = sr_len;
    srs.data = (const unsigned char *) sr;
    ses.len = strlen(se);
    ses.data = (const unsigned char *) se;

    rc = ngx_iothub_sas_hmac(key, n, &srs, &ses, mac);

    OPENSSL_cleanse(key, sizeof(key));

    if (rc != 0
        || ngx_iothub_base64_encode(b64, sizeof(b64), mac,
                                    NGX_IOTHUB_SAS_HMAC_LEN) < 0
        || ngx_iothub_url_encode(out, size, (const unsigned char *) b64,
                                 NGX_IOTHUB_SAS_SIG_B64_LEN) < 0)
    {
        return -1;
    }

    return 0;
}


ngx_iothub_connstr_rc_e
ngx_iothub_connstr_parse(ngx_iothub_connstr_t *cs, const char *text,
    size_t len)
{
    unsigned                 seen;
    const char              *p, *end, *last;
    ngx_iothub_connstr_rc_e  rc;

    memset(cs, 0, sizeof(ngx_iothub_connstr_t));

    if (text == NULL || memchr(text, '\0', len) != NULL) {
        return NGX_IOTHUB_CONNSTR_MALFORMED;
    }

    seen = 0;
    last = text + len;

    for (p = text; p < last; p = end + 1) {
        end = memchr(p, ';', last - p);
        if (end == NULL) {
            end = last;
        }

        if (end != p) {
            rc = ngx_iothub_connstr_pair(cs, p, end, &seen);
            if (rc != NGX_IOTHUB_CONNSTR_OK) {
                return rc;
            }
        }

        if (end == last) {
            break;
        }
    }

    return ngx_iothub_connstr_check(cs);
}


static ngx_iothub_connstr_rc_e
ngx_iothub_connstr_pair(ngx_iothub_connstr_t *cs, const char *p,
    const char *end, unsigned *seen)
{
    size_t                           i, n;
    const char                      *eq;
    const ngx_iothub_connstr_key_t  *k;

    eq = memchr(p, '=', end - p);
    if (eq == NULL || eq == p) {
        return NGX_IOTHUB_CONNSTR_MALFORMED;
    }

    n = eq - p;

    for (i = 0; i < NGX_IOTHUB_CONNSTR_NKEYS; i++) {
        k = &ngx_iothub_connstr_keys[i];

        if (strlen(k->name) != n || memcmp(k->name, p, n) != 0) {
            continue;
        }

        if (*seen & (1u << i)) {
            return NGX_IOTHUB_CONNSTR_MALFORMED;
        }

        *seen |= 1u << i;

        return ngx_iothub_connstr_value(cs, k, eq + 1, end - eq - 1);
    }

    /* Endpoint, EntityPath and the like belong to other string kinds */

    return NGX_IOTHUB_CONNSTR_OK;
}


static ngx_iothub_connstr_rc_e
ngx_iothub_connstr_value(ngx_iothub_connstr_t *cs,
    const ngx_iothub_connstr_key_t *k, const char *v, size_t len)
{
    char  *dst;

    if (k->size == 0) {
        if (ngx_iothub_case_eq(v, len, "true")) {
            cs->x509 = 1;
            return NGX_IOTHUB_CONNSTR_OK;
        }

        return ngx_iothub_case_eq(v, len, "false")
               ? NGX_IOTHUB_CONNSTR_OK : NGX_IOTHUB_CONNSTR_MALFORMED;
    }

    if (len >= k->size) {
        return NGX_IOTHUB_CONNSTR_TOO_LONG;
    }

    dst = (char *) cs + k->offset;

    memcpy(dst, v, len);
    dst[len] = '\0';

    return NGX_IOTHUB_CONNSTR_OK;
}


static ngx_iothub_connstr_rc_e
ngx_iothub_connstr_check(const ngx_iothub_connstr_t *cs)
{
    int  creds;

    /* the Node device client wants exactly one credential (auth.md 2) */
    creds = (cs->key[0] != '\0') + (cs->signature[0] != '\0')
            + (cs->x509 != 0);

    if (creds > 1 || (cs->module_id[0] != '\0' && cs->device_id[0] == '\0'))
    {
        return NGX_IOTHUB_CONNSTR_MALFORMED;
    }

    if (cs->host_name[0] == '\0') {
        return NGX_IOTHUB_CONNSTR_MISSING_HOST;
    }

    if (creds == 0) {
        return NGX_IOTHUB_CONNSTR_NO_CREDENTIAL;
    }

    return NGX_IOTHUB_CONNSTR_OK;
}


int
ngx_iothub_key_valid(const char *b64, size_t len)
{
    int            n;
    unsigned char  key[NGX_IOTHUB_KEY_MAX];

    if (b64 == NULL) {
        return 0;
    }

    n = ngx_iothub_base64_decode(key, sizeof(key), b64, len);

    OPENSSL_cleanse(key, sizeof(key));

    return n >= NGX_IOTHUB_KEY_MIN && n <= NGX_IOTHUB_KEY_MAX;
}


int
ngx_iothub_key_generate(char *out, size_t size)
{
    int            n;
    unsigned char  key[32];

    if (out == NULL || size < NGX_IOTHUB_KEY_GENERATED_LEN + 1) {
        return -1;
    }

    if (RAND_bytes(key, sizeof(key)) != 1) {
        return -1;
    }

    n = ngx_iothub_base64_encode(out, size, key, sizeof(key));

    OPENSSL_cleanse(key, sizeof(key));

    return (n == NGX_IOTHUB_KEY_GENERATED_LEN) ? 0 : -1;
}


int
ngx_iothub_id_valid(const unsigned char *id, size_t len)
{
    size_t  i;

    if (id == NULL || len == 0 || len > NGX_IOTHUB_ID_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!ngx_iothub_is_alnum(id[i])
            && memchr(ngx_iothub_id_punct, id[i],
                      sizeof(ngx_iothub_id_punct) - 1) == NULL)
        {
            return 0;
        }
    }

    return 1;
}


int
ngx_iothub_decimal_parse(const unsigned char *p, size_t len, uint64_t *n)
{
    uint64_t  v, d;

    if (len == 0) {
        return -1;
    }

    for (v = 0; len--; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }

        d = *p - '0';

        if (v > (INT64_MAX - d) / 10) {
            return -1;
        }

        v = v * 10 + d;
    }

    *n = v;

    return 0;
}


int
ngx_iothub_thumbprint_valid(const char *s, size_t len)
{
    size_t  i;

    if (s == NULL || (len != 40 && len != 64)) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (ngx_iothub_hex_value((unsigned char) s[i]) < 0) {
            return 0;
        }
    }

    return 1;
}


int
ngx_iothub_url_decode(char *out, size_t size, const unsigned char *in,
    size_t len)
{
    int     hi, lo;
    size_t  i, n;

    if (out == NULL || size == 0 || len > INT_MAX) {
        return -1;
    }

    for (i = 0, n = 0; i < len; n++) {

        /* room for this byte and the NUL */
        if (n + 1 >= size) {
            return -1;
        }

        if (in[i] != '%') {
            out[n] = (char) in[i++];
            continue;
        }

        if (len - i < 3) {
            return -1;
        }

        hi = ngx_iothub_hex_value(in[i + 1]);
        lo = ngx_iothub_hex_value(in[i + 2]);

        if (hi < 0 || lo < 0) {
            return -1;
        }

        out[n] = (char) ((hi << 4) | lo);
        i += 3;
    }

    out[n] = '\0';

    return (int) n;
}


int
ngx_iothub_url_encode(char *out, size_t size, const unsigned char *in,
    size_t len)
{
    size_t         i, n;
    unsigned char  c;

    if (out == NULL || size == 0 || len > INT_MAX / 3) {
        return -1;
    }

    for (i = 0, n = 0; i < len; i++) {
        c = in[i];

        if (ngx_iothub_is_alnum(c)
            || memchr(ngx_iothub_url_unreserved, c,
                      sizeof(ngx_iothub_url_unreserved) - 1) != NULL)
        {
            if (n + 1 >= size) {
                return -1;
            }

            out[n++] = (char) c;
            continue;
        }

        if (n + 3 >= size) {
            return -1;
        }

        out[n++] = '%';
        out[n++] = ngx_iothub_hex_upper[c >> 4];
        out[n++] = ngx_iothub_hex_upper[c & 0x0f];
    }

    out[n] = '\0';

    return (int) n;
}


int
ngx_iothub_base64_encode(char *out, size_t size, const unsigned char *in,
    size_t len)
{
    char     *p;
    size_t    i, n;
    uint32_t  v;

    if (len > (INT_MAX / 4) * 3 - 3) {
        return -1;
    }

    n = (len + 2) / 3 * 4;

    if (out == NULL || n >= size) {
        return -1;
    }

    p = out;

    for (i = 0; len - i >= 3; i += 3) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];

        *p++ = ngx_iothub_b64_alphabet[v >> 18];
        *p++ = ngx_iothub_b64_alphabet[(v >> 12) & 0x3f];
        *p++ = ngx_iothub_b64_alphabet[(v >> 6) & 0x3f];
        *p++ = ngx_iothub_b64_alphabet[v & 0x3f];
    }

    if (len - i != 0) {
        v = (uint32_t) in[i] << 16;

        if (len - i == 2) {
            v |= (uint32_t) in[i + 1] << 8;
        }

        *p++ = ngx_iothub_b64_alphabet[v >> 18];
        *p++ = ngx_iothub_b64_alphabet[(v >> 12) & 0x3f];
        *p++ = (len - i == 2) ? ngx_iothub_b64_alphabet[(v >> 6) & 0x3f] : '=';
        *p++ = '=';
    }

    *p = '\0';

    return (int) n;
}


int
ngx_iothub_base64_decode(unsigned char *out, size_t size, const char *in,
    size_t len)
{
    int       d;
    size_t    i, j, n, o, pad, data;
    uint32_t  v;

    if (len % 4 != 0 || len > INT_MAX || (len != 0 && in == NULL)) {
        return -1;
    }

    if (len == 0) {
        return 0;
    }

    pad = (in[len - 1] != '=') ? 0 : (in[len - 2] != '=') ? 1 : 2;
    data = len - pad;
    n = len / 4 * 3 - pad;

    if (out == NULL || n > size) {
        return -1;
    }

    for (i = 0, o = 0; i < len; i += 4) {
        v = 0;

        for (j = i; j < i + 4; j++) {
            d = (j < data) ? ngx_iothub_b64_value((unsigned char) in[j]) : 0;

            if (d < 0) {
                return -1;
            }

            v = (v << 6) | (uint32_t) d;
        }

        /* canonical only: the bits under the padding must be zero */
        if (i + 4 == len
            && ((pad == 1 && (v & 0xff) != 0)
                || (pad == 2 && (v & 0xffff) != 0)))
        {
            return -1;
        }

        for (j = 0; j < 3 && o < n; j++) {
            out[o++] = (unsigned char) (v >> (16 - 8 * j));
        }
    }

    return (int) n;
}


static int
ngx_iothub_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c = ngx_iothub_lc(c);

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


static int
ngx_iothub_b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '+') {
        return 62;
    }

    if (c == '/') {
        return 63;
    }

    return -1;
}
