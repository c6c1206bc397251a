
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * Unit tests of ngx_iothub_amqp/ngx_iothub_amqp_sections.c: a telemetry
 * message's sections read in place (amqp.md 5).  The messages are the
 * bytes Qpid Proton encodes for what the SDKs send, and the malformed
 * ones the differential fuzz target (fuzz/fuzz_amqp_sections.c) found
 * the reader taking before it was strict about them.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ngx_iothub_amqp_sections.h"


#define BYTES(s)  (const unsigned char *) (s), sizeof(s) - 1


static int
read_hex(const char *hex, ngx_iothub_amqp_sections_t *s)
{
    size_t          n;
    unsigned int    byte;
    unsigned char   buf[512];

    for (n = 0; hex[2 * n] && hex[2 * n + 1]; n++) {
        assert_int_equal(sscanf(hex + 2 * n, "%2x", &byte), 1);
        buf[n] = (unsigned char) byte;
    }

    return ngx_iothub_amqp_sections(buf, n, s);
}


static void
assert_bytes(pn_atom_t a, pn_type_t type, const char *text)
{
    assert_int_equal(a.type, type);
    assert_int_equal(a.u.as_bytes.size, strlen(text));
    assert_memory_equal(a.u.as_bytes.start, text, strlen(text));
}


/* what the Node SDK's Amqp transport sends: properties, app properties */

static void
test_sdk_message(void **state)
{
    pn_atom_t                    key, value;
    ngx_iothub_amqp_sections_t   s;

    static const unsigned char  msg[] =
        /* properties: message-id "m1", user-id, to, 3 nulls, content-type */
        "\x00\x53\x73\xc0\x26\x07"
        "\xa1\x02m1"
        "\xa0\x04" "dev1"
        "\xa1\x04" "/x/y"
        "\x40\x40\x40"
        "\xa3\x10" "application/json"
        /* application-properties: {"k": "v", "n": int 5} */
        "\x00\x53\x74\xc1\x0c\x04"
        "\xa1\x01k\xa1\x01v"
        "\xa1\x01n\x54\x05"
        /* data */
        "\x00\x53\x75\xa0\x05hello";

    (void) state;

    assert_int_equal(ngx_iothub_amqp_sections(BYTES(msg), &s), 0);

    assert_bytes(s.message_id, PN_STRING, "m1");
    assert_bytes(s.user_id, PN_BINARY, "dev1");
    assert_bytes(s.to, PN_STRING, "/x/y");
    assert_int_equal(s.correlation_id.type, PN_NULL);
    assert_bytes(s.content_type, PN_SYMBOL, "application/json");
    assert_int_equal(s.content_encoding.type, PN_NULL);
    assert_bytes(s.body, PN_BINARY, "hello");
    assert_int_equal(s.body_sections, 1);

    assert_int_equal(ngx_iothub_amqp_map_next(&s.app_properties, &key,
                                              &value), 1);
    assert_bytes(key, PN_STRING, "k");
    assert_bytes(value, PN_STRING, "v");

    assert_int_equal(ngx_iothub_amqp_map_next(&s.app_properties, &key,
                                              &value), 1);
    assert_bytes(key, PN_STRING, "n");
    assert_int_equal(value.type, PN_INT);
    assert_int_equal(value.u.as_int, 5);

    assert_int_equal(ngx_iothub_amqp_map_next(&s.app_properties, &key,
                                              &value), 0);
    assert_int_equal(ngx_iothub_amqp_map_next(&s.annotations, &key,
                                              &value), 0);
}


/* ids of the types AMQP allows are kept, others are none */

static void
test_ids(void **state)
{
    ngx_iothub_amqp_sections_t  s;

    (void) state;

    /* smallulong 7 */
    assert_int_equal(read_hex("005373c003015307", &s), 0);
    assert_int_equal(s.message_id.type, PN_ULONG);
    assert_int_equal(s.message_id.u.as_ulong, 7);

    /* uint 0, smallint, symbol: not ids */
    assert_int_equal(read_hex("005373c0020143", &s), 0);
    assert_int_equal(s.message_id.type, PN_NULL);
    assert_int_equal(read_hex("005373c0030154ff", &s), 0);
    assert_int_equal(s.message_id.type, PN_NULL);
    assert_int_equal(read_hex("005373c00401a30161", &s), 0);
    assert_int_equal(s.message_id.type, PN_NULL);

    /* a uuid correlation-id, after five fields */
    assert_int_equal(read_hex("005373c01706404040404098"
                              "000102030405060708090a0b0c0d0e0f", &s), 0);
    assert_int_equal(s.correlation_id.type, PN_UUID);
    assert_int_equal(s.correlation_id.u.as_uuid.bytes[15], 0x0f);
}


/* the body: a data section, an amqp-value, none; two are counted */

static void
test_body(void **state)
{
    ngx_iothub_amqp_sections_t  s;

    (void) state;

    assert_int_equal(read_hex("005377a1026869", &s), 0);
    assert_bytes(s.body, PN_STRING, "hi");

    assert_int_equal(read_hex("00537345", &s), 0);
    assert_int_equal(s.body.type, PN_NULL);
    assert_int_equal(s.body_sections, 0);

    assert_int_equal(read_hex("005375a00161005375a00162", &s), 0);
    assert_bytes(s.body, PN_BINARY, "a");
    assert_int_equal(s.body_sections, 2);

    /* an amqp-sequence is a body section too: its value, a list */
    assert_int_equal(read_hex("005376c0020140", &s), 0);
    assert_int_equal(s.body.type, PN_LIST);
}


/* what is not a message */

static void
test_malformed(void **state)
{
    ngx_iothub_amqp_sections_t  s;

    static const char  *bad[] = {
        "",                                  /* no bytes */
        "a1016161",                          /* a value outside a section */
        "0053",                              /* cut short */
        "005369a0016161",                    /* no section's descriptor */
        "00a30461626364a0016161",            /* a symbolic descriptor */
        "005377a104742b657874",              /* a value cut short after */
        "0053734500537345",                  /* properties twice */
        "005373c003015307ff",                /* a byte after the last */
        "005373c0030000532a",                /* list count 0, a field */
        "005373c00201532a",                  /* a field over the list */
        "005374c10502a10161a100",            /* a map's size too small */
        "005374d10000000900000002537 3e00100",   /* an array without type */
        "005374c1060253 73e0020001",         /* an array of type 0x01 */
        "005374c10a025373005301005302 40",   /* described described */
        "005374c10702537300a1016145",        /* a string descriptor */
        NULL
    };

    const char  **hex;

    (void) state;

    for (hex = bad; *hex; hex++) {
        char         clean[128];
        const char  *p;
        size_t       n;

        for (p = *hex, n = 0; *p; p++) {
            if (*p != ' ') {
                clean[n++] = *p;
            }
        }

        clean[n] = '\0';

        if (read_hex(clean, &s) != -1) {
            fail_msg("taken: %s", *hex);
        }
    }
}


/* an array of a billion elements of no bytes is read at once */

static void
test_array_of_nothing(void **state)
{
    ngx_iothub_amqp_sections_t  s;

    (void) state;

    /* application-properties {"a": array32 of 0xffffffff nulls} */
    assert_int_equal(read_hex("005374c10e02a10161"
                              "f000000005ffffffff40", &s), 0);

    /* a byte more than no bytes each */
    assert_int_equal(read_hex("005374c10f02a10161"
                              "f000000006ffffffff4040", &s), -1);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_sdk_message),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_array_of_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
