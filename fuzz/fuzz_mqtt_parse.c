
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * libFuzzer target for ngx_iothub_mqtt/ngx_iothub_mqtt_parse.c: the input
 * is a client byte stream.  Besides memory errors it checks that
 *   - the framer gives the same verdict fed one byte at a time as whole,
 *     never claims bytes it was not given, and honours max;
 *   - decoded strings lie inside their packet;
 *   - a decoded PUBLISH encodes back to the same bytes (when its
 *     remaining length used the shortest form) and decodes to the same
 *     fields; a SUBSCRIBE walks to its count and its SUBACK encodes.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ingx_iothub_mqtt \
 *       fuzz/fuzz_mqtt_parse.c ngx_iothub_mqtt/ngx_iothub_mqtt_parse.c \
 *       -o fuzz_mqtt_parse
 *   ./fuzz_mqtt_parse -max_total_time=60 corpus/
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_iothub_mqtt_parse.h"


#define FUZZ_MAX_SMALL  64
#define FUZZ_BUF        4096

#define fuzz_assert(expr)  if (!(expr)) abort()


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void fuzz_bytewise(const u_char *p, size_t len,
    ngx_iothub_mqtt_rc_e whole);
static void fuzz_packet(const u_char *p, size_t len);
static void fuzz_inside(const ngx_iothub_mqtt_str_t *s, const u_char *p,
    size_t len);
static void fuzz_connect(const ngx_iothub_mqtt_connect_t *c,
    const u_char *p, size_t len);
static void fuzz_publish(const ngx_iothub_mqtt_publish_t *pub,
    const u_char *p, size_t len, size_t header_len);
static void fuzz_subscribe(const ngx_iothub_mqtt_subscribe_t *s,
    const u_char *p, size_t len);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                   off;
    ngx_iothub_mqtt_rc_e     rc;
    ngx_iothub_mqtt_frame_t  f, small;

    off = 0;

    for ( ;; ) {
        rc = ngx_iothub_mqtt_frame(data + off, size - off, 0, &f);

        fuzz_bytewise(data + off, size - off, rc);

        /* a smaller max refuses exactly the longer packets */
        if (rc == NGX_IOTHUB_MQTT_OK || f.len != 0) {
            (void) ngx_iothub_mqtt_frame(data + off, size - off,
                                         FUZZ_MAX_SMALL, &small);
            fuzz_assert((f.len > FUZZ_MAX_SMALL)
                        == (small.len == 0));
        }

        if (rc != NGX_IOTHUB_MQTT_OK) {
            break;
        }

        fuzz_assert(f.len >= 2 && f.len <= size - off);
        fuzz_assert(f.header_len + f.remaining == f.len);

        fuzz_packet(data + off, f.len);

        off += f.len;
    }

    return 0;
}


static void
fuzz_bytewise(const u_char *p, size_t len, ngx_iothub_mqtt_rc_e whole)
{
    size_t                   i, total;
    ngx_iothub_mqtt_rc_e     rc;
    ngx_iothub_mqtt_frame_t  f;

    rc = NGX_IOTHUB_MQTT_AGAIN;

    /* the header is at most 5 bytes; past it only the length counts */
    for (i = 0; i <= len && i <= NGX_IOTHUB_MQTT_HEADER_MAX; i++) {
        rc = ngx_iothub_mqtt_frame(p, i, 0, &f);

        if (rc != NGX_IOTHUB_MQTT_AGAIN) {
            break;
        }

        fuzz_assert(f.len == 0 || f.len > i);
    }

    if (rc == NGX_IOTHUB_MQTT_AGAIN && f.len != 0 && f.len <= len) {
        total = f.len;

        rc = ngx_iothub_mqtt_frame(p, total - 1, 0, &f);
        fuzz_assert(rc == NGX_IOTHUB_MQTT_AGAIN);

        rc = ngx_iothub_mqtt_frame(p, total, 0, &f);
        fuzz_assert(rc != NGX_IOTHUB_MQTT_OK || f.len == total);
    }

    fuzz_assert(rc == whole);
}


static void
fuzz_packet(const u_char *p, size_t len)
{
    ngx_iothub_mqtt_rc_e      rc;
    ngx_iothub_mqtt_frame_t   f;
    ngx_iothub_mqtt_packet_t  pkt;

    (void) ngx_iothub_mqtt_frame(p, len, 0, &f);

    rc = ngx_iothub_mqtt_parse(p, len, &pkt);
    fuzz_assert(pkt.type == (u_int) (p[0] >> 4));
    fuzz_assert(ngx_iothub_mqtt_strerror(rc) != NULL);

    if (rc == NGX_IOTHUB_MQTT_BAD_LEVEL) {
        fuzz_assert(pkt.type == NGX_IOTHUB_MQTT_CONNECT);
        fuzz_inside(&pkt.u.connect.protocol, p, len);
        return;
    }

    if (rc != NGX_IOTHUB_MQTT_OK) {
        return;
    }

    switch (pkt.type) {

    case NGX_IOTHUB_MQTT_CONNECT:
        fuzz_connect(&pkt.u.connect, p, len);
        break;

    case NGX_IOTHUB_MQTT_PUBLISH:
        fuzz_publish(&pkt.u.publish, p, len, f.header_len);
        break;

    case NGX_IOTHUB_MQTT_SUBSCRIBE:
    case NGX_IOTHUB_MQTT_UNSUBSCRIBE:
        fuzz_subscribe(&pkt.u.subscribe, p, len);
        break;

    case NGX_IOTHUB_MQTT_PUBACK:
    case NGX_IOTHUB_MQTT_PUBREC:
    case NGX_IOTHUB_MQTT_PUBREL:
    case NGX_IOTHUB_MQTT_PUBCOMP:
        fuzz_assert(pkt.u.ack.packet_id != 0 && f.remaining == 2);
        break;

    default:
        fuzz_assert(pkt.type == NGX_IOTHUB_MQTT_PINGREQ
                    || pkt.type == NGX_IOTHUB_MQTT_DISCONNECT);
    }
}


static void
fuzz_inside(const ngx_iothub_mqtt_str_t *s, const u_char *p, size_t len)
{
    if (s->len == 0) {
        return;
    }

    fuzz_assert(s->data >= p && s->data + s->len <= p + len);
}


static void
fuzz_connect(const ngx_iothub_mqtt_connect_t *c, const u_char *p,
    size_t len)
{
    fuzz_assert(c->level == 4 && c->protocol.len == 4);
    fuzz_assert(c->has_username || !c->has_password);
    fuzz_assert(c->will || (c->will_qos == 0 && !c->will_retain));

    fuzz_inside(&c->client_id, p, len);
    fuzz_inside(&c->will_topic, p, len);
    fuzz_inside(&c->will_message, p, len);
    fuzz_inside(&c->username, p, len);
    fuzz_inside(&c->password, p, len);

    fuzz_assert(ngx_iothub_mqtt_utf8_valid(c->client_id.data,
                                           c->client_id.len));
}


static void
fuzz_publish(const ngx_iothub_mqtt_publish_t *pub, const u_char *p,
    size_t len, size_t header_len)
{
    size_t                     n, h;
    u_char                     buf[FUZZ_BUF];
    ngx_iothub_mqtt_publish_t  out;

    fuzz_inside(&pub->topic, p, len);
    fuzz_inside(&pub->payload, p, len);
    fuzz_assert(pub->topic.len != 0 && pub->qos <= 2);

    n = ngx_iothub_mqtt_write_publish(buf, sizeof(buf), pub);

    if (len > sizeof(buf)) {
        fuzz_assert(n == 0);
        return;
    }

    fuzz_assert(n == ngx_iothub_mqtt_publish_size(pub));
    fuzz_assert(n <= len && len - n <= header_len - 2);

    /* the shortest remaining length form gives the very same bytes */
    if (n == len) {
        fuzz_assert(memcmp(buf, p, len) == 0);
    }

    h = ngx_iothub_mqtt_publish_header_size(pub);
    fuzz_assert(h + pub->payload.len == n);

    fuzz_assert(ngx_iothub_mqtt_parse_publish(buf, n, &out)
                == NGX_IOTHUB_MQTT_OK);
    fuzz_assert(out.qos == pub->qos && out.dup == pub->dup
                && out.retain == pub->retain
                && out.packet_id == pub->packet_id);
    fuzz_assert(out.topic.len == pub->topic.len
                && memcmp(out.topic.data, pub->topic.data, out.topic.len)
                   == 0);
    fuzz_assert(out.payload.len == pub->payload.len
                && (out.payload.len == 0
                    || memcmp(out.payload.data, pub->payload.data,
                              out.payload.len) == 0));
}


static void
fuzz_subscribe(const ngx_iothub_mqtt_subscribe_t *s, const u_char *p,
    size_t len)
{
    u_int                  qos;
    size_t                 pos, n;
    u_char                 codes[FUZZ_BUF], buf[FUZZ_BUF + 8];
    ngx_iothub_mqtt_str_t  filter;

    fuzz_assert(s->count != 0 && s->packet_id != 0);

    pos = 0;
    n = 0;

    while (ngx_iothub_mqtt_subscribe_next(s, &pos, &filter, &qos)) {
        fuzz_inside(&filter, p, len);
        fuzz_assert(filter.len != 0 && qos <= 2);

        if (n < sizeof(codes)) {
            codes[n] = (u_char) (qos != 0 ? 1 : 0);
        }

        n++;
    }

    fuzz_assert(n == s->count && pos == s->entries.len);

    if (s->type == NGX_IOTHUB_MQTT_SUBSCRIBE && n <= sizeof(codes)) {
        fuzz_assert(ngx_iothub_mqtt_write_suback(buf, sizeof(buf),
                                                 s->packet_id, codes, n)
                    == ngx_iothub_mqtt_suback_size(n));
    }
}
