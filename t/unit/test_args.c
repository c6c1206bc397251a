
/*
 * Unit tests of shared/ngx_iothub_args.c: a Redis command's argument
 * vector refuses what does not fit, and stays refused (issue 8, defect 9:
 * arguments past NGX_IOTHUB_MAX_ARGS were silently dropped).
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "ngx_iothub_args.h"


static void
test_fills_up(void **state)
{
    int                 i;
    ngx_iothub_args_t   args;

    (void) state;

    args.n = 0;

    for (i = 0; i < NGX_IOTHUB_MAX_ARGS; i++) {
        assert_int_equal(ngx_iothub_args_add(&args, "x", 1), 0);
    }

    assert_int_equal(args.n, NGX_IOTHUB_MAX_ARGS);
    assert_true(ngx_iothub_args_ok(&args));
    assert_string_equal(args.argv[NGX_IOTHUB_MAX_ARGS - 1], "x");
}


static void
test_overflow_is_an_error(void **state)
{
    int                 i;
    ngx_iothub_args_t   args;

    (void) state;

    args.n = 0;

    for (i = 0; i < NGX_IOTHUB_MAX_ARGS; i++) {
        (void) ngx_iothub_args_add_str(&args, "x");
    }

    assert_int_equal(ngx_iothub_args_add_str(&args, "one too many"), -1);
    assert_false(ngx_iothub_args_ok(&args));
    assert_int_equal(args.n, -1);

    /* spoiled: nothing more is taken, so the last add tells for all */
    assert_int_equal(ngx_iothub_args_add(&args, "y", 1), -1);
    assert_false(ngx_iothub_args_ok(&args));
}


static void
test_null_is_empty(void **state)
{
    ngx_iothub_args_t   args;

    (void) state;

    args.n = 0;

    assert_int_equal(ngx_iothub_args_add(&args, NULL, 5), 0);
    assert_int_equal(ngx_iothub_args_add_str(&args, NULL), 0);
    assert_string_equal(args.argv[0], "");
    assert_int_equal(args.lens[0], 0);
    assert_int_equal(args.lens[1], 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_fills_up),
        cmocka_unit_test(test_overflow_is_an_error),
        cmocka_unit_test(test_null_is_empty),
    };

    return cmocka_run_group_tests_name("args", tests, NULL, NULL);
}
