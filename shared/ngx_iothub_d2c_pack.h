
/*
 * nginx-iothub: the packed messages of a partition's stream entry.  Pure
 * (no nginx headers): unit tests and fuzz targets link it alone.
 *
 * One d2c_append.lua call stores the messages a worker got for a partition
 * in one event-loop turn as one stream entry, fields "n" (their count) and
 * "m" (the messages, packed).  Per message: its field count, 2 bytes big
 * endian; then each field's name and value (the stream fields of
 * docs/redis-schema.md: "a:...", "p:...", "u:...", then "body"), each as a
 * length, 4 bytes big endian, the bytes and a NUL (so that a reader's
 * spans end with one, as hiredis's strings do).
 */


#ifndef _NGX_IOTHUB_D2C_PACK_H_INCLUDED_
#define _NGX_IOTHUB_D2C_PACK_H_INCLUDED_


#include <stddef.h>

#include "ngx_iothub_args.h"


#define NGX_IOTHUB_D2C_PACK_COUNT_LEN   2
#define NGX_IOTHUB_D2C_PACK_LENGTH_LEN  4


/* bytes of a message of args->n strings (field, value, ...) */
size_t ngx_iothub_d2c_pack_size(const ngx_iothub_args_t *args);

/* writes the message at p, ngx_iothub_d2c_pack_size() bytes; the end */
unsigned char *ngx_iothub_d2c_pack(unsigned char *p,
    const ngx_iothub_args_t *args);


#endif /* _NGX_IOTHUB_D2C_PACK_H_INCLUDED_ */
