
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
 *
 * The names the hub stamps on every message are packed as one byte each
 * (a code below 0x20, which no property name has), and the auth method's
 * JSON text as one byte: a message then takes about 40% fewer bytes, and
 * Redis's cost per message follows its bytes (its Lua hashes every byte
 * of a script's arguments).  A reader expands them with
 * ngx_iothub_d2c_unpack_name().
 */


#ifndef _NGX_IOTHUB_D2C_PACK_H_INCLUDED_
#define _NGX_IOTHUB_D2C_PACK_H_INCLUDED_


#include <stddef.h>

#include "ngx_iothub_args.h"


#define NGX_IOTHUB_D2C_PACK_COUNT_LEN   2
#define NGX_IOTHUB_D2C_PACK_LENGTH_LEN  4


/* the packed names, docs/redis-schema.md "Device-to-cloud streams" */
#define NGX_IOTHUB_D2C_PACK_DEVICE_ID        "\x01"
#define NGX_IOTHUB_D2C_PACK_MODULE_ID        "\x02"
#define NGX_IOTHUB_D2C_PACK_GENERATION_ID    "\x03"
#define NGX_IOTHUB_D2C_PACK_AUTH_METHOD      "\x04"
#define NGX_IOTHUB_D2C_PACK_ENQUEUED_TIME    "\x05"
#define NGX_IOTHUB_D2C_PACK_MESSAGE_SOURCE   "\x06"
#define NGX_IOTHUB_D2C_PACK_DATA_SCHEMA      "\x07"
#define NGX_IOTHUB_D2C_PACK_BODY             "\x08"

/* the auth method's value: scope (0 device, 1 module, 2 hub) * 2 + x509 */
#define NGX_IOTHUB_D2C_PACK_AUTH_METHODS     6

/* the auth method's packed value of a scope and kind, one byte */
const char *ngx_iothub_d2c_pack_auth_method(unsigned scope, unsigned x509);


/* bytes of a message of args->n strings (field, value, ...) */
size_t ngx_iothub_d2c_pack_size(const ngx_iothub_args_t *args);

/* writes the message at p, ngx_iothub_d2c_pack_size() bytes; the end */
unsigned char *ngx_iothub_d2c_pack(unsigned char *p,
    const ngx_iothub_args_t *args);

/*
 * A packed field's name and value as a reader shows them: a name code is
 * replaced by its name ("a:iothub-connection-device-id", ..., "body"),
 * the auth method's value code by its JSON text (static strings, ending
 * with a NUL).  Returns 0, or -1 for a code it does not know (the field
 * is then skipped).
 */
int ngx_iothub_d2c_unpack_name(const unsigned char **name, size_t *name_len,
    const unsigned char **value, size_t *value_len);


#endif /* _NGX_IOTHUB_D2C_PACK_H_INCLUDED_ */
