
/*
 * Unit tests of ngx_iothub_http/ngx_iothub_http_route.c: splitting a
 * request path, matching it against the REST routes, and the service
 * API's authorization decision (auth.md 3.3).
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unit_table.h"

#include "ngx_iothub_http_route.h"


#define HOST          "hub.example.net"
#define NOW           1700000000LL
#define LATER         1800000000LL
#define EARLIER       1600000000LL

#define KEY_OWNER     "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define KEY_OWNER_2   "c2Vjb25kYXJ5LWtleS0wMTIzNDU2Nzg5YWJjZGVmZ2g="
#define KEY_READ      "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="

#define GET           NGX_IOTHUB_HTTP_GET
#define PUT           NGX_IOTHUB_HTTP_PUT
#define POST          NGX_IOTHUB_HTTP_POST
#define DELETE        NGX_IOTHUB_HTTP_DELETE
#define PATCH         NGX_IOTHUB_HTTP_PATCH
#define OTHER         NGX_IOTHUB_HTTP_OTHER

#define READ          NGX_IOTHUB_HTTP_REGISTRY_READ
#define WRITE         NGX_IOTHUB_HTTP_REGISTRY_WRITE
#define SERVICE       NGX_IOTHUB_HTTP_SERVICE_CONNECT
#define DEVICE        NGX_IOTHUB_HTTP_DEVICE


typedef struct {
    const char                   *name;
    const char                   *path;
    ngx_iothub_http_route_rc_e    rc;
    const char                   *segs;      /* joined with "|" */
} split_case_t;


typedef struct {
    const char                   *name;
    unsigned                      method;
    const char                   *path;
    ngx_iothub_http_route_rc_e    rc;
    ngx_iothub_http_route_e       route;
    unsigned                      rights;
    const char                   *device_id;
    const char                   *module_id;
} match_case_t;


typedef struct {
    const char                   *name;
    const char                   *skn;       /* NULL: a device's token */
    const char                   *key;       /* the key it is signed with */
    const char                   *resource;
    long long                     expiry;
    const char                   *path;
    unsigned                      rights;
    ngx_iothub_http_auth_rc_e     rc;
    size_t                        policy;    /* its index, when OK */
} auth_case_t;


static void test_split(void **state);
static void test_match(void **state);
static void test_authorize(void **state);
static void test_answers(void **state);
static void span_str(char *out, size_t size, const ngx_iothub_span_t *s);


static const split_case_t  split_cases[] = {
    { "one word", "/devices", NGX_IOTHUB_HTTP_ROUTE_OK, "devices" },
    { "empty path", "", NGX_IOTHUB_HTTP_ROUTE_OK, "" },
    { "the root", "/", NGX_IOTHUB_HTTP_ROUTE_OK, "" },
    { "empty segments dropped", "//devices///a//", NGX_IOTHUB_HTTP_ROUTE_OK,
      "devices|a" },
    { "no leading slash", "twins/d", NGX_IOTHUB_HTTP_ROUTE_OK, "twins|d" },
    { "six segments", "/a/b/c/d/e/f", NGX_IOTHUB_HTTP_ROUTE_OK,
      "a|b|c|d|e|f" },
    { "seven segments", "/a/b/c/d/e/f/g", NGX_IOTHUB_HTTP_ROUTE_NOT_FOUND,
      NULL },
    { "six then slashes", "/a/b/c/d/e/f///", NGX_IOTHUB_HTTP_ROUTE_OK,
      "a|b|c|d|e|f" },
};


static const match_case_t  match_cases[] = {
    { "list consumer groups", GET, "/eventHubEndpoints/events/consumerGroups",
      NGX_IOTHUB_HTTP_ROUTE_OK, NGX_IOTHUB_HTTP_ROUTE_EH_GROUPS, SERVICE,
      "", "" },
    /* the name is captured where a module id would be (segment 4) */
    { "create a consumer group", PUT,
      "/EventHubEndpoints/events/ConsumerGroups/cg1",
      NGX_IOTHUB_HTTP_ROUTE_OK, NGX_IOTHUB_HTTP_ROUTE_EH_GROUP, SERVICE,
      "", "cg1" },
    { "post to consumer groups", POST,
      "/eventHubEndpoints/events/consumerGroups",
      NGX_IOTHUB_HTTP_ROUTE_NOT_ALLOWED, 0, 0, "", "" },
    { "list devices", GET, "/devices", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_DEVICES, READ, "", "" },
    { "bulk registry", POST, "/devices", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_DEVICES, WRITE, "", "" },
    { "get a device", GET, "/devices/d1", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_DEVICE, READ, "d1", "" },
    { "put a device", PUT, "/devices/d1", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_DEVICE, WRITE, "d1", "" },
    { "delete a device", DELETE, "/devices/d1", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_DEVICE, WRITE, "d1", "" },
    { "words in any case", GET, "/DEVICES/d1", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_DEVICE, READ, "d1", "" },
    { "ids keep their case", GET, "/devices/D1/Modules/M",
      NGX_IOTHUB_HTTP_ROUTE_OK, NGX_IOTHUB_HTTP_ROUTE_MODULE, READ, "D1",
      "M" },
    { "send c2d", POST, "/devices/d1/messages/deviceBound",
      NGX_IOTHUB_HTTP_ROUTE_OK, NGX_IOTHUB_HTTP_ROUTE_C2D_SEND, SERVICE,
      "d1", "" },
    { "purge c2d", DELETE, "/devices/d1/commands", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_C2D_PURGE, SERVICE, "d1", "" },
    { "list modules", GET, "/devices/d1/modules", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_MODULES, READ, "d1", "" },
    { "put a module", PUT, "/devices/d1/modules/m1",
      NGX_IOTHUB_HTTP_ROUTE_OK, NGX_IOTHUB_HTTP_ROUTE_MODULE, WRITE, "d1",
      "m1" },
    { "patch a twin", PATCH, "/twins/d1", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_TWIN, SERVICE, "d1", "" },
    { "a module's twin", GET, "/twins/d1/modules/m1",
      NGX_IOTHUB_HTTP_ROUTE_OK, NGX_IOTHUB_HTTP_ROUTE_TWIN, SERVICE, "d1",
      "m1" },
    { "a device method", POST, "/twins/d1/methods", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_METHOD, SERVICE, "d1", "" },
    { "a module method", POST, "/twins/d1/modules/m1/methods",
      NGX_IOTHUB_HTTP_ROUTE_OK, NGX_IOTHUB_HTTP_ROUTE_METHOD, SERVICE, "d1",
      "m1" },
    { "statistics", GET, "/statistics/devices", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_STATISTICS, READ, "", "" },
    { "schedule a job", PUT, "/jobs/v2/j1", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_JOB, SERVICE, "", "" },
    { "cancel a job", POST, "/jobs/v2/j1/cancel", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_JOB, SERVICE, "", "" },
    { "query jobs", GET, "/jobs/v2/query", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_JOBS_QUERY, SERVICE, "", "" },
    { "delete a job: 405", DELETE, "/jobs/v2/j1",
      NGX_IOTHUB_HTTP_ROUTE_NOT_ALLOWED, 0, 0, NULL, NULL },
    { "query", POST, "/devices/query", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_QUERY, READ, "", "" },
    { "import/export job create", POST, "/jobs/create",
      NGX_IOTHUB_HTTP_ROUTE_OK, NGX_IOTHUB_HTTP_ROUTE_BULKJOB_CREATE, READ,
      "", "" },
    { "import/export jobs", GET, "/jobs", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_BULKJOBS, READ, "", "" },
    { "an import/export job", GET, "/jobs/j1", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_BULKJOB, READ, "j1", "" },
    { "cancel an import/export job", DELETE, "/jobs/j1",
      NGX_IOTHUB_HTTP_ROUTE_OK, NGX_IOTHUB_HTTP_ROUTE_BULKJOB, WRITE, "j1",
      "" },
    { "a job named create", GET, "/jobs/create", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_BULKJOB, READ, "create", "" },
    { "put an import/export job: 405", PUT, "/jobs/j1",
      NGX_IOTHUB_HTTP_ROUTE_NOT_ALLOWED, 0, 0, NULL, NULL },
    { "jobs v2 are not import/export jobs", GET, "/jobs/v2/j1/x",
      NGX_IOTHUB_HTTP_ROUTE_NOT_FOUND, 0, 0, NULL, NULL },
    { "a device named query", GET, "/devices/query",
      NGX_IOTHUB_HTTP_ROUTE_OK, NGX_IOTHUB_HTTP_ROUTE_DEVICE, READ, "query",
      "" },
    { "a word is a device id where the pattern has one", GET,
      "/devices/modules", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_DEVICE, READ, "modules", "" },
    { "patch a device: 405", PATCH, "/devices/d1",
      NGX_IOTHUB_HTTP_ROUTE_NOT_ALLOWED, 0, 0, NULL, NULL },
    { "an unknown method: 405", OTHER, "/devices",
      NGX_IOTHUB_HTTP_ROUTE_NOT_ALLOWED, 0, 0, NULL, NULL },
    { "a device receives c2d", GET, "/devices/d1/messages/devicebound",
      NGX_IOTHUB_HTTP_ROUTE_OK, NGX_IOTHUB_HTTP_ROUTE_C2D_RECEIVE, DEVICE,
      "d1", "" },
    { "put c2d messages: 405", PUT, "/devices/d1/messages/devicebound",
      NGX_IOTHUB_HTTP_ROUTE_NOT_ALLOWED, 0, 0, NULL, NULL },
    { "device telemetry", POST, "/devices/d1/messages/events",
      NGX_IOTHUB_HTTP_ROUTE_OK, NGX_IOTHUB_HTTP_ROUTE_D2C, DEVICE, "d1", "" },
    { "module telemetry", POST, "/devices/d1/modules/m1/messages/events",
      NGX_IOTHUB_HTTP_ROUTE_OK, NGX_IOTHUB_HTTP_ROUTE_D2C, DEVICE, "d1",
      "m1" },
    { "get telemetry: 405", GET, "/devices/d1/messages/events",
      NGX_IOTHUB_HTTP_ROUTE_NOT_ALLOWED, 0, 0, NULL, NULL },
    { "complete or reject c2d", DELETE,
      "/devices/d1/messages/deviceBound/0f-lock", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_C2D_SETTLE, DEVICE, "d1", "" },
    { "abandon c2d", POST,
      "/devices/d1/messages/deviceBound/0f-lock/abandon",
      NGX_IOTHUB_HTTP_ROUTE_OK, NGX_IOTHUB_HTTP_ROUTE_C2D_SETTLE, DEVICE,
      "d1", "" },
    { "file upload", POST, "/devices/d1/files", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_FILES, DEVICE, "d1", "" },
    { "file upload, C's trailing slash", POST, "/devices/d1/files/",
      NGX_IOTHUB_HTTP_ROUTE_OK, NGX_IOTHUB_HTTP_ROUTE_FILES, DEVICE, "d1",
      "" },
    { "upload notification, C", POST, "/devices/d1/files/notifications",
      NGX_IOTHUB_HTTP_ROUTE_OK, NGX_IOTHUB_HTTP_ROUTE_FILES_NOTIFY, DEVICE,
      "d1", "" },
    { "upload notification, Node", POST,
      "/devices/d1/files/notifications/0123abc", NGX_IOTHUB_HTTP_ROUTE_OK,
      NGX_IOTHUB_HTTP_ROUTE_FILES_NOTIFY, DEVICE, "d1", "" },
    { "get files: 405", GET, "/devices/d1/files",
      NGX_IOTHUB_HTTP_ROUTE_NOT_ALLOWED, 0, 0, NULL, NULL },
    { "delete abandon: 405", DELETE,
      "/devices/d1/messages/deviceBound/0f-lock/abandon",
      NGX_IOTHUB_HTTP_ROUTE_NOT_ALLOWED, 0, 0, NULL, NULL },
    { "the root: 404", GET, "/", NGX_IOTHUB_HTTP_ROUTE_NOT_FOUND, 0, 0,
      NULL, NULL },
    { "an unknown word: 404", GET, "/device/d1",
      NGX_IOTHUB_HTTP_ROUTE_NOT_FOUND, 0, 0, NULL, NULL },
    { "a word is not a prefix: 404", GET, "/devicesx",
      NGX_IOTHUB_HTTP_ROUTE_NOT_FOUND, 0, 0, NULL, NULL },
    { "one segment too many: 404", GET, "/twins/d1/modules/m1/methods/x",
      NGX_IOTHUB_HTTP_ROUTE_NOT_FOUND, 0, 0, NULL, NULL },
};


static const ngx_iothub_http_policy_t  policies[] = {
    { { 11, (const unsigned char *) "iothubowner" },
      { sizeof(KEY_OWNER) - 1, (const unsigned char *) KEY_OWNER },
      { sizeof(KEY_OWNER_2) - 1, (const unsigned char *) KEY_OWNER_2 },
      READ|WRITE|SERVICE },
    { { 12, (const unsigned char *) "registryRead" },
      { sizeof(KEY_READ) - 1, (const unsigned char *) KEY_READ },
      { 0, NULL },
      READ },
};


static const auth_case_t  auth_cases[] = {
    { "owner, primary key", "iothubowner", KEY_OWNER, HOST, LATER,
      "/devices/d1", WRITE, NGX_IOTHUB_HTTP_AUTH_OK, 0 },
    { "owner, secondary key", "iothubowner", KEY_OWNER_2, HOST, LATER,
      "/devices/d1", SERVICE, NGX_IOTHUB_HTTP_AUTH_OK, 0 },
    { "read policy reads", "registryRead", KEY_READ, HOST, LATER,
      "/devices", READ, NGX_IOTHUB_HTTP_AUTH_OK, 1 },
    { "a device path covers what is below it", "iothubowner", KEY_OWNER,
      HOST "/devices/d1", LATER, "/devices/d1/modules/m1", READ,
      NGX_IOTHUB_HTTP_AUTH_OK, 0 },
    { "host in another case", "iothubowner", KEY_OWNER, "HUB.example.NET",
      LATER, "/devices", READ, NGX_IOTHUB_HTTP_AUTH_OK, 0 },
    { "a device token", NULL, KEY_OWNER, HOST "/devices/d1", LATER,
      "/devices/d1", READ, NGX_IOTHUB_HTTP_AUTH_DEVICE_TOKEN, 0 },
    { "unknown policy", "nobody", KEY_OWNER, HOST, LATER, "/devices", READ,
      NGX_IOTHUB_HTTP_AUTH_UNKNOWN_POLICY, 0 },
    { "policy names are case-sensitive", "IoTHubOwner", KEY_OWNER, HOST,
      LATER, "/devices", READ, NGX_IOTHUB_HTTP_AUTH_UNKNOWN_POLICY, 0 },
    { "another policy's key", "iothubowner", KEY_READ, HOST, LATER,
      "/devices", READ, NGX_IOTHUB_HTTP_AUTH_BAD_SIGNATURE, 0 },
    { "bad signature before expiry", "registryRead", KEY_OWNER, HOST,
      EARLIER, "/devices", READ, NGX_IOTHUB_HTTP_AUTH_BAD_SIGNATURE, 0 },
    { "expired", "iothubowner", KEY_OWNER, HOST, EARLIER, "/devices", READ,
      NGX_IOTHUB_HTTP_AUTH_EXPIRED, 0 },
    { "expiring now", "iothubowner", KEY_OWNER, HOST, NOW, "/devices", READ,
      NGX_IOTHUB_HTTP_AUTH_EXPIRED, 0 },
    { "another hub", "iothubowner", KEY_OWNER, "other.example.net", LATER,
      "/devices", READ, NGX_IOTHUB_HTTP_AUTH_NOT_COVERED, 0 },
    { "another device", "iothubowner", KEY_OWNER, HOST "/devices/d1", LATER,
      "/devices/d2", READ, NGX_IOTHUB_HTTP_AUTH_NOT_COVERED, 0 },
    { "a longer id is not below", "iothubowner", KEY_OWNER,
      HOST "/devices/d1", LATER, "/devices/d12", READ,
      NGX_IOTHUB_HTTP_AUTH_NOT_COVERED, 0 },
    { "read policy cannot write", "registryRead", KEY_READ, HOST, LATER,
      "/devices/d1", WRITE, NGX_IOTHUB_HTTP_AUTH_NO_RIGHT, 1 },
    { "read policy cannot connect", "registryRead", KEY_READ, HOST, LATER,
      "/twins/d1", SERVICE, NGX_IOTHUB_HTTP_AUTH_NO_RIGHT, 1 },
};


static void
test_split(void **state)
{
    const split_case_t *c = *state;

    char                        segs[256], *p;
    size_t                      i;
    ngx_iothub_http_path_t      path;
    ngx_iothub_http_route_rc_e  rc;

    rc = ngx_iothub_http_path_split(&path, (const unsigned char *) c->path,
                                    strlen(c->path));
    assert_int_equal(rc, c->rc);

    if (rc != NGX_IOTHUB_HTTP_ROUTE_OK) {
        return;
    }

    p = segs;
    *p = '\0';

    for (i = 0; i < path.nseg; i++) {
        p += snprintf(p, segs + sizeof(segs) - p, "%s%.*s", i ? "|" : "",
                      (int) path.seg[i].len, path.seg[i].data);
    }

    assert_string_equal(segs, c->segs);
}


static void
test_match(void **state)
{
    const match_case_t *c = *state;

    char                        id[64];
    ngx_iothub_http_path_t      path;
    ngx_iothub_http_match_t     m;
    ngx_iothub_http_route_rc_e  rc;

    assert_int_equal(ngx_iothub_http_path_split(&path,
                         (const unsigned char *) c->path, strlen(c->path)),
                     NGX_IOTHUB_HTTP_ROUTE_OK);

    rc = ngx_iothub_http_route_match(&path, c->method, &m);
    assert_int_equal(rc, c->rc);

    if (rc != NGX_IOTHUB_HTTP_ROUTE_OK) {
        return;
    }

    assert_int_equal(m.route, c->route);
    assert_int_equal(m.rights, c->rights);

    span_str(id, sizeof(id), &m.device_id);
    assert_string_equal(id, c->device_id);

    span_str(id, sizeof(id), &m.module_id);
    assert_string_equal(id, c->module_id);
}


static void
test_authorize(void **state)
{
    const auth_case_t *c = *state;

    int                        n;
    char                       token[1024];
    size_t                     policy;
    ngx_iothub_sas_token_t     t;
    ngx_iothub_http_access_t   a;
    ngx_iothub_http_auth_rc_e  rc;

    n = ngx_iothub_sas_make(token, sizeof(token), c->resource, c->key,
                            c->skn, c->expiry);
    assert_true(n > 0);

    assert_int_equal(ngx_iothub_sas_parse(&t, (unsigned char *) token, n),
                     NGX_IOTHUB_SAS_OK);

    a.host = HOST;
    a.path = (const unsigned char *) c->path;
    a.path_len = strlen(c->path);
    a.now = NOW;
    a.rights = c->rights;

    policy = 99;

    rc = ngx_iothub_http_authorize(&t, policies, 2, &a, &policy);
    assert_int_equal(rc, c->rc);

    if (rc == NGX_IOTHUB_HTTP_AUTH_OK) {
        assert_int_equal(policy, c->policy);

    } else {
        assert_int_equal(policy, 99);
    }

    /* no policies at all: every policy token is of an unknown policy */

    rc = ngx_iothub_http_authorize(&t, policies, 0, &a, NULL);
    assert_int_equal(rc, c->skn ? NGX_IOTHUB_HTTP_AUTH_UNKNOWN_POLICY
                                : NGX_IOTHUB_HTTP_AUTH_DEVICE_TOKEN);
}


/* a caller cannot tell an unknown policy from a bad signature */

static void
test_answers(void **state)
{
    (void) state;

    assert_string_equal(
        ngx_iothub_http_auth_answer(NGX_IOTHUB_HTTP_AUTH_UNKNOWN_POLICY),
        ngx_iothub_http_auth_answer(NGX_IOTHUB_HTTP_AUTH_BAD_SIGNATURE));
    assert_string_not_equal(
        ngx_iothub_http_auth_reason(NGX_IOTHUB_HTTP_AUTH_UNKNOWN_POLICY),
        ngx_iothub_http_auth_reason(NGX_IOTHUB_HTTP_AUTH_BAD_SIGNATURE));
    assert_string_equal(
        ngx_iothub_http_auth_answer(NGX_IOTHUB_HTTP_AUTH_EXPIRED),
        "expired SAS token");
    assert_string_equal(
        ngx_iothub_http_auth_answer(NGX_IOTHUB_HTTP_AUTH_NO_RIGHT),
        "the policy lacks the right for this operation");
}


static void
span_str(char *out, size_t size, const ngx_iothub_span_t *s)
{
    snprintf(out, size, "%.*s", (int) s->len,
             s->len ? (const char *) s->data : "");
}


typedef struct {
    const char  *name;
    const char  *in;
    const char  *etag;
} if_match_case_t;


static const if_match_case_t  if_match_cases[] = {
    { "quoted", "\"AAAAAAAAAAE=\"", "AAAAAAAAAAE=" },
    { "bare", "AAAAAAAAAAE=", "AAAAAAAAAAE=" },
    { "weak", "W/\"MQ==\"", "MQ==" },
    { "any", "\"*\"", "*" },
    { "empty quotes", "\"\"", "" },
    { "one quote", "\"", "\"" },
    { "W/ alone", "W/", "" },
    { "unbalanced", "\"abc", "\"abc" },
    { "quotes once", "\"\"x\"\"", "\"x\"" },
    { "empty", "", "" },
};


static void
test_if_match(void **state)
{
    ngx_iothub_span_t        etag;
    const if_match_case_t   *c = *state;

    ngx_iothub_http_if_match((const unsigned char *) c->in, strlen(c->in),
                             &etag);

    assert_int_equal(etag.len, strlen(c->etag));
    assert_memory_equal(etag.data, c->etag, etag.len);
}


int
main(void)
{
    int                      failed;
    size_t                   i;
    static const table_t     tables[] = {
        TABLE("path split", test_split, split_cases),
        TABLE("route match", test_match, match_cases),
        TABLE("authorization", test_authorize, auth_cases),
        TABLE("If-Match", test_if_match, if_match_cases),
    };
    const struct CMUnitTest  answers[] = {
        cmocka_unit_test(test_answers),
    };

    failed = 0;

    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        failed += run_table(&tables[i]);
    }

    failed += cmocka_run_group_tests_name("auth answers", answers, NULL,
                                          NULL);

    return failed ? 1 : 0;
}
