
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * nginx-iothub: an Event Hubs event (a partition's stream entry) as the
 * AMQP message a receiver gets (amqp.md 10.4), encoded by hand
 * (ngx_iothub_amqp_encode.c): a pn_message_t built and encoded per event
 * cost more than the rest of its delivery.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_amqp.h"
#include "ngx_iothub_amqp_encode.h"
#include "ngx_iothub_eventhub.h"


static size_t ngx_iothub_amqp_eh_event_size(ngx_iothub_eh_event_t *ev);
static void ngx_iothub_amqp_eh_annotations(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_eh_event_t *ev);
static void ngx_iothub_amqp_eh_properties(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_eh_event_t *ev);
static void ngx_iothub_amqp_eh_application(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_eh_event_t *ev);
static ngx_int_t ngx_iothub_amqp_eh_field(const ngx_iothub_reply_str_t *name);
static int64_t ngx_iothub_amqp_eh_iso_ms(u_char *p, size_t len);


/*
 * The fields of the properties section (AMQP 1.0 part 3, 3.2.4) in their
 * order, by the names the stream entries give them (redis-schema.md);
 * subject and reply-to a device's message does not carry.
 */

static ngx_str_t  ngx_iothub_amqp_eh_fields[] = {
    ngx_string("message-id"),
    ngx_string("user-id"),
    ngx_string("to"),
    ngx_null_string,                        /* subject */
    ngx_null_string,                        /* reply-to */
    ngx_string("correlation-id"),
    ngx_string("content-type"),
    ngx_string("content-encoding"),
    ngx_string("absolute-expiry-time")
};

#define NGX_IOTHUB_AMQP_EH_USER_ID         1
#define NGX_IOTHUB_AMQP_EH_CONTENT_TYPE    6
#define NGX_IOTHUB_AMQP_EH_CONTENT_ENC     7
#define NGX_IOTHUB_AMQP_EH_EXPIRY          8
#define NGX_IOTHUB_AMQP_EH_NFIELDS                                           \
    (sizeof(ngx_iothub_amqp_eh_fields) / sizeof(ngx_str_t))


/*
 * A partition's event as an AMQP message, written straight into the
 * worker's send buffer: message annotations, properties, application
 * properties, the body as a data section.  The bytes, or NULL without
 * memory; they stay until the next send.
 */

u_char *
ngx_iothub_amqp_eh_encode(ngx_iothub_eh_event_t *ev, size_t *n)
{
    size_t                 size;
    u_char                *buf;
    ngx_iothub_amqp_enc_t  e;

    size = ngx_iothub_amqp_eh_event_size(ev);

    buf = ngx_iothub_amqp_send_buffer(size);
    if (buf == NULL) {
        return NULL;
    }

    ngx_iothub_amqp_enc_init(&e, buf, size);

    ngx_iothub_amqp_eh_annotations(&e, ev);
    ngx_iothub_amqp_eh_properties(&e, ev);
    ngx_iothub_amqp_eh_application(&e, ev);

    if (ev->message.has_body) {
        ngx_iothub_amqp_enc_section(&e, NGX_IOTHUB_AMQP_SECTION_DATA);
        ngx_iothub_amqp_enc_binary(&e, NULL, ev->message.body.data,
                                   ev->message.body.len);
    }

    if (e.failed) {
        return NULL;
    }

    *n = e.p - buf;

    return buf;
}


/* the most bytes an event's message takes */

static size_t
ngx_iothub_amqp_eh_event_size(ngx_iothub_eh_event_t *ev)
{
    size_t  i, size;

    /* sections, maps, the three annotations, the fields' nulls */
    size = 256 + ev->message.body.len;

    for (i = 0; i < ev->message.nprops; i++) {
        size += ev->message.prop[i].name.len + ev->message.prop[i].value.len
                + 2 * NGX_IOTHUB_AMQP_ENC_OVERHEAD;
    }

    return size;
}


static void
ngx_iothub_amqp_eh_annotations(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_eh_event_t *ev)
{
    size_t                             i;
    u_char                             seq_text[NGX_INT64_LEN];
    int64_t                            t;
    ngx_iothub_amqp_enc_compound_t     map;
    const ngx_iothub_reply_eh_prop_t  *p;

    ngx_iothub_amqp_enc_section(e, NGX_IOTHUB_AMQP_SECTION_ANNOTATIONS);
    ngx_iothub_amqp_enc_map(e, &map);

    ngx_iothub_amqp_enc_symbol(e, &map, "x-opt-sequence-number", 21);
    ngx_iothub_amqp_enc_long(e, &map, ev->seq);
    ngx_iothub_amqp_enc_symbol(e, &map, "x-opt-offset", 12);
    ngx_iothub_amqp_enc_string(e, &map, seq_text,
                               ngx_sprintf(seq_text, "%L", ev->seq)
                               - seq_text);
    ngx_iothub_amqp_enc_symbol(e, &map, "x-opt-enqueued-time", 19);
    ngx_iothub_amqp_enc_timestamp(e, &map, ev->ms);

    for (i = 0; i < ev->message.nprops; i++) {
        p = &ev->message.prop[i];

        if (p->kind != NGX_IOTHUB_REPLY_EH_ANNOTATION) {
            continue;
        }

        ngx_iothub_amqp_enc_symbol(e, &map, p->name.data, p->name.len);

        t = -1;

        if (p->name.len == 19
            && ngx_strncmp(p->name.data, "iothub-enqueuedtime", 19) == 0)
        {
            t = ngx_iothub_amqp_eh_iso_ms((u_char *) p->value.data,
                                          p->value.len);
        }

        if (t >= 0) {
            ngx_iothub_amqp_enc_timestamp(e, &map, t);

        } else {
            ngx_iothub_amqp_enc_string(e, &map, p->value.data, p->value.len);
        }
    }

    ngx_iothub_amqp_enc_close(e, &map);
}


/* the device's message properties, up to the last one it has */

static void
ngx_iothub_amqp_eh_properties(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_eh_event_t *ev)
{
    size_t                             i, n;
    int64_t                            t, expiry;
    ngx_int_t                          f;
    ngx_iothub_amqp_enc_compound_t     list;
    const ngx_iothub_reply_str_t      *v;
    const ngx_iothub_reply_str_t      *field[NGX_IOTHUB_AMQP_EH_NFIELDS];
    const ngx_iothub_reply_eh_prop_t  *p;

    ngx_memzero(field, sizeof(field));
    expiry = -1;
    n = 0;

    for (i = 0; i < ev->message.nprops; i++) {
        p = &ev->message.prop[i];

        if (p->kind != NGX_IOTHUB_REPLY_EH_SYSTEM) {
            continue;
        }

        f = ngx_iothub_amqp_eh_field(&p->name);

        if (f == NGX_IOTHUB_AMQP_EH_EXPIRY) {
            /* AMQP devices: ms since the epoch; MQTT ones: ISO 8601 text */
            t = ngx_atoof((u_char *) p->value.data, p->value.len);

            if (t == NGX_ERROR) {
                t = ngx_iothub_amqp_eh_iso_ms((u_char *) p->value.data,
                                              p->value.len);
            }

            if (t < 0) {
                continue;
            }

            expiry = t;
        }

        if (f != NGX_ERROR) {
            field[f] = &p->value;
            n = ngx_max(n, (size_t) f + 1);
        }
    }

    if (n == 0) {
        return;
    }

    ngx_iothub_amqp_enc_section(e, NGX_IOTHUB_AMQP_SECTION_PROPERTIES);
    ngx_iothub_amqp_enc_list(e, &list);

    for (i = 0; i < n; i++) {
        v = field[i];

        if (v == NULL) {
            ngx_iothub_amqp_enc_null(e, &list);

        } else if (i == NGX_IOTHUB_AMQP_EH_USER_ID) {
            ngx_iothub_amqp_enc_binary(e, &list, v->data, v->len);

        } else if (i == NGX_IOTHUB_AMQP_EH_CONTENT_TYPE
                   || i == NGX_IOTHUB_AMQP_EH_CONTENT_ENC)
        {
            ngx_iothub_amqp_enc_symbol(e, &list, v->data, v->len);

        } else if (i == NGX_IOTHUB_AMQP_EH_EXPIRY) {
            ngx_iothub_amqp_enc_timestamp(e, &list, expiry);

        } else {
            ngx_iothub_amqp_enc_string(e, &list, v->data, v->len);
        }
    }

    ngx_iothub_amqp_enc_close(e, &list);
}


static void
ngx_iothub_amqp_eh_application(ngx_iothub_amqp_enc_t *e,
    ngx_iothub_eh_event_t *ev)
{
    size_t                             i;
    ngx_iothub_amqp_enc_compound_t     map;
    const ngx_iothub_reply_eh_prop_t  *p;

    ngx_iothub_amqp_enc_section(e, NGX_IOTHUB_AMQP_SECTION_APPLICATION);
    ngx_iothub_amqp_enc_map(e, &map);

    for (i = 0; i < ev->message.nprops; i++) {
        p = &ev->message.prop[i];

        if (p->kind == NGX_IOTHUB_REPLY_EH_APPLICATION) {
            ngx_iothub_amqp_enc_string(e, &map, p->name.data, p->name.len);
            ngx_iothub_amqp_enc_string(e, &map, p->value.data, p->value.len);
        }
    }

    ngx_iothub_amqp_enc_close(e, &map);
}


/* a system property's field in the properties section, or NGX_ERROR */

static ngx_int_t
ngx_iothub_amqp_eh_field(const ngx_iothub_reply_str_t *name)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_IOTHUB_AMQP_EH_NFIELDS; i++) {
        if (ngx_iothub_amqp_eh_fields[i].len == name->len
            && name->len != 0
            && ngx_strncmp(ngx_iothub_amqp_eh_fields[i].data, name->data,
                           name->len) == 0)
        {
            return i;
        }
    }

    return NGX_ERROR;
}


/* "YYYY-MM-DDTHH:MM:SS[.fff...]Z" as ms since the epoch, or -1 */

static int64_t
ngx_iothub_amqp_eh_iso_ms(u_char *p, size_t len)
{
    int64_t     y, mo, d, h, mi, s, frac, scale, days;
    ngx_uint_t  i;

    if (len < 20 || p[4] != '-' || p[7] != '-' || (p[10] != 'T'
        && p[10] != ' ') || p[13] != ':' || p[16] != ':')
    {
        return -1;
    }

    y = ngx_atoof(p, 4);
    mo = ngx_atoof(p + 5, 2);
    d = ngx_atoof(p + 8, 2);
    h = ngx_atoof(p + 11, 2);
    mi = ngx_atoof(p + 14, 2);
    s = ngx_atoof(p + 17, 2);

    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23
        || mi < 0 || mi > 59 || s < 0 || s > 60)
    {
        return -1;
    }

    frac = 0;
    scale = 1000;
    i = 19;

    if (i < len && p[i] == '.') {
        for (i++; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
            if (scale > 1) {
                scale /= 10;
                frac += (p[i] - '0') * scale;
            }
        }
    }

    if (i + 1 != len || p[i] != 'Z') {
        return -1;
    }

    /* days from the civil date (H. Hinnant's algorithm) */

    y -= (mo <= 2);
    days = (y / 400) * 146097
           + ((y % 400) * 365 + (y % 400) / 4 - (y % 400) / 100)
           + (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
           - 719468;

    return ((days * 24 + h) * 60 + mi) * 60000 + s * 1000 + frac;
}
