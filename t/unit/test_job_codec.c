
/*
 * Unit tests of shared/ngx_iothub_job_codec.c: the jobs v2 request parser,
 * times, the conditions that name their devices, the job record's decoder
 * and JSON, and the devices.jobs record.  "make unit" builds and runs them.
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

#include "ngx_iothub_job_codec.h"


typedef struct {
    const char   *name;
    const char   *path_id;
    const char   *body;
    int           rc;             /* ngx_iothub_job_rc_e */
    const char   *err;            /* the start of the error text */
    int           type;
    const char   *spec;
    long long     start_ms;
    long long     max_execution;
} request_case_t;


typedef struct {
    const char   *name;
    const char   *text;
    long long     ms;
} time_case_t;


typedef struct {
    const char   *name;
    const char   *cond;
    int           named;
    const char   *ids;            /* joined by "," */
} ids_case_t;


#define TWIN_BODY(extra)                                                      \
    "{\"jobId\":\"j1\",\"type\":\"scheduleUpdateTwin\","                      \
    "\"queryCondition\":\"deviceId = 'd1'\","                                 \
    "\"updateTwin\":{\"etag\":\"*\",\"tags\":{\"k\":\"v\"}}" extra "}"

#define METHOD_BODY(method)                                                   \
    "{\"jobId\":\"j1\",\"type\":\"scheduleDeviceMethod\","                    \
    "\"queryCondition\":\"deviceId = 'd1'\","                                 \
    "\"cloudToDeviceMethod\":" method "}"


static const request_case_t  request_cases[] = {
    { "request: twin job as Node sends it", "j1",
      TWIN_BODY(",\"startTime\":\"2024-01-02T10:11:12.000Z\","
                "\"maxExecutionTimeInSeconds\":120"),
      NGX_IOTHUB_JOB_OK, NULL, NGX_IOTHUB_JOB_TWIN,
      "{\"etag\":\"*\",\"tags\":{\"k\":\"v\"}}", 1704190272000LL, 120 },
    { "request: defaults: start now, 3600 s", "j1", TWIN_BODY(""),
      NGX_IOTHUB_JOB_OK, NULL, NGX_IOTHUB_JOB_TWIN, NULL, -1, 3600 },
    { "request: null start and max", "j1",
      TWIN_BODY(",\"startTime\":null,\"maxExecutionTimeInSeconds\":null"),
      NGX_IOTHUB_JOB_OK, NULL, NGX_IOTHUB_JOB_TWIN, NULL, -1, 3600 },
    { "request: no jobId in the body", "j1",
      "{\"type\":\"scheduleUpdateTwin\",\"queryCondition\":\"x = 1\","
      "\"updateTwin\":{}}",
      NGX_IOTHUB_JOB_OK, NULL, NGX_IOTHUB_JOB_TWIN, "{}", -1, 3600 },
    { "request: method with defaults", "j1",
      METHOD_BODY("{\"methodName\":\"reboot\"}"), NGX_IOTHUB_JOB_OK, NULL,
      NGX_IOTHUB_JOB_METHOD,
      "{\"methodName\":\"reboot\",\"payload\":null,"
      "\"responseTimeoutInSeconds\":30,\"connectTimeoutInSeconds\":0}",
      -1, 3600 },
    { "request: method with payload and timeouts", "j1",
      METHOD_BODY("{\"methodName\":\"m\",\"payload\":{\"a\":[1,\"x\"]},"
                  "\"responseTimeoutInSeconds\":5,"
                  "\"connectTimeoutInSeconds\":2}"),
      NGX_IOTHUB_JOB_OK, NULL, NGX_IOTHUB_JOB_METHOD,
      "{\"methodName\":\"m\",\"payload\":{\"a\":[1,\"x\"]},"
      "\"responseTimeoutInSeconds\":5,\"connectTimeoutInSeconds\":2}",
      -1, 3600 },
    { "request: not JSON", "j1", "{\"jobId\":", NGX_IOTHUB_JOB_BAD_JSON,
      "the job request is not", 0, NULL, 0, 0 },
    { "request: an array", "j1", "[]", NGX_IOTHUB_JOB_BAD_JSON,
      "the job request is not", 0, NULL, 0, 0 },
    { "request: jobId differs from the path", "j2", TWIN_BODY(""),
      NGX_IOTHUB_JOB_INVALID, "jobId does not match", 0, NULL, 0, 0 },
    { "request: invalid path id", "j 1", TWIN_BODY(""),
      NGX_IOTHUB_JOB_INVALID, "invalid jobId", 0, NULL, 0, 0 },
    { "request: unknown type", "j1",
      "{\"type\":\"export\",\"queryCondition\":\"x = 1\"}",
      NGX_IOTHUB_JOB_INVALID, "type must be", 0, NULL, 0, 0 },
    { "request: no condition", "j1",
      "{\"type\":\"scheduleUpdateTwin\",\"updateTwin\":{}}",
      NGX_IOTHUB_JOB_INVALID, "queryCondition must be", 0, NULL, 0, 0 },
    { "request: empty condition", "j1",
      "{\"type\":\"scheduleUpdateTwin\",\"queryCondition\":\"\","
      "\"updateTwin\":{}}",
      NGX_IOTHUB_JOB_INVALID, "queryCondition must be", 0, NULL, 0, 0 },
    { "request: no updateTwin", "j1",
      "{\"type\":\"scheduleUpdateTwin\",\"queryCondition\":\"x = 1\"}",
      NGX_IOTHUB_JOB_INVALID, "updateTwin must be", 0, NULL, 0, 0 },
    { "request: no method", "j1",
      "{\"type\":\"scheduleDeviceMethod\",\"queryCondition\":\"x = 1\"}",
      NGX_IOTHUB_JOB_INVALID, "cloudToDeviceMethod must be", 0, NULL, 0, 0 },
    { "request: empty method name", "j1",
      METHOD_BODY("{\"methodName\":\"\"}"), NGX_IOTHUB_JOB_INVALID,
      "cloudToDeviceMethod.methodName", 0, NULL, 0, 0 },
    { "request: response timeout over 300", "j1",
      METHOD_BODY("{\"methodName\":\"m\",\"responseTimeoutInSeconds\":301}"),
      NGX_IOTHUB_JOB_INVALID, "method timeouts", 0, NULL, 0, 0 },
    { "request: negative connect timeout", "j1",
      METHOD_BODY("{\"methodName\":\"m\",\"connectTimeoutInSeconds\":-1}"),
      NGX_IOTHUB_JOB_INVALID, "method timeouts", 0, NULL, 0, 0 },
    { "request: start not a time", "j1",
      TWIN_BODY(",\"startTime\":\"soon\""), NGX_IOTHUB_JOB_INVALID,
      "startTime must be", 0, NULL, 0, 0 },
    { "request: start a number", "j1", TWIN_BODY(",\"startTime\":5"),
      NGX_IOTHUB_JOB_INVALID, "startTime must be", 0, NULL, 0, 0 },
    { "request: max 0", "j1", TWIN_BODY(",\"maxExecutionTimeInSeconds\":0"),
      NGX_IOTHUB_JOB_INVALID, "maxExecutionTimeInSeconds", 0, NULL, 0, 0 },
    { "request: max a fraction", "j1",
      TWIN_BODY(",\"maxExecutionTimeInSeconds\":1.5"),
      NGX_IOTHUB_JOB_INVALID, "maxExecutionTimeInSeconds", 0, NULL, 0, 0 },
    { "request: too deep", "j1",
      "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]"
      "]]]]]]]]]]]}", NGX_IOTHUB_JOB_INVALID, "the job request nests", 0,
      NULL, 0, 0 },
};


static const time_case_t  time_cases[] = {
    { "time: epoch", "1970-01-01T00:00:00Z", 0 },
    { "time: milliseconds", "2024-01-02T10:11:12.345Z", 1704190272345LL },
    { "time: 7 digits", "2024-01-02T10:11:12.3456789Z", 1704190272345LL },
    { "time: one digit", "2024-01-02T10:11:12.3Z", 1704190272300LL },
    { "time: +00:00", "2024-02-29T00:00:00+00:00", 1709164800000LL },
    { "time: no zone", "2024-01-02T10:11:12", -1 },
    { "time: other zone", "2024-01-02T10:11:12+01:00", -1 },
    { "time: month 13", "2024-13-02T10:11:12Z", -1 },
    { "time: before 1970", "1969-12-31T23:59:59Z", -1 },
    { "time: empty fraction", "2024-01-02T10:11:12.Z", -1 },
    { "time: trailing", "2024-01-02T10:11:12Zx", -1 },
    { "time: date only", "2024-01-02", -1 },
    { "time: empty", "", -1 },
};


static const ids_case_t  ids_cases[] = {
    { "ids: equality", "deviceId = 'd1'", 1, "d1" },
    { "ids: double quotes, any case, devices.", "  DEVICES.DeviceID=\"d1\" ",
      1, "d1" },
    { "ids: IN, sorted, no duplicates", "deviceId IN ['d3', 'd1','d3' ,'d2']",
      1, "d1,d2,d3" },
    { "ids: IN without space", "deviceId IN['a']", 1, "a" },
    { "ids: doubled quote", "deviceId = 'it''s'", 1, "it's" },
    { "ids: AND", "deviceId = 'd1' AND status = 'enabled'", 0, NULL },
    { "ids: other field", "moduleId = 'm1'", 0, NULL },
    { "ids: longer field name", "deviceIdX = 'm1'", 0, NULL },
    { "ids: NIN", "deviceId NIN ['d1']", 0, NULL },
    { "ids: number", "deviceId = 1", 0, NULL },
    { "ids: invalid id", "deviceId = 'a b'", 0, NULL },
    { "ids: unterminated", "deviceId = 'd1", 0, NULL },
    { "ids: open list", "deviceId IN ['d1',", 0, NULL },
    { "ids: empty list", "deviceId IN []", 0, NULL },
    { "ids: INTO", "deviceId INTO ['d1']", 0, NULL },
};


static void
test_request(void **state)
{
    const request_case_t *c = *state;

    char                      err[256];
    ngx_iothub_job_rc_e       rc;
    ngx_iothub_job_request_t  req;

    err[0] = '\0';
    rc = ngx_iothub_job_request_parse(c->body, strlen(c->body), c->path_id,
                                      strlen(c->path_id), &req, err,
                                      sizeof(err));
    assert_int_equal(rc, c->rc);

    if (rc != NGX_IOTHUB_JOB_OK) {
        assert_true(strncmp(err, c->err, strlen(c->err)) == 0);
        assert_null(req.job_id);
        assert_null(req.spec);
        return;
    }

    assert_string_equal(req.job_id, c->path_id);
    assert_int_equal(req.type, c->type);
    assert_int_equal(req.start_ms, c->start_ms);
    assert_int_equal(req.max_execution, c->max_execution);

    if (c->spec) {
        assert_string_equal(req.spec, c->spec);
    }

    ngx_iothub_job_request_free(&req);
}


static void
test_method_spec(void **state)
{
    char                      err[128];
    ngx_iothub_job_method_t   m;
    ngx_iothub_job_request_t  req;

    (void) state;

    assert_int_equal(ngx_iothub_job_request_parse(
        METHOD_BODY("{\"methodName\":\"m\",\"payload\":\"x\","
                    "\"responseTimeoutInSeconds\":7}"),
        strlen(METHOD_BODY("{\"methodName\":\"m\",\"payload\":\"x\","
                           "\"responseTimeoutInSeconds\":7}")),
        "j1", 2, &req, err, sizeof(err)), NGX_IOTHUB_JOB_OK);

    /* the runner reads back what the store kept */

    assert_int_equal(ngx_iothub_job_method_parse(req.spec, strlen(req.spec),
                                                 &m, err, sizeof(err)),
                     NGX_IOTHUB_JOB_OK);
    assert_string_equal(m.name, "m");
    assert_string_equal(m.payload, "\"x\"");
    assert_int_equal(m.response_timeout, 7);
    assert_int_equal(m.connect_timeout, 0);

    ngx_iothub_job_method_free(&m);
    ngx_iothub_job_request_free(&req);

    assert_int_equal(ngx_iothub_job_method_parse("{", 1, &m, err,
                                                 sizeof(err)),
                     NGX_IOTHUB_JOB_BAD_JSON);
}


static void
test_time(void **state)
{
    const time_case_t *c = *state;

    char  buf[32];

    assert_int_equal(ngx_iothub_job_parse_time(c->text, strlen(c->text)),
                     c->ms);

    if (c->ms >= 0) {
        ngx_iothub_job_format_time(c->ms, buf);
        assert_int_equal(ngx_iothub_job_parse_time(buf, strlen(buf)), c->ms);
    }
}


static void
test_ids(void **state)
{
    const ids_case_t *c = *state;

    char    **ids, joined[256];
    size_t    n, i;

    assert_int_equal(ngx_iothub_job_condition_ids(c->cond, strlen(c->cond),
                                                  &ids, &n),
                     c->named);

    if (!c->named) {
        assert_null(ids);
        assert_int_equal(n, 0);
        return;
    }

    joined[0] = '\0';

    for (i = 0; i < n; i++) {
        strcat(joined, i ? "," : "");
        strcat(joined, ids[i]);
    }

    assert_string_equal(joined, c->ids);

    ngx_iothub_job_ids_free(ids, n);
}


/* a hiredis-shaped reply of field/value pairs, for the decoders */

static redisReply *
make_hash(const char **kv, size_t n)
{
    size_t       i;
    redisReply  *r;

    r = calloc(1, sizeof(redisReply));
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = calloc(n, sizeof(redisReply *));

    for (i = 0; i < n; i++) {
        r->element[i] = calloc(1, sizeof(redisReply));
        r->element[i]->type = REDIS_REPLY_STRING;
        r->element[i]->str = (char *) kv[i];
        r->element[i]->len = strlen(kv[i]);
    }

    return r;
}


static void
free_hash(redisReply *r)
{
    size_t  i;

    for (i = 0; i < r->elements; i++) {
        free(r->element[i]);
    }

    free(r->element);
    free(r);
}


/* pendingCount: deviceCount less the devices done or in flight */

static long long
pending_of(const char *status, const char *devices, const char *succeeded,
    const char *failed, const char *running)
{
    long long                 n;
    redisReply               *r;
    ngx_iothub_job_record_t   rec;

    const char  *kv[] = {
        "jobId", "j1", "type", "scheduleUpdateTwin", "status", status,
        "deviceCount", devices, "succeededCount", succeeded,
        "failedCount", failed, "runningCount", running
    };

    r = make_hash(kv, sizeof(kv) / sizeof(kv[0]));
    assert_int_equal(ngx_iothub_job_reply_record(r, &rec),
                     NGX_IOTHUB_REPLY_OK);
    n = ngx_iothub_job_pending(&rec);
    free_hash(r);

    return n;
}


static void
test_pending(void **state)
{
    (void) state;

    assert_int_equal(pending_of("running", "250", "100", "20", "10"), 120);
    assert_int_equal(pending_of("running", "250", "0", "0", "0"), 250);
    assert_int_equal(pending_of("queued", "0", "0", "0", "0"), 0);

    /* devices added after the count: never negative */
    assert_int_equal(pending_of("running", "3", "3", "1", "2"), 0);

    /* what a cancelled or failed job did not reach stays pending */
    assert_int_equal(pending_of("cancelled", "10", "4", "0", "0"), 6);
    assert_int_equal(pending_of("failed", "10", "4", "1", "0"), 5);

    /* a completed job skipped the devices deleted meanwhile */
    assert_int_equal(pending_of("completed", "10", "8", "1", "0"), 0);

    /* counts that are not numbers count as 0 */
    assert_int_equal(pending_of("running", "12", "x", "-1", ""), 12);
    assert_int_equal(pending_of("running", "9999999999999999999", "0", "0",
                                "0"), 0);
}


static void
test_record_json(void **state)
{
    size_t                    len;
    yajl_gen                  g;
    redisReply               *r, empty;
    const unsigned char      *buf;
    ngx_iothub_job_record_t   rec;

    static const char  *kv[] = {
        "jobId", "j1", "type", "scheduleDeviceMethod",
        "queryCondition", "deviceId = 'd1'",
        "spec", "{\"methodName\":\"m\",\"payload\":null}",
        "status", "completed", "createdTime", "2024-01-02T10:11:12.000Z",
        "startTime", "2024-01-02T10:11:13.000Z",
        "endTime", "2024-01-02T10:11:14.000Z",
        "maxExecutionTimeInSeconds", "60", "deviceCount", "2",
        "failedCount", "1", "succeededCount", "1", "runningCount", "x",
        "owner", "someone", "unknown", "ignored"
    };

    (void) state;

    r = make_hash(kv, sizeof(kv) / sizeof(kv[0]));
    assert_int_equal(ngx_iothub_job_reply_record(r, &rec),
                     NGX_IOTHUB_REPLY_OK);

    g = yajl_gen_alloc(NULL);
    assert_int_equal(ngx_iothub_job_emit(g, &rec), NGX_IOTHUB_JOB_OK);
    yajl_gen_get_buf(g, &buf, &len);

    assert_string_equal((const char *) buf,
        "{\"jobId\":\"j1\",\"type\":\"scheduleDeviceMethod\","
        "\"queryCondition\":\"deviceId = 'd1'\","
        "\"createdTime\":\"2024-01-02T10:11:12.000Z\","
        "\"startTime\":\"2024-01-02T10:11:13.000Z\","
        "\"endTime\":\"2024-01-02T10:11:14.000Z\","
        "\"maxExecutionTimeInSeconds\":60,\"status\":\"completed\","
        "\"failureReason\":null,\"statusMessage\":null,"
        "\"cloudToDeviceMethod\":{\"methodName\":\"m\",\"payload\":null},"
        "\"deviceJobStatistics\":{\"deviceCount\":2,\"failedCount\":1,"
        "\"succeededCount\":1,\"runningCount\":0,\"pendingCount\":0}}");

    yajl_gen_free(g);
    free_hash(r);

    /* no such job, a job without status, an odd array, an error */

    memset(&empty, 0, sizeof(empty));
    empty.type = REDIS_REPLY_ARRAY;
    assert_int_equal(ngx_iothub_job_reply_record(&empty, &rec),
                     NGX_IOTHUB_REPLY_NIL);

    r = make_hash(kv, 4);
    assert_int_equal(ngx_iothub_job_reply_record(r, &rec),
                     NGX_IOTHUB_REPLY_MALFORMED);
    free_hash(r);

    r = make_hash(kv, 3);
    assert_int_equal(ngx_iothub_job_reply_record(r, &rec),
                     NGX_IOTHUB_REPLY_MALFORMED);
    free_hash(r);

    /* query_jobs.lua: the next device id, then records */

    {
        size_t                  n;
        ngx_iothub_reply_str_t  next, json;

        static const char  *rows[] = { "d9", "{\"deviceId\":\"d1\"}", "{}" };

        r = make_hash(rows, 3);
        assert_int_equal(ngx_iothub_job_reply_rows(r, &next, &n),
                         NGX_IOTHUB_REPLY_OK);
        assert_int_equal(n, 2);
        assert_int_equal(next.len, 2);
        ngx_iothub_job_reply_row(r, 1, &json);
        assert_int_equal(json.len, 2);
        free_hash(r);

        r = make_hash(rows, 1);
        assert_int_equal(ngx_iothub_job_reply_rows(r, &next, &n),
                         NGX_IOTHUB_REPLY_OK);
        assert_int_equal(n, 0);
        free_hash(r);

        empty.type = REDIS_REPLY_ARRAY;
        empty.elements = 0;
        assert_int_equal(ngx_iothub_job_reply_rows(&empty, &next, &n),
                         NGX_IOTHUB_REPLY_MALFORMED);
    }

    empty.type = REDIS_REPLY_ERROR;
    empty.str = "EXISTS";
    empty.len = 6;
    assert_int_equal(ngx_iothub_job_reply_record(&empty, &rec),
                     NGX_IOTHUB_REPLY_EXISTS);
    assert_int_equal(ngx_iothub_job_reply_record(NULL, &rec),
                     NGX_IOTHUB_REPLY_LOST);
}


static void
test_device_json(void **state)
{
    char                     *out;
    ngx_iothub_job_device_t   d;

    (void) state;

    memset(&d, 0, sizeof(d));
    d.device_id = "d1";
    d.job_id = "j1";
    d.type = NGX_IOTHUB_JOB_METHOD;
    d.succeeded = 1;
    d.start = "S";
    d.end = "E";
    d.created = "C";
    d.answered = 1;
    d.method_status = 200;
    d.method_payload = "{\"x\":[1]}";

    assert_int_equal(ngx_iothub_job_device_json(&d, &out), NGX_IOTHUB_JOB_OK);
    assert_string_equal(out,
        "{\"deviceId\":\"d1\",\"jobId\":\"j1\","
        "\"jobType\":\"scheduleDeviceMethod\",\"status\":\"completed\","
        "\"startTimeUtc\":\"S\",\"endTimeUtc\":\"E\","
        "\"createdDateTimeUtc\":\"C\",\"lastUpdatedDateTimeUtc\":\"E\","
        "\"outcome\":{\"deviceMethodResponse\":{\"status\":200,"
        "\"payload\":{\"x\":[1]}}}}");
    free(out);

    /* an answer that is not JSON is a string; an empty one null */

    d.method_payload = "not json";
    assert_int_equal(ngx_iothub_job_device_json(&d, &out), NGX_IOTHUB_JOB_OK);
    assert_non_null(strstr(out, "\"payload\":\"not json\"}"));
    free(out);

    d.method_payload = "";
    assert_int_equal(ngx_iothub_job_device_json(&d, &out), NGX_IOTHUB_JOB_OK);
    assert_non_null(strstr(out, "\"payload\":null}"));
    free(out);

    memset(&d, 0, sizeof(d));
    d.device_id = "d2";
    d.job_id = "j1";
    d.type = NGX_IOTHUB_JOB_TWIN;
    d.start = "S";
    d.end = "E";
    d.created = "C";
    d.error_code = "DeviceNotOnline";
    d.error_description = "offline";

    assert_int_equal(ngx_iothub_job_device_json(&d, &out), NGX_IOTHUB_JOB_OK);
    assert_string_equal(out,
        "{\"deviceId\":\"d2\",\"jobId\":\"j1\","
        "\"jobType\":\"scheduleUpdateTwin\",\"status\":\"failed\","
        "\"startTimeUtc\":\"S\",\"endTimeUtc\":\"E\","
        "\"createdDateTimeUtc\":\"C\",\"lastUpdatedDateTimeUtc\":\"E\","
        "\"error\":{\"code\":\"DeviceNotOnline\","
        "\"description\":\"offline\"}}");
    free(out);
}


int
main(void)
{
    int     failed;
    size_t  i;

    const struct CMUnitTest  others[] = {
        cmocka_unit_test(test_method_spec),
        cmocka_unit_test(test_record_json),
        cmocka_unit_test(test_pending),
        cmocka_unit_test(test_device_json),
    };

    static const table_t  tables[] = {
        TABLE("job requests", test_request, request_cases),
        TABLE("times", test_time, time_cases),
        TABLE("conditions naming devices", test_ids, ids_cases),
    };

    failed = 0;

    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        failed += run_table(&tables[i]);
    }

    failed += cmocka_run_group_tests_name("records", others, NULL, NULL);

    return failed ? 1 : 0;
}
