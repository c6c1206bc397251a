
/*
 * libFuzzer target for ngx_iothub_http/ngx_iothub_http_c2d_headers.c: the
 * input is read as request headers, a "name:value" a line, and checked as
 * a cloud-to-device send's; it is parsed as an HTTP date, and its first
 * bytes, as a time, are written in the three HTTP date forms and must
 * parse back to that time.  Properties that must hold end the run with a
 * trap.  Every input is copied into a buffer of its exact size so that
 * ASan sees a read past the end.
 */


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngx_iothub_http_c2d_headers.h"
#include "fuzz_header_lines.h"


/* Fri, 31 Dec 9999 23:59:59 GMT */
#define FUZZ_TIME_MAX  253402300799LL

#define fuzz_assert(e)  if (!(e)) __builtin_trap()


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_headers(const unsigned char *p, size_t len);
static void fuzz_check(ngx_iothub_c2d_headers_t *h, const unsigned char *p,
    size_t len);
static void fuzz_date(const unsigned char *p, size_t len);
static void fuzz_date_forms(const unsigned char *p, size_t len);
static void fuzz_date_back(int64_t t, const char *form);
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

    fuzz_headers(copy, size);
    fuzz_date(copy, size);
    fuzz_date_forms(copy, size);

    free(copy);

    return 0;
}


static void
fuzz_headers(const unsigned char *p, size_t len)
{
    fuzz_header_t                 line;
    const unsigned char          *pos, *last;
    ngx_iothub_c2d_headers_t      h;
    ngx_iothub_c2d_headers_rc_e   rc;

    ngx_iothub_c2d_headers_init(&h);

    pos = p;
    last = p + len;
    rc = NGX_IOTHUB_C2D_HEADERS_OK;

    while (rc == NGX_IOTHUB_C2D_HEADERS_OK
           && fuzz_header_line(&pos, last, &line))
    {
        rc = ngx_iothub_c2d_headers_add(&h, line.name, line.name_len,
                                        line.value, line.value_len);

        fuzz_assert(rc == NGX_IOTHUB_C2D_HEADERS_OK
                    || (rc == NGX_IOTHUB_C2D_HEADERS_TOO_MANY
                        && h.n == NGX_IOTHUB_C2D_HEADERS_MAX));
    }

    fuzz_check(&h, p, len);
}


static void
fuzz_check(ngx_iothub_c2d_headers_t *h, const unsigned char *p, size_t len)
{
    size_t                            i;
    int64_t                           t;
    ngx_iothub_c2d_headers_rc_e       rc;
    const ngx_iothub_c2d_property_t  *pr;

    fuzz_assert(h->n <= NGX_IOTHUB_C2D_HEADERS_MAX);

    for (i = 0; i < h->n; i++) {
        pr = &h->prop[i];

        fuzz_assert(fuzz_in(pr->value, pr->value_len, p, len));
        fuzz_assert(strncmp(pr->field, "p:", 2) == 0
                    || strcmp(pr->field, "u:") == 0);
        fuzz_assert((strcmp(pr->field, "u:") == 0) == (pr->name_len != 0));
        fuzz_assert(pr->name_len == 0
                    || fuzz_in(pr->name, pr->name_len, p, len));
    }

    /* the body's size from the input, to cross the 64 KB line */
    rc = ngx_iothub_c2d_headers_check(h, len * 1024);

    if (rc != NGX_IOTHUB_C2D_HEADERS_OK) {
        fuzz_assert(rc == NGX_IOTHUB_C2D_HEADERS_BAD_ACK
                    || rc == NGX_IOTHUB_C2D_HEADERS_BAD_EXPIRY
                    || rc == NGX_IOTHUB_C2D_HEADERS_TOO_LARGE);
        fuzz_assert(rc != NGX_IOTHUB_C2D_HEADERS_TOO_LARGE
                    || len * 1024 > NGX_IOTHUB_C2D_HEADERS_BODY_MAX);
        return;
    }

    fuzz_assert(len * 1024 <= NGX_IOTHUB_C2D_HEADERS_BODY_MAX);
    fuzz_assert(strcmp(h->ack, "none") == 0
                || strcmp(h->ack, "positive") == 0
                || strcmp(h->ack, "negative") == 0
                || strcmp(h->ack, "full") == 0);
    fuzz_assert(h->ack_len == 0
                || (h->ack_len == strlen(h->ack)
                    && memcmp(h->ack_text, h->ack, h->ack_len) == 0));

    if (h->expiry_len == 0) {
        fuzz_assert(h->expiry == 0);
        return;
    }

    fuzz_assert(ngx_iothub_http_date_parse(h->expiry_text, h->expiry_len,
                                           &t) == 0);
    fuzz_assert(h->expiry == (uint64_t) t * 1000);
}


/* a date that parses is in range and reads the same once written again */

static void
fuzz_date(const unsigned char *p, size_t len)
{
    int64_t  t;

    if (ngx_iothub_http_date_parse(p, len, &t) != 0) {
        return;
    }

    fuzz_assert(t >= 0 && t <= FUZZ_TIME_MAX);
    fuzz_assert(len == 24 || len == 29 || (len >= 30 && len <= 33));

    fuzz_date_back(t, "%a, %d %b %Y %H:%M:%S GMT");
}


static void
fuzz_date_forms(const unsigned char *p, size_t len)
{
    int64_t  t;

    if (len < 8) {
        return;
    }

    memcpy(&t, p, sizeof(t));
    t = (int64_t) ((uint64_t) t % (uint64_t) (FUZZ_TIME_MAX + 1));

    fuzz_date_back(t, "%a, %d %b %Y %H:%M:%S GMT");
    fuzz_date_back(t, "%a %b %e %H:%M:%S %Y");

    /* two-digit years: 1970 to 2069 only */
    if (t < 3124224000LL) {
        fuzz_date_back(t, "%A, %d-%b-%y %H:%M:%S GMT");
    }
}


static void
fuzz_date_back(int64_t t, const char *form)
{
    char       text[64];
    size_t     n;
    time_t     tt;
    int64_t    back;
    struct tm  tm;

    tt = (time_t) t;

    fuzz_assert(gmtime_r(&tt, &tm) != NULL);

    /* the C locale's names are HTTP's */
    n = strftime(text, sizeof(text), form, &tm);
    fuzz_assert(n != 0);

    fuzz_assert(ngx_iothub_http_date_parse((unsigned char *) text, n, &back)
                == 0);
    fuzz_assert(back == t);
}


static int
fuzz_in(const unsigned char *s, size_t n, const unsigned char *p, size_t len)
{
    return s >= p && s + n <= p + len;
}
