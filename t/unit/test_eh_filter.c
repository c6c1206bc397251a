
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * Unit tests of shared/ngx_iothub_eh_filter.c: the selector filter
 * expressions of Event Hubs receivers (amqp.md 10.3) as the SDKs send
 * them, and the ones refused.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit_table.h"

#include "ngx_iothub_eh_filter.h"


typedef struct {
    const char            *name;
    const char            *in;
    int                    rc;
    ngx_iothub_eh_from_e   from;
    int64_t                n;        /* for SEQUENCE and TIME */
} filter_case_t;


static const filter_case_t  filter_cases[] = {
    { "offset -1 (the start)", "amqp.annotation.x-opt-offset > '-1'", 0,
      NGX_IOTHUB_EH_START, 0 },
    { "offset -1 unquoted", "amqp.annotation.x-opt-offset > -1", 0,
      NGX_IOTHUB_EH_START, 0 },
    { "latest", "amqp.annotation.x-opt-offset > '@latest'", 0,
      NGX_IOTHUB_EH_LATEST, 0 },
    { "latest, inclusive", "amqp.annotation.x-opt-offset >= '@latest'", 0,
      NGX_IOTHUB_EH_LATEST, 0 },
    { "offset, exclusive", "amqp.annotation.x-opt-offset > '41'", 0,
      NGX_IOTHUB_EH_SEQUENCE, 42 },
    { "offset, inclusive", "amqp.annotation.x-opt-offset >= '41'", 0,
      NGX_IOTHUB_EH_SEQUENCE, 41 },
    { "sequence number", "amqp.annotation.x-opt-sequence-number > 7", 0,
      NGX_IOTHUB_EH_SEQUENCE, 8 },
    { "enqueued time", "amqp.annotation.x-opt-enqueued-time > "
      "'1700000000000'", 0, NGX_IOTHUB_EH_TIME, 1700000000001LL },
    { "words any case, spaces", "  AMQP.Annotation.X-OPT-OFFSET>=  '3'  ",
      0, NGX_IOTHUB_EH_SEQUENCE, 3 },
    { "largest, inclusive", "amqp.annotation.x-opt-sequence-number >= "
      "9223372036854775807", 0, NGX_IOTHUB_EH_SEQUENCE, INT64_MAX },
    { "after the largest (UBSan: signed overflow)",
      "amqp.annotation.x-opt-offset > 09223372036854775807", -1, 0, 0 },
    { "after the largest time", "amqp.annotation.x-opt-enqueued-time > "
      "'9223372036854775807'", -1, 0, 0 },
    { "over int64", "amqp.annotation.x-opt-sequence-number >= "
      "9223372036854775808", -1, 0, 0 },
    { "latest is an offset only", "amqp.annotation.x-opt-enqueued-time > "
      "'@latest'", -1, 0, 0 },
    { "unknown annotation", "amqp.annotation.x-opt-partition-key > 1", -1,
      0, 0 },
    { "no prefix", "x-opt-offset > 1", -1, 0, 0 },
    { "less than", "amqp.annotation.x-opt-offset < 1", -1, 0, 0 },
    { "no value", "amqp.annotation.x-opt-offset > ''", -1, 0, 0 },
    { "a lone quote", "amqp.annotation.x-opt-offset > '", -1, 0, 0 },
    { "not a number", "amqp.annotation.x-opt-offset > '1a'", -1, 0, 0 },
    { "a lone minus", "amqp.annotation.x-opt-offset > -", -1, 0, 0 },
    { "empty", "", -1, 0, 0 },
};


static void
test_filter(void **state)
{
    int                   rc;
    int64_t               n;
    ngx_iothub_eh_from_e  from;
    const filter_case_t  *c = *state;

    from = NGX_IOTHUB_EH_START;
    n = -7;

    rc = ngx_iothub_eh_filter_parse((const unsigned char *) c->in,
                                    strlen(c->in), &from, &n);

    assert_int_equal(rc, c->rc);

    if (rc != 0) {
        return;
    }

    assert_int_equal(from, c->from);

    if (from == NGX_IOTHUB_EH_SEQUENCE || from == NGX_IOTHUB_EH_TIME) {
        assert_true(n == c->n);
    }
}


/* the text ends where its length says, not at a NUL */

static void
test_filter_length(void **state)
{
    int64_t               n;
    ngx_iothub_eh_from_e  from;

    static const char  in[] = "amqp.annotation.x-opt-offset > 12345";

    (void) state;

    assert_int_equal(ngx_iothub_eh_filter_parse((const unsigned char *) in,
                                                sizeof(in) - 3, &from, &n),
                     0);
    assert_int_equal(from, NGX_IOTHUB_EH_SEQUENCE);
    assert_true(n == 124);
}


int
main(void)
{
    int  failed;

    static const table_t  table =
        TABLE("eh filter", test_filter, filter_cases);

    static const struct CMUnitTest  misc[] = {
        cmocka_unit_test(test_filter_length),
    };

    failed = run_table(&table);
    failed += cmocka_run_group_tests_name("eh filter misc", misc, NULL,
                                          NULL);

    return failed != 0;
}
