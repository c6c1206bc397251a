
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * Unit tests of ngx_iothub_amqp/ngx_iothub_amqp_encode.c: what it writes
 * is read back by Qpid Proton's decoder, the one the Python and C clients
 * use, and a buffer too small fails without writing past its end.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include <proton/codec.h>
#include <proton/message.h>

#include "ngx_iothub_amqp_encode.h"


static char  long_text[300];


/* annotations, properties, application properties and a data body */

static size_t
encode_event(unsigned char *buf, size_t size, int *failed)
{
    ngx_iothub_amqp_enc_t           e;
    ngx_iothub_amqp_enc_compound_t  c;

    ngx_iothub_amqp_enc_init(&e, buf, size);

    ngx_iothub_amqp_enc_section(&e, NGX_IOTHUB_AMQP_SECTION_ANNOTATIONS);
    ngx_iothub_amqp_enc_map(&e, &c);
    ngx_iothub_amqp_enc_symbol(&e, &c, "x-opt-sequence-number", 21);
    ngx_iothub_amqp_enc_long(&e, &c, -5);
    ngx_iothub_amqp_enc_symbol(&e, &c, "x-opt-enqueued-time", 19);
    ngx_iothub_amqp_enc_timestamp(&e, &c, 1765000000123LL);
    ngx_iothub_amqp_enc_symbol(&e, &c, "long", 4);
    ngx_iothub_amqp_enc_string(&e, &c, long_text, sizeof(long_text));
    ngx_iothub_amqp_enc_close(&e, &c);

    ngx_iothub_amqp_enc_section(&e, NGX_IOTHUB_AMQP_SECTION_PROPERTIES);
    ngx_iothub_amqp_enc_list(&e, &c);
    ngx_iothub_amqp_enc_string(&e, &c, "m1", 2);
    ngx_iothub_amqp_enc_binary(&e, &c, "u1", 2);
    ngx_iothub_amqp_enc_null(&e, &c);
    ngx_iothub_amqp_enc_null(&e, &c);
    ngx_iothub_amqp_enc_null(&e, &c);
    ngx_iothub_amqp_enc_null(&e, &c);
    ngx_iothub_amqp_enc_symbol(&e, &c, "application/json", 16);
    ngx_iothub_amqp_enc_close(&e, &c);

    ngx_iothub_amqp_enc_section(&e, NGX_IOTHUB_AMQP_SECTION_APPLICATION);
    ngx_iothub_amqp_enc_map(&e, &c);
    ngx_iothub_amqp_enc_string(&e, &c, "alert", 5);
    ngx_iothub_amqp_enc_string(&e, &c, "", 0);
    ngx_iothub_amqp_enc_close(&e, &c);

    ngx_iothub_amqp_enc_section(&e, NGX_IOTHUB_AMQP_SECTION_DATA);
    ngx_iothub_amqp_enc_binary(&e, NULL, long_text, sizeof(long_text));

    *failed = e.failed;

    return (size_t) (e.p - buf);
}


static void
next_is(pn_data_t *d, pn_type_t type)
{
    assert_true(pn_data_next(d));
    assert_int_equal(pn_data_type(d), type);
}


static void
test_decoded_by_proton(void **state)
{
    int             failed;
    size_t          n;
    pn_data_t      *d;
    pn_bytes_t      b;
    pn_atom_t       id;
    pn_message_t   *m;
    unsigned char   buf[2048];

    (void) state;

    n = encode_event(buf, sizeof(buf), &failed);
    assert_false(failed);

    m = pn_message();
    assert_int_equal(pn_message_decode(m, (const char *) buf, n), 0);

    d = pn_message_annotations(m);
    pn_data_rewind(d);
    next_is(d, PN_MAP);
    assert_int_equal(pn_data_get_map(d), 6);
    pn_data_enter(d);
    next_is(d, PN_SYMBOL);
    next_is(d, PN_LONG);
    assert_int_equal(pn_data_get_long(d), -5);
    next_is(d, PN_SYMBOL);
    next_is(d, PN_TIMESTAMP);
    assert_int_equal(pn_data_get_timestamp(d), 1765000000123LL);
    next_is(d, PN_SYMBOL);
    assert_memory_equal(pn_data_get_symbol(d).start, "long", 4);
    next_is(d, PN_STRING);
    b = pn_data_get_string(d);
    assert_int_equal(b.size, sizeof(long_text));
    assert_memory_equal(b.start, long_text, sizeof(long_text));
    assert_false(pn_data_next(d));

    id = pn_message_get_id(m);
    assert_int_equal(id.type, PN_STRING);
    assert_memory_equal(id.u.as_bytes.start, "m1", 2);
    assert_int_equal(pn_message_get_user_id(m).size, 2);
    assert_null(pn_message_get_address(m));
    assert_string_equal(pn_message_get_content_type(m), "application/json");
    assert_null(pn_message_get_content_encoding(m));

    d = pn_message_properties(m);
    pn_data_rewind(d);
    next_is(d, PN_MAP);
    assert_int_equal(pn_data_get_map(d), 2);
    pn_data_enter(d);
    next_is(d, PN_STRING);
    next_is(d, PN_STRING);
    assert_int_equal(pn_data_get_string(d).size, 0);

    d = pn_message_body(m);
    pn_data_rewind(d);
    next_is(d, PN_BINARY);
    assert_int_equal(pn_data_get_binary(d).size, sizeof(long_text));

    pn_message_free(m);
}


/* every size short of the whole fails, and nothing lands past the end */

static void
test_too_small(void **state)
{
    int             failed;
    size_t          n, whole;
    unsigned char   buf[2048];

    (void) state;

    whole = encode_event(buf, sizeof(buf), &failed);
    assert_false(failed);

    for (n = 0; n < whole; n++) {
        memset(buf, 0xee, sizeof(buf));
        (void) encode_event(buf, n, &failed);
        assert_true(failed);
        assert_int_equal(buf[n], 0xee);
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_decoded_by_proton),
        cmocka_unit_test(test_too_small),
    };

    memset(long_text, 'x', sizeof(long_text));

    return cmocka_run_group_tests(tests, NULL, NULL);
}
