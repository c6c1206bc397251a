
/*
 * Unit tests of the pure parts of the HTTPS device endpoint:
 * ngx_iothub_http/ngx_iothub_http_d2c.c (telemetry headers and batches,
 * rest.md 14.1, 14.2) and the C2D lock tokens and reject flag of
 * ngx_iothub_http/ngx_iothub_http_c2d_headers.c (rest.md 14.3).
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unit_table.h"

#include "ngx_iothub_http_d2c.h"
#include "ngx_iothub_http_c2d_headers.h"


typedef struct {
    const char                   *name;
    const char                   *header;
    const char                   *value;
    const char                   *props;     /* "field+name=value;" */
} header_case_t;


typedef struct {
    const char                   *name;
    const char                   *json;
    ngx_iothub_http_d2c_rc_e      rc;
    size_t                        n;
    const char                   *first;     /* "body|b64|props" */
} batch_case_t;


typedef struct {
    const char                   *name;
    const char                   *token;
    int                           rc;
    uint64_t                      n;
} token_case_t;


typedef struct {
    const char                   *name;
    const char                   *args;
    int                           reject;
} reject_case_t;


typedef struct {
    const char                   *name;
    const char                   *text;
    size_t                        len;       /* 0: strlen(text) */
    int                           name_ok;
    int                           value_ok;
} header_text_case_t;


static void test_header(void **state);
static void test_batch(void **state);
static void test_token_parse(void **state);
static void test_reject(void **state);
static void test_header_text(void **state);
static void test_token_round_trip(void **state);
static void test_too_many_props(void **state);
static void msg_str(char *out, size_t size,
    const ngx_iothub_http_d2c_msg_t *m, int with_body);


static const header_case_t  header_cases[] = {
    { "message id, any case", "IoTHub-MessageId", "m-1", "p:message-id=m-1;" },
    { "correlation id", "iothub-correlationid", "c", "p:correlation-id=c;" },
    { "user id", "iothub-userid", "u", "p:user-id=u;" },
    { "content type", "iothub-contenttype", "application/json",
      "p:content-type=application/json;" },
    { "content encoding", "iothub-contentencoding", "utf-8",
      "p:content-encoding=utf-8;" },
    { "expiry", "IoTHub-Expiry", "2030-01-01T00:00:00Z",
      "p:absolute-expiry-time=2030-01-01T00:00:00Z;" },
    { "creation time", "iothub-creation-time-utc", "t",
      "u:iothub-creation-time-utc=t;" },
    { "interface id", "iothub-interface-id", "dtmi:x;1",
      "u:iothub-interface-id=dtmi:x;1;" },
    { "component, without prefix", "dt-subject", "c1", "a:dt-subject=c1;" },
    { "an application property", "iothub-app-alert", "high",
      "u:alert=high;" },
    { "the prefix in any case, the name as sent", "IOTHUB-APP-Mixed", "v",
      "u:Mixed=v;" },
    { "an empty value", "iothub-app-e", "", "u:e=;" },
    { "a bare prefix is no property", "iothub-app-", "v", "" },
    { "a reserved name is dropped", "iothub-app-iothub-connection-device-id",
      "spoof", "" },
    { "mqtt-retain is the hub's", "iothub-app-mqtt-retain", "true", "" },
    { "iothub-to is informational", "iothub-to", "/devices/d", "" },
    { "iothub-ack is ignored for D2C", "IoTHub-Ack", "full", "" },
    { "other headers are not properties", "Content-Type", "text/plain", "" },
    { "Authorization is not a property", "Authorization", "SAS", "" },
    { "a longer name is not a system property", "iothub-messageidx", "m",
      "" },
};


static const batch_case_t  batch_cases[] = {
    { "two messages", "[{\"body\":\"YQ==\",\"properties\":"
      "{\"iothub-app-k\":\"v\",\"iothub-messageid\":\"m\"}},{\"body\":\"b\","
      "\"base64Encoded\":false}]",
      NGX_IOTHUB_HTTP_D2C_OK, 2, "YQ==|1|u:k=v;p:message-id=m;" },
    { "no properties, base64 true", "[{\"body\":\"\",\"base64Encoded\":true}]",
      NGX_IOTHUB_HTTP_D2C_OK, 1, "|1|" },
    { "null properties", "[{\"body\":\"x\",\"properties\":null}]",
      NGX_IOTHUB_HTTP_D2C_OK, 1, "x|1|" },
    { "other members are ignored", "[{\"x\":[1],\"body\":\"x\"}]",
      NGX_IOTHUB_HTTP_D2C_OK, 1, "x|1|" },
    { "the first of repeated members", "[{\"body\":\"a\",\"body\":\"b\"}]",
      NGX_IOTHUB_HTTP_D2C_OK, 1, "a|1|" },
    { "not JSON", "[{", NGX_IOTHUB_HTTP_D2C_BAD_JSON, 0, NULL },
    { "trailing garbage", "[] x", NGX_IOTHUB_HTTP_D2C_BAD_JSON, 0, NULL },
    { "an object", "{\"body\":\"x\"}", NGX_IOTHUB_HTTP_D2C_NOT_ARRAY, 0,
      NULL },
    { "a string", "\"x\"", NGX_IOTHUB_HTTP_D2C_NOT_ARRAY, 0, NULL },
    { "empty", "[]", NGX_IOTHUB_HTTP_D2C_EMPTY, 0, NULL },
    { "an element not an object", "[{\"body\":\"x\"},2]",
      NGX_IOTHUB_HTTP_D2C_NOT_ARRAY, 0, NULL },
    { "no body", "[{\"properties\":{}}]", NGX_IOTHUB_HTTP_D2C_BAD_BODY, 0,
      NULL },
    { "a number body", "[{\"body\":1}]", NGX_IOTHUB_HTTP_D2C_BAD_BODY, 0,
      NULL },
    { "properties an array", "[{\"body\":\"x\",\"properties\":[]}]",
      NGX_IOTHUB_HTTP_D2C_BAD_PROPERTIES, 0, NULL },
    { "a number property", "[{\"body\":\"x\",\"properties\":{\"a\":1}}]",
      NGX_IOTHUB_HTTP_D2C_BAD_PROPERTIES, 0, NULL },
    { "a string flag", "[{\"body\":\"x\",\"base64Encoded\":\"false\"}]",
      NGX_IOTHUB_HTTP_D2C_BAD_FLAG, 0, NULL },
};


static const token_case_t  token_cases[] = {
    { "number 1", "0123abcd-ef01-4234-8567-000000000001", 0, 1 },
    { "the largest", "0123abcd-ef01-4234-8567-ffffffffffff", 0,
      0xffffffffffffULL },
    { "upper-case hex", "0123ABCD-EF01-4234-8567-00000000002A", 0, 42 },
    { "number 0", "0123abcd-ef01-4234-8567-000000000000", -1, 0 },
    { "one short", "0123abcd-ef01-4234-8567-00000000001", -1, 0 },
    { "one long", "0123abcd-ef01-4234-8567-0000000000001", -1, 0 },
    { "not hex", "0123abcg-ef01-4234-8567-000000000001", -1, 0 },
    { "a hyphen moved", "0123abcd0-ef1-4234-8567-000000000001", -1, 0 },
    { "quoted", "\"123abcd-ef01-4234-8567-0000000001\"", -1, 0 },
    { "empty", "", -1, 0 },
};


static const reject_case_t  reject_cases[] = {
    { "the bare flag after the version", "api-version=2020-09-30&reject", 1 },
    { "the bare flag first", "reject&api-version=x", 1 },
    { "empty value", "reject=", 1 },
    { "true", "reject=true", 1 },
    { "TRUE", "REJECT=TRUE", 1 },
    { "false", "reject=false", 0 },
    { "no args", "", 0 },
    { "only the version", "api-version=2020-09-30", 0 },
    { "a longer name", "rejected", 0 },
    { "as a value", "x=reject", 0 },
};


static const header_text_case_t  header_text_cases[] = {
    { "a plain name", "color", 0, 1, 1 },
    { "every tchar", "a0!#$%&'*+-.^_`|~Z", 0, 1, 1 },
    { "empty", "", 0, 0, 1 },
    { "a space", "na me", 0, 0, 1 },
    { "a colon", "a:b", 0, 0, 1 },
    { "CR LF", "a\r\nSet-Cookie: x", 0, 0, 0 },
    { "a bare LF", "a\nb", 0, 0, 0 },
    { "a NUL", "a\0b", 3, 0, 0 },
    { "a tab", "a\tb", 0, 0, 1 },
    { "DEL", "a\x7f", 0, 0, 0 },
    { "UTF-8", "\xc3\xa9t\xc3\xa9", 0, 0, 1 },
};


static void
test_header_text(void **state)
{
    const header_text_case_t *c = *state;

    size_t  len;

    len = c->len ? c->len : strlen(c->text);

    assert_int_equal(ngx_iothub_http_header_name_ok(
                         (const unsigned char *) c->text, len) != 0,
                     c->name_ok);
    assert_int_equal(ngx_iothub_http_header_value_ok(
                         (const unsigned char *) c->text, len) != 0,
                     c->value_ok);
}


static void
test_header(void **state)
{
    const header_case_t *c = *state;

    char                       props[512];
    ngx_iothub_http_d2c_msg_t  m;

    ngx_iothub_http_d2c_init(&m);

    assert_int_equal(ngx_iothub_http_d2c_header(&m,
                         (const unsigned char *) c->header,
                         strlen(c->header),
                         (const unsigned char *) c->value, strlen(c->value)),
                     NGX_IOTHUB_HTTP_D2C_OK);

    msg_str(props, sizeof(props), &m, 0);
    assert_string_equal(props, c->props);
}


static void
test_batch(void **state)
{
    const batch_case_t *c = *state;

    char                          text[512];
    size_t                        n;
    ngx_iothub_http_d2c_rc_e      rc;
    ngx_iothub_http_d2c_msg_t     m;
    ngx_iothub_http_d2c_batch_t  *b;

    n = 12345;
    b = NULL;

    rc = ngx_iothub_http_d2c_batch_parse(c->json, &b, &n, NULL, 0);
    assert_int_equal(rc, c->rc);

    if (rc != NGX_IOTHUB_HTTP_D2C_OK) {
        assert_null(b);
        assert_int_equal(n, 12345);
        assert_non_null(ngx_iothub_http_d2c_strerror(rc));
        return;
    }

    assert_int_equal(n, c->n);
    assert_int_equal(ngx_iothub_http_d2c_batch_message(b, 0, &m),
                     NGX_IOTHUB_HTTP_D2C_OK);

    msg_str(text, sizeof(text), &m, 1);
    assert_string_equal(text, c->first);

    ngx_iothub_http_d2c_batch_free(b);
}


static void
test_token_parse(void **state)
{
    const token_case_t *c = *state;

    uint64_t  n;

    n = 7;

    assert_int_equal(ngx_iothub_c2d_token_parse(
                         (const unsigned char *) c->token, strlen(c->token),
                         &n),
                     c->rc);
    assert_true(n == (c->rc == 0 ? c->n : 7));
}


static void
test_reject(void **state)
{
    const reject_case_t *c = *state;

    assert_int_equal(ngx_iothub_c2d_query_reject(
                         (const unsigned char *) c->args, strlen(c->args)),
                     c->reject);
}


/* a written lock is GUID-shaped; a token names it and the number back */

static void
test_token_round_trip(void **state)
{
    size_t         i;
    uint64_t       n, got;
    unsigned char  lock[NGX_IOTHUB_C2D_LOCK_LEN];
    unsigned char  token[NGX_IOTHUB_C2D_TOKEN_LEN];
    const uint64_t numbers[] = { 1, 2, 255, 4096, 0xffffffffffffULL };

    (void) state;

    ngx_iothub_c2d_lock_write(lock, 0x0123456789abcdefULL);

    assert_int_equal(lock[8], '-');
    assert_int_equal(lock[13], '-');
    assert_int_equal(lock[14], '4');
    assert_int_equal(lock[18], '-');
    assert_int_equal(lock[19], '8');

    for (i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        n = numbers[i];

        assert_int_equal(ngx_iothub_c2d_token_write(token, lock, n), 0);
        assert_int_equal(ngx_iothub_c2d_token_parse(token, sizeof(token),
                                                    &got), 0);
        assert_true(got == n);
        assert_memory_equal(token, lock, NGX_IOTHUB_C2D_LOCK_LEN);
    }

    assert_int_equal(ngx_iothub_c2d_token_write(token, lock,
                                                0x1000000000000ULL), -1);
}


/* 64 properties fit a message; the 65th is refused, the 64 kept */

static void
test_too_many_props(void **state)
{
    char                       name[32];
    size_t                     i, n;
    ngx_iothub_http_d2c_msg_t  m;

    (void) state;

    ngx_iothub_http_d2c_init(&m);

    for (i = 0; i < NGX_IOTHUB_HTTP_D2C_MAX_PROPS; i++) {
        n = snprintf(name, sizeof(name), "iothub-app-p%zu", i);
        assert_int_equal(ngx_iothub_http_d2c_header(&m,
                             (unsigned char *) name, n,
                             (unsigned char *) "v", 1),
                         NGX_IOTHUB_HTTP_D2C_OK);
    }

    assert_int_equal(ngx_iothub_http_d2c_header(&m,
                         (unsigned char *) "iothub-messageid", 16,
                         (unsigned char *) "m", 1),
                     NGX_IOTHUB_HTTP_D2C_TOO_MANY_PROPS);

    /* not a property: still fine */
    assert_int_equal(ngx_iothub_http_d2c_header(&m,
                         (unsigned char *) "Host", 4,
                         (unsigned char *) "h", 1),
                     NGX_IOTHUB_HTTP_D2C_OK);

    assert_int_equal(m.n, NGX_IOTHUB_HTTP_D2C_MAX_PROPS);
}


static void
msg_str(char *out, size_t size, const ngx_iothub_http_d2c_msg_t *m,
    int with_body)
{
    size_t                             i;
    const ngx_iothub_http_d2c_prop_t  *p;

    *out = '\0';

    if (with_body) {
        snprintf(out, size, "%.*s|%u|", (int) m->body_len,
                 (const char *) m->body, (unsigned) m->base64);
    }

    for (i = 0; i < m->n; i++) {
        p = &m->prop[i];

        snprintf(out + strlen(out), size - strlen(out), "%s%.*s=%.*s;",
                 p->field, (int) p->name_len,
                 p->name ? (const char *) p->name : "",
                 (int) p->value_len, (const char *) p->value);
    }
}


int
main(void)
{
    int                      failed;
    static const table_t     headers = TABLE("d2c headers", test_header,
                                             header_cases);
    static const table_t     batches = TABLE("d2c batches", test_batch,
                                             batch_cases);
    static const table_t     tokens = TABLE("c2d lock tokens",
                                            test_token_parse, token_cases);
    static const table_t     rejects = TABLE("c2d reject flag", test_reject,
                                             reject_cases);
    static const table_t     texts = TABLE("c2d header text",
                                           test_header_text,
                                           header_text_cases);
    const struct CMUnitTest  others[] = {
        cmocka_unit_test(test_token_round_trip),
        cmocka_unit_test(test_too_many_props),
    };

    failed = run_table(&headers);
    failed += run_table(&batches);
    failed += run_table(&tokens);
    failed += run_table(&rejects);
    failed += run_table(&texts);
    failed += cmocka_run_group_tests_name("https device", others, NULL,
                                          NULL);

    return failed ? 1 : 0;
}
