
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * Unit tests of shared/ngx_iothub_log.c: escaping client-supplied text for
 * a log line (issue 8, defect 7: a percent-decoded "%0A" in a policy name
 * or topic must not start a new log line).
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit_table.h"

#include "ngx_iothub_log.h"


typedef struct {
    const char            *name;
    const char            *in;
    size_t                 in_len;       /* 0: strlen(in) */
    size_t                 size;         /* 0: a large buffer */
    const char            *out;
} escape_case_t;


static void test_escape(void **state);
static void test_no_overrun(void **state);


static const escape_case_t  escape_cases[] = {
    { "plain id", "dev-1.a_b:c", 0, 0, "dev-1.a_b:c" },
    { "empty", "", 0, 0, "" },
    { "a decoded %0A cannot start a log line",
      "iothubowner\n2024/01/01 [alert] forged", 0, 0,
      "iothubowner\\x0a2024/01/01 [alert] forged" },
    { "carriage return and tab", "a\rb\tc", 0, 0, "a\\x0db\\x09c" },
    { "a quote cannot end the quoted value", "a\"b", 0, 0, "a\\\"b" },
    { "backslash is doubled", "a\\x0a", 0, 0, "a\\\\x0a" },
    { "embedded NUL", "a\0b", 3, 0, "a\\x00b" },
    { "DEL", "\x7f", 0, 0, "\\x7f" },
    { "high bytes, even valid UTF-8 (U+202E)", "\xe2\x80\xae", 0, 0,
      "\\xe2\\x80\\xae" },
    { "invalid UTF-8", "\xff\xc0", 0, 0, "\\xff\\xc0" },
    { "fits exactly, no cut mark", "abcd", 0, 4, "abcd" },
    { "cut with a mark", "abcdefgh", 0, 6, "abc..." },
    { "cut before a whole escape", "ab\ncd", 0, 7, "ab..." },
    { "escape fits exactly at the end", "ab\n", 0, 6, "ab\\x0a" },
    { "cut before an escaped quote", "abc\"def", 0, 7, "abc..." },
    { "smallest buffer", "abcdef", 0, 4, "a..." },
    { "buffer too small for the mark", "abcdef", 0, 2, "" },
};


static void
test_escape(void **state)
{
    size_t                n, in_len, size;
    unsigned char         out[1024];
    const escape_case_t  *tc = *state;

    in_len = tc->in_len ? tc->in_len : strlen(tc->in);
    size = tc->size ? tc->size : sizeof(out) - 1;

    memset(out, 0xee, sizeof(out));

    n = ngx_iothub_log_escape(out, size, (const unsigned char *) tc->in,
                              in_len);

    assert_true(n <= size);
    assert_int_equal(n, strlen(tc->out));
    assert_memory_equal(out, tc->out, n);
    assert_int_equal(out[size], 0xee);
}


/* every byte value at every buffer size: within bounds, nothing raw */
static void
test_no_overrun(void **state)
{
    size_t         i, n, size, full;
    unsigned char  in[256], out[1100];

    (void) state;

    for (i = 0; i < sizeof(in); i++) {
        in[i] = (unsigned char) i;
    }

    /* 93 printable as is, " and \ doubled, 161 as \xHH */
    full = 93 + 2 * 2 + 161 * 4;

    for (size = 4; size <= 1030; size++) {
        memset(out, 0xee, sizeof(out));

        n = ngx_iothub_log_escape(out, size, in, sizeof(in));

        assert_true(n <= size);
        assert_int_equal(out[size], 0xee);

        for (i = 0; i < n; i++) {
            assert_true(out[i] >= 0x20 && out[i] < 0x7f);
        }

        if (size >= full) {
            assert_int_equal(n, full);

        } else {
            assert_memory_equal(out + n - 3, "...", 3);
        }
    }
}


int
main(void)
{
    int     failed;

    static const table_t  tables[] = {
        TABLE("log escape", test_escape, escape_cases),
    };

    static const struct CMUnitTest  misc[] = {
        cmocka_unit_test(test_no_overrun),
    };

    failed = run_table(&tables[0]);

    failed += cmocka_run_group_tests_name("log escape misc", misc, NULL,
                                          NULL);

    return failed != 0;
}
