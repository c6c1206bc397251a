
/*
 * libFuzzer target for ngx_iothub_http/ngx_iothub_http_route.c: the input
 * is a method (first byte), the rights a route needs (second byte), then
 * a request path and, after a line feed, an Authorization value.  The path
 * is split and routed, the value parsed as a SAS token and authorized
 * against two policies and read as an If-Match value (the etag lies in
 * it, shorter only by a "W/" and quotes), and a token made for the path
 * itself must pass; properties that must hold end the run with a trap.
 * Every input is copied into a buffer of its exact size so that ASan sees
 * a read past the end.
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_iothub_http_route.h"


#define FUZZ_HOST     "hub.example.net"
#define FUZZ_NOW      1700000000LL
#define FUZZ_LATER    1800000000LL
#define FUZZ_OWNER    "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define FUZZ_READ     "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="

#define fuzz_assert(e)  if (!(e)) __builtin_trap()


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_split(const unsigned char *path, size_t len);
static void fuzz_match(const unsigned char *path, size_t len,
    unsigned method);
static void fuzz_authorize(const unsigned char *path, size_t len,
    const unsigned char *auth, size_t auth_len, unsigned rights);
static void fuzz_own_token(const unsigned char *path, size_t len,
    unsigned rights);
static void fuzz_access(ngx_iothub_http_access_t *a,
    const unsigned char *path, size_t len, unsigned rights);
static void fuzz_if_match(const unsigned char *p, size_t len);
static size_t fuzz_segments(const unsigned char *path, size_t len);
static int fuzz_in(const ngx_iothub_span_t *s, const unsigned char *p,
    size_t len);


static const unsigned  fuzz_methods[] = {
    NGX_IOTHUB_HTTP_GET, NGX_IOTHUB_HTTP_PUT, NGX_IOTHUB_HTTP_POST,
    NGX_IOTHUB_HTTP_DELETE, NGX_IOTHUB_HTTP_PATCH, NGX_IOTHUB_HTTP_OTHER
};


static const unsigned  fuzz_rights[] = {
    NGX_IOTHUB_HTTP_REGISTRY_READ, NGX_IOTHUB_HTTP_REGISTRY_WRITE,
    NGX_IOTHUB_HTTP_SERVICE_CONNECT
};


static const ngx_iothub_http_policy_t  fuzz_policies[] = {
    { { 11, (const unsigned char *) "iothubowner" },
      { sizeof(FUZZ_OWNER) - 1, (const unsigned char *) FUZZ_OWNER },
      { 0, NULL },
      NGX_IOTHUB_HTTP_REGISTRY_READ|NGX_IOTHUB_HTTP_REGISTRY_WRITE
      |NGX_IOTHUB_HTTP_SERVICE_CONNECT },
    { { 12, (const unsigned char *) "registryRead" },
      { sizeof(FUZZ_READ) - 1, (const unsigned char *) FUZZ_READ },
      { sizeof(FUZZ_OWNER) - 1, (const unsigned char *) FUZZ_OWNER },
      NGX_IOTHUB_HTTP_REGISTRY_READ },
};


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t          len;
    unsigned        method, rights;
    unsigned char  *copy, *nl;

    if (size < 2) {
        return 0;
    }

    method = fuzz_methods[data[0] % 6];
    rights = fuzz_rights[data[1] % 3];

    size -= 2;

    copy = malloc(size != 0 ? size : 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, data + 2, size);

    nl = memchr(copy, '\n', size);
    len = (nl != NULL) ? (size_t) (nl - copy) : size;

    fuzz_split(copy, len);
    fuzz_match(copy, len, method);

    if (nl != NULL) {
        fuzz_authorize(copy, len, nl + 1, size - len - 1, rights);
        fuzz_if_match(nl + 1, size - len - 1);
    }

    fuzz_own_token(copy, len, rights);

    free(copy);

    return 0;
}


static void
fuzz_if_match(const unsigned char *p, size_t len)
{
    ngx_iothub_span_t  etag, again;

    ngx_iothub_http_if_match(p, len, &etag);

    fuzz_assert(etag.data >= p && etag.data + etag.len <= p + len);
    fuzz_assert(len - etag.len <= 4);

    /* only one "W/" and one pair of quotes go */
    ngx_iothub_http_if_match(etag.data, etag.len, &again);
    fuzz_assert(again.len <= etag.len);

    if (etag.len == len) {
        fuzz_assert(again.len == etag.len);
    }
}


static void
fuzz_split(const unsigned char *path, size_t len)
{
    size_t                      i, n;
    ngx_iothub_http_path_t      p;
    ngx_iothub_http_route_rc_e  rc;

    rc = ngx_iothub_http_path_split(&p, path, len);
    n = fuzz_segments(path, len);

    if (rc != NGX_IOTHUB_HTTP_ROUTE_OK) {
        fuzz_assert(rc == NGX_IOTHUB_HTTP_ROUTE_NOT_FOUND);
        fuzz_assert(n > NGX_IOTHUB_HTTP_MAX_SEGMENTS);
        return;
    }

    fuzz_assert(p.nseg == n);

    for (i = 0; i < p.nseg; i++) {
        fuzz_assert(fuzz_in(&p.seg[i], path, len));
        fuzz_assert(p.seg[i].len != 0);
        fuzz_assert(memchr(p.seg[i].data, '/', p.seg[i].len) == NULL);
        fuzz_assert(i == 0 || p.seg[i].data > p.seg[i - 1].data);
    }
}


/* a path is found with every method or with none */

static void
fuzz_match(const unsigned char *path, size_t len, unsigned method)
{
    size_t                      i;
    ngx_iothub_http_path_t      p;
    ngx_iothub_http_match_t     m;
    ngx_iothub_http_route_rc_e  rc, other;

    if (ngx_iothub_http_path_split(&p, path, len)
        != NGX_IOTHUB_HTTP_ROUTE_OK)
    {
        return;
    }

    rc = ngx_iothub_http_route_match(&p, method, &m);

    for (i = 0; i < sizeof(fuzz_methods) / sizeof(fuzz_methods[0]); i++) {
        other = ngx_iothub_http_route_match(&p, fuzz_methods[i], &m);
        fuzz_assert((other == NGX_IOTHUB_HTTP_ROUTE_NOT_FOUND)
                    == (rc == NGX_IOTHUB_HTTP_ROUTE_NOT_FOUND));
    }

    if (ngx_iothub_http_route_match(&p, method, &m)
        != NGX_IOTHUB_HTTP_ROUTE_OK)
    {
        return;
    }

    fuzz_assert(m.route < NGX_IOTHUB_HTTP_ROUTE_COUNT);
    fuzz_assert(m.rights == NGX_IOTHUB_HTTP_REGISTRY_READ
                || m.rights == NGX_IOTHUB_HTTP_REGISTRY_WRITE
                || m.rights == NGX_IOTHUB_HTTP_SERVICE_CONNECT
                || m.rights == NGX_IOTHUB_HTTP_DEVICE);
    fuzz_assert(method != NGX_IOTHUB_HTTP_OTHER);

    fuzz_assert(m.device_id.len == 0
                || (p.nseg >= 2 && m.device_id.data == p.seg[1].data
                    && m.device_id.len == p.seg[1].len));
    fuzz_assert(m.module_id.len == 0
                || (p.nseg >= 4 && m.device_id.len != 0
                    && m.module_id.data == p.seg[3].data
                    && m.module_id.len == p.seg[3].len));
}


static void
fuzz_authorize(const unsigned char *path, size_t len,
    const unsigned char *auth, size_t auth_len, unsigned rights)
{
    size_t                           pi;
    ngx_iothub_sas_token_t           t;
    ngx_iothub_http_access_t         a;
    ngx_iothub_http_auth_rc_e        rc;
    const ngx_iothub_http_policy_t  *pl;

    if (ngx_iothub_sas_parse(&t, auth, auth_len) != NGX_IOTHUB_SAS_OK) {
        return;
    }

    fuzz_access(&a, path, len, rights);

    pi = 99;
    rc = ngx_iothub_http_authorize(&t, fuzz_policies, 2, &a, &pi);

    fuzz_assert(rc <= NGX_IOTHUB_HTTP_AUTH_NO_RIGHT);
    fuzz_assert(ngx_iothub_http_auth_reason(rc) != NULL);
    fuzz_assert(ngx_iothub_http_auth_answer(rc) != NULL);

    if (rc != NGX_IOTHUB_HTTP_AUTH_OK) {
        fuzz_assert(pi == 99);
        fuzz_assert(rc != NGX_IOTHUB_HTTP_AUTH_DEVICE_TOKEN
                    || t.policy[0] == '\0');
        return;
    }

    /* what was let in holds every part of the decision */

    fuzz_assert(pi < 2);
    pl = &fuzz_policies[pi];

    fuzz_assert(strlen(t.policy) == pl->name.len
                && memcmp(t.policy, pl->name.data, pl->name.len) == 0);
    fuzz_assert(ngx_iothub_sas_verify(&t, (const char *) pl->primary_key.data,
                                      pl->primary_key.len)
                == NGX_IOTHUB_SAS_OK
                || ngx_iothub_sas_verify(&t,
                       (const char *) pl->secondary_key.data,
                       pl->secondary_key.len)
                   == NGX_IOTHUB_SAS_OK);
    fuzz_assert(t.expiry > FUZZ_NOW);
    fuzz_assert((pl->rights & rights) != 0);
}


/*
 * A token of the owner policy for the hub and the path itself is let in
 * on that path whenever sr takes the path (no empty, "." or ".."
 * segment) and the path is not cut before the check.
 */

static void
fuzz_own_token(const unsigned char *path, size_t len, unsigned rights)
{
    int                        n;
    char                       res[sizeof(FUZZ_HOST) + 512], token[4096];
    ngx_iothub_sas_token_t     t;
    ngx_iothub_http_access_t   a;
    ngx_iothub_http_auth_rc_e  rc;

    if (len == 0 || len > NGX_IOTHUB_HTTP_PATH_MAX || path[0] != '/'
        || memchr(path, '\0', len) != NULL)
    {
        return;
    }

    memcpy(res, FUZZ_HOST, sizeof(FUZZ_HOST) - 1);
    memcpy(res + sizeof(FUZZ_HOST) - 1, path, len);
    res[sizeof(FUZZ_HOST) - 1 + len] = '\0';

    n = ngx_iothub_sas_make(token, sizeof(token), res, FUZZ_OWNER,
                            "iothubowner", FUZZ_LATER);
    fuzz_assert(n > 0);

    if (ngx_iothub_sas_parse(&t, (unsigned char *) token, n)
        != NGX_IOTHUB_SAS_OK)
    {
        return;
    }

    fuzz_access(&a, path, len, rights);

    rc = ngx_iothub_http_authorize(&t, fuzz_policies, 2, &a, NULL);
    fuzz_assert(rc == NGX_IOTHUB_HTTP_AUTH_OK);

    /* the same token for a policy whose secondary key signs it */
    strcpy(t.policy, "registryRead");

    rc = ngx_iothub_http_authorize(&t, fuzz_policies, 2, &a, NULL);
    fuzz_assert(rc == NGX_IOTHUB_HTTP_AUTH_OK
                || rc == NGX_IOTHUB_HTTP_AUTH_NO_RIGHT);
}


static void
fuzz_access(ngx_iothub_http_access_t *a, const unsigned char *path,
    size_t len, unsigned rights)
{
    a->host = FUZZ_HOST;
    a->path = path;
    a->path_len = len;
    a->now = FUZZ_NOW;
    a->rights = rights;
}


/* the non-empty runs between slashes, counted on their own */

static size_t
fuzz_segments(const unsigned char *path, size_t len)
{
    size_t  i, n;

    n = 0;

    for (i = 0; i < len; i++) {
        if (path[i] != '/' && (i == 0 || path[i - 1] == '/')) {
            n++;
        }
    }

    return n;
}


static int
fuzz_in(const ngx_iothub_span_t *s, const unsigned char *p, size_t len)
{
    return s->data >= p && s->data + s->len <= p + len;
}
