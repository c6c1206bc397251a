
/*
 * Unit tests of shared/ngx_iothub_method_codec.c: the request id, the
 * "method" request and the "methodres"/"methodmiss" answers of direct
 * methods.  "make unit" builds and runs them.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit_table.h"

#include "ngx_iothub_method_codec.h"


#define INBOX   "0123456789abcdef0123456789abcdef"
#define NONCE   "00ff00ff00ff00ff"
#define RID     INBOX ".42." NONCE


typedef struct {
    const char   *name;
    const char   *text;
    int           ok;
    uint64_t      n;
} rid_case_t;


typedef struct {
    const char   *name;
    const char   *text;
    int           ok;
    uint64_t      session;
    const char   *rid;
    const char   *method;
    const char   *payload;
} call_case_t;


typedef struct {
    const char   *name;
    const char   *text;
    int           ok;
    uint64_t      n;
    const char   *identity;
    long long     status;
    const char   *payload;
} res_case_t;


typedef struct {
    const char   *name;
    const char   *identity;
    const char   *device;
    const char   *module;
    int           is;
} identity_case_t;


static const rid_case_t  rid_cases[] = {
    { "rid: n 42", RID, 0, 42 },
    { "rid: n 0", INBOX ".0." NONCE, 0, 0 },
    { "rid: n at uint64 max", INBOX ".18446744073709551615." NONCE, 0,
      UINT64_MAX },
    { "rid: n past uint64 max", INBOX ".18446744073709551616." NONCE, -1, 0 },
    { "rid: n of 21 digits", INBOX ".000000000000000000001." NONCE, -1, 0 },
    { "rid: no nonce (the old format)", INBOX ".42", -1, 0 },
    { "rid: empty n", INBOX ".." NONCE, -1, 0 },
    { "rid: signed n", INBOX ".-1." NONCE, -1, 0 },
    { "rid: short nonce", INBOX ".42.00ff00ff00ff00f", -1, 0 },
    { "rid: long nonce", INBOX ".42.00ff00ff00ff00ff0", -1, 0 },
    { "rid: upper-case nonce", INBOX ".42.00FF00FF00FF00FF", -1, 0 },
    { "rid: nonce not hex", INBOX ".42.00ff00ff00ff00fg", -1, 0 },
    { "rid: short inbox", "0123456789abcdef0123456789abcde.42." NONCE, -1, 0 },
    { "rid: inbox not hex", "x123456789abcdef0123456789abcdef.42." NONCE,
      -1, 0 },
    { "rid: extra dot", INBOX ".4.2." NONCE, -1, 0 },
    { "rid: empty", "", -1, 0 },
};


static const call_case_t  call_cases[] = {
    { "call: all parts", "7 " RID " reboot {\"a\": 1}", 0, 7, RID,
      "reboot", "{\"a\": 1}" },
    { "call: empty payload", "7 " RID " m ", 0, 7, RID, "m", "" },
    { "call: no payload separator", "7 " RID " m", -1, 0, NULL, NULL, NULL },
    { "call: old rid", "7 " INBOX ".1 m null", -1, 0, NULL, NULL, NULL },
    { "call: session not a number", "x " RID " m null", -1, 0, NULL, NULL,
      NULL },
    { "call: empty name", "7 " RID "  null", -1, 0, NULL, NULL, NULL },
    { "call: empty", "", -1, 0, NULL, NULL, NULL },
};


static const res_case_t  res_cases[] = {
    { "res: device", "42 " NONCE " dev1 200 {\"x\":1}", 0, 42, "dev1", 200,
      "{\"x\":1}" },
    { "res: module, negative status, empty payload",
      "1 " NONCE " dev1/m1 -5 ", 0, 1, "dev1/m1", -5, "" },
    { "res: payload with spaces", "1 " NONCE " d 0 a b c", 0, 1, "d", 0,
      "a b c" },
    { "res: no nonce (the old format)", "42 200 {}", -1, 0, NULL, 0, NULL },
    { "res: upper-case nonce", "42 00FF00FF00FF00FF dev1 200 {}", -1, 0,
      NULL, 0, NULL },
    { "res: status not a number", "42 " NONCE " dev1 2x0 {}", -1, 0, NULL, 0,
      NULL },
    { "res: status of 19 digits", "42 " NONCE " dev1 1000000000000000000 {}",
      -1, 0, NULL, 0, NULL },
    { "res: no identity", "42 " NONCE "  200 {}", -1, 0, NULL, 0, NULL },
    { "res: no payload separator", "42 " NONCE " dev1 200", -1, 0, NULL, 0,
      NULL },
};


static const identity_case_t  identity_cases[] = {
    { "identity: device", "dev1", "dev1", "", 1 },
    { "identity: other device", "dev2", "dev1", "", 0 },
    { "identity: prefix of the device", "dev", "dev1", "", 0 },
    { "identity: module for the device", "dev1/m1", "dev1", "", 0 },
    { "identity: module", "dev1/m1", "dev1", "m1", 1 },
    { "identity: device for the module", "dev1", "dev1", "m1", 0 },
    { "identity: other module", "dev1/m2", "dev1", "m1", 0 },
    { "identity: module of another device", "dev2/m1", "dev1", "m1", 0 },
    { "identity: case matters", "DEV1", "dev1", "", 0 },
};


static void
test_rid(void **state)
{
    const rid_case_t *c = *state;

    ngx_iothub_method_rid_t  rid;

    assert_int_equal(ngx_iothub_method_rid_parse((const unsigned char *)
                                                 c->text, strlen(c->text),
                                                 &rid),
                     c->ok);

    if (c->ok == 0) {
        assert_true(rid.n == c->n);
        assert_memory_equal(rid.inbox, c->text, 32);
        assert_ptr_equal(rid.nonce, c->text + strlen(c->text) - 16);
    }
}


static void
test_call(void **state)
{
    const call_case_t *c = *state;

    ngx_iothub_method_call_t  call;

    assert_int_equal(ngx_iothub_method_call_parse((const unsigned char *)
                                                  c->text, strlen(c->text),
                                                  &call),
                     c->ok);

    if (c->ok != 0) {
        return;
    }

    assert_true(call.session == c->session);
    assert_int_equal(call.rid_len, strlen(c->rid));
    assert_memory_equal(call.rid, c->rid, call.rid_len);
    assert_int_equal(call.name_len, strlen(c->method));
    assert_memory_equal(call.name, c->method, call.name_len);
    assert_int_equal(call.payload_len, strlen(c->payload));
    assert_memory_equal(call.payload, c->payload, call.payload_len);
}


static void
test_res(void **state)
{
    const res_case_t *c = *state;

    ngx_iothub_method_res_t  res;

    assert_int_equal(ngx_iothub_method_res_parse((const unsigned char *)
                                                 c->text, strlen(c->text),
                                                 &res),
                     c->ok);

    if (c->ok != 0) {
        return;
    }

    assert_true(res.n == c->n);
    assert_memory_equal(res.nonce, NONCE, 16);
    assert_int_equal(res.identity_len, strlen(c->identity));
    assert_memory_equal(res.identity, c->identity, res.identity_len);
    assert_true(res.status == c->status);
    assert_int_equal(res.payload_len, strlen(c->payload));
    assert_memory_equal(res.payload, c->payload, res.payload_len);
}


static void
test_identity(void **state)
{
    const identity_case_t *c = *state;

    assert_int_equal(ngx_iothub_method_identity_is(
                         (const unsigned char *) c->identity,
                         strlen(c->identity),
                         (const unsigned char *) c->device,
                         strlen(c->device),
                         (const unsigned char *) c->module,
                         strlen(c->module)),
                     c->is);
}


/* what is written parses back to the same fields */

static void
test_round_trip(void **state)
{
    size_t                   n;
    uint64_t                 miss_n;
    unsigned char            buf[256];
    const unsigned char     *nonce;
    ngx_iothub_method_rid_t  rid;
    ngx_iothub_method_res_t  res, back;

    (void) state;

    n = ngx_iothub_method_rid_write(buf, sizeof(buf),
                                    (const unsigned char *) INBOX,
                                    UINT64_MAX,
                                    (const unsigned char *) NONCE);
    assert_int_equal(n, NGX_IOTHUB_METHOD_RID_MAX);
    assert_int_equal(ngx_iothub_method_rid_parse(buf, n, &rid), 0);
    assert_true(rid.n == UINT64_MAX);

    /* too small a buffer, a bad inbox or nonce: nothing */
    assert_int_equal(ngx_iothub_method_rid_write(buf, n - 1,
                         (const unsigned char *) INBOX, UINT64_MAX,
                         (const unsigned char *) NONCE), 0);
    assert_int_equal(ngx_iothub_method_rid_write(buf, sizeof(buf),
                         (const unsigned char *) INBOX, 1,
                         (const unsigned char *) "00FF00FF00FF00FF"), 0);

    res.n = 9;
    res.nonce = (const unsigned char *) NONCE;
    res.identity = (const unsigned char *) "dev1/m1";
    res.identity_len = 7;
    res.status = -999999999999999999LL;
    res.payload = (const unsigned char *) "{\"a\": [1, 2]}";
    res.payload_len = strlen((const char *) res.payload);

    n = ngx_iothub_method_res_write(buf, sizeof(buf), &res);
    assert_true(n > 0);
    assert_int_equal(ngx_iothub_method_res_parse(buf, n, &back), 0);
    assert_true(back.n == 9 && back.status == res.status);
    assert_int_equal(back.identity_len, 7);
    assert_memory_equal(back.identity, "dev1/m1", 7);
    assert_int_equal(back.payload_len, res.payload_len);
    assert_true(ngx_iothub_method_nonce_equal(back.nonce, res.nonce));

    /* identities with spaces or empty cannot be written */
    res.identity = (const unsigned char *) "a b";
    res.identity_len = 3;
    assert_int_equal(ngx_iothub_method_res_write(buf, sizeof(buf), &res), 0);
    res.identity_len = 0;
    assert_int_equal(ngx_iothub_method_res_write(buf, sizeof(buf), &res), 0);

    n = ngx_iothub_method_miss_write(buf, sizeof(buf), 77,
                                     (const unsigned char *) NONCE);
    assert_int_equal(n, 2 + 1 + 16);
    assert_int_equal(ngx_iothub_method_miss_parse(buf, n, &miss_n, &nonce), 0);
    assert_true(miss_n == 77);
    assert_memory_equal(nonce, NONCE, 16);

    /* the old "methodmiss <n>" and a short nonce are refused */
    assert_int_equal(ngx_iothub_method_miss_parse(buf, 2, &miss_n, &nonce),
                     -1);
    assert_int_equal(ngx_iothub_method_miss_parse(buf, n - 1, &miss_n,
                                                  &nonce),
                     -1);

    assert_false(ngx_iothub_method_nonce_equal(
                     (const unsigned char *) NONCE,
                     (const unsigned char *) "00ff00ff00ff00fe"));
}


typedef struct {
    const char                   *name;
    const char                   *in;
    ngx_iothub_method_body_rc_e   rc;
    const char                   *method;
    long long                     response;
    long long                     connect;
    int                           payload;     /* 1: present */
} body_case_t;


static const body_case_t  body_cases[] = {
    { "defaults", "{\"methodName\":\"reboot\"}", NGX_IOTHUB_METHOD_BODY_OK,
      "reboot", 30, 0, 0 },
    { "all members", "{\"methodName\":\"m1\",\"payload\":{\"a\":[1]},"
      "\"responseTimeoutInSeconds\":5,\"connectTimeoutInSeconds\":300}",
      NGX_IOTHUB_METHOD_BODY_OK, "m1", 5, 300, 1 },
    { "null timeouts", "{\"methodName\":\"m\",\"responseTimeoutInSeconds\":"
      "null,\"connectTimeoutInSeconds\":null,\"payload\":null}",
      NGX_IOTHUB_METHOD_BODY_OK, "m", 30, 0, 1 },
    { "response too short", "{\"methodName\":\"m\","
      "\"responseTimeoutInSeconds\":4}", NGX_IOTHUB_METHOD_BODY_BAD_TIMEOUT,
      NULL, 0, 0, 0 },
    { "connect too long", "{\"methodName\":\"m\","
      "\"connectTimeoutInSeconds\":301}", NGX_IOTHUB_METHOD_BODY_BAD_TIMEOUT,
      NULL, 0, 0, 0 },
    { "timeout a string", "{\"methodName\":\"m\","
      "\"responseTimeoutInSeconds\":\"30\"}",
      NGX_IOTHUB_METHOD_BODY_BAD_TIMEOUT, NULL, 0, 0, 0 },
    { "timeout a fraction", "{\"methodName\":\"m\","
      "\"responseTimeoutInSeconds\":30.5}",
      NGX_IOTHUB_METHOD_BODY_BAD_TIMEOUT, NULL, 0, 0, 0 },
    { "timeout over long long", "{\"methodName\":\"m\","
      "\"connectTimeoutInSeconds\":99999999999999999999}",
      NGX_IOTHUB_METHOD_BODY_BAD_TIMEOUT, NULL, 0, 0, 0 },
    { "no name", "{\"payload\":1}", NGX_IOTHUB_METHOD_BODY_BAD_NAME, NULL, 0,
      0, 0 },
    { "name not a string", "{\"methodName\":1}",
      NGX_IOTHUB_METHOD_BODY_BAD_NAME, NULL, 0, 0, 0 },
    { "empty name", "{\"methodName\":\"\"}", NGX_IOTHUB_METHOD_BODY_BAD_NAME,
      NULL, 0, 0, 0 },
    { "name with a slash", "{\"methodName\":\"a/b\"}",
      NGX_IOTHUB_METHOD_BODY_BAD_NAME, NULL, 0, 0, 0 },
    { "name with a space", "{\"methodName\":\"a b\"}",
      NGX_IOTHUB_METHOD_BODY_BAD_NAME, NULL, 0, 0, 0 },
    { "name not ASCII", "{\"methodName\":\"caf\u00e9\"}",
      NGX_IOTHUB_METHOD_BODY_BAD_NAME, NULL, 0, 0, 0 },
    { "an array", "[]", NGX_IOTHUB_METHOD_BODY_NOT_OBJECT, NULL, 0, 0, 0 },
    { "not JSON", "methodName=m", NGX_IOTHUB_METHOD_BODY_NOT_OBJECT, NULL, 0,
      0, 0 },
    { "empty", "", NGX_IOTHUB_METHOD_BODY_NOT_OBJECT, NULL, 0, 0, 0 },
};


static void
test_body(void **state)
{
    ngx_iothub_method_body_t   body;
    const body_case_t         *c = *state;

    assert_int_equal(ngx_iothub_method_body_parse(c->in, strlen(c->in),
                                                  &body),
                     c->rc);

    if (c->rc != NGX_IOTHUB_METHOD_BODY_OK) {
        assert_null(body.root);
        return;
    }

    assert_string_equal(body.name, c->method);
    assert_true(body.response_timeout == c->response);
    assert_true(body.connect_timeout == c->connect);
    assert_int_equal(body.payload != NULL, c->payload);

    ngx_iothub_method_body_free(&body);
    assert_null(body.root);
}


/* 65 nested arrays in the payload are too deep, 63 are not */

static void
test_body_depth(void **state)
{
    char                      buf[256];
    size_t                    n;
    ngx_iothub_method_body_t  body;

    (void) state;

    n = (size_t) snprintf(buf, sizeof(buf), "{\"methodName\":\"m\","
                          "\"payload\":");
    memset(buf + n, '[', 64);
    buf[n + 64] = '\0';

    assert_int_equal(ngx_iothub_method_body_parse(buf, strlen(buf), &body),
                     NGX_IOTHUB_METHOD_BODY_TOO_DEEP);

    memset(buf + n, '[', 63);
    memset(buf + n + 63, ']', 63);
    strcpy(buf + n + 126, "}");

    assert_int_equal(ngx_iothub_method_body_parse(buf, strlen(buf), &body),
                     NGX_IOTHUB_METHOD_BODY_OK);

    ngx_iothub_method_body_free(&body);
}


/* 128 characters at most */

static void
test_name_length(void **state)
{
    char  name[130];

    (void) state;

    memset(name, 'a', 128);
    name[128] = '\0';
    assert_int_equal(ngx_iothub_method_name_valid(name), 1);

    name[128] = 'a';
    name[129] = '\0';
    assert_int_equal(ngx_iothub_method_name_valid(name), 0);
}


int
main(void)
{
    int  failed;

    const struct CMUnitTest  writers[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_body_depth),
        cmocka_unit_test(test_name_length),
    };

    static const table_t  tables[] = {
        TABLE("request ids", test_rid, rid_cases),
        TABLE("method requests", test_call, call_cases),
        TABLE("method answers", test_res, res_cases),
        TABLE("answering identities", test_identity, identity_cases),
        TABLE("call bodies", test_body, body_cases),
    };

    size_t  i;

    failed = 0;

    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        failed += run_table(&tables[i]);
    }

    failed += cmocka_run_group_tests_name("writers", writers, NULL, NULL);

    return failed ? 1 : 0;
}
