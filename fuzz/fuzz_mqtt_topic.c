
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * libFuzzer target for ngx_iothub_mqtt/ngx_iothub_mqtt_topic.c.  The
 * input is a topic, a user name, a filter and a property bag at once; its
 * first byte splits it into a string and a second topic for matching.
 * Besides memory errors it checks that
 *   - spans of parsed user names and topics lie inside the input;
 *   - a decoded property bag encodes and decodes back to itself;
 *   - percent-encoding and decoding round trip, an encoded id still
 *     matches the id;
 *   - builders measure what they write, the hub topics they build match
 *     the filters devices subscribe with, and valid filters behave.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ingx_iothub_mqtt \
 *       fuzz/fuzz_mqtt_topic.c ngx_iothub_mqtt/ngx_iothub_mqtt_topic.c \
 *       -o fuzz_mqtt_topic
 *   ./fuzz_mqtt_topic -max_total_time=60 corpus/
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_iothub_mqtt_topic.h"


#define FUZZ_PROPS  32
#define FUZZ_BUF    16384

#define fuzz_assert(expr)  if (!(expr)) abort()


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void fuzz_inside(const ngx_iothub_mqtt_str_t *s, const u_char *p,
    size_t len);
static void fuzz_username(const u_char *p, size_t len);
static void fuzz_pub(const u_char *p, size_t len);
static void fuzz_props(const u_char *p, size_t len);
static void fuzz_props_same(const ngx_iothub_mqtt_prop_t *a,
    const ngx_iothub_mqtt_prop_t *b, size_t n);
static void fuzz_pct(const u_char *p, size_t len);
static void fuzz_builders(const u_char *p, size_t len);
static void fuzz_filter(const u_char *p, size_t len, const u_char *t,
    size_t tlen);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t  split;

    if (size == 0 || size > FUZZ_BUF / 4) {
        return 0;
    }

    split = 1 + data[0] % size;

    fuzz_username(data + 1, size - 1);
    fuzz_pub(data + 1, size - 1);
    fuzz_props(data + 1, size - 1);
    fuzz_pct(data + 1, size - 1);
    fuzz_builders(data + 1, size - 1);
    fuzz_filter(data + 1, split - 1, data + split, size - split);

    return 0;
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
fuzz_username(const u_char *p, size_t len)
{
    ngx_iothub_mqtt_username_t  u;

    if (ngx_iothub_mqtt_parse_username(p, len, &u)
        != NGX_IOTHUB_MQTT_TOPIC_OK)
    {
        return;
    }

    fuzz_assert(u.host.len != 0 && u.device_id.len != 0);
    fuzz_assert(memchr(u.device_id.data, '/', u.device_id.len) == NULL);

    fuzz_inside(&u.host, p, len);
    fuzz_inside(&u.device_id, p, len);
    fuzz_inside(&u.module_id, p, len);
    fuzz_inside(&u.query, p, len);
    fuzz_inside(&u.api_version, p, len);
    fuzz_inside(&u.client_type, p, len);
    fuzz_inside(&u.model_id, p, len);
}


static void
fuzz_pub(const u_char *p, size_t len)
{
    ngx_iothub_mqtt_pub_t  t;
    ngx_iothub_mqtt_str_t  dev, mod;

    if (ngx_iothub_mqtt_pub_parse(p, len, &t) == NGX_IOTHUB_MQTT_PUB_UNKNOWN)
    {
        fuzz_assert(t.device_id.data == NULL && t.rid.data == NULL);
        return;
    }

    fuzz_inside(&t.device_id, p, len);
    fuzz_inside(&t.module_id, p, len);
    fuzz_inside(&t.props, p, len);
    fuzz_inside(&t.rid, p, len);
    fuzz_inside(&t.version, p, len);

    if (t.kind != NGX_IOTHUB_MQTT_PUB_TELEMETRY) {
        fuzz_assert(t.rid.data != NULL);
        return;
    }

    fuzz_assert(t.device_id.len != 0);

    /* the topic's own ids own it */
    dev = t.device_id;
    mod = t.module_id;

    fuzz_assert(ngx_iothub_mqtt_pub_owned(&t, &dev, &mod));
    fuzz_assert(!ngx_iothub_mqtt_pub_owned(&t, &dev,
                                           mod.len != 0 ? NULL : &dev));

    fuzz_props(t.props.data, t.props.len);
}


static void
fuzz_props(const u_char *p, size_t len)
{
    size_t                      n, m, blen;
    u_char                     *buf, bag[FUZZ_BUF], buf2[FUZZ_BUF];
    ngx_iothub_mqtt_prop_t      props[FUZZ_PROPS], again[FUZZ_PROPS];
    ngx_iothub_mqtt_topic_rc_e  rc;

    /* the promised size: the bag's length; ASan sees any write past it */
    buf = malloc(len != 0 ? len : 1);
    if (buf == NULL) {
        return;
    }

    rc = ngx_iothub_mqtt_props_parse(p, len, props, FUZZ_PROPS, &n, buf,
                                     len);
    fuzz_assert(rc != NGX_IOTHUB_MQTT_TOPIC_NO_SPACE);
    fuzz_assert(ngx_iothub_mqtt_topic_strerror(rc) != NULL);

    if (rc == NGX_IOTHUB_MQTT_TOPIC_OK) {
        blen = ngx_iothub_mqtt_props_encode(bag, sizeof(bag), props, n);
        fuzz_assert(blen == ngx_iothub_mqtt_props_encode(NULL, 0, props, n));

        if (blen <= sizeof(bag)) {
            fuzz_assert(memchr(bag, '/', blen) == NULL);

            rc = ngx_iothub_mqtt_props_parse(bag, blen, again, FUZZ_PROPS,
                                             &m, buf2, sizeof(buf2));
            fuzz_assert(rc == NGX_IOTHUB_MQTT_TOPIC_OK && m == n);

            fuzz_props_same(props, again, n);
        }
    }

    free(buf);
}


/* a and b hold the same properties; b may name system ones canonically */
static void
fuzz_props_same(const ngx_iothub_mqtt_prop_t *a,
    const ngx_iothub_mqtt_prop_t *b, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        fuzz_assert(a[i].sys == b[i].sys);
        fuzz_assert(a[i].key.len == b[i].key.len
                    && memcmp(a[i].key.data, b[i].key.data, a[i].key.len)
                       == 0);
        fuzz_assert((a[i].value.data == NULL) == (b[i].value.data == NULL));
        fuzz_assert(a[i].value.len == b[i].value.len
                    && (a[i].value.len == 0
                        || memcmp(a[i].value.data, b[i].value.data,
                                  a[i].value.len) == 0));
    }
}


static void
fuzz_pct(const u_char *p, size_t len)
{
    size_t  n, m;
    u_char  enc[FUZZ_BUF], dec[FUZZ_BUF];

    n = ngx_iothub_mqtt_pct_encode(enc, sizeof(enc), p, len);
    fuzz_assert(n <= sizeof(enc) && n >= len);

    fuzz_assert(ngx_iothub_mqtt_pct_decode(dec, len, enc, n, &m)
                == NGX_IOTHUB_MQTT_TOPIC_OK);
    fuzz_assert(m == len && (len == 0 || memcmp(dec, p, len) == 0));

    fuzz_assert(ngx_iothub_mqtt_id_match(enc, n, p, len));

    n = ngx_iothub_mqtt_id_encode(enc, sizeof(enc), p, len);
    fuzz_assert(n <= sizeof(enc));
    fuzz_assert(memchr(enc, '/', n) == NULL && memchr(enc, '#', n) == NULL
                && memchr(enc, '+', n) == NULL);
    fuzz_assert(ngx_iothub_mqtt_id_match(enc, n, p, len));

    /* whatever decodes, decodes into len bytes */
    (void) ngx_iothub_mqtt_pct_decode(dec, len, p, len, &m);
    fuzz_assert(m <= len);
}


static void
fuzz_builders(const u_char *p, size_t len)
{
    size_t                 n;
    u_char                 topic[FUZZ_BUF], filter[FUZZ_BUF];
    ngx_iothub_mqtt_str_t  s, dev;

    s.data = p;
    s.len = len;

    n = ngx_iothub_mqtt_method_topic(topic, sizeof(topic), &s, &s);
    fuzz_assert(n == ngx_iothub_mqtt_method_topic(NULL, 0, &s, &s));
    fuzz_assert(ngx_iothub_mqtt_filter_match(
                    (const u_char *) "$iothub/methods/POST/#", 22, topic, n));

    n = ngx_iothub_mqtt_twin_res_topic(topic, sizeof(topic), 200, &s, 3);
    fuzz_assert(n == ngx_iothub_mqtt_twin_res_topic(NULL, 0, 200, &s, 3));
    fuzz_assert(ngx_iothub_mqtt_filter_match(
                    (const u_char *) "$iothub/twin/res/#", 18, topic, n));

    if (len == 0) {
        return;
    }

    /* the id as a device would subscribe for C2D (mqtt.md 5) */
    dev.data = filter + 8;
    dev.len = ngx_iothub_mqtt_id_encode(filter + 8, 1024, p, len);

    if (dev.len > 1024) {
        return;
    }

    memcpy(filter, "devices/", 8);
    memcpy(filter + 8 + dev.len, "/messages/devicebound/#", 23);

    s.len = (len < 512) ? len : 512;

    n = ngx_iothub_mqtt_c2d_topic(topic, sizeof(topic), &s, NULL, 0);
    fuzz_assert(n <= sizeof(topic));
    fuzz_assert(n == 8 + 22 + ngx_iothub_mqtt_id_encode(NULL, 0, p, s.len));

    if (s.len == len) {
        fuzz_assert(ngx_iothub_mqtt_filter_valid(filter, 8 + dev.len + 23));
        fuzz_assert(ngx_iothub_mqtt_filter_match(filter, 8 + dev.len + 23,
                                                 topic, n));
    }
}


static void
fuzz_filter(const u_char *p, size_t len, const u_char *t, size_t tlen)
{
    int                    valid;
    u_int                  feature;
    ngx_iothub_mqtt_str_t  dev, mod;

    dev.data = (const u_char *) "dev1";
    dev.len = 4;
    mod.data = (const u_char *) "mod1";
    mod.len = 4;

    valid = ngx_iothub_mqtt_filter_valid(p, len);

    feature = ngx_iothub_mqtt_filter_feature(p, len, &dev, NULL)
              | ngx_iothub_mqtt_filter_feature(p, len, &dev, &mod);

    fuzz_assert(valid || feature == 0);

    if (!valid) {
        return;
    }

    (void) ngx_iothub_mqtt_filter_match(p, len, t, tlen);

    /* a filter without wildcards is a topic name that matches itself */
    if (memchr(p, '+', len) == NULL && memchr(p, '#', len) == NULL) {
        fuzz_assert(ngx_iothub_mqtt_filter_match(p, len, p, len));
    }
}
