
/*
 * Copyright (C) nginx-iothub authors
 */


#ifndef _NGX_IOTHUB_AMQP_SECTIONS_H_INCLUDED_
#define _NGX_IOTHUB_AMQP_SECTIONS_H_INCLUDED_


/*
 * An encoded AMQP message (AMQP 1.0 part 3, 3.2) read in place, for what
 * the hub stores of a device's telemetry (amqp.md 5): the properties it
 * keeps, the message-annotations and application-properties maps, and
 * the body.  Proton's pn_message_decode() builds a tree of objects for
 * every message and pn_message_clear() takes it down again; this reads
 * the same bytes without allocating.  Values are Proton's plain value
 * type, pn_atom_t, whose bytes point into the message.
 *
 * Pure C: libc and Proton's type definitions only, nothing allocated.
 */


#include <stddef.h>
#include <stdint.h>

#include <proton/codec.h>


/* the pairs of a map still to read */
typedef struct {
    const unsigned char        *p;
    const unsigned char        *last;
    uint32_t                    left;        /* keys and values */
} ngx_iothub_amqp_map_t;


/*
 * A field the message does not carry has type PN_NULL; so has an id of a
 * type AMQP does not allow for one (a message-id or correlation-id is a
 * ulong, uuid, binary or string)
 */
typedef struct {
    pn_atom_t                   message_id;
    pn_atom_t                   user_id;
    pn_atom_t                   to;
    pn_atom_t                   correlation_id;
    pn_atom_t                   content_type;
    pn_atom_t                   content_encoding;
    pn_atom_t                   absolute_expiry_time;

    ngx_iothub_amqp_map_t       annotations;
    ngx_iothub_amqp_map_t       app_properties;

    /* the first body section's value: data, amqp-sequence, amqp-value */
    pn_atom_t                   body;
    unsigned                    body_sections;

    unsigned                    seen;        /* sections, by descriptor */
} ngx_iothub_amqp_sections_t;


/*
 * Reads the message in p[0..n): 0, or -1 when the bytes are not an AMQP
 * message (none, a section malformed, cut short or of an unknown kind).
 */
int ngx_iothub_amqp_sections(const unsigned char *p, size_t n,
    ngx_iothub_amqp_sections_t *s);

/*
 * The next pair of a map: 1 with key and value, 0 at the end (a key
 * without a value ends it too).  A list, map, array or described value
 * comes as its type only.
 */
int ngx_iothub_amqp_map_next(ngx_iothub_amqp_map_t *map, pn_atom_t *key,
    pn_atom_t *value);


#endif /* _NGX_IOTHUB_AMQP_SECTIONS_H_INCLUDED_ */
