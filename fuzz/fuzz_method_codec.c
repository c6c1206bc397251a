
/*
 * libFuzzer target for shared/ngx_iothub_method_codec.c: the input is
 * parsed as a request id, a "method" request, a "methodres" and a
 * "methodmiss" payload (what another node, or a device through its rid,
 * controls); what parses is written again and must parse back the same.
 * Every input is copied into a buffer of its exact size so that ASan sees a
 * read past the end.  It is also the JSON body of a service's call
 * (POST .../methods, rest.md 8): an accepted body has a valid name and
 * timeouts in range, and its payload, written out as the call forwards it,
 * parses back and writes out the same.
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "ngx_iothub_json.h"
#include "ngx_iothub_method_codec.h"


#define fuzz_assert(e)  if (!(e)) __builtin_trap()


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_rid(const unsigned char *p, size_t len);
static void fuzz_call(const unsigned char *p, size_t len);
static void fuzz_res(const unsigned char *p, size_t len);
static void fuzz_miss(const unsigned char *p, size_t len);
static void fuzz_body(const uint8_t *data, size_t size);
static char *fuzz_gen(yajl_val v, size_t *len);
static int fuzz_in(const unsigned char *s, size_t n, const unsigned char *p,
    size_t len);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char  *copy;

    copy = malloc(size != 0 ? size : 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, data, size);

    fuzz_rid(copy, size);
    fuzz_call(copy, size);
    fuzz_res(copy, size);
    fuzz_miss(copy, size);

    free(copy);

    fuzz_body(data, size);

    return 0;
}


static void
fuzz_rid(const unsigned char *p, size_t len)
{
    size_t                   n;
    unsigned char            buf[NGX_IOTHUB_METHOD_RID_MAX];
    ngx_iothub_method_rid_t  rid, back;

    if (ngx_iothub_method_rid_parse(p, len, &rid) != 0) {
        return;
    }

    fuzz_assert(len <= NGX_IOTHUB_METHOD_RID_MAX);
    fuzz_assert(fuzz_in(rid.inbox, NGX_IOTHUB_METHOD_INBOX_HEX, p, len));
    fuzz_assert(fuzz_in(rid.nonce, NGX_IOTHUB_METHOD_NONCE_HEX, p, len));

    n = ngx_iothub_method_rid_write(buf, sizeof(buf), rid.inbox, rid.n,
                                    rid.nonce);
    fuzz_assert(n != 0);
    fuzz_assert(ngx_iothub_method_rid_parse(buf, n, &back) == 0);
    fuzz_assert(back.n == rid.n);
    fuzz_assert(memcmp(back.inbox, rid.inbox, NGX_IOTHUB_METHOD_INBOX_HEX)
                == 0);
    fuzz_assert(ngx_iothub_method_nonce_equal(back.nonce, rid.nonce));
}


static void
fuzz_call(const unsigned char *p, size_t len)
{
    ngx_iothub_method_rid_t   rid;
    ngx_iothub_method_call_t  call;

    if (ngx_iothub_method_call_parse(p, len, &call) != 0) {
        return;
    }

    fuzz_assert(fuzz_in(call.rid, call.rid_len, p, len));
    fuzz_assert(fuzz_in(call.name, call.name_len, p, len));
    fuzz_assert(fuzz_in(call.payload, call.payload_len, p, len));
    fuzz_assert(call.name_len != 0 && memchr(call.name, ' ', call.name_len)
                                      == NULL);
    fuzz_assert(ngx_iothub_method_rid_parse(call.rid, call.rid_len, &rid)
                == 0);
}


static void
fuzz_res(const unsigned char *p, size_t len)
{
    size_t                   n;
    unsigned char           *buf;
    ngx_iothub_method_res_t  res, back;

    if (ngx_iothub_method_res_parse(p, len, &res) != 0) {
        return;
    }

    fuzz_assert(fuzz_in(res.identity, res.identity_len, p, len));
    fuzz_assert(fuzz_in(res.payload, res.payload_len, p, len));
    fuzz_assert(res.identity_len != 0);

    buf = malloc(len + NGX_IOTHUB_METHOD_RES_OVERHEAD);
    if (buf == NULL) {
        return;
    }

    n = ngx_iothub_method_res_write(buf, len + NGX_IOTHUB_METHOD_RES_OVERHEAD,
                                    &res);
    fuzz_assert(n != 0 && n <= len);
    fuzz_assert(ngx_iothub_method_res_parse(buf, n, &back) == 0);
    fuzz_assert(back.n == res.n && back.status == res.status);
    fuzz_assert(back.identity_len == res.identity_len
                && memcmp(back.identity, res.identity, res.identity_len)
                   == 0);
    fuzz_assert(back.payload_len == res.payload_len
                && memcmp(back.payload, res.payload, res.payload_len) == 0);
    fuzz_assert(ngx_iothub_method_nonce_equal(back.nonce, res.nonce));

    fuzz_assert(ngx_iothub_method_identity_is(res.identity, res.identity_len,
                                              res.identity, res.identity_len,
                                              NULL, 0));

    free(buf);
}


static void
fuzz_miss(const unsigned char *p, size_t len)
{
    size_t                n;
    uint64_t              num, back;
    unsigned char         buf[NGX_IOTHUB_METHOD_N_MAX + 1
                              + NGX_IOTHUB_METHOD_NONCE_HEX];
    const unsigned char  *nonce, *back_nonce;

    if (ngx_iothub_method_miss_parse(p, len, &num, &nonce) != 0) {
        return;
    }

    fuzz_assert(fuzz_in(nonce, NGX_IOTHUB_METHOD_NONCE_HEX, p, len));

    n = ngx_iothub_method_miss_write(buf, sizeof(buf), num, nonce);
    fuzz_assert(n != 0 && n <= len);
    fuzz_assert(ngx_iothub_method_miss_parse(buf, n, &back, &back_nonce)
                == 0);
    fuzz_assert(back == num);
}


static int
fuzz_in(const unsigned char *s, size_t n, const unsigned char *p, size_t len)
{
    return s >= p && s + n <= p + len;
}


static void
fuzz_body(const uint8_t *data, size_t size)
{
    char                         *json, *out, *again;
    size_t                        out_len, again_len;
    yajl_val                      v;
    ngx_iothub_method_body_t      body;
    ngx_iothub_method_body_rc_e   rc;

    /* a request body is NUL-terminated, as nginx's body buffer is here */
    json = malloc(size + 1);
    if (json == NULL) {
        return;
    }

    memcpy(json, data, size);
    json[size] = '\0';

    rc = ngx_iothub_method_body_parse(json, size, &body);

    if (rc != NGX_IOTHUB_METHOD_BODY_OK) {
        fuzz_assert(body.root == NULL);
        free(json);
        return;
    }

    fuzz_assert(body.root != NULL && body.name != NULL);
    fuzz_assert(ngx_iothub_method_name_valid(body.name));
    fuzz_assert(body.response_timeout >= 5 && body.response_timeout <= 300);
    fuzz_assert(body.connect_timeout >= 0 && body.connect_timeout <= 300);

    out = fuzz_gen(body.payload, &out_len);

    if (out != NULL) {
        v = yajl_tree_parse(out, NULL, 0);

        /* a payload string written alone is no JSON text for yajl 2 */
        if (v != NULL) {
            again = fuzz_gen(v, &again_len);
            fuzz_assert(again != NULL && again_len == out_len
                        && memcmp(again, out, out_len) == 0);
            free(again);
            yajl_tree_free(v);
        }

        free(out);
    }

    ngx_iothub_method_body_free(&body);
    fuzz_assert(body.root == NULL);

    free(json);
}


/* v written as JSON (malloc()ed, NUL-terminated), NULL when it fails */

static char *
fuzz_gen(yajl_val v, size_t *len)
{
    char                 *out;
    yajl_gen              g;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NULL;
    }

    out = NULL;

    if (ngx_iothub_json_gen_value(g, v) == yajl_gen_status_ok
        && yajl_gen_get_buf(g, &buf, len) == yajl_gen_status_ok)
    {
        out = malloc(*len + 1);

        if (out != NULL) {
            memcpy(out, buf, *len);
            out[*len] = '\0';
        }
    }

    yajl_gen_free(g);

    return out;
}
