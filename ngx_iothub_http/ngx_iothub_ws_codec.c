
/*
 * nginx-iothub: the WebSocket protocol (RFC 6455) as a server speaks it.
 * Pure C: no nginx headers.
 *
 * Decoder states, per frame:
 *
 *   header (2..14 bytes, kept across reads) --> payload (left bytes)
 *      ^                                            |
 *      +---- data: unmasked into out ---------------+
 *      +---- control: collected, then PING/PONG/CLOSE returned
 */


#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ngx_iothub_ws_codec.h"


#define NGX_IOTHUB_WS_GUID  "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


static int ngx_iothub_ws_base64_char(unsigned char ch);
static int ngx_iothub_ws_tchar(unsigned char ch);
static ngx_iothub_ws_rc_e ngx_iothub_ws_header(ngx_iothub_ws_decoder_t *d,
    const unsigned char **pos, const unsigned char *last);
static ngx_iothub_ws_rc_e ngx_iothub_ws_check(ngx_iothub_ws_decoder_t *d);
static ngx_iothub_ws_rc_e ngx_iothub_ws_start(ngx_iothub_ws_decoder_t *d);
static ngx_iothub_ws_rc_e ngx_iothub_ws_end(ngx_iothub_ws_decoder_t *d);
static ngx_iothub_ws_rc_e ngx_iothub_ws_close(ngx_iothub_ws_decoder_t *d);
static ngx_iothub_ws_rc_e ngx_iothub_ws_fail(ngx_iothub_ws_decoder_t *d,
    unsigned code, const char *error);
static void ngx_iothub_ws_unmask(ngx_iothub_ws_decoder_t *d,
    unsigned char *dst, const unsigned char *src, size_t n);
static int ngx_iothub_ws_valid_code(unsigned code);
static int ngx_iothub_ws_utf8(const unsigned char *p, size_t len);


int
ngx_iothub_ws_accept(const unsigned char *key, size_t len,
    unsigned char *accept)
{
    size_t         i;
    unsigned char  buf[NGX_IOTHUB_WS_KEY_LEN + sizeof(NGX_IOTHUB_WS_GUID)];
    unsigned char  digest[SHA_DIGEST_LENGTH];
    unsigned char  out[NGX_IOTHUB_WS_ACCEPT_LEN + 1];

    /* 16 bytes in base64: 22 characters, the last with 4 zero bits, "==" */

    if (len != NGX_IOTHUB_WS_KEY_LEN || key[22] != '=' || key[23] != '=') {
        return -1;
    }

    for (i = 0; i < 22; i++) {
        if (ngx_iothub_ws_base64_char(key[i]) < 0) {
            return -1;
        }
    }

    if (ngx_iothub_ws_base64_char(key[21]) & 0x0f) {
        return -1;
    }

    memcpy(buf, key, len);
    memcpy(buf + len, NGX_IOTHUB_WS_GUID, sizeof(NGX_IOTHUB_WS_GUID) - 1);

    SHA1(buf, len + sizeof(NGX_IOTHUB_WS_GUID) - 1, digest);

    if (EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH)
        != NGX_IOTHUB_WS_ACCEPT_LEN)
    {
        return -1;
    }

    memcpy(accept, out, NGX_IOTHUB_WS_ACCEPT_LEN);

    return 0;
}


static int
ngx_iothub_ws_base64_char(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z') {
        return ch - 'A';
    }

    if (ch >= 'a' && ch <= 'z') {
        return ch - 'a' + 26;
    }

    if (ch >= '0' && ch <= '9') {
        return ch - '0' + 52;
    }

    if (ch == '+') {
        return 62;
    }

    if (ch == '/') {
        return 63;
    }

    return -1;
}


int
ngx_iothub_ws_next_token(const unsigned char **pos, const unsigned char *last,
    const unsigned char **token, size_t *len)
{
    const unsigned char  *p, *start;

    p = *pos;

    /* blanks and empty elements: "a, ,b" */

    while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
        p++;
    }

    if (p == last) {
        *pos = p;
        return 0;
    }

    start = p;

    while (p < last && ngx_iothub_ws_tchar(*p)) {
        p++;
    }

    if (p == start) {
        return -1;
    }

    *token = start;
    *len = p - start;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if (p < last && *p != ',') {
        return -1;
    }

    *pos = p;

    return 1;
}


static int
ngx_iothub_ws_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
        || (ch >= '0' && ch <= '9'))
    {
        return 1;
    }

    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}


int
ngx_iothub_ws_list_has(const unsigned char *value, size_t len,
    const char *name)
{
    size_t                i, n, name_len;
    const unsigned char  *p, *last, *token;

    p = value;
    last = value + len;
    name_len = strlen(name);

    while (ngx_iothub_ws_next_token(&p, last, &token, &n) == 1) {
        if (n != name_len) {
            continue;
        }

        for (i = 0; i < n; i++) {
            if ((token[i] | 0x20) != (name[i] | 0x20)) {
                break;
            }
        }

        if (i == n) {
            return 1;
        }
    }

    return 0;
}


void
ngx_iothub_ws_decoder_init(ngx_iothub_ws_decoder_t *d, uint64_t max_frame)
{
    memset(d, 0, sizeof(ngx_iothub_ws_decoder_t));
    d->max_frame = max_frame;
}


ngx_iothub_ws_rc_e
ngx_iothub_ws_decode(ngx_iothub_ws_decoder_t *d, const unsigned char *in,
    size_t len, unsigned char *out, size_t *used, size_t *produced)
{
    size_t                n;
    unsigned char        *o;
    ngx_iothub_ws_rc_e    rc;
    const unsigned char  *p, *last;

    p = in;
    last = in + len;
    o = out;
    rc = NGX_IOTHUB_WS_AGAIN;

    while (!d->closed && p < last) {

        if (!d->in_payload) {
            rc = ngx_iothub_ws_header(d, &p, last);

            if (rc != NGX_IOTHUB_WS_AGAIN) {
                break;
            }

            if (!d->in_payload || d->left) {
                /* the header goes on in the next read, or the payload */
                continue;
            }

            /* an empty payload: the frame ends with its header */

        } else {
            n = last - p;

            if ((uint64_t) n > d->left) {
                n = (size_t) d->left;
            }

            if (d->opcode & 0x8) {
                ngx_iothub_ws_unmask(d, d->control + d->control_len, p, n);
                d->control_len += n;

            } else {
                ngx_iothub_ws_unmask(d, o, p, n);
                o += n;
            }

            p += n;
            d->left -= n;

            if (d->left) {
                continue;
            }
        }

        rc = ngx_iothub_ws_end(d);

        if (rc != NGX_IOTHUB_WS_AGAIN) {
            break;
        }
    }

    *used = p - in;
    *produced = o - out;

    return rc;
}


/* collects the frame header; on its last byte the frame starts */

static ngx_iothub_ws_rc_e
ngx_iothub_ws_header(ngx_iothub_ws_decoder_t *d, const unsigned char **pos,
    const unsigned char *last)
{
    size_t                need;
    ngx_iothub_ws_rc_e    rc;
    const unsigned char  *p;

    p = *pos;

    for ( ;; ) {
        need = 2;

        if (d->header_len >= 2) {
            switch (d->header[1] & 0x7f) {
            case 126:
                need += 2;
                break;
            case 127:
                need += 8;
                break;
            }

            need += 4;
        }

        if (d->header_len == need) {
            break;
        }

        if (p == last) {
            *pos = p;
            return NGX_IOTHUB_WS_AGAIN;
        }

        d->header[d->header_len++] = *p++;

        if (d->header_len == 2) {
            rc = ngx_iothub_ws_check(d);

            if (rc != NGX_IOTHUB_WS_AGAIN) {
                *pos = p;
                return rc;
            }
        }
    }

    *pos = p;

    return ngx_iothub_ws_start(d);
}


/* the first two bytes: flags, opcode, mask bit, 7-bit length */

static ngx_iothub_ws_rc_e
ngx_iothub_ws_check(ngx_iothub_ws_decoder_t *d)
{
    unsigned  opcode, fin;

    fin = d->header[0] >> 7;
    opcode = d->header[0] & 0x0f;

    if (d->header[0] & 0x70) {
        return ngx_iothub_ws_fail(d, NGX_IOTHUB_WS_PROTOCOL_ERROR,
                                  "reserved bits set");
    }

    /* RFC 6455 5.1: a server closes on an unmasked frame */
    if (!(d->header[1] & 0x80)) {
        return ngx_iothub_ws_fail(d, NGX_IOTHUB_WS_PROTOCOL_ERROR,
                                  "unmasked frame");
    }

    switch (opcode) {

    case NGX_IOTHUB_WS_OP_CLOSE:
    case NGX_IOTHUB_WS_OP_PING:
    case NGX_IOTHUB_WS_OP_PONG:
        /* RFC 6455 5.5 */
        if (!fin) {
            return ngx_iothub_ws_fail(d, NGX_IOTHUB_WS_PROTOCOL_ERROR,
                                      "fragmented control frame");
        }

        if ((d->header[1] & 0x7f) > NGX_IOTHUB_WS_CONTROL_MAX) {
            return ngx_iothub_ws_fail(d, NGX_IOTHUB_WS_PROTOCOL_ERROR,
                                      "control frame over 125 bytes");
        }

        break;

    case NGX_IOTHUB_WS_OP_CONT:
        if (!d->in_message) {
            return ngx_iothub_ws_fail(d, NGX_IOTHUB_WS_PROTOCOL_ERROR,
                                      "continuation frame without a "
                                      "message");
        }

        break;

    case NGX_IOTHUB_WS_OP_BINARY:
        if (d->in_message) {
            return ngx_iothub_ws_fail(d, NGX_IOTHUB_WS_PROTOCOL_ERROR,
                                      "new message inside a fragmented "
                                      "one");
        }

        break;

    case NGX_IOTHUB_WS_OP_TEXT:
        /* MQTT-6.0.0-1, and AMQP over WebSocket: binary only */
        return ngx_iothub_ws_fail(d, NGX_IOTHUB_WS_UNSUPPORTED,
                                  "text frame");

    default:
        return ngx_iothub_ws_fail(d, NGX_IOTHUB_WS_PROTOCOL_ERROR,
                                  "unknown opcode");
    }

    d->fin = fin;
    d->opcode = opcode;

    return NGX_IOTHUB_WS_AGAIN;
}


/* the header is complete: length and mask */

static ngx_iothub_ws_rc_e
ngx_iothub_ws_start(ngx_iothub_ws_decoder_t *d)
{
    size_t    i, n;
    uint64_t  len;

    len = d->header[1] & 0x7f;
    n = 2;

    if (len == 126) {
        len = ((uint64_t) d->header[2] << 8) | d->header[3];
        n = 4;

    } else if (len == 127) {
        len = 0;

        for (i = 2; i < 10; i++) {
            len = (len << 8) | d->header[i];
        }

        n = 10;

        if (len >> 63) {
            return ngx_iothub_ws_fail(d, NGX_IOTHUB_WS_PROTOCOL_ERROR,
                                      "64-bit length with the high bit "
                                      "set");
        }
    }

    if (!(d->opcode & 0x8) && d->max_frame && len > d->max_frame) {
        return ngx_iothub_ws_fail(d, NGX_IOTHUB_WS_TOO_BIG,
                                  "frame too big");
    }

    memcpy(d->mask, d->header + n, 4);
    d->mask_pos = 0;
    d->left = len;
    d->header_len = 0;
    d->control_len = 0;
    d->in_payload = 1;

    if (!(d->opcode & 0x8)) {
        d->in_message = !d->fin;
    }

    return NGX_IOTHUB_WS_AGAIN;
}


/* the payload is complete */

static ngx_iothub_ws_rc_e
ngx_iothub_ws_end(ngx_iothub_ws_decoder_t *d)
{
    d->in_payload = 0;

    switch (d->opcode) {

    case NGX_IOTHUB_WS_OP_PING:
        return NGX_IOTHUB_WS_PING;

    case NGX_IOTHUB_WS_OP_PONG:
        return NGX_IOTHUB_WS_PONG;

    case NGX_IOTHUB_WS_OP_CLOSE:
        return ngx_iothub_ws_close(d);

    default:
        return NGX_IOTHUB_WS_AGAIN;
    }
}


static ngx_iothub_ws_rc_e
ngx_iothub_ws_close(ngx_iothub_ws_decoder_t *d)
{
    /* RFC 6455 5.5.1: nothing, or a code and UTF-8 text */

    if (d->control_len == 0) {
        d->code = NGX_IOTHUB_WS_NO_STATUS;
        d->reason = d->control;
        d->reason_len = 0;
        d->closed = 1;
        return NGX_IOTHUB_WS_CLOSE;
    }

    if (d->control_len == 1) {
        return ngx_iothub_ws_fail(d, NGX_IOTHUB_WS_PROTOCOL_ERROR,
                                  "close frame of one byte");
    }

    d->code = (d->control[0] << 8) | d->control[1];

    if (!ngx_iothub_ws_valid_code(d->code)) {
        return ngx_iothub_ws_fail(d, NGX_IOTHUB_WS_PROTOCOL_ERROR,
                                  "invalid close code");
    }

    if (!ngx_iothub_ws_utf8(d->control + 2, d->control_len - 2)) {
        return ngx_iothub_ws_fail(d, NGX_IOTHUB_WS_BAD_DATA,
                                  "close reason not UTF-8");
    }

    d->reason = d->control + 2;
    d->reason_len = d->control_len - 2;
    d->closed = 1;

    return NGX_IOTHUB_WS_CLOSE;
}


static ngx_iothub_ws_rc_e
ngx_iothub_ws_fail(ngx_iothub_ws_decoder_t *d, unsigned code,
    const char *error)
{
    d->code = code;
    d->error = error;
    d->closed = 1;

    return NGX_IOTHUB_WS_ERROR;
}


static void
ngx_iothub_ws_unmask(ngx_iothub_ws_decoder_t *d, unsigned char *dst,
    const unsigned char *src, size_t n)
{
    size_t    i;
    unsigned  k;

    /* dst <= src: a forward copy is safe in place */

    k = d->mask_pos;

    for (i = 0; i < n; i++) {
        dst[i] = src[i] ^ d->mask[k];
        k = (k + 1) & 3;
    }

    d->mask_pos = k;
}


/* RFC 6455 7.4: codes a peer may send (1012-1014 registered since) */

static int
ngx_iothub_ws_valid_code(unsigned code)
{
    return (code >= 1000 && code <= 1003)
           || (code >= 1007 && code <= 1014)
           || (code >= 3000 && code <= 4999);
}


static int
ngx_iothub_ws_utf8(const unsigned char *p, size_t len)
{
    size_t    i, n;
    uint32_t  cp, min;

    for (i = 0; i < len; /* void */ ) {

        if (p[i] < 0x80) {
            i++;
            continue;
        }

        if ((p[i] & 0xe0) == 0xc0) {
            n = 1;
            cp = p[i] & 0x1f;
            min = 0x80;

        } else if ((p[i] & 0xf0) == 0xe0) {
            n = 2;
            cp = p[i] & 0x0f;
            min = 0x800;

        } else if ((p[i] & 0xf8) == 0xf0) {
            n = 3;
            cp = p[i] & 0x07;
            min = 0x10000;

        } else {
            return 0;
        }

        if (len - i - 1 < n) {
            return 0;
        }

        for (i++; n; n--, i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return 0;
            }

            cp = (cp << 6) | (p[i] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
    }

    return 1;
}


size_t
ngx_iothub_ws_frame_header(unsigned char *buf, unsigned opcode, uint64_t len)
{
    size_t  i;

    buf[0] = 0x80 | (opcode & 0x0f);

    if (len < 126) {
        buf[1] = (unsigned char) len;
        return 2;
    }

    if (len < 65536) {
        buf[1] = 126;
        buf[2] = (unsigned char) (len >> 8);
        buf[3] = (unsigned char) len;
        return 4;
    }

    buf[1] = 127;

    for (i = 0; i < 8; i++) {
        buf[2 + i] = (unsigned char) (len >> (56 - 8 * i));
    }

    return 10;
}


size_t
ngx_iothub_ws_close_frame(unsigned char *buf, unsigned code,
    const char *reason)
{
    size_t  len;

    if (code == NGX_IOTHUB_WS_NO_STATUS) {
        return ngx_iothub_ws_frame_header(buf, NGX_IOTHUB_WS_OP_CLOSE, 0);
    }

    len = (reason != NULL) ? strlen(reason) : 0;

    if (len > NGX_IOTHUB_WS_CONTROL_MAX - 2) {
        len = NGX_IOTHUB_WS_CONTROL_MAX - 2;
    }

    (void) ngx_iothub_ws_frame_header(buf, NGX_IOTHUB_WS_OP_CLOSE, len + 2);

    buf[2] = (unsigned char) (code >> 8);
    buf[3] = (unsigned char) code;

    if (len) {
        memcpy(buf + 4, reason, len);
    }

    return 4 + len;
}


size_t
ngx_iothub_ws_pong_frame(unsigned char *buf, const unsigned char *data,
    size_t len)
{
    size_t  n;

    if (len > NGX_IOTHUB_WS_CONTROL_MAX) {
        len = NGX_IOTHUB_WS_CONTROL_MAX;
    }

    n = ngx_iothub_ws_frame_header(buf, NGX_IOTHUB_WS_OP_PONG, len);

    if (len) {
        memcpy(buf + n, data, len);
    }

    return n + len;
}


const char *
ngx_iothub_ws_code_text(unsigned code)
{
    switch (code) {
    case NGX_IOTHUB_WS_NORMAL:
        return "normal closure";
    case NGX_IOTHUB_WS_GOING_AWAY:
        return "going away";
    case NGX_IOTHUB_WS_PROTOCOL_ERROR:
        return "protocol error";
    case NGX_IOTHUB_WS_UNSUPPORTED:
        return "unsupported data";
    case NGX_IOTHUB_WS_NO_STATUS:
        return "no status";
    case NGX_IOTHUB_WS_BAD_DATA:
        return "invalid payload data";
    case NGX_IOTHUB_WS_TOO_BIG:
        return "message too big";
    case NGX_IOTHUB_WS_INTERNAL_ERROR:
        return "internal error";
    default:
        return "other";
    }
}
