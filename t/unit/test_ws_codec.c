
/*
 * Unit tests of ngx_iothub_http/ngx_iothub_ws_codec.c: the WebSocket
 * accept key, header token lists, the frame decoder (fed whole and in
 * every chunk size from 1 byte) and the server's frames.  "make unit"
 * builds and runs them.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit_table.h"

#include "ngx_iothub_ws_codec.h"


#define MAX_FRAMES  5
#define BIG         70000

#define FR(b0, unmasked, ext, payload)  { b0, unmasked, ext, payload, 0, 0 }
#define FAKE(b0, ext, payload, len)     { b0, 0, ext, payload, 0, len }


/* a client frame: first byte, masked or not, length form, payload */
typedef struct {
    unsigned              b0;
    int                   unmasked;
    int                   ext;        /* 0: shortest, 16 or 64 bits */
    const char           *payload;
    size_t                len;        /* 0: strlen(payload) */
    uint64_t              fake_len;   /* announce this length instead */
} frame_t;


typedef struct {
    const char           *name;
    frame_t               frames[MAX_FRAMES];
    uint64_t              max_frame;
    const char           *events;     /* P ping, O pong, C close, E error */
    unsigned              code;       /* of the close or error */
    const char           *data;       /* the data produced, in order */
    const char           *control;    /* the last control payload */
} decode_case_t;


typedef struct {
    const char           *name;
    const char           *key;
    const char           *accept;     /* NULL: refused */
} accept_case_t;


typedef struct {
    const char           *name;
    const char           *value;
    const char           *tokens;     /* joined with "|"; NULL: invalid */
} token_case_t;


static const decode_case_t  decode_cases[] = {

    { "binary frame",
      { FR(0x82, 0, 0, "\x10\x02hi") }, 0, "", 0, "\x10\x02hi", NULL },

    { "two frames in one read",
      { FR(0x82, 0, 0, "abc"), FR(0x82, 0, 0, "def") }, 0, "", 0,
      "abcdef", NULL },

    { "fragmented message",
      { FR(0x02, 0, 0, "ab"), FR(0x00, 0, 0, "cd"), FR(0x80, 0, 0, "ef") },
      0, "", 0, "abcdef", NULL },

    { "ping between fragments",
      { FR(0x02, 0, 0, "ab"), FR(0x89, 0, 0, "hey"), FR(0x80, 0, 0, "cd") },
      0, "P", 0, "abcd", "hey" },

    { "empty binary frame",
      { FR(0x82, 0, 0, ""), FR(0x82, 0, 0, "x") }, 0, "", 0, "x", NULL },

    { "16-bit length",
      { FR(0x82, 0, 16, "sixteen") }, 0, "", 0, "sixteen", NULL },

    { "64-bit length",
      { FR(0x82, 0, 64, "sixty-four") }, 0, "", 0, "sixty-four", NULL },

    { "pong is taken",
      { FR(0x8a, 0, 0, ""), FR(0x82, 0, 0, "z") }, 0, "O", 0, "z", "" },

    { "close with code and reason",
      { FR(0x88, 0, 0, "\x03\xe8" "bye"), FR(0x82, 0, 0, "after") }, 0,
      "C", 1000, "", "\x03\xe8" "bye" },

    { "empty close",
      { FR(0x88, 0, 0, "") }, 0, "C", 1005, "", "" },

    { "close with application code",
      { FR(0x88, 0, 0, "\x0f\xa0") }, 0, "C", 4000, "", NULL },

    { "close of one byte",
      { FR(0x88, 0, 0, "\x03") }, 0, "E", 1002, "", NULL },

    { "close code 1005 sent",
      { FR(0x88, 0, 0, "\x03\xed") }, 0, "E", 1002, "", NULL },

    { "close code 999",
      { FR(0x88, 0, 0, "\x03\xe7") }, 0, "E", 1002, "", NULL },

    { "close reason not UTF-8",
      { FR(0x88, 0, 0, "\x03\xe8\xff") }, 0, "E", 1007, "", NULL },

    { "close reason overlong UTF-8",
      { FR(0x88, 0, 0, "\x03\xe8\xc0\xaf") }, 0, "E", 1007, "", NULL },

    { "close reason UTF-8 surrogate",
      { FR(0x88, 0, 0, "\x03\xe8\xed\xa0\x80") }, 0, "E", 1007, "", NULL },

    { "close reason valid UTF-8",
      { FR(0x88, 0, 0, "\x03\xe8\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") }, 0,
      "C", 1000, "", NULL },

    { "unmasked frame",
      { FR(0x82, 1, 0, "abc") }, 0, "E", 1002, "", NULL },

    { "data before an unmasked frame",
      { FR(0x82, 0, 0, "ok"), FR(0x82, 1, 0, "abc") }, 0, "E", 1002, "ok",
      NULL },

    { "reserved bit 1",
      { FR(0xc2, 0, 0, "abc") }, 0, "E", 1002, "", NULL },

    { "reserved bit 3",
      { FR(0x92, 0, 0, "abc") }, 0, "E", 1002, "", NULL },

    { "unknown data opcode",
      { FR(0x83, 0, 0, "abc") }, 0, "E", 1002, "", NULL },

    { "unknown control opcode",
      { FR(0x8b, 0, 0, "abc") }, 0, "E", 1002, "", NULL },

    { "text frame",
      { FR(0x81, 0, 0, "abc") }, 0, "E", 1003, "", NULL },

    { "continuation without a message",
      { FR(0x80, 0, 0, "abc") }, 0, "E", 1002, "", NULL },

    { "binary inside a fragmented message",
      { FR(0x02, 0, 0, "ab"), FR(0x82, 0, 0, "cd") }, 0, "E", 1002, "ab",
      NULL },

    { "fragmented ping",
      { FR(0x09, 0, 0, "ab") }, 0, "E", 1002, "", NULL },

    { "ping of 126 bytes",
      { FAKE(0x89, 16, "x", 126) }, 0, "E", 1002, "", NULL },

    { "64-bit length with the high bit",
      { FAKE(0x82, 64, "x", 0x8000000000000000ULL) }, 0, "E", 1002, "",
      NULL },

    { "frame over the limit",
      { FR(0x82, 0, 0, "0123456789") }, 9, "E", 1009, "", NULL },

    { "frame at the limit",
      { FR(0x82, 0, 0, "0123456789") }, 10, "", 0, "0123456789", NULL },

    { "announced frame over the limit",
      { { 0x82, 0, 64, "x", 0, 1ULL << 40 } }, 1024 * 1024, "E", 1009, "",
      NULL },

    { "control frames are not limited",
      { FR(0x89, 0, 0, "0123456789") }, 4, "P", 0, "", "0123456789" },
};


static const accept_case_t  accept_cases[] = {
    /* RFC 6455 1.3 */
    { "the RFC's example", "dGhlIHNhbXBsZSBub25jZQ==",
      "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" },
    { "too short", "dGhlIHNhbXBsZSBub25jZQ=", NULL },
    { "too long", "dGhlIHNhbXBsZSBub25jZQ===", NULL },
    { "no padding", "dGhlIHNhbXBsZSBub25jZQAA", NULL },
    { "not base64", "dGhlIHNhbXBsZSBub25j*Q==", NULL },
    { "bits past 16 bytes", "dGhlIHNhbXBsZSBub25jZR==", NULL },
    { "empty", "", NULL },
};


static const token_case_t  token_cases[] = {
    { "one", "mqtt", "mqtt" },
    { "two", "mqtt, AMQPWSB10", "mqtt|AMQPWSB10" },
    { "blanks and empty elements", " ,mqtt ,\t, MQTT ,", "mqtt|MQTT" },
    { "empty", "", "" },
    { "only commas", ", ,", "" },
    { "space inside a token", "mq tt", NULL },
    { "separator", "mqtt;v=1", NULL },
    { "quoted", "\"mqtt\"", NULL },
};


/* writes a client frame, masked with a fixed key unless unmasked */

static size_t
put_frame(unsigned char *buf, const frame_t *f)
{
    size_t          i, n, len;
    uint64_t        announce;
    unsigned char   mask[4] = { 0x37, 0xfa, 0x21, 0x3d };

    len = f->len ? f->len : strlen(f->payload);
    announce = f->fake_len ? f->fake_len : len;

    n = 0;
    buf[n++] = (unsigned char) f->b0;

    if (f->ext == 64 || announce > 65535) {
        buf[n++] = 127;

        for (i = 0; i < 8; i++) {
            buf[n++] = (unsigned char) (announce >> (56 - 8 * i));
        }

    } else if (f->ext == 16 || announce > 125) {
        buf[n++] = 126;
        buf[n++] = (unsigned char) (announce >> 8);
        buf[n++] = (unsigned char) announce;

    } else {
        buf[n++] = (unsigned char) announce;
    }

    if (f->unmasked) {
        memcpy(buf + n, f->payload, len);
        return n + len;
    }

    buf[1] |= 0x80;
    memcpy(buf + n, mask, 4);
    n += 4;

    for (i = 0; i < len; i++) {
        buf[n + i] = (unsigned char) f->payload[i] ^ mask[i & 3];
    }

    return n + len;
}


/* decodes in chunks of step bytes, as reads would deliver them */

static void
run_decode(const decode_case_t *tc, const unsigned char *in, size_t len,
    size_t step)
{
    char                     events[16];
    size_t                   pos, n, used, produced, out_len, nev;
    unsigned char           *buf, out[256];
    ngx_iothub_ws_rc_e       rc;
    ngx_iothub_ws_decoder_t  d;

    ngx_iothub_ws_decoder_init(&d, tc->max_frame);

    out_len = 0;
    nev = 0;
    pos = 0;
    rc = NGX_IOTHUB_WS_AGAIN;

    while (pos < len && rc != NGX_IOTHUB_WS_CLOSE
           && rc != NGX_IOTHUB_WS_ERROR)
    {
        n = (len - pos < step) ? len - pos : step;

        /* a copy of the exact size: ASan sees reads past it */
        buf = malloc(n);
        assert_non_null(buf);
        memcpy(buf, in + pos, n);

        rc = ngx_iothub_ws_decode(&d, buf, n, buf, &used, &produced);

        assert_true(used <= n);
        assert_true(produced <= used);
        assert_true(out_len + produced <= sizeof(out));
        memcpy(out + out_len, buf, produced);
        out_len += produced;
        pos += used;

        free(buf);

        switch (rc) {
        case NGX_IOTHUB_WS_AGAIN:
            assert_int_equal(used, n);
            continue;
        case NGX_IOTHUB_WS_PING:
            events[nev++] = 'P';
            break;
        case NGX_IOTHUB_WS_PONG:
            events[nev++] = 'O';
            break;
        case NGX_IOTHUB_WS_CLOSE:
            events[nev++] = 'C';
            break;
        case NGX_IOTHUB_WS_ERROR:
            events[nev++] = 'E';
            assert_non_null(d.error);
            break;
        }

        if (tc->control && (rc == NGX_IOTHUB_WS_PING
                            || rc == NGX_IOTHUB_WS_PONG
                            || rc == NGX_IOTHUB_WS_CLOSE))
        {
            assert_int_equal(d.control_len, strlen(tc->control));
            assert_memory_equal(d.control, tc->control, d.control_len);
        }
    }

    events[nev] = '\0';

    assert_string_equal(events, tc->events);
    assert_int_equal(out_len, strlen(tc->data));
    assert_memory_equal(out, tc->data, out_len);

    if (rc == NGX_IOTHUB_WS_CLOSE || rc == NGX_IOTHUB_WS_ERROR) {
        assert_int_equal(d.code, tc->code);

        /* nothing more is taken */
        rc = ngx_iothub_ws_decode(&d, (unsigned char *) "\x82\x80", 2, out,
                                  &used, &produced);
        assert_int_equal(rc, NGX_IOTHUB_WS_AGAIN);
        assert_int_equal(used, 0);
        assert_int_equal(produced, 0);
    }
}


static void
test_decode(void **state)
{
    const decode_case_t *tc = *state;

    size_t         i, len, step;
    unsigned char  in[1024];

    len = 0;

    for (i = 0; i < MAX_FRAMES && tc->frames[i].payload; i++) {
        len += put_frame(in + len, &tc->frames[i]);
    }

    for (step = 1; step <= len; step++) {
        run_decode(tc, in, len, step);
    }
}


/* a 70000-byte frame (64-bit length), unmasked in place in one read */

static void
test_big_frame(void **state)
{
    size_t                   i, used, produced;
    unsigned char           *in, *payload;
    frame_t                  f;
    ngx_iothub_ws_decoder_t  d;

    (void) state;

    payload = malloc(BIG);
    in = malloc(BIG + 14);
    assert_non_null(payload);
    assert_non_null(in);

    for (i = 0; i < BIG; i++) {
        payload[i] = (unsigned char) (i * 7);
    }

    memset(&f, 0, sizeof(frame_t));
    f.b0 = 0x82;
    f.payload = (const char *) payload;
    f.len = BIG;

    ngx_iothub_ws_decoder_init(&d, BIG);

    i = put_frame(in, &f);
    assert_int_equal(i, BIG + 10 + 4);

    assert_int_equal(ngx_iothub_ws_decode(&d, in, i, in, &used, &produced),
                     NGX_IOTHUB_WS_AGAIN);
    assert_int_equal(used, i);
    assert_int_equal(produced, BIG);
    assert_memory_equal(in, payload, BIG);

    free(in);
    free(payload);
}


static void
test_accept(void **state)
{
    const accept_case_t *tc = *state;

    int            rc;
    unsigned char  out[NGX_IOTHUB_WS_ACCEPT_LEN];

    rc = ngx_iothub_ws_accept((const unsigned char *) tc->key,
                              strlen(tc->key), out);

    if (tc->accept == NULL) {
        assert_int_equal(rc, -1);
        return;
    }

    assert_int_equal(rc, 0);
    assert_memory_equal(out, tc->accept, NGX_IOTHUB_WS_ACCEPT_LEN);
}


static void
test_tokens(void **state)
{
    const token_case_t *tc = *state;

    int                   rc;
    char                  joined[128];
    size_t                n, len;
    const unsigned char  *p, *last, *token;

    p = (const unsigned char *) tc->value;
    last = p + strlen(tc->value);
    len = 0;

    while ((rc = ngx_iothub_ws_next_token(&p, last, &token, &n)) == 1) {
        if (len) {
            joined[len++] = '|';
        }

        memcpy(joined + len, token, n);
        len += n;
    }

    joined[len] = '\0';

    if (tc->tokens == NULL) {
        assert_int_equal(rc, -1);
        return;
    }

    assert_int_equal(rc, 0);
    assert_string_equal(joined, tc->tokens);
}


static void
test_list_has(void **state)
{
    (void) state;

    assert_true(ngx_iothub_ws_list_has((const unsigned char *)
                                       "keep-alive, Upgrade", 19,
                                       "upgrade"));
    assert_false(ngx_iothub_ws_list_has((const unsigned char *)
                                        "keep-alive, Upgraded", 20,
                                        "upgrade"));
    assert_false(ngx_iothub_ws_list_has((const unsigned char *) "", 0,
                                        "upgrade"));
}


static void
test_server_frames(void **state)
{
    size_t                   n, used, produced;
    unsigned char            buf[NGX_IOTHUB_WS_CLOSE_FRAME_MAX + 8];
    char                     reason[200];

    (void) state;

    assert_int_equal(ngx_iothub_ws_frame_header(buf, NGX_IOTHUB_WS_OP_BINARY,
                                                125), 2);
    assert_memory_equal(buf, "\x82\x7d", 2);

    assert_int_equal(ngx_iothub_ws_frame_header(buf, NGX_IOTHUB_WS_OP_BINARY,
                                                126), 4);
    assert_memory_equal(buf, "\x82\x7e\x00\x7e", 4);

    assert_int_equal(ngx_iothub_ws_frame_header(buf, NGX_IOTHUB_WS_OP_BINARY,
                                                65535), 4);
    assert_memory_equal(buf, "\x82\x7e\xff\xff", 4);

    assert_int_equal(ngx_iothub_ws_frame_header(buf, NGX_IOTHUB_WS_OP_BINARY,
                                                65536), 10);
    assert_memory_equal(buf, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);

    n = ngx_iothub_ws_close_frame(buf, NGX_IOTHUB_WS_TOO_BIG, "too big");
    assert_int_equal(n, 11);
    assert_memory_equal(buf, "\x88\x09\x03\xf1too big", 11);

    n = ngx_iothub_ws_close_frame(buf, NGX_IOTHUB_WS_NO_STATUS, "ignored");
    assert_int_equal(n, 2);
    assert_memory_equal(buf, "\x88\x00", 2);

    /* a long reason is cut so that the frame stays a control frame */
    memset(reason, 'r', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    n = ngx_iothub_ws_close_frame(buf, NGX_IOTHUB_WS_NORMAL, reason);
    assert_int_equal(n, NGX_IOTHUB_WS_CLOSE_FRAME_MAX);
    assert_int_equal(buf[1], 125);

    n = ngx_iothub_ws_pong_frame(buf, (const unsigned char *) "hey", 3);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "\x8a\x03hey", 5);

    /* a server frame is unmasked: our own decoder refuses it */
    {
        ngx_iothub_ws_decoder_t  d;

        ngx_iothub_ws_decoder_init(&d, 0);
        assert_int_equal(ngx_iothub_ws_decode(&d, buf, n, buf, &used,
                                              &produced),
                         NGX_IOTHUB_WS_ERROR);
        assert_int_equal(d.code, NGX_IOTHUB_WS_PROTOCOL_ERROR);
    }

    assert_string_equal(ngx_iothub_ws_code_text(1009), "message too big");
}


int
main(void)
{
    int  failed;

    const struct CMUnitTest  single[] = {
        cmocka_unit_test(test_big_frame),
        cmocka_unit_test(test_list_has),
        cmocka_unit_test(test_server_frames),
    };

    static const table_t  tables[] = {
        TABLE("frame decoding", test_decode, decode_cases),
        TABLE("accept keys", test_accept, accept_cases),
        TABLE("header tokens", test_tokens, token_cases),
    };

    size_t  i;

    failed = 0;

    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        failed += run_table(&tables[i]);
    }

    failed += cmocka_run_group_tests_name("websocket", single, NULL, NULL);

    return failed ? 1 : 0;
}
