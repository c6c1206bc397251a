
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * Unit tests of shared/ngx_iothub_twin.c: merge patch and metadata
 * (messaging.md 7.1-7.2), limits and naming (7.3), device reported
 * patches (mqtt.md 7), service PATCH and PUT (rest.md 7), the device,
 * notification and service views (mqtt.md 6-7, amqp.md 7, rest.md 7), the
 * twin ETag and the Redis fields.  Every table row is one named cmocka
 * test.
 *
 *   cc -std=gnu99 -Wall -Wextra -Wpointer-arith -Werror -Ishared \
 *       t/unit/test_twin.c shared/ngx_iothub_twin.c -lcmocka -lyajl
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <yajl/yajl_gen.h>

#include "ngx_iothub_twin.h"


#define countof(a)  (sizeof(a) / sizeof((a)[0]))
#define JS(s)       s, sizeof(s) - 1

#define T1      "2024-01-01T00:00:00.0000000Z"
#define T2      "2024-01-02T10:11:12.1234567Z"

/* metadata of a leaf written at T1, T2 (reported) or T2 at version v */
#define M1      "{\"$lastUpdated\":\"" T1 "\"}"
#define M2      "{\"$lastUpdated\":\"" T2 "\"}"
#define MV(v)   "{\"$lastUpdated\":\"" T2 "\",\"$lastUpdatedVersion\":" #v "}"
#define MV1(v)  "{\"$lastUpdated\":\"" T1 "\",\"$lastUpdatedVersion\":" #v "}"
#define M2_(r)  "{\"$lastUpdated\":\"" T2 "\"," r "}"
#define MV_(v, r)                                                         \
    "{\"$lastUpdated\":\"" T2 "\",\"$lastUpdatedVersion\":" #v "," r "}"

#define OK      NGX_IOTHUB_TWIN_OK
#define DESIRED NGX_IOTHUB_TWIN_DESIRED
#define REPORTED NGX_IOTHUB_TWIN_REPORTED
#define TAGS    NGX_IOTHUB_TWIN_TAGS


/* a reported patch on a stored reported section (messaging.md 7.2) */
typedef struct {
    const char                 *name;
    const char                 *reported;
    const char                 *meta;
    const char                 *patch;
    ngx_iothub_twin_rc_e        rc;
    const char                 *expect;       /* error: part of err */
    const char                 *expect_meta;
} merge_case_t;


/* a patch checked on its own (messaging.md 7.3) */
typedef struct {
    const char                 *name;
    ngx_iothub_twin_section_e   section;
    const char                 *json;
    ngx_iothub_twin_rc_e        rc;
    const char                 *err;          /* part of the message */
} check_case_t;


/* a service PATCH or PUT (rest.md 7) */
typedef struct {
    const char                 *name;
    int                         replace;
    const char                 *tags;
    const char                 *desired;
    const char                 *meta;
    int64_t                     desired_version;
    const char                 *body;
    ngx_iothub_twin_rc_e        rc;
    const char                 *expect_tags;  /* error: part of err */
    const char                 *expect_desired;
    const char                 *expect_meta;
    const char                 *notify;       /* NULL: none */
} service_case_t;


static const merge_case_t  merge_cases[] = {

    { "merge: add a key",
      "{\"a\":1}", "{\"$lastUpdated\":\"" T1 "\",\"a\":" M1 "}",
      "{\"b\":2}", OK,
      "{\"a\":1,\"b\":2}",
      M2_("\"a\":" M1 ",\"b\":" M2) },

    { "merge: replace a scalar",
      "{\"a\":1,\"b\":2}",
      "{\"$lastUpdated\":\"" T1 "\",\"a\":" M1 ",\"b\":" M1 "}",
      "{\"a\":\"x\"}", OK,
      "{\"a\":\"x\",\"b\":2}",
      M2_("\"a\":" M2 ",\"b\":" M1) },

    { "merge: null deletes the key and its metadata",
      "{\"a\":1,\"b\":2}",
      "{\"$lastUpdated\":\"" T1 "\",\"a\":" M1 ",\"b\":" M1 "}",
      "{\"a\":null}", OK,
      "{\"b\":2}",
      M2_("\"b\":" M1) },

    { "merge: deleting a missing key is a no-op",
      "{\"a\":1}", "{\"$lastUpdated\":\"" T1 "\",\"a\":" M1 "}",
      "{\"zz\":null}", OK,
      "{\"a\":1}",
      M2_("\"a\":" M1) },

    { "merge: nested objects merge recursively",
      "{\"a\":{\"b\":1,\"c\":2},\"z\":0}",
      "{\"$lastUpdated\":\"" T1 "\",\"a\":{\"$lastUpdated\":\"" T1 "\","
      "\"b\":" M1 ",\"c\":" M1 "},\"z\":" M1 "}",
      "{\"a\":{\"c\":3,\"d\":{\"e\":true}}}", OK,
      "{\"a\":{\"b\":1,\"c\":3,\"d\":{\"e\":true}},\"z\":0}",
      M2_("\"a\":" M2_("\"b\":" M1 ",\"c\":" M2 ",\"d\":"
          M2_("\"e\":" M2)) ",\"z\":" M1) },

    { "merge: nested null deletes inside an object",
      "{\"a\":{\"b\":1,\"c\":2}}",
      "{\"$lastUpdated\":\"" T1 "\",\"a\":{\"$lastUpdated\":\"" T1 "\","
      "\"b\":" M1 ",\"c\":" M1 "}}",
      "{\"a\":{\"b\":null}}", OK,
      "{\"a\":{\"c\":2}}",
      M2_("\"a\":" M2_("\"c\":" M1)) },

    { "merge: an array replaces an array",
      "{\"a\":[1,2,3]}", "{\"$lastUpdated\":\"" T1 "\",\"a\":" M1 "}",
      "{\"a\":[4,{\"x\":null},null]}", OK,
      "{\"a\":[4,{\"x\":null},null]}",
      M2_("\"a\":" M2) },

    { "merge: an array replaces an object, metadata becomes a leaf",
      "{\"a\":{\"b\":1}}",
      "{\"$lastUpdated\":\"" T1 "\",\"a\":{\"$lastUpdated\":\"" T1 "\","
      "\"b\":" M1 "}}",
      "{\"a\":[]}", OK,
      "{\"a\":[]}",
      M2_("\"a\":" M2) },

    { "merge: an object replaces a scalar",
      "{\"a\":1}", "{\"$lastUpdated\":\"" T1 "\",\"a\":" M1 "}",
      "{\"a\":{\"b\":1,\"n\":null}}", OK,
      "{\"a\":{\"b\":1}}",
      M2_("\"a\":" M2_("\"b\":" M2)) },

    { "merge: new object with nulls only leaves it empty",
      "{}", "{}",
      "{\"a\":{\"x\":null}}", OK,
      "{\"a\":{}}",
      M2_("\"a\":" M2) },

    { "merge: empty patch changes only the root time",
      "{\"a\":1}", "{\"$lastUpdated\":\"" T1 "\",\"a\":" M1 "}",
      "{}", OK,
      "{\"a\":1}",
      M2_("\"a\":" M1) },

    { "merge: duplicate patch keys, the last wins",
      "{}", "{}",
      "{\"a\":1,\"b\":0,\"a\":{\"c\":2}}", OK,
      "{\"b\":0,\"a\":{\"c\":2}}",
      M2_("\"b\":" M2 ",\"a\":" M2_("\"c\":" M2)) },

    { "merge: large objects (indexed search)",
      "{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,"
      "\"k7\":7,\"k8\":8,\"k9\":9}",
      "{\"k0\":" M1 ",\"k1\":" M1 ",\"k2\":" M1 ",\"k3\":" M1 ",\"k4\":" M1
      ",\"k5\":" M1 ",\"k6\":" M1 ",\"k7\":" M1 ",\"k8\":" M1 ",\"k9\":" M1
      "}",
      "{\"k9\":90,\"k0\":null,\"kA\":10,\"k5\":null,\"k1\":11,\"k3\":[3],"
      "\"kB\":null,\"kC\":12,\"k7\":null,\"k2\":{\"x\":1}}", OK,
      "{\"k1\":11,\"k2\":{\"x\":1},\"k3\":[3],\"k4\":4,\"k6\":6,\"k8\":8,"
      "\"k9\":90,\"kA\":10,\"kC\":12}",
      M2_("\"k1\":" M2 ",\"k2\":" M2_("\"x\":" M2) ",\"k3\":" M2 ",\"k4\":"
          M1 ",\"k6\":" M1 ",\"k8\":" M1 ",\"k9\":" M2 ",\"kA\":" M2
          ",\"kC\":" M2) },

    { "merge: metadata missing for an existing object is rebuilt",
      "{\"a\":{\"b\":1}}", "{}",
      "{\"a\":{\"c\":2}}", OK,
      "{\"a\":{\"b\":1,\"c\":2}}",
      M2_("\"a\":" M2_("\"c\":" M2)) },

    { "number fidelity: texts kept as given",
      "{\"old\":1.50}", "{}",
      "{\"a\":1.0,\"b\":1e3,\"c\":-0,\"d\":4503599627370495,"
      "\"e\":-4503599627370496,\"f\":1.5E-7,"
      "\"g\":123456789012345678901234567890.5,\"h\":0.1000000000000000055}",
      OK,
      "{\"old\":1.50,\"a\":1.0,\"b\":1e3,\"c\":-0,\"d\":4503599627370495,"
      "\"e\":-4503599627370496,\"f\":1.5E-7,"
      "\"g\":123456789012345678901234567890.5,\"h\":0.1000000000000000055}",
      NULL },

    { "string fidelity: escapes and UTF-8",
      "{}", "{}",
      "{\"k\\u00e9\\u4e2d\":\"q\\\"b\\\\s/\\/\\n\\t\\u0001\\u00e9\xf0\x9f\x98"
      "\x80\",\"z\":\"\\u0000\"}", OK,
      "{\"k\xc3\xa9\xe4\xb8\xad\":\"q\\\"b\\\\s//\\n\\t\\u0001\xc3\xa9\xf0"
      "\x9f\x98\x80\",\"z\":\"\\u0000\"}",
      NULL },

    { "reported: a $ key is rejected",
      "{}", "{}", "{\"$version\":3}", NGX_IOTHUB_TWIN_INVALID,
      "\"$version\" contains invalid character '$'", NULL },

    { "reported: not an object",
      "{}", "{}", "[1]", NGX_IOTHUB_TWIN_INVALID,
      "reported properties is not a JSON object", NULL },

    { "reported: malformed JSON",
      "{}", "{}", "{\"a\":", NGX_IOTHUB_TWIN_BAD_JSON,
      "malformed JSON", NULL },

    { "reported: empty body (C SDK GET-style) is malformed",
      "{}", "{}", "", NGX_IOTHUB_TWIN_BAD_JSON, "malformed JSON", NULL },

    { "reported: stored section corrupt",
      "[]", "{}", "{\"a\":1}", NGX_IOTHUB_TWIN_CORRUPT,
      "stored twin reported properties is not a JSON object", NULL },

    { "reported: stored metadata corrupt",
      "{}", "{\"a\"", "{\"a\":1}", NGX_IOTHUB_TWIN_CORRUPT,
      "stored twin reported metadata is not a JSON object", NULL },
};


static const check_case_t  check_cases[] = {

    { "key: '.' is invalid", REPORTED, "{\"a.b\":1}",
      NGX_IOTHUB_TWIN_INVALID,
      "twin property name \"a.b\" contains invalid character '.'" },

    { "key: '$' anywhere is invalid", TAGS, "{\"a$\":1}",
      NGX_IOTHUB_TWIN_INVALID, "\"a$\" contains invalid character '$'" },

    { "key: space is invalid", DESIRED, "{\"a\":{\"b c\":1}}",
      NGX_IOTHUB_TWIN_INVALID, "\"b c\" contains invalid character ' '" },

    { "key: C0 control character", REPORTED, "{\"a\\u0001\":1}",
      NGX_IOTHUB_TWIN_INVALID, "\"a?\" contains a control character" },

    { "key: NUL", REPORTED, "{\"\\u0000\":1}",
      NGX_IOTHUB_TWIN_INVALID, "contains a control character" },

    { "key: DEL", REPORTED, "{\"\\u007f\":1}",
      NGX_IOTHUB_TWIN_INVALID, "contains a control character" },

    { "key: C1 control character", REPORTED, "{\"x\\u0085\":1}",
      NGX_IOTHUB_TWIN_INVALID, "\"x?\" contains a control character" },

    { "key: U+00A0 is not a control character", REPORTED,
      "{\"x\\u00a0\\u00ff\":1}", OK, NULL },

    { "key: names inside arrays are checked too", REPORTED,
      "{\"a\":[1,{\"b.c\":1}]}", NGX_IOTHUB_TWIN_INVALID,
      "\"b.c\" contains invalid character '.'" },

    { "key: empty name is accepted", REPORTED, "{\"\":1}", OK, NULL },

    { "desired: root $metadata and $version are ignored", DESIRED,
      "{\"$metadata\":{\"$lastUpdated\":\"x\"},\"$version\":4,\"a\":1}",
      OK, NULL },

    { "desired: nested $version is invalid", DESIRED,
      "{\"a\":{\"$version\":1}}", NGX_IOTHUB_TWIN_INVALID,
      "\"$version\" contains invalid character '$'" },

    { "reported: root $version is invalid", REPORTED,
      "{\"$version\":4}", NGX_IOTHUB_TWIN_INVALID, "'$'" },

    { "tags: root $metadata is invalid", TAGS,
      "{\"$metadata\":{}}", NGX_IOTHUB_TWIN_INVALID, "'$'" },

    { "integer: max", REPORTED, "{\"i\":4503599627370495}", OK, NULL },

    { "integer: max + 1", REPORTED, "{\"i\":4503599627370496}",
      NGX_IOTHUB_TWIN_INVALID,
      "value of twin property \"i\" is out of the integer range" },

    { "integer: min", REPORTED, "{\"i\":-4503599627370496}", OK, NULL },

    { "integer: min - 1", REPORTED, "{\"i\":-4503599627370497}",
      NGX_IOTHUB_TWIN_INVALID, "out of the integer range" },

    { "integer: 20 digits", REPORTED, "{\"i\":12345678901234567890}",
      NGX_IOTHUB_TWIN_INVALID, "out of the integer range" },

    { "integer: in an array", REPORTED, "{\"arr\":[1,[99999999999999999]]}",
      NGX_IOTHUB_TWIN_INVALID, "\"arr\" is out of the integer range" },

    { "number: floats are not range checked", REPORTED,
      "{\"f\":1e300,\"g\":12345678901234567890.0}", OK, NULL },

    { "arrays: allowed, of any values", DESIRED,
      "{\"a\":[1,\"s\",true,null,{\"b\":[]},[[]]]}", OK, NULL },

    { "json: malformed", REPORTED, "{\"a\":1,}", NGX_IOTHUB_TWIN_BAD_JSON,
      "malformed JSON" },

    { "json: invalid UTF-8", REPORTED, "{\"a\":\"\xc3\x28\"}",
      NGX_IOTHUB_TWIN_BAD_JSON, "malformed JSON" },

    { "json: trailing garbage", REPORTED, "{} {}",
      NGX_IOTHUB_TWIN_BAD_JSON, "malformed JSON" },

    { "json: not an object", DESIRED, "\"x\"", NGX_IOTHUB_TWIN_INVALID,
      "desired properties is not a JSON object" },

    { "json: top-level null", TAGS, "null", NGX_IOTHUB_TWIN_INVALID,
      "tags is not a JSON object" },
};


static const service_case_t  service_cases[] = {

    { "PATCH: tags only",
      0, "{\"a\":1}", "{\"d\":1}", "{\"$lastUpdated\":\"" T1 "\"}", 3,
      "{\"tags\":{\"b\":{\"c\":2},\"a\":null}}", OK,
      "{\"b\":{\"c\":2}}", "{\"d\":1}", "{\"$lastUpdated\":\"" T1 "\"}",
      NULL },

    { "PATCH: desired only, nested $lastUpdatedVersion",
      0, "{\"t\":1}", "{\"d\":1,\"o\":{\"x\":1,\"y\":2}}",
      "{\"$lastUpdated\":\"" T1 "\",\"$lastUpdatedVersion\":3,\"d\":"
      MV1(2) ",\"o\":{\"$lastUpdated\":\"" T1 "\",\"$lastUpdatedVersion\":"
      "3,\"x\":" MV1(3) ",\"y\":" MV1(3) "}}", 3,
      "{\"properties\":{\"desired\":{\"o\":{\"y\":null,\"z\":{\"w\":5}}}}}",
      OK,
      "{\"t\":1}", "{\"d\":1,\"o\":{\"x\":1,\"z\":{\"w\":5}}}",
      MV_(4, "\"d\":" MV1(2) ",\"o\":" MV_(4, "\"x\":" MV1(3) ",\"z\":"
          MV_(4, "\"w\":" MV(4)))),
      "{\"o\":{\"y\":null,\"z\":{\"w\":5}}}" },

    { "PATCH: tags and desired, identity fields ignored",
      0, "{}", "{}", "{}", 1,
      "{\"deviceId\":\"other\",\"etag\":\"x\",\"status\":\"disabled\","
      "\"version\":99,\"tags\":{\"t\":\"v\"},\"properties\":{\"desired\":"
      "{\"$version\":7,\"$metadata\":{},\"d\":[1]},\"reported\":{}}}", OK,
      "{\"t\":\"v\"}", "{\"d\":[1]}", MV_(2, "\"d\":" MV(2)),
      "{\"d\":[1]}" },

    { "PATCH: member names in any case, the last one wins",
      0, "{}", "{}", "{}", 1,
      "{\"tags\":{\"a\":1},\"TAGS\":{\"b\":2},\"Properties\":"
      "{\"Desired\":{\"d\":2}}}", OK,
      "{\"b\":2}", "{\"d\":2}", MV_(2, "\"d\":" MV(2)), "{\"d\":2}" },

    { "PATCH: empty desired still notifies",
      0, "{}", "{\"a\":1}", "{}", 5,
      "{\"properties\":{\"desired\":{}}}", OK,
      "{}", "{\"a\":1}", MV(6), "{}" },

    { "PATCH: null sections count as absent",
      0, "{\"a\":1}", "{\"b\":2}", "{}", 1,
      "{\"tags\":null,\"properties\":{\"desired\":null,\"reported\":null}}",
      OK, "{\"a\":1}", "{\"b\":2}", "{}", NULL },

    { "PATCH: reported not empty is rejected",
      0, "{}", "{}", "{}", 1,
      "{\"properties\":{\"reported\":{\"r\":1}}}", NGX_IOTHUB_TWIN_INVALID,
      "reported properties cannot be changed", NULL, NULL, NULL },

    { "PATCH: tags not an object",
      0, "{}", "{}", "{}", 1, "{\"tags\":[1]}", NGX_IOTHUB_TWIN_INVALID,
      "\"tags\" is not a JSON object", NULL, NULL, NULL },

    { "PATCH: properties not an object",
      0, "{}", "{}", "{}", 1, "{\"properties\":1}",
      NGX_IOTHUB_TWIN_INVALID, "\"properties\" is not a JSON object",
      NULL, NULL, NULL },

    { "PATCH: body not an object",
      0, "{}", "{}", "{}", 1, "[]", NGX_IOTHUB_TWIN_INVALID,
      "the twin is not a JSON object", NULL, NULL, NULL },

    { "PATCH: invalid desired key",
      0, "{}", "{}", "{}", 1,
      "{\"tags\":{\"ok\":1},\"properties\":{\"desired\":{\"a.b\":1}}}",
      NGX_IOTHUB_TWIN_INVALID, "\"a.b\" contains invalid character '.'",
      NULL, NULL, NULL },

    { "PATCH: stored tags corrupt",
      0, "nope", "{}", "{}", 1, "{\"tags\":{\"a\":1}}",
      NGX_IOTHUB_TWIN_CORRUPT, "stored twin tags", NULL, NULL, NULL },

    { "PUT: replaces tags and desired, rebuilds metadata",
      1, "{\"old\":1}", "{\"d\":1,\"e\":2}",
      "{\"$lastUpdated\":\"" T1 "\",\"d\":" MV1(1) ",\"e\":" MV1(1) "}", 1,
      "{\"deviceId\":\"d\",\"tags\":{\"n\":{\"m\":1}},\"properties\":"
      "{\"desired\":{\"$version\":1,\"d\":3,\"x\":null,\"o\":{\"p\":[]}},"
      "\"reported\":{\"ignored\":1}}}", OK,
      "{\"n\":{\"m\":1}}", "{\"d\":3,\"o\":{\"p\":[]}}",
      MV_(2, "\"d\":" MV(2) ",\"o\":" MV_(2, "\"p\":" MV(2))),
      "{\"d\":3,\"o\":{\"p\":[]}}" },

    { "PUT: absent sections become empty",
      1, "{\"old\":1}", "{\"d\":1}", "{}", 7,
      "{\"etag\":\"AAAAAAAAAAE=\"}", OK,
      "{}", "{}", MV(8), "{}" },

    { "PUT: depth checked",
      1, "{}", "{}", "{}", 1,
      "{\"properties\":{\"desired\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{"
      "\"f\":{\"g\":{\"h\":{\"i\":{\"j\":{\"k\":{\"l\":1}}}}}}}}}}}}}}",
      NGX_IOTHUB_TWIN_TOO_DEEP,
      "twin property \"k\" is nested deeper than 10 levels",
      NULL, NULL, NULL },
};


static void twin_set(ngx_iothub_twin_t *t, const char *name,
    const char *value);
static void twin_copy(ngx_iothub_twin_t *dst, const ngx_iothub_twin_t *src);
static void twin_assert_equal(const ngx_iothub_twin_t *a,
    const ngx_iothub_twin_t *b);
static char *nest(int levels, const char *leaf);
static char *filled(const char *keys, size_t nkeys, size_t len,
    const char *extra);
static void test_merge_case(void **state);
static void test_check_case(void **state);
static void test_service_case(void **state);
static void test_init_empty(void **state);
static void test_fields_round_trip(void **state);
static void test_set_field_edges(void **state);
static void test_depth_limit(void **state);
static void test_key_and_string_lengths(void **state);
static void test_section_size(void **state);
static void test_section_full(void **state);
static void test_tags_size(void **state);
static void test_failure_leaves_twin(void **state);
static void test_device_view(void **state);
static void test_notification(void **state);
static void test_notification_flow(void **state);
static void test_service_view_device(void **state);
static void test_service_view_fields(void **state);
static void test_service_view_module(void **state);
static void test_etag(void **state);
static void test_err_buffers(void **state);
static void test_err_name_cut(void **state);
static char *service_view(const ngx_iothub_twin_t *t,
    const ngx_iothub_twin_identity_t *id, ngx_iothub_twin_rc_e expect);
static int run_table(const char *group, const void *table, size_t n,
    size_t size, CMUnitTestFunction fn);


static void
twin_set(ngx_iothub_twin_t *t, const char *name, const char *value)
{
    assert_int_equal(ngx_iothub_twin_set_field(t, name, strlen(name), value,
                                               strlen(value)),
                     OK);
}


static void
twin_copy(ngx_iothub_twin_t *dst, const ngx_iothub_twin_t *src)
{
    int          i, n;
    char         scratch[NGX_IOTHUB_TWIN_SCRATCH];
    size_t       lens[NGX_IOTHUB_TWIN_NFIELDS];
    const char  *names[NGX_IOTHUB_TWIN_NFIELDS];
    const char  *values[NGX_IOTHUB_TWIN_NFIELDS];

    assert_int_equal(ngx_iothub_twin_init(dst, NULL), OK);

    n = ngx_iothub_twin_fields(src, names, values, lens, scratch);

    for (i = 0; i < n; i++) {
        assert_int_equal(ngx_iothub_twin_set_field(dst, names[i],
                                                   strlen(names[i]),
                                                   values[i], lens[i]),
                         OK);
    }
}


static void
twin_assert_equal(const ngx_iothub_twin_t *a, const ngx_iothub_twin_t *b)
{
    assert_string_equal(a->tags, b->tags);
    assert_string_equal(a->desired, b->desired);
    assert_string_equal(a->reported, b->reported);
    assert_string_equal(a->desired_meta, b->desired_meta);
    assert_string_equal(a->reported_meta, b->reported_meta);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->desired_version, b->desired_version);
    assert_int_equal(a->reported_version, b->reported_version);
}


/* {"k1":{"k2":...{"kN":{"x":leaf}}...}}: N levels of objects below */
static char *
nest(int levels, const char *leaf)
{
    int     i;
    char   *s, *p;

    s = malloc(levels * 16 + strlen(leaf) + 16);
    assert_non_null(s);

    p = s;
    *p++ = '{';

    for (i = 1; i <= levels; i++) {
        p += sprintf(p, "\"k%d\":{", i);
    }

    p += sprintf(p, "\"x\":%s", leaf);

    for (i = 0; i <= levels; i++) {
        *p++ = '}';
    }

    *p = '\0';

    return s;
}


/* {"a":"xxx...","b":"xxx...",...}: one len-byte string per key */
static char *
filled(const char *keys, size_t nkeys, size_t len, const char *extra)
{
    char    *s, *p;
    size_t   i;

    s = malloc(nkeys * (len + 8) + strlen(extra) + 8);
    assert_non_null(s);

    p = s;
    *p++ = '{';

    for (i = 0; i < nkeys; i++) {
        p += sprintf(p, "%s\"%c\":\"", i ? "," : "", keys[i]);
        memset(p, 'x', len);
        p += len;
        *p++ = '"';
    }

    p += sprintf(p, "%s}", extra);

    return s;
}


static void
test_merge_case(void **state)
{
    char                 err[256];
    ngx_iothub_twin_t    t, before;
    const merge_case_t  *c;

    c = *state;

    assert_int_equal(ngx_iothub_twin_init(&t, NULL), OK);
    twin_set(&t, "reported", c->reported);
    twin_set(&t, "reportedMeta", c->meta);
    twin_set(&t, "version", "10");
    twin_set(&t, "reportedVersion", "4");
    twin_copy(&before, &t);

    err[0] = '\0';

    assert_int_equal(ngx_iothub_twin_patch_reported(&t, c->patch,
                                                    strlen(c->patch), T2,
                                                    err, sizeof(err)),
                     c->rc);

    if (c->rc != OK) {
        assert_non_null(strstr(err, c->expect));
        twin_assert_equal(&t, &before);

    } else {
        assert_string_equal(t.reported, c->expect);

        if (c->expect_meta != NULL) {
            assert_string_equal(t.reported_meta, c->expect_meta);
        }

        assert_int_equal(t.version, 11);
        assert_int_equal(t.reported_version, 5);
        assert_int_equal(t.desired_version, 1);
        assert_string_equal(t.desired, before.desired);
        assert_string_equal(t.tags, before.tags);
    }

    ngx_iothub_twin_free(&t);
    ngx_iothub_twin_free(&before);
}


static void
test_check_case(void **state)
{
    char                 err[256];
    const check_case_t  *c;

    c = *state;
    err[0] = '\0';

    assert_int_equal(ngx_iothub_twin_validate(c->json, strlen(c->json),
                                              c->section, err, sizeof(err)),
                     c->rc);

    if (c->err != NULL) {
        assert_non_null(strstr(err, c->err));
    }
}


static void
test_service_case(void **state)
{
    char                   err[256], *notify;
    ngx_iothub_twin_t      t, before;
    ngx_iothub_twin_rc_e   rc;
    const service_case_t  *c;

    c = *state;

    assert_int_equal(ngx_iothub_twin_init(&t, NULL), OK);
    twin_set(&t, "tags", c->tags);
    twin_set(&t, "desired", c->desired);
    twin_set(&t, "desiredMeta", c->meta);
    t.desired_version = c->desired_version;
    t.version = 20;
    twin_copy(&before, &t);

    err[0] = '\0';
    notify = (char *) "untouched";

    if (c->replace) {
        rc = ngx_iothub_twin_service_replace(&t, c->body, strlen(c->body),
                                             T2, &notify, err, sizeof(err));

    } else {
        rc = ngx_iothub_twin_service_patch(&t, c->body, strlen(c->body),
                                           T2, &notify, err, sizeof(err));
    }

    assert_int_equal(rc, c->rc);

    if (rc != OK) {
        assert_non_null(strstr(err, c->expect_tags));
        assert_null(notify);
        twin_assert_equal(&t, &before);
        goto done;
    }

    assert_string_equal(t.tags, c->expect_tags);
    assert_string_equal(t.desired, c->expect_desired);
    assert_string_equal(t.desired_meta, c->expect_meta);
    assert_int_equal(t.version, 21);
    assert_int_equal(t.reported_version, 1);
    assert_string_equal(t.reported, "{}");

    if (c->notify == NULL) {
        assert_null(notify);
        assert_int_equal(t.desired_version, c->desired_version);

    } else {
        assert_non_null(notify);
        assert_string_equal(notify, c->notify);
        assert_int_equal(t.desired_version, c->desired_version + 1);
        free(notify);
    }

done:

    ngx_iothub_twin_free(&t);
    ngx_iothub_twin_free(&before);
}


static void
test_init_empty(void **state)
{
    ngx_iothub_twin_t  t;

    (void) state;

    assert_int_equal(ngx_iothub_twin_init(&t, T1), OK);

    assert_string_equal(t.tags, "{}");
    assert_string_equal(t.desired, "{}");
    assert_string_equal(t.reported, "{}");
    assert_string_equal(t.desired_meta, M1);
    assert_string_equal(t.reported_meta, M1);
    assert_int_equal(t.version, 1);
    assert_int_equal(t.desired_version, 1);
    assert_int_equal(t.reported_version, 1);

    ngx_iothub_twin_free(&t);
    assert_null(t.tags);

    assert_int_equal(ngx_iothub_twin_init(&t, NULL), OK);
    assert_string_equal(t.desired_meta, "{}");
    ngx_iothub_twin_free(&t);
}


static void
test_fields_round_trip(void **state)
{
    int                 n;
    char                err[128], scratch[NGX_IOTHUB_TWIN_SCRATCH];
    size_t              lens[NGX_IOTHUB_TWIN_NFIELDS];
    const char         *names[NGX_IOTHUB_TWIN_NFIELDS];
    const char         *values[NGX_IOTHUB_TWIN_NFIELDS];
    ngx_iothub_twin_t   t, copy;

    static const char  *expect[] = {
        "tags", "desired", "desiredMeta", "reported", "reportedMeta",
        "version", "desiredVersion", "reportedVersion"
    };

    (void) state;

    assert_int_equal(ngx_iothub_twin_init(&t, T1), OK);
    assert_int_equal(ngx_iothub_twin_service_patch(&t,
                         JS("{\"tags\":{\"a\":1},\"properties\":{\"desired\":"
                         "{\"b\":2}}}"), T2, NULL, err, sizeof(err)),
                     OK);
    assert_int_equal(ngx_iothub_twin_patch_reported(&t, JS("{\"c\":3}"), T2,
                                                    err, sizeof(err)),
                     OK);

    n = ngx_iothub_twin_fields(&t, names, values, lens, scratch);
    assert_int_equal(n, NGX_IOTHUB_TWIN_NFIELDS);

    for (n = 0; n < NGX_IOTHUB_TWIN_NFIELDS; n++) {
        assert_string_equal(names[n], expect[n]);
        assert_int_equal(lens[n], strlen(values[n]));
    }

    assert_string_equal(values[5], "3");
    assert_string_equal(values[6], "2");
    assert_string_equal(values[7], "2");

    twin_copy(&copy, &t);
    twin_assert_equal(&copy, &t);

    ngx_iothub_twin_free(&t);
    ngx_iothub_twin_free(&copy);
}


static void
test_set_field_edges(void **state)
{
    ngx_iothub_twin_t  t;

    (void) state;

    assert_int_equal(ngx_iothub_twin_init(&t, NULL), OK);

    assert_int_equal(ngx_iothub_twin_set_field(&t, "unknown", 7, "x", 1), OK);
    assert_int_equal(ngx_iothub_twin_set_field(&t, "version", 7, "0", 1),
                     NGX_IOTHUB_TWIN_CORRUPT);
    assert_int_equal(ngx_iothub_twin_set_field(&t, "version", 7, "-1", 2),
                     NGX_IOTHUB_TWIN_CORRUPT);
    assert_int_equal(ngx_iothub_twin_set_field(&t, "version", 7, "1x", 2),
                     NGX_IOTHUB_TWIN_CORRUPT);
    assert_int_equal(ngx_iothub_twin_set_field(&t, "version", 7, "", 0),
                     NGX_IOTHUB_TWIN_CORRUPT);
    assert_int_equal(ngx_iothub_twin_set_field(&t, "version", 7,
                                               "99999999999999999999", 20),
                     NGX_IOTHUB_TWIN_CORRUPT);
    assert_int_equal(ngx_iothub_twin_set_field(&t, "Version", 7, "5", 1),
                     OK);
    assert_int_equal(t.version, 1);
    assert_int_equal(ngx_iothub_twin_set_field(&t, "desiredVersion", 14,
                                               "42", 2),
                     OK);
    assert_int_equal(t.desired_version, 42);

    /* values need no NUL */
    assert_int_equal(ngx_iothub_twin_set_field(&t, "tags", 4, "{}xyz", 2),
                     OK);
    assert_string_equal(t.tags, "{}");

    ngx_iothub_twin_free(&t);
}


static void
test_depth_limit(void **state)
{
    int                  levels;
    char                 err[256], *json;
    ngx_iothub_twin_t    t;
    ngx_iothub_twin_rc_e rc;

    (void) state;

    for (levels = 9; levels <= 12; levels++) {
        json = nest(levels, "1");
        rc = ngx_iothub_twin_validate(json, strlen(json), REPORTED, err,
                                      sizeof(err));
        assert_int_equal(rc, levels <= 10 ? OK : NGX_IOTHUB_TWIN_TOO_DEEP);

        assert_int_equal(ngx_iothub_twin_init(&t, NULL), OK);
        assert_int_equal(ngx_iothub_twin_patch_reported(&t, json,
                                                        strlen(json), T2,
                                                        err, sizeof(err)),
                         rc);
        ngx_iothub_twin_free(&t);
        free(json);
    }

    assert_non_null(strstr(err, "\"k11\" is nested deeper than 10"));

    /* arrays add no level; objects inside them do */
    json = nest(9, "[[[{\"x\":1}]]]");
    assert_int_equal(ngx_iothub_twin_validate(json, strlen(json), TAGS, err,
                                              sizeof(err)),
                     OK);
    free(json);

    json = nest(10, "[{\"x\":1}]");
    assert_int_equal(ngx_iothub_twin_validate(json, strlen(json), TAGS, err,
                                              sizeof(err)),
                     NGX_IOTHUB_TWIN_TOO_DEEP);
    assert_non_null(strstr(err, "\"x\" is nested deeper"));
    free(json);

    /* the parser's own guard against deep nesting */
    json = nest(70, "1");
    assert_int_equal(ngx_iothub_twin_validate(json, strlen(json), TAGS, err,
                                              sizeof(err)),
                     NGX_IOTHUB_TWIN_TOO_DEEP);
    assert_non_null(strstr(err, "nested deeper than 64"));
    free(json);
}


static void
test_key_and_string_lengths(void **state)
{
    char                 err[256], *json, *p;
    size_t               n;
    ngx_iothub_twin_rc_e rc;

    (void) state;

    for (n = 1023; n <= 1025; n++) {
        json = malloc(n + 16);
        assert_non_null(json);
        p = json + sprintf(json, "{\"");
        memset(p, 'k', n);
        sprintf(p + n, "\":1}");

        rc = ngx_iothub_twin_validate(json, strlen(json), DESIRED, err,
                                      sizeof(err));
        assert_int_equal(rc, n <= 1024 ? OK : NGX_IOTHUB_TWIN_INVALID);
        free(json);
    }

    assert_non_null(strstr(err, "kkk...\" is longer than 1024 bytes"));

    for (n = 4095; n <= 4097; n++) {
        json = filled("s", 1, n, "");
        rc = ngx_iothub_twin_validate(json, strlen(json), REPORTED, err,
                                      sizeof(err));
        assert_int_equal(rc, n <= 4096 ? OK : NGX_IOTHUB_TWIN_INVALID);
        free(json);
    }

    assert_non_null(strstr(err,
                           "value of twin property \"s\" is longer than "
                           "4096 bytes"));

    /* 4096 bytes of UTF-8, fewer characters: the limit is in bytes */
    json = malloc(4200);
    assert_non_null(json);
    p = json + sprintf(json, "{\"u\":\"");

    for (n = 0; n < 2049; n++) {
        memcpy(p, "\xc3\xa9", 2);
        p += 2;
    }

    sprintf(p, "\"}");
    assert_int_equal(ngx_iothub_twin_validate(json, strlen(json), REPORTED,
                                              err, sizeof(err)),
                     NGX_IOTHUB_TWIN_INVALID);
    free(json);
}


/*
 * messaging.md 7.3: seven 1-byte keys with 4095-byte strings are 28672
 * bytes; "h" and a tail fill the rest of 32768 exactly or overflow by one.
 */
static void
test_section_size(void **state)
{
    char                 err[256], msg[64], *json, tail[8300], *p;
    size_t               i, j, k;
    ngx_iothub_twin_t    t;

    static const struct {
        const char      *h;         /* repeated to fill "h" */
        size_t           n;         /* times */
        const char      *tail;
    } cases[] = {
        { "x", 4086, ",\"n\":1" },                  /* numbers count 8 */
        { "x", 4090, ",\"n\":true" },               /* booleans count 4 */
        { "x", 4090, ",\"n\":[null]" },             /* nulls as booleans */
        { "x", 4086, ",\"n\":[[],{},\"\",-1.5e3]" },
        { "\xc3\xa9", 2043, ",\"n\":1" },           /* UTF-8 bytes count */
        { "x", 4091, ",\"n\":\"\\n\\u0001\\u0085\\u007fabc\"" },
    };

    (void) state;

    for (i = 0; i < countof(cases); i++) {
        for (j = 0; j < 2; j++) {
            p = tail + sprintf(tail, ",\"h\":\"");

            for (k = 0; k < cases[i].n + j; k++) {
                p += sprintf(p, "%s", cases[i].h);
            }

            sprintf(p, "\"%s", cases[i].tail);

            json = filled("abcdefg", 7, 4095, tail);

            assert_int_equal(ngx_iothub_twin_init(&t, NULL), OK);
            err[0] = '\0';
            assert_int_equal(ngx_iothub_twin_patch_reported(&t, json,
                                 strlen(json), T2, err, sizeof(err)),
                             j == 0 ? OK : NGX_IOTHUB_TWIN_TOO_LARGE);

            if (j == 1) {
                sprintf(msg, "reported properties would be %zu bytes",
                        32768 + strlen(cases[i].h));
                assert_non_null(strstr(err, msg));
            }

            ngx_iothub_twin_free(&t);
            free(json);
        }
    }
}


/* a full section: one more byte fails and changes nothing */
static void
test_section_full(void **state)
{
    char                 err[256], *json;
    ngx_iothub_twin_t    t, before;

    (void) state;

    assert_int_equal(ngx_iothub_twin_init(&t, NULL), OK);

    json = filled("abcdefgh", 8, 4095, "");
    assert_int_equal(ngx_iothub_twin_patch_reported(&t, json, strlen(json),
                                                    T2, err, sizeof(err)),
                     OK);
    free(json);

    twin_copy(&before, &t);

    assert_int_equal(ngx_iothub_twin_patch_reported(&t, JS("{\"i\":\"\"}"),
                                                    T2, err, sizeof(err)),
                     NGX_IOTHUB_TWIN_TOO_LARGE);
    twin_assert_equal(&t, &before);

    /* the limit applies to the result: deleting makes room */
    assert_int_equal(ngx_iothub_twin_patch_reported(&t,
                         JS("{\"i\":\"\",\"a\":null,\"z\":true}"), T2, err,
                         sizeof(err)),
                     OK);

    ngx_iothub_twin_free(&t);
    ngx_iothub_twin_free(&before);
}


static void
test_tags_size(void **state)
{
    char                 err[256], *json, *body;
    ngx_iothub_twin_t    t;

    (void) state;

    assert_int_equal(ngx_iothub_twin_init(&t, NULL), OK);

    body = malloc(20000);
    assert_non_null(body);

    json = filled("ab", 2, 4095, "");
    sprintf(body, "{\"tags\":%s}", json);
    assert_int_equal(ngx_iothub_twin_service_patch(&t, body, strlen(body),
                                                   T2, NULL, err,
                                                   sizeof(err)),
                     OK);
    free(json);

    assert_int_equal(ngx_iothub_twin_service_patch(&t,
                         JS("{\"tags\":{\"c\":\"\"}}"), T2, NULL, err,
                         sizeof(err)),
                     NGX_IOTHUB_TWIN_TOO_LARGE);
    assert_non_null(strstr(err, "tags would be 8193 bytes, more than the "
                                "limit of 8192"));

    /* desired holds 32 KB: the same text fits there */
    json = filled("abc", 3, 4095, "");
    sprintf(body, "{\"properties\":{\"desired\":%s}}", json);
    assert_int_equal(ngx_iothub_twin_service_replace(&t, body, strlen(body),
                                                     T2, NULL, err,
                                                     sizeof(err)),
                     OK);
    assert_string_equal(t.tags, "{}");
    free(json);

    sprintf(body, "{\"tags\":");
    json = filled("abc", 3, 4095, "");
    strcat(body, json);
    strcat(body, "}");
    assert_int_equal(ngx_iothub_twin_service_replace(&t, body, strlen(body),
                                                     T2, NULL, err,
                                                     sizeof(err)),
                     NGX_IOTHUB_TWIN_TOO_LARGE);
    free(json);
    free(body);

    ngx_iothub_twin_free(&t);
}


static void
test_failure_leaves_twin(void **state)
{
    char                 err[256], *notify;
    ngx_iothub_twin_t    t, before;

    (void) state;

    assert_int_equal(ngx_iothub_twin_init(&t, T1), OK);
    assert_int_equal(ngx_iothub_twin_service_patch(&t,
                         JS("{\"tags\":{\"a\":1},\"properties\":{\"desired\":"
                         "{\"b\":2}}}"), T2, NULL, err, sizeof(err)),
                     OK);
    twin_copy(&before, &t);

    /* tags would apply, desired fails: nothing changes */
    notify = NULL;
    assert_int_equal(ngx_iothub_twin_service_patch(&t,
                         JS("{\"tags\":{\"a\":2},\"properties\":{\"desired\":"
                         "{\"x\":99999999999999999}}}"), T2, &notify,
                         err, sizeof(err)),
                     NGX_IOTHUB_TWIN_INVALID);
    assert_null(notify);
    twin_assert_equal(&t, &before);

    /* corrupt desired metadata: tags are not written either */
    twin_set(&t, "desiredMeta", "[");
    twin_set(&before, "desiredMeta", "[");
    assert_int_equal(ngx_iothub_twin_service_patch(&t,
                         JS("{\"tags\":{\"a\":2},\"properties\":{\"desired\":"
                         "{\"x\":1}}}"), T2, &notify, err, sizeof(err)),
                     NGX_IOTHUB_TWIN_CORRUPT);
    assert_null(notify);
    twin_assert_equal(&t, &before);

    /* versions out of range */
    t.version = 0;
    assert_int_equal(ngx_iothub_twin_patch_reported(&t, JS("{}"), T2, err,
                                                    sizeof(err)),
                     NGX_IOTHUB_TWIN_CORRUPT);

    ngx_iothub_twin_free(&t);
    ngx_iothub_twin_free(&before);
}


static void
test_device_view(void **state)
{
    char                *out, err[128];
    ngx_iothub_twin_t    t;

    (void) state;

    assert_int_equal(ngx_iothub_twin_init(&t, T1), OK);

    /* mqtt.md 6: empty sections are {"$version":1} */
    assert_int_equal(ngx_iothub_twin_device_view(&t, &out, err,
                                                 sizeof(err)),
                     OK);
    assert_string_equal(out, "{\"desired\":{\"$version\":1},"
                             "\"reported\":{\"$version\":1}}");
    free(out);

    assert_int_equal(ngx_iothub_twin_service_patch(&t,
                         JS("{\"tags\":{\"t\":1},\"properties\":{\"desired\":"
                         "{\"telemetryInterval\":30}}}"), T2, NULL, err,
                         sizeof(err)),
                     OK);
    assert_int_equal(ngx_iothub_twin_patch_reported(&t,
                         JS("{\"fw\":\"1.2\"}"), T2, err, sizeof(err)),
                     OK);

    assert_int_equal(ngx_iothub_twin_device_view(&t, &out, err,
                                                 sizeof(err)),
                     OK);
    assert_string_equal(out, "{\"desired\":{\"telemetryInterval\":30,"
                             "\"$version\":2},\"reported\":{\"fw\":\"1.2\","
                             "\"$version\":2}}");
    free(out);

    twin_set(&t, "reported", "{\"a\":");
    out = (char *) "x";
    assert_int_equal(ngx_iothub_twin_device_view(&t, &out, err,
                                                 sizeof(err)),
                     NGX_IOTHUB_TWIN_CORRUPT);
    assert_null(out);
    assert_string_equal(err, "stored twin reported properties is not a "
                             "JSON object");

    ngx_iothub_twin_free(&t);
}


static void
test_notification(void **state)
{
    char  *out, err[128];

    (void) state;

    assert_int_equal(ngx_iothub_twin_notification(
                         JS("{\"telemetryInterval\":45}"), 5, &out, err,
                         sizeof(err)),
                     OK);
    assert_string_equal(out, "{\"telemetryInterval\":45,\"$version\":5}");
    free(out);

    assert_int_equal(ngx_iothub_twin_notification(
                         JS("{\"a\":null,\"b\":1.0}"), 12345678901LL,
                         &out, err, sizeof(err)),
                     OK);
    assert_string_equal(out, "{\"a\":null,\"b\":1.0,\"$version\":12345678901}");
    free(out);

    assert_int_equal(ngx_iothub_twin_notification(JS("{}"), 2, &out, err,
                                                  sizeof(err)),
                     OK);
    assert_string_equal(out, "{\"$version\":2}");
    free(out);

    assert_int_equal(ngx_iothub_twin_notification(JS("[]"), 2, &out, err,
                                                  sizeof(err)),
                     NGX_IOTHUB_TWIN_INVALID);
    assert_null(out);
    assert_int_equal(ngx_iothub_twin_notification(JS("{"), 2, &out, err,
                                                  sizeof(err)),
                     NGX_IOTHUB_TWIN_BAD_JSON);
}


/* the notification of a PATCH and a PUT, end to end */
static void
test_notification_flow(void **state)
{
    char                *notify, *out, err[128];
    ngx_iothub_twin_t    t;

    (void) state;

    assert_int_equal(ngx_iothub_twin_init(&t, T1), OK);

    assert_int_equal(ngx_iothub_twin_service_patch(&t,
                         JS("{\"properties\":{\"desired\":{\"a\":1,"
                            "\"b\":null}}}"), T2, &notify, err, sizeof(err)),
                     OK);
    assert_int_equal(ngx_iothub_twin_notification(notify, strlen(notify),
                                                  t.desired_version, &out,
                                                  err, sizeof(err)),
                     OK);
    assert_string_equal(out, "{\"a\":1,\"b\":null,\"$version\":2}");
    free(out);
    free(notify);

    assert_int_equal(ngx_iothub_twin_service_replace(&t,
                         JS("{\"properties\":{\"desired\":{\"c\":[true]}}}"),
                         T2, &notify, err, sizeof(err)),
                     OK);
    assert_int_equal(ngx_iothub_twin_notification(notify, strlen(notify),
                                                  t.desired_version, &out,
                                                  err, sizeof(err)),
                     OK);
    assert_string_equal(out, "{\"c\":[true],\"$version\":3}");
    free(out);
    free(notify);

    ngx_iothub_twin_free(&t);
}


static char *
service_view(const ngx_iothub_twin_t *t, const ngx_iothub_twin_identity_t *id,
    ngx_iothub_twin_rc_e expect)
{
    char                 *s, err[128];
    size_t                len;
    yajl_gen              g;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    assert_non_null(g);

    assert_int_equal(ngx_iothub_twin_service_view(t, id, g, err,
                                                  sizeof(err)),
                     expect);

    s = NULL;

    if (expect == OK) {
        assert_int_equal(yajl_gen_get_buf(g, &buf, &len),
                         yajl_gen_status_ok);
        s = malloc(len + 1);
        assert_non_null(s);
        memcpy(s, buf, len);
        s[len] = '\0';
    }

    yajl_gen_free(g);

    return s;
}


static void
test_service_view_device(void **state)
{
    char                        *out, err[128];
    ngx_iothub_twin_t            t;
    ngx_iothub_twin_identity_t   id;

    (void) state;

    assert_int_equal(ngx_iothub_twin_init(&t, T1), OK);
    assert_int_equal(ngx_iothub_twin_service_patch(&t,
                         JS("{\"tags\":{\"building\":\"43\"},\"properties\":"
                         "{\"desired\":{\"telemetryInterval\":30}}}"), T2,
                         NULL, err, sizeof(err)),
                     OK);
    assert_int_equal(ngx_iothub_twin_patch_reported(&t,
                         JS("{\"fw\":\"1.2\"}"), T2, err, sizeof(err)),
                     OK);

    memset(&id, 0, sizeof(id));
    id.device_id = "dev1";
    id.device_etag = "MTk1NjQ2OTk4";
    id.iot_edge = 1;
    id.c2d_count = 2;
    id.primary_thumbprint = "";

    out = service_view(&t, &id, OK);
    assert_string_equal(out,
        "{\"deviceId\":\"dev1\",\"etag\":\"AAAAAAAAAAM=\","
        "\"deviceEtag\":\"MTk1NjQ2OTk4\",\"status\":\"enabled\","
        "\"statusUpdateTime\":\"0001-01-01T00:00:00Z\","
        "\"connectionState\":\"Disconnected\","
        "\"lastActivityTime\":\"0001-01-01T00:00:00Z\","
        "\"cloudToDeviceMessageCount\":2,\"authenticationType\":\"sas\","
        "\"x509Thumbprint\":{\"primaryThumbprint\":null,"
        "\"secondaryThumbprint\":null},\"modelId\":\"\",\"version\":3,"
        "\"tags\":{\"building\":\"43\"},\"properties\":{\"desired\":"
        "{\"telemetryInterval\":30,\"$metadata\":{\"$lastUpdated\":\"" T2 "\","
        "\"$lastUpdatedVersion\":2,\"telemetryInterval\":{\"$lastUpdated\":\""
        T2 "\",\"$lastUpdatedVersion\":2}},\"$version\":2},\"reported\":"
        "{\"fw\":\"1.2\",\"$metadata\":{\"$lastUpdated\":\"" T2 "\",\"fw\":"
        "{\"$lastUpdated\":\"" T2 "\"}},\"$version\":2}},"
        "\"capabilities\":{\"iotEdge\":true}}");
    free(out);

    ngx_iothub_twin_free(&t);
}


/* an empty twin, a caller's etag and every identity field set */
static void
test_service_view_fields(void **state)
{
    char                        *out;
    ngx_iothub_twin_t            t;
    ngx_iothub_twin_identity_t   id;

    (void) state;

    assert_int_equal(ngx_iothub_twin_init(&t, T1), OK);

    id.device_id = "dev1";
    id.module_id = "";
    id.device_etag = "MTk1NjQ2OTk4";
    id.etag = "E";
    id.status = "disabled";
    id.status_update_time = T1;
    id.connection_state = "Connected";
    id.last_activity_time = T2;
    id.auth_type = "selfSigned";
    id.primary_thumbprint = "P";
    id.secondary_thumbprint = "S";
    id.model_id = "dtmi:x;1";
    id.iot_edge = 0;
    id.c2d_count = 0;

    out = service_view(&t, &id, OK);
    assert_string_equal(out,
        "{\"deviceId\":\"dev1\",\"etag\":\"E\","
        "\"deviceEtag\":\"MTk1NjQ2OTk4\",\"status\":\"disabled\","
        "\"statusUpdateTime\":\"" T1 "\",\"connectionState\":\"Connected\","
        "\"lastActivityTime\":\"" T2 "\",\"cloudToDeviceMessageCount\":0,"
        "\"authenticationType\":\"selfSigned\",\"x509Thumbprint\":"
        "{\"primaryThumbprint\":\"P\",\"secondaryThumbprint\":\"S\"},"
        "\"modelId\":\"dtmi:x;1\",\"version\":1,\"tags\":{},\"properties\":"
        "{\"desired\":{\"$metadata\":{\"$lastUpdated\":\"" T1 "\"},"
        "\"$version\":1},\"reported\":{\"$metadata\":{\"$lastUpdated\":\""
        T1 "\"},\"$version\":1}},\"capabilities\":{\"iotEdge\":false}}");
    free(out);

    ngx_iothub_twin_free(&t);
}


static void
test_service_view_module(void **state)
{
    char                        *out;
    yajl_gen                     g;
    ngx_iothub_twin_t            t;
    ngx_iothub_twin_identity_t   id;

    (void) state;

    assert_int_equal(ngx_iothub_twin_init(&t, NULL), OK);

    memset(&id, 0, sizeof(id));
    id.device_id = "dev1";
    id.module_id = "mod1";

    out = service_view(&t, &id, OK);
    assert_string_equal(out,
        "{\"deviceId\":\"dev1\",\"moduleId\":\"mod1\","
        "\"etag\":\"AAAAAAAAAAE=\",\"deviceEtag\":\"\","
        "\"statusUpdateTime\":\"0001-01-01T00:00:00Z\","
        "\"connectionState\":\"Disconnected\","
        "\"lastActivityTime\":\"0001-01-01T00:00:00Z\","
        "\"cloudToDeviceMessageCount\":0,\"authenticationType\":\"sas\","
        "\"x509Thumbprint\":{\"primaryThumbprint\":null,"
        "\"secondaryThumbprint\":null},\"modelId\":\"\",\"version\":1,"
        "\"tags\":{},\"properties\":{\"desired\":{\"$metadata\":{},"
        "\"$version\":1},\"reported\":{\"$metadata\":{},\"$version\":1}}}");
    free(out);

    /* corrupt state, and a yajl_gen that cannot take a map key */
    twin_set(&t, "tags", "1");
    assert_null(service_view(&t, &id, NGX_IOTHUB_TWIN_CORRUPT));
    twin_set(&t, "tags", "{}");

    g = yajl_gen_alloc(NULL);
    assert_non_null(g);
    assert_int_equal(yajl_gen_map_open(g), yajl_gen_status_ok);
    assert_int_equal(ngx_iothub_twin_service_view(&t, &id, g, NULL, 0),
                     NGX_IOTHUB_TWIN_GEN_ERROR);
    yajl_gen_free(g);

    ngx_iothub_twin_free(&t);
}


static void
test_etag(void **state)
{
    char    buf[NGX_IOTHUB_TWIN_ETAG_LEN + 1];
    size_t  i;

    static const struct {
        int64_t      version;
        const char  *etag;
    } cases[] = {
        { 1, "AAAAAAAAAAE=" },
        { 3, "AAAAAAAAAAM=" },
        { 4, "AAAAAAAAAAQ=" },
        { 255, "AAAAAAAAAP8=" },
        { 256, "AAAAAAAAAQA=" },
        { 0x0102030405060708LL, "AQIDBAUGBwg=" },
        { INT64_MAX, "f/////////8=" },
    };

    (void) state;

    for (i = 0; i < countof(cases); i++) {
        memset(buf, 'z', sizeof(buf));
        ngx_iothub_twin_etag(cases[i].version, buf);
        assert_string_equal(buf, cases[i].etag);
    }
}


static void
test_err_buffers(void **state)
{
    char  err[8];

    (void) state;

    /* errlen 0 leaves err alone; short buffers are NUL-terminated */
    assert_int_equal(ngx_iothub_twin_validate("{\"a.b\":1}", 9, TAGS, NULL,
                                              0),
                     NGX_IOTHUB_TWIN_INVALID);
    assert_int_equal(ngx_iothub_twin_validate("{\"a.b\":1}", 9, TAGS, err,
                                              sizeof(err)),
                     NGX_IOTHUB_TWIN_INVALID);
    assert_string_equal(err, "twin pr");
}


/* names in messages are cut at a whole UTF-8 character */
static void
test_err_name_cut(void **state)
{
    char    msg[256], json[256], *p;
    size_t  i;

    (void) state;

    p = json + sprintf(json, "{\"");

    for (i = 0; i < 40; i++) {
        p += sprintf(p, "\xc3\xa9");
    }

    sprintf(p, ".\":1}");

    assert_int_equal(ngx_iothub_twin_validate(json, strlen(json), TAGS, msg,
                                              sizeof(msg)),
                     NGX_IOTHUB_TWIN_INVALID);

    /* 32 characters of 2 bytes, then "..." */
    p = strstr(msg, "...\"");
    assert_non_null(p);
    assert_int_equal(p - strchr(msg, '"') - 1, 64);
}


static int
run_table(const char *group, const void *table, size_t n, size_t size,
    CMUnitTestFunction fn)
{
    int                 rc;
    size_t              i;
    struct CMUnitTest  *tests;

    tests = calloc(n, sizeof(struct CMUnitTest));
    if (tests == NULL) {
        return 1;
    }

    for (i = 0; i < n; i++) {
        /* each row begins with its name */
        tests[i].name = *(const char *const *) ((const char *) table
                                                + i * size);
        tests[i].test_func = fn;
        tests[i].initial_state = (void *) ((const char *) table + i * size);
    }

    rc = _cmocka_run_group_tests(group, tests, n, NULL, NULL);

    free(tests);

    return rc;
}


int
main(void)
{
    int  rc;

    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_init_empty),
        cmocka_unit_test(test_fields_round_trip),
        cmocka_unit_test(test_set_field_edges),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_key_and_string_lengths),
        cmocka_unit_test(test_section_size),
        cmocka_unit_test(test_section_full),
        cmocka_unit_test(test_tags_size),
        cmocka_unit_test(test_failure_leaves_twin),
        cmocka_unit_test(test_device_view),
        cmocka_unit_test(test_notification),
        cmocka_unit_test(test_notification_flow),
        cmocka_unit_test(test_service_view_device),
        cmocka_unit_test(test_service_view_fields),
        cmocka_unit_test(test_service_view_module),
        cmocka_unit_test(test_etag),
        cmocka_unit_test(test_err_buffers),
        cmocka_unit_test(test_err_name_cut),
    };

    rc = run_table("twin merge", merge_cases, countof(merge_cases),
                   sizeof(merge_case_t), test_merge_case);

    rc |= run_table("twin checks", check_cases, countof(check_cases),
                    sizeof(check_case_t), test_check_case);

    rc |= run_table("twin service", service_cases, countof(service_cases),
                    sizeof(service_case_t), test_service_case);

    rc |= cmocka_run_group_tests_name("twin", tests, NULL, NULL);

    return rc != 0;
}
