
/*
 * Copyright (C) nginx-iothub authors
 */


#include <string.h>

#include "ngx_iothub_amqp_batch.h"
#include "ngx_iothub_amqp_codec.h"


#define NGX_IOTHUB_AMQP_ATTACH        0x12
#define NGX_IOTHUB_AMQP_TRANSFER      0x14

#define NGX_IOTHUB_AMQP_SECTION_FIRST 0x70   /* header */
#define NGX_IOTHUB_AMQP_DATA          0x75
#define NGX_IOTHUB_AMQP_SEQUENCE      0x76
#define NGX_IOTHUB_AMQP_VALUE         0x77
#define NGX_IOTHUB_AMQP_SECTION_LAST  0x78   /* footer */


static void ngx_iothub_amqp_performative(ngx_iothub_amqp_scan_t *s,
    ngx_iothub_amqp_frame_pt handler, void *data);
static void ngx_iothub_amqp_attach(ngx_iothub_amqp_cursor_t *c,
    uint32_t fields, ngx_iothub_amqp_frame_t *f,
    ngx_iothub_amqp_frame_pt handler, void *data);
static void ngx_iothub_amqp_transfer(ngx_iothub_amqp_cursor_t *c,
    uint32_t fields, ngx_iothub_amqp_frame_t *f,
    ngx_iothub_amqp_frame_pt handler, void *data);


int
ngx_iothub_amqp_batch_next(const unsigned char **p, const unsigned char *last,
    const unsigned char **data, size_t *len)
{
    uint64_t                  code;
    ngx_iothub_amqp_cursor_t  c;

    c.p = *p;
    c.last = last;
    c.failed = 0;

    while (c.p < c.last) {
        if (*c.p++ != 0x00 || ngx_iothub_amqp_descriptor(&c, &code) != 0) {
            return -1;
        }

        if (code == NGX_IOTHUB_AMQP_DATA) {
            if (ngx_iothub_amqp_binary(&c, 0xa0, 0xb0, data, len) != 0) {
                return -1;
            }

            *p = c.p;
            return 1;
        }

        if (code < NGX_IOTHUB_AMQP_SECTION_FIRST
            || code > NGX_IOTHUB_AMQP_SECTION_LAST
            || code == NGX_IOTHUB_AMQP_SEQUENCE
            || code == NGX_IOTHUB_AMQP_VALUE
            || ngx_iothub_amqp_skip(&c, 0) != 0)
        {
            return -1;
        }
    }

    *p = c.p;

    return 0;
}


uint64_t
ngx_iothub_amqp_name_hash(const unsigned char *p, size_t len)
{
    uint64_t  h;

    h = 0xcbf29ce484222325ULL;

    while (len--) {
        h ^= *p++;
        h *= 0x100000001b3ULL;
    }

    return h;
}


/*
 * The frames: a protocol header ("AMQP" and 4 bytes) or a frame (size,
 * data offset in 4-byte words, type, channel); of each frame its first
 * NGX_IOTHUB_AMQP_SCAN_HEAD bytes are kept, the rest skipped.
 */

void
ngx_iothub_amqp_scan(ngx_iothub_amqp_scan_t *s, const unsigned char *p,
    size_t n, ngx_iothub_amqp_frame_pt handler, void *data)
{
    size_t    k;
    uint32_t  size;

    while (n && !s->failed) {

        if (s->left) {
            k = n < s->left ? n : s->left;
            s->left -= k;
            p += k;
            n -= k;
            continue;
        }

        if (s->want == 0) {
            s->want = 8;
        }

        k = s->want - s->have;
        k = n < k ? n : k;

        memcpy(s->head + s->have, p, k);
        s->have += k;
        p += k;
        n -= k;

        if (s->have < s->want) {
            return;
        }

        size = ngx_iothub_amqp_be32(s->head);

        if (s->want == 8) {
            if (memcmp(s->head, "AMQP", 4) == 0) {
                s->want = 0;
                s->have = 0;
                continue;
            }

            if (size < 8 || s->head[4] < 2 || (uint32_t) s->head[4] * 4 > size)
            {
                s->failed = 1;
                return;
            }

            if (size > 8) {
                s->want = size < NGX_IOTHUB_AMQP_SCAN_HEAD
                          ? size : NGX_IOTHUB_AMQP_SCAN_HEAD;
                continue;
            }
        }

        ngx_iothub_amqp_performative(s, handler, data);

        s->left = size - s->want;
        s->want = 0;
        s->have = 0;
    }
}


static void
ngx_iothub_amqp_performative(ngx_iothub_amqp_scan_t *s,
    ngx_iothub_amqp_frame_pt handler, void *data)
{
    uint32_t                  fields;
    uint64_t                  code;
    ngx_iothub_amqp_frame_t   f;
    ngx_iothub_amqp_cursor_t  c;

    /* AMQP frames (type 0) only: SASL frames are of type 1 */

    if (s->head[5] != 0 || s->want <= (uint32_t) s->head[4] * 4) {
        return;
    }

    c.p = s->head + s->head[4] * 4;
    c.last = s->head + s->want;
    c.failed = 0;

    if (*c.p++ != 0x00 || ngx_iothub_amqp_descriptor(&c, &code) != 0) {
        return;
    }

    fields = ngx_iothub_amqp_list(&c);
    if (c.failed) {
        return;
    }

    memset(&f, 0, sizeof(ngx_iothub_amqp_frame_t));
    f.channel = (uint16_t) ((s->head[6] << 8) | s->head[7]);

    if (code == NGX_IOTHUB_AMQP_ATTACH) {
        ngx_iothub_amqp_attach(&c, fields, &f, handler, data);

    } else if (code == NGX_IOTHUB_AMQP_TRANSFER) {
        ngx_iothub_amqp_transfer(&c, fields, &f, handler, data);
    }
}


/* attach: name, handle, role (false: the peer sends) */

static void
ngx_iothub_amqp_attach(ngx_iothub_amqp_cursor_t *c, uint32_t fields,
    ngx_iothub_amqp_frame_t *f, ngx_iothub_amqp_frame_pt handler,
    void *data)
{
    size_t                len;
    const unsigned char  *name, *role;

    if (fields < 3
        || ngx_iothub_amqp_binary(c, 0xa1, 0xb1, &name, &len) != 0
        || ngx_iothub_amqp_uint(c, &f->handle) != 1)
    {
        return;
    }

    role = ngx_iothub_amqp_take(c, 1);
    if (role == NULL) {
        return;
    }

    if (*role == 0x41 || *role == 0x42) {
        f->receiver = (*role == 0x41);

    } else if (*role == 0x56) {
        role = ngx_iothub_amqp_take(c, 1);
        if (role == NULL) {
            return;
        }

        f->receiver = (*role != 0);

    } else {
        return;
    }

    f->kind = NGX_IOTHUB_AMQP_FRAME_ATTACH;
    f->name_hash = ngx_iothub_amqp_name_hash(name, len);

    handler(data, f);
}


/* transfer: handle, delivery-id, delivery-tag, message-format */

static void
ngx_iothub_amqp_transfer(ngx_iothub_amqp_cursor_t *c, uint32_t fields,
    ngx_iothub_amqp_frame_t *f, ngx_iothub_amqp_frame_pt handler,
    void *data)
{
    uint32_t  id;

    if (fields < 1 || ngx_iothub_amqp_uint(c, &f->handle) != 1) {
        return;
    }

    if (fields >= 3) {
        if (ngx_iothub_amqp_uint(c, &id) < 0) {
            return;
        }

        if (c->p < c->last && *c->p == 0x40) {
            c->p++;

        } else if (ngx_iothub_amqp_binary(c, 0xa0, 0xb0, &f->tag,
                                          &f->tag_len) != 0
                   || f->tag_len > NGX_IOTHUB_AMQP_TAG_MAX)
        {
            return;
        }
    }

    if (fields >= 4) {
        switch (ngx_iothub_amqp_uint(c, &f->format)) {

        case 1:
            f->has_format = 1;
            break;

        case 0:
            break;

        default:
            return;
        }
    }

    f->kind = NGX_IOTHUB_AMQP_FRAME_TRANSFER;

    handler(data, f);
}
