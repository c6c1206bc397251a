
/*
 * libFuzzer target for the HTTPS device endpoint's parsers of network
 * bytes: the input is parsed as a telemetry batch
 * (ngx_iothub_http/ngx_iothub_http_d2c.c) whose messages are all read
 * back, as telemetry headers ("name:value" a line), as a C2D lock token,
 * as a settlement's query string, and as a C2D property's name and value
 * for a response header (ngx_iothub_http/ngx_iothub_http_c2d_headers.c).
 * Properties that must hold end the run with a trap.  Every input is
 * copied into a buffer of its exact size (plus the NUL a batch needs) so
 * that ASan sees a read past the end.
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_iothub_http_d2c.h"
#include "ngx_iothub_http_c2d_headers.h"
#include "fuzz_header_lines.h"


#define fuzz_assert(e)  if (!(e)) __builtin_trap()


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_batch(const char *json);
static void fuzz_headers(const unsigned char *p, size_t len);
static void fuzz_message(const ngx_iothub_http_d2c_msg_t *m);
static void fuzz_token(const unsigned char *p, size_t len);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char  *copy;

    copy = malloc(size + 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, data, size);
    copy[size] = '\0';

    fuzz_batch((const char *) copy);
    fuzz_headers(copy, size);
    fuzz_token(copy, size);
    (void) ngx_iothub_c2d_query_reject(copy, size);

    /* what passes as a header never holds a line break */
    fuzz_assert(!ngx_iothub_http_header_value_ok(copy, size)
                || (memchr(copy, '\r', size) == NULL
                    && memchr(copy, '\n', size) == NULL));
    fuzz_assert(!ngx_iothub_http_header_name_ok(copy, size)
                || ngx_iothub_http_header_value_ok(copy, size));

    free(copy);

    return 0;
}


static void
fuzz_batch(const char *json)
{
    char                          err[64];
    size_t                        i, n;
    ngx_iothub_http_d2c_rc_e      rc;
    ngx_iothub_http_d2c_msg_t     m;
    ngx_iothub_http_d2c_batch_t  *b;

    rc = ngx_iothub_http_d2c_batch_parse(json, &b, &n, err, sizeof(err));

    fuzz_assert(ngx_iothub_http_d2c_strerror(rc) != NULL);

    if (rc != NGX_IOTHUB_HTTP_D2C_OK) {
        return;
    }

    fuzz_assert(n >= 1 && n <= NGX_IOTHUB_HTTP_D2C_BATCH_MAX);

    /* parsing checked every message: reading them cannot fail */

    for (i = 0; i < n; i++) {
        fuzz_assert(ngx_iothub_http_d2c_batch_message(b, i, &m)
                    == NGX_IOTHUB_HTTP_D2C_OK);
        fuzz_assert(m.body != NULL);
        fuzz_message(&m);
    }

    ngx_iothub_http_d2c_batch_free(b);
}


static void
fuzz_headers(const unsigned char *p, size_t len)
{
    fuzz_header_t               h;
    const unsigned char        *last;
    ngx_iothub_http_d2c_rc_e    rc;
    ngx_iothub_http_d2c_msg_t   m;

    ngx_iothub_http_d2c_init(&m);

    last = p + len;

    while (fuzz_header_line(&p, last, &h)) {
        rc = ngx_iothub_http_d2c_header(&m, h.name, h.name_len, h.value,
                                        h.value_len);

        fuzz_assert(rc == NGX_IOTHUB_HTTP_D2C_OK
                    || (rc == NGX_IOTHUB_HTTP_D2C_TOO_MANY_PROPS
                        && m.n == NGX_IOTHUB_HTTP_D2C_MAX_PROPS));
    }

    fuzz_message(&m);
}


/* fields are ours; only "u:" names an application property after it */

static void
fuzz_message(const ngx_iothub_http_d2c_msg_t *m)
{
    size_t                             i;
    const ngx_iothub_http_d2c_prop_t  *p;

    fuzz_assert(m->n <= NGX_IOTHUB_HTTP_D2C_MAX_PROPS);

    for (i = 0; i < m->n; i++) {
        p = &m->prop[i];

        fuzz_assert(strncmp(p->field, "p:", 2) == 0
                    || strncmp(p->field, "u:", 2) == 0
                    || strncmp(p->field, "a:", 2) == 0);
        fuzz_assert(p->name_len == 0 || strcmp(p->field, "u:") == 0);
        fuzz_assert(strcmp(p->field, "u:") != 0 || p->name_len != 0);
    }
}


/* a token that parses is written back the same, in lower case */

static void
fuzz_token(const unsigned char *p, size_t len)
{
    size_t         i;
    uint64_t       n;
    unsigned char  token[NGX_IOTHUB_C2D_TOKEN_LEN];

    if (ngx_iothub_c2d_token_parse(p, len, &n) != 0) {
        return;
    }

    fuzz_assert(n >= 1 && n <= NGX_IOTHUB_C2D_TOKEN_MAX_N);
    fuzz_assert(ngx_iothub_c2d_token_write(token, p, n) == 0);

    for (i = 0; i < NGX_IOTHUB_C2D_TOKEN_LEN; i++) {
        fuzz_assert(token[i] == p[i]
                    || (i > NGX_IOTHUB_C2D_LOCK_LEN
                        && token[i] == (p[i] | 0x20)));
    }
}
