
/*
 * nginx-iothub: protocol engines carried over WebSocket.
 *
 * The http module terminates WebSocket connections on /$iothub/websocket
 * (and /$servicebus/websocket) and picks an engine by the subprotocol the
 * client asks for ("mqtt", "AMQPWSB10").  Engines register here, in the
 * core module, when their module initializes, so that neither module
 * links against the other and they may load in any order after the core
 * module.
 *
 * The transport hands the engine unframed bytes: recv and send have the
 * semantics of c->recv and c->send (a count, 0 at the end of the stream,
 * NGX_AGAIN or NGX_ERROR); finalize ends the connection once the engine
 * closed its session (from the engine's close path, once): the transport
 * frees the connection, and the engine's memory in its pool, later, from
 * a posted event, so the engine may still touch its context on the way
 * out.  The engine
 * still uses t->connection for its log, pool, TLS state and its read and
 * write events, which it may post: the transport's handlers call back
 * into the engine's read and write.
 */


#ifndef _NGX_IOTHUB_WS_ENGINE_H_INCLUDED_
#define _NGX_IOTHUB_WS_ENGINE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"


typedef struct ngx_iothub_ws_transport_s  ngx_iothub_ws_transport_t;


/* what an engine needs from the location that serves it */
typedef struct {
    ngx_iothub_hub_t               *hub;
    size_t                          max_packet_size;
    size_t                          send_limit;
    ngx_msec_t                      connect_timeout;
} ngx_iothub_ws_settings_t;


struct ngx_iothub_ws_transport_s {
    ngx_connection_t               *connection;
    ngx_iothub_ws_settings_t       *settings;

    ssize_t                       (*recv)(ngx_iothub_ws_transport_t *t,
                                          u_char *buf, size_t size);
    ssize_t                       (*send)(ngx_iothub_ws_transport_t *t,
                                          u_char *buf, size_t len);
    void                          (*finalize)(ngx_iothub_ws_transport_t *t);

    void                           *engine_data;   /* the engine's session */
};


typedef enum {
    NGX_IOTHUB_WS_ABORT = 0,        /* the connection failed */
    NGX_IOTHUB_WS_SHUTDOWN          /* nginx is stopping or reloading */
} ngx_iothub_ws_close_e;


typedef struct {
    /*
     * Starts a session on a new connection: sets t->engine_data.  On
     * NGX_ERROR the engine has called t->finalize already, or never will
     * (nothing started).
     */
    ngx_int_t                     (*start)(ngx_iothub_ws_transport_t *t);

    /*
     * The connection is readable (or the engine posted its read event):
     * the engine reads through t->recv.  NGX_DONE when the session closed
     * (t is gone), else the transport handles the read event.
     */
    ngx_int_t                     (*read)(ngx_iothub_ws_transport_t *t);

    /* the connection is writable: the engine writes through t->send */
    void                          (*write)(ngx_iothub_ws_transport_t *t);

    /* the transport ends the session; the engine calls t->finalize */
    void                          (*close)(ngx_iothub_ws_transport_t *t,
                                           ngx_iothub_ws_close_e how,
                                           const char *why);
} ngx_iothub_ws_engine_t;


/*
 * Registers the engine for a subprotocol (matched case-insensitively) in
 * the configuration being loaded; a module calls it from init_module.  A
 * subprotocol registered twice is an error.
 */
ngx_int_t ngx_iothub_ws_engine_register(ngx_cycle_t *cycle,
    const char *subprotocol, ngx_iothub_ws_engine_t *engine);

/* The engine of a subprotocol in the running configuration, or NULL. */
ngx_iothub_ws_engine_t *ngx_iothub_ws_engine_find(u_char *name, size_t len);


#endif /* _NGX_IOTHUB_WS_ENGINE_H_INCLUDED_ */
