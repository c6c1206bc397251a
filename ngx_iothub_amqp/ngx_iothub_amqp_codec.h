
/*
 * Copyright (C) nginx-iothub authors
 */


#ifndef _NGX_IOTHUB_AMQP_CODEC_H_INCLUDED_
#define _NGX_IOTHUB_AMQP_CODEC_H_INCLUDED_


/*
 * Reading AMQP 1.0's type encoding (part 1) in place: the steps of the
 * frame scanner (ngx_iothub_amqp_batch.c), some of which the message
 * reader (ngx_iothub_amqp_sections.c) takes too.  Every step reads at a
 * cursor; a read past the end fails the cursor, and every later read
 * fails too.
 *
 * Pure C: libc only, nothing allocated.
 */


#include <stddef.h>
#include <stdint.h>


#define NGX_IOTHUB_AMQP_DEPTH_MAX     8      /* described in described */


typedef struct {
    const unsigned char        *p;
    const unsigned char        *last;
    int                         failed;
} ngx_iothub_amqp_cursor_t;


/* the next n bytes, or NULL (the cursor fails); every read goes here */

static inline const unsigned char *
ngx_iothub_amqp_take(ngx_iothub_amqp_cursor_t *c, size_t n)
{
    const unsigned char  *b;

    if (c->failed || (size_t) (c->last - c->p) < n) {
        c->failed = 1;
        return NULL;
    }

    b = c->p;
    c->p += n;

    return b;
}


static inline uint32_t
ngx_iothub_amqp_be32(const unsigned char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}


/* skips one encoded value, descriptors included: 0, else -1 */
int ngx_iothub_amqp_skip(ngx_iothub_amqp_cursor_t *c, int depth);

/* skips what follows a constructor that is no descriptor: 0, else -1 */
int ngx_iothub_amqp_skip_payload(ngx_iothub_amqp_cursor_t *c,
    unsigned char code);

/* a numeric descriptor (smallulong or ulong): 0, else -1 */
int ngx_iothub_amqp_descriptor(ngx_iothub_amqp_cursor_t *c, uint64_t *code);

/* a uint: 1 read, 0 null, -1 another type or too short */
int ngx_iothub_amqp_uint(ngx_iothub_amqp_cursor_t *c, uint32_t *v);

/* a variable-width value of the code with a 1- or a 4-byte size */
int ngx_iothub_amqp_binary(ngx_iothub_amqp_cursor_t *c, unsigned char code8,
    unsigned char code32, const unsigned char **data, size_t *len);

/* a list's constructor: its count of fields (another type fails c) */
uint32_t ngx_iothub_amqp_list(ngx_iothub_amqp_cursor_t *c);


#endif /* _NGX_IOTHUB_AMQP_CODEC_H_INCLUDED_ */
