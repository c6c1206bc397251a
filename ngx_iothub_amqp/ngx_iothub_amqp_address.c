
/*
 * Copyright (C) nginx-iothub authors
 */


#include <string.h>
#include <strings.h>

#include "ngx_iothub_amqp_address.h"


#define NGX_IOTHUB_AMQP_SEGMENTS      8
#define NGX_IOTHUB_AMQP_AUDIENCE_MAX  1024


typedef struct {
    const unsigned char      *data;
    size_t                    len;
} ngx_iothub_amqp_span_t;


static const unsigned char *ngx_iothub_amqp_strip_scheme(
    const unsigned char *p, size_t *len);
static int ngx_iothub_amqp_split(const unsigned char *p, size_t len,
    ngx_iothub_amqp_span_t *seg, size_t *n);
static int ngx_iothub_amqp_word(ngx_iothub_amqp_span_t *seg,
    const char *word);
static int ngx_iothub_amqp_hex(unsigned char c);
static int ngx_iothub_amqp_decode(ngx_iothub_amqp_span_t *seg, char *out,
    size_t max, size_t *out_len);
static int ngx_iothub_amqp_identity(ngx_iothub_amqp_span_t *seg, size_t n,
    ngx_iothub_amqp_addr_t *a, size_t *used);
static int ngx_iothub_amqp_service(ngx_iothub_amqp_span_t *seg, size_t n,
    ngx_iothub_amqp_addr_t *a);
static const unsigned char *ngx_iothub_amqp_find_last(
    const unsigned char *p, size_t len, const char *word);
static const unsigned char *ngx_iothub_amqp_audience_text(
    const unsigned char *p, size_t *len, unsigned char *buf);
static int ngx_iothub_amqp_copy(const unsigned char *p, size_t len,
    char *out, size_t size);


int
ngx_iothub_amqp_addr_parse(const unsigned char *p, size_t len,
    ngx_iothub_amqp_addr_t *a)
{
    size_t                  n, used;
    ngx_iothub_amqp_span_t  seg[NGX_IOTHUB_AMQP_SEGMENTS], *t;

    memset(a, 0, sizeof(ngx_iothub_amqp_addr_t));

    p = ngx_iothub_amqp_strip_scheme(p, &len);

    if (ngx_iothub_amqp_split(p, len, seg, &n) != 0) {
        return 0;
    }

    if (n == 1 && seg[0].len == 4 && memcmp(seg[0].data, "$cbs", 4) == 0) {
        a->kind = NGX_IOTHUB_AMQP_ADDR_CBS;
        return 0;
    }

    if (ngx_iothub_amqp_service(seg, n, a) == 0) {
        return 0;
    }

    switch (ngx_iothub_amqp_identity(seg, n, a, &used)) {
    case -1:
        return -1;
    case 1:
        return 0;
    }

    t = &seg[used];
    n -= used;

    if (n == 2 && ngx_iothub_amqp_word(&t[0], "messages")
        && ngx_iothub_amqp_word(&t[1], "events"))
    {
        a->kind = NGX_IOTHUB_AMQP_ADDR_TELEMETRY;

    } else if (n == 2 && ngx_iothub_amqp_word(&t[0], "messages")
               && ngx_iothub_amqp_word(&t[1], "devicebound"))
    {
        a->kind = NGX_IOTHUB_AMQP_ADDR_C2D;

    } else if (n == 1 && ngx_iothub_amqp_word(&t[0], "twin")) {
        a->kind = NGX_IOTHUB_AMQP_ADDR_TWIN;

    } else if (n == 2 && ngx_iothub_amqp_word(&t[0], "methods")
               && ngx_iothub_amqp_word(&t[1], "devicebound"))
    {
        a->kind = NGX_IOTHUB_AMQP_ADDR_METHODS;
    }

    return 0;
}


int
ngx_iothub_amqp_audience_parse(const unsigned char *p, size_t len,
    ngx_iothub_amqp_addr_t *a)
{
    size_t                  i, n, used;
    unsigned char           buf[NGX_IOTHUB_AMQP_AUDIENCE_MAX + 1];
    ngx_iothub_amqp_span_t  seg[NGX_IOTHUB_AMQP_SEGMENTS];

    memset(a, 0, sizeof(ngx_iothub_amqp_addr_t));

    p = ngx_iothub_amqp_audience_text(p, &len, buf);
    if (p == NULL) {
        return -1;
    }

    p = ngx_iothub_amqp_strip_scheme(p, &len);

    /* the host comes first */

    for (i = 0; i < len && p[i] != '/'; i++) {
        /* void */
    }

    if (i == len) {
        return 0;
    }

    if (ngx_iothub_amqp_split(p + i, len - i, seg, &n) != 0) {
        return 0;
    }

    switch (ngx_iothub_amqp_identity(seg, n, a, &used)) {
    case -1:
        return -1;
    case 1:
        return 0;
    }

    if (used == n) {
        a->kind = NGX_IOTHUB_AMQP_ADDR_IDENTITY;
    }

    return 0;
}


int
ngx_iothub_amqp_audience_scope(const unsigned char *p, size_t len,
    char *host, size_t host_size, char *path, size_t path_size)
{
    size_t                  i, n, k, at;
    unsigned char           buf[NGX_IOTHUB_AMQP_AUDIENCE_MAX + 1];
    ngx_iothub_amqp_span_t  seg[NGX_IOTHUB_AMQP_SEGMENTS];

    p = ngx_iothub_amqp_audience_text(p, &len, buf);
    if (p == NULL) {
        return -1;
    }

    for (i = 0; i < len && p[i] != '/'; i++) {
        /* void */
    }

    /* a scheme goes, the host stays */

    if (i > 1 && p[i - 1] == ':' && i + 1 < len && p[i + 1] == '/') {
        p += i + 2;
        len -= i + 2;

        for (i = 0; i < len && p[i] != '/'; i++) {
            /* void */
        }
    }

    if (i == 0 || ngx_iothub_amqp_copy(p, i, host, host_size) != 0) {
        return -1;
    }

    /* one trailing '/' goes, as it does from a token's sr */

    if (len > i && p[len - 1] == '/') {
        len--;
    }

    if (i >= len) {
        path[0] = '\0';
        return path_size ? 0 : -1;
    }

    if (ngx_iothub_amqp_split(p + i, len - i, seg, &n) != 0) {
        return -1;
    }

    at = 0;

    for (k = 0; k < n; k++) {
        if (at + 1 >= path_size) {
            return -1;
        }

        path[at++] = '/';

        if (ngx_iothub_amqp_decode(&seg[k], path + at, path_size - at - 1,
                                   &i) != 0)
        {
            return -1;
        }

        at += i;
    }

    return 0;
}


int
ngx_iothub_amqp_scope_covers(const char *scope, const char *path)
{
    size_t  n;

    n = strlen(scope);

    return strlen(path) >= n
           && strncasecmp(scope, path, n) == 0
           && (path[n] == '\0' || path[n] == '/');
}


/* an audience as text: decoded when its separators are */

static const unsigned char *
ngx_iothub_amqp_audience_text(const unsigned char *p, size_t *len,
    unsigned char *buf)
{
    size_t                  n;
    ngx_iothub_amqp_span_t  whole;

    if (*len > NGX_IOTHUB_AMQP_AUDIENCE_MAX) {
        return NULL;
    }

    if (memchr(p, '/', *len) == NULL) {
        /* the token's sr as it is, separators encoded: decode once */
        whole.data = p;
        whole.len = *len;

        if (ngx_iothub_amqp_decode(&whole, (char *) buf,
                                   NGX_IOTHUB_AMQP_AUDIENCE_MAX, &n) != 0) {
            return NULL;
        }

        p = buf;
        *len = n;
    }

    return p;
}


int
ngx_iothub_amqp_plain_user(const unsigned char *p, size_t len,
    ngx_iothub_amqp_addr_t *a, char *hub, size_t hub_size)
{
    size_t                n;
    const unsigned char  *at, *host, *module;

    memset(a, 0, sizeof(ngx_iothub_amqp_addr_t));

    at = ngx_iothub_amqp_find_last(p, len, "@sas.");
    if (at == NULL || at == p) {
        return -1;
    }

    host = at + sizeof("@sas.") - 1;
    n = p + len - host;

    if (n >= sizeof("root.") - 1 && strncasecmp((char *) host, "root.", 5) == 0)
    {
        a->kind = NGX_IOTHUB_AMQP_ADDR_POLICY;
        host += sizeof("root.") - 1;
        n -= sizeof("root.") - 1;
    }

    if (n == 0 || ngx_iothub_amqp_copy(host, n, hub, hub_size) != 0) {
        return -1;
    }

    n = at - p;

    if (a->kind == NGX_IOTHUB_AMQP_ADDR_POLICY) {
        if (memchr(p, '/', n) != NULL
            || ngx_iothub_amqp_copy(p, n, a->device,
                                    NGX_IOTHUB_AMQP_ID_MAX + 1)
               != 0)
        {
            return -1;
        }

        a->device_len = n;
        return 0;
    }

    a->kind = NGX_IOTHUB_AMQP_ADDR_IDENTITY;

    module = ngx_iothub_amqp_find_last(p, n, "/modules/");

    if (module != NULL) {
        a->module_len = p + n - (module + sizeof("/modules/") - 1);

        if (a->module_len == 0
            || ngx_iothub_amqp_copy(module + sizeof("/modules/") - 1,
                                    a->module_len, a->module,
                                    NGX_IOTHUB_AMQP_ID_MAX + 1)
               != 0)
        {
            return -1;
        }

        n = module - p;
    }

    a->device_len = n;

    if (n == 0
        || memchr(p, '/', n) != NULL
        || memchr(a->module, '/', a->module_len) != NULL
        || ngx_iothub_amqp_copy(p, n, a->device, NGX_IOTHUB_AMQP_ID_MAX + 1)
           != 0)
    {
        return -1;
    }

    return 0;
}


/* the last occurrence of word in p, or NULL */

static const unsigned char *
ngx_iothub_amqp_find_last(const unsigned char *p, size_t len,
    const char *word)
{
    size_t  n, i;

    n = strlen(word);

    for (i = len; i >= n; i--) {
        if (strncasecmp((char *) p + i - n, word, n) == 0) {
            return p + i - n;
        }
    }

    return NULL;
}


static int
ngx_iothub_amqp_copy(const unsigned char *p, size_t len, char *out,
    size_t size)
{
    if (len >= size || memchr(p, '\0', len) != NULL) {
        return -1;
    }

    memcpy(out, p, len);
    out[len] = '\0';

    return 0;
}


/* the hub's own nodes: 0 found, 1 not */

static int
ngx_iothub_amqp_service(ngx_iothub_amqp_span_t *seg, size_t n,
    ngx_iothub_amqp_addr_t *a)
{
    if (n < 2 || !ngx_iothub_amqp_word(&seg[0], "messages")) {
        return 1;
    }

    if (n == 2 && ngx_iothub_amqp_word(&seg[1], "devicebound")) {
        a->kind = NGX_IOTHUB_AMQP_ADDR_SERVICE_C2D;
        return 0;
    }

    if (n == 3 && ngx_iothub_amqp_word(&seg[1], "servicebound")
        && ngx_iothub_amqp_word(&seg[2], "feedback"))
    {
        a->kind = NGX_IOTHUB_AMQP_ADDR_FEEDBACK;
        return 0;
    }

    /* amqp.md 8: the Node name, and the one the docs show */

    if (n == 3 && ngx_iothub_amqp_word(&seg[1], "servicebound")
        && (ngx_iothub_amqp_word(&seg[2], "filenotifications")
            || ngx_iothub_amqp_word(&seg[2], "fileuploadnotifications")))
    {
        a->kind = NGX_IOTHUB_AMQP_ADDR_FILE_NOTIFICATIONS;
        return 0;
    }

    return 1;
}


/* "devices/{d}[/modules/{m}]" at the start: 0 found, 1 not, -1 malformed */

static int
ngx_iothub_amqp_identity(ngx_iothub_amqp_span_t *seg, size_t n,
    ngx_iothub_amqp_addr_t *a, size_t *used)
{
    if (n < 2 || !ngx_iothub_amqp_word(&seg[0], "devices")) {
        return 1;
    }

    if (ngx_iothub_amqp_decode(&seg[1], a->device, NGX_IOTHUB_AMQP_ID_MAX,
                               &a->device_len) != 0
        || a->device_len == 0)
    {
        return -1;
    }

    *used = 2;

    if (n >= 4 && ngx_iothub_amqp_word(&seg[2], "modules")) {
        if (ngx_iothub_amqp_decode(&seg[3], a->module,
                                   NGX_IOTHUB_AMQP_ID_MAX, &a->module_len) != 0
            || a->module_len == 0)
        {
            return -1;
        }

        *used = 4;
    }

    return 0;
}


static const unsigned char *
ngx_iothub_amqp_strip_scheme(const unsigned char *p, size_t *len)
{
    size_t              i, n;
    static const char  *schemes[] = { "amqps://", "amqp://", "sb://", NULL };

    for (i = 0; schemes[i]; i++) {
        n = strlen(schemes[i]);

        if (*len >= n && strncasecmp((const char *) p, schemes[i], n) == 0) {
            p += n;
            *len -= n;

            /* the host, and a port, go with the scheme */
            while (*len && *p != '/') {
                p++;
                (*len)--;
            }

            break;
        }
    }

    return p;
}


/* segments between '/'; a leading '/' is optional, empty ones are not */

static int
ngx_iothub_amqp_split(const unsigned char *p, size_t len,
    ngx_iothub_amqp_span_t *seg, size_t *n)
{
    size_t  i, start;

    *n = 0;

    if (len && p[0] == '/') {
        p++;
        len--;
    }

    if (len == 0) {
        return -1;
    }

    start = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && p[i] != '/') {
            continue;
        }

        if (i == start || *n == NGX_IOTHUB_AMQP_SEGMENTS) {
            return -1;
        }

        seg[*n].data = p + start;
        seg[*n].len = i - start;
        (*n)++;
        start = i + 1;
    }

    return 0;
}


static int
ngx_iothub_amqp_word(ngx_iothub_amqp_span_t *seg, const char *word)
{
    return seg->len == strlen(word)
           && strncasecmp((const char *) seg->data, word, seg->len) == 0;
}


static int
ngx_iothub_amqp_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/* percent-decodes into out, at most max bytes and a NUL */

static int
ngx_iothub_amqp_decode(ngx_iothub_amqp_span_t *seg, char *out, size_t max,
    size_t *out_len)
{
    int            hi, lo;
    size_t         i, n;
    unsigned char  c;

    n = 0;

    for (i = 0; i < seg->len; i++) {
        c = seg->data[i];

        if (c == '%') {
            if (i + 2 >= seg->len) {
                return -1;
            }

            hi = ngx_iothub_amqp_hex(seg->data[i + 1]);
            lo = ngx_iothub_amqp_hex(seg->data[i + 2]);

            if (hi < 0 || lo < 0) {
                return -1;
            }

            c = (unsigned char) (hi << 4 | lo);
            i += 2;
        }

        if (c == '\0' || n == max) {
            return -1;
        }

        out[n++] = (char) c;
    }

    out[n] = '\0';
    *out_len = n;

    return 0;
}


int
ngx_iothub_amqp_eh_addr_parse(const char *addr, const char *hub,
    size_t hub_len, ngx_iothub_amqp_eh_addr_t *a)
{
    size_t       n, seg_len[6];
    const char  *p, *last, *s, *seg[6];

    p = addr;
    last = p + strlen(addr);

    memset(a, 0, sizeof(ngx_iothub_amqp_eh_addr_t));

    if (last - p == 11 && memcmp(p, "$management", 11) == 0) {
        if (hub_len + 13 > NGX_IOTHUB_AMQP_EH_PATH_MAX) {
            return -1;
        }

        a->management = 1;
        a->path[0] = '/';
        memcpy(a->path + 1, hub, hub_len);
        memcpy(a->path + 1 + hub_len, "/$management", 12);
        a->path_len = hub_len + 13;

        return 0;
    }

    /* "sb://host" or "amqps://host:port" before the path goes */

    s = strstr(addr, "://");

    if (s) {
        p = memchr(s + 3, '/', last - s - 3);
        if (p == NULL) {
            return -1;
        }
    }

    if (p < last && *p == '/') {
        p++;
    }

    if (last - p >= NGX_IOTHUB_AMQP_EH_PATH_MAX - 1) {
        return -1;
    }

    a->path[0] = '/';
    memcpy(a->path + 1, p, last - p);
    a->path_len = 1 + (last - p);

    for (n = 0; n < 6; n++) {
        seg[n] = p;
        s = memchr(p, '/', last - p);
        seg_len[n] = (s ? s : last) - p;

        if (s == NULL) {
            break;
        }

        p = s + 1;
    }

    if (n != 4
        || seg_len[0] != hub_len
        || strncasecmp(seg[0], hub, hub_len) != 0
        || seg_len[1] != 14
        || strncasecmp(seg[1], "ConsumerGroups", 14) != 0
        || seg_len[3] != 10
        || strncasecmp(seg[3], "Partitions", 10) != 0)
    {
        return -1;
    }

    a->group = seg[2];
    a->group_len = seg_len[2];
    a->partition = seg[4];
    a->partition_len = seg_len[4];

    return 0;
}


int
ngx_iothub_amqp_eh_audience_path(const unsigned char *p, size_t len,
    const char *hub, size_t hub_len, char *path)
{
    const unsigned char  *last, *slash;

    last = p + len;

    if (len < 5 || strncasecmp((const char *) p, "sb://", 5) != 0) {
        return -1;
    }

    p = memchr(p + 5, '/', len - 5);

    if (p == NULL || (size_t) (last - p) >= NGX_IOTHUB_AMQP_EH_PATH_MAX) {
        return -1;
    }

    slash = memchr(p + 1, '/', last - p - 1);

    if (slash == NULL) {
        slash = last;
    }

    if ((size_t) (slash - p - 1) != hub_len
        || strncasecmp((const char *) p + 1, hub, hub_len) != 0)
    {
        return -1;
    }

    memcpy(path, p, last - p);
    path[last - p] = '\0';

    return 0;
}


int
ngx_iothub_amqp_uuid_text_parse(const char *p, size_t len,
    unsigned char *uuid)
{
    int     hi, lo;
    size_t  i, n;

    if (len != 36) {
        return -1;
    }

    n = 0;

    for (i = 0; i < len; i += 2) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (p[i] != '-') {
                return -1;
            }

            i++;
        }

        hi = ngx_iothub_amqp_hex((unsigned char) p[i]);
        lo = ngx_iothub_amqp_hex((unsigned char) p[i + 1]);

        if (hi < 0 || lo < 0) {
            return -1;
        }

        uuid[n++] = (unsigned char) (hi << 4 | lo);
    }

    return (n == 16) ? 0 : -1;
}
