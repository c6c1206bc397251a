
/*
 * Unit tests of ngx_iothub_http/ngx_iothub_http_log.c: what a caller sent
 * (a policy name, an id) is logged as printable ASCII only (issue 8,
 * defect 7).
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "unit_table.h"

#include "ngx_iothub_http_log.h"


typedef struct {
    const char   *name;
    const char   *in;
    size_t        in_len;
    size_t        size;
    const char   *out;
} escape_case_t;


static const escape_case_t  escape_cases[] = {
    { "plain text as is", "iothubowner", 11, 64, "iothubowner" },
    { "a newline cannot start a line", "a\nb", 3, 64, "a\\x0ab" },
    { "carriage return and NUL", "a\r\0b", 4, 64, "a\\x0d\\x00b" },
    { "quote and backslash", "q\"\\", 3, 64, "q\\x22\\x5c" },
    { "DEL and bytes past ASCII", "\x7f\xc3\xa9", 3, 64,
      "\\x7f\\xc3\\xa9" },
    { "empty", "", 0, 64, "" },
    { "cut with dots", "abcdefghij", 10, 8, "abcd..." },
    { "fits exactly", "abcdefg", 7, 8, "abcdefg" },
    { "an escape is cut whole", "ab\n\n\n\n", 6, 9, "ab..." },
    { "room for the NUL only", "abc", 3, 1, "" },
};


static void
test_escape(void **state)
{
    const escape_case_t *c = *state;

    size_t         n, i;
    unsigned char  out[256];

    memset(out, 0xee, sizeof(out));

    n = ngx_iothub_http_log_escape(out, c->size,
                                   (const unsigned char *) c->in, c->in_len);

    assert_string_equal((char *) out, c->out);
    assert_int_equal(n, strlen(c->out));
    assert_true(n < c->size);

    /* nothing written past size */
    for (i = c->size; i < sizeof(out); i++) {
        assert_int_equal(out[i], 0xee);
    }

    for (i = 0; i < n; i++) {
        assert_true(out[i] >= 0x20 && out[i] <= 0x7e && out[i] != '"');
    }
}


int
main(void)
{
    static const table_t  table = TABLE("log escaping", test_escape,
                                        escape_cases);

    return run_table(&table) ? 1 : 0;
}
