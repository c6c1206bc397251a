
/*
 * Unit tests of ngx_iothub_http/ngx_iothub_http_c2d_headers.c: the
 * headers of a cloud-to-device send (docs/rest-extensions.md) and the
 * HTTP dates of iothub-expiry.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unit_table.h"

#include "ngx_iothub_http_c2d_headers.h"


#define HEADERS_MAX  4


typedef struct {
    const char                   *name;
    const char                   *headers[HEADERS_MAX][2];
    size_t                        body_len;
    ngx_iothub_c2d_headers_rc_e   rc;
    const char                   *ack;
    uint64_t                      expiry;
    const char                   *props;     /* "field+name=value;..." */
} headers_case_t;


typedef struct {
    const char                   *name;
    const char                   *text;
    int                           rc;
    int64_t                       t;
} date_case_t;


static void test_headers(void **state);
static void test_too_many(void **state);
static void test_date(void **state);
static void props_str(char *out, size_t size,
    const ngx_iothub_c2d_headers_t *h);


static const headers_case_t  headers_cases[] = {
    { "no headers: ack none, the hub's ttl", { { NULL } }, 0,
      NGX_IOTHUB_C2D_HEADERS_OK, "none", 0, "" },
    { "system properties in the order sent",
      { { "iothub-messageid", "m-1" }, { "IoTHub-CorrelationId", "c-1" },
        { "iothub-userid", "u" }, { "iothub-contenttype", "text/plain" } },
      10, NGX_IOTHUB_C2D_HEADERS_OK, "none", 0,
      "p:message-id=m-1;p:correlation-id=c-1;p:user-id=u;"
      "p:content-type=text/plain;" },
    { "content encoding",
      { { "iothub-contentencoding", "utf-8" } }, 0,
      NGX_IOTHUB_C2D_HEADERS_OK, "none", 0, "p:content-encoding=utf-8;" },
    { "application properties keep the name as sent",
      { { "iothub-app-Alert", "high" }, { "IOTHUB-APP-x", "" },
        { "iothub-app-", "bare prefix ignored" } }, 0,
      NGX_IOTHUB_C2D_HEADERS_OK, "none", 0, "u:Alert=high;u:x=;" },
    { "other headers are not ours",
      { { "Content-Type", "application/json" }, { "iothub-to", "/x" },
        { "iothub-messageidx", "y" }, { "iothub-ap", "z" } }, 0,
      NGX_IOTHUB_C2D_HEADERS_OK, "none", 0, "" },
    { "ack full", { { "iothub-ack", "full" } }, 0,
      NGX_IOTHUB_C2D_HEADERS_OK, "full", 0, "" },
    { "ack positive, header name in any case",
      { { "IotHub-Ack", "positive" } }, 0,
      NGX_IOTHUB_C2D_HEADERS_OK, "positive", 0, "" },
    { "ack negative", { { "iothub-ack", "negative" } }, 0,
      NGX_IOTHUB_C2D_HEADERS_OK, "negative", 0, "" },
    { "an empty ack is none", { { "iothub-ack", "" } }, 0,
      NGX_IOTHUB_C2D_HEADERS_OK, "none", 0, "" },
    { "the last ack wins",
      { { "iothub-ack", "bogus" }, { "iothub-ack", "full" } }, 0,
      NGX_IOTHUB_C2D_HEADERS_OK, "full", 0, "" },
    { "ack values are lower case", { { "iothub-ack", "Full" } }, 0,
      NGX_IOTHUB_C2D_HEADERS_BAD_ACK, NULL, 0, NULL },
    { "an unknown ack", { { "iothub-ack", "all" } }, 0,
      NGX_IOTHUB_C2D_HEADERS_BAD_ACK, NULL, 0, NULL },
    { "expiry in ms",
      { { "iothub-expiry", "Thu, 01 Jan 2015 00:00:00 GMT" } }, 0,
      NGX_IOTHUB_C2D_HEADERS_OK, "none", 1420070400000ULL, "" },
    { "an empty expiry is the hub's ttl", { { "iothub-expiry", "" } }, 0,
      NGX_IOTHUB_C2D_HEADERS_OK, "none", 0, "" },
    { "ISO 8601 is not an HTTP date",
      { { "iothub-expiry", "2030-01-01T00:00:00Z" } }, 0,
      NGX_IOTHUB_C2D_HEADERS_BAD_EXPIRY, NULL, 0, NULL },
    { "a bad ack is told before a bad expiry",
      { { "iothub-expiry", "soon" }, { "iothub-ack", "x" } }, 0,
      NGX_IOTHUB_C2D_HEADERS_BAD_ACK, NULL, 0, NULL },
    { "64 KB body", { { NULL } }, 65536, NGX_IOTHUB_C2D_HEADERS_OK, "none",
      0, "" },
    { "a byte over 64 KB", { { NULL } }, 65537,
      NGX_IOTHUB_C2D_HEADERS_TOO_LARGE, NULL, 0, NULL },
    { "a bad expiry is told before the size",
      { { "iothub-expiry", "never" } }, 65537,
      NGX_IOTHUB_C2D_HEADERS_BAD_EXPIRY, NULL, 0, NULL },
};


static const date_case_t  date_cases[] = {
    { "IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", 0, 784111777 },
    { "RFC 850", "Sunday, 06-Nov-94 08:49:37 GMT", 0, 784111777 },
    { "asctime", "Sun Nov  6 08:49:37 1994", 0, 784111777 },
    { "asctime, two-digit day", "Tue Jan 02 10:11:12 2024", 0, 1704190272 },
    { "the epoch", "Thu, 01 Jan 1970 00:00:00 GMT", 0, 0 },
    { "leap day", "Thu, 29 Feb 2024 00:00:00 GMT", 0, 1709164800 },
    { "leap day of a 400th year", "Tue, 29 Feb 2000 00:00:00 GMT", 0,
      951782400 },
    { "the last second of 9999", "Fri, 31 Dec 9999 23:59:59 GMT", 0,
      253402300799LL },
    { "RFC 850: 69 is 2069", "Tuesday, 01-Jan-69 00:00:00 GMT", 0,
      3124224000LL },
    { "RFC 850: 70 is 1970", "Thursday, 01-Jan-70 00:00:00 GMT", 0, 0 },
    { "the weekday is not checked", "Mon, 01 Jan 2015 00:00:00 GMT", 0,
      1420070400 },
    { "no leap day in 2023", "Wed, 29 Feb 2023 00:00:00 GMT", -1, 0 },
    { "no leap day in 2100", "Mon, 29 Feb 2100 00:00:00 GMT", -1, 0 },
    { "April has 30 days", "Mon, 31 Apr 2024 00:00:00 GMT", -1, 0 },
    { "day zero", "Mon, 00 Jan 2024 00:00:00 GMT", -1, 0 },
    { "hour 24", "Mon, 01 Jan 2024 24:00:00 GMT", -1, 0 },
    { "minute 60", "Mon, 01 Jan 2024 00:60:00 GMT", -1, 0 },
    { "second 60", "Mon, 01 Jan 2024 00:00:60 GMT", -1, 0 },
    { "before the epoch", "Wed, 31 Dec 1969 23:59:59 GMT", -1, 0 },
    { "month names are case-sensitive", "Mon, 01 jan 2024 00:00:00 GMT",
      -1, 0 },
    { "weekday names are case-sensitive", "mon, 01 Jan 2024 00:00:00 GMT",
      -1, 0 },
    { "not a month", "Mon, 01 Jax 2024 00:00:00 GMT", -1, 0 },
    { "a long weekday in IMF-fixdate", "Monday, 01 Jan 2024 00:00:00 GMT",
      -1, 0 },
    { "a one-digit day in IMF-fixdate", "Mon, 1 Jan 2024 00:00:00 GMT", -1,
      0 },
    { "no GMT", "Mon, 01 Jan 2024 00:00:00", -1, 0 },
    { "another zone", "Mon, 01 Jan 2024 00:00:00 UTC", -1, 0 },
    { "trailing text", "Mon, 01 Jan 2024 00:00:00 GMT ", -1, 0 },
    { "leading space", " Mon, 01 Jan 2024 00:00:00 GMT", -1, 0 },
    { "asctime with a zero-padded space", "Sun Nov 6 08:49:37 1994", -1,
      0 },
    { "ISO 8601", "2024-01-01T00:00:00Z", -1, 0 },
    { "empty", "", -1, 0 },
    { "cut short", "Mon, 01 Jan 2024 00:0", -1, 0 },
};


static void
test_headers(void **state)
{
    const headers_case_t *c = *state;

    char                         props[512];
    size_t                       i;
    ngx_iothub_c2d_headers_t     h;
    ngx_iothub_c2d_headers_rc_e  rc;

    ngx_iothub_c2d_headers_init(&h);

    for (i = 0; i < HEADERS_MAX && c->headers[i][0] != NULL; i++) {
        rc = ngx_iothub_c2d_headers_add(&h,
                 (const unsigned char *) c->headers[i][0],
                 strlen(c->headers[i][0]),
                 (const unsigned char *) c->headers[i][1],
                 strlen(c->headers[i][1]));
        assert_int_equal(rc, NGX_IOTHUB_C2D_HEADERS_OK);
    }

    rc = ngx_iothub_c2d_headers_check(&h, c->body_len);
    assert_int_equal(rc, c->rc);

    if (rc != NGX_IOTHUB_C2D_HEADERS_OK) {
        return;
    }

    assert_string_equal(h.ack, c->ack);
    assert_int_equal(h.expiry, c->expiry);

    props_str(props, sizeof(props), &h);
    assert_string_equal(props, c->props);
}


/* 64 properties fit a message; the 65th is refused, the 64 kept */

static void
test_too_many(void **state)
{
    char                      name[32];
    size_t                    i, n;
    ngx_iothub_c2d_headers_t  h;

    (void) state;

    ngx_iothub_c2d_headers_init(&h);

    for (i = 0; i < NGX_IOTHUB_C2D_HEADERS_MAX; i++) {
        n = snprintf(name, sizeof(name), "iothub-app-p%zu", i);
        assert_int_equal(ngx_iothub_c2d_headers_add(&h,
                             (unsigned char *) name, n,
                             (unsigned char *) "v", 1),
                         NGX_IOTHUB_C2D_HEADERS_OK);
    }

    /* ack and expiry are not properties and still fit */
    assert_int_equal(ngx_iothub_c2d_headers_add(&h,
                         (unsigned char *) "iothub-ack", 10,
                         (unsigned char *) "full", 4),
                     NGX_IOTHUB_C2D_HEADERS_OK);

    assert_int_equal(ngx_iothub_c2d_headers_add(&h,
                         (unsigned char *) "iothub-messageid", 16,
                         (unsigned char *) "m", 1),
                     NGX_IOTHUB_C2D_HEADERS_TOO_MANY);

    assert_int_equal(h.n, NGX_IOTHUB_C2D_HEADERS_MAX);
    assert_int_equal(h.prop[63].name_len, 3);
    assert_memory_equal(h.prop[63].name, "p63", 3);
}


static void
test_date(void **state)
{
    const date_case_t *c = *state;

    int      rc;
    int64_t  t;

    t = -12345;

    rc = ngx_iothub_http_date_parse((const unsigned char *) c->text,
                                    strlen(c->text), &t);
    assert_int_equal(rc, c->rc);

    if (rc == 0) {
        assert_int_equal(t, c->t);

    } else {
        assert_int_equal(t, -12345);
    }
}


static void
props_str(char *out, size_t size, const ngx_iothub_c2d_headers_t *h)
{
    size_t                            i;
    const ngx_iothub_c2d_property_t  *pr;

    *out = '\0';

    for (i = 0; i < h->n; i++) {
        pr = &h->prop[i];

        snprintf(out + strlen(out), size - strlen(out), "%s%.*s=%.*s;",
                 pr->field, (int) pr->name_len,
                 pr->name ? (const char *) pr->name : "",
                 (int) pr->value_len, (const char *) pr->value);
    }
}


int
main(void)
{
    int                      failed;
    static const table_t     headers = TABLE("c2d headers", test_headers,
                                             headers_cases);
    static const table_t     dates = TABLE("http dates", test_date,
                                           date_cases);
    const struct CMUnitTest  limits[] = {
        cmocka_unit_test(test_too_many),
    };

    failed = run_table(&headers);
    failed += run_table(&dates);
    failed += cmocka_run_group_tests_name("c2d property limit", limits, NULL,
                                          NULL);

    return failed ? 1 : 0;
}
