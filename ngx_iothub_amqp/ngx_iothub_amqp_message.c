
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


/* what the entries of a device message's maps go into */
typedef struct {
    ngx_pool_t            *pool;
    ngx_iothub_message_t  *msg;
} ngx_iothub_amqp_fields_t;


static ngx_int_t ngx_iothub_amqp_app_property(pn_atom_t *key,
    pn_data_t *value, void *arg);
static ngx_int_t ngx_iothub_amqp_annotation(pn_atom_t *key, pn_data_t *value,
    void *arg);
static ngx_int_t ngx_iothub_amqp_add_atom(ngx_pool_t *pool,
    ngx_iothub_message_t *msg, const char *name, pn_atom_t atom);
static ngx_int_t ngx_iothub_amqp_add_bytes(ngx_iothub_message_t *msg,
    const char *name, const char *p, size_t len);
static ngx_int_t ngx_iothub_amqp_value_text(ngx_pool_t *pool, pn_data_t *d,
    ngx_str_t *out);
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


/* the stream fields of a device's message (messaging.md 1, amqp.md 5) */

ngx_int_t
ngx_iothub_amqp_message_fields(ngx_pool_t *pool, pn_message_t *m,
    ngx_iothub_message_t *msg, const char **error)
{
    u_char                    *p;
    pn_data_t                 *body;
    pn_bytes_t                 b;
    const char                *s;
    pn_timestamp_t             ts;
    ngx_iothub_amqp_fields_t   fields;

    ngx_memzero(msg, sizeof(ngx_iothub_message_t));

    *error = "too many properties";

    if (ngx_iothub_amqp_add_atom(pool, msg, "p:message-id",
                                 pn_message_get_id(m)) != NGX_OK
        || ngx_iothub_amqp_add_atom(pool, msg, "p:correlation-id",
                                    pn_message_get_correlation_id(m))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    b = pn_message_get_user_id(m);

    if (b.size
        && ngx_iothub_amqp_add_bytes(msg, "p:user-id", b.start, b.size)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    s = pn_message_get_address(m);

    if (s && ngx_iothub_amqp_add_bytes(msg, "p:to", s, ngx_strlen(s))
             != NGX_OK)
    {
        return NGX_ERROR;
    }

    s = pn_message_get_content_type(m);

    if (s && ngx_iothub_amqp_add_bytes(msg, "p:content-type", s,
                                       ngx_strlen(s)) != NGX_OK)
    {
        return NGX_ERROR;
    }

    s = pn_message_get_content_encoding(m);

    if (s && ngx_iothub_amqp_add_bytes(msg, "p:content-encoding", s,
                                       ngx_strlen(s)) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ts = pn_message_get_expiry_time(m);

    if (ts) {
        p = ngx_pnalloc(pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (ngx_iothub_amqp_add_bytes(msg, "p:absolute-expiry-time",
                                      (char *) p,
                                      ngx_sprintf(p, "%L", (int64_t) ts) - p)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    fields.pool = pool;
    fields.msg = msg;

    if (ngx_iothub_amqp_map_each(pn_message_annotations(m),
                                 ngx_iothub_amqp_annotation, &fields)
        == NGX_ERROR
        || ngx_iothub_amqp_map_each(pn_message_properties(m),
                                    ngx_iothub_amqp_app_property, &fields)
           == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    /* a data section; an amqp-value string or binary is taken as well */

    body = pn_message_body(m);
    pn_data_rewind(body);

    if (!pn_data_next(body) || pn_data_type(body) == PN_NULL) {
        return NGX_OK;
    }

    switch (pn_data_type(body)) {

    case PN_BINARY:
        b = pn_data_get_binary(body);
        break;

    case PN_STRING:
        b = pn_data_get_string(body);
        break;

    default:
        *error = "the body is not a data section";
        return NGX_ERROR;
    }

    msg->body.data = (u_char *) b.start;
    msg->body.len = b.size;

    return NGX_OK;
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
 * An application property: string keys, values as text.  The hub's own
 * names are dropped, except the AMQP forms of system properties a device
 * sets (amqp.md 5): the module output name, the creation time, the
 * message schema.
 */

static ngx_int_t
ngx_iothub_amqp_app_property(pn_atom_t *key, pn_data_t *value, void *arg)
{
    ngx_iothub_amqp_fields_t *fields = arg;

    u_char      *name;
    ngx_str_t    text;
    pn_bytes_t   k;

    if (key->type != PN_STRING && key->type != PN_SYMBOL) {
        return NGX_OK;
    }

    k = key->u.as_bytes;

    if (k.size == 0
        || (ngx_iothub_app_property_reserved((u_char *) k.start, k.size)
            && !(k.size == 17
                 && ngx_strncasecmp((u_char *) k.start,
                                    (u_char *) "iothub-outputname", 17)
                    == 0)
            && !(k.size == 24
                 && ngx_strncasecmp((u_char *) k.start,
                                    (u_char *) "iothub-creation-time-utc",
                                    24) == 0)
            && !(k.size == 21
                 && ngx_strncasecmp((u_char *) k.start,
                                    (u_char *) "iothub-message-schema",
                                    21) == 0)))
    {
        return NGX_OK;
    }

    if (ngx_iothub_amqp_value_text(fields->pool, value, &text) != NGX_OK) {
        return NGX_OK;
    }

    name = ngx_pnalloc(fields->pool, k.size + 2);
    if (name == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(name, "u:", 2);
    ngx_memcpy(name + 2, k.start, k.size);

    return ngx_iothub_message_add(fields->msg, (char *) name, k.size + 2,
                                  text.data, text.len);
}


/* a message annotation with a meaning for the hub (amqp.md 5) */

static ngx_int_t
ngx_iothub_amqp_annotation(pn_atom_t *key, pn_data_t *value, void *arg)
{
    ngx_iothub_amqp_fields_t *fields = arg;

    ngx_str_t    text;
    pn_bytes_t   k;
    const char  *field;

    if (key->type != PN_SYMBOL) {
        return NGX_OK;
    }

    k = key->u.as_bytes;

    if (k.size == 19 && ngx_strncmp(k.start, "iothub-interface-id", 19) == 0) {
        field = "u:iothub-interface-id";

    } else if (k.size == 10 && ngx_strncmp(k.start, "dt-subject", 10) == 0) {
        field = "a:dt-subject";

    } else {
        return NGX_OK;
    }

    if (ngx_iothub_amqp_value_text(fields->pool, value, &text) != NGX_OK) {
        return NGX_OK;
    }

    return ngx_iothub_message_add(fields->msg, field, ngx_strlen(field),
                                  text.data, text.len);
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


static ngx_int_t
ngx_iothub_amqp_add_bytes(ngx_iothub_message_t *msg, const char *name,
    const char *p, size_t len)
{
    return ngx_iothub_message_add(msg, name, ngx_strlen(name), (u_char *) p,
                                  len);
}


/* a property's value as text; NGX_DECLINED for lists, maps and nulls */

static ngx_int_t
ngx_iothub_amqp_value_text(ngx_pool_t *pool, pn_data_t *d, ngx_str_t *out)
{
    pn_atom_t  atom;

    atom = pn_data_get_atom(d);

    return ngx_iothub_amqp_atom_text(pool, atom, out);
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
