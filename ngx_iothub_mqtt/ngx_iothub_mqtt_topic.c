
/*
 * Copyright (C) nginx-iothub authors
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "ngx_iothub_mqtt_topic.h"


#define ngx_iothub_mqtt_is_alnum(c)                                           \
    (((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z')                 \
     || ((c) >= '0' && (c) <= '9'))

#define ngx_iothub_mqtt_lc(c)                                                 \
    (u_char) (((c) >= 'A' && (c) <= 'Z') ? ((c) | 0x20) : (c))


/* the identity-independent filters of mqtt.md 3 */
typedef struct {
    const char            *filter;
    u_int                  feature;
} ngx_iothub_mqtt_hub_filter_t;


/* a builder's output: len counts everything, at most size bytes land */
typedef struct {
    u_char                *buf;
    size_t                 size;
    size_t                 len;
} ngx_iothub_mqtt_out_t;


static ngx_iothub_mqtt_topic_rc_e ngx_iothub_mqtt_username_path(
    ngx_iothub_mqtt_username_t *u, const u_char *p, const u_char *last);
static void ngx_iothub_mqtt_username_query(ngx_iothub_mqtt_username_t *u);
static ngx_iothub_mqtt_pub_e ngx_iothub_mqtt_pub_telemetry(
    ngx_iothub_mqtt_pub_t *t, const u_char *p, const u_char *last);
static ngx_iothub_mqtt_pub_e ngx_iothub_mqtt_pub_twin(
    ngx_iothub_mqtt_pub_t *t, ngx_iothub_mqtt_pub_e kind, const u_char *p,
    const u_char *last);
static ngx_iothub_mqtt_pub_e ngx_iothub_mqtt_pub_method(
    ngx_iothub_mqtt_pub_t *t, const u_char *p, const u_char *last);
static int ngx_iothub_mqtt_status(const u_char *p, size_t len, int *status);
static int ngx_iothub_mqtt_query_get(const u_char *p, const u_char *last,
    const char *name, ngx_iothub_mqtt_str_t *value);
static int ngx_iothub_mqtt_skip(const u_char **p, const u_char *last,
    const char *s);
static int ngx_iothub_mqtt_segment(const u_char **p, const u_char *last,
    ngx_iothub_mqtt_str_t *seg);
static int ngx_iothub_mqtt_is(const u_char *p, const u_char *last,
    const char *s);
static int ngx_iothub_mqtt_name_eq(const u_char *p, const u_char *last,
    const char *s);
static int ngx_iothub_mqtt_starts_ci(const u_char *p, const u_char *last,
    const char *s);
static int ngx_iothub_mqtt_has_id(const ngx_iothub_mqtt_str_t *id);
static ngx_iothub_mqtt_topic_rc_e ngx_iothub_mqtt_props_pair(
    ngx_iothub_mqtt_prop_t *prop, const u_char *p, const u_char *end,
    u_char *buf, size_t size, size_t *used);
static ngx_iothub_mqtt_topic_rc_e ngx_iothub_mqtt_decode_text(
    ngx_iothub_mqtt_str_t *out, const u_char *src, size_t len, u_char *buf,
    size_t size, size_t *used);
static int ngx_iothub_mqtt_pct_equal(const u_char *enc, size_t enc_len,
    const u_char *plain, size_t plain_len);
static int ngx_iothub_mqtt_hex(u_char c);
static int ngx_iothub_mqtt_text_valid(const u_char *p, size_t len);
static void ngx_iothub_mqtt_out_init(ngx_iothub_mqtt_out_t *out,
    u_char *buf, size_t size);
static void ngx_iothub_mqtt_out_raw(ngx_iothub_mqtt_out_t *out,
    const u_char *p, size_t len);
static void ngx_iothub_mqtt_out_str(ngx_iothub_mqtt_out_t *out,
    const char *s);
static void ngx_iothub_mqtt_out_pct(ngx_iothub_mqtt_out_t *out,
    const u_char *p, size_t len, int id);
static void ngx_iothub_mqtt_out_number(ngx_iothub_mqtt_out_t *out,
    long long v);
static void ngx_iothub_mqtt_out_props(ngx_iothub_mqtt_out_t *out,
    const ngx_iothub_mqtt_prop_t *props, size_t n);


/* indexed by ngx_iothub_mqtt_prop_e */
static const char  *ngx_iothub_mqtt_prop_names[] = {
    NULL,
    "$.mid",
    "$.cid",
    "$.uid",
    "$.to",
    "$.ct",
    "$.ce",
    "$.exp",
    "$.on",
    "$.ifid",
    "$.sub",
    "$.ctime",
    "$.diagid",
    "$.diagctx",
    "$.cdid",
    "$.cmid",
    NULL
};

#define NGX_IOTHUB_MQTT_NPROPS                                                \
    (sizeof(ngx_iothub_mqtt_prop_names) / sizeof(const char *))

static const ngx_iothub_mqtt_hub_filter_t  ngx_iothub_mqtt_hub_filters[] = {
    { "$iothub/twin/res/#", NGX_IOTHUB_FEATURE_TWIN_RES },
    { "$iothub/twin/PATCH/properties/desired/#",
      NGX_IOTHUB_FEATURE_DESIRED },
    { "$iothub/methods/POST/#", NGX_IOTHUB_FEATURE_METHODS }
};

#define NGX_IOTHUB_MQTT_NHUB_FILTERS                                          \
    (sizeof(ngx_iothub_mqtt_hub_filters)                                     \
     / sizeof(ngx_iothub_mqtt_hub_filter_t))

/* encodeURIComponent leaves these and ASCII letters and digits alone */
static const char  ngx_iothub_mqtt_unreserved[] = "-_.!~*'()";

static const char  ngx_iothub_mqtt_hex_upper[] = "0123456789ABCDEF";


ngx_iothub_mqtt_topic_rc_e
ngx_iothub_mqtt_parse_username(const u_char *p, size_t len,
    ngx_iothub_mqtt_username_t *u)
{
    ngx_iothub_mqtt_topic_rc_e  rc;

    memset(u, 0, sizeof(ngx_iothub_mqtt_username_t));

    if (p == NULL || len == 0) {
        return NGX_IOTHUB_MQTT_TOPIC_MALFORMED;
    }

    rc = ngx_iothub_mqtt_username_path(u, p, p + len);
    if (rc != NGX_IOTHUB_MQTT_TOPIC_OK) {
        return rc;
    }

    ngx_iothub_mqtt_username_query(u);

    return NGX_IOTHUB_MQTT_TOPIC_OK;
}


/* auth.md 6.1: "<host>/<deviceId>[/<moduleId>]" up to the query */
static ngx_iothub_mqtt_topic_rc_e
ngx_iothub_mqtt_username_path(ngx_iothub_mqtt_username_t *u,
    const u_char *p, const u_char *last)
{
    size_t                  n;
    const u_char           *end;
    ngx_iothub_mqtt_str_t  *segs[3];

    segs[0] = &u->host;
    segs[1] = &u->device_id;
    segs[2] = &u->module_id;

    /* p is at the start of a segment; last may end an empty one */
    for (n = 0; p != last; n++) {

        if (*p == '?' || ngx_iothub_mqtt_starts_ci(p, last, "api-version=")) {
            u->query.data = (*p == '?') ? p + 1 : p;
            u->query.len = last - u->query.data;
            break;
        }

        end = memchr(p, '/', last - p);
        if (end == NULL) {
            end = last;
        }

        if (end == p || n == 3) {
            return NGX_IOTHUB_MQTT_TOPIC_MALFORMED;
        }

        segs[n]->data = p;
        segs[n]->len = end - p;

        if (end == last) {
            n++;
            break;
        }

        p = end + 1;
    }

    return (n >= 2) ? NGX_IOTHUB_MQTT_TOPIC_OK
                    : NGX_IOTHUB_MQTT_TOPIC_MALFORMED;
}




/* the pairs of auth.md 6.1, raw; names ASCII case-insensitive */
static void
ngx_iothub_mqtt_username_query(ngx_iothub_mqtt_username_t *u)
{
    const u_char           *p, *last, *end, *eq;
    ngx_iothub_mqtt_str_t  *v;

    if (u->query.data == NULL) {
        return;
    }

    p = u->query.data;
    last = p + u->query.len;

    while (p != last) {
        end = memchr(p, '&', last - p);
        if (end == NULL) {
            end = last;
        }

        eq = memchr(p, '=', end - p);
        v = NULL;

        if (eq == NULL) {
            /* a bare name carries nothing we keep */

        } else if (ngx_iothub_mqtt_name_eq(p, eq, "api-version")) {
            v = &u->api_version;

        } else if (ngx_iothub_mqtt_name_eq(p, eq, "DeviceClientType")) {
            v = &u->client_type;

        } else if (ngx_iothub_mqtt_name_eq(p, eq, "model-id")) {
            v = &u->model_id;
        }

        if (v != NULL && v->data == NULL) {
            v->data = eq + 1;
            v->len = end - eq - 1;
        }

        if (end == last) {
            break;
        }

        p = end + 1;
    }
}


ngx_iothub_mqtt_pub_e
ngx_iothub_mqtt_pub_parse(const u_char *topic, size_t len,
    ngx_iothub_mqtt_pub_t *t)
{
    const u_char  *p, *last;

    memset(t, 0, sizeof(ngx_iothub_mqtt_pub_t));

    if (topic == NULL) {
        return NGX_IOTHUB_MQTT_PUB_UNKNOWN;
    }

    p = topic;
    last = topic + len;

    if (ngx_iothub_mqtt_skip(&p, last, "devices/")) {
        t->kind = ngx_iothub_mqtt_pub_telemetry(t, p, last);

    } else if (ngx_iothub_mqtt_skip(&p, last, "$iothub/twin/GET/")) {
        t->kind = ngx_iothub_mqtt_pub_twin(t, NGX_IOTHUB_MQTT_PUB_TWIN_GET,
                                           p, last);

    } else if (ngx_iothub_mqtt_skip(&p, last,
                                    "$iothub/twin/PATCH/properties/reported/"))
    {
        t->kind = ngx_iothub_mqtt_pub_twin(t,
                                           NGX_IOTHUB_MQTT_PUB_TWIN_REPORTED,
                                           p, last);

    } else if (ngx_iothub_mqtt_skip(&p, last, "$iothub/methods/res/")) {
        t->kind = ngx_iothub_mqtt_pub_method(t, p, last);
    }

    if (t->kind == NGX_IOTHUB_MQTT_PUB_UNKNOWN) {
        memset(t, 0, sizeof(ngx_iothub_mqtt_pub_t));
    }

    return t->kind;
}


/* mqtt.md 4: p follows "devices/" */
static ngx_iothub_mqtt_pub_e
ngx_iothub_mqtt_pub_telemetry(ngx_iothub_mqtt_pub_t *t, const u_char *p,
    const u_char *last)
{
    if (!ngx_iothub_mqtt_segment(&p, last, &t->device_id)) {
        return NGX_IOTHUB_MQTT_PUB_UNKNOWN;
    }

    if (ngx_iothub_mqtt_skip(&p, last, "modules/")
        && !ngx_iothub_mqtt_segment(&p, last, &t->module_id))
    {
        return NGX_IOTHUB_MQTT_PUB_UNKNOWN;
    }

    if (!ngx_iothub_mqtt_skip(&p, last, "messages/events")) {
        return NGX_IOTHUB_MQTT_PUB_UNKNOWN;
    }

    /* the old form without the final "/" has no bag */
    if (p == last) {
        t->props.data = p;
        return NGX_IOTHUB_MQTT_PUB_TELEMETRY;
    }

    if (*p++ != '/') {
        return NGX_IOTHUB_MQTT_PUB_UNKNOWN;
    }

    /* Node's sendOutputEvent appends one "/" after the bag */
    if (p != last && last[-1] == '/') {
        last--;
    }

    t->props.data = p;
    t->props.len = last - p;

    return NGX_IOTHUB_MQTT_PUB_TELEMETRY;
}


/* mqtt.md 6, 7: p follows the "GET/" or "reported/" of the topic */
static ngx_iothub_mqtt_pub_e
ngx_iothub_mqtt_pub_twin(ngx_iothub_mqtt_pub_t *t, ngx_iothub_mqtt_pub_e kind,
    const u_char *p, const u_char *last)
{
    if (!ngx_iothub_mqtt_skip(&p, last, "?")
        || !ngx_iothub_mqtt_query_get(p, last, "$rid", &t->rid))
    {
        return NGX_IOTHUB_MQTT_PUB_UNKNOWN;
    }

    if (kind == NGX_IOTHUB_MQTT_PUB_TWIN_REPORTED) {
        (void) ngx_iothub_mqtt_query_get(p, last, "$version", &t->version);
    }

    return kind;
}


/* mqtt.md 8: p follows "$iothub/methods/res/" */
static ngx_iothub_mqtt_pub_e
ngx_iothub_mqtt_pub_method(ngx_iothub_mqtt_pub_t *t, const u_char *p,
    const u_char *last)
{
    ngx_iothub_mqtt_str_t  status;

    if (!ngx_iothub_mqtt_segment(&p, last, &status)
        || !ngx_iothub_mqtt_status(status.data, status.len, &t->status)
        || !ngx_iothub_mqtt_skip(&p, last, "?")
        || !ngx_iothub_mqtt_query_get(p, last, "$rid", &t->rid))
    {
        return NGX_IOTHUB_MQTT_PUB_UNKNOWN;
    }

    return NGX_IOTHUB_MQTT_PUB_METHOD_RES;
}


/* an optional "-" and 1..9 decimal digits */
static int
ngx_iothub_mqtt_status(const u_char *p, size_t len, int *status)
{
    int     v, sign;
    size_t  i;

    sign = 1;

    if (len != 0 && p[0] == '-') {
        sign = -1;
        p++;
        len--;
    }

    if (len == 0 || len > 9) {
        return 0;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }

        v = v * 10 + (p[i] - '0');
    }

    *status = sign * v;

    return 1;
}


/*
 * The raw value of the first "name=value" pair of the query [p, last)
 * whose percent-decoded name is name; a name without "=" does not count.
 */
static int
ngx_iothub_mqtt_query_get(const u_char *p, const u_char *last,
    const char *name, ngx_iothub_mqtt_str_t *value)
{
    const u_char  *end, *eq;

    for ( ;; ) {
        end = memchr(p, '&', last - p);
        if (end == NULL) {
            end = last;
        }

        eq = memchr(p, '=', end - p);

        if (eq != NULL
            && ngx_iothub_mqtt_pct_equal(p, eq - p, (const u_char *) name,
                                         strlen(name)))
        {
            value->data = eq + 1;
            value->len = end - eq - 1;
            return 1;
        }

        if (end == last) {
            return 0;
        }

        p = end + 1;
    }
}


int
ngx_iothub_mqtt_pub_owned(const ngx_iothub_mqtt_pub_t *t,
    const ngx_iothub_mqtt_str_t *device, const ngx_iothub_mqtt_str_t *module)
{
    switch (t->kind) {

    case NGX_IOTHUB_MQTT_PUB_TWIN_GET:
    case NGX_IOTHUB_MQTT_PUB_TWIN_REPORTED:
    case NGX_IOTHUB_MQTT_PUB_METHOD_RES:
        /* the identity comes from the connection, mqtt.md 3 */
        return 1;

    case NGX_IOTHUB_MQTT_PUB_TELEMETRY:
        break;

    default:
        return 0;
    }

    if (!ngx_iothub_mqtt_has_id(device)
        || !ngx_iothub_mqtt_id_match(t->device_id.data, t->device_id.len,
                                     device->data, device->len))
    {
        return 0;
    }

    if (!ngx_iothub_mqtt_has_id(module)) {
        return t->module_id.len == 0;
    }

    return ngx_iothub_mqtt_id_match(t->module_id.data, t->module_id.len,
                                    module->data, module->len);
}


ngx_iothub_mqtt_topic_rc_e
ngx_iothub_mqtt_props_parse(const u_char *bag, size_t len,
    ngx_iothub_mqtt_prop_t *props, size_t max, size_t *n, u_char *buf,
    size_t size)
{
    size_t                      used;
    const u_char               *p, *last, *end;
    ngx_iothub_mqtt_topic_rc_e  rc;

    *n = 0;
    used = 0;

    if (bag == NULL || len == 0) {
        return NGX_IOTHUB_MQTT_TOPIC_OK;
    }

    if (buf == NULL) {
        return NGX_IOTHUB_MQTT_TOPIC_NO_SPACE;
    }

    p = bag;
    last = bag + len;

    for ( ;; ) {
        end = memchr(p, '&', last - p);
        if (end == NULL) {
            end = last;
        }

        /* "&&" and a trailing "&" hold no pair */
        if (end != p) {
            if (*n == max) {
                return NGX_IOTHUB_MQTT_TOPIC_TOO_MANY;
            }

            rc = ngx_iothub_mqtt_props_pair(&props[*n], p, end, buf, size,
                                            &used);
            if (rc != NGX_IOTHUB_MQTT_TOPIC_OK) {
                return rc;
            }

            (*n)++;
        }

        if (end == last) {
            return NGX_IOTHUB_MQTT_TOPIC_OK;
        }

        p = end + 1;
    }
}


static ngx_iothub_mqtt_topic_rc_e
ngx_iothub_mqtt_props_pair(ngx_iothub_mqtt_prop_t *prop, const u_char *p,
    const u_char *end, u_char *buf, size_t size, size_t *used)
{
    const u_char               *eq;
    ngx_iothub_mqtt_topic_rc_e  rc;

    memset(prop, 0, sizeof(ngx_iothub_mqtt_prop_t));

    eq = memchr(p, '=', end - p);

    if (eq == p) {
        return NGX_IOTHUB_MQTT_TOPIC_MALFORMED;
    }

    rc = ngx_iothub_mqtt_decode_text(&prop->key, p,
                                     (eq != NULL ? eq : end) - p, buf, size,
                                     used);
    if (rc != NGX_IOTHUB_MQTT_TOPIC_OK) {
        return rc;
    }

    prop->sys = ngx_iothub_mqtt_prop_classify(prop->key.data, prop->key.len);

    if (eq == NULL) {
        /* mqtt.md 4: a name without "=" has a null value */
        return NGX_IOTHUB_MQTT_TOPIC_OK;
    }

    return ngx_iothub_mqtt_decode_text(&prop->value, eq + 1, end - eq - 1,
                                       buf, size, used);
}


/* percent-decodes src to buf + *used; UTF-8 without NUL */
static ngx_iothub_mqtt_topic_rc_e
ngx_iothub_mqtt_decode_text(ngx_iothub_mqtt_str_t *out, const u_char *src,
    size_t len, u_char *buf, size_t size, size_t *used)
{
    size_t                      n;
    ngx_iothub_mqtt_topic_rc_e  rc;

    rc = ngx_iothub_mqtt_pct_decode(buf + *used, size - *used, src, len, &n);
    if (rc != NGX_IOTHUB_MQTT_TOPIC_OK) {
        return rc;
    }

    if (!ngx_iothub_mqtt_text_valid(buf + *used, n)) {
        return NGX_IOTHUB_MQTT_TOPIC_BAD_UTF8;
    }

    out->data = buf + *used;
    out->len = n;
    *used += n;

    return NGX_IOTHUB_MQTT_TOPIC_OK;
}


ngx_iothub_mqtt_prop_e
ngx_iothub_mqtt_prop_classify(const u_char *key, size_t len)
{
    size_t  i;

    if (len < 2 || key[0] != '$' || key[1] != '.') {
        return NGX_IOTHUB_MQTT_PROP_APP;
    }

    for (i = 1; i < NGX_IOTHUB_MQTT_NPROPS - 1; i++) {
        if (strlen(ngx_iothub_mqtt_prop_names[i]) == len
            && memcmp(ngx_iothub_mqtt_prop_names[i], key, len) == 0)
        {
            return (ngx_iothub_mqtt_prop_e) i;
        }
    }

    return NGX_IOTHUB_MQTT_PROP_SYS_OTHER;
}


const char *
ngx_iothub_mqtt_prop_name(ngx_iothub_mqtt_prop_e sys)
{
    if ((size_t) sys >= NGX_IOTHUB_MQTT_NPROPS) {
        return NULL;
    }

    return ngx_iothub_mqtt_prop_names[sys];
}


size_t
ngx_iothub_mqtt_props_encode(u_char *buf, size_t size,
    const ngx_iothub_mqtt_prop_t *props, size_t n)
{
    ngx_iothub_mqtt_out_t  out;

    ngx_iothub_mqtt_out_init(&out, buf, size);
    ngx_iothub_mqtt_out_props(&out, props, n);

    return out.len;
}


size_t
ngx_iothub_mqtt_c2d_topic(u_char *buf, size_t size,
    const ngx_iothub_mqtt_str_t *device, const ngx_iothub_mqtt_prop_t *props,
    size_t n)
{
    ngx_iothub_mqtt_out_t  out;

    ngx_iothub_mqtt_out_init(&out, buf, size);

    ngx_iothub_mqtt_out_str(&out, "devices/");
    ngx_iothub_mqtt_out_pct(&out, device->data, device->len, 1);
    ngx_iothub_mqtt_out_str(&out, "/messages/devicebound/");
    ngx_iothub_mqtt_out_props(&out, props, n);

    return out.len;
}


size_t
ngx_iothub_mqtt_input_topic(u_char *buf, size_t size,
    const ngx_iothub_mqtt_str_t *device, const ngx_iothub_mqtt_str_t *module,
    const ngx_iothub_mqtt_str_t *input, const ngx_iothub_mqtt_prop_t *props,
    size_t n)
{
    ngx_iothub_mqtt_out_t  out;

    ngx_iothub_mqtt_out_init(&out, buf, size);

    ngx_iothub_mqtt_out_str(&out, "devices/");
    ngx_iothub_mqtt_out_pct(&out, device->data, device->len, 1);
    ngx_iothub_mqtt_out_str(&out, "/modules/");
    ngx_iothub_mqtt_out_pct(&out, module->data, module->len, 1);
    ngx_iothub_mqtt_out_str(&out, "/inputs/");
    ngx_iothub_mqtt_out_pct(&out, input->data, input->len, 0);
    ngx_iothub_mqtt_out_str(&out, "/");
    ngx_iothub_mqtt_out_props(&out, props, n);

    return out.len;
}


size_t
ngx_iothub_mqtt_twin_res_topic(u_char *buf, size_t size, u_int status,
    const ngx_iothub_mqtt_str_t *rid, long long version)
{
    ngx_iothub_mqtt_out_t  out;

    ngx_iothub_mqtt_out_init(&out, buf, size);

    ngx_iothub_mqtt_out_str(&out, "$iothub/twin/res/");
    ngx_iothub_mqtt_out_number(&out, status);
    ngx_iothub_mqtt_out_str(&out, "/?$rid=");
    ngx_iothub_mqtt_out_raw(&out, rid->data, rid->len);

    if (version >= 0) {
        ngx_iothub_mqtt_out_str(&out, "&$version=");
        ngx_iothub_mqtt_out_number(&out, version);
    }

    return out.len;
}


size_t
ngx_iothub_mqtt_twin_desired_topic(u_char *buf, size_t size,
    long long version)
{
    ngx_iothub_mqtt_out_t  out;

    ngx_iothub_mqtt_out_init(&out, buf, size);

    ngx_iothub_mqtt_out_str(&out, "$iothub/twin/PATCH/properties/desired/");
    ngx_iothub_mqtt_out_str(&out, "?$version=");
    ngx_iothub_mqtt_out_number(&out, version);

    return out.len;
}


size_t
ngx_iothub_mqtt_method_topic(u_char *buf, size_t size,
    const ngx_iothub_mqtt_str_t *name, const ngx_iothub_mqtt_str_t *rid)
{
    ngx_iothub_mqtt_out_t  out;

    ngx_iothub_mqtt_out_init(&out, buf, size);

    ngx_iothub_mqtt_out_str(&out, "$iothub/methods/POST/");
    ngx_iothub_mqtt_out_pct(&out, name->data, name->len, 0);
    ngx_iothub_mqtt_out_str(&out, "/?$rid=");
    ngx_iothub_mqtt_out_pct(&out, rid->data, rid->len, 0);

    return out.len;
}


int
ngx_iothub_mqtt_filter_valid(const u_char *f, size_t len)
{
    size_t  i;

    if (f == NULL || len == 0) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        switch (f[i]) {

        case '\0':
            return 0;

        case '#':
            /* MQTT-4.7.1-2 */
            if (i != len - 1 || (i != 0 && f[i - 1] != '/')) {
                return 0;
            }

            break;

        case '+':
            /* MQTT-4.7.1-3 */
            if ((i != 0 && f[i - 1] != '/')
                || (i != len - 1 && f[i + 1] != '/'))
            {
                return 0;
            }

            break;
        }
    }

    return 1;
}


int
ngx_iothub_mqtt_filter_match(const u_char *f, size_t flen,
    const u_char *topic, size_t tlen)
{
    const u_char  *fp, *flast, *fe, *tp, *tlast, *te;

    if (flen == 0 || tlen == 0) {
        return 0;
    }

    /* MQTT-4.7.2-1 */
    if (topic[0] == '$' && (f[0] == '+' || f[0] == '#')) {
        return 0;
    }

    fp = f;
    flast = f + flen;
    tp = topic;
    tlast = topic + tlen;

    /* fp and tp are at the start of a level */
    for ( ;; ) {
        if (fp != flast && *fp == '#') {
            return 1;
        }

        fe = memchr(fp, '/', flast - fp);
        fe = (fe != NULL) ? fe : flast;
        te = memchr(tp, '/', tlast - tp);
        te = (te != NULL) ? te : tlast;

        if (!(fe - fp == 1 && *fp == '+')
            && (fe - fp != te - tp || memcmp(fp, tp, fe - fp) != 0))
        {
            return 0;
        }

        if (fe == flast || te == tlast) {
            /* "a/#" also matches "a", MQTT 4.7.1.2 */
            return (fe == flast && te == tlast)
                   || (te == tlast && flast - fe == 2 && fe[1] == '#');
        }

        fp = fe + 1;
        tp = te + 1;
    }
}


u_int
ngx_iothub_mqtt_filter_feature(const u_char *f, size_t len,
    const ngx_iothub_mqtt_str_t *device, const ngx_iothub_mqtt_str_t *module)
{
    size_t                               i;
    const u_char                        *p, *last;
    ngx_iothub_mqtt_str_t                seg;
    const ngx_iothub_mqtt_hub_filter_t  *hf;

    if (!ngx_iothub_mqtt_filter_valid(f, len)) {
        return 0;
    }

    p = f;
    last = f + len;

    for (i = 0; i < NGX_IOTHUB_MQTT_NHUB_FILTERS; i++) {
        hf = &ngx_iothub_mqtt_hub_filters[i];

        if (ngx_iothub_mqtt_is(p, last, hf->filter)) {
            return hf->feature;
        }
    }

    if (!ngx_iothub_mqtt_skip(&p, last, "devices/")
        || !ngx_iothub_mqtt_segment(&p, last, &seg)
        || !ngx_iothub_mqtt_has_id(device)
        || !ngx_iothub_mqtt_id_match(seg.data, seg.len, device->data,
                                     device->len))
    {
        return 0;
    }

    if (!ngx_iothub_mqtt_has_id(module)) {
        return ngx_iothub_mqtt_is(p, last, "messages/devicebound/#")
               ? NGX_IOTHUB_FEATURE_C2D : 0;
    }

    if (!ngx_iothub_mqtt_skip(&p, last, "modules/")
        || !ngx_iothub_mqtt_segment(&p, last, &seg)
        || !ngx_iothub_mqtt_id_match(seg.data, seg.len, module->data,
                                     module->len))
    {
        return 0;
    }

    /* Node and Python ".../inputs/#", C and the docs ".../{m}/#" */
    return (ngx_iothub_mqtt_is(p, last, "inputs/#")
            || ngx_iothub_mqtt_is(p, last, "#"))
           ? NGX_IOTHUB_FEATURE_INPUTS : 0;
}


int
ngx_iothub_mqtt_id_match(const u_char *seg, size_t seg_len, const u_char *id,
    size_t id_len)
{
    if (seg_len == id_len && memcmp(seg, id, id_len) == 0) {
        return 1;
    }

    return ngx_iothub_mqtt_pct_equal(seg, seg_len, id, id_len);
}


size_t
ngx_iothub_mqtt_id_encode(u_char *buf, size_t size, const u_char *id,
    size_t len)
{
    ngx_iothub_mqtt_out_t  out;

    ngx_iothub_mqtt_out_init(&out, buf, size);
    ngx_iothub_mqtt_out_pct(&out, id, len, 1);

    return out.len;
}


size_t
ngx_iothub_mqtt_pct_encode(u_char *buf, size_t size, const u_char *src,
    size_t len)
{
    ngx_iothub_mqtt_out_t  out;

    ngx_iothub_mqtt_out_init(&out, buf, size);
    ngx_iothub_mqtt_out_pct(&out, src, len, 0);

    return out.len;
}


ngx_iothub_mqtt_topic_rc_e
ngx_iothub_mqtt_pct_decode(u_char *buf, size_t size, const u_char *src,
    size_t len, size_t *n)
{
    int     hi, lo;
    size_t  i;

    *n = 0;

    for (i = 0; i < len; i++) {
        if (*n == size) {
            return NGX_IOTHUB_MQTT_TOPIC_NO_SPACE;
        }

        if (src[i] != '%') {
            buf[(*n)++] = src[i];
            continue;
        }

        hi = (len - i > 2) ? ngx_iothub_mqtt_hex(src[i + 1]) : -1;
        lo = (hi >= 0) ? ngx_iothub_mqtt_hex(src[i + 2]) : -1;

        if (lo < 0) {
            return NGX_IOTHUB_MQTT_TOPIC_BAD_ESCAPE;
        }

        buf[(*n)++] = (u_char) ((hi << 4) | lo);
        i += 2;
    }

    return NGX_IOTHUB_MQTT_TOPIC_OK;
}


const char *
ngx_iothub_mqtt_topic_strerror(ngx_iothub_mqtt_topic_rc_e rc)
{
    switch (rc) {

    case NGX_IOTHUB_MQTT_TOPIC_OK:
        return "ok";

    case NGX_IOTHUB_MQTT_TOPIC_MALFORMED:
        return "malformed";

    case NGX_IOTHUB_MQTT_TOPIC_BAD_ESCAPE:
        return "invalid percent escape";

    case NGX_IOTHUB_MQTT_TOPIC_BAD_UTF8:
        return "invalid utf-8 after decoding";

    case NGX_IOTHUB_MQTT_TOPIC_TOO_MANY:
        return "too many properties";

    case NGX_IOTHUB_MQTT_TOPIC_NO_SPACE:
        return "buffer too small";
    }

    return "unknown error";
}


/* advances *p past the literal s when [*p, last) starts with it */
static int
ngx_iothub_mqtt_skip(const u_char **p, const u_char *last, const char *s)
{
    size_t  n;

    n = strlen(s);

    if ((size_t) (last - *p) < n || memcmp(*p, s, n) != 0) {
        return 0;
    }

    *p += n;

    return 1;
}


/* a non-empty level followed by "/"; *p moves past the "/" */
static int
ngx_iothub_mqtt_segment(const u_char **p, const u_char *last,
    ngx_iothub_mqtt_str_t *seg)
{
    const u_char  *end;

    end = memchr(*p, '/', last - *p);

    if (end == NULL || end == *p) {
        return 0;
    }

    seg->data = *p;
    seg->len = end - *p;
    *p = end + 1;

    return 1;
}


/* [p, last) is exactly s */
static int
ngx_iothub_mqtt_is(const u_char *p, const u_char *last, const char *s)
{
    size_t  n;

    n = strlen(s);

    return (size_t) (last - p) == n && memcmp(p, s, n) == 0;
}


/* [p, last) is s, ASCII case-insensitively */
static int
ngx_iothub_mqtt_name_eq(const u_char *p, const u_char *last, const char *s)
{
    size_t  i, n;

    n = strlen(s);

    if ((size_t) (last - p) != n) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (ngx_iothub_mqtt_lc(p[i]) != ngx_iothub_mqtt_lc((u_char) s[i])) {
            return 0;
        }
    }

    return 1;
}


/* [p, last) starts with s, ASCII case-insensitively */
static int
ngx_iothub_mqtt_starts_ci(const u_char *p, const u_char *last, const char *s)
{
    size_t  n;

    n = strlen(s);

    return (size_t) (last - p) >= n && ngx_iothub_mqtt_name_eq(p, p + n, s);
}


static int
ngx_iothub_mqtt_has_id(const ngx_iothub_mqtt_str_t *id)
{
    return id != NULL && id->len != 0 && id->data != NULL;
}


/*
 * enc percent-decoded equals plain; a "%" not followed by two hex digits
 * stands for itself, as ids may hold a raw "%" (auth.md 4)
 */
static int
ngx_iothub_mqtt_pct_equal(const u_char *enc, size_t enc_len,
    const u_char *plain, size_t plain_len)
{
    int     hi, lo;
    u_char  c;
    size_t  i, j;

    for (i = 0, j = 0; i < enc_len; i++, j++) {
        if (j == plain_len) {
            return 0;
        }

        c = enc[i];

        if (c == '%' && enc_len - i > 2) {
            hi = ngx_iothub_mqtt_hex(enc[i + 1]);
            lo = ngx_iothub_mqtt_hex(enc[i + 2]);

            if (hi >= 0 && lo >= 0) {
                c = (u_char) ((hi << 4) | lo);
                i += 2;
            }
        }

        if (c != plain[j]) {
            return 0;
        }
    }

    return j == plain_len;
}


static int
ngx_iothub_mqtt_hex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c = ngx_iothub_mqtt_lc(c);

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/* well-formed UTF-8 without U+0000, as for MQTT strings (MQTT 1.5.3) */
static int
ngx_iothub_mqtt_text_valid(const u_char *p, size_t len)
{
    size_t         n;
    uint32_t       cp, min;
    const u_char  *last;

    last = p + len;

    while (p < last) {
        if (*p < 0x80) {
            if (*p++ == '\0') {
                return 0;
            }

            continue;
        }

        if (*p >= 0xc2 && *p <= 0xdf) {
            n = 1;
            min = 0x80;

        } else if ((*p & 0xf0) == 0xe0) {
            n = 2;
            min = 0x800;

        } else if (*p >= 0xf0 && *p <= 0xf4) {
            n = 3;
            min = 0x10000;

        } else {
            return 0;
        }

        if ((size_t) (last - p) <= n) {
            return 0;
        }

        cp = *p++ & (0x3f >> n);

        while (n--) {
            if ((*p & 0xc0) != 0x80) {
                return 0;
            }

            cp = (cp << 6) | (*p++ & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
    }

    return 1;
}


static void
ngx_iothub_mqtt_out_init(ngx_iothub_mqtt_out_t *out, u_char *buf,
    size_t size)
{
    out->buf = buf;
    out->size = (buf != NULL) ? size : 0;
    out->len = 0;
}


static void
ngx_iothub_mqtt_out_raw(ngx_iothub_mqtt_out_t *out, const u_char *p,
    size_t len)
{
    size_t  n;

    if (len == 0) {
        return;
    }

    if (out->len < out->size) {
        n = out->size - out->len;
        memcpy(out->buf + out->len, p, (len < n) ? len : n);
    }

    out->len += len;
}


static void
ngx_iothub_mqtt_out_str(ngx_iothub_mqtt_out_t *out, const char *s)
{
    ngx_iothub_mqtt_out_raw(out, (const u_char *) s, strlen(s));
}


/* id: ngx_iothub_mqtt_id_encode() rules, else encodeURIComponent */
static void
ngx_iothub_mqtt_out_pct(ngx_iothub_mqtt_out_t *out, const u_char *p,
    size_t len, int id)
{
    int     keep;
    u_char  c, esc[3];
    size_t  i;

    for (i = 0; i < len; i++) {
        c = p[i];

        if (id) {
            keep = c > 0x20 && c < 0x7f && c != '/' && c != '+' && c != '#';

            /* a "%" that would read as an escape */
            if (c == '%' && len - i > 2 && ngx_iothub_mqtt_hex(p[i + 1]) >= 0
                && ngx_iothub_mqtt_hex(p[i + 2]) >= 0)
            {
                keep = 0;
            }

        } else {
            keep = ngx_iothub_mqtt_is_alnum(c)
                   || (c != '\0' && strchr(ngx_iothub_mqtt_unreserved, c)
                                    != NULL);
        }

        if (keep) {
            ngx_iothub_mqtt_out_raw(out, &c, 1);
            continue;
        }

        esc[0] = '%';
        esc[1] = ngx_iothub_mqtt_hex_upper[c >> 4];
        esc[2] = ngx_iothub_mqtt_hex_upper[c & 0x0f];

        ngx_iothub_mqtt_out_raw(out, esc, 3);
    }
}


static void
ngx_iothub_mqtt_out_number(ngx_iothub_mqtt_out_t *out, long long v)
{
    u_char              digits[24], *p;
    unsigned long long  u;

    p = digits + sizeof(digits);
    u = (v < 0) ? 0 - (unsigned long long) v : (unsigned long long) v;

    do {
        *--p = (u_char) ('0' + u % 10);
        u /= 10;
    } while (u != 0);

    if (v < 0) {
        *--p = '-';
    }

    ngx_iothub_mqtt_out_raw(out, p, digits + sizeof(digits) - p);
}


/* mqtt.md 5: "%24.<x>" for known system properties */
static void
ngx_iothub_mqtt_out_props(ngx_iothub_mqtt_out_t *out,
    const ngx_iothub_mqtt_prop_t *props, size_t n)
{
    size_t       i;
    const char  *name;

    for (i = 0; i < n; i++) {
        if (i != 0) {
            ngx_iothub_mqtt_out_str(out, "&");
        }

        name = ngx_iothub_mqtt_prop_name(props[i].sys);

        if (name != NULL) {
            ngx_iothub_mqtt_out_str(out, "%24");
            ngx_iothub_mqtt_out_str(out, name + 1);

        } else {
            ngx_iothub_mqtt_out_pct(out, props[i].key.data, props[i].key.len,
                                    0);
        }

        if (props[i].value.data != NULL) {
            ngx_iothub_mqtt_out_str(out, "=");
            ngx_iothub_mqtt_out_pct(out, props[i].value.data,
                                    props[i].value.len, 0);
        }
    }
}
