
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * Unit tests of ngx_iothub_http/ngx_iothub_http_paging.c, the query API's
 * continuation token text (rest.md 9), and of the decimal numbers it and
 * the Event Hubs filter read (ngx_iothub_decimal_parse() in
 * shared/ngx_iothub_sas.c).
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit_table.h"

#include "ngx_iothub_sas.h"
#include "ngx_iothub_http_paging.h"


typedef struct {
    const char   *name;
    const char   *in;
    int           rc;
    uint64_t      n;
} decimal_case_t;


typedef struct {
    const char   *name;
    size_t        count_zeros;      /* leading zeros added to count */
    const char   *count;
    size_t        device_a;         /* a device id of that many 'a' */
    const char   *device;           /* else this one */
    size_t        module_b;         /* a module id of that many 'b' */
    const char   *module;           /* else this one, NULL: no '\n' */
    int           rc;
    uint64_t      before;
} paging_case_t;


static const decimal_case_t  decimal_cases[] = {
    { "zero", "0", 0, 0 },
    { "leading zeros", "000123", 0, 123 },
    { "largest", "9223372036854775807", 0, 9223372036854775807ULL },
    { "largest, zero-padded", "0009223372036854775807", 0,
      9223372036854775807ULL },
    { "over int64", "9223372036854775808", -1, 0 },
    { "far over", "99999999999999999999", -1, 0 },
    { "empty", "", -1, 0 },
    { "sign", "+1", -1, 0 },
    { "minus", "-1", -1, 0 },
    { "space", "1 ", -1, 0 },
    { "letter", "12a", -1, 0 },
};


static const paging_case_t  paging_cases[] = {
    { "device row", 0, "5", 0, "d1", 0, "", 0, 5 },
    { "module row", 0, "100", 0, "d2", 0, "ma", 0, 100 },
    { "the longest written", 0, "18446744073709551615", 128, NULL, 128,
      NULL, -1, 0 },
    { "longest ids", 0, "9223372036854775807", 128, NULL, 128, NULL, 0,
      9223372036854775807ULL },
    { "21-digit count, zero-padded", 20, "1", 128, NULL, 128, NULL, 0, 1 },
    { "device id too long", 0, "1", 129, NULL, 0, "", -1, 0 },
    { "module id too long", 0, "1", 0, "d", 129, NULL, -1, 0 },
    { "no device id", 0, "1", 0, "", 0, "m", -1, 0 },
    { "bad device id", 0, "1", 0, "d/1", 0, "", -1, 0 },
    { "bad module id", 0, "1", 0, "d", 0, "m m", -1, 0 },
    { "no module line", 0, "1", 0, "d", 0, NULL, -1, 0 },
    { "empty count", 0, "", 0, "d", 0, "", -1, 0 },
    { "negative count", 0, "-1", 0, "d", 0, "", -1, 0 },
};


static void
test_decimal(void **state)
{
    uint64_t               n;
    const decimal_case_t  *c = *state;

    n = 7;

    assert_int_equal(ngx_iothub_decimal_parse((const unsigned char *) c->in,
                                              strlen(c->in), &n), c->rc);

    if (c->rc == 0) {
        assert_true(n == c->n);
    }
}


static size_t
paging_text(const paging_case_t *c, char *buf)
{
    size_t  len;

    len = c->count_zeros;
    memset(buf, '0', len);
    len += strlen(strcpy(buf + len, c->count));

    buf[len++] = '\n';

    if (c->device_a) {
        memset(buf + len, 'a', c->device_a);
        len += c->device_a;

    } else {
        len += strlen(strcpy(buf + len, c->device));
    }

    if (c->module_b == 0 && c->module == NULL) {
        return len;
    }

    buf[len++] = '\n';

    if (c->module_b) {
        memset(buf + len, 'b', c->module_b);
        len += c->module_b;

    } else {
        len += strlen(strcpy(buf + len, c->module));
    }

    return len;
}


static void
test_paging(void **state)
{
    char                  buf[512];
    size_t                len;
    ngx_iothub_paging_t   t;
    const paging_case_t  *c = *state;

    len = paging_text(c, buf);

    assert_int_equal(ngx_iothub_paging_parse((unsigned char *) buf, len, &t),
                     c->rc);

    if (c->rc != 0) {
        return;
    }

    assert_true(t.before == c->before);
    assert_int_equal(strlen(t.device_id),
                     c->device_a ? c->device_a : strlen(c->device));
    assert_int_equal(strlen(t.module_id),
                     c->module_b ? c->module_b : strlen(c->module));

    if (c->device == NULL || c->module == NULL) {
        return;
    }

    assert_string_equal(t.device_id, c->device);
    assert_string_equal(t.module_id, c->module);
}


/* the text ends where its length says: no NUL needed, none read past */

static void
test_paging_length(void **state)
{
    ngx_iothub_paging_t  t;

    static const char  in[] = "12\ndev\nmodXYZ";

    (void) state;

    assert_int_equal(ngx_iothub_paging_parse((const unsigned char *) in,
                                             sizeof(in) - 4, &t), 0);
    assert_string_equal(t.module_id, "mod");
    assert_int_equal(ngx_iothub_paging_parse((const unsigned char *) in, 3,
                                             &t), -1);
}


int
main(void)
{
    int     failed;
    size_t  i;

    static const table_t  tables[] = {
        TABLE("decimal", test_decimal, decimal_cases),
        TABLE("paging token", test_paging, paging_cases),
    };

    static const struct CMUnitTest  misc[] = {
        cmocka_unit_test(test_paging_length),
    };

    failed = 0;

    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        failed += run_table(&tables[i]);
    }

    failed += cmocka_run_group_tests_name("paging misc", misc, NULL, NULL);

    return failed != 0;
}
