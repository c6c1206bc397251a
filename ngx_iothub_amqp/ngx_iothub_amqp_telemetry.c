
/*
 * nginx-iothub: AMQP telemetry (amqp.md 5).  A transfer on a device's
 * .../messages/events link is stored, then accepted; a batch of the C SDK
 * (message-format 0x80013700, ngx_iothub_amqp_formats.c) is one stream
 * entry per inner message, all stored before the transfer is settled.
 *
 * Nothing is allocated per message: the bytes are read into the worker's
 * receive buffer, decoded into the worker's one pn_message_t (cleared for
 * each message), their text kept in the worker's scratch pool (reset after
 * each message).  The session layer copies a message as it is handed over,
 * so each is done with before the next is read.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_amqp.h"


/*
 * A batch's bookkeeping rides in its delivery's context: the count of
 * inner messages not yet stored, shifted left 2, and what went wrong
 * (0 nothing, else an index of ngx_iothub_amqp_batch_errors).
 */
#define NGX_IOTHUB_AMQP_BATCH_ONE       4
#define NGX_IOTHUB_AMQP_BATCH_ERROR     3


typedef enum {
    NGX_IOTHUB_AMQP_TELEMETRY_OK = 0,
    NGX_IOTHUB_AMQP_TELEMETRY_MALFORMED,
    NGX_IOTHUB_AMQP_TELEMETRY_TOO_LARGE,
    NGX_IOTHUB_AMQP_TELEMETRY_STORE
} ngx_iothub_amqp_telemetry_e;


static const char  *ngx_iothub_amqp_conditions[] = {
    NULL,
    "amqp:decode-error",
    "amqp:link:message-size-exceeded",
    "amqp:internal-error"
};


static ngx_iothub_amqp_telemetry_e ngx_iothub_amqp_telemetry_one(
    ngx_iothub_amqp_device_t *dev, pn_delivery_t *d, u_char *p, size_t n,
    const char **error);
static void ngx_iothub_amqp_telemetry_batch(ngx_iothub_amqp_device_t *dev,
    pn_link_t *link, pn_delivery_t *d, u_char *p, size_t n);
static void ngx_iothub_amqp_refuse(pn_link_t *link, pn_delivery_t *d,
    ngx_iothub_amqp_telemetry_e why, const char *error);
static void ngx_iothub_amqp_stored(ngx_iothub_session_t *s, ngx_int_t rc,
    ngx_uint_t arg);
static ngx_pool_t *ngx_iothub_amqp_scratch_pool(void);


static ngx_pool_t    *ngx_iothub_amqp_scratch;


void
ngx_iothub_amqp_telemetry(ngx_iothub_amqp_device_t *dev, pn_link_t *link,
    pn_delivery_t *d)
{
    u_char                       *p;
    size_t                        n;
    ngx_uint_t                    batch;
    const char                   *error;
    ngx_iothub_amqp_telemetry_e   rc;

    /* before the read: the link's name and the tag tell a batch */
    batch = ngx_iothub_amqp_formats_batch(dev->ctx, link, d);

    if (pn_delivery_pending(d) > NGX_IOTHUB_AMQP_MAX_MESSAGE) {
        (void) pn_link_advance(link);
        ngx_iothub_amqp_refuse(link, d, NGX_IOTHUB_AMQP_TELEMETRY_TOO_LARGE,
                               "message over 256 KB");
        return;
    }

    p = ngx_iothub_amqp_recv_bytes(dev->ctx, link, d, &n, &error);
    if (p == NULL) {
        ngx_iothub_amqp_refuse(link, d, NGX_IOTHUB_AMQP_TELEMETRY_MALFORMED,
                               error);
        return;
    }

    if (batch) {
        ngx_iothub_amqp_telemetry_batch(dev, link, d, p, n);
        return;
    }

    rc = ngx_iothub_amqp_telemetry_one(dev, d, p, n, &error);

    if (rc != NGX_IOTHUB_AMQP_TELEMETRY_OK) {
        ngx_iothub_amqp_refuse(link, d, rc, error);
    }
}


/*
 * Every inner message of a batch its own stream entry.  The sections are
 * checked first, so nothing of a malformed batch is stored; an inner
 * message refused (malformed, too large, the store down) stops the batch
 * there and the transfer is rejected once the ones before it are done:
 * the device sends it again, those before are then stored twice.
 */

static void
ngx_iothub_amqp_telemetry_batch(ngx_iothub_amqp_device_t *dev,
    pn_link_t *link, pn_delivery_t *d, u_char *p, size_t n)
{
    int                           rc;
    size_t                        len;
    uintptr_t                     count;
    const char                   *error;
    const u_char                 *pos, *data;
    ngx_iothub_amqp_telemetry_e   why;

    count = 0;
    pos = p;

    while ((rc = ngx_iothub_amqp_batch_next(&pos, p + n, &data, &len)) == 1) {
        count++;
    }

    if (rc != 0 || count == 0) {
        ngx_iothub_amqp_refuse(link, d, NGX_IOTHUB_AMQP_TELEMETRY_MALFORMED,
                               rc ? "a malformed batch" : "an empty batch");
        return;
    }

    count = 0;
    pos = p;
    why = NGX_IOTHUB_AMQP_TELEMETRY_OK;
    error = NULL;

    while (ngx_iothub_amqp_batch_next(&pos, p + n, &data, &len) == 1) {
        why = ngx_iothub_amqp_telemetry_one(dev, d, (u_char *) data, len,
                                            &error);
        if (why != NGX_IOTHUB_AMQP_TELEMETRY_OK) {
            break;
        }

        count++;
    }

    if (count == 0) {
        ngx_iothub_amqp_refuse(link, d, why, error);
        return;
    }

    if (why != NGX_IOTHUB_AMQP_TELEMETRY_OK) {
        ngx_log_error(NGX_LOG_INFO, dev->ctx->connection->log, 0,
                      "iothub amqp: batch refused after %ui messages: %s",
                      (ngx_uint_t) count, error);
    }

    pn_delivery_set_context(d, (void *) (count * NGX_IOTHUB_AMQP_BATCH_ONE
                                         + why));
}


/* decodes one message and hands it to the session layer to store */

static ngx_iothub_amqp_telemetry_e
ngx_iothub_amqp_telemetry_one(ngx_iothub_amqp_device_t *dev,
    pn_delivery_t *d, u_char *p, size_t n, const char **error)
{
    ngx_int_t                    rc;
    ngx_pool_t                  *pool;
    ngx_iothub_message_t         msg;
    ngx_iothub_amqp_sections_t   sections;

    if (ngx_iothub_amqp_sections(p, n, &sections) != 0) {
        *error = "not an AMQP message";
        return NGX_IOTHUB_AMQP_TELEMETRY_MALFORMED;
    }

    pool = ngx_iothub_amqp_scratch_pool();
    if (pool == NULL) {
        *error = "out of memory";
        return NGX_IOTHUB_AMQP_TELEMETRY_STORE;
    }

    rc = ngx_iothub_amqp_message_fields(pool, &sections, &msg, error);

    if (rc == NGX_OK && msg.body.len > NGX_IOTHUB_D2C_MAX_SIZE) {
        ngx_reset_pool(pool);
        *error = "message over 256 KB";
        return NGX_IOTHUB_AMQP_TELEMETRY_TOO_LARGE;
    }

    if (rc != NGX_OK) {
        ngx_reset_pool(pool);
        return rc == NGX_DECLINED ? NGX_IOTHUB_AMQP_TELEMETRY_TOO_LARGE
                                  : NGX_IOTHUB_AMQP_TELEMETRY_MALFORMED;
    }

    /* the command is formatted at once: the message may go */
    rc = ngx_iothub_session_telemetry(&dev->session, &msg,
                                      ngx_iothub_amqp_stored,
                                      (ngx_uint_t) d);

    ngx_reset_pool(pool);

    if (rc != NGX_OK) {
        *error = "the hub's store is unavailable";
        return NGX_IOTHUB_AMQP_TELEMETRY_STORE;
    }

    return NGX_IOTHUB_AMQP_TELEMETRY_OK;
}


static void
ngx_iothub_amqp_refuse(pn_link_t *link, pn_delivery_t *d,
    ngx_iothub_amqp_telemetry_e why, const char *error)
{
    ngx_iothub_amqp_settle(d, PN_REJECTED, ngx_iothub_amqp_conditions[why],
                           error);
    pn_link_flow(link, 1);
}


/*
 * Redis answered: the outcome, and one more credit (back-pressure); a
 * batch's once its last message is answered
 */

static void
ngx_iothub_amqp_stored(ngx_iothub_session_t *s, ngx_int_t rc, ngx_uint_t arg)
{
    uintptr_t                     batch;
    pn_link_t                    *link;
    pn_delivery_t                *d;
    ngx_iothub_amqp_device_t     *dev;
    ngx_iothub_amqp_telemetry_e   why;

    dev = s->data;
    d = (pn_delivery_t *) arg;
    link = pn_delivery_link(d);

    why = (rc == NGX_OK) ? NGX_IOTHUB_AMQP_TELEMETRY_OK
                         : NGX_IOTHUB_AMQP_TELEMETRY_STORE;

    batch = (uintptr_t) pn_delivery_get_context(d);

    if (batch) {
        if (why != NGX_IOTHUB_AMQP_TELEMETRY_OK) {
            batch = (batch & ~(uintptr_t) NGX_IOTHUB_AMQP_BATCH_ERROR) | why;
        }

        batch -= NGX_IOTHUB_AMQP_BATCH_ONE;

        if (batch >= NGX_IOTHUB_AMQP_BATCH_ONE) {
            /* more of the batch to come */
            pn_delivery_set_context(d, (void *) batch);
            return;
        }

        pn_delivery_set_context(d, NULL);
        why = batch & NGX_IOTHUB_AMQP_BATCH_ERROR;
    }

    if (why == NGX_IOTHUB_AMQP_TELEMETRY_OK) {
        ngx_iothub_amqp_settle(d, PN_ACCEPTED, NULL, NULL);

    } else {
        ngx_iothub_amqp_settle(d, PN_REJECTED,
                               ngx_iothub_amqp_conditions[why],
                               batch ? "a message of the batch was refused"
                                     : "the hub's store failed");
    }

    if (pn_link_state(link) == (PN_LOCAL_ACTIVE | PN_REMOTE_ACTIVE)) {
        pn_link_flow(link, 1);
    }

    ngx_iothub_amqp_run(dev->ctx);
}


static ngx_pool_t *
ngx_iothub_amqp_scratch_pool(void)
{
    /* the worker's: a connection's log would go with the connection */

    if (ngx_iothub_amqp_scratch == NULL) {
        ngx_iothub_amqp_scratch = ngx_create_pool(4096, ngx_cycle->log);
    }

    return ngx_iothub_amqp_scratch;
}


/* at the worker's exit */

void
ngx_iothub_amqp_telemetry_exit(void)
{
    if (ngx_iothub_amqp_scratch) {
        ngx_destroy_pool(ngx_iothub_amqp_scratch);
        ngx_iothub_amqp_scratch = NULL;
    }

    ngx_iothub_amqp_message_exit();
}
