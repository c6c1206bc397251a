/*
 * The client side of RFC 6455 for the load generators (ws_client.h).
 */

#define _GNU_SOURCE

#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "ws_client.h"


size_t
ws_upgrade_request(char *out, size_t size, const char *host,
    const char *path, const char *protocol)
{
    int            n;
    size_t         i;
    unsigned char  nonce[16];
    char           key[25];

    static const char  b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        return 0;
    }

    /* 16 bytes: 5 groups of 3 and one byte, "==" padded */
    for (i = 0; i < 5; i++) {
        key[i * 4] = b64[nonce[i * 3] >> 2];
        key[i * 4 + 1] = b64[((nonce[i * 3] & 3) << 4) | (nonce[i * 3 + 1] >> 4)];
        key[i * 4 + 2] = b64[((nonce[i * 3 + 1] & 15) << 2)
                             | (nonce[i * 3 + 2] >> 6)];
        key[i * 4 + 3] = b64[nonce[i * 3 + 2] & 63];
    }

    key[20] = b64[nonce[15] >> 2];
    key[21] = b64[(nonce[15] & 3) << 4];
    key[22] = '=';
    key[23] = '=';
    key[24] = '\0';

    n = snprintf(out, size,
                 "GET %s HTTP/1.1\r\n"
                 "Host: %s\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Protocol: %s\r\n"
                 "\r\n",
                 path, host, key, protocol);

    return (n > 0 && (size_t) n < size) ? (size_t) n : 0;
}


int
ws_upgrade_response(const unsigned char *in, size_t len, size_t *hlen)
{
    const unsigned char  *end;

    end = memmem(in, len, "\r\n\r\n", 4);

    if (end == NULL) {
        return len > 16384 ? -1 : 0;
    }

    if (len < 12 || memcmp(in, "HTTP/1.1 101", 12) != 0) {
        return -1;
    }

    *hlen = (size_t) (end - in) + 4;

    return 1;
}


size_t
ws_frame_header(unsigned char *out, int opcode, uint64_t len,
    const unsigned char mask[4])
{
    size_t  n, i;

    out[0] = (unsigned char) (0x80 | opcode);

    if (len < 126) {
        out[1] = (unsigned char) (0x80 | len);
        n = 2;

    } else if (len < 65536) {
        out[1] = 0x80 | 126;
        out[2] = (unsigned char) (len >> 8);
        out[3] = (unsigned char) len;
        n = 4;

    } else {
        out[1] = 0x80 | 127;

        for (i = 0; i < 8; i++) {
            out[2 + i] = (unsigned char) (len >> (56 - 8 * i));
        }

        n = 10;
    }

    memcpy(out + n, mask, 4);

    return n + 4;
}


void
ws_mask(unsigned char *p, size_t len, const unsigned char mask[4])
{
    size_t  i;

    for (i = 0; i < len; i++) {
        p[i] ^= mask[i & 3];
    }
}


int
ws_frame_parse(const unsigned char *in, size_t len, ws_frame_t *f)
{
    size_t  i;

    if (len < 2) {
        return 0;
    }

    if ((in[0] & 0x70) || (in[1] & 0x80)) {
        return -1;      /* reserved bits, or a masked server frame */
    }

    f->fin = in[0] >> 7;
    f->opcode = in[0] & 0x0f;
    f->payload_len = in[1] & 0x7f;
    f->header_len = 2;

    if (f->payload_len == 126) {
        if (len < 4) {
            return 0;
        }

        f->payload_len = ((uint64_t) in[2] << 8) | in[3];
        f->header_len = 4;

    } else if (f->payload_len == 127) {
        if (len < 10) {
            return 0;
        }

        f->payload_len = 0;

        for (i = 0; i < 8; i++) {
            f->payload_len = (f->payload_len << 8) | in[2 + i];
        }

        f->header_len = 10;
    }

    return 1;
}
