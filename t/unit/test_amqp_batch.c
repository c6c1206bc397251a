
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * Unit tests of ngx_iothub_amqp/ngx_iothub_amqp_batch.c: the data
 * sections of the C SDK's batched telemetry (amqp.md 5) and the frame
 * scanner that reads the transfers' message-format.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "ngx_iothub_amqp_batch.h"


#define BYTES(s)  (const unsigned char *) (s), sizeof(s) - 1


typedef struct {
    int                       n;
    ngx_iothub_amqp_frame_t   f[8];
    unsigned char             tags[8][32];
} seen_t;


static void
seen(void *data, ngx_iothub_amqp_frame_t *f)
{
    seen_t  *s = data;

    assert_true(s->n < 8);

    s->f[s->n] = *f;

    if (f->tag_len) {
        memcpy(s->tags[s->n], f->tag, f->tag_len);
        s->f[s->n].tag = s->tags[s->n];
    }

    s->n++;
}


/* every data section of b, concatenated with '|' after each; rc at end */

static int
sections(const unsigned char *b, size_t n, char *out)
{
    int                   rc;
    size_t                len;
    const unsigned char  *p, *data;

    p = b;
    out[0] = '\0';

    while ((rc = ngx_iothub_amqp_batch_next(&p, b + n, &data, &len)) == 1) {
        strncat(out, (const char *) data, len);
        strcat(out, "|");
    }

    return rc;
}


static void
test_batch_sections(void **state)
{
    char  out[256];

    (void) state;

    /* two data sections, vbin8 and vbin32, one empty */
    assert_int_equal(sections(BYTES("\x00\x53\x75\xa0\x03" "abc"
                                    "\x00\x53\x75\xb0\x00\x00\x00\x00"
                                    "\x00\x53\x75\xa0\x02" "de"), out), 0);
    assert_string_equal(out, "abc||de|");

    /* header, properties, annotations, footer skipped; ulong descriptor */
    assert_int_equal(sections(BYTES("\x00\x53\x70\x45"
                                    "\x00\x53\x73\xc0\x02\x01\x40"
                                    "\x00\x53\x72\xc1\x01\x00"
                                    "\x00\x80\x00\x00\x00\x00\x00\x00\x00"
                                    "\x75\xa0\x01" "x"
                                    "\x00\x53\x78\xc1\x01\x00"), out), 0);
    assert_string_equal(out, "x|");

    /* nothing: no sections */
    assert_int_equal(sections(BYTES(""), out), 0);
}


static void
test_batch_malformed(void **state)
{
    char  out[256];

    (void) state;

    /* an amqp-value body, an amqp-sequence body */
    assert_int_equal(sections(BYTES("\x00\x53\x77\xa1\x01" "x"), out), -1);
    assert_int_equal(sections(BYTES("\x00\x53\x76\x45"), out), -1);
    /* data that is not binary; a short binary */
    assert_int_equal(sections(BYTES("\x00\x53\x75\xa1\x01" "x"), out), -1);
    assert_int_equal(sections(BYTES("\x00\x53\x75\xa0\x05" "abc"), out), -1);
    assert_int_equal(sections(BYTES("\x00\x53\x75\xb0\xff\xff\xff\xff"),
                              out), -1);
    /* no descriptor; a symbolic one; an unknown section */
    assert_int_equal(sections(BYTES("\xa0\x01" "x"), out), -1);
    assert_int_equal(sections(BYTES("\x00\xa3\x10" "amqp:data:binary"
                                    "\xa0\x01" "x"), out), -1);
    assert_int_equal(sections(BYTES("\x00\x53\x13\x45"), out), -1);
    /* a data section after a good one, then garbage */
    assert_int_equal(sections(BYTES("\x00\x53\x75\xa0\x01" "a" "\x01"), out),
                     -1);
    assert_string_equal(out, "a|");
    /* a skipped section of described values nested too deep */
    assert_int_equal(sections(BYTES("\x00\x53\x70"
                                    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                                    "\x40\x40"), out), -1);
    /* an unknown constructor in a skipped section */
    assert_int_equal(sections(BYTES("\x00\x53\x70\x30"), out), -1);
}


/*
 * A connection's start: the SASL header, a SASL frame (type 1), the AMQP
 * header, an attach of "snd-1" (handle 2, role sender) on channel 1, a
 * transfer on it (handle 2, delivery-id 5, tag "tag1", format
 * 0x80013700) with 3 payload bytes, an empty frame, a transfer with
 * neither tag nor format.
 */
static const unsigned char  stream[] =
    "AMQP\x03\x01\x00\x00"
    "\x00\x00\x00\x0c\x02\x01\x00\x00" "\x00\x53\x44\x45"
    "AMQP\x00\x01\x00\x00"
    "\x00\x00\x00\x18\x02\x00\x00\x01"
        "\x00\x53\x12\xc0\x0b\x03" "\xa1\x05" "snd-1" "\x52\x02" "\x42"
    "\x00\x00\x00\x20\x02\x00\x00\x01"
        "\x00\x53\x14\xc0\x10\x04" "\x52\x02" "\x52\x05" "\xa0\x04" "tag1"
        "\x70\x80\x01\x37\x00" "xyz"
    "\x00\x00\x00\x08\x02\x00\x00\x00"
    "\x00\x00\x00\x11\x02\x00\x00\x01"
        "\x00\x53\x14\xc0\x04\x03" "\x43" "\x40" "\x40";


static void
check_stream(seen_t *s)
{
    assert_int_equal(s->n, 3);

    assert_int_equal(s->f[0].kind, NGX_IOTHUB_AMQP_FRAME_ATTACH);
    assert_int_equal(s->f[0].channel, 1);
    assert_int_equal(s->f[0].handle, 2);
    assert_false(s->f[0].receiver);
    assert_true(s->f[0].name_hash
                == ngx_iothub_amqp_name_hash((const unsigned char *) "snd-1",
                                             5));

    assert_int_equal(s->f[1].kind, NGX_IOTHUB_AMQP_FRAME_TRANSFER);
    assert_int_equal(s->f[1].handle, 2);
    assert_true(s->f[1].has_format);
    assert_int_equal(s->f[1].format, NGX_IOTHUB_AMQP_BATCH_FORMAT);
    assert_int_equal(s->f[1].tag_len, 4);
    assert_memory_equal(s->f[1].tag, "tag1", 4);

    assert_int_equal(s->f[2].kind, NGX_IOTHUB_AMQP_FRAME_TRANSFER);
    assert_int_equal(s->f[2].handle, 0);
    assert_false(s->f[2].has_format);
    assert_int_equal(s->f[2].tag_len, 0);
}


static void
test_scan_whole(void **state)
{
    seen_t                  s;
    ngx_iothub_amqp_scan_t  scan;

    (void) state;

    memset(&s, 0, sizeof(s));
    memset(&scan, 0, sizeof(scan));

    ngx_iothub_amqp_scan(&scan, stream, sizeof(stream) - 1, seen, &s);

    assert_false(scan.failed);
    check_stream(&s);
}


static void
test_scan_bytewise(void **state)
{
    size_t                  i;
    seen_t                  s;
    ngx_iothub_amqp_scan_t  scan;

    (void) state;

    memset(&s, 0, sizeof(s));
    memset(&scan, 0, sizeof(scan));

    for (i = 0; i < sizeof(stream) - 1; i++) {
        ngx_iothub_amqp_scan(&scan, stream + i, 1, seen, &s);
    }

    assert_false(scan.failed);
    check_stream(&s);
}


static void
test_scan_long_frame(void **state)
{
    seen_t                  s;
    unsigned char           buf[2048];
    ngx_iothub_amqp_scan_t  scan;

    (void) state;

    /* a transfer of 1000 bytes (its payload skipped), then an attach */

    memset(buf, 'p', sizeof(buf));
    memcpy(buf, "\x00\x00\x03\xe8\x02\x00\x00\x00"
                "\x00\x53\x14\xc0\x09\x04" "\x43" "\x43" "\x40"
                "\x70\x00\x00\x00\x00", 22);
    memcpy(buf + 1000, "\x00\x00\x00\x14\x02\x00\x00\x00"
                       "\x00\x53\x12\xc0\x07\x03" "\xa1\x01" "r" "\x43"
                       "\x56\x01", 20);

    memset(&s, 0, sizeof(s));
    memset(&scan, 0, sizeof(scan));

    ngx_iothub_amqp_scan(&scan, buf, 1020, seen, &s);

    assert_false(scan.failed);
    assert_int_equal(s.n, 2);
    assert_true(s.f[0].has_format);
    assert_int_equal(s.f[0].format, 0);
    assert_int_equal(s.f[1].kind, NGX_IOTHUB_AMQP_FRAME_ATTACH);
    assert_true(s.f[1].receiver);
}


static void
test_scan_bad(void **state)
{
    seen_t                  s;
    ngx_iothub_amqp_scan_t  scan;

    (void) state;

    /* a frame size under 8; a data offset past the frame */

    memset(&s, 0, sizeof(s));
    memset(&scan, 0, sizeof(scan));
    ngx_iothub_amqp_scan(&scan, BYTES("\x00\x00\x00\x04\x02\x00\x00\x00"),
                         seen, &s);
    assert_true(scan.failed);

    memset(&scan, 0, sizeof(scan));
    ngx_iothub_amqp_scan(&scan, BYTES("\x00\x00\x00\x0c\x04\x00\x00\x00"),
                         seen, &s);
    assert_true(scan.failed);

    /* a transfer with a tag over 32 bytes, an attach cut short: nothing */

    memset(&scan, 0, sizeof(scan));
    ngx_iothub_amqp_scan(&scan, BYTES("\x00\x00\x00\x33\x02\x00\x00\x00"
                                      "\x00\x53\x14\xc0\x26\x03\x43\x43"
                                      "\xa0\x21"
                                      "0123456789abcdef0123456789abcdef0"),
                         seen, &s);
    assert_false(scan.failed);

    memset(&scan, 0, sizeof(scan));
    ngx_iothub_amqp_scan(&scan, BYTES("\x00\x00\x00\x12\x02\x00\x00\x00"
                                      "\x00\x53\x12\xc0\x05\x03"
                                      "\xa1\x09" "ab"), seen, &s);
    assert_false(scan.failed);

    assert_int_equal(s.n, 0);
}


int
main(void)
{
    static const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_batch_sections),
        cmocka_unit_test(test_batch_malformed),
        cmocka_unit_test(test_scan_whole),
        cmocka_unit_test(test_scan_bytewise),
        cmocka_unit_test(test_scan_long_frame),
        cmocka_unit_test(test_scan_bad),
    };

    return cmocka_run_group_tests_name("amqp batch", tests, NULL, NULL);
}
