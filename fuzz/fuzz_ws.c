
/*
 * libFuzzer target for ngx_iothub_http/ngx_iothub_ws_codec.c: the input is
 * what a WebSocket client sends after the handshake.  The first byte
 * chooses a frame size limit and the read size; the rest is decoded in
 * place, read by read, as the transport does.  Whatever is decoded must
 * stay inside what was read; the same input decoded in one read gives the
 * same data and the same end.  The input is also tried as a
 * Sec-WebSocket-Key and as a Sec-WebSocket-Protocol list.
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_iothub_ws_codec.h"


#define fuzz_assert(e)  if (!(e)) __builtin_trap()


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ngx_iothub_ws_rc_e fuzz_decode(const unsigned char *in, size_t len,
    size_t step, uint64_t max_frame, unsigned char *out, size_t *out_len,
    unsigned *code);
static void fuzz_handshake(const unsigned char *p, size_t len);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t              step, a_len, b_len;
    unsigned            a_code, b_code;
    uint64_t            max_frame;
    unsigned char      *a, *b;
    ngx_iothub_ws_rc_e  a_rc, b_rc;

    if (size == 0) {
        return 0;
    }

    fuzz_handshake(data, size);

    step = (data[0] & 0x0f) + 1;
    max_frame = (data[0] & 0x10) ? 0 : (uint64_t) (data[0] >> 5) * 64;

    a = malloc(size);
    b = malloc(size);

    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        return 0;
    }

    a_rc = fuzz_decode(data + 1, size - 1, step, max_frame, a, &a_len,
                       &a_code);
    b_rc = fuzz_decode(data + 1, size - 1, size, max_frame, b, &b_len,
                       &b_code);

    fuzz_assert(a_rc == b_rc);
    fuzz_assert(a_len == b_len && memcmp(a, b, a_len) == 0);

    if (a_rc == NGX_IOTHUB_WS_CLOSE || a_rc == NGX_IOTHUB_WS_ERROR) {
        fuzz_assert(a_code == b_code);
    }

    free(a);
    free(b);

    return 0;
}


/*
 * Decodes read by read (step bytes each, copied into a buffer of their
 * exact size) until the input ends, a close or an error; pings and pongs
 * are answered by going on.  Returns the last result.
 */

static ngx_iothub_ws_rc_e
fuzz_decode(const unsigned char *in, size_t len, size_t step,
    uint64_t max_frame, unsigned char *out, size_t *out_len, unsigned *code)
{
    size_t                   pos, n, used, produced;
    unsigned char           *buf, frame[NGX_IOTHUB_WS_CLOSE_FRAME_MAX];
    ngx_iothub_ws_rc_e       rc;
    ngx_iothub_ws_decoder_t  d;

    ngx_iothub_ws_decoder_init(&d, max_frame);

    *out_len = 0;
    pos = 0;
    rc = NGX_IOTHUB_WS_AGAIN;

    while (pos < len) {
        n = (len - pos < step) ? len - pos : step;

        buf = malloc(n);
        if (buf == NULL) {
            abort();
        }

        memcpy(buf, in + pos, n);

        rc = ngx_iothub_ws_decode(&d, buf, n, buf, &used, &produced);

        fuzz_assert(used <= n && produced <= used);

        memcpy(out + *out_len, buf, produced);
        *out_len += produced;
        pos += used;

        free(buf);

        if (rc == NGX_IOTHUB_WS_PING) {
            fuzz_assert(d.control_len <= NGX_IOTHUB_WS_CONTROL_MAX);
            fuzz_assert(ngx_iothub_ws_pong_frame(frame, d.control,
                                                 d.control_len)
                        == 2 + d.control_len);
            continue;
        }

        if (rc == NGX_IOTHUB_WS_CLOSE || rc == NGX_IOTHUB_WS_ERROR) {
            *code = d.code;
            fuzz_assert(ngx_iothub_ws_close_frame(frame, d.code, d.error)
                        <= sizeof(frame));
            break;
        }

        fuzz_assert(rc == NGX_IOTHUB_WS_PONG || used == n);
    }

    return rc;
}


static void
fuzz_handshake(const unsigned char *p, size_t len)
{
    int                   rc;
    size_t                n;
    unsigned char        *copy, accept[NGX_IOTHUB_WS_ACCEPT_LEN];
    const unsigned char  *pos, *last, *token;

    copy = malloc(len);
    if (copy == NULL) {
        return;
    }

    memcpy(copy, p, len);

    (void) ngx_iothub_ws_accept(copy, len, accept);

    pos = copy;
    last = copy + len;

    while ((rc = ngx_iothub_ws_next_token(&pos, last, &token, &n)) == 1) {
        fuzz_assert(token >= copy && token + n <= last && n != 0);
        fuzz_assert(pos >= token + n && pos <= last);
    }

    (void) ngx_iothub_ws_list_has(copy, len, "mqtt");

    free(copy);
}
