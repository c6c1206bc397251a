
/*
 * libFuzzer target for shared/ngx_iothub_query_parse.c and _eval.c: the
 * input is a query text (as POST /devices/query and a job's
 * queryCondition carry it), parsed whole and as a bare condition, and every
 * query that parses is evaluated over a fixture twin: matched, its row
 * emitted, or aggregated and its rows emitted.  Besides memory errors it
 * checks that a refusal comes with a message, that a parsed query leaves
 * the generator balanced (one complete value per row) and that evaluation
 * is deterministic.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ishared \
 *       fuzz/fuzz_query.c shared/ngx_iothub_query_parse.c \
 *       shared/ngx_iothub_query_eval.c shared/ngx_iothub_json.c \
 *       -lyajl -lm -o fuzz_query
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "ngx_iothub_query.h"


#define fuzz_check(cond)                                                     \
    if (!(cond)) {                                                           \
        __builtin_trap();                                                    \
    }


static const char  fuzz_twin_json[] =
    "{\"deviceId\":\"d1\",\"moduleId\":\"m1\",\"etag\":\"AAAAAAAAAAI=\","
    "\"status\":\"enabled\",\"connectionState\":\"Connected\","
    "\"lastActivityTime\":\"2024-01-02T10:11:12Z\","
    "\"cloudToDeviceMessageCount\":3,\"version\":7,"
    "\"tags\":{\"location\":{\"region\":\"US\",\"floor\":-2.5e1},"
    "\"list\":[1,\"a\",null,{\"x\":true}],\"empty\":{},\"n\":null},"
    "\"properties\":{\"desired\":{\"interval\":30,\"$version\":4},"
    "\"reported\":{\"battery\":15,\"fw\":\"1.2\",\"$version\":9}},"
    "\"capabilities\":{\"iotEdge\":false}}";


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void fuzz_query(ngx_iothub_query_t *q, yajl_val doc);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                    err[256];
    yajl_val                doc;
    ngx_iothub_query_t     *q;
    ngx_iothub_query_rc_e   rc;

    doc = yajl_tree_parse(fuzz_twin_json, NULL, 0);
    fuzz_check(doc != NULL);

    rc = ngx_iothub_query_parse((const char *) data, size, &q, err,
                                sizeof(err));

    if (rc == NGX_IOTHUB_QUERY_OK) {
        fuzz_query(q, doc);
        ngx_iothub_query_free(q);

    } else {
        fuzz_check(q == NULL);
        fuzz_check(rc == NGX_IOTHUB_QUERY_NO_MEMORY || err[0] != '\0');
    }

    rc = ngx_iothub_query_parse_condition((const char *) data, size, &q, err,
                                          sizeof(err));

    if (rc == NGX_IOTHUB_QUERY_OK) {
        fuzz_check(ngx_iothub_query_is_star(q));
        fuzz_query(q, doc);
        ngx_iothub_query_free(q);
    }

    yajl_tree_free(doc);

    return 0;
}


static void
fuzz_query(ngx_iothub_query_t *q, yajl_val doc)
{
    int                      match;
    char                     path[128], value[128];
    size_t                   len;
    yajl_gen                 g;
    yajl_val                 rows;
    const unsigned char     *buf;
    ngx_iothub_query_agg_t  *agg;
    ngx_iothub_query_rc_e    rc;

    match = ngx_iothub_query_match(q, doc);
    fuzz_check(match == ngx_iothub_query_match(q, doc));

    (void) ngx_iothub_query_tag_equality(q, path, sizeof(path), value,
                                         sizeof(value));
    (void) ngx_iothub_query_item_type(q);

    g = yajl_gen_alloc(NULL);
    fuzz_check(g != NULL);
    fuzz_check(yajl_gen_array_open(g) == yajl_gen_status_ok);

    if (ngx_iothub_query_is_aggregate(q)) {
        agg = ngx_iothub_query_agg_create(q);
        fuzz_check(agg != NULL);

        if (match) {
            rc = ngx_iothub_query_agg_add(agg, doc);
            fuzz_check(rc == NGX_IOTHUB_QUERY_OK);
            rc = ngx_iothub_query_agg_add(agg, doc);
            fuzz_check(rc == NGX_IOTHUB_QUERY_OK);
        }

        fuzz_check(ngx_iothub_query_agg_emit(agg, g) == NGX_IOTHUB_QUERY_OK);
        ngx_iothub_query_agg_free(agg);

    } else if (match) {
        rc = ngx_iothub_query_emit_row(q, doc, g);
        fuzz_check(rc == NGX_IOTHUB_QUERY_OK);
    }

    fuzz_check(yajl_gen_array_close(g) == yajl_gen_status_ok);
    fuzz_check(yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok);

    /* what was emitted is one JSON array */

    {
        char  *text = malloc(len + 1);

        fuzz_check(text != NULL);
        memcpy(text, buf, len);
        text[len] = '\0';

        rows = yajl_tree_parse(text, NULL, 0);
        fuzz_check(rows != NULL && YAJL_IS_ARRAY(rows));

        yajl_tree_free(rows);
        free(text);
    }

    yajl_gen_free(g);
}
