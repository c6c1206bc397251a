
/*
 * nginx-iothub: the AMQP 1.0 endpoint (amqp.md).  Qpid Proton's
 * connection driver holds the protocol state of a connection; nginx's
 * event loop feeds it bytes and writes what it produces.  Every identity
 * authenticated on a connection (a CBS token each, or the TLS client
 * certificate) is a device session of the shared layer; a back end's
 * policy token is the connection's service claim.
 */


#ifndef _NGX_IOTHUB_AMQP_H_INCLUDED_
#define _NGX_IOTHUB_AMQP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include <proton/connection_driver.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>

#include "ngx_iothub.h"
#include "ngx_iothub_engine_io.h"
#include "ngx_iothub_eventhub.h"
#include "ngx_iothub_session.h"
#include "ngx_iothub_amqp_address.h"
#include "ngx_iothub_amqp_batch.h"
#include "ngx_iothub_amqp_sections.h"


/* the largest message a device may send: 256 KB of body and its header */
#define NGX_IOTHUB_AMQP_MAX_MESSAGE  (NGX_IOTHUB_D2C_MAX_SIZE + 64 * 1024)
#define NGX_IOTHUB_AMQP_CBS_CREDIT   8
#define NGX_IOTHUB_AMQP_LINKS_MAX    16     /* per identity */

/* the directives' defaults, also the settings of AMQP over WebSocket */
#define NGX_IOTHUB_AMQP_IDLE_TIMEOUT      240000  /* edgeHub's (amqp.md 1.2) */
#define NGX_IOTHUB_AMQP_MAX_FRAME_SIZE    65536
#define NGX_IOTHUB_AMQP_TELEMETRY_CREDIT  64
#define NGX_IOTHUB_AMQP_MAX_IDENTITIES    100

/*
 * Output waiting for a client that does not read, past which what may be
 * lost (a method request: the caller times out; a desired notification:
 * the device GETs the twin) is not sent, as MQTT drops QoS 0 past
 * iothub_mqtt_send_limit's default
 */
#define NGX_IOTHUB_AMQP_LAGGING_OUTPUT    (1024 * 1024)


typedef struct ngx_iothub_amqp_ctx_s     ngx_iothub_amqp_ctx_t;
typedef struct ngx_iothub_amqp_device_s  ngx_iothub_amqp_device_t;
typedef struct ngx_iothub_amqp_service_s  ngx_iothub_amqp_service_t;
typedef struct ngx_iothub_amqp_sender_s  ngx_iothub_amqp_sender_t;
typedef struct ngx_iothub_amqp_batch_tag_s  ngx_iothub_amqp_batch_tag_t;


typedef struct {
    ngx_iothub_hub_t               *hub;
    ngx_msec_t                      idle_timeout;
    size_t                          max_frame_size;
    ngx_uint_t                      telemetry_credit;
    ngx_uint_t                      max_identities;
} ngx_stream_iothub_amqp_srv_conf_t;


/* what the engine tells the link meanings (ngx_iothub_amqp_device.c) */
typedef struct {
    void                          (*link_open)(ngx_iothub_amqp_ctx_t *ctx,
                                               pn_link_t *link);
    void                          (*link_closed)(ngx_iothub_amqp_ctx_t *ctx,
                                                 pn_link_t *link);
    void                          (*flow)(ngx_iothub_amqp_ctx_t *ctx,
                                          pn_link_t *link);
    void                          (*delivery)(ngx_iothub_amqp_ctx_t *ctx,
                                              pn_delivery_t *d);
    void                          (*closed)(ngx_iothub_amqp_ctx_t *ctx);
} ngx_iothub_amqp_events_t;


/*
 * One key of an AMQP map and data on its value (ngx_iothub_amqp_map_each):
 * NGX_OK for the next key, NGX_DONE to stop, NGX_ERROR.
 */
typedef ngx_int_t (*ngx_iothub_amqp_map_entry_pt)(pn_atom_t *key,
    pn_data_t *value, void *arg);


/* an identity on the connection: one device session */
struct ngx_iothub_amqp_device_s {
    ngx_queue_t                     queue;       /* in ctx->devices */
    ngx_pool_t                     *pool;        /* the session's, too */
    ngx_iothub_amqp_ctx_t          *ctx;
    ngx_iothub_session_t            session;
    ngx_iothub_amqp_addr_t         *id;          /* ids, in pool */

    pn_link_t                      *c2d_link;
    pn_delivery_t                  *c2d_delivery;
    uint64_t                        c2d_tag;

    pn_atom_t                       cbs_id;      /* put-token to answer */
    ngx_uint_t                      nlinks;

    ngx_queue_t                     twin_ops;    /* oldest first */
    ngx_uint_t                      ntwin_ops;

    pn_link_t                      *method_link; /* requests go out on it */
    ngx_queue_t                     method_ids;  /* correlation-id -> rid */
    ngx_uint_t                      nmethod_ids;

    unsigned                        connected:1;
    unsigned                        renewing:1;
    unsigned                        cbs_pending:1;
    unsigned                        sasl_pending:1; /* PLAIN's outcome */
};


/* what a link is; pn_link_get_context() */
typedef struct {
    ngx_iothub_amqp_addr_e          kind;
    ngx_iothub_amqp_device_t       *device;      /* NULL: CBS, or gone */
    unsigned                        opened:1;
} ngx_iothub_amqp_link_t;


struct ngx_iothub_amqp_ctx_s {
    ngx_connection_t               *connection;
    ngx_iothub_engine_io_t         *transport;
    ngx_iothub_amqp_events_t       *events;
    void                           *transport_data;
    ngx_stream_iothub_amqp_srv_conf_t  *conf;
    ngx_iothub_hub_t               *hub;

    pn_connection_driver_t          driver;
    ngx_event_t                     tick;        /* pn_transport_tick */
    ngx_event_t                     finalize;    /* after a close */

    ngx_queue_t                     devices;
    ngx_uint_t                      ndevices;

    /* the transfers' message-formats (ngx_iothub_amqp_formats.c) */
    ngx_iothub_amqp_scan_t          scan;
    ngx_iothub_amqp_sender_t       *senders;     /* client senders */
    ngx_uint_t                      nsenders;
    ngx_uint_t                      senders_alloc;
    ngx_iothub_amqp_batch_tag_t    *batches;     /* not yet read */
    ngx_uint_t                      nbatches;
    ngx_uint_t                      batches_alloc;

    ngx_iothub_amqp_service_t      *service;     /* a back end's claim */
    void                           *eventhub;    /* Event Hubs tokens */

    unsigned                        started:1;
    unsigned                        running:1;
    unsigned                        closed:1;
    unsigned                        client_cert:1;
};


/* ngx_stream_iothub_amqp_module.c */
void ngx_iothub_amqp_init_session(ngx_stream_session_t *s);
extern ngx_module_t  ngx_stream_iothub_amqp_module;

/* ngx_iothub_amqp_handler.c: the engine */
ngx_int_t ngx_iothub_amqp_start(ngx_iothub_amqp_ctx_t *ctx);
ngx_int_t ngx_iothub_amqp_input(ngx_iothub_amqp_ctx_t *ctx, u_char *buf,
    size_t n);
void ngx_iothub_amqp_read(ngx_iothub_amqp_ctx_t *ctx);
void ngx_iothub_amqp_flush(ngx_iothub_amqp_ctx_t *ctx);
void ngx_iothub_amqp_run(ngx_iothub_amqp_ctx_t *ctx);
void ngx_iothub_amqp_close(ngx_iothub_amqp_ctx_t *ctx, const char *why);
void ngx_iothub_amqp_open_link(pn_link_t *link);
void ngx_iothub_amqp_refuse_link(pn_link_t *link, const char *condition,
    const char *description);
void ngx_iothub_amqp_detach(pn_link_t *link, const char *condition,
    const char *description);
ngx_uint_t ngx_iothub_amqp_client_cert(ngx_connection_t *c);
ngx_uint_t ngx_iothub_amqp_lagging(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link);

/* ngx_iothub_amqp_ws.c: the engine over WebSocket, as "AMQPWSB10" */
ngx_int_t ngx_iothub_amqp_ws_init_module(ngx_cycle_t *cycle);

/* ngx_iothub_amqp_formats.c: which transfers are batches */
void ngx_iothub_amqp_formats_scan(ngx_iothub_amqp_ctx_t *ctx, u_char *p,
    size_t n);
ngx_uint_t ngx_iothub_amqp_formats_batch(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link, pn_delivery_t *d);
void ngx_iothub_amqp_formats_free(ngx_iothub_amqp_ctx_t *ctx);

/* ngx_iothub_amqp_sasl.c */
void ngx_iothub_amqp_sasl_init(ngx_iothub_amqp_ctx_t *ctx);
void ngx_iothub_amqp_sasl_outcome(ngx_iothub_amqp_ctx_t *ctx, ngx_uint_t ok);

/* ngx_iothub_amqp_device.c: CBS, identities, links */
extern ngx_iothub_amqp_events_t  ngx_iothub_amqp_events;
ngx_int_t ngx_iothub_amqp_plain_device(ngx_iothub_amqp_ctx_t *ctx,
    ngx_iothub_amqp_addr_t *a, pn_bytes_t *token);

/* ngx_iothub_amqp_telemetry.c: telemetry, single and batched */
void ngx_iothub_amqp_telemetry(ngx_iothub_amqp_device_t *dev,
    pn_link_t *link, pn_delivery_t *d);
void ngx_iothub_amqp_telemetry_exit(void);

/* ngx_iothub_amqp_message.c: message fields, cloud-to-device messages */
ngx_int_t ngx_iothub_amqp_message_fields(ngx_pool_t *pool,
    ngx_iothub_amqp_sections_t *sections, ngx_iothub_message_t *msg,
    const char **error);
u_char *ngx_iothub_amqp_recv_bytes(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link, pn_delivery_t *d, size_t *n, const char **error);
void ngx_iothub_amqp_message_exit(void);
ngx_int_t ngx_iothub_amqp_c2d_deliver(ngx_iothub_session_t *s,
    ngx_iothub_c2d_message_t *msg);
void ngx_iothub_amqp_c2d_outcome(ngx_iothub_amqp_device_t *dev,
    pn_delivery_t *d);
ngx_uint_t ngx_iothub_amqp_transfer_complete(pn_link_t *link,
    pn_delivery_t *d);
pn_message_t *ngx_iothub_amqp_recv_message(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link, pn_delivery_t *d, const char **error);
ngx_int_t ngx_iothub_amqp_send_message(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link, pn_message_t *m, u_char *tag, size_t tag_len,
    ngx_uint_t settled, pn_delivery_t **out);
ngx_int_t ngx_iothub_amqp_map_each(pn_data_t *data,
    ngx_iothub_amqp_map_entry_pt entry, void *arg);
ngx_int_t ngx_iothub_amqp_send_status(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link, pn_message_t *m, pn_atom_t *id, int status,
    const char *description, const char *condition);
u_char *ngx_iothub_amqp_send_buffer(size_t size);
ngx_int_t ngx_iothub_amqp_send_bytes(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link, u_char *p, size_t n, u_char *tag, size_t tag_len,
    ngx_uint_t settled, pn_delivery_t **out);
void ngx_iothub_amqp_settle(pn_delivery_t *d, uint64_t outcome,
    const char *condition, const char *description);
ngx_int_t ngx_iothub_amqp_atom_text(ngx_pool_t *pool, pn_atom_t atom,
    ngx_str_t *out);

/* ngx_iothub_amqp_service.c: a back end's links on the hub (amqp.md 9) */
#define ngx_iothub_amqp_service_kind(kind)                                   \
    ((kind) == NGX_IOTHUB_AMQP_ADDR_SERVICE_C2D                               \
     || (kind) == NGX_IOTHUB_AMQP_ADDR_FEEDBACK                              \
     || (kind) == NGX_IOTHUB_AMQP_ADDR_FILE_NOTIFICATIONS)

int ngx_iothub_amqp_service_put_token(ngx_iothub_amqp_ctx_t *ctx,
    pn_bytes_t *audience, pn_bytes_t *token, const char **description);
void ngx_iothub_amqp_service_link(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link, ngx_iothub_amqp_link_t *lc);
void ngx_iothub_amqp_service_link_closed(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link);
void ngx_iothub_amqp_service_flow(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link);
void ngx_iothub_amqp_service_delivery(ngx_iothub_amqp_ctx_t *ctx,
    pn_delivery_t *d);
void ngx_iothub_amqp_service_closed(ngx_iothub_amqp_ctx_t *ctx);

/* ngx_iothub_amqp_twin.c: twin requests, desired notifications */
void ngx_iothub_amqp_twin_link(ngx_iothub_amqp_device_t *dev,
    pn_link_t *link);
void ngx_iothub_amqp_twin_request(ngx_iothub_amqp_device_t *dev,
    pn_link_t *link, pn_delivery_t *d);
void ngx_iothub_amqp_twin_cancel(ngx_iothub_amqp_device_t *dev);
void ngx_iothub_amqp_subscribed(ngx_iothub_session_t *s, void *arg);
void ngx_iothub_amqp_desired(ngx_iothub_session_t *s, ngx_int_t version,
    ngx_str_t *patch);

/* ngx_iothub_amqp_method.c: direct methods */
void ngx_iothub_amqp_method_link(ngx_iothub_amqp_device_t *dev,
    pn_link_t *link);
void ngx_iothub_amqp_method_links(ngx_iothub_amqp_device_t *dev);
void ngx_iothub_amqp_method_response(ngx_iothub_amqp_device_t *dev,
    pn_link_t *link, pn_delivery_t *d);
void ngx_iothub_amqp_method_cancel(ngx_iothub_amqp_device_t *dev);
void ngx_iothub_amqp_method(ngx_iothub_session_t *s,
    ngx_iothub_session_method_t *m);

/* ngx_iothub_amqp_eventhub.c: the Event Hubs-compatible endpoint */
ngx_int_t ngx_iothub_amqp_eh_init_conf(ngx_conf_t *cf);
ngx_int_t ngx_iothub_amqp_eh_put_token(ngx_iothub_amqp_ctx_t *ctx,
    pn_bytes_t *audience, pn_bytes_t *token, const char **description);
ngx_int_t ngx_iothub_amqp_eh_link_open(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link, const char *addr);
void ngx_iothub_amqp_eh_link_closed(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link);
void ngx_iothub_amqp_eh_flow(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link);
void ngx_iothub_amqp_eh_delivery(ngx_iothub_amqp_ctx_t *ctx,
    pn_delivery_t *d);
void ngx_iothub_amqp_eh_closed(ngx_iothub_amqp_ctx_t *ctx);

/* ngx_iothub_amqp_eh_event.c: an event's message, in the send buffer */
u_char *ngx_iothub_amqp_eh_encode(ngx_iothub_eh_event_t *ev, size_t *n);

/* ngx_iothub_amqp_eh_attach.c: a receiver's start and epoch (-1: none) */
ngx_int_t ngx_iothub_amqp_eh_filter(pn_terminus_t *source,
    ngx_iothub_eh_from_e *from, int64_t *n);
ngx_int_t ngx_iothub_amqp_eh_epoch(pn_link_t *link, int64_t *epoch);


#endif /* _NGX_IOTHUB_AMQP_H_INCLUDED_ */
