
/*
 * Copyright (C) nginx-iothub authors
 */


#include <string.h>

#include "ngx_iothub_amqp_codec.h"
#include "ngx_iothub_amqp_sections.h"


/* the sections' descriptors (AMQP 1.0 part 3, 3.2) */
#define NGX_IOTHUB_AMQP_HEADER        0x70
#define NGX_IOTHUB_AMQP_ANNOTATIONS   0x72   /* message-annotations */
#define NGX_IOTHUB_AMQP_PROPERTIES    0x73
#define NGX_IOTHUB_AMQP_APP_PROPS     0x74
#define NGX_IOTHUB_AMQP_DATA          0x75
#define NGX_IOTHUB_AMQP_SEQUENCE      0x76
#define NGX_IOTHUB_AMQP_VALUE         0x77
#define NGX_IOTHUB_AMQP_FOOTER        0x78


static int ngx_iothub_amqp_section(ngx_iothub_amqp_cursor_t *c,
    ngx_iothub_amqp_sections_t *s);
static int ngx_iothub_amqp_properties(ngx_iothub_amqp_cursor_t *c,
    ngx_iothub_amqp_sections_t *s);
static void ngx_iothub_amqp_id(pn_atom_t *id);
static int ngx_iothub_amqp_map(ngx_iothub_amqp_cursor_t *c,
    ngx_iothub_amqp_map_t *map);
static int ngx_iothub_amqp_compound(ngx_iothub_amqp_cursor_t *c,
    unsigned char code8, unsigned char code32,
    ngx_iothub_amqp_cursor_t *elements, uint32_t *count);
static int ngx_iothub_amqp_atom(ngx_iothub_amqp_cursor_t *c, pn_atom_t *a);
static int ngx_iothub_amqp_value(ngx_iothub_amqp_cursor_t *c, pn_atom_t *a,
    int depth);
static int ngx_iothub_amqp_array(ngx_iothub_amqp_cursor_t *c, int depth);
static int ngx_iothub_amqp_elements(ngx_iothub_amqp_cursor_t *c,
    unsigned char code, uint32_t count);
static int ngx_iothub_amqp_fixed(ngx_iothub_amqp_cursor_t *c,
    unsigned char code, pn_atom_t *a);
static int ngx_iothub_amqp_variable(ngx_iothub_amqp_cursor_t *c,
    unsigned char code, pn_atom_t *a);
static uint64_t ngx_iothub_amqp_be64(const unsigned char *p);


int
ngx_iothub_amqp_sections(const unsigned char *p, size_t n,
    ngx_iothub_amqp_sections_t *s)
{
    ngx_iothub_amqp_cursor_t  c;

    memset(s, 0, sizeof(ngx_iothub_amqp_sections_t));

    s->message_id.type = PN_NULL;
    s->user_id.type = PN_NULL;
    s->to.type = PN_NULL;
    s->correlation_id.type = PN_NULL;
    s->content_type.type = PN_NULL;
    s->content_encoding.type = PN_NULL;
    s->absolute_expiry_time.type = PN_NULL;
    s->body.type = PN_NULL;

    if (n == 0) {
        /* no bytes are no message, as Proton has it */
        return -1;
    }

    c.p = p;
    c.last = p + n;
    c.failed = 0;

    while (c.p < c.last) {
        if (ngx_iothub_amqp_section(&c, s) != 0) {
            return -1;
        }
    }

    return 0;
}


/* one section: a described value */

static int
ngx_iothub_amqp_section(ngx_iothub_amqp_cursor_t *c,
    ngx_iothub_amqp_sections_t *s)
{
    uint64_t              code;
    pn_atom_t             value;
    const unsigned char  *b;

    b = ngx_iothub_amqp_take(c, 1);

    if (b == NULL || *b != 0x00
        || ngx_iothub_amqp_descriptor(c, &code) != 0
        || code < NGX_IOTHUB_AMQP_HEADER || code > NGX_IOTHUB_AMQP_FOOTER)
    {
        return -1;
    }

    /* every section at most once, but for the body's */
    if (code != NGX_IOTHUB_AMQP_DATA && code != NGX_IOTHUB_AMQP_SEQUENCE) {
        if (s->seen & (1u << (code - NGX_IOTHUB_AMQP_HEADER))) {
            return -1;
        }

        s->seen |= 1u << (code - NGX_IOTHUB_AMQP_HEADER);
    }

    switch (code) {

    case NGX_IOTHUB_AMQP_PROPERTIES:
        return ngx_iothub_amqp_properties(c, s);

    case NGX_IOTHUB_AMQP_ANNOTATIONS:
        return ngx_iothub_amqp_map(c, &s->annotations);

    case NGX_IOTHUB_AMQP_APP_PROPS:
        return ngx_iothub_amqp_map(c, &s->app_properties);

    case NGX_IOTHUB_AMQP_DATA:
    case NGX_IOTHUB_AMQP_SEQUENCE:
    case NGX_IOTHUB_AMQP_VALUE:
        if (ngx_iothub_amqp_atom(c, &value) != 0) {
            return -1;
        }

        if (s->body_sections++ == 0) {
            s->body = value;
        }

        return 0;

    default:
        /* header, delivery-annotations, footer */
        return ngx_iothub_amqp_atom(c, &value);
    }
}


/*
 * The properties list: message-id, user-id, to, subject, reply-to,
 * correlation-id, content-type, content-encoding, absolute-expiry-time,
 * and fields the hub does not keep
 */

static int
ngx_iothub_amqp_properties(ngx_iothub_amqp_cursor_t *c,
    ngx_iothub_amqp_sections_t *s)
{
    uint32_t                   i, count;
    pn_atom_t                  field;
    pn_atom_t                 *kept[9];
    ngx_iothub_amqp_cursor_t   list;

    kept[0] = &s->message_id;
    kept[1] = &s->user_id;
    kept[2] = &s->to;
    kept[3] = NULL;                          /* subject */
    kept[4] = NULL;                          /* reply-to */
    kept[5] = &s->correlation_id;
    kept[6] = &s->content_type;
    kept[7] = &s->content_encoding;
    kept[8] = &s->absolute_expiry_time;

    if (ngx_iothub_amqp_compound(c, 0xc0, 0xd0, &list, &count) != 0) {
        return -1;
    }

    for (i = 0; i < count; i++) {
        if (ngx_iothub_amqp_atom(&list, &field) != 0) {
            return -1;
        }

        if (i < 9 && kept[i]) {
            *kept[i] = field;
        }
    }

    if (list.p != list.last) {
        /* bytes after the last field: the count or the size is wrong */
        return -1;
    }

    ngx_iothub_amqp_id(&s->message_id);
    ngx_iothub_amqp_id(&s->correlation_id);

    return 0;
}


/* an id of a type AMQP allows for one, else none */

static void
ngx_iothub_amqp_id(pn_atom_t *id)
{
    switch (id->type) {

    case PN_ULONG:
    case PN_UUID:
    case PN_BINARY:
    case PN_STRING:
        return;

    default:
        id->type = PN_NULL;
    }
}


/* a map section: checked whole here, so that its pairs read later */

static int
ngx_iothub_amqp_map(ngx_iothub_amqp_cursor_t *c, ngx_iothub_amqp_map_t *map)
{
    uint32_t                   n;
    pn_atom_t                  element;
    ngx_iothub_amqp_cursor_t   pairs;

    if (ngx_iothub_amqp_compound(c, 0xc1, 0xd1, &pairs, &map->left) != 0) {
        return -1;
    }

    map->p = pairs.p;
    map->last = pairs.last;

    for (n = map->left; n; n--) {
        if (ngx_iothub_amqp_value(&pairs, &element, 1) != 0) {
            return -1;
        }
    }

    return pairs.p == pairs.last ? 0 : -1;
}


/*
 * A list or a map (its 1- and 4-byte size codes): its elements as a
 * cursor of their own, and their count; a null is an empty one (0x45, the
 * empty list, too)
 */

static int
ngx_iothub_amqp_compound(ngx_iothub_amqp_cursor_t *c, unsigned char code8,
    unsigned char code32, ngx_iothub_amqp_cursor_t *elements, uint32_t *count)
{
    size_t                size;
    const unsigned char  *b;

    b = ngx_iothub_amqp_take(c, 1);
    if (b == NULL) {
        return -1;
    }

    elements->p = NULL;
    elements->last = NULL;
    elements->failed = 0;
    *count = 0;

    if (*b == 0x40 || (*b == 0x45 && code8 == 0xc0)) {
        return 0;
    }

    if (*b == code8) {
        b = ngx_iothub_amqp_take(c, 2);
        if (b == NULL || b[0] < 1) {
            return -1;
        }

        size = b[0] - 1;
        *count = b[1];

    } else if (*b == code32) {
        b = ngx_iothub_amqp_take(c, 8);
        if (b == NULL || ngx_iothub_amqp_be32(b) < 4) {
            return -1;
        }

        size = ngx_iothub_amqp_be32(b) - 4;
        *count = ngx_iothub_amqp_be32(b + 4);

    } else {
        return -1;
    }

    elements->p = ngx_iothub_amqp_take(c, size);
    if (elements->p == NULL) {
        return -1;
    }

    elements->last = elements->p + size;

    return 0;
}


int
ngx_iothub_amqp_map_next(ngx_iothub_amqp_map_t *map, pn_atom_t *key,
    pn_atom_t *value)
{
    ngx_iothub_amqp_cursor_t  c;

    if (map->left < 2) {
        return 0;
    }

    c.p = map->p;
    c.last = map->last;
    c.failed = 0;

    if (ngx_iothub_amqp_atom(&c, key) != 0
        || ngx_iothub_amqp_atom(&c, value) != 0)
    {
        map->left = 0;
        return 0;
    }

    map->p = c.p;
    map->left -= 2;

    return 1;
}


/*
 * One value as an atom; a list, map, array or described value is checked
 * whole (its count of elements filling its size exactly, to a depth of
 * NGX_IOTHUB_AMQP_DEPTH_MAX) and comes as its type only
 */

static int
ngx_iothub_amqp_atom(ngx_iothub_amqp_cursor_t *c, pn_atom_t *a)
{
    return ngx_iothub_amqp_value(c, a, 0);
}


static int
ngx_iothub_amqp_value(ngx_iothub_amqp_cursor_t *c, pn_atom_t *a, int depth)
{
    uint32_t                   count;
    pn_atom_t                  inner;
    const unsigned char       *b;
    ngx_iothub_amqp_cursor_t   elements;

    b = ngx_iothub_amqp_take(c, 1);
    if (b == NULL) {
        return -1;
    }

    switch (*b) {

    case 0x00:
        a->type = PN_DESCRIBED;

        /*
         * the descriptor (a ulong or a symbol), then the value, itself
         * not described
         */
        return depth == NGX_IOTHUB_AMQP_DEPTH_MAX
               || ngx_iothub_amqp_value(c, &inner, depth + 1) != 0
               || (inner.type != PN_ULONG && inner.type != PN_SYMBOL)
               || ngx_iothub_amqp_value(c, &inner, depth + 1) != 0
               || inner.type == PN_DESCRIBED ? -1 : 0;

    case 0x45:
        a->type = PN_LIST;
        return 0;

    case 0xc0: case 0xd0: case 0xc1: case 0xd1:
        a->type = (*b & 0x0f) ? PN_MAP : PN_LIST;

        c->p--;

        if (depth == NGX_IOTHUB_AMQP_DEPTH_MAX
            || ngx_iothub_amqp_compound(c, *b & 0xef, *b | 0x10, &elements,
                                        &count) != 0)
        {
            return -1;
        }

        while (count--) {
            if (ngx_iothub_amqp_value(&elements, &inner, depth + 1) != 0) {
                return -1;
            }
        }

        return elements.p == elements.last ? 0 : -1;

    case 0xe0: case 0xf0:
        a->type = PN_ARRAY;
        c->p--;

        return depth == NGX_IOTHUB_AMQP_DEPTH_MAX
               || ngx_iothub_amqp_array(c, depth) != 0 ? -1 : 0;

    case 0xa0: case 0xb0: case 0xa1: case 0xb1: case 0xa3: case 0xb3:
        return ngx_iothub_amqp_variable(c, *b, a);

    default:
        return ngx_iothub_amqp_fixed(c, *b, a);
    }
}


/*
 * An array: its elements share one constructor (possibly described) and
 * carry no constructor of their own; each must fit in the array's size
 */

static int
ngx_iothub_amqp_array(ngx_iothub_amqp_cursor_t *c, int depth)
{
    uint32_t                   count;
    pn_atom_t                  descriptor;
    const unsigned char       *code;
    ngx_iothub_amqp_cursor_t   elements;

    if (ngx_iothub_amqp_compound(c, 0xe0, 0xf0, &elements, &count) != 0) {
        return -1;
    }

    code = ngx_iothub_amqp_take(&elements, 1);

    if (code && *code == 0x00) {
        if (ngx_iothub_amqp_value(&elements, &descriptor, depth + 1) != 0) {
            return -1;
        }

        code = ngx_iothub_amqp_take(&elements, 1);
    }

    if (code == NULL
        || ngx_iothub_amqp_elements(&elements, *code, count) != 0)
    {
        /* the element constructor is there even with no elements */
        return -1;
    }

    return elements.p == elements.last ? 0 : -1;
}


/* an array's elements of one constructor */

static int
ngx_iothub_amqp_elements(ngx_iothub_amqp_cursor_t *c, unsigned char code,
    uint32_t count)
{
    pn_atom_t  element;

    switch (code) {

    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45:
        /* of no bytes: null, true, false, 0, the empty list */
        return 0;

    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55:
    case 0x56: case 0x60: case 0x61: case 0x70: case 0x71: case 0x72:
    case 0x73: case 0x74: case 0x80: case 0x81: case 0x82: case 0x83:
    case 0x84: case 0x94: case 0x98:
        while (count--) {
            if (ngx_iothub_amqp_fixed(c, code, &element) != 0) {
                return -1;
            }
        }

        return 0;

    case 0xa0: case 0xa1: case 0xa3: case 0xc0: case 0xc1: case 0xe0:
    case 0xb0: case 0xb1: case 0xb3: case 0xd0: case 0xd1: case 0xf0:
        break;

    default:
        return -1;
    }

    /* each with a size of its own: a byte at least */

    while (count--) {
        if (ngx_iothub_amqp_skip_payload(c, code) != 0) {
            return -1;
        }
    }

    return 0;
}


/* binary, string, symbol: the bytes in place */

static int
ngx_iothub_amqp_variable(ngx_iothub_amqp_cursor_t *c, unsigned char code,
    pn_atom_t *a)
{
    size_t                len;
    const unsigned char  *data;

    switch (code & 0x0f) {

    case 0x0:
        a->type = PN_BINARY;
        break;

    case 0x1:
        a->type = PN_STRING;
        break;

    default:
        a->type = PN_SYMBOL;
        break;
    }

    /* back to the constructor: ngx_iothub_amqp_binary() reads it */
    c->p--;

    if (ngx_iothub_amqp_binary(c, 0xa0 | (code & 0x0f), 0xb0 | (code & 0x0f),
                               &data, &len)
        != 0)
    {
        return -1;
    }

    a->u.as_bytes.start = (const char *) data;
    a->u.as_bytes.size = len;

    return 0;
}


/* the fixed-width types */

static int
ngx_iothub_amqp_fixed(ngx_iothub_amqp_cursor_t *c, unsigned char code,
    pn_atom_t *a)
{
    const unsigned char  *b;

    /* the value's bytes: where the cursor is, before it passes them */
    b = c->p;

    if (code < 0x40 || code > 0x9f
        || ngx_iothub_amqp_skip_payload(c, code) != 0)
    {
        return -1;
    }

    switch (code) {

    case 0x40:
        a->type = PN_NULL;
        break;

    case 0x41:
    case 0x42:
        a->type = PN_BOOL;
        a->u.as_bool = (code == 0x41);
        break;

    case 0x56:
        a->type = PN_BOOL;
        a->u.as_bool = (b[0] != 0);
        break;

    case 0x50:
        a->type = PN_UBYTE;
        a->u.as_ubyte = b[0];
        break;

    case 0x51:
        a->type = PN_BYTE;
        a->u.as_byte = (int8_t) b[0];
        break;

    case 0x60:
        a->type = PN_USHORT;
        a->u.as_ushort = (uint16_t) (b[0] << 8 | b[1]);
        break;

    case 0x61:
        a->type = PN_SHORT;
        a->u.as_short = (int16_t) (b[0] << 8 | b[1]);
        break;

    case 0x43:
        a->type = PN_UINT;
        a->u.as_uint = 0;
        break;

    case 0x52:
        a->type = PN_UINT;
        a->u.as_uint = b[0];
        break;

    case 0x70:
        a->type = PN_UINT;
        a->u.as_uint = ngx_iothub_amqp_be32(b);
        break;

    case 0x54:
        a->type = PN_INT;
        a->u.as_int = (int8_t) b[0];
        break;

    case 0x71:
        a->type = PN_INT;
        a->u.as_int = (int32_t) ngx_iothub_amqp_be32(b);
        break;

    case 0x73:
        a->type = PN_CHAR;
        a->u.as_char = ngx_iothub_amqp_be32(b);
        break;

    case 0x44:
        a->type = PN_ULONG;
        a->u.as_ulong = 0;
        break;

    case 0x53:
        a->type = PN_ULONG;
        a->u.as_ulong = b[0];
        break;

    case 0x80:
        a->type = PN_ULONG;
        a->u.as_ulong = ngx_iothub_amqp_be64(b);
        break;

    case 0x55:
        a->type = PN_LONG;
        a->u.as_long = (int8_t) b[0];
        break;

    case 0x81:
        a->type = PN_LONG;
        a->u.as_long = (int64_t) ngx_iothub_amqp_be64(b);
        break;

    case 0x83:
        a->type = PN_TIMESTAMP;
        a->u.as_timestamp = (int64_t) ngx_iothub_amqp_be64(b);
        break;

    case 0x72:
        a->type = PN_FLOAT;
        a->u.as_uint = ngx_iothub_amqp_be32(b);  /* the bits as they are */
        break;

    case 0x82:
        a->type = PN_DOUBLE;
        a->u.as_ulong = ngx_iothub_amqp_be64(b);
        break;

    case 0x74:
        a->type = PN_DECIMAL32;
        a->u.as_decimal32 = ngx_iothub_amqp_be32(b);
        break;

    case 0x84:
        a->type = PN_DECIMAL64;
        a->u.as_decimal64 = ngx_iothub_amqp_be64(b);
        break;

    case 0x94:
        a->type = PN_DECIMAL128;
        memcpy(a->u.as_decimal128.bytes, b, 16);
        break;

    case 0x98:
        a->type = PN_UUID;
        memcpy(a->u.as_uuid.bytes, b, 16);
        break;

    default:
        return -1;
    }

    return 0;
}


static uint64_t
ngx_iothub_amqp_be64(const unsigned char *p)
{
    return ((uint64_t) ngx_iothub_amqp_be32(p) << 32)
           | ngx_iothub_amqp_be32(p + 4);
}
