
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * nginx-iothub: Azure Blob Storage words for file upload; see
 * ngx_iothub_blob_sas.h.
 */


#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ngx_iothub_blob_sas.h"


#define NGX_IOTHUB_BLOB_HMAC_LEN      32
#define NGX_IOTHUB_BLOB_SIG_B64_LEN   44

/* one decoded field of the string to sign */
#define NGX_IOTHUB_BLOB_FIELD_MAX     256

/* the string to sign: the fields and the canonical resource */
#define NGX_IOTHUB_BLOB_STS_MAX                                               \
    (NGX_IOTHUB_BLOB_Q_SIG * (NGX_IOTHUB_BLOB_FIELD_MAX + 1)                  \
     + NGX_IOTHUB_BLOB_ACCOUNT_MAX + NGX_IOTHUB_BLOB_CONTAINER_MAX            \
     + NGX_IOTHUB_BLOB_NAME_MAX + 16)

#define ngx_iothub_blob_is_space(c)                                           \
    ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')


typedef struct {
    const char                *name;
    ngx_iothub_blob_q_e        field;
} ngx_iothub_blob_q_name_t;


static int ngx_iothub_blob_connstr_value(const unsigned char *p, size_t len,
    const char *name, ngx_iothub_span_t *v);
static int ngx_iothub_blob_endpoint(ngx_iothub_blob_connstr_t *cs,
    const ngx_iothub_span_t *ep);
static int ngx_iothub_blob_string_to_sign(char *out, size_t size,
    const ngx_iothub_blob_query_t *q, const ngx_iothub_blob_access_t *a);
static int ngx_iothub_blob_append_decoded(char *out, size_t size, size_t *n,
    const ngx_iothub_span_t *v);
static int ngx_iothub_blob_hmac(char *sig, size_t size,
    const unsigned char *key, size_t key_len, const char *sts, size_t len);
static int ngx_iothub_blob_version_at_least(const ngx_iothub_span_t *sv,
    const char *version);
static int ngx_iothub_blob_has(const ngx_iothub_span_t *sp, char c);
static int ngx_iothub_blob_number(const unsigned char *s, size_t n);
static long long ngx_iothub_blob_days(long long y, long long m, long long d);
static int ngx_iothub_blob_segment_ok(const unsigned char *s, size_t n);
static const unsigned char *ngx_iothub_blob_skip_space(
    const unsigned char *p, const unsigned char *last);
static int ngx_iothub_blob_tag(const unsigned char **pp,
    const unsigned char *last, const char *tag);


static const ngx_iothub_blob_q_name_t  ngx_iothub_blob_q_names[] = {
    { "sp", NGX_IOTHUB_BLOB_Q_SP },
    { "st", NGX_IOTHUB_BLOB_Q_ST },
    { "se", NGX_IOTHUB_BLOB_Q_SE },
    { "si", NGX_IOTHUB_BLOB_Q_SI },
    { "sip", NGX_IOTHUB_BLOB_Q_SIP },
    { "spr", NGX_IOTHUB_BLOB_Q_SPR },
    { "sv", NGX_IOTHUB_BLOB_Q_SV },
    { "sr", NGX_IOTHUB_BLOB_Q_SR },
    { "sst", NGX_IOTHUB_BLOB_Q_SNAPSHOT },
    { "ses", NGX_IOTHUB_BLOB_Q_SES },
    { "rscc", NGX_IOTHUB_BLOB_Q_RSCC },
    { "rscd", NGX_IOTHUB_BLOB_Q_RSCD },
    { "rsce", NGX_IOTHUB_BLOB_Q_RSCE },
    { "rscl", NGX_IOTHUB_BLOB_Q_RSCL },
    { "rsct", NGX_IOTHUB_BLOB_Q_RSCT },
    { "sig", NGX_IOTHUB_BLOB_Q_SIG },
    { "comp", NGX_IOTHUB_BLOB_Q_COMP },
    { "blockid", NGX_IOTHUB_BLOB_Q_BLOCKID }
};


static const char  *ngx_iothub_blob_tags[] = {
    "Latest", "Committed", "Uncommitted"
};


ngx_iothub_blob_rc_e
ngx_iothub_blob_connstr_parse(ngx_iothub_blob_connstr_t *cs,
    const unsigned char *text, size_t len)
{
    int                 k;
    ngx_iothub_span_t   name, key, ep, suffix;

    memset(cs, 0, sizeof(ngx_iothub_blob_connstr_t));

    if (ngx_iothub_blob_connstr_value(text, len, "AccountName", &name) != 1
        || ngx_iothub_blob_connstr_value(text, len, "AccountKey", &key) != 1
        || name.len == 0 || name.len > NGX_IOTHUB_BLOB_ACCOUNT_MAX)
    {
        return NGX_IOTHUB_BLOB_MALFORMED;
    }

    memcpy(cs->account, name.data, name.len);

    k = ngx_iothub_base64_decode(cs->key, sizeof(cs->key),
                                 (const char *) key.data, key.len);
    if (k < 16) {
        return NGX_IOTHUB_BLOB_MALFORMED;
    }

    cs->key_len = (size_t) k;

    switch (ngx_iothub_blob_connstr_value(text, len, "BlobEndpoint", &ep)) {

    case 1:
        return ngx_iothub_blob_endpoint(cs, &ep) == 0
               ? NGX_IOTHUB_BLOB_OK : NGX_IOTHUB_BLOB_MALFORMED;

    case 0:
        break;

    default:
        return NGX_IOTHUB_BLOB_MALFORMED;
    }

    switch (ngx_iothub_blob_connstr_value(text, len, "EndpointSuffix",
                                          &suffix))
    {
    case 1:
        break;

    case 0:
        suffix.data = (const unsigned char *) "core.windows.net";
        suffix.len = sizeof("core.windows.net") - 1;
        break;

    default:
        return NGX_IOTHUB_BLOB_MALFORMED;
    }

    k = snprintf(cs->host, sizeof(cs->host), "%s.blob.%.*s", cs->account,
                 (int) suffix.len, suffix.data);

    return (k > 0 && (size_t) k < sizeof(cs->host) && suffix.len > 0)
           ? NGX_IOTHUB_BLOB_OK : NGX_IOTHUB_BLOB_MALFORMED;
}


/* 1: found, 0: absent, -1: malformed (a part without "=", repeated) */

static int
ngx_iothub_blob_connstr_value(const unsigned char *p, size_t len,
    const char *name, ngx_iothub_span_t *v)
{
    int                   found;
    size_t                n, nlen;
    const unsigned char  *last, *end, *eq;

    found = 0;
    nlen = strlen(name);
    last = p + len;

    while (p < last) {
        end = memchr(p, ';', last - p);
        if (end == NULL) {
            end = last;
        }

        n = end - p;

        if (n > 0) {
            eq = memchr(p, '=', n);
            if (eq == NULL) {
                return -1;
            }

            if ((size_t) (eq - p) == nlen && memcmp(p, name, nlen) == 0) {
                if (found) {
                    return -1;
                }

                found = 1;
                v->data = eq + 1;
                v->len = end - (eq + 1);
            }
        }

        p = end + 1;
    }

    return found;
}


/* "https://host[:port][/path][/]": host "host[:port][/path]", path */

static int
ngx_iothub_blob_endpoint(ngx_iothub_blob_connstr_t *cs,
    const ngx_iothub_span_t *ep)
{
    size_t                n;
    const unsigned char  *p, *slash;

    p = ep->data;
    n = ep->len;

    if (n < 8 || strncasecmp((const char *) p, "https://", 8) != 0) {
        return -1;
    }

    p += 8;
    n -= 8;

    while (n > 0 && p[n - 1] == '/') {
        n--;
    }

    if (n == 0 || n > NGX_IOTHUB_BLOB_HOST_MAX || memchr(p, '?', n)
        || memchr(p, '#', n) || memchr(p, '\0', n) || p[0] == '/')
    {
        return -1;
    }

    memcpy(cs->host, p, n);

    slash = memchr(p, '/', n);
    if (slash) {
        memcpy(cs->path, slash, n - (slash - p));
    }

    return 0;
}


ngx_iothub_blob_rc_e
ngx_iothub_blob_query_parse(ngx_iothub_blob_query_t *q,
    const unsigned char *args, size_t len)
{
    size_t                i, n, nlen;
    ngx_iothub_span_t    *f;
    const unsigned char  *p, *last, *end, *eq;

    memset(q, 0, sizeof(ngx_iothub_blob_query_t));

    p = args;
    last = args + len;

    while (p < last) {
        end = memchr(p, '&', last - p);
        if (end == NULL) {
            end = last;
        }

        n = end - p;
        eq = memchr(p, '=', n);
        nlen = eq ? (size_t) (eq - p) : n;

        for (i = 0; i < sizeof(ngx_iothub_blob_q_names)
                        / sizeof(ngx_iothub_blob_q_names[0]); i++)
        {
            if (strlen(ngx_iothub_blob_q_names[i].name) != nlen
                || memcmp(p, ngx_iothub_blob_q_names[i].name, nlen) != 0)
            {
                continue;
            }

            f = &q->f[ngx_iothub_blob_q_names[i].field];

            if (f->data != NULL) {
                return NGX_IOTHUB_BLOB_MALFORMED;
            }

            f->data = eq ? eq + 1 : end;
            f->len = eq ? (size_t) (end - (eq + 1)) : 0;
            break;
        }

        p = end + 1;
    }

    return NGX_IOTHUB_BLOB_OK;
}


ngx_iothub_blob_rc_e
ngx_iothub_blob_sas_check(const ngx_iothub_blob_query_t *q,
    const ngx_iothub_blob_access_t *a)
{
    int        n;
    char       sts[NGX_IOTHUB_BLOB_STS_MAX];
    char       sig[NGX_IOTHUB_BLOB_SIG_B64_LEN + 1];
    char       sent[NGX_IOTHUB_BLOB_SIG_B64_LEN + 1];
    long long  se, st;

    if (q->f[NGX_IOTHUB_BLOB_Q_SIG].len == 0
        || q->f[NGX_IOTHUB_BLOB_Q_SV].len == 0
        || q->f[NGX_IOTHUB_BLOB_Q_SR].len != 1
        || q->f[NGX_IOTHUB_BLOB_Q_SP].len == 0
        || q->f[NGX_IOTHUB_BLOB_Q_SE].len == 0)
    {
        return NGX_IOTHUB_BLOB_NO_SAS;
    }

    n = ngx_iothub_blob_string_to_sign(sts, sizeof(sts), q, a);
    if (n < 0) {
        return NGX_IOTHUB_BLOB_MALFORMED;
    }

    if (ngx_iothub_blob_hmac(sig, sizeof(sig), a->key, a->key_len, sts,
                             (size_t) n)
        != 0)
    {
        return NGX_IOTHUB_BLOB_MALFORMED;
    }

    n = ngx_iothub_url_decode(sent, sizeof(sent),
                              q->f[NGX_IOTHUB_BLOB_Q_SIG].data,
                              q->f[NGX_IOTHUB_BLOB_Q_SIG].len);

    if (n != NGX_IOTHUB_BLOB_SIG_B64_LEN
        || CRYPTO_memcmp(sig, sent, NGX_IOTHUB_BLOB_SIG_B64_LEN) != 0)
    {
        return NGX_IOTHUB_BLOB_BAD_SIGNATURE;
    }

    /* signed: the times and permissions are the account owner's words */

    n = ngx_iothub_url_decode(sts, sizeof(sts), q->f[NGX_IOTHUB_BLOB_Q_SE].data,
                              q->f[NGX_IOTHUB_BLOB_Q_SE].len);
    se = (n < 0) ? -1 : ngx_iothub_blob_time_parse((unsigned char *) sts, n);

    if (se < 0 || se <= a->now) {
        return NGX_IOTHUB_BLOB_EXPIRED;
    }

    if (q->f[NGX_IOTHUB_BLOB_Q_ST].len) {
        n = ngx_iothub_url_decode(sts, sizeof(sts),
                                  q->f[NGX_IOTHUB_BLOB_Q_ST].data,
                                  q->f[NGX_IOTHUB_BLOB_Q_ST].len);
        st = (n < 0) ? -1
                     : ngx_iothub_blob_time_parse((unsigned char *) sts, n);

        if (st < 0 || st > a->now) {
            return NGX_IOTHUB_BLOB_EXPIRED;
        }
    }

    if (ngx_iothub_blob_has(&q->f[NGX_IOTHUB_BLOB_Q_SP], a->permission)
        || (a->permission == 'w'
            && ngx_iothub_blob_has(&q->f[NGX_IOTHUB_BLOB_Q_SP], 'c')))
    {
        return NGX_IOTHUB_BLOB_OK;
    }

    return NGX_IOTHUB_BLOB_NO_PERMISSION;
}


/*
 * The service SAS string to sign: sp, st, se, the canonical resource,
 * si, sip, spr, sv, then from 2018-11-09 sr and the snapshot time, from
 * 2020-12-06 the encryption scope, then rscc, rscd, rsce, rscl, rsct;
 * each decoded, joined by "\n".
 */

static int
ngx_iothub_blob_string_to_sign(char *out, size_t size,
    const ngx_iothub_blob_query_t *q, const ngx_iothub_blob_access_t *a)
{
    int                       k;
    size_t                    n;
    size_t                    i;
    const ngx_iothub_span_t  *f, *sv;

    f = q->f;
    sv = &f[NGX_IOTHUB_BLOB_Q_SV];
    n = 0;

    for (i = NGX_IOTHUB_BLOB_Q_SP; i <= NGX_IOTHUB_BLOB_Q_SE; i++) {
        if (ngx_iothub_blob_append_decoded(out, size, &n, &f[i]) != 0) {
            return -1;
        }
    }

    if (f[NGX_IOTHUB_BLOB_Q_SR].data[0] != 'b'
        && f[NGX_IOTHUB_BLOB_Q_SR].data[0] != 'c')
    {
        return -1;
    }

    k = snprintf(out + n, size - n, "/blob/%s/%.*s%s%.*s\n", a->account,
                 (int) a->container_len, a->container,
                 f[NGX_IOTHUB_BLOB_Q_SR].data[0] == 'b' ? "/" : "",
                 f[NGX_IOTHUB_BLOB_Q_SR].data[0] == 'b' ? (int) a->blob_len
                                                        : 0,
                 a->blob);
    if (k < 0 || (size_t) k >= size - n) {
        return -1;
    }

    n += k;

    for (i = NGX_IOTHUB_BLOB_Q_SI; i <= NGX_IOTHUB_BLOB_Q_RSCT; i++) {

        if ((i == NGX_IOTHUB_BLOB_Q_SR || i == NGX_IOTHUB_BLOB_Q_SNAPSHOT)
            && !ngx_iothub_blob_version_at_least(sv, "2018-11-09"))
        {
            continue;
        }

        if (i == NGX_IOTHUB_BLOB_Q_SES
            && !ngx_iothub_blob_version_at_least(sv, "2020-12-06"))
        {
            continue;
        }

        if (ngx_iothub_blob_append_decoded(out, size, &n, &f[i]) != 0) {
            return -1;
        }
    }

    /* no "\n" after the last field */
    return (int) (n - 1);
}


static int
ngx_iothub_blob_append_decoded(char *out, size_t size, size_t *n,
    const ngx_iothub_span_t *v)
{
    int  k;

    if (size - *n < NGX_IOTHUB_BLOB_FIELD_MAX + 1) {
        return -1;
    }

    k = 0;

    if (v->len) {
        k = ngx_iothub_url_decode(out + *n, NGX_IOTHUB_BLOB_FIELD_MAX,
                                  v->data, v->len);
        if (k < 0) {
            return -1;
        }
    }

    *n += k;
    out[(*n)++] = '\n';

    return 0;
}


static int
ngx_iothub_blob_hmac(char *sig, size_t size, const unsigned char *key,
    size_t key_len, const char *sts, size_t len)
{
    unsigned char  mac[NGX_IOTHUB_BLOB_HMAC_LEN];

    if (key_len == 0
        || ngx_iothub_hmac_sha256(key, key_len, (const unsigned char *) sts,
                                  len, mac) != 0)
    {
        return -1;
    }

    return ngx_iothub_base64_encode(sig, size, mac, sizeof(mac))
           == NGX_IOTHUB_BLOB_SIG_B64_LEN ? 0 : -1;
}


/* versions are dates: they compare as strings */

static int
ngx_iothub_blob_version_at_least(const ngx_iothub_span_t *sv,
    const char *version)
{
    size_t  n;

    n = strlen(version);

    if (sv->len != n) {
        return sv->len > n;
    }

    return memcmp(sv->data, version, n) >= 0;
}


static int
ngx_iothub_blob_has(const ngx_iothub_span_t *sp, char c)
{
    return memchr(sp->data, c, sp->len) != NULL;
}


int
ngx_iothub_blob_sas_make(char *out, size_t size,
    const ngx_iothub_blob_connstr_t *cs, const char *container,
    const char *blob, long long expiry)
{
    int                       n;
    char                      se[32], se_enc[64], sig[48], sig_enc[96];
    char                      sts[NGX_IOTHUB_BLOB_STS_MAX];
    ngx_iothub_blob_access_t  a;
    ngx_iothub_blob_query_t   q;

    if (ngx_iothub_blob_time_format(se, sizeof(se), expiry) < 0
        || strlen(container) > NGX_IOTHUB_BLOB_CONTAINER_MAX
        || strlen(blob) > NGX_IOTHUB_BLOB_NAME_MAX)
    {
        return -1;
    }

    memset(&q, 0, sizeof(ngx_iothub_blob_query_t));

    q.f[NGX_IOTHUB_BLOB_Q_SP].data = (const unsigned char *) "rw";
    q.f[NGX_IOTHUB_BLOB_Q_SP].len = 2;
    q.f[NGX_IOTHUB_BLOB_Q_SE].data = (const unsigned char *) se;
    q.f[NGX_IOTHUB_BLOB_Q_SE].len = strlen(se);
    q.f[NGX_IOTHUB_BLOB_Q_SV].data = (const unsigned char *)
                                     NGX_IOTHUB_BLOB_SAS_VERSION;
    q.f[NGX_IOTHUB_BLOB_Q_SV].len = sizeof(NGX_IOTHUB_BLOB_SAS_VERSION) - 1;
    q.f[NGX_IOTHUB_BLOB_Q_SR].data = (const unsigned char *) "b";
    q.f[NGX_IOTHUB_BLOB_Q_SR].len = 1;

    memset(&a, 0, sizeof(ngx_iothub_blob_access_t));

    a.account = cs->account;
    a.container = (const unsigned char *) container;
    a.container_len = strlen(container);
    a.blob = (const unsigned char *) blob;
    a.blob_len = strlen(blob);

    n = ngx_iothub_blob_string_to_sign(sts, sizeof(sts), &q, &a);

    if (n < 0
        || ngx_iothub_blob_hmac(sig, sizeof(sig), cs->key, cs->key_len, sts,
                                (size_t) n) != 0
        || ngx_iothub_url_encode(sig_enc, sizeof(sig_enc),
                                 (unsigned char *) sig, strlen(sig)) < 0
        || ngx_iothub_url_encode(se_enc, sizeof(se_enc),
                                 (unsigned char *) se, strlen(se)) < 0)
    {
        return -1;
    }

    n = snprintf(out, size, "?sv=%s&sr=b&sig=%s&se=%s&sp=rw",
                 NGX_IOTHUB_BLOB_SAS_VERSION, sig_enc, se_enc);

    return (n < 0 || (size_t) n >= size) ? -1 : n;
}


long long
ngx_iothub_blob_time_parse(const unsigned char *s, size_t len)
{
    size_t     i;
    long long  y, mo, d, h, mi, sec;

    h = 0;
    mi = 0;
    sec = 0;

    if (len > 0 && s[len - 1] == 'Z') {
        len--;
    }

    if (len < 10 || s[4] != '-' || s[7] != '-') {
        return -1;
    }

    y = ngx_iothub_blob_number(s, 4);
    mo = ngx_iothub_blob_number(s + 5, 2);
    d = ngx_iothub_blob_number(s + 8, 2);

    if (len > 10) {
        if (len < 16 || s[10] != 'T' || s[13] != ':') {
            return -1;
        }

        h = ngx_iothub_blob_number(s + 11, 2);
        mi = ngx_iothub_blob_number(s + 14, 2);

        if (len > 16) {
            if (len < 19 || s[16] != ':') {
                return -1;
            }

            sec = ngx_iothub_blob_number(s + 17, 2);

            if (len > 19) {
                if (s[19] != '.' || len == 20) {
                    return -1;
                }

                for (i = 20; i < len; i++) {
                    if (s[i] < '0' || s[i] > '9') {
                        return -1;
                    }
                }
            }
        }
    }

    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23
        || mi < 0 || mi > 59 || sec < 0 || sec > 60)
    {
        return -1;
    }

    return ngx_iothub_blob_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
}


/* n decimal digits, or -1 */

static int
ngx_iothub_blob_number(const unsigned char *s, size_t n)
{
    int     v;
    size_t  i;

    v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        v = v * 10 + (s[i] - '0');
    }

    return v;
}


/* days from 1970-01-01 to y-m-d (the civil calendar) */

static long long
ngx_iothub_blob_days(long long y, long long m, long long d)
{
    long long  era, yoe, doy, doe;

    y -= (m <= 2);
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


int
ngx_iothub_blob_time_format(char *out, size_t size, long long t)
{
    int        n;
    long long  z, era, doe, yoe, y, doy, mp, d, m, s;

    if (t < 0 || t > NGX_IOTHUB_SAS_EXPIRY_MAX) {
        return -1;
    }

    s = t % 86400;
    z = t / 86400 + 719468;
    era = z / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += (m <= 2);

    n = snprintf(out, size, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
                 y, m, d, s / 3600, s / 60 % 60, s % 60);

    return (n < 0 || (size_t) n >= size) ? -1 : n;
}


int
ngx_iothub_blob_path_parse(const unsigned char *path, size_t len,
    ngx_iothub_span_t *container, ngx_iothub_span_t *blob)
{
    size_t                i;
    const unsigned char  *p, *last, *slash;

    if (len < 2 || path[0] != '/') {
        return -1;
    }

    p = path + 1;
    last = path + len;

    slash = memchr(p, '/', last - p);
    if (slash == NULL) {
        return -1;
    }

    container->data = p;
    container->len = slash - p;

    if (container->len < NGX_IOTHUB_BLOB_CONTAINER_MIN
        || container->len > NGX_IOTHUB_BLOB_CONTAINER_MAX)
    {
        return -1;
    }

    for (i = 0; i < container->len; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9')
              || p[i] == '-'))
        {
            return -1;
        }
    }

    blob->data = slash + 1;
    blob->len = last - (slash + 1);

    if (blob->len == 0 || blob->len > NGX_IOTHUB_BLOB_NAME_MAX
        || memchr(blob->data, '\0', blob->len)
        || memchr(blob->data, '\\', blob->len))
    {
        return -1;
    }

    p = blob->data;

    while (p <= last) {
        slash = memchr(p, '/', last - p);
        if (slash == NULL) {
            slash = last;
        }

        if (!ngx_iothub_blob_segment_ok(p, slash - p)) {
            return -1;
        }

        p = slash + 1;
    }

    return 0;
}


static int
ngx_iothub_blob_segment_ok(const unsigned char *s, size_t n)
{
    return n > 0 && !(n == 1 && s[0] == '.')
           && !(n == 2 && s[0] == '.' && s[1] == '.');
}


int
ngx_iothub_blob_block_name(char *out, size_t size, const unsigned char *id,
    size_t len)
{
    int            n, k;
    char           b64[4 * ((NGX_IOTHUB_BLOB_BLOCK_ID_MAX + 2) / 3) + 1];
    unsigned char  raw[NGX_IOTHUB_BLOB_BLOCK_ID_MAX + 2];

    static const char  hex[] = "0123456789abcdef";

    n = ngx_iothub_url_decode(b64, sizeof(b64), id, len);
    if (n <= 0) {
        return -1;
    }

    n = ngx_iothub_base64_decode(raw, sizeof(raw), b64, (size_t) n);
    if (n <= 0 || n > NGX_IOTHUB_BLOB_BLOCK_ID_MAX
        || size < (size_t) (2 * n + 1))
    {
        return -1;
    }

    for (k = 0; k < n; k++) {
        out[2 * k] = hex[raw[k] >> 4];
        out[2 * k + 1] = hex[raw[k] & 0x0f];
    }

    out[2 * n] = '\0';

    return 2 * n;
}


int
ngx_iothub_blob_block_list_parse(const unsigned char *xml, size_t len,
    ngx_iothub_span_t *ids, size_t max, size_t *n)
{
    char                  name[NGX_IOTHUB_BLOB_BLOCK_NAME_LEN + 1];
    size_t                t;
    const unsigned char  *p, *last, *start, *end;

    p = xml;
    last = xml + len;
    *n = 0;

    p = ngx_iothub_blob_skip_space(p, last);

    if (last - p >= 5 && memcmp(p, "<?xml", 5) == 0) {
        end = NULL;

        for (start = p; start + 1 < last; start++) {
            if (start[0] == '?' && start[1] == '>') {
                end = start + 2;
                break;
            }
        }

        if (end == NULL) {
            return -1;
        }

        p = ngx_iothub_blob_skip_space(end, last);
    }

    if (!ngx_iothub_blob_tag(&p, last, "<BlockList>")) {
        return -1;
    }

    for ( ;; ) {
        p = ngx_iothub_blob_skip_space(p, last);

        if (ngx_iothub_blob_tag(&p, last, "</BlockList>")) {
            break;
        }

        for (t = 0; t < 3; t++) {
            if (last - p > (ptrdiff_t) strlen(ngx_iothub_blob_tags[t]) + 2
                && p[0] == '<'
                && memcmp(p + 1, ngx_iothub_blob_tags[t],
                          strlen(ngx_iothub_blob_tags[t])) == 0
                && p[1 + strlen(ngx_iothub_blob_tags[t])] == '>')
            {
                break;
            }
        }

        if (t == 3 || *n == max) {
            return -1;
        }

        p += strlen(ngx_iothub_blob_tags[t]) + 2;
        start = ngx_iothub_blob_skip_space(p, last);

        end = memchr(start, '<', last - start);
        if (end == NULL) {
            return -1;
        }

        p = end;

        while (end > start && ngx_iothub_blob_is_space(end[-1])) {
            end--;
        }

        if (last - p < 3 || p[1] != '/'
            || (size_t) (last - p) < strlen(ngx_iothub_blob_tags[t]) + 3
            || memcmp(p + 2, ngx_iothub_blob_tags[t],
                      strlen(ngx_iothub_blob_tags[t])) != 0
            || p[2 + strlen(ngx_iothub_blob_tags[t])] != '>')
        {
            return -1;
        }

        p += strlen(ngx_iothub_blob_tags[t]) + 3;

        /* an id is base64, never percent-encoded here */
        if (memchr(start, '%', end - start)
            || ngx_iothub_blob_block_name(name, sizeof(name), start,
                                          end - start) < 0)
        {
            return -1;
        }

        ids[*n].data = start;
        ids[*n].len = end - start;
        (*n)++;
    }

    p = ngx_iothub_blob_skip_space(p, last);

    return p == last ? 0 : -1;
}


static const unsigned char *
ngx_iothub_blob_skip_space(const unsigned char *p, const unsigned char *last)
{
    while (p < last && ngx_iothub_blob_is_space(*p)) {
        p++;
    }

    return p;
}


static int
ngx_iothub_blob_tag(const unsigned char **pp, const unsigned char *last,
    const char *tag)
{
    size_t  n;

    n = strlen(tag);

    if ((size_t) (last - *pp) < n || memcmp(*pp, tag, n) != 0) {
        return 0;
    }

    *pp += n;

    return 1;
}


int
ngx_iothub_blob_correlation_make(char *out, size_t size, const char *nonce,
    const unsigned char *path, size_t len)
{
    int     n;
    size_t  i;

    if (strlen(nonce) != NGX_IOTHUB_BLOB_NONCE_LEN || len == 0
        || len > NGX_IOTHUB_BLOB_NAME_MAX
        || size <= NGX_IOTHUB_BLOB_NONCE_LEN)
    {
        return -1;
    }

    memcpy(out, nonce, NGX_IOTHUB_BLOB_NONCE_LEN);

    n = ngx_iothub_base64_encode(out + NGX_IOTHUB_BLOB_NONCE_LEN,
                                 size - NGX_IOTHUB_BLOB_NONCE_LEN, path, len);
    if (n < 0) {
        return -1;
    }

    /* base64url: no "/" to split a path, no "+" to read as a space */

    while (n > 0 && out[NGX_IOTHUB_BLOB_NONCE_LEN + n - 1] == '=') {
        n--;
    }

    for (i = NGX_IOTHUB_BLOB_NONCE_LEN;
         i < NGX_IOTHUB_BLOB_NONCE_LEN + (size_t) n;
         i++)
    {
        out[i] = (out[i] == '+') ? '-' : (out[i] == '/') ? '_' : out[i];
    }

    out[NGX_IOTHUB_BLOB_NONCE_LEN + n] = '\0';

    return NGX_IOTHUB_BLOB_NONCE_LEN + n;
}


int
ngx_iothub_blob_correlation_parse(const unsigned char *cid, size_t len,
    char *out, size_t size)
{
    int     n;
    char    b64[NGX_IOTHUB_BLOB_CORRELATION_MAX + 4];
    size_t  i, m;

    if (len <= NGX_IOTHUB_BLOB_NONCE_LEN
        || len > NGX_IOTHUB_BLOB_CORRELATION_MAX)
    {
        return -1;
    }

    for (i = 0; i < NGX_IOTHUB_BLOB_NONCE_LEN; i++) {
        if (!((cid[i] >= '0' && cid[i] <= '9')
              || (cid[i] >= 'a' && cid[i] <= 'f')))
        {
            return -1;
        }
    }

    m = 0;

    for (i = NGX_IOTHUB_BLOB_NONCE_LEN; i < len; i++) {
        if (cid[i] == '+' || cid[i] == '/' || cid[i] == '=') {
            return -1;
        }

        b64[m++] = (cid[i] == '-') ? '+' : (cid[i] == '_') ? '/' : cid[i];
    }

    while (m % 4) {
        b64[m++] = '=';
    }

    n = ngx_iothub_base64_decode((unsigned char *) out, size - 1, b64, m);
    if (n <= 0 || memchr(out, '\0', n)) {
        return -1;
    }

    out[n] = '\0';

    return n;
}


const char *
ngx_iothub_blob_strerror(ngx_iothub_blob_rc_e rc)
{
    switch (rc) {

    case NGX_IOTHUB_BLOB_OK:
        return "ok";

    case NGX_IOTHUB_BLOB_MALFORMED:
        return "malformed shared access signature";

    case NGX_IOTHUB_BLOB_NO_SAS:
        return "no shared access signature (sig, sv, sr, sp and se)";

    case NGX_IOTHUB_BLOB_BAD_SIGNATURE:
        return "signature did not match";

    case NGX_IOTHUB_BLOB_EXPIRED:
        return "signed expiry time has passed or start time is ahead";

    default:
        return "the signature does not grant this operation";
    }
}
