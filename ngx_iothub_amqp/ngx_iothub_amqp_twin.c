
/*
 * nginx-iothub: the twin over AMQP (amqp.md 4, 7).  A device attaches a
 * sender and a receiver on /devices/{d}[/modules/{m}]/twin, paired by the
 * link property com.microsoft:channel-correlation-id; its requests name
 * an operation in their message annotations (GET, PATCH of the reported
 * properties, PUT and DELETE of the desired notifications), and each is
 * answered on the pair's receiver with the request's correlation-id, a
 * status annotation and, for a GET, the twin.  Desired patches go out on
 * the receiver without a correlation-id once the device subscribed.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_amqp.h"
#include "ngx_iothub_twin_service.h"


#define NGX_IOTHUB_AMQP_TWIN_CREDIT    8      /* requests in flight */
#define NGX_IOTHUB_AMQP_TWIN_MAX_BODY  (128 * 1024)
#define NGX_IOTHUB_AMQP_TWIN_LAGGING   16     /* notifications queued */
#define NGX_IOTHUB_AMQP_CHANNEL_MAX    128
#define NGX_IOTHUB_AMQP_CID_MAX        128

#define NGX_IOTHUB_AMQP_CHANNEL_PROPERTY                                     \
    "com.microsoft:channel-correlation-id"
#define NGX_IOTHUB_AMQP_RESOURCE_REPORTED  "/properties/reported"
#define NGX_IOTHUB_AMQP_RESOURCE_DESIRED                                     \
    "/notifications/twin/properties/desired"


typedef enum {
    NGX_IOTHUB_AMQP_TWIN_GET = 0,
    NGX_IOTHUB_AMQP_TWIN_PATCH,
    NGX_IOTHUB_AMQP_TWIN_SUBSCRIBE,
    NGX_IOTHUB_AMQP_TWIN_UNSUBSCRIBE
} ngx_iothub_amqp_twin_e;


typedef struct {
    ngx_queue_t                     queue;       /* in dev->twin_ops */
    ngx_iothub_amqp_device_t       *dev;
    ngx_iothub_amqp_twin_e          request;
    ngx_iothub_twin_op_t            op;

    pn_atom_t                       cid;         /* bytes in cid_data */
    size_t                          channel_len;
    char                            channel[NGX_IOTHUB_AMQP_CHANNEL_MAX];
    char                            cid_data[NGX_IOTHUB_AMQP_CID_MAX];
} ngx_iothub_amqp_twin_t;


/* what a request says, pointing into its message */
typedef struct {
    pn_bytes_t                      operation;
    pn_bytes_t                      resource;
    pn_bytes_t                      body;
    pn_atom_t                       cid;
} ngx_iothub_amqp_twin_req_t;


static ngx_int_t ngx_iothub_amqp_twin_read(pn_message_t *m,
    ngx_iothub_amqp_twin_req_t *req);
static ngx_int_t ngx_iothub_amqp_twin_annotation(pn_atom_t *key,
    pn_data_t *value, void *arg);
static ngx_int_t ngx_iothub_amqp_twin_decide(ngx_iothub_amqp_twin_t *tw,
    ngx_iothub_amqp_twin_req_t *req, const char **error);
static ngx_int_t ngx_iothub_amqp_twin_keep_cid(ngx_iothub_amqp_twin_t *tw,
    pn_atom_t *cid);
static void ngx_iothub_amqp_twin_next(ngx_iothub_amqp_device_t *dev);
static void ngx_iothub_amqp_twin_done(ngx_iothub_twin_op_t *op);
static void ngx_iothub_amqp_twin_finish(ngx_iothub_amqp_twin_t *tw);
static void ngx_iothub_amqp_twin_result(ngx_iothub_amqp_twin_t *tw,
    ngx_iothub_twin_op_t *op);
static void ngx_iothub_amqp_twin_answer(ngx_iothub_amqp_twin_t *tw,
    int status, int64_t version, u_char *body, size_t len);
static void ngx_iothub_amqp_twin_error(ngx_iothub_amqp_twin_t *tw,
    int status, ngx_uint_t code, const char *message);
static void ngx_iothub_amqp_twin_credit(ngx_iothub_amqp_device_t *dev);
static pn_link_t *ngx_iothub_amqp_twin_out(ngx_iothub_amqp_device_t *dev,
    char *channel, size_t len);
static ngx_int_t ngx_iothub_amqp_link_channel(pn_link_t *link,
    pn_bytes_t *channel);
static ngx_int_t ngx_iothub_amqp_channel_property(pn_atom_t *key,
    pn_data_t *value, void *arg);
static ngx_int_t ngx_iothub_amqp_atom_bytes(pn_atom_t *atom,
    pn_bytes_t *out);
static ngx_int_t ngx_iothub_amqp_text(pn_data_t *data, pn_bytes_t *out);
static ngx_uint_t ngx_iothub_amqp_bytes_is(pn_bytes_t *b, const char *s);


/* an accepted twin link: credit on the device's sender */

void
ngx_iothub_amqp_twin_link(ngx_iothub_amqp_device_t *dev, pn_link_t *link)
{
    if (pn_link_is_receiver(link)) {
        ngx_iothub_amqp_twin_credit(dev);
    }
}


/* a request on the device's twin sender (amqp.md 7.1) */

void
ngx_iothub_amqp_twin_request(ngx_iothub_amqp_device_t *dev,
    pn_link_t *link, pn_delivery_t *d)
{
    size_t                       size;
    pn_bytes_t                   channel;
    const char                  *error;
    pn_message_t                *m;
    ngx_iothub_amqp_twin_t      *tw;
    ngx_iothub_amqp_twin_req_t   req;

    m = ngx_iothub_amqp_recv_message(dev->ctx, link, d, &error);

    if (m == NULL) {
        ngx_iothub_amqp_settle(d, PN_REJECTED, "amqp:decode-error", error);
        ngx_iothub_amqp_twin_credit(dev);
        return;
    }

    /* requests come pre-settled (Node); an unsettled one is accepted */
    ngx_iothub_amqp_settle(d, PN_ACCEPTED, NULL, NULL);

    if (ngx_iothub_amqp_twin_read(m, &req) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, dev->ctx->connection->log, 0,
                      "iothub amqp: twin request without a correlation-id, "
                      "dropped");
        goto done;
    }

    size = req.body.size <= NGX_IOTHUB_AMQP_TWIN_MAX_BODY ? req.body.size
                                                           : 0;

    tw = ngx_alloc(sizeof(ngx_iothub_amqp_twin_t) + size,
                   dev->ctx->connection->log);
    if (tw == NULL) {
        goto done;
    }

    ngx_memzero(tw, sizeof(ngx_iothub_amqp_twin_t));
    tw->dev = dev;

    if (ngx_iothub_amqp_link_channel(link, &channel) == NGX_OK
        && channel.size <= NGX_IOTHUB_AMQP_CHANNEL_MAX)
    {
        tw->channel_len = channel.size;
        ngx_memcpy(tw->channel, channel.start, channel.size);
    }

    if (ngx_iothub_amqp_twin_keep_cid(tw, &req.cid) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, dev->ctx->connection->log, 0,
                      "iothub amqp: twin request correlation-id of an "
                      "unknown type or too long, dropped");
        ngx_free(tw);
        goto done;
    }

    tw->op.hub = dev->ctx->hub;
    tw->op.log = dev->ctx->connection->log;
    tw->op.handler = ngx_iothub_amqp_twin_done;
    tw->op.data = tw;
    tw->op.device_id = dev->session.sender.device_id;
    tw->op.module_id = dev->session.sender.module_id;

    switch (ngx_iothub_amqp_twin_decide(tw, &req, &error)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        ngx_iothub_amqp_twin_error(tw, 413, 413001, error);
        ngx_free(tw);
        goto done;

    default:
        ngx_iothub_amqp_twin_error(tw, 400, 400004, error);
        ngx_free(tw);
        goto done;
    }

    /* the patch is copied (at most size bytes: see decide) */
    tw->op.body.data = (u_char *) (tw + 1);
    tw->op.body.len = req.body.size;
    ngx_memcpy(tw->op.body.data, req.body.start, req.body.size);

    /*
     * one at a time: a device's patches would only race each other for
     * the twin's version, and answers keep the requests' order
     */

    ngx_queue_insert_tail(&dev->twin_ops, &tw->queue);
    dev->ntwin_ops++;

    if (dev->ntwin_ops == 1) {
        ngx_iothub_amqp_twin_next(dev);
    }

done:

    pn_message_free(m);
    ngx_iothub_amqp_twin_credit(dev);
}


/* the correlation-id, the operation annotations and the body */

static ngx_int_t
ngx_iothub_amqp_twin_read(pn_message_t *m, ngx_iothub_amqp_twin_req_t *req)
{
    pn_data_t  *data;

    ngx_memzero(req, sizeof(ngx_iothub_amqp_twin_req_t));

    req->cid = pn_message_get_correlation_id(m);

    if (req->cid.type == PN_NULL) {
        return NGX_ERROR;
    }

    (void) ngx_iothub_amqp_map_each(pn_message_annotations(m),
                                    ngx_iothub_amqp_twin_annotation, req);

    /* a data section; an amqp-value string is taken as well */

    data = pn_message_body(m);
    pn_data_rewind(data);

    if (pn_data_next(data)) {
        if (pn_data_type(data) == PN_BINARY) {
            req->body = pn_data_get_binary(data);

        } else if (pn_data_type(data) == PN_STRING) {
            req->body = pn_data_get_string(data);
        }
    }

    return NGX_OK;
}


/* the annotations operation and resource, strings or symbols */

static ngx_int_t
ngx_iothub_amqp_twin_annotation(pn_atom_t *key, pn_data_t *value, void *arg)
{
    ngx_iothub_amqp_twin_req_t *req = arg;

    pn_bytes_t  k, text;

    if (ngx_iothub_amqp_atom_bytes(key, &k) != NGX_OK
        || ngx_iothub_amqp_text(value, &text) != NGX_OK)
    {
        return NGX_OK;
    }

    if (ngx_iothub_amqp_bytes_is(&k, "operation")) {
        req->operation = text;

    } else if (ngx_iothub_amqp_bytes_is(&k, "resource")) {
        req->resource = text;
    }

    return NGX_OK;
}


/* NGX_OK, NGX_DECLINED (too large: 413) or NGX_ERROR (400) */

static ngx_int_t
ngx_iothub_amqp_twin_decide(ngx_iothub_amqp_twin_t *tw,
    ngx_iothub_amqp_twin_req_t *req, const char **error)
{
    if (ngx_iothub_amqp_bytes_is(&req->operation, "GET")) {
        tw->request = NGX_IOTHUB_AMQP_TWIN_GET;
        tw->op.kind = NGX_IOTHUB_TWIN_GET;

        /* the body (" " from Node) means nothing */
        req->body.size = 0;
        return NGX_OK;
    }

    if (ngx_iothub_amqp_bytes_is(&req->operation, "PATCH")) {
        if (!ngx_iothub_amqp_bytes_is(&req->resource,
                                      NGX_IOTHUB_AMQP_RESOURCE_REPORTED))
        {
            *error = "a device patches /properties/reported only";
            return NGX_ERROR;
        }

        if (req->body.size > NGX_IOTHUB_AMQP_TWIN_MAX_BODY) {
            *error = "the reported patch is over 128 KB";
            return NGX_DECLINED;
        }

        tw->request = NGX_IOTHUB_AMQP_TWIN_PATCH;
        tw->op.kind = NGX_IOTHUB_TWIN_PATCH_REPORTED;
        return NGX_OK;
    }

    if (ngx_iothub_amqp_bytes_is(&req->operation, "PUT")
        || ngx_iothub_amqp_bytes_is(&req->operation, "DELETE"))
    {
        if (!ngx_iothub_amqp_bytes_is(&req->resource,
                                      NGX_IOTHUB_AMQP_RESOURCE_DESIRED))
        {
            *error = "PUT and DELETE are for "
                     NGX_IOTHUB_AMQP_RESOURCE_DESIRED " only";
            return NGX_ERROR;
        }

        tw->request = req->operation.size == 3
                      ? NGX_IOTHUB_AMQP_TWIN_SUBSCRIBE
                      : NGX_IOTHUB_AMQP_TWIN_UNSUBSCRIBE;
        req->body.size = 0;
        return NGX_OK;
    }

    *error = "the operation annotation is not GET, PATCH, PUT or DELETE";

    return NGX_ERROR;
}


/* the answer carries the request's correlation-id, of the same type */

static ngx_int_t
ngx_iothub_amqp_twin_keep_cid(ngx_iothub_amqp_twin_t *tw, pn_atom_t *cid)
{
    tw->cid = *cid;

    switch (cid->type) {

    case PN_STRING:
    case PN_BINARY:
    case PN_SYMBOL:
        if (cid->u.as_bytes.size > NGX_IOTHUB_AMQP_CID_MAX) {
            return NGX_ERROR;
        }

        ngx_memcpy(tw->cid_data, cid->u.as_bytes.start,
                   cid->u.as_bytes.size);
        tw->cid.u.as_bytes.start = tw->cid_data;
        return NGX_OK;

    case PN_UUID:
    case PN_ULONG:
        return NGX_OK;

    default:
        return NGX_ERROR;
    }
}


/* starts the oldest request; those Redis cannot take are answered 503 */

static void
ngx_iothub_amqp_twin_next(ngx_iothub_amqp_device_t *dev)
{
    ngx_int_t                rc;
    ngx_iothub_amqp_twin_t  *tw;

    while (!ngx_queue_empty(&dev->twin_ops)) {
        tw = ngx_queue_data(ngx_queue_head(&dev->twin_ops),
                            ngx_iothub_amqp_twin_t, queue);

        if (tw->request == NGX_IOTHUB_AMQP_TWIN_GET
            || tw->request == NGX_IOTHUB_AMQP_TWIN_PATCH)
        {
            if (ngx_iothub_twin_run(&tw->op) == NGX_OK) {
                return;
            }

            ngx_iothub_amqp_twin_error(tw, 503, 503001,
                                       "the hub's store is unavailable");
            ngx_iothub_amqp_twin_finish(tw);
            continue;
        }

        /* desired notifications: the presence records the subscription */

        if (tw->request == NGX_IOTHUB_AMQP_TWIN_SUBSCRIBE) {
            dev->session.features |= NGX_IOTHUB_FEATURE_DESIRED;

        } else {
            dev->session.features &= ~NGX_IOTHUB_FEATURE_DESIRED;
        }

        rc = ngx_iothub_session_subscribe(&dev->session,
                                          ngx_iothub_amqp_subscribed, tw);

        if (rc == NGX_OK) {
            /* answered when stored: ngx_iothub_amqp_subscribed() */
            return;
        }

        if (rc == NGX_DECLINED) {
            /* Redis down: it holds on this connection, as over MQTT */
            ngx_iothub_amqp_twin_answer(tw, 204, -1, NULL, 0);

        } else {
            ngx_iothub_amqp_twin_error(tw, 500, 500001, "out of memory");
        }

        ngx_iothub_amqp_twin_finish(tw);
    }
}


/* the session layer stored the subscriptions; arg: a twin PUT or DELETE */

void
ngx_iothub_amqp_subscribed(ngx_iothub_session_t *s, void *arg)
{
    ngx_iothub_amqp_device_t  *dev;
    ngx_iothub_amqp_twin_t    *tw;

    if (arg == NULL) {
        /* links' subscriptions (C2D, methods): nobody waits */
        return;
    }

    tw = arg;
    dev = tw->dev;

    ngx_iothub_amqp_twin_answer(tw, 204, -1, NULL, 0);
    ngx_iothub_amqp_twin_finish(tw);
    ngx_iothub_amqp_twin_next(dev);
    ngx_iothub_amqp_twin_credit(dev);

    ngx_iothub_amqp_run(dev->ctx);
}


static void
ngx_iothub_amqp_twin_done(ngx_iothub_twin_op_t *op)
{
    ngx_iothub_amqp_twin_t *tw = op->data;

    ngx_iothub_amqp_device_t  *dev;

    dev = tw->dev;

    ngx_iothub_amqp_twin_result(tw, op);
    ngx_iothub_amqp_twin_finish(tw);
    ngx_iothub_amqp_twin_next(dev);
    ngx_iothub_amqp_twin_credit(dev);

    ngx_iothub_amqp_run(dev->ctx);
}


/* an answered request, the head of the queue, goes */

static void
ngx_iothub_amqp_twin_finish(ngx_iothub_amqp_twin_t *tw)
{
    ngx_queue_remove(&tw->queue);
    tw->dev->ntwin_ops--;
    ngx_free(tw);
}


void
ngx_iothub_amqp_twin_cancel(ngx_iothub_amqp_device_t *dev)
{
    ngx_queue_t             *q;
    ngx_iothub_amqp_twin_t  *tw;

    while (!ngx_queue_empty(&dev->twin_ops)) {
        q = ngx_queue_head(&dev->twin_ops);
        ngx_queue_remove(q);
        tw = ngx_queue_data(q, ngx_iothub_amqp_twin_t, queue);

        /* a pending subscription is the session's call: it goes with it */
        ngx_iothub_twin_cancel(&tw->op);
        ngx_free(tw);
    }

    dev->ntwin_ops = 0;
}


/* amqp.md 7.2: 200 with the twin, 204 with the new reported version */

static void
ngx_iothub_amqp_twin_result(ngx_iothub_amqp_twin_t *tw,
    ngx_iothub_twin_op_t *op)
{
    char  *view;

    switch (op->result) {

    case NGX_IOTHUB_TWIN_DONE:
        if (op->kind == NGX_IOTHUB_TWIN_PATCH_REPORTED) {
            ngx_iothub_amqp_twin_answer(tw, 204, op->twin.reported_version,
                                        NULL, 0);
            return;
        }

        if (ngx_iothub_twin_device_view(&op->twin, &view, op->err,
                                        sizeof(op->err))
            != NGX_IOTHUB_TWIN_OK)
        {
            ngx_iothub_amqp_twin_error(tw, 500, 500001, "corrupt twin");
            return;
        }

        ngx_iothub_amqp_twin_answer(tw, 200, -1, (u_char *) view,
                                    ngx_strlen(view));
        free(view);
        return;

    case NGX_IOTHUB_TWIN_REFUSED:
        ngx_iothub_amqp_twin_error(tw, 400,
                                   op->engine_rc == NGX_IOTHUB_TWIN_BAD_JSON
                                   ? 400006 : 400004, op->err);
        return;

    case NGX_IOTHUB_TWIN_NOT_FOUND:
        ngx_iothub_amqp_twin_error(tw, 404, 404001, "identity not found");
        return;

    case NGX_IOTHUB_TWIN_UNAVAILABLE:
        ngx_iothub_amqp_twin_error(tw, 503, 503001,
                                   "the hub's store is unavailable");
        return;

    default:
        ngx_iothub_amqp_twin_error(tw, 500, 500001, "internal error");
    }
}


/*
 * On the receiver of the request's channel: correlation-id, the status
 * (int) and version (long) annotations, a data section (amqp.md 7.2).
 */

static void
ngx_iothub_amqp_twin_answer(ngx_iothub_amqp_twin_t *tw, int status,
    int64_t version, u_char *body, size_t len)
{
    pn_link_t                 *link;
    pn_data_t                 *data;
    pn_message_t              *m;
    ngx_iothub_amqp_device_t  *dev;

    dev = tw->dev;

    link = ngx_iothub_amqp_twin_out(dev, tw->channel, tw->channel_len);

    if (link == NULL) {
        ngx_log_error(NGX_LOG_INFO, dev->ctx->connection->log, 0,
                      "iothub amqp: no twin receiver for the answer %d",
                      status);
        return;
    }

    m = pn_message();
    if (m == NULL) {
        return;
    }

    (void) pn_message_set_correlation_id(m, tw->cid);

    data = pn_message_annotations(m);
    pn_data_put_map(data);
    pn_data_enter(data);
    pn_data_put_symbol(data, pn_bytes(6, "status"));
    pn_data_put_int(data, status);

    if (version >= 0) {
        pn_data_put_symbol(data, pn_bytes(7, "version"));
        pn_data_put_long(data, version);
    }

    pn_data_exit(data);

    if (len) {
        (void) pn_message_set_inferred(m, true);
        pn_data_put_binary(pn_message_body(m), pn_bytes(len, (char *) body));
    }

    (void) ngx_iothub_amqp_send_message(dev->ctx, link, m, NULL, 0, 1, NULL);

    pn_message_free(m);
}


/* Node reads the error from the body as JSON (amqp.md 7.2) */

static void
ngx_iothub_amqp_twin_error(ngx_iothub_amqp_twin_t *tw, int status,
    ngx_uint_t code, const char *message)
{
    u_char  body[NGX_IOTHUB_TWIN_ERROR_LEN], *last;

    last = ngx_iothub_twin_error_body(body, code, message);

    ngx_iothub_amqp_twin_answer(tw, status, -1, body, last - body);
}


/* a desired patch for the session, as a notification (amqp.md 7.3) */

void
ngx_iothub_amqp_desired(ngx_iothub_session_t *s, ngx_int_t version,
    ngx_str_t *patch)
{
    pn_link_t                 *link;
    pn_data_t                 *data;
    pn_message_t              *m;
    ngx_iothub_amqp_device_t  *dev;

    dev = s->data;

    if (!(s->features & NGX_IOTHUB_FEATURE_DESIRED)) {
        return;
    }

    link = ngx_iothub_amqp_twin_out(dev, NULL, 0);

    /* not queued for a device that gives no credit: it GETs the twin */

    if (link == NULL || pn_link_queued(link) >= NGX_IOTHUB_AMQP_TWIN_LAGGING
        || ngx_iothub_amqp_lagging(dev->ctx, link))
    {
        ngx_log_error(NGX_LOG_INFO, dev->ctx->connection->log, 0,
                      "iothub amqp: desired notification %i not sent: %s",
                      version, link ? "the device lags" : "no twin receiver");
        return;
    }

    m = pn_message();
    if (m == NULL) {
        return;
    }

    data = pn_message_annotations(m);
    pn_data_put_map(data);
    pn_data_enter(data);
    pn_data_put_symbol(data, pn_bytes(7, "version"));
    pn_data_put_long(data, (int64_t) version);
    pn_data_exit(data);

    (void) pn_message_set_inferred(m, true);
    pn_data_put_binary(pn_message_body(m),
                       pn_bytes(patch->len, (char *) patch->data));

    (void) ngx_iothub_amqp_send_message(dev->ctx, link, m, NULL, 0, 1, NULL);

    pn_message_free(m);

    ngx_iothub_amqp_run(dev->ctx);
}


/*
 * Back-pressure: the device's twin senders together have at most
 * NGX_IOTHUB_AMQP_TWIN_CREDIT requests unanswered.
 */

static void
ngx_iothub_amqp_twin_credit(ngx_iothub_amqp_device_t *dev)
{
    int                      want, credit;
    pn_link_t               *link;
    ngx_iothub_amqp_link_t  *lc;

    if (dev->ntwin_ops >= NGX_IOTHUB_AMQP_TWIN_CREDIT) {
        return;
    }

    want = NGX_IOTHUB_AMQP_TWIN_CREDIT - (int) dev->ntwin_ops;

    for (link = pn_link_head(dev->ctx->driver.connection, PN_LOCAL_ACTIVE);
         link;
         link = pn_link_next(link, PN_LOCAL_ACTIVE))
    {
        lc = pn_link_get_context(link);

        if (lc == NULL || lc->device != dev || !lc->opened
            || lc->kind != NGX_IOTHUB_AMQP_ADDR_TWIN
            || !pn_link_is_receiver(link))
        {
            continue;
        }

        credit = pn_link_credit(link);

        if (credit < want) {
            pn_link_flow(link, want - credit);
        }
    }
}


/*
 * The device's twin receiver (our sender) of the channel, or any of the
 * device's when none has it.
 */

static pn_link_t *
ngx_iothub_amqp_twin_out(ngx_iothub_amqp_device_t *dev, char *channel,
    size_t len)
{
    pn_link_t               *link, *any;
    pn_bytes_t               name;
    ngx_iothub_amqp_link_t  *lc;

    any = NULL;

    for (link = pn_link_head(dev->ctx->driver.connection, PN_LOCAL_ACTIVE);
         link;
         link = pn_link_next(link, PN_LOCAL_ACTIVE))
    {
        lc = pn_link_get_context(link);

        if (lc == NULL || lc->device != dev || !lc->opened
            || lc->kind != NGX_IOTHUB_AMQP_ADDR_TWIN
            || !pn_link_is_sender(link)
            || (pn_link_state(link) & PN_REMOTE_CLOSED))
        {
            continue;
        }

        if (len
            && ngx_iothub_amqp_link_channel(link, &name) == NGX_OK
            && name.size == len
            && ngx_memcmp(name.start, channel, len) == 0)
        {
            return link;
        }

        if (any == NULL) {
            any = link;
        }
    }

    return any;
}


/* the link property com.microsoft:channel-correlation-id (amqp.md 4) */

static ngx_int_t
ngx_iothub_amqp_link_channel(pn_link_t *link, pn_bytes_t *channel)
{
    return (ngx_iothub_amqp_map_each(pn_link_remote_properties(link),
                                     ngx_iothub_amqp_channel_property,
                                     channel)
            == NGX_DONE)
           ? NGX_OK : NGX_DECLINED;
}


static ngx_int_t
ngx_iothub_amqp_channel_property(pn_atom_t *key, pn_data_t *value,
    void *arg)
{
    pn_bytes_t  k;

    if (ngx_iothub_amqp_atom_bytes(key, &k) == NGX_OK
        && ngx_iothub_amqp_bytes_is(&k, NGX_IOTHUB_AMQP_CHANNEL_PROPERTY)
        && ngx_iothub_amqp_text(value, arg) == NGX_OK)
    {
        return NGX_DONE;
    }

    return NGX_OK;
}


/* a string or a symbol */

static ngx_int_t
ngx_iothub_amqp_text(pn_data_t *data, pn_bytes_t *out)
{
    switch (pn_data_type(data)) {

    case PN_STRING:
        *out = pn_data_get_string(data);
        return NGX_OK;

    case PN_SYMBOL:
        *out = pn_data_get_symbol(data);
        return NGX_OK;

    default:
        return NGX_DECLINED;
    }
}


/* a string or a symbol, as a map's key */

static ngx_int_t
ngx_iothub_amqp_atom_bytes(pn_atom_t *atom, pn_bytes_t *out)
{
    if (atom->type != PN_STRING && atom->type != PN_SYMBOL) {
        return NGX_DECLINED;
    }

    *out = atom->u.as_bytes;

    return NGX_OK;
}


static ngx_uint_t
ngx_iothub_amqp_bytes_is(pn_bytes_t *b, const char *s)
{
    size_t  len;

    len = ngx_strlen(s);

    return b->size == len && ngx_strncmp(b->start, s, len) == 0;
}
