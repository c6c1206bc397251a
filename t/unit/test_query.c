
/*
 * Unit tests of shared/ngx_iothub_query_parse.c and _eval.c (rest.md 9):
 * every row runs one query over the fixture twins below, in their order,
 * and compares the rows (a JSON array, as POST /devices/query answers) or
 * the refusal and its message.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "ngx_iothub_query.h"
#include "unit_table.h"


#define TWIN(id, status, conn, tags, desired, reported)                       \
    "{\"deviceId\":\"" id "\",\"etag\":\"AAAAAAAAAAE=\","                     \
    "\"status\":\"" status "\",\"connectionState\":\"" conn "\","             \
    "\"lastActivityTime\":\"0001-01-01T00:00:00Z\","                          \
    "\"cloudToDeviceMessageCount\":0,\"version\":2,"                          \
    "\"tags\":" tags ",\"properties\":{\"desired\":" desired ","              \
    "\"reported\":" reported "}}"


static const char  *fixtures[] = {
    TWIN("d1", "enabled", "Connected",
         "{\"location\":{\"region\":\"US\",\"plant\":\"p1\"},\"floor\":3}",
         "{\"interval\":30,\"$version\":2}",
         "{\"battery\":15,\"fw\":\"1.2\",\"$version\":3}"),
    TWIN("d2", "enabled", "Disconnected",
         "{\"location\":{\"region\":\"EU\",\"plant\":\"p2\"},\"floor\":1}",
         "{\"interval\":60,\"$version\":1}",
         "{\"battery\":80,\"fw\":\"1.3\",\"flag\":null,\"$version\":1}"),
    TWIN("d3", "disabled", "Disconnected",
         "{\"location\":{\"region\":\"US\",\"plant\":\"p2\"}}",
         "{\"$version\":1}",
         "{\"battery\":50.5,\"$version\":1}"),
    TWIN("d4", "enabled", "Connected", "{}", "{\"$version\":1}",
         "{\"fw\":\"1.2\",\"$version\":1}"),
};

#define NFIXTURES  (sizeof(fixtures) / sizeof(fixtures[0]))


typedef struct {
    const char             *name;
    const char             *query;
    const char             *rows;     /* the expected answer; or NULL */
    ngx_iothub_query_rc_e   rc;       /* when rows is NULL */
    const char             *err;      /* a part of the message */
} query_case_t;


static const query_case_t  query_cases[] = {

    /* selection */

    { "star", "SELECT * FROM devices WHERE deviceId = 'd4'",
      "[" TWIN("d4", "enabled", "Connected", "{}", "{\"$version\":1}",
               "{\"fw\":\"1.2\",\"$version\":1}") "]", 0, NULL },
    { "tag equality", "SELECT deviceId FROM devices "
      "WHERE tags.location.region = 'US'",
      "[{\"deviceId\":\"d1\"},{\"deviceId\":\"d3\"}]", 0, NULL },
    { "double quotes", "select deviceId from devices "
      "where tags.location.region = \"EU\"",
      "[{\"deviceId\":\"d2\"}]", 0, NULL },
    { "and reported", "SELECT deviceId FROM devices WHERE "
      "tags.location.region = 'US' AND properties.reported.battery < 20",
      "[{\"deviceId\":\"d1\"}]", 0, NULL },
    { "or", "SELECT deviceId FROM devices WHERE tags.floor = 1 "
      "OR properties.reported.battery >= 50.5",
      "[{\"deviceId\":\"d2\"},{\"deviceId\":\"d3\"}]", 0, NULL },
    { "not", "SELECT deviceId FROM devices WHERE NOT (status = 'enabled')",
      "[{\"deviceId\":\"d3\"}]", 0, NULL },
    { "not equal both spellings", "SELECT deviceId FROM devices WHERE "
      "status != 'enabled' OR connectionState <> 'Disconnected'",
      "[{\"deviceId\":\"d1\"},{\"deviceId\":\"d3\"},{\"deviceId\":\"d4\"}]",
      0, NULL },
    { "missing is undefined, not unequal", "SELECT deviceId FROM devices "
      "WHERE tags.floor != 3",
      "[{\"deviceId\":\"d2\"}]", 0, NULL },
    { "in", "SELECT deviceId FROM devices WHERE deviceId IN ['d2', \"d4\"]",
      "[{\"deviceId\":\"d2\"},{\"deviceId\":\"d4\"}]", 0, NULL },
    { "nin", "SELECT deviceId FROM devices WHERE deviceId NIN ['d2','d4']",
      "[{\"deviceId\":\"d1\"},{\"deviceId\":\"d3\"}]", 0, NULL },
    { "not in", "SELECT deviceId FROM devices WHERE tags.floor NOT IN [3]",
      "[{\"deviceId\":\"d2\"}]", 0, NULL },
    { "in numbers", "SELECT deviceId FROM devices WHERE "
      "properties.reported.battery IN [15, -1, 50.5]",
      "[{\"deviceId\":\"d1\"},{\"deviceId\":\"d3\"}]", 0, NULL },
    { "is_defined", "SELECT deviceId FROM devices WHERE "
      "IS_DEFINED(tags.floor)",
      "[{\"deviceId\":\"d1\"},{\"deviceId\":\"d2\"}]", 0, NULL },
    { "is_defined of null", "SELECT deviceId FROM devices WHERE "
      "is_defined(properties.reported.flag)",
      "[{\"deviceId\":\"d2\"}]", 0, NULL },
    { "null equals null", "SELECT deviceId FROM devices WHERE "
      "properties.reported.flag = null",
      "[{\"deviceId\":\"d2\"}]", 0, NULL },
    { "arithmetic", "SELECT deviceId FROM devices WHERE "
      "properties.desired.interval * 2 + 0x0A = 70",
      "[{\"deviceId\":\"d1\"}]", 0, NULL },
    { "modulo and division", "SELECT deviceId FROM devices WHERE "
      "properties.desired.interval % 60 = 0 AND "
      "properties.desired.interval / 4 = 15",
      "[{\"deviceId\":\"d2\"}]", 0, NULL },
    { "division by zero is undefined", "SELECT deviceId FROM devices WHERE "
      "tags.floor / 0 = 1 OR NOT (tags.floor / 0 = 1)", "[]", 0, NULL },
    { "string order", "SELECT deviceId FROM devices WHERE "
      "properties.reported.fw > '1.2'", "[{\"deviceId\":\"d2\"}]", 0, NULL },
    { "types do not compare", "SELECT deviceId FROM devices WHERE "
      "tags.floor = '3' OR properties.reported.fw = 1.2", "[]", 0, NULL },
    { "booleans", "SELECT deviceId FROM devices WHERE true AND "
      "(false OR deviceId = 'd3')", "[{\"deviceId\":\"d3\"}]", 0, NULL },
    { "case-insensitive identity", "SELECT DeviceId, LastActivityTime "
      "FROM devices WHERE DEVICEID = 'd1'",
      "[{\"deviceId\":\"d1\",\"lastActivityTime\":\"0001-01-01T00:00:00Z\"}]",
      0, NULL },
    { "case-insensitive properties section", "SELECT deviceId FROM devices "
      "WHERE Properties.Reported.battery = 80",
      "[{\"deviceId\":\"d2\"}]", 0, NULL },
    { "tags keep their case", "SELECT deviceId FROM devices WHERE "
      "tags.Floor = 3", "[]", 0, NULL },
    { "collection prefix", "SELECT * FROM devices.jobs WHERE "
      "devices.jobs.deviceId = 'none'", "[]", 0, NULL },

    { "keywords deeper in a path", "SELECT deviceId FROM devices WHERE "
      "IS_DEFINED(tags.location.from) OR tags.top = 1", "[]", 0, NULL },
    { "escapes in strings", "SELECT deviceId FROM devices WHERE "
      "'it\\'s' = \"it's\" AND deviceId = 'd1'",
      "[{\"deviceId\":\"d1\"}]", 0, NULL },
    { "undefined never matches", "SELECT deviceId FROM devices WHERE "
      "tags.nothing = undefined OR undefined = undefined", "[]", 0, NULL },
    { "nested NOT and unary minus", "SELECT deviceId FROM devices WHERE "
      "NOT NOT (-tags.floor = -3)", "[{\"deviceId\":\"d1\"}]", 0, NULL },
    { "group by a number", "SELECT tags.floor AS f, COUNT() AS n FROM "
      "devices WHERE IS_DEFINED(tags.floor) GROUP BY tags.floor",
      "[{\"f\":3,\"n\":1},{\"f\":1,\"n\":1}]", 0, NULL },
    { "group by an object", "SELECT COUNT() AS n FROM devices "
      "GROUP BY properties.desired",
      "[{\"n\":1},{\"n\":1},{\"n\":2}]", 0, NULL },

    /* projections */

    { "projection of an object and alias", "SELECT deviceId AS id, "
      "tags.location, properties.reported.nothing FROM devices "
      "WHERE deviceId = 'd2'",
      "[{\"id\":\"d2\",\"location\":{\"region\":\"EU\",\"plant\":\"p2\"}}]",
      0, NULL },
    { "projection of arithmetic", "SELECT deviceId, "
      "properties.desired.interval * 2 AS twice, 1 + 1 FROM devices "
      "WHERE deviceId = 'd1'",
      "[{\"deviceId\":\"d1\",\"twice\":60,\"$3\":2}]", 0, NULL },
    { "top", "SELECT TOP 2 deviceId FROM devices",
      "[{\"deviceId\":\"d1\"},{\"deviceId\":\"d2\"}]", 0, NULL },
    { "numbers keep their text", "SELECT properties.reported.battery "
      "AS b FROM devices WHERE deviceId = 'd3'", "[{\"b\":50.5}]", 0, NULL },

    /* aggregates */

    { "count", "SELECT COUNT() AS n FROM devices WHERE status = 'enabled'",
      "[{\"n\":3}]", 0, NULL },
    { "count of nothing", "SELECT COUNT() AS n FROM devices WHERE "
      "deviceId = 'none'", "[{\"n\":0}]", 0, NULL },
    { "sum avg min max", "SELECT SUM(properties.reported.battery) AS s, "
      "AVG(properties.reported.battery) AS a, "
      "MIN(properties.reported.battery) AS lo, "
      "MAX(properties.reported.battery) AS hi FROM devices",
      "[{\"s\":145.5,\"a\":48.5,\"lo\":15,\"hi\":80}]", 0, NULL },
    { "aggregates over no numbers", "SELECT SUM(tags.x) AS s, "
      "AVG(tags.x) AS a, COUNT() FROM devices",
      "[{\"s\":0,\"$3\":4}]", 0, NULL },
    { "group by", "SELECT tags.location.region AS region, COUNT() AS n "
      "FROM devices GROUP BY tags.location.region",
      "[{\"region\":\"US\",\"n\":2},{\"region\":\"EU\",\"n\":1},"
      "{\"n\":1}]", 0, NULL },
    { "group by with where", "SELECT properties.reported.fw, COUNT() AS n "
      "FROM devices WHERE IS_DEFINED(properties.reported.fw) "
      "GROUP BY properties.reported.fw",
      "[{\"fw\":\"1.2\",\"n\":2},{\"fw\":\"1.3\",\"n\":1}]", 0, NULL },

    /* refusals */

    { "syntax: position", "SELECT * FORM devices", NULL,
      NGX_IOTHUB_QUERY_SYNTAX, "position 10 (near 'FORM'): expected FROM" },
    { "syntax: end", "SELECT * FROM devices WHERE", NULL,
      NGX_IOTHUB_QUERY_SYNTAX, "(end of query)" },
    { "syntax: collection", "SELECT * FROM twins", NULL,
      NGX_IOTHUB_QUERY_SYNTAX, "expected devices" },
    { "syntax: unterminated string", "SELECT * FROM devices WHERE a = 'x",
      NULL, NGX_IOTHUB_QUERY_SYNTAX, "unterminated string" },
    { "syntax: trailing", "SELECT * FROM devices WHERE a = 1 b", NULL,
      NGX_IOTHUB_QUERY_SYNTAX, "expected the end" },
    { "syntax: character", "SELECT * FROM devices WHERE a ; 1", NULL,
      NGX_IOTHUB_QUERY_SYNTAX, "unexpected character" },
    { "syntax: top", "SELECT TOP 0 * FROM devices", NULL,
      NGX_IOTHUB_QUERY_SYNTAX, "TOP" },
    { "unsupported function", "SELECT * FROM devices WHERE "
      "STARTSWITH(deviceId, 'd')", NULL, NGX_IOTHUB_QUERY_UNSUPPORTED,
      "unknown function" },
    { "unsupported aggregate in where", "SELECT * FROM devices WHERE "
      "COUNT() = 1", NULL, NGX_IOTHUB_QUERY_UNSUPPORTED, "WHERE" },
    { "unsupported projection in jobs", "SELECT deviceId FROM devices.jobs",
      NULL, NGX_IOTHUB_QUERY_UNSUPPORTED, "devices.jobs" },
    { "unsupported mix", "SELECT deviceId, COUNT() FROM devices", NULL,
      NGX_IOTHUB_QUERY_UNSUPPORTED, "GROUP BY path" },
    { "unsupported array outside IN", "SELECT * FROM devices WHERE "
      "a = [1]", NULL, NGX_IOTHUB_QUERY_UNSUPPORTED, "only after IN" },
};


static char *
run_query(const char *text, ngx_iothub_query_rc_e *rc, char *err,
    size_t errlen)
{
    char                    *out;
    size_t                   i, len, rows;
    yajl_gen                 g;
    yajl_val                 doc;
    ngx_iothub_query_t      *q;
    const unsigned char     *buf;
    ngx_iothub_query_agg_t  *agg;

    *rc = ngx_iothub_query_parse(text, strlen(text), &q, err, errlen);
    if (*rc != NGX_IOTHUB_QUERY_OK) {
        return NULL;
    }

    g = yajl_gen_alloc(NULL);
    assert_non_null(g);
    yajl_gen_array_open(g);

    agg = ngx_iothub_query_is_aggregate(q) ? ngx_iothub_query_agg_create(q)
                                           : NULL;
    rows = 0;

    for (i = 0; i < NFIXTURES; i++) {
        doc = yajl_tree_parse(fixtures[i], NULL, 0);
        assert_non_null(doc);

        if (ngx_iothub_query_match(q, doc)
            && (ngx_iothub_query_top(q) == 0
                || rows < ngx_iothub_query_top(q)))
        {
            if (agg) {
                assert_int_equal(ngx_iothub_query_agg_add(agg, doc),
                                 NGX_IOTHUB_QUERY_OK);

            } else {
                assert_int_equal(ngx_iothub_query_emit_row(q, doc, g),
                                 NGX_IOTHUB_QUERY_OK);
            }

            rows++;
        }

        yajl_tree_free(doc);
    }

    if (agg) {
        assert_int_equal(ngx_iothub_query_agg_emit(agg, g),
                         NGX_IOTHUB_QUERY_OK);
        ngx_iothub_query_agg_free(agg);
    }

    yajl_gen_array_close(g);
    yajl_gen_get_buf(g, &buf, &len);

    out = strndup((const char *) buf, len);

    yajl_gen_free(g);
    ngx_iothub_query_free(q);

    return out;
}


static void
test_query(void **state)
{
    char                   err[256], *rows;
    const query_case_t    *c = *state;
    ngx_iothub_query_rc_e  rc;

    rows = run_query(c->query, &rc, err, sizeof(err));

    if (c->rows) {
        if (rc != NGX_IOTHUB_QUERY_OK) {
            fail_msg("refused: %s", err);
        }

        assert_string_equal(rows, c->rows);
        free(rows);
        return;
    }

    assert_null(rows);
    assert_int_equal(rc, c->rc);

    if (strstr(err, c->err) == NULL) {
        fail_msg("message \"%s\" lacks \"%s\"", err, c->err);
    }
}


static void
test_limits(void **state)
{
    char                   err[128], *text;
    size_t                 i, n;
    ngx_iothub_query_t    *q;
    ngx_iothub_query_rc_e  rc;

    (void) state;

    /* 8192 characters pass, one more does not */

    n = NGX_IOTHUB_QUERY_MAX_LEN;
    text = malloc(n + 2);
    assert_non_null(text);

    memset(text, ' ', n + 1);
    memcpy(text, "SELECT * FROM devices", 21);

    rc = ngx_iothub_query_parse(text, n, &q, err, sizeof(err));
    assert_int_equal(rc, NGX_IOTHUB_QUERY_OK);
    ngx_iothub_query_free(q);

    rc = ngx_iothub_query_parse(text, n + 1, &q, err, sizeof(err));
    assert_int_equal(rc, NGX_IOTHUB_QUERY_TOO_LONG);
    assert_null(q);

    /* deep nesting is refused, not a stack overflow */

    n = 0;
    n += sprintf(text, "SELECT * FROM devices WHERE ");

    for (i = 0; i < 1000; i++) {
        text[n++] = '(';
    }

    text[n] = '\0';

    rc = ngx_iothub_query_parse(text, n, &q, err, sizeof(err));
    assert_int_equal(rc, NGX_IOTHUB_QUERY_UNSUPPORTED);

    free(text);
}


#define C2  "status = 'enabled' AND 'v 1' = tags.a.b AND tags.c = 'x'"
#define C3  "tags.a = 'x' OR tags.b = 'y'"


static void
test_condition_and_hints(void **state)
{
    char                   err[128], path[64], value[64];
    ngx_iothub_query_t    *q;
    ngx_iothub_query_rc_e  rc;

    (void) state;

    rc = ngx_iothub_query_parse_condition("deviceId = 'd1'", 15, &q, err,
                                          sizeof(err));
    assert_int_equal(rc, NGX_IOTHUB_QUERY_OK);
    assert_true(ngx_iothub_query_is_star(q));
    assert_string_equal(ngx_iothub_query_item_type(q), "Twin");
    assert_false(ngx_iothub_query_tag_equality(q, path, sizeof(path), value,
                                               sizeof(value)));
    ngx_iothub_query_free(q);

    rc = ngx_iothub_query_parse_condition(
             C2, strlen(C2),
             &q, err, sizeof(err));
    assert_int_equal(rc, NGX_IOTHUB_QUERY_OK);
    assert_true(ngx_iothub_query_tag_equality(q, path, sizeof(path), value,
                                              sizeof(value)));
    assert_string_equal(path, "a.b");
    assert_string_equal(value, "v 1");
    ngx_iothub_query_free(q);

    /* under OR an equality narrows nothing */

    rc = ngx_iothub_query_parse_condition(C3, strlen(C3), &q, err,
                                          sizeof(err));
    assert_int_equal(rc, NGX_IOTHUB_QUERY_OK);
    assert_false(ngx_iothub_query_tag_equality(q, path, sizeof(path), value,
                                               sizeof(value)));
    ngx_iothub_query_free(q);

    rc = ngx_iothub_query_parse("SELECT COUNT() AS n FROM devices", 32, &q,
                                err, sizeof(err));
    assert_int_equal(rc, NGX_IOTHUB_QUERY_OK);
    assert_string_equal(ngx_iothub_query_item_type(q), "Raw");
    ngx_iothub_query_free(q);
}


int
main(void)
{
    int  failed;

    static const table_t  tables[] = {
        TABLE("query", test_query, query_cases),
    };

    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_condition_and_hints),
    };

    failed = run_table(&tables[0]);
    failed += cmocka_run_group_tests_name("query limits", tests, NULL, NULL);

    return failed;
}
