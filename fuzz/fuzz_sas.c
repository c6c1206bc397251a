
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * libFuzzer target for shared/ngx_iothub_sas.c: the input is fed as a SAS
 * token (as is and after the "SharedAccessSignature " prefix), as a
 * connection string, and to the URL and base64 codecs; properties that
 * must hold end the run with a trap.  Every input is copied into a buffer
 * of its exact size so that ASan sees a read past the end.
 *
 *     clang -g -fsanitize=fuzzer,address -Ishared fuzz/fuzz_sas.c \
 *         shared/ngx_iothub_sas.c -lcrypto -o /tmp/fuzz_sas
 *     /tmp/fuzz_sas -max_total_time=60 corpus/
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_iothub_sas.h"


#define FUZZ_KEY     "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define FUZZ_EXPIRY  1700000000LL

#define fuzz_assert(e)  if (!(e)) __builtin_trap()


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_token(const unsigned char *text, size_t len);
static void fuzz_token_prefixed(const uint8_t *data, size_t size);
static void fuzz_connstr(const uint8_t *data, size_t size);
static void fuzz_url(const uint8_t *data, size_t size);
static void fuzz_base64(const uint8_t *data, size_t size);
static void fuzz_make(const uint8_t *data, size_t size);
static void fuzz_rules(const uint8_t *data, size_t size);
static int fuzz_in(const ngx_iothub_span_t *s, const unsigned char *text,
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

    fuzz_token(copy, size);
    fuzz_token_prefixed(copy, size);
    fuzz_connstr(copy, size);
    fuzz_url(copy, size);
    fuzz_base64(copy, size);
    fuzz_make(copy, size);
    fuzz_rules(copy, size);

    free(copy);

    return 0;
}


static void
fuzz_token(const unsigned char *text, size_t len)
{
    size_t                  n;
    char                    path[600];
    ngx_iothub_sas_rc_e     rc;
    ngx_iothub_sas_token_t  t;

    if (ngx_iothub_sas_parse(&t, text, len) != NGX_IOTHUB_SAS_OK) {
        return;
    }

    fuzz_assert(fuzz_in(&t.sr, text, len) && t.sr.len != 0);
    fuzz_assert(fuzz_in(&t.sig, text, len) && t.sig.len != 0);
    fuzz_assert(fuzz_in(&t.se, text, len) && t.se.len != 0);
    fuzz_assert(t.skn.len == 0 || fuzz_in(&t.skn, text, len));
    fuzz_assert((t.skn.len == 0) == (t.policy[0] == '\0'));

    fuzz_assert(t.expiry >= 0 && t.expiry <= NGX_IOTHUB_SAS_EXPIRY_MAX);
    fuzz_assert(t.host[0] != '\0' && strlen(t.host) < sizeof(t.host));
    fuzz_assert(t.path[0] == '\0' || t.path[0] == '/');

    fuzz_assert(t.device_id[0] == '\0'
                || ngx_iothub_id_valid((unsigned char *) t.device_id,
                                       strlen(t.device_id)));
    fuzz_assert(t.module_id[0] == '\0'
                || ngx_iothub_id_valid((unsigned char *) t.module_id,
                                       strlen(t.module_id)));
    fuzz_assert(t.module_id[0] == '\0' || t.device_id[0] != '\0');

    /* a token covers its own resource and everything below it */
    fuzz_assert(ngx_iothub_sas_covers(&t, t.host, t.path)
                == NGX_IOTHUB_SAS_OK);

    n = strlen(t.path);
    memcpy(path, t.path, n);
    memcpy(path + n, "/x", sizeof("/x"));

    fuzz_assert(ngx_iothub_sas_covers(&t, t.host, path) == NGX_IOTHUB_SAS_OK);
    fuzz_assert(t.path[0] == '\0'
                || ngx_iothub_sas_covers(&t, t.host, "")
                   == NGX_IOTHUB_SAS_NOT_COVERED);

    rc = ngx_iothub_sas_check_expiry(&t, FUZZ_EXPIRY);
    fuzz_assert(rc == NGX_IOTHUB_SAS_OK || rc == NGX_IOTHUB_SAS_EXPIRED);

    rc = ngx_iothub_sas_verify(&t, FUZZ_KEY, sizeof(FUZZ_KEY) - 1);
    fuzz_assert(rc == NGX_IOTHUB_SAS_OK || rc == NGX_IOTHUB_SAS_BAD_SIGNATURE);

    rc = ngx_iothub_sas_verify_raw(&t, (const unsigned char *) FUZZ_KEY,
                                   sizeof(FUZZ_KEY) - 1);
    fuzz_assert(rc == NGX_IOTHUB_SAS_OK || rc == NGX_IOTHUB_SAS_BAD_SIGNATURE);

    (void) ngx_iothub_sas_strerror(rc);
}


static void
fuzz_token_prefixed(const uint8_t *data, size_t size)
{
    size_t          n;
    unsigned char  *text;

    n = sizeof(NGX_IOTHUB_SAS_PREFIX) - 1;

    text = malloc(n + size);
    if (text == NULL) {
        return;
    }

    memcpy(text, NGX_IOTHUB_SAS_PREFIX, n);
    memcpy(text + n, data, size);

    fuzz_token(text, n + size);

    free(text);
}


static void
fuzz_connstr(const uint8_t *data, size_t size)
{
    int                      creds;
    ngx_iothub_connstr_t     cs;
    ngx_iothub_connstr_rc_e  rc;

    rc = ngx_iothub_connstr_parse(&cs, (const char *) data, size);

    if (rc != NGX_IOTHUB_CONNSTR_OK) {
        fuzz_assert(rc <= NGX_IOTHUB_CONNSTR_TOO_LONG);
        return;
    }

    creds = (cs.key[0] != '\0') + (cs.signature[0] != '\0') + cs.x509;

    fuzz_assert(cs.host_name[0] != '\0' && creds == 1);
    fuzz_assert(strlen(cs.signature) < sizeof(cs.signature));
}


/* encode then decode is the identity; decode never overruns */

static void
fuzz_url(const uint8_t *data, size_t size)
{
    int    n, m;
    char  *enc, *dec;

    dec = malloc(size + 1);
    enc = malloc(3 * size + 1);

    if (dec == NULL || enc == NULL) {
        goto done;
    }

    n = ngx_iothub_url_decode(dec, size + 1, data, size);
    fuzz_assert(n <= (int) size);

    /* one byte short of the decoded length must fail */
    if (n > 0) {
        fuzz_assert(ngx_iothub_url_decode(dec, n, data, size) == -1);
    }

    n = ngx_iothub_url_encode(enc, 3 * size + 1, data, size);
    fuzz_assert(n >= (int) size);

    m = ngx_iothub_url_decode(dec, size + 1, (unsigned char *) enc, n);
    fuzz_assert(m == (int) size && memcmp(dec, data, size) == 0);

done:

    free(enc);
    free(dec);
}


/* canonical base64: decode then encode gives back the input, and back */

static void
fuzz_base64(const uint8_t *data, size_t size)
{
    int             n, m;
    char           *enc;
    unsigned char  *dec;

    dec = malloc(size + 1);
    enc = malloc(4 * (size / 3 + 1) + 1);

    if (dec == NULL || enc == NULL) {
        goto done;
    }

    n = ngx_iothub_base64_decode(dec, size + 1, (const char *) data, size);

    if (n >= 0) {
        m = ngx_iothub_base64_encode(enc, 4 * (size / 3 + 1) + 1, dec, n);
        fuzz_assert(m == (int) size && memcmp(enc, data, size) == 0);
        fuzz_assert(ngx_iothub_key_valid((const char *) data, size)
                    == (n >= NGX_IOTHUB_KEY_MIN && n <= NGX_IOTHUB_KEY_MAX));
    }

    n = ngx_iothub_base64_encode(enc, 4 * (size / 3 + 1) + 1, data, size);
    fuzz_assert(n >= 0);

    m = ngx_iothub_base64_decode(dec, size + 1, enc, n);
    fuzz_assert(m == (int) size && memcmp(dec, data, size) == 0);

done:

    free(enc);
    free(dec);
}


/* a made token parses (unless its resource is not a valid sr) and verifies */

static void
fuzz_make(const uint8_t *data, size_t size)
{
    int                     n;
    char                    out[4096], *res;
    ngx_iothub_sas_token_t  t;

    if (size > 1024 || memchr(data, '\0', size) != NULL) {
        return;
    }

    res = malloc(size + 1);
    if (res == NULL) {
        return;
    }

    memcpy(res, data, size);
    res[size] = '\0';

    n = ngx_iothub_sas_make(out, sizeof(out), res, FUZZ_KEY,
                            (size & 1) ? "iothubowner" : NULL, FUZZ_EXPIRY);

    free(res);

    if (n < 0) {
        fuzz_assert(size == 0);
        return;
    }

    if (ngx_iothub_sas_parse(&t, (unsigned char *) out, n)
        != NGX_IOTHUB_SAS_OK)
    {
        return;
    }

    fuzz_assert(t.expiry == FUZZ_EXPIRY);
    fuzz_assert(ngx_iothub_sas_verify(&t, FUZZ_KEY, sizeof(FUZZ_KEY) - 1)
                == NGX_IOTHUB_SAS_OK);
}


static void
fuzz_rules(const uint8_t *data, size_t size)
{
    int  ok;

    ok = ngx_iothub_id_valid(data, size);
    fuzz_assert(!ok || (size >= 1 && size <= NGX_IOTHUB_ID_MAX));

    ok = ngx_iothub_thumbprint_valid((const char *) data, size);
    fuzz_assert(!ok || size == 40 || size == 64);
}


static int
fuzz_in(const ngx_iothub_span_t *s, const unsigned char *text, size_t len)
{
    return s->data >= text && s->data + s->len <= text + len;
}
