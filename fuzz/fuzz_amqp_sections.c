
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * libFuzzer target for ngx_iothub_amqp/ngx_iothub_amqp_sections.c, and a
 * differential one: every input is read by the hub's reader and by
 * Proton's pn_message_decode(), which the telemetry path used before.
 * Whatever the reader takes for a message, Proton must take as well, and
 * both must find the same values in every field the hub stores (the ids,
 * user-id, to, content-type and -encoding, expiry, the
 * message-annotations and application-properties pairs, the body).
 * Proton also takes much that is no message (a value cut short after the
 * sections, a value outside any section), which the reader refuses.
 * Values must lie inside the input.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ingx_iothub_amqp \
 *       fuzz/fuzz_amqp_sections.c ngx_iothub_amqp/ngx_iothub_amqp_sections.c \
 *       ngx_iothub_amqp/ngx_iothub_amqp_codec.c -lqpid-proton \
 *       -o fuzz_amqp_sections
 */


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proton/message.h>

#include "ngx_iothub_amqp_sections.h"


#define fuzz_assert(expr)                                                    \
    if (!(expr)) {                                                           \
        fprintf(stderr, "fuzz_amqp_sections: %s (line %d)\n", #expr,        \
                __LINE__);                                                   \
        abort();                                                             \
    }


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_compare(pn_message_t *m, const uint8_t *data, size_t size,
    ngx_iothub_amqp_sections_t *sp);
static int fuzz_dropped(pn_atom_t a);
static int fuzz_proton_confused(pn_message_t *m);


static const uint8_t  *fuzz_first, *fuzz_end;


static int
fuzz_dropped(pn_atom_t a)
{
    return a.type == PN_NULL || a.type == PN_LIST || a.type == PN_MAP
           || a.type == PN_ARRAY || a.type == PN_DESCRIBED;
}


static void
fuzz_inside(pn_atom_t a)
{
    const uint8_t  *p;

    if (a.type != PN_BINARY && a.type != PN_STRING && a.type != PN_SYMBOL) {
        return;
    }

    p = (const uint8_t *) a.u.as_bytes.start;

    fuzz_assert(p >= fuzz_first && p + a.u.as_bytes.size <= fuzz_end);
}


/*
 * The same type and value.  The hub keeps no null, list, map, array or
 * described value (ngx_iothub_amqp_atom_text() declines them): any two of
 * those are the same to it.
 */

static int
fuzz_same(pn_atom_t a, pn_atom_t b)
{
    if (fuzz_dropped(a) && fuzz_dropped(b)) {
        return 1;
    }

    if (a.type != b.type) {
        return 0;
    }

    switch (a.type) {

    case PN_BINARY: case PN_STRING: case PN_SYMBOL:
        return a.u.as_bytes.size == b.u.as_bytes.size
               && (a.u.as_bytes.size == 0
                   || memcmp(a.u.as_bytes.start, b.u.as_bytes.start,
                             a.u.as_bytes.size) == 0);

    case PN_BOOL:
        return a.u.as_bool == b.u.as_bool;

    case PN_UUID:
    case PN_DECIMAL128:
        return memcmp(a.u.as_uuid.bytes, b.u.as_uuid.bytes, 16) == 0;

    case PN_NULL: case PN_LIST: case PN_MAP: case PN_ARRAY: case PN_DESCRIBED:
        return 1;

    case PN_UBYTE: case PN_BYTE:
        return a.u.as_ubyte == b.u.as_ubyte;

    case PN_USHORT: case PN_SHORT:
        return a.u.as_ushort == b.u.as_ushort;

    case PN_UINT: case PN_INT: case PN_CHAR: case PN_FLOAT: case PN_DECIMAL32:
        return a.u.as_uint == b.u.as_uint;

    default:
        return a.u.as_ulong == b.u.as_ulong;
    }
}


/* a value of Proton's data tree as an atom, compounds by type */

static pn_atom_t
fuzz_atom(pn_data_t *d)
{
    pn_atom_t  a;

    a = pn_data_get_atom(d);

    if (pn_data_type(d) == PN_LIST || pn_data_type(d) == PN_MAP
        || pn_data_type(d) == PN_ARRAY || pn_data_type(d) == PN_DESCRIBED)
    {
        memset(&a, 0, sizeof(pn_atom_t));
        a.type = pn_data_type(d);
    }

    return a;
}


/*
 * A string field: Proton's text, the reader's atom when of the type, up
 * to a NUL as the hub keeps it (Proton's getters give C strings)
 */

static void
fuzz_text(const char *text, pn_atom_t a, pn_type_t type)
{
    const char  *nul;

    if (a.type != type) {
        a.u.as_bytes.size = 0;
    }

    if (a.u.as_bytes.size) {
        nul = memchr(a.u.as_bytes.start, '\0', a.u.as_bytes.size);
        if (nul) {
            a.u.as_bytes.size = nul - a.u.as_bytes.start;
        }
    }

    fuzz_assert(strlen(text ? text : "") == a.u.as_bytes.size);
    fuzz_assert(a.u.as_bytes.size == 0
                || memcmp(text, a.u.as_bytes.start, a.u.as_bytes.size) == 0);
}


/* a map: the same pairs in the same order */

static void
fuzz_map(pn_data_t *d, ngx_iothub_amqp_map_t map)
{
    pn_atom_t  key, value;

    pn_data_rewind(d);

    if (!pn_data_next(d) || pn_data_type(d) != PN_MAP) {
        fuzz_assert(ngx_iothub_amqp_map_next(&map, &key, &value) == 0);
        return;
    }

    pn_data_enter(d);

    while (pn_data_next(d)) {
        pn_atom_t  pk = fuzz_atom(d);

        if (!pn_data_next(d)) {
            break;
        }

        fuzz_assert(ngx_iothub_amqp_map_next(&map, &key, &value) == 1);
        fuzz_inside(key);
        fuzz_inside(value);
        if (!fuzz_same(pk, key) || !fuzz_same(fuzz_atom(d), value)) {
            fprintf(stderr, "fuzz_amqp_sections: key types %d/%d, values"
                    " %d/%d (Proton/reader)\n", (int) pk.type,
                    (int) key.type, (int) fuzz_atom(d).type,
                    (int) value.type);
        }

        fuzz_assert(fuzz_same(pk, key));
        fuzz_assert(fuzz_same(fuzz_atom(d), value));
    }

    fuzz_assert(ngx_iothub_amqp_map_next(&map, &key, &value) == 0);
}


static void
fuzz_body(pn_data_t *d, pn_atom_t body)
{
    pn_data_rewind(d);

    if (!pn_data_next(d)) {
        fuzz_assert(body.type == PN_NULL);
        return;
    }

    fuzz_assert(fuzz_same(fuzz_atom(d), body));
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                          ours, proton;
    ngx_iothub_amqp_sections_t   s;

    static pn_message_t         *m;

    if (m == NULL) {
        m = pn_message();
    }

    pn_message_clear(m);

    ours = ngx_iothub_amqp_sections(data, size, &s);

    if (size == 0) {
        /* Proton asserts on no bytes */
        fuzz_assert(ours != 0);
        return 0;
    }

    proton = pn_message_decode(m, (const char *) data, size);

    if (ours != 0) {
        /*
         * Proton takes much that is no message (a value cut short after
         * the sections, a value outside any section): the reader refuses
         * those, and that is all that can be checked here
         */
        return 0;
    }

    fuzz_assert(proton == 0);

    if (fuzz_proton_confused(m)) {
        return 0;
    }

    fuzz_compare(m, data, size, &s);

    return 0;
}


/*
 * Where a section's field has a type its definition does not allow (a
 * user-id that is no binary, a "to" that is no string, ...), Proton
 * gives up on the section and hands the whole described section over
 * as the body, with none of its fields; the reader takes the fields of
 * the right types and leaves the others.  Nothing to compare then.
 */

static int
fuzz_proton_confused(pn_message_t *m)
{
    pn_data_t  *body;

    body = pn_message_body(m);
    pn_data_rewind(body);

    return pn_data_next(body) && pn_data_type(body) == PN_DESCRIBED;
}


/* every field the hub stores: the same in both */

static void
fuzz_compare(pn_message_t *m, const uint8_t *data, size_t size,
    ngx_iothub_amqp_sections_t *sp)
{
    pn_bytes_t                   user;
    ngx_iothub_amqp_sections_t   s;

    s = *sp;

    fuzz_first = data;
    fuzz_end = data + size;

    fuzz_inside(s.message_id);
    fuzz_inside(s.user_id);
    fuzz_inside(s.to);
    fuzz_inside(s.correlation_id);
    fuzz_inside(s.content_type);
    fuzz_inside(s.content_encoding);
    fuzz_inside(s.body);

    fuzz_assert(fuzz_same(pn_message_get_id(m), s.message_id));
    fuzz_assert(fuzz_same(pn_message_get_correlation_id(m),
                          s.correlation_id));

    user = pn_message_get_user_id(m);
    fuzz_assert(user.size == (s.user_id.type == PN_BINARY
                              ? s.user_id.u.as_bytes.size : 0));
    fuzz_assert(user.size == 0
                || memcmp(user.start, s.user_id.u.as_bytes.start, user.size)
                   == 0);

    fuzz_text(pn_message_get_address(m), s.to, PN_STRING);
    fuzz_text(pn_message_get_content_type(m), s.content_type, PN_SYMBOL);
    fuzz_text(pn_message_get_content_encoding(m), s.content_encoding,
              PN_SYMBOL);

    fuzz_assert(pn_message_get_expiry_time(m)
                == (s.absolute_expiry_time.type == PN_TIMESTAMP
                    ? s.absolute_expiry_time.u.as_timestamp : 0));

    fuzz_map(pn_message_annotations(m), s.annotations);
    fuzz_map(pn_message_properties(m), s.app_properties);
    /* Proton keeps no body of two sections (data, amqp-value) */
    if (s.body_sections < 2) {
        fuzz_body(pn_message_body(m), s.body);
    }
}
