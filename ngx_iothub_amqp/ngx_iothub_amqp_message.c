
/*
 * nginx-iothub: AMQP messages of the device links: the stream fields of
 * telemetry (amqp.md 5; ngx_iothub_amqp_telemetry.c stores it),
 * cloud-to-device messages out and the device's outcomes (amqp.md 6),
 * and the reading, sending and settling every link shares.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_amqp.h"
#include "ngx_iothub_props.h"


#define NGX_IOTHUB_AMQP_UUID_LEN  36


static u_char  *ngx_iothub_amqp_rbuf;
static size_t   ngx_iothub_amqp_rbuf_size;

/*
 * the buffer messages are encoded in, kept for the next: started empty,
 * pn_message_encode2() encodes again in one twice the size until the
 * message fits, which a new buffer per message paid two or three times
 */
static pn_rwbytes_t  ngx_iothub_amqp_sbuf;


static ngx_int_t ngx_iothub_amqp_body(ngx_iothub_amqp_sections_t *sections,
    ngx_iothub_message_t *msg, const char **error);
static ngx_int_t ngx_iothub_amqp_app_properties(ngx_pool_t *pool,
    ngx_iothub_amqp_map_t *map, ngx_iothub_message_t *msg);
static ngx_uint_t ngx_iothub_amqp_app_property_kept(pn_bytes_t *key);
static ngx_int_t ngx_iothub_amqp_annotations(ngx_pool_t *pool,
    ngx_iothub_amqp_map_t *map, ngx_iothub_message_t *msg);
static ngx_int_t ngx_iothub_amqp_add_atom(ngx_pool_t *pool,
    ngx_iothub_message_t *msg, const char *name, pn_atom_t atom);
static ngx_int_t ngx_iothub_amqp_add_bytes(ngx_iothub_message_t *msg,
    const char *name, pn_atom_t atom, pn_type_t type);
static u_char *ngx_iothub_amqp_uuid_text(u_char *p, const char *bytes);
static void ngx_iothub_amqp_set_string(pn_message_t *m,
    int (*set)(pn_message_t *m, const char *value), ngx_str_t *value);
static ngx_int_t ngx_iothub_amqp_c2d_message(pn_message_t *m,
    ngx_iothub_c2d_message_t *msg);


/*
 * Whether an incoming transfer is complete, to be read; one still
 * arriving that is over the largest message already detaches its link.
 */

ngx_uint_t
ngx_iothub_amqp_transfer_complete(pn_link_t *link, pn_delivery_t *d)
{
    if (pn_delivery_readable(d) && !pn_delivery_partial(d)) {
        return 1;
    }

    if (pn_delivery_pending(d) > NGX_IOTHUB_AMQP_MAX_MESSAGE) {
        ngx_iothub_amqp_detach(link, "amqp:link:message-size-exceeded",
                               "message over the link's max-message-size");
    }

    return 0;
}


/*
 * Reads a complete transfer and decodes it; NULL with *error set when it
 * is not an AMQP message (the caller settles it).
 */

pn_message_t *
ngx_iothub_amqp_recv_message(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link,
    pn_delivery_t *d, const char **error)
{
    size_t         n;
    u_char        *buf;
    pn_message_t  *m;

    buf = ngx_iothub_amqp_recv_bytes(ctx, link, d, &n, error);
    if (buf == NULL) {
        return NULL;
    }

    /* no bytes are no message: Proton 0.37 asserts on a size of 0 */
    if (n == 0) {
        *error = "not an AMQP message";
        return NULL;
    }

    m = pn_message();

    if (m == NULL || pn_message_decode(m, (char *) buf, n) != 0) {
        if (m) {
            pn_message_free(m);
        }

        *error = "not an AMQP message";
        return NULL;
    }

    return m;
}


/*
 * Reads a complete transfer into the worker's receive buffer (reused by
 * every connection: what is read is decoded before the next read); NULL
 * with *error set when it is too large or memory ran out.
 */

u_char *
ngx_iothub_amqp_recv_bytes(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link,
    pn_delivery_t *d, size_t *n, const char **error)
{
    size_t    size;
    ssize_t   rc;

    size = pn_delivery_pending(d);

    if (size > NGX_IOTHUB_AMQP_MAX_MESSAGE) {
        (void) pn_link_advance(link);
        *error = "message too large";
        return NULL;
    }

    if (size > ngx_iothub_amqp_rbuf_size) {
        if (ngx_iothub_amqp_rbuf) {
            ngx_free(ngx_iothub_amqp_rbuf);
        }

        ngx_iothub_amqp_rbuf_size = ngx_align(size, 4096);
        ngx_iothub_amqp_rbuf = ngx_alloc(ngx_iothub_amqp_rbuf_size,
                                         ctx->connection->log);

        if (ngx_iothub_amqp_rbuf == NULL) {
            ngx_iothub_amqp_rbuf_size = 0;
            (void) pn_link_advance(link);
            *error = "out of memory";
            return NULL;
        }
    }

    rc = pn_link_recv(link, (char *) ngx_iothub_amqp_rbuf, size);
    (void) pn_link_advance(link);

    *n = rc > 0 ? (size_t) rc : 0;

    /* a buffer, even for no bytes: the caller tells NULL apart */
    return ngx_iothub_amqp_rbuf ? ngx_iothub_amqp_rbuf : (u_char *) "";
}


/* at the worker's exit: the buffers the connections shared */

void
ngx_iothub_amqp_message_exit(void)
{
    if (ngx_iothub_amqp_rbuf) {
        ngx_free(ngx_iothub_amqp_rbuf);
        ngx_iothub_amqp_rbuf = NULL;
        ngx_iothub_amqp_rbuf_size = 0;
    }

    free(ngx_iothub_amqp_sbuf.start);
    ngx_iothub_amqp_sbuf.start = NULL;
    ngx_iothub_amqp_sbuf.size = 0;
}


ngx_int_t
ngx_iothub_amqp_send_message(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link,
    pn_message_t *m, u_char *tag, size_t tag_len, ngx_uint_t settled,
    pn_delivery_t **out)
{
    ssize_t  n;

    /* pn_message_encode2() mallocs and reallocs: free() goes with it */
    n = pn_message_encode2(m, &ngx_iothub_amqp_sbuf);
    if (n < 0) {
        return NGX_ERROR;
    }

    return ngx_iothub_amqp_send_bytes(ctx, link,
                                      (u_char *) ngx_iothub_amqp_sbuf.start,
                                      n, tag, tag_len, settled, out);
}


/*
 * The answer to a request (on $cbs, $management), sent settled on link:
 * m, or a new message when m is NULL, with the request's correlation-id
 * and the properties status-code (int), status-description and, when
 * condition is set, error-condition.  m is freed; NGX_ERROR when no
 * message could be made.
 */

ngx_int_t
ngx_iothub_amqp_send_status(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link,
    pn_message_t *m, pn_atom_t *id, int status, const char *description,
    const char *condition)
{
    pn_data_t  *props;

    if (m == NULL) {
        m = pn_message();
        if (m == NULL) {
            return NGX_ERROR;
        }
    }

    if (id->type != PN_NULL) {
        (void) pn_message_set_correlation_id(m, *id);
    }

    props = pn_message_properties(m);
    pn_data_put_map(props);
    pn_data_enter(props);
    pn_data_put_string(props, pn_bytes(11, "status-code"));
    pn_data_put_int(props, status);
    pn_data_put_string(props, pn_bytes(18, "status-description"));
    pn_data_put_string(props, pn_bytes(ngx_strlen(description),
                                       description));

    if (condition) {
        pn_data_put_string(props, pn_bytes(15, "error-condition"));
        pn_data_put_string(props, pn_bytes(ngx_strlen(condition),
                                           condition));
    }

    pn_data_exit(props);

    (void) ngx_iothub_amqp_send_message(ctx, link, m, NULL, 0, 1, NULL);

    pn_message_free(m);

    return NGX_OK;
}


/* the worker's send buffer, size bytes at least; NULL without memory */

u_char *
ngx_iothub_amqp_send_buffer(size_t size)
{
    char  *p;

    if (size > ngx_iothub_amqp_sbuf.size) {
        size = ngx_align(size, 4096);

        p = realloc(ngx_iothub_amqp_sbuf.start, size);
        if (p == NULL) {
            return NULL;
        }

        ngx_iothub_amqp_sbuf.start = p;
        ngx_iothub_amqp_sbuf.size = size;
    }

    return (u_char *) ngx_iothub_amqp_sbuf.start;
}


/* an encoded message as a delivery on link (tag NULL: a counter's) */

ngx_int_t
ngx_iothub_amqp_send_bytes(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link,
    u_char *p, size_t n, u_char *tag, size_t tag_len, ngx_uint_t settled,
    pn_delivery_t **out)
{
    pn_delivery_t  *d;
    uint64_t        no;

    if (tag == NULL) {
        no = pn_link_unsettled(link) + pn_link_queued(link);
        tag = (u_char *) &no;
        tag_len = sizeof(no);
    }

    d = pn_delivery(link, pn_dtag((const char *) tag, tag_len));

    (void) pn_link_send(link, (const char *) p, n);
    (void) pn_link_advance(link);

    if (settled) {
        pn_delivery_settle(d);
    }

    if (out) {
        *out = d;
    }

    return NGX_OK;
}


void
ngx_iothub_amqp_settle(pn_delivery_t *d, uint64_t outcome,
    const char *condition, const char *description)
{
    pn_condition_t  *cond;

    if (condition) {
        cond = pn_disposition_condition(pn_delivery_local(d));
        pn_condition_set_name(cond, condition);
        pn_condition_set_description(cond, description);
    }

    pn_delivery_update(d, outcome);
    pn_delivery_settle(d);
}


/*
 * The stream fields of a device's message (messaging.md 1, amqp.md 5),
 * from its sections as ngx_iothub_amqp_sections() read them
 */

ngx_int_t
ngx_iothub_amqp_message_fields(ngx_pool_t *pool,
    ngx_iothub_amqp_sections_t *sections, ngx_iothub_message_t *msg,
    const char **error)
{
    ngx_memzero(msg, sizeof(ngx_iothub_message_t));

    *error = "too many properties";

    if (ngx_iothub_amqp_add_atom(pool, msg, "p:message-id",
                                 sections->message_id) != NGX_OK
        || ngx_iothub_amqp_add_atom(pool, msg, "p:correlation-id",
                                    sections->correlation_id) != NGX_OK
        || ngx_iothub_amqp_add_bytes(msg, "p:user-id", sections->user_id,
                                     PN_BINARY) != NGX_OK
        || ngx_iothub_amqp_add_bytes(msg, "p:to", sections->to, PN_STRING)
           != NGX_OK
        || ngx_iothub_amqp_add_bytes(msg, "p:content-type",
                                     sections->content_type, PN_SYMBOL)
           != NGX_OK
        || ngx_iothub_amqp_add_bytes(msg, "p:content-encoding",
                                     sections->content_encoding, PN_SYMBOL)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (sections->absolute_expiry_time.type == PN_TIMESTAMP
        && sections->absolute_expiry_time.u.as_timestamp != 0
        && ngx_iothub_amqp_add_atom(pool, msg, "p:absolute-expiry-time",
                                    sections->absolute_expiry_time)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_iothub_amqp_annotations(pool, &sections->annotations, msg)
        != NGX_OK
        || ngx_iothub_amqp_app_properties(pool, &sections->app_properties,
                                          msg) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_iothub_amqp_body(sections, msg, error);
}


/* one data section; an amqp-value string or binary is taken as well */

static ngx_int_t
ngx_iothub_amqp_body(ngx_iothub_amqp_sections_t *sections,
    ngx_iothub_message_t *msg, const char **error)
{
    pn_atom_t  *body;

    body = &sections->body;

    if (sections->body_sections > 1) {
        *error = "the body is more than one section";
        return NGX_ERROR;
    }

    if (body->type == PN_NULL) {
        return NGX_OK;
    }

    if (body->type != PN_BINARY && body->type != PN_STRING) {
        *error = "the body is not a data section";
        return NGX_ERROR;
    }

    msg->body.data = (u_char *) body->u.as_bytes.start;
    msg->body.len = body->u.as_bytes.size;

    return NGX_OK;
}


/*
 * Application properties: string keys, values as text.  The hub's own
 * names are dropped, except the AMQP forms of system properties a device
 * sets (amqp.md 5): the module output name, the creation time, the
 * message schema.
 */

static ngx_int_t
ngx_iothub_amqp_app_properties(ngx_pool_t *pool, ngx_iothub_amqp_map_t *map,
    ngx_iothub_message_t *msg)
{
    u_char      *name;
    ngx_str_t    value;
    pn_atom_t    key, atom;

    while (ngx_iothub_amqp_map_next(map, &key, &atom)) {
        if ((key.type != PN_STRING && key.type != PN_SYMBOL)
            || !ngx_iothub_amqp_app_property_kept(&key.u.as_bytes)
            || ngx_iothub_amqp_atom_text(pool, atom, &value) != NGX_OK)
        {
            continue;
        }

        name = ngx_pnalloc(pool, key.u.as_bytes.size + 2);
        if (name == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(name, "u:", 2);
        ngx_memcpy(name + 2, key.u.as_bytes.start, key.u.as_bytes.size);

        if (ngx_iothub_message_add(msg, (char *) name,
                                   key.u.as_bytes.size + 2,
                                   value.data, value.len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_iothub_amqp_app_property_kept(pn_bytes_t *key)
{
    ngx_uint_t  i;

    static ngx_str_t  system[] = {
        ngx_string("iothub-outputname"),
        ngx_string("iothub-creation-time-utc"),
        ngx_string("iothub-message-schema")
    };

    if (key->size == 0) {
        return 0;
    }

    if (!ngx_iothub_app_property_reserved((u_char *) key->start, key->size)) {
        return 1;
    }

    for (i = 0; i < sizeof(system) / sizeof(system[0]); i++) {
        if (key->size == system[i].len
            && ngx_strncasecmp((u_char *) key->start, system[i].data,
                               key->size) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* message annotations with a meaning for the hub (amqp.md 5) */

static ngx_int_t
ngx_iothub_amqp_annotations(ngx_pool_t *pool, ngx_iothub_amqp_map_t *map,
    ngx_iothub_message_t *msg)
{
    ngx_str_t    value;
    pn_atom_t    key, atom;
    const char  *field;

    while (ngx_iothub_amqp_map_next(map, &key, &atom)) {
        field = NULL;

        if (key.type == PN_SYMBOL) {
            if (key.u.as_bytes.size == 19
                && ngx_strncmp(key.u.as_bytes.start, "iothub-interface-id",
                               19) == 0)
            {
                field = "u:iothub-interface-id";

            } else if (key.u.as_bytes.size == 10
                       && ngx_strncmp(key.u.as_bytes.start, "dt-subject", 10)
                          == 0)
            {
                field = "a:dt-subject";
            }
        }

        if (field == NULL
            || ngx_iothub_amqp_atom_text(pool, atom, &value) != NGX_OK)
        {
            continue;
        }

        if (ngx_iothub_message_add(msg, field, ngx_strlen(field),
                                   value.data, value.len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_iothub_amqp_add_atom(ngx_pool_t *pool, ngx_iothub_message_t *msg,
    const char *name, pn_atom_t atom)
{
    ngx_str_t  text;

    if (ngx_iothub_amqp_atom_text(pool, atom, &text) != NGX_OK) {
        /* absent, or a type the hub does not keep */
        return NGX_OK;
    }

    return ngx_iothub_message_add(msg, name, ngx_strlen(name), text.data,
                                  text.len);
}


/*
 * A text field when it has its type: up to a NUL, as the hub has always
 * kept it (Proton's getters gave C strings)
 */

static ngx_int_t
ngx_iothub_amqp_add_bytes(ngx_iothub_message_t *msg, const char *name,
    pn_atom_t atom, pn_type_t type)
{
    u_char  *p, *nul;
    size_t   len;

    if (atom.type != type) {
        return NGX_OK;
    }

    p = (u_char *) atom.u.as_bytes.start;
    len = atom.u.as_bytes.size;

    nul = len ? ngx_strlchr(p, p + len, '\0') : NULL;
    if (nul) {
        len = nul - p;
    }

    if (len == 0 && type == PN_BINARY) {
        return NGX_OK;
    }

    return ngx_iothub_message_add(msg, name, ngx_strlen(name), p, len);
}


/*
 * Calls entry for every key of the map in data (message annotations,
 * application properties, link properties), with data on the key's
 * value: entry returns NGX_OK for the next key, NGX_DONE to stop, or
 * NGX_ERROR.  Returns what stopped the walk: NGX_DONE, NGX_ERROR, or
 * NGX_OK at the map's end or when data holds no map.
 */

ngx_int_t
ngx_iothub_amqp_map_each(pn_data_t *data, ngx_iothub_amqp_map_entry_pt entry,
    void *arg)
{
    ngx_int_t  rc;
    pn_atom_t  key;

    pn_data_rewind(data);

    if (!pn_data_next(data) || pn_data_type(data) != PN_MAP) {
        return NGX_OK;
    }

    rc = NGX_OK;

    pn_data_enter(data);

    while (pn_data_next(data)) {
        key = pn_data_get_atom(data);

        if (!pn_data_next(data)) {
            break;
        }

        rc = entry(&key, data, arg);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_DONE) {
            break;
        }
    }

    pn_data_exit(data);

    return rc;
}


/*
 * An atom as text: strings, symbols and binaries as they are, numbers in
 * decimal, a uuid in its canonical lower-case form; NGX_DECLINED for
 * other types.
 */

ngx_int_t
ngx_iothub_amqp_atom_text(ngx_pool_t *pool, pn_atom_t atom, ngx_str_t *out)
{
    u_char  *p;

    switch (atom.type) {

    case PN_STRING:
    case PN_SYMBOL:
    case PN_BINARY:
        out->data = (u_char *) atom.u.as_bytes.start;
        out->len = atom.u.as_bytes.size;
        return NGX_OK;

    case PN_BOOL:
        out->data = (u_char *) (atom.u.as_bool ? "true" : "false");
        out->len = atom.u.as_bool ? 4 : 5;
        return NGX_OK;

    case PN_UUID:
        p = ngx_pnalloc(pool, NGX_IOTHUB_AMQP_UUID_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        out->data = p;
        out->len = ngx_iothub_amqp_uuid_text(p, atom.u.as_uuid.bytes) - p;
        return NGX_OK;

    default:
        break;
    }

    p = ngx_pnalloc(pool, 64);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    switch (atom.type) {

    case PN_UBYTE:
        out->len = ngx_sprintf(p, "%ui", (ngx_uint_t) atom.u.as_ubyte) - p;
        break;

    case PN_BYTE:
        out->len = ngx_sprintf(p, "%i", (ngx_int_t) atom.u.as_byte) - p;
        break;

    case PN_USHORT:
        out->len = ngx_sprintf(p, "%ui", (ngx_uint_t) atom.u.as_ushort) - p;
        break;

    case PN_SHORT:
        out->len = ngx_sprintf(p, "%i", (ngx_int_t) atom.u.as_short) - p;
        break;

    case PN_UINT:
        out->len = ngx_sprintf(p, "%ui", (ngx_uint_t) atom.u.as_uint) - p;
        break;

    case PN_INT:
        out->len = ngx_sprintf(p, "%i", (ngx_int_t) atom.u.as_int) - p;
        break;

    case PN_ULONG:
        out->len = ngx_sprintf(p, "%uL", (uint64_t) atom.u.as_ulong) - p;
        break;

    case PN_LONG:
        out->len = ngx_sprintf(p, "%L", (int64_t) atom.u.as_long) - p;
        break;

    case PN_TIMESTAMP:
        out->len = ngx_sprintf(p, "%L", (int64_t) atom.u.as_timestamp) - p;
        break;

    case PN_FLOAT:
        out->len = snprintf((char *) p, 64, "%.9g", atom.u.as_float);
        break;

    case PN_DOUBLE:
        out->len = snprintf((char *) p, 64, "%.17g", atom.u.as_double);
        break;

    default:
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static u_char *
ngx_iothub_amqp_uuid_text(u_char *p, const char *bytes)
{
    ngx_uint_t     i;
    static u_char  hex[] = "0123456789abcdef";

    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            *p++ = '-';
        }

        *p++ = hex[((u_char) bytes[i]) >> 4];
        *p++ = hex[((u_char) bytes[i]) & 0xf];
    }

    return p;
}


/* the session layer's c2d hook: the message as amqp.md 6 has it */

ngx_int_t
ngx_iothub_amqp_c2d_deliver(ngx_iothub_session_t *s,
    ngx_iothub_c2d_message_t *msg)
{
    ngx_int_t                  rc;
    pn_message_t              *m;
    ngx_iothub_amqp_device_t  *dev;

    dev = s->data;

    if (dev->c2d_link == NULL || pn_link_credit(dev->c2d_link) <= 0
        || dev->c2d_delivery)
    {
        return NGX_DECLINED;
    }

    m = pn_message();
    if (m == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_iothub_amqp_c2d_message(m, msg) != NGX_OK) {
        pn_message_free(m);
        return NGX_DECLINED;
    }

    dev->c2d_tag++;

    rc = ngx_iothub_amqp_send_message(dev->ctx, dev->c2d_link, m,
                                      (u_char *) &dev->c2d_tag,
                                      sizeof(dev->c2d_tag), 0,
                                      &dev->c2d_delivery);
    pn_message_free(m);

    if (rc != NGX_OK) {
        return NGX_DECLINED;
    }

    ngx_iothub_amqp_run(dev->ctx);

    return NGX_OK;
}


static ngx_int_t
ngx_iothub_amqp_c2d_message(pn_message_t *m, ngx_iothub_c2d_message_t *msg)
{
    u_char       *p, *last;
    int64_t       expiry;
    pn_atom_t     atom;
    pn_data_t    *props, *body;
    ngx_uint_t    i;

    if (msg->message_id.len) {
        atom.type = PN_STRING;
        atom.u.as_bytes = pn_bytes(msg->message_id.len,
                                   (char *) msg->message_id.data);
        (void) pn_message_set_id(m, atom);
    }

    if (msg->correlation_id.len) {
        atom.type = PN_STRING;
        atom.u.as_bytes = pn_bytes(msg->correlation_id.len,
                                   (char *) msg->correlation_id.data);
        (void) pn_message_set_correlation_id(m, atom);
    }

    if (msg->user_id.len) {
        (void) pn_message_set_user_id(m, pn_bytes(msg->user_id.len,
                                                  (char *) msg->user_id.data));
    }

    ngx_iothub_amqp_set_string(m, pn_message_set_address, &msg->to);
    ngx_iothub_amqp_set_string(m, pn_message_set_content_type,
                               &msg->content_type);
    ngx_iothub_amqp_set_string(m, pn_message_set_content_encoding,
                               &msg->content_encoding);

    /* ms since the epoch, as the queue keeps it */

    expiry = 0;
    last = msg->expiry.data + msg->expiry.len;

    for (p = msg->expiry.data; p && p < last; p++) {
        if (*p < '0' || *p > '9' || expiry > 100000000000000LL) {
            expiry = 0;
            break;
        }

        expiry = expiry * 10 + (*p - '0');
    }

    if (expiry) {
        (void) pn_message_set_expiry_time(m, expiry);
    }

    props = pn_message_properties(m);
    pn_data_put_map(props);
    pn_data_enter(props);

    if (msg->ack.len) {
        pn_data_put_string(props, pn_bytes(10, "iothub-ack"));
        pn_data_put_string(props, pn_bytes(msg->ack.len,
                                           (char *) msg->ack.data));
    }

    for (i = 0; i < msg->napp; i++) {
        pn_data_put_string(props, pn_bytes(msg->app_name[i].len,
                                           (char *) msg->app_name[i].data));
        pn_data_put_string(props, pn_bytes(msg->app_value[i].len,
                                           (char *) msg->app_value[i].data));
    }

    pn_data_exit(props);

    /* a data section: Node reads body.content (amqp.md 6) */

    (void) pn_message_set_inferred(m, true);

    body = pn_message_body(m);
    pn_data_put_binary(body, pn_bytes(msg->body.len,
                                      (char *) msg->body.data));

    return NGX_OK;
}


static void
ngx_iothub_amqp_set_string(pn_message_t *m,
    int (*set)(pn_message_t *m, const char *value), ngx_str_t *value)
{
    u_char  buf[1024];

    if (value->len == 0 || value->len >= sizeof(buf)) {
        return;
    }

    ngx_memcpy(buf, value->data, value->len);
    buf[value->len] = '\0';

    (void) set(m, (char *) buf);
}


/* the device's outcome of the message in flight (amqp.md 6) */

void
ngx_iothub_amqp_c2d_outcome(ngx_iothub_amqp_device_t *dev, pn_delivery_t *d)
{
    uint64_t                 state;
    ngx_iothub_c2d_settle_e  how;

    state = pn_delivery_remote_state(d);

    switch (state) {

    case PN_ACCEPTED:
        how = NGX_IOTHUB_C2D_COMPLETE;
        break;

    case PN_REJECTED:
        how = NGX_IOTHUB_C2D_REJECT;
        break;

    case PN_RELEASED:
    case PN_MODIFIED:
        how = NGX_IOTHUB_C2D_ABANDON;
        break;

    default:
        if (!pn_delivery_settled(d)) {
            /* a state on the way (received): wait for the outcome */
            return;
        }

        /* settled without an outcome */
        how = NGX_IOTHUB_C2D_ABANDON;
    }

    dev->c2d_delivery = NULL;
    pn_delivery_settle(d);

    ngx_iothub_session_c2d_settle(&dev->session, how);

    if (dev->c2d_link && pn_link_credit(dev->c2d_link) > 0) {
        ngx_iothub_session_c2d_pull(&dev->session);
    }
}
