
/*
 * Copyright (C) nginx-iothub authors
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "ngx_iothub_mqtt_parse.h"


/* connect flags, MQTT 3.1.2.3 */
#define NGX_IOTHUB_MQTT_CF_RESERVED      0x01
#define NGX_IOTHUB_MQTT_CF_CLEAN         0x02
#define NGX_IOTHUB_MQTT_CF_WILL          0x04
#define NGX_IOTHUB_MQTT_CF_WILL_RETAIN   0x20
#define NGX_IOTHUB_MQTT_CF_PASSWORD      0x40
#define NGX_IOTHUB_MQTT_CF_USERNAME      0x80

/* PUBLISH flags, MQTT 3.3.1 */
#define NGX_IOTHUB_MQTT_PF_DUP           0x08
#define NGX_IOTHUB_MQTT_PF_RETAIN        0x01

#define NGX_IOTHUB_MQTT_STRING_MAX       65535


/* the unread part of a packet */
typedef struct {
    const u_char          *pos;
    const u_char          *last;
} ngx_iothub_mqtt_reader_t;


static ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_check_first(u_int byte);
static ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_check_remaining(u_int type,
    size_t remaining);
static ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_open(const u_char *p,
    size_t len, ngx_iothub_mqtt_frame_t *f, ngx_iothub_mqtt_reader_t *r);
static ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_read_u8(
    ngx_iothub_mqtt_reader_t *r, u_int *v);
static ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_read_u16(
    ngx_iothub_mqtt_reader_t *r, u_int *v);
static ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_read_bytes(
    ngx_iothub_mqtt_reader_t *r, ngx_iothub_mqtt_str_t *s);
static ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_read_utf8(
    ngx_iothub_mqtt_reader_t *r, ngx_iothub_mqtt_str_t *s);
static ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_read_topic(
    ngx_iothub_mqtt_reader_t *r, ngx_iothub_mqtt_str_t *s);
static ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_connect_protocol(
    ngx_iothub_mqtt_connect_t *c);
static ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_connect_flags(
    ngx_iothub_mqtt_connect_t *c, u_int flags);
static ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_connect_payload(
    ngx_iothub_mqtt_connect_t *c, ngx_iothub_mqtt_reader_t *r);
static ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_subscribe_entry(
    ngx_iothub_mqtt_reader_t *r, u_int type, ngx_iothub_mqtt_str_t *filter,
    u_int *qos);
static size_t ngx_iothub_mqtt_publish_remaining(
    const ngx_iothub_mqtt_publish_t *pub);
static size_t ngx_iothub_mqtt_remaining_size(size_t remaining);
static u_char *ngx_iothub_mqtt_write_fixed(u_char *p, u_int byte,
    size_t remaining);
static size_t ngx_iothub_mqtt_write_id_packet(u_char *buf, size_t size,
    u_int byte, u_int packet_id);


/*
 * Fixed header flags per packet type, MQTT 2.2.2; 0xff: any (PUBLISH),
 * 0xfe: reserved type.
 */
static const u_char  ngx_iothub_mqtt_flags[16] = {
    0xfe, 0x00, 0x00, 0xff, 0x00, 0x00, 0x02, 0x00,
    0x02, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe
};


ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_frame(const u_char *p, size_t len, size_t max,
    ngx_iothub_mqtt_frame_t *f)
{
    size_t                i, remaining;
    ngx_iothub_mqtt_rc_e  rc;

    memset(f, 0, sizeof(ngx_iothub_mqtt_frame_t));

    if (len == 0) {
        return NGX_IOTHUB_MQTT_AGAIN;
    }

    rc = ngx_iothub_mqtt_check_first(p[0]);
    if (rc != NGX_IOTHUB_MQTT_OK) {
        return rc;
    }

    remaining = 0;

    /* MQTT 2.2.3: 7 bits per byte, least significant first, 4 bytes */
    for (i = 1; i < NGX_IOTHUB_MQTT_HEADER_MAX; i++) {
        if (i == len) {
            return NGX_IOTHUB_MQTT_AGAIN;
        }

        remaining |= (size_t) (p[i] & 0x7f) << (7 * (i - 1));

        if ((p[i] & 0x80) == 0) {
            break;
        }
    }

    if (i == NGX_IOTHUB_MQTT_HEADER_MAX) {
        return NGX_IOTHUB_MQTT_MALFORMED;
    }

    rc = ngx_iothub_mqtt_check_remaining(p[0] >> 4, remaining);
    if (rc != NGX_IOTHUB_MQTT_OK) {
        return rc;
    }

    if (max != 0 && i + 1 + remaining > max) {
        return NGX_IOTHUB_MQTT_TOO_LARGE;
    }

    f->type = p[0] >> 4;
    f->flags = p[0] & 0x0f;
    f->header_len = i + 1;
    f->remaining = remaining;
    f->len = f->header_len + remaining;

    return (len < f->len) ? NGX_IOTHUB_MQTT_AGAIN : NGX_IOTHUB_MQTT_OK;
}


static ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_check_first(u_int byte)
{
    u_int  type, flags;

    type = byte >> 4;
    flags = byte & 0x0f;

    if (ngx_iothub_mqtt_flags[type] == 0xfe) {
        return NGX_IOTHUB_MQTT_BAD_TYPE;
    }

    if (ngx_iothub_mqtt_flags[type] == 0xff) {
        /* MQTT-3.3.1-4 */
        return ((flags & 0x06) == 0x06) ? NGX_IOTHUB_MQTT_BAD_QOS
                                        : NGX_IOTHUB_MQTT_OK;
    }

    /* MQTT-2.2.2-2 */
    return (flags == ngx_iothub_mqtt_flags[type]) ? NGX_IOTHUB_MQTT_OK
                                                  : NGX_IOTHUB_MQTT_BAD_FLAGS;
}


static ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_check_remaining(u_int type, size_t remaining)
{
    switch (type) {

    case NGX_IOTHUB_MQTT_CONNACK:
    case NGX_IOTHUB_MQTT_PUBACK:
    case NGX_IOTHUB_MQTT_PUBREC:
    case NGX_IOTHUB_MQTT_PUBREL:
    case NGX_IOTHUB_MQTT_PUBCOMP:
    case NGX_IOTHUB_MQTT_UNSUBACK:
        return (remaining == 2) ? NGX_IOTHUB_MQTT_OK
                                : NGX_IOTHUB_MQTT_MALFORMED;

    case NGX_IOTHUB_MQTT_PINGREQ:
    case NGX_IOTHUB_MQTT_PINGRESP:
    case NGX_IOTHUB_MQTT_DISCONNECT:
        return (remaining == 0) ? NGX_IOTHUB_MQTT_OK
                                : NGX_IOTHUB_MQTT_MALFORMED;

    default:
        return NGX_IOTHUB_MQTT_OK;
    }
}


ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_parse(const u_char *p, size_t len,
    ngx_iothub_mqtt_packet_t *pkt)
{
    memset(pkt, 0, sizeof(ngx_iothub_mqtt_packet_t));

    if (len == 0) {
        return NGX_IOTHUB_MQTT_MALFORMED;
    }

    pkt->type = p[0] >> 4;

    switch (pkt->type) {

    case NGX_IOTHUB_MQTT_CONNECT:
        return ngx_iothub_mqtt_parse_connect(p, len, &pkt->u.connect);

    case NGX_IOTHUB_MQTT_PUBLISH:
        return ngx_iothub_mqtt_parse_publish(p, len, &pkt->u.publish);

    case NGX_IOTHUB_MQTT_PUBACK:
    case NGX_IOTHUB_MQTT_PUBREC:
    case NGX_IOTHUB_MQTT_PUBREL:
    case NGX_IOTHUB_MQTT_PUBCOMP:
        return ngx_iothub_mqtt_parse_ack(p, len, &pkt->u.ack);

    case NGX_IOTHUB_MQTT_SUBSCRIBE:
    case NGX_IOTHUB_MQTT_UNSUBSCRIBE:
        return ngx_iothub_mqtt_parse_subscribe(p, len, &pkt->u.subscribe);

    case NGX_IOTHUB_MQTT_PINGREQ:
    case NGX_IOTHUB_MQTT_DISCONNECT:
        return ngx_iothub_mqtt_parse_empty(p, len, &pkt->type);

    default:
        return NGX_IOTHUB_MQTT_BAD_TYPE;
    }
}


/* checks that [p, p + len) is exactly one packet and opens its body */
static ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_open(const u_char *p, size_t len, ngx_iothub_mqtt_frame_t *f,
    ngx_iothub_mqtt_reader_t *r)
{
    ngx_iothub_mqtt_rc_e  rc;

    rc = ngx_iothub_mqtt_frame(p, len, 0, f);

    if (rc == NGX_IOTHUB_MQTT_AGAIN || (rc == NGX_IOTHUB_MQTT_OK
                                        && f->len != len))
    {
        return NGX_IOTHUB_MQTT_MALFORMED;
    }

    r->pos = p + f->header_len;
    r->last = p + len;

    return rc;
}


static ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_read_u8(ngx_iothub_mqtt_reader_t *r, u_int *v)
{
    if (r->pos == r->last) {
        return NGX_IOTHUB_MQTT_MALFORMED;
    }

    *v = *r->pos++;

    return NGX_IOTHUB_MQTT_OK;
}


static ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_read_u16(ngx_iothub_mqtt_reader_t *r, u_int *v)
{
    if (r->last - r->pos < 2) {
        return NGX_IOTHUB_MQTT_MALFORMED;
    }

    *v = ((u_int) r->pos[0] << 8) | r->pos[1];
    r->pos += 2;

    return NGX_IOTHUB_MQTT_OK;
}


/* two length bytes and the data, MQTT 1.5.3 and 3.1.3.4 */
static ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_read_bytes(ngx_iothub_mqtt_reader_t *r,
    ngx_iothub_mqtt_str_t *s)
{
    u_int  n;

    if (ngx_iothub_mqtt_read_u16(r, &n) != NGX_IOTHUB_MQTT_OK
        || (size_t) (r->last - r->pos) < n)
    {
        return NGX_IOTHUB_MQTT_MALFORMED;
    }

    s->data = r->pos;
    s->len = n;
    r->pos += n;

    return NGX_IOTHUB_MQTT_OK;
}


static ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_read_utf8(ngx_iothub_mqtt_reader_t *r,
    ngx_iothub_mqtt_str_t *s)
{
    if (ngx_iothub_mqtt_read_bytes(r, s) != NGX_IOTHUB_MQTT_OK) {
        return NGX_IOTHUB_MQTT_MALFORMED;
    }

    return ngx_iothub_mqtt_utf8_valid(s->data, s->len)
           ? NGX_IOTHUB_MQTT_OK : NGX_IOTHUB_MQTT_BAD_UTF8;
}


/* a topic name: MQTT-4.7.3-1, MQTT-3.3.2-2, MQTT-4.7.1-1 */
static ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_read_topic(ngx_iothub_mqtt_reader_t *r,
    ngx_iothub_mqtt_str_t *s)
{
    ngx_iothub_mqtt_rc_e  rc;

    rc = ngx_iothub_mqtt_read_utf8(r, s);
    if (rc != NGX_IOTHUB_MQTT_OK) {
        return rc;
    }

    if (s->len == 0 || memchr(s->data, '+', s->len) != NULL
        || memchr(s->data, '#', s->len) != NULL)
    {
        return NGX_IOTHUB_MQTT_BAD_TOPIC;
    }

    return NGX_IOTHUB_MQTT_OK;
}


ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_parse_connect(const u_char *p, size_t len,
    ngx_iothub_mqtt_connect_t *c)
{
    u_int                     flags;
    ngx_iothub_mqtt_rc_e      rc;
    ngx_iothub_mqtt_frame_t   f;
    ngx_iothub_mqtt_reader_t  r;

    memset(c, 0, sizeof(ngx_iothub_mqtt_connect_t));

    rc = ngx_iothub_mqtt_open(p, len, &f, &r);
    if (rc != NGX_IOTHUB_MQTT_OK) {
        return rc;
    }

    if (f.type != NGX_IOTHUB_MQTT_CONNECT) {
        return NGX_IOTHUB_MQTT_BAD_TYPE;
    }

    /* MQTT 3.1.2.1, 3.1.2.2 */
    if (ngx_iothub_mqtt_read_bytes(&r, &c->protocol) != NGX_IOTHUB_MQTT_OK
        || ngx_iothub_mqtt_read_u8(&r, &c->level) != NGX_IOTHUB_MQTT_OK)
    {
        return NGX_IOTHUB_MQTT_MALFORMED;
    }

    rc = ngx_iothub_mqtt_connect_protocol(c);
    if (rc != NGX_IOTHUB_MQTT_OK) {
        return rc;
    }

    if (ngx_iothub_mqtt_read_u8(&r, &flags) != NGX_IOTHUB_MQTT_OK
        || ngx_iothub_mqtt_read_u16(&r, &c->keep_alive) != NGX_IOTHUB_MQTT_OK)
    {
        return NGX_IOTHUB_MQTT_MALFORMED;
    }

    rc = ngx_iothub_mqtt_connect_flags(c, flags);
    if (rc != NGX_IOTHUB_MQTT_OK) {
        return rc;
    }

    return ngx_iothub_mqtt_connect_payload(c, &r);
}


static ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_connect_protocol(ngx_iothub_mqtt_connect_t *c)
{
    if (c->protocol.len == 4 && memcmp(c->protocol.data, "MQTT", 4) == 0) {
        /* MQTT-3.1.2-2: answered with CONNACK 1 */
        return (c->level == 4) ? NGX_IOTHUB_MQTT_OK
                               : NGX_IOTHUB_MQTT_BAD_LEVEL;
    }

    /* MQTT 3.1 clients expect CONNACK 1 too, not a closed connection */
    if (c->protocol.len == 6 && memcmp(c->protocol.data, "MQIsdp", 6) == 0) {
        return NGX_IOTHUB_MQTT_BAD_LEVEL;
    }

    /* MQTT-3.1.2-1 */
    return NGX_IOTHUB_MQTT_BAD_PROTOCOL;
}


static ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_connect_flags(ngx_iothub_mqtt_connect_t *c, u_int flags)
{
    /* MQTT-3.1.2-3 */
    if (flags & NGX_IOTHUB_MQTT_CF_RESERVED) {
        return NGX_IOTHUB_MQTT_BAD_CONNECT_FLAGS;
    }

    c->clean_session = (flags & NGX_IOTHUB_MQTT_CF_CLEAN) ? 1 : 0;
    c->will = (flags & NGX_IOTHUB_MQTT_CF_WILL) ? 1 : 0;
    c->will_qos = (flags >> 3) & 0x03;
    c->will_retain = (flags & NGX_IOTHUB_MQTT_CF_WILL_RETAIN) ? 1 : 0;
    c->has_password = (flags & NGX_IOTHUB_MQTT_CF_PASSWORD) ? 1 : 0;
    c->has_username = (flags & NGX_IOTHUB_MQTT_CF_USERNAME) ? 1 : 0;

    /* MQTT-3.1.2-11, -13, -14, -15 */
    if (c->will_qos == 3
        || (!c->will && (c->will_qos != 0 || c->will_retain)))
    {
        return NGX_IOTHUB_MQTT_BAD_CONNECT_FLAGS;
    }

    /* MQTT-3.1.2-22 */
    if (c->has_password && !c->has_username) {
        return NGX_IOTHUB_MQTT_BAD_CONNECT_FLAGS;
    }

    return NGX_IOTHUB_MQTT_OK;
}


/* MQTT 3.1.3: the fields in this order, each present only if flagged */
static ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_connect_payload(ngx_iothub_mqtt_connect_t *c,
    ngx_iothub_mqtt_reader_t *r)
{
    ngx_iothub_mqtt_rc_e  rc;

    rc = ngx_iothub_mqtt_read_utf8(r, &c->client_id);
    if (rc != NGX_IOTHUB_MQTT_OK) {
        return rc;
    }

    if (c->will) {
        rc = ngx_iothub_mqtt_read_topic(r, &c->will_topic);
        if (rc != NGX_IOTHUB_MQTT_OK) {
            return rc;
        }

        rc = ngx_iothub_mqtt_read_bytes(r, &c->will_message);
        if (rc != NGX_IOTHUB_MQTT_OK) {
            return rc;
        }
    }

    if (c->has_username) {
        rc = ngx_iothub_mqtt_read_utf8(r, &c->username);
        if (rc != NGX_IOTHUB_MQTT_OK) {
            return rc;
        }
    }

    if (c->has_password) {
        rc = ngx_iothub_mqtt_read_bytes(r, &c->password);
        if (rc != NGX_IOTHUB_MQTT_OK) {
            return rc;
        }
    }

    return (r->pos == r->last) ? NGX_IOTHUB_MQTT_OK
                               : NGX_IOTHUB_MQTT_MALFORMED;
}


ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_parse_publish(const u_char *p, size_t len,
    ngx_iothub_mqtt_publish_t *pub)
{
    ngx_iothub_mqtt_rc_e      rc;
    ngx_iothub_mqtt_frame_t   f;
    ngx_iothub_mqtt_reader_t  r;

    memset(pub, 0, sizeof(ngx_iothub_mqtt_publish_t));

    rc = ngx_iothub_mqtt_open(p, len, &f, &r);
    if (rc != NGX_IOTHUB_MQTT_OK) {
        return rc;
    }

    if (f.type != NGX_IOTHUB_MQTT_PUBLISH) {
        return NGX_IOTHUB_MQTT_BAD_TYPE;
    }

    pub->dup = (f.flags & NGX_IOTHUB_MQTT_PF_DUP) ? 1 : 0;
    pub->qos = (f.flags >> 1) & 0x03;
    pub->retain = (f.flags & NGX_IOTHUB_MQTT_PF_RETAIN) ? 1 : 0;

    /* MQTT-3.3.1-2 */
    if (pub->dup && pub->qos == 0) {
        return NGX_IOTHUB_MQTT_BAD_FLAGS;
    }

    rc = ngx_iothub_mqtt_read_topic(&r, &pub->topic);
    if (rc != NGX_IOTHUB_MQTT_OK) {
        return rc;
    }

    if (pub->qos != 0) {
        if (ngx_iothub_mqtt_read_u16(&r, &pub->packet_id)
            != NGX_IOTHUB_MQTT_OK)
        {
            return NGX_IOTHUB_MQTT_MALFORMED;
        }

        if (pub->packet_id == 0) {
            return NGX_IOTHUB_MQTT_BAD_PACKET_ID;
        }
    }

    pub->payload.data = r.pos;
    pub->payload.len = r.last - r.pos;

    return NGX_IOTHUB_MQTT_OK;
}


ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_parse_ack(const u_char *p, size_t len,
    ngx_iothub_mqtt_ack_t *ack)
{
    ngx_iothub_mqtt_rc_e      rc;
    ngx_iothub_mqtt_frame_t   f;
    ngx_iothub_mqtt_reader_t  r;

    memset(ack, 0, sizeof(ngx_iothub_mqtt_ack_t));

    rc = ngx_iothub_mqtt_open(p, len, &f, &r);
    if (rc != NGX_IOTHUB_MQTT_OK) {
        return rc;
    }

    if (f.type < NGX_IOTHUB_MQTT_PUBACK || f.type > NGX_IOTHUB_MQTT_PUBCOMP) {
        return NGX_IOTHUB_MQTT_BAD_TYPE;
    }

    ack->type = f.type;

    /* the frame checked remaining length 2 and the PUBREL flags */
    (void) ngx_iothub_mqtt_read_u16(&r, &ack->packet_id);

    return (ack->packet_id != 0) ? NGX_IOTHUB_MQTT_OK
                                 : NGX_IOTHUB_MQTT_BAD_PACKET_ID;
}


ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_parse_subscribe(const u_char *p, size_t len,
    ngx_iothub_mqtt_subscribe_t *s)
{
    u_int                     qos;
    ngx_iothub_mqtt_rc_e      rc;
    ngx_iothub_mqtt_str_t     filter;
    ngx_iothub_mqtt_frame_t   f;
    ngx_iothub_mqtt_reader_t  r;

    memset(s, 0, sizeof(ngx_iothub_mqtt_subscribe_t));

    rc = ngx_iothub_mqtt_open(p, len, &f, &r);
    if (rc != NGX_IOTHUB_MQTT_OK) {
        return rc;
    }

    if (f.type != NGX_IOTHUB_MQTT_SUBSCRIBE
        && f.type != NGX_IOTHUB_MQTT_UNSUBSCRIBE)
    {
        return NGX_IOTHUB_MQTT_BAD_TYPE;
    }

    s->type = f.type;

    if (ngx_iothub_mqtt_read_u16(&r, &s->packet_id) != NGX_IOTHUB_MQTT_OK) {
        return NGX_IOTHUB_MQTT_MALFORMED;
    }

    if (s->packet_id == 0) {
        return NGX_IOTHUB_MQTT_BAD_PACKET_ID;
    }

    s->entries.data = r.pos;
    s->entries.len = r.last - r.pos;

    while (r.pos != r.last) {
        rc = ngx_iothub_mqtt_subscribe_entry(&r, s->type, &filter, &qos);
        if (rc != NGX_IOTHUB_MQTT_OK) {
            return rc;
        }

        s->count++;
    }

    /* MQTT-3.8.3-3, MQTT-3.10.3-2 */
    return (s->count != 0) ? NGX_IOTHUB_MQTT_OK : NGX_IOTHUB_MQTT_NO_TOPICS;
}


static ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_subscribe_entry(ngx_iothub_mqtt_reader_t *r, u_int type,
    ngx_iothub_mqtt_str_t *filter, u_int *qos)
{
    ngx_iothub_mqtt_rc_e  rc;

    *qos = 0;

    rc = ngx_iothub_mqtt_read_utf8(r, filter);
    if (rc != NGX_IOTHUB_MQTT_OK) {
        return rc;
    }

    /* MQTT-4.7.3-1 */
    if (filter->len == 0) {
        return NGX_IOTHUB_MQTT_BAD_TOPIC;
    }

    if (type == NGX_IOTHUB_MQTT_UNSUBSCRIBE) {
        return NGX_IOTHUB_MQTT_OK;
    }

    if (ngx_iothub_mqtt_read_u8(r, qos) != NGX_IOTHUB_MQTT_OK) {
        return NGX_IOTHUB_MQTT_MALFORMED;
    }

    /* MQTT-3-8.3-4: reserved bits and QoS 3 */
    return (*qos <= 2) ? NGX_IOTHUB_MQTT_OK : NGX_IOTHUB_MQTT_BAD_QOS;
}


int
ngx_iothub_mqtt_subscribe_next(const ngx_iothub_mqtt_subscribe_t *s,
    size_t *pos, ngx_iothub_mqtt_str_t *filter, u_int *qos)
{
    u_int                     q;
    ngx_iothub_mqtt_reader_t  r;

    if (*pos >= s->entries.len) {
        return 0;
    }

    r.pos = s->entries.data + *pos;
    r.last = s->entries.data + s->entries.len;

    /* the entries were checked by ngx_iothub_mqtt_parse_subscribe() */
    if (ngx_iothub_mqtt_subscribe_entry(&r, s->type, filter, &q)
        != NGX_IOTHUB_MQTT_OK)
    {
        *pos = s->entries.len;
        return 0;
    }

    if (qos != NULL) {
        *qos = q;
    }

    *pos = r.pos - s->entries.data;

    return 1;
}


ngx_iothub_mqtt_rc_e
ngx_iothub_mqtt_parse_empty(const u_char *p, size_t len, u_int *type)
{
    ngx_iothub_mqtt_rc_e      rc;
    ngx_iothub_mqtt_frame_t   f;
    ngx_iothub_mqtt_reader_t  r;

    *type = (len != 0) ? p[0] >> 4 : 0;

    rc = ngx_iothub_mqtt_open(p, len, &f, &r);
    if (rc != NGX_IOTHUB_MQTT_OK) {
        return rc;
    }

    /* the frame checked remaining length 0 */
    return (f.type == NGX_IOTHUB_MQTT_PINGREQ
            || f.type == NGX_IOTHUB_MQTT_DISCONNECT)
           ? NGX_IOTHUB_MQTT_OK : NGX_IOTHUB_MQTT_BAD_TYPE;
}


int
ngx_iothub_mqtt_utf8_valid(const u_char *p, size_t len)
{
    size_t         n;
    u_char         c;
    uint32_t       cp, min;
    const u_char  *last;

    last = p + len;

    while (p < last) {
        c = *p++;

        if (c < 0x80) {
            if (c == 0) {
                return 0;
            }

            continue;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
            min = 0x80;

        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
            min = 0x800;

        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
            min = 0x10000;

        } else {
            return 0;
        }

        if ((size_t) (last - p) < n) {
            return 0;
        }

        while (n--) {
            c = *p++;

            if ((c & 0xc0) != 0x80) {
                return 0;
            }

            cp = (cp << 6) | (c & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
    }

    return 1;
}


size_t
ngx_iothub_mqtt_write_connack(u_char *buf, size_t size, int session_present,
    u_int code)
{
    if (code > NGX_IOTHUB_MQTT_REFUSED_AUTH
        || size < NGX_IOTHUB_MQTT_CONNACK_LEN)
    {
        return 0;
    }

    buf[0] = NGX_IOTHUB_MQTT_CONNACK << 4;
    buf[1] = 2;

    /* MQTT-3.2.2-4 */
    buf[2] = (session_present && code == NGX_IOTHUB_MQTT_ACCEPTED) ? 1 : 0;
    buf[3] = (u_char) code;

    return NGX_IOTHUB_MQTT_CONNACK_LEN;
}


size_t
ngx_iothub_mqtt_write_publish(u_char *buf, size_t size,
    const ngx_iothub_mqtt_publish_t *pub)
{
    size_t  n, total;

    total = ngx_iothub_mqtt_publish_size(pub);

    if (total == 0 || total > size
        || (pub->payload.len != 0 && pub->payload.data == NULL))
    {
        return 0;
    }

    n = ngx_iothub_mqtt_write_publish_header(buf, size, pub);

    if (pub->payload.len != 0) {
        memcpy(buf + n, pub->payload.data, pub->payload.len);
    }

    return total;
}


size_t
ngx_iothub_mqtt_write_publish_header(u_char *buf, size_t size,
    const ngx_iothub_mqtt_publish_t *pub)
{
    u_int    byte;
    size_t   n, remaining;
    u_char  *p;

    n = ngx_iothub_mqtt_publish_header_size(pub);

    if (n == 0 || n > size) {
        return 0;
    }

    remaining = ngx_iothub_mqtt_publish_remaining(pub);

    byte = (NGX_IOTHUB_MQTT_PUBLISH << 4) | (pub->qos << 1);
    byte |= pub->dup ? NGX_IOTHUB_MQTT_PF_DUP : 0;
    byte |= pub->retain ? NGX_IOTHUB_MQTT_PF_RETAIN : 0;

    p = ngx_iothub_mqtt_write_fixed(buf, byte, remaining);

    *p++ = (u_char) (pub->topic.len >> 8);
    *p++ = (u_char) pub->topic.len;
    memcpy(p, pub->topic.data, pub->topic.len);
    p += pub->topic.len;

    if (pub->qos != 0) {
        *p++ = (u_char) (pub->packet_id >> 8);
        *p++ = (u_char) pub->packet_id;
    }

    return p - buf;
}


size_t
ngx_iothub_mqtt_publish_size(const ngx_iothub_mqtt_publish_t *pub)
{
    size_t  remaining;

    remaining = ngx_iothub_mqtt_publish_remaining(pub);

    if (remaining == 0) {
        return 0;
    }

    return 1 + ngx_iothub_mqtt_remaining_size(remaining) + remaining;
}


size_t
ngx_iothub_mqtt_publish_header_size(const ngx_iothub_mqtt_publish_t *pub)
{
    size_t  total;

    total = ngx_iothub_mqtt_publish_size(pub);

    return (total != 0) ? total - pub->payload.len : 0;
}


/* the remaining length, or 0 when pub cannot be encoded */
static size_t
ngx_iothub_mqtt_publish_remaining(const ngx_iothub_mqtt_publish_t *pub)
{
    size_t  n;

    if (pub->topic.len == 0 || pub->topic.len > NGX_IOTHUB_MQTT_STRING_MAX
        || pub->topic.data == NULL || pub->qos > 2
        || (pub->qos == 0 && pub->dup)
        || (pub->qos != 0 && (pub->packet_id == 0
                              || pub->packet_id > 0xffff)))
    {
        return 0;
    }

    n = 2 + pub->topic.len + (pub->qos != 0 ? 2 : 0);

    if (pub->payload.len > NGX_IOTHUB_MQTT_REMAINING_MAX - n) {
        return 0;
    }

    return n + pub->payload.len;
}


size_t
ngx_iothub_mqtt_write_puback(u_char *buf, size_t size, u_int packet_id)
{
    return ngx_iothub_mqtt_write_id_packet(buf, size,
                                           NGX_IOTHUB_MQTT_PUBACK << 4,
                                           packet_id);
}


size_t
ngx_iothub_mqtt_write_unsuback(u_char *buf, size_t size, u_int packet_id)
{
    return ngx_iothub_mqtt_write_id_packet(buf, size,
                                           NGX_IOTHUB_MQTT_UNSUBACK << 4,
                                           packet_id);
}


static size_t
ngx_iothub_mqtt_write_id_packet(u_char *buf, size_t size, u_int byte,
    u_int packet_id)
{
    if (packet_id == 0 || packet_id > 0xffff || size < 4) {
        return 0;
    }

    buf[0] = (u_char) byte;
    buf[1] = 2;
    buf[2] = (u_char) (packet_id >> 8);
    buf[3] = (u_char) packet_id;

    return 4;
}


size_t
ngx_iothub_mqtt_write_suback(u_char *buf, size_t size, u_int packet_id,
    const u_char *codes, size_t n)
{
    size_t   i, total;
    u_char  *p;

    total = ngx_iothub_mqtt_suback_size(n);

    if (total == 0 || total > size || packet_id == 0 || packet_id > 0xffff) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (codes[i] > 2 && codes[i] != NGX_IOTHUB_MQTT_SUBACK_FAILURE) {
            return 0;
        }
    }

    p = ngx_iothub_mqtt_write_fixed(buf, NGX_IOTHUB_MQTT_SUBACK << 4, n + 2);

    *p++ = (u_char) (packet_id >> 8);
    *p++ = (u_char) packet_id;
    memcpy(p, codes, n);

    return total;
}


size_t
ngx_iothub_mqtt_suback_size(size_t n)
{
    if (n == 0 || n > NGX_IOTHUB_MQTT_REMAINING_MAX - 2) {
        return 0;
    }

    return 1 + ngx_iothub_mqtt_remaining_size(n + 2) + n + 2;
}


size_t
ngx_iothub_mqtt_write_pingresp(u_char *buf, size_t size)
{
    if (size < NGX_IOTHUB_MQTT_PINGRESP_LEN) {
        return 0;
    }

    buf[0] = NGX_IOTHUB_MQTT_PINGRESP << 4;
    buf[1] = 0;

    return NGX_IOTHUB_MQTT_PINGRESP_LEN;
}


static size_t
ngx_iothub_mqtt_remaining_size(size_t remaining)
{
    if (remaining < 128) {
        return 1;
    }

    if (remaining < 16384) {
        return 2;
    }

    return (remaining < 2097152) ? 3 : 4;
}


static u_char *
ngx_iothub_mqtt_write_fixed(u_char *p, u_int byte, size_t remaining)
{
    *p++ = (u_char) byte;

    /* MQTT 2.2.3; callers keep remaining <= NGX_IOTHUB_MQTT_REMAINING_MAX */
    do {
        *p = remaining & 0x7f;
        remaining >>= 7;

        if (remaining != 0) {
            *p |= 0x80;
        }

        p++;

    } while (remaining != 0);

    return p;
}


const char *
ngx_iothub_mqtt_strerror(ngx_iothub_mqtt_rc_e rc)
{
    switch (rc) {

    case NGX_IOTHUB_MQTT_OK:
        return "ok";

    case NGX_IOTHUB_MQTT_AGAIN:
        return "incomplete packet";

    case NGX_IOTHUB_MQTT_MALFORMED:
        return "malformed packet";

    case NGX_IOTHUB_MQTT_TOO_LARGE:
        return "packet too large";

    case NGX_IOTHUB_MQTT_BAD_TYPE:
        return "unexpected packet type";

    case NGX_IOTHUB_MQTT_BAD_FLAGS:
        return "invalid fixed header flags";

    case NGX_IOTHUB_MQTT_BAD_PROTOCOL:
        return "unknown protocol name";

    case NGX_IOTHUB_MQTT_BAD_LEVEL:
        return "unsupported protocol level";

    case NGX_IOTHUB_MQTT_BAD_CONNECT_FLAGS:
        return "invalid connect flags";

    case NGX_IOTHUB_MQTT_BAD_UTF8:
        return "invalid utf-8 string";

    case NGX_IOTHUB_MQTT_BAD_QOS:
        return "invalid qos";

    case NGX_IOTHUB_MQTT_BAD_TOPIC:
        return "invalid topic";

    case NGX_IOTHUB_MQTT_BAD_PACKET_ID:
        return "packet identifier 0";

    case NGX_IOTHUB_MQTT_NO_TOPICS:
        return "no topic filters";
    }

    return "unknown error";
}
