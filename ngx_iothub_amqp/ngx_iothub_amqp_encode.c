
/*
 * Copyright (C) nginx-iothub authors
 */


#include <string.h>

#include "ngx_iothub_amqp_encode.h"


#define NGX_IOTHUB_AMQP_ENC_NULL       0x40
#define NGX_IOTHUB_AMQP_ENC_ULONG0     0x53     /* smallulong descriptor */
#define NGX_IOTHUB_AMQP_ENC_LONG       0x81
#define NGX_IOTHUB_AMQP_ENC_TIMESTAMP  0x83
#define NGX_IOTHUB_AMQP_ENC_VBIN8      0xa0
#define NGX_IOTHUB_AMQP_ENC_STR8       0xa1
#define NGX_IOTHUB_AMQP_ENC_SYM8       0xa3
#define NGX_IOTHUB_AMQP_ENC_VBIN32     0xb0
#define NGX_IOTHUB_AMQP_ENC_STR32      0xb1
#define NGX_IOTHUB_AMQP_ENC_SYM32      0xb3
#define NGX_IOTHUB_AMQP_ENC_LIST32     0xd0
#define NGX_IOTHUB_AMQP_ENC_MAP32      0xd1


static int ngx_iothub_amqp_enc_room(ngx_iothub_amqp_enc_t *e, size_t n);
static void ngx_iothub_amqp_enc_u32(unsigned char *p, uint32_t v);
static void ngx_iothub_amqp_enc_u64(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c, unsigned char code, uint64_t v);
static void ngx_iothub_amqp_enc_variable(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c, unsigned char code8,
    unsigned char code32, const void *s, size_t len);
static void ngx_iothub_amqp_enc_compound(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c, unsigned char code);


void
ngx_iothub_amqp_enc_init(ngx_iothub_amqp_enc_t *e, unsigned char *buf,
    size_t size)
{
    e->start = buf;
    e->p = buf;
    e->end = buf + size;
    e->failed = 0;
}


/* a section's descriptor: 0x00, smallulong, the section's code */

void
ngx_iothub_amqp_enc_section(ngx_iothub_amqp_enc_t *e, unsigned char code)
{
    if (!ngx_iothub_amqp_enc_room(e, 3)) {
        return;
    }

    *e->p++ = 0x00;
    *e->p++ = NGX_IOTHUB_AMQP_ENC_ULONG0;
    *e->p++ = code;
}


void
ngx_iothub_amqp_enc_map(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c)
{
    ngx_iothub_amqp_enc_compound(e, c, NGX_IOTHUB_AMQP_ENC_MAP32);
}


void
ngx_iothub_amqp_enc_list(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c)
{
    ngx_iothub_amqp_enc_compound(e, c, NGX_IOTHUB_AMQP_ENC_LIST32);
}


/* the size (of the count and the elements) and the count, now known */

void
ngx_iothub_amqp_enc_close(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c)
{
    unsigned char  *size;

    if (e->failed) {
        return;
    }

    size = e->start + c->at;

    ngx_iothub_amqp_enc_u32(size, (uint32_t) (e->p - size - 4));
    ngx_iothub_amqp_enc_u32(size + 4, c->count);
}


void
ngx_iothub_amqp_enc_null(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c)
{
    if (!ngx_iothub_amqp_enc_room(e, 1)) {
        return;
    }

    *e->p++ = NGX_IOTHUB_AMQP_ENC_NULL;

    if (c) {
        c->count++;
    }
}


void
ngx_iothub_amqp_enc_long(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c, int64_t v)
{
    ngx_iothub_amqp_enc_u64(e, c, NGX_IOTHUB_AMQP_ENC_LONG, (uint64_t) v);
}


void
ngx_iothub_amqp_enc_timestamp(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c, int64_t ms)
{
    ngx_iothub_amqp_enc_u64(e, c, NGX_IOTHUB_AMQP_ENC_TIMESTAMP,
                            (uint64_t) ms);
}


void
ngx_iothub_amqp_enc_string(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c, const void *s, size_t len)
{
    ngx_iothub_amqp_enc_variable(e, c, NGX_IOTHUB_AMQP_ENC_STR8,
                                 NGX_IOTHUB_AMQP_ENC_STR32, s, len);
}


void
ngx_iothub_amqp_enc_symbol(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c, const void *s, size_t len)
{
    ngx_iothub_amqp_enc_variable(e, c, NGX_IOTHUB_AMQP_ENC_SYM8,
                                 NGX_IOTHUB_AMQP_ENC_SYM32, s, len);
}


void
ngx_iothub_amqp_enc_binary(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c, const void *s, size_t len)
{
    ngx_iothub_amqp_enc_variable(e, c, NGX_IOTHUB_AMQP_ENC_VBIN8,
                                 NGX_IOTHUB_AMQP_ENC_VBIN32, s, len);
}


static int
ngx_iothub_amqp_enc_room(ngx_iothub_amqp_enc_t *e, size_t n)
{
    if (e->failed || (size_t) (e->end - e->p) < n) {
        e->failed = 1;
        return 0;
    }

    return 1;
}


static void
ngx_iothub_amqp_enc_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}


static void
ngx_iothub_amqp_enc_u64(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c, unsigned char code, uint64_t v)
{
    if (!ngx_iothub_amqp_enc_room(e, 9)) {
        return;
    }

    *e->p++ = code;
    ngx_iothub_amqp_enc_u32(e->p, (uint32_t) (v >> 32));
    ngx_iothub_amqp_enc_u32(e->p + 4, (uint32_t) v);
    e->p += 8;

    if (c) {
        c->count++;
    }
}


static void
ngx_iothub_amqp_enc_variable(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c, unsigned char code8,
    unsigned char code32, const void *s, size_t len)
{
    if (len > UINT32_MAX
        || !ngx_iothub_amqp_enc_room(e, NGX_IOTHUB_AMQP_ENC_OVERHEAD + len))
    {
        e->failed = 1;
        return;
    }

    if (len < 256) {
        *e->p++ = code8;
        *e->p++ = (unsigned char) len;

    } else {
        *e->p++ = code32;
        ngx_iothub_amqp_enc_u32(e->p, (uint32_t) len);
        e->p += 4;
    }

    if (len) {
        memcpy(e->p, s, len);
        e->p += len;
    }

    if (c) {
        c->count++;
    }
}


/* the constructor, then room for the size and count closing it fills */

static void
ngx_iothub_amqp_enc_compound(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c, unsigned char code)
{
    c->count = 0;
    c->at = 0;

    if (!ngx_iothub_amqp_enc_room(e, 9)) {
        return;
    }

    *e->p++ = code;
    c->at = (size_t) (e->p - e->start);
    e->p += 8;
}
