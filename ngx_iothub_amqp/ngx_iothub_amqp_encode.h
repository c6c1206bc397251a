
/*
 * Copyright (C) nginx-iothub authors
 */


#ifndef _NGX_IOTHUB_AMQP_ENCODE_H_INCLUDED_
#define _NGX_IOTHUB_AMQP_ENCODE_H_INCLUDED_


/*
 * A writer of AMQP 1.0 encoded values (AMQP 1.0 part 1, types) for
 * messages sent often whose shape is known: an Event Hubs event is
 * written straight into the send buffer, without building a pn_message_t
 * and encoding it (pn_data_t copies every string twice and keeps a node
 * per value).  Maps and lists are written in their 32-bit forms, their
 * size and count filled in at the end; strings, symbols and binaries in
 * the short form when they fit.
 *
 * Pure C: libc only, no nginx headers, nothing allocated.  Writing past
 * the end sets failed and writes nothing more.
 */


#include <stddef.h>
#include <stdint.h>


/* the sections of a message (part 3, 3.2) */
#define NGX_IOTHUB_AMQP_SECTION_ANNOTATIONS  0x72
#define NGX_IOTHUB_AMQP_SECTION_PROPERTIES   0x73
#define NGX_IOTHUB_AMQP_SECTION_APPLICATION  0x74
#define NGX_IOTHUB_AMQP_SECTION_DATA         0x75

/* the most a value adds to its bytes: constructor and 32-bit length */
#define NGX_IOTHUB_AMQP_ENC_OVERHEAD         9


typedef struct {
    unsigned char   *start;
    unsigned char   *p;
    unsigned char   *end;
    int              failed;
} ngx_iothub_amqp_enc_t;


/* an open map or list: where its size goes, and its elements so far */
typedef struct {
    size_t           at;
    uint32_t         count;
} ngx_iothub_amqp_enc_compound_t;


void ngx_iothub_amqp_enc_init(ngx_iothub_amqp_enc_t *e, unsigned char *buf,
    size_t size);
void ngx_iothub_amqp_enc_section(ngx_iothub_amqp_enc_t *e,
    unsigned char code);
void ngx_iothub_amqp_enc_map(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c);
void ngx_iothub_amqp_enc_list(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c);
void ngx_iothub_amqp_enc_close(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c);

/* each counts one element in c (NULL: not inside a map or list) */
void ngx_iothub_amqp_enc_null(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c);
void ngx_iothub_amqp_enc_long(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c, int64_t v);
void ngx_iothub_amqp_enc_timestamp(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c, int64_t ms);
void ngx_iothub_amqp_enc_string(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c, const void *s, size_t len);
void ngx_iothub_amqp_enc_symbol(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c, const void *s, size_t len);
void ngx_iothub_amqp_enc_binary(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_amqp_enc_compound_t *c, const void *s, size_t len);


#endif /* _NGX_IOTHUB_AMQP_ENCODE_H_INCLUDED_ */
