
/*
 * Copyright (C) nginx-iothub authors
 */


#ifndef _NGX_IOTHUB_AMQP_BATCH_H_INCLUDED_
#define _NGX_IOTHUB_AMQP_BATCH_H_INCLUDED_


/*
 * The C SDK's batched telemetry (amqp.md 5): a transfer of message-format
 * 0x80013700 whose body is data sections, each a whole encoded AMQP
 * message.  Proton 0.37 drops a transfer's message-format, so the engine
 * reads it from the frames itself: a scanner follows the plain AMQP byte
 * stream (after TLS) and reports each attach (the link's name, as a hash,
 * and handle) and each transfer's handle, delivery-tag and message-format.
 *
 * Pure C: libc only, no nginx headers, nothing allocated.
 */


#include <stddef.h>
#include <stdint.h>


#define NGX_IOTHUB_AMQP_BATCH_FORMAT  0x80013700u

/* the first bytes of a frame the scanner keeps: its header, performative */
#define NGX_IOTHUB_AMQP_SCAN_HEAD     320

#define NGX_IOTHUB_AMQP_TAG_MAX       32


/*
 * The next data section of a batch's body at *p (before last): 1 with its
 * bytes in data/len and *p after it, 0 at the end, -1 when the bytes are
 * malformed or hold a body section other than data (amqp-value,
 * amqp-sequence).  Sections other than body sections (header,
 * annotations, properties, footer) are skipped.
 */
int ngx_iothub_amqp_batch_next(const unsigned char **p,
    const unsigned char *last, const unsigned char **data, size_t *len);

/* A link name's hash (FNV-1a, 64 bits), as the scanner reports it. */
uint64_t ngx_iothub_amqp_name_hash(const unsigned char *p, size_t len);


typedef enum {
    NGX_IOTHUB_AMQP_FRAME_ATTACH = 1,
    NGX_IOTHUB_AMQP_FRAME_TRANSFER
} ngx_iothub_amqp_frame_e;


/* what the scanner saw; valid during the handler's call only */
typedef struct {
    ngx_iothub_amqp_frame_e     kind;
    uint16_t                    channel;
    uint32_t                    handle;

    /* attach */
    uint64_t                    name_hash;
    unsigned                    receiver:1;  /* role: the peer receives */

    /* transfer: a field the frame omits is absent, not 0 */
    unsigned                    has_format:1;
    uint32_t                    format;
    size_t                      tag_len;
    const unsigned char        *tag;
} ngx_iothub_amqp_frame_t;


typedef struct {
    uint32_t                    left;        /* of the frame, to skip */
    uint32_t                    want;        /* bytes wanted in head */
    uint32_t                    have;
    unsigned                    failed:1;    /* Proton closes anyway */
    unsigned char               head[NGX_IOTHUB_AMQP_SCAN_HEAD];
} ngx_iothub_amqp_scan_t;


typedef void (*ngx_iothub_amqp_frame_pt)(void *data,
    ngx_iothub_amqp_frame_t *f);


/*
 * Follows n more bytes of a connection's plain AMQP stream (protocol
 * headers, SASL frames and AMQP frames); calls handler for every attach
 * and transfer performative.  A zeroed scanner starts at the stream's
 * beginning.  A performative longer than NGX_IOTHUB_AMQP_SCAN_HEAD is
 * read as far as kept (a longer attach name is not reported).  After
 * bytes that are no frames the scanner stops (s->failed): Proton closes
 * such a connection.
 */
void ngx_iothub_amqp_scan(ngx_iothub_amqp_scan_t *s, const unsigned char *p,
    size_t n, ngx_iothub_amqp_frame_pt handler, void *data);


#endif /* _NGX_IOTHUB_AMQP_BATCH_H_INCLUDED_ */
