
/*
 * Copyright (C) nginx-iothub authors
 */


#include "ngx_iothub_amqp_codec.h"


/* a list's constructor: its count of fields */

uint32_t
ngx_iothub_amqp_list(ngx_iothub_amqp_cursor_t *c)
{
    const unsigned char  *b;

    b = ngx_iothub_amqp_take(c, 1);
    if (b == NULL) {
        return 0;
    }

    switch (*b) {

    case 0x45:
        return 0;

    case 0xc0:
        b = ngx_iothub_amqp_take(c, 2);
        return b ? b[1] : 0;

    case 0xd0:
        b = ngx_iothub_amqp_take(c, 8);
        return b ? ngx_iothub_amqp_be32(b + 4) : 0;

    default:
        c->failed = 1;
        return 0;
    }
}


/* a numeric descriptor (smallulong or ulong): 0, else -1 */

int
ngx_iothub_amqp_descriptor(ngx_iothub_amqp_cursor_t *c, uint64_t *code)
{
    const unsigned char  *b;

    b = ngx_iothub_amqp_take(c, 1);
    if (b == NULL) {
        return -1;
    }

    if (*b == 0x53) {
        b = ngx_iothub_amqp_take(c, 1);
        if (b == NULL) {
            return -1;
        }

        *code = *b;
        return 0;
    }

    if (*b == 0x80) {
        b = ngx_iothub_amqp_take(c, 8);
        if (b == NULL) {
            return -1;
        }

        *code = ((uint64_t) ngx_iothub_amqp_be32(b) << 32)
                | ngx_iothub_amqp_be32(b + 4);
        return 0;
    }

    return -1;
}


/* a uint: 1 read, 0 null, -1 another type or too short */

int
ngx_iothub_amqp_uint(ngx_iothub_amqp_cursor_t *c, uint32_t *v)
{
    const unsigned char  *b;

    b = ngx_iothub_amqp_take(c, 1);
    if (b == NULL) {
        return -1;
    }

    switch (*b) {

    case 0x40:
        return 0;

    case 0x43:
        *v = 0;
        return 1;

    case 0x52:
        b = ngx_iothub_amqp_take(c, 1);
        if (b == NULL) {
            return -1;
        }

        *v = *b;
        return 1;

    case 0x70:
        b = ngx_iothub_amqp_take(c, 4);
        if (b == NULL) {
            return -1;
        }

        *v = ngx_iothub_amqp_be32(b);
        return 1;

    default:
        return -1;
    }
}


/* a variable-width value of the code with a 1- or a 4-byte size */

int
ngx_iothub_amqp_binary(ngx_iothub_amqp_cursor_t *c, unsigned char code8,
    unsigned char code32, const unsigned char **data, size_t *len)
{
    const unsigned char  *b;

    b = ngx_iothub_amqp_take(c, 1);
    if (b == NULL) {
        return -1;
    }

    if (*b == code8) {
        b = ngx_iothub_amqp_take(c, 1);
        if (b == NULL) {
            return -1;
        }

        *len = *b;

    } else if (*b == code32) {
        b = ngx_iothub_amqp_take(c, 4);
        if (b == NULL) {
            return -1;
        }

        *len = ngx_iothub_amqp_be32(b);

    } else {
        return -1;
    }

    *data = ngx_iothub_amqp_take(c, *len);

    return *data ? 0 : -1;
}


/* skips one encoded value, descriptors included: 0, else -1 */

int
ngx_iothub_amqp_skip(ngx_iothub_amqp_cursor_t *c, int depth)
{
    const unsigned char  *b;

    b = ngx_iothub_amqp_take(c, 1);
    if (b == NULL) {
        return -1;
    }

    if (*b == 0x00) {
        if (depth == NGX_IOTHUB_AMQP_DEPTH_MAX) {
            return -1;
        }

        return ngx_iothub_amqp_skip(c, depth + 1) != 0
               || ngx_iothub_amqp_skip(c, depth + 1) != 0 ? -1 : 0;
    }

    return ngx_iothub_amqp_skip_payload(c, *b);
}


/*
 * Skips what follows a constructor other than a descriptor's; its upper
 * nibble says the width (AMQP 1.0 part 1, 1.2): 0x4_ none, 0x5_ 1 byte,
 * ..., 0x9_ 16 bytes, 0xa_/0xc_/0xe_ a 1-byte size and that many bytes,
 * 0xb_/0xd_/0xf_ a 4-byte size.
 */

int
ngx_iothub_amqp_skip_payload(ngx_iothub_amqp_cursor_t *c, unsigned char code)
{
    size_t                n;
    const unsigned char  *b;

    static const unsigned char  fixed[] = { 0, 1, 2, 4, 8, 16 };

    switch (code >> 4) {

    case 0x4: case 0x5: case 0x6: case 0x7: case 0x8: case 0x9:
        n = fixed[(code >> 4) - 4];
        break;

    case 0xa: case 0xc: case 0xe:
        b = ngx_iothub_amqp_take(c, 1);
        if (b == NULL) {
            return -1;
        }

        n = *b;
        break;

    case 0xb: case 0xd: case 0xf:
        b = ngx_iothub_amqp_take(c, 4);
        if (b == NULL) {
            return -1;
        }

        n = ngx_iothub_amqp_be32(b);
        break;

    default:
        return -1;
    }

    return ngx_iothub_amqp_take(c, n) ? 0 : -1;
}
