
/*
 * nginx-iothub: direct methods over AMQP (amqp.md 4, 8).  A device is
 * online for methods while it has both links of
 * /devices/{d}[/modules/{m}]/methods/devicebound attached.  A request goes
 * out on its receiver with an AMQP uuid as correlation-id (the C SDK
 * takes no other type) and the method name in the application property
 * IoThub-methodname; the device answers on its sender with the same
 * correlation-id and IoThub-status.  The session layer's request ids are
 * longer than a uuid: each request gets a uuid here, mapped back to its
 * request id when the answer comes.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_amqp.h"
#include "ngx_iothub_method_codec.h"


#define NGX_IOTHUB_AMQP_METHOD_CREDIT  8
#define NGX_IOTHUB_AMQP_UUID_SIZE      16


/* a request given to the device, not answered yet */
typedef struct {
    ngx_queue_t                     queue;       /* dev->method_ids */
    u_char                          uuid[NGX_IOTHUB_AMQP_UUID_SIZE];
    size_t                          rid_len;
    u_char                          rid[1];
} ngx_iothub_amqp_method_id_t;


static ngx_iothub_amqp_method_id_t *ngx_iothub_amqp_method_keep(
    ngx_iothub_amqp_device_t *dev, ngx_str_t *rid);
static ngx_iothub_amqp_method_id_t *ngx_iothub_amqp_method_find(
    ngx_iothub_amqp_device_t *dev, pn_atom_t *cid);
static void ngx_iothub_amqp_method_forget(ngx_iothub_amqp_device_t *dev,
    ngx_iothub_amqp_method_id_t *id);
static ngx_int_t ngx_iothub_amqp_method_status(pn_message_t *m,
    ngx_int_t *status);
static ngx_int_t ngx_iothub_amqp_method_status_entry(pn_atom_t *key,
    pn_data_t *value, void *arg);


/* an accepted methods link: credit for the device's answers */

void
ngx_iothub_amqp_method_link(ngx_iothub_amqp_device_t *dev, pn_link_t *link)
{
    if (pn_link_is_receiver(link)) {
        pn_link_flow(link, NGX_IOTHUB_AMQP_METHOD_CREDIT);
    }

    ngx_iothub_amqp_method_links(dev);
}


/*
 * After a methods link of the device came or went: subscribed while both
 * directions are attached (amqp.md 4), requests on the first receiver.
 */

void
ngx_iothub_amqp_method_links(ngx_iothub_amqp_device_t *dev)
{
    pn_link_t               *link, *out;
    ngx_uint_t               in, on;
    ngx_iothub_amqp_link_t  *lc;

    out = NULL;
    in = 0;

    for (link = pn_link_head(dev->ctx->driver.connection, PN_LOCAL_ACTIVE);
         link;
         link = pn_link_next(link, PN_LOCAL_ACTIVE))
    {
        lc = pn_link_get_context(link);

        if (lc == NULL || lc->device != dev || !lc->opened
            || lc->kind != NGX_IOTHUB_AMQP_ADDR_METHODS
            || (pn_link_state(link) & PN_REMOTE_CLOSED))
        {
            continue;
        }

        if (pn_link_is_receiver(link)) {
            in = 1;

        } else if (out == NULL) {
            out = link;
        }
    }

    dev->method_link = in ? out : NULL;

    on = (dev->method_link != NULL);

    if (on == ((dev->session.features & NGX_IOTHUB_FEATURE_METHODS) != 0)) {
        return;
    }

    if (on) {
        dev->session.features |= NGX_IOTHUB_FEATURE_METHODS;

    } else {
        dev->session.features &= ~NGX_IOTHUB_FEATURE_METHODS;
    }

    /* the presence records it; Redis down: it holds on this connection */
    if (ngx_iothub_session_subscribe(&dev->session,
                                     ngx_iothub_amqp_subscribed, NULL)
        == NGX_ERROR)
    {
        ngx_log_error(NGX_LOG_ERR, dev->ctx->connection->log, 0,
                      "iothub amqp: subscriptions not stored");
    }
}


/* the session layer's method hook: the request as amqp.md 8 has it */

void
ngx_iothub_amqp_method(ngx_iothub_session_t *s,
    ngx_iothub_session_method_t *m)
{
    pn_atom_t                     cid;
    pn_data_t                    *props;
    pn_message_t                 *msg;
    ngx_iothub_amqp_device_t     *dev;
    ngx_iothub_amqp_method_id_t  *id;

    dev = s->data;

    if (dev->method_link == NULL) {
        /* the caller times out, as for a lost request */
        return;
    }

    if (ngx_iothub_amqp_lagging(dev->ctx, dev->method_link)) {
        ngx_log_error(NGX_LOG_WARN, dev->ctx->connection->log, 0,
                      "iothub amqp: slow device, method request dropped");
        return;
    }

    id = ngx_iothub_amqp_method_keep(dev, &m->rid);
    if (id == NULL) {
        return;
    }

    msg = pn_message();
    if (msg == NULL) {
        ngx_iothub_amqp_method_forget(dev, id);
        return;
    }

    cid.type = PN_UUID;
    ngx_memcpy(cid.u.as_uuid.bytes, id->uuid, NGX_IOTHUB_AMQP_UUID_SIZE);
    (void) pn_message_set_correlation_id(msg, cid);

    props = pn_message_properties(msg);
    pn_data_put_map(props);
    pn_data_enter(props);
    pn_data_put_string(props, pn_bytes(sizeof("IoThub-methodname") - 1,
                                       "IoThub-methodname"));
    pn_data_put_string(props, pn_bytes(m->name.len, (char *) m->name.data));
    pn_data_exit(props);

    /* JSON text in a data section; the service sends "null" for none */

    (void) pn_message_set_inferred(msg, true);
    pn_data_put_binary(pn_message_body(msg),
                       m->payload.len
                       ? pn_bytes(m->payload.len, (char *) m->payload.data)
                       : pn_bytes(4, "null"));

    if (ngx_iothub_amqp_send_message(dev->ctx, dev->method_link, msg, NULL,
                                     0, 1, NULL)
        != NGX_OK)
    {
        ngx_iothub_amqp_method_forget(dev, id);
    }

    pn_message_free(msg);

    ngx_iothub_amqp_run(dev->ctx);
}


/* the device's answer on its methods sender */

void
ngx_iothub_amqp_method_response(ngx_iothub_amqp_device_t *dev,
    pn_link_t *link, pn_delivery_t *d)
{
    u_char                       rid[NGX_IOTHUB_METHOD_RID_MAX];
    pn_atom_t                    cid;
    pn_data_t                   *body;
    pn_bytes_t                   b;
    ngx_int_t                    status;
    ngx_str_t                    r, payload;
    const char                  *error;
    pn_message_t                *m;
    ngx_iothub_amqp_method_id_t *id;

    m = ngx_iothub_amqp_recv_message(dev->ctx, link, d, &error);

    pn_link_flow(link, 1);

    if (m == NULL) {
        ngx_iothub_amqp_settle(d, PN_REJECTED, "amqp:decode-error", error);
        return;
    }

    cid = pn_message_get_correlation_id(m);
    id = ngx_iothub_amqp_method_find(dev, &cid);

    if (id == NULL) {
        ngx_iothub_amqp_settle(d, PN_REJECTED, "amqp:not-found",
                               "no method request with this "
                               "correlation-id is waiting for an answer");
        goto done;
    }

    if (ngx_iothub_amqp_method_status(m, &status) != NGX_OK) {
        ngx_iothub_amqp_settle(d, PN_REJECTED, "com.microsoft:argument-error",
                               "the application property IoThub-status "
                               "must be an integer");
        goto done;
    }

    payload.len = 0;
    payload.data = NULL;

    body = pn_message_body(m);
    pn_data_rewind(body);

    if (pn_data_next(body)
        && (pn_data_type(body) == PN_BINARY
            || pn_data_type(body) == PN_STRING))
    {
        b = pn_data_type(body) == PN_BINARY ? pn_data_get_binary(body)
                                             : pn_data_get_string(body);
        payload.data = (u_char *) b.start;
        payload.len = b.size;
    }

    /* the id goes first: the answer is for one request only */

    r.len = ngx_min(id->rid_len, sizeof(rid));
    r.data = rid;
    ngx_memcpy(rid, id->rid, r.len);

    ngx_iothub_amqp_method_forget(dev, id);

    (void) ngx_iothub_session_method_answer(&dev->session, &r, status,
                                            &payload);

    ngx_iothub_amqp_settle(d, PN_ACCEPTED, NULL, NULL);

done:

    pn_message_free(m);
}


/* IoThub-status: an integer of any AMQP type, or its decimal text */

static ngx_int_t
ngx_iothub_amqp_method_status(pn_message_t *m, ngx_int_t *status)
{
    int64_t  v;

    v = INT64_MIN;

    if (ngx_iothub_amqp_map_each(pn_message_properties(m),
                                 ngx_iothub_amqp_method_status_entry, &v)
        != NGX_DONE
        || v < -1000000000 || v > 1000000000)
    {
        return NGX_DECLINED;
    }

    *status = (ngx_int_t) v;

    return NGX_OK;
}


/* the IoThub-status entry: its value in *arg (INT64_MIN: not a number) */

static ngx_int_t
ngx_iothub_amqp_method_status_entry(pn_atom_t *key, pn_data_t *value,
    void *arg)
{
    int64_t *v = arg;

    ngx_int_t   n;
    pn_bytes_t  text;

    if (key->type != PN_STRING
        || key->u.as_bytes.size != 13
        || ngx_strncasecmp((u_char *) key->u.as_bytes.start,
                           (u_char *) "IoThub-status", 13) != 0)
    {
        return NGX_OK;
    }

    switch (pn_data_type(value)) {

    case PN_INT:
        *v = pn_data_get_int(value);
        break;

    case PN_LONG:
        *v = pn_data_get_long(value);
        break;

    case PN_SHORT:
        *v = pn_data_get_short(value);
        break;

    case PN_UINT:
        *v = pn_data_get_uint(value);
        break;

    case PN_ULONG:
        *v = (int64_t) ngx_min(pn_data_get_ulong(value), 1000000000);
        break;

    case PN_STRING:
        text = pn_data_get_string(value);
        n = ngx_atoi((u_char *) text.start, text.size);

        if (n != NGX_ERROR) {
            *v = n;
        }

        break;

    default:
        break;
    }

    return NGX_DONE;
}


/*
 * A fresh random uuid (version 4) for rid; the oldest unanswered request
 * gives way, as in the session layer.
 */

static ngx_iothub_amqp_method_id_t *
ngx_iothub_amqp_method_keep(ngx_iothub_amqp_device_t *dev, ngx_str_t *rid)
{
    uint32_t                      r;
    ngx_uint_t                    i;
    ngx_iothub_amqp_method_id_t  *id;

    if (dev->nmethod_ids == NGX_IOTHUB_SESSION_MAX_METHODS) {
        ngx_iothub_amqp_method_forget(dev,
            ngx_queue_data(ngx_queue_head(&dev->method_ids),
                           ngx_iothub_amqp_method_id_t, queue));
    }

    id = ngx_alloc(sizeof(ngx_iothub_amqp_method_id_t) + rid->len,
                   dev->ctx->connection->log);
    if (id == NULL) {
        return NULL;
    }

    for (i = 0; i < NGX_IOTHUB_AMQP_UUID_SIZE; i += 2) {
        r = (uint32_t) ngx_random();
        id->uuid[i] = (u_char) r;
        id->uuid[i + 1] = (u_char) (r >> 8);
    }

    id->uuid[6] = (id->uuid[6] & 0x0f) | 0x40;
    id->uuid[8] = (id->uuid[8] & 0x3f) | 0x80;

    id->rid_len = rid->len;
    ngx_memcpy(id->rid, rid->data, rid->len);

    ngx_queue_insert_tail(&dev->method_ids, &id->queue);
    dev->nmethod_ids++;

    return id;
}


/* by value, a uuid or its text (Node may send either) */

static ngx_iothub_amqp_method_id_t *
ngx_iothub_amqp_method_find(ngx_iothub_amqp_device_t *dev, pn_atom_t *cid)
{
    u_char                        uuid[NGX_IOTHUB_AMQP_UUID_SIZE];
    ngx_queue_t                  *q;
    ngx_iothub_amqp_method_id_t  *id;

    switch (cid->type) {

    case PN_UUID:
        ngx_memcpy(uuid, cid->u.as_uuid.bytes, NGX_IOTHUB_AMQP_UUID_SIZE);
        break;

    case PN_STRING:
    case PN_SYMBOL:
        if (ngx_iothub_amqp_uuid_text_parse(cid->u.as_bytes.start,
                                            cid->u.as_bytes.size, uuid)
            != 0)
        {
            return NULL;
        }

        break;

    default:
        return NULL;
    }

    for (q = ngx_queue_head(&dev->method_ids);
         q != ngx_queue_sentinel(&dev->method_ids);
         q = ngx_queue_next(q))
    {
        id = ngx_queue_data(q, ngx_iothub_amqp_method_id_t, queue);

        if (ngx_memcmp(id->uuid, uuid, NGX_IOTHUB_AMQP_UUID_SIZE) == 0) {
            return id;
        }
    }

    return NULL;
}


static void
ngx_iothub_amqp_method_forget(ngx_iothub_amqp_device_t *dev,
    ngx_iothub_amqp_method_id_t *id)
{
    ngx_queue_remove(&id->queue);
    dev->nmethod_ids--;
    ngx_free(id);
}


void
ngx_iothub_amqp_method_cancel(ngx_iothub_amqp_device_t *dev)
{
    while (!ngx_queue_empty(&dev->method_ids)) {
        ngx_iothub_amqp_method_forget(dev,
            ngx_queue_data(ngx_queue_head(&dev->method_ids),
                           ngx_iothub_amqp_method_id_t, queue));
    }

    dev->method_link = NULL;
}
