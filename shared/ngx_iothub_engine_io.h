
/*
 * nginx-iothub: how a device protocol engine (MQTT, AMQP) moves its bytes.
 *
 * An engine reads and writes through a transport: a TCP or TLS connection
 * of nginx's stream module, or the http module's WebSocket transport
 * (ngx_iothub_ws_engine.h).  recv and send have the semantics of c->recv
 * and c->send (a count, 0 at the end of the stream, NGX_AGAIN or
 * NGX_ERROR); finalize ends the connection once the engine closed its
 * session.  data is what the transport set up with the session (the
 * engine's ctx->transport_data): the stream session, or the
 * ngx_iothub_ws_transport_t.
 */


#ifndef _NGX_IOTHUB_ENGINE_IO_H_INCLUDED_
#define _NGX_IOTHUB_ENGINE_IO_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


typedef struct {
    ssize_t                       (*recv)(ngx_connection_t *c, void *data,
                                          u_char *buf, size_t size);
    ssize_t                       (*send)(ngx_connection_t *c, void *data,
                                          u_char *buf, size_t len);
    void                          (*finalize)(void *data);
} ngx_iothub_engine_io_t;


/*
 * The WebSocket transport, for every engine: data is the
 * ngx_iothub_ws_transport_t the engine's start was given.
 */
extern ngx_iothub_engine_io_t  ngx_iothub_engine_ws_io;


/*
 * recv and send on a stream connection (plain or TLS), for the stream
 * modules' transports, which finalize the stream session themselves.
 * recv is ngx_iothub_conn_recv().
 */
ssize_t ngx_iothub_engine_stream_recv(ngx_connection_t *c, void *data,
    u_char *buf, size_t size);
ssize_t ngx_iothub_engine_stream_send(ngx_connection_t *c, void *data,
    u_char *buf, size_t len);

/*
 * c->recv, but NGX_AGAIN without a read() when the last read ended on
 * EAGAIN and OpenSSL holds nothing: the next read event says when there
 * is more (a session resuming after a Redis reply would otherwise pay a
 * system call only to learn that nothing came).  The stream transports
 * and the WebSocket transport read their connections with it.
 */
ssize_t ngx_iothub_conn_recv(ngx_connection_t *c, u_char *buf, size_t size);

/*
 * The hub ends a device's connection: its TLS close_notify goes out and
 * the connection closes without waiting for the client's.  A client that
 * is still sending (a device publishing while a newer connection takes
 * over) would otherwise make SSL_shutdown() read its data and fail with
 * "application data after close notify", which nginx logs at crit.
 */
void ngx_iothub_conn_no_wait_shutdown(ngx_connection_t *c);

/*
 * Lets OpenSSL take a write it is waiting to finish from a buffer that
 * moved: the engines' and the WebSocket transport's output buffers grow
 * (and move) while the client does not read, the bytes not yet written
 * first.  Without it, OpenSSL fails the retry ("bad write retry") and the
 * connection of a slow client ends.  Every connection an engine or the
 * WebSocket transport writes to is set up with it.
 */
void ngx_iothub_conn_moving_writes(ngx_connection_t *c);


#endif /* _NGX_IOTHUB_ENGINE_IO_H_INCLUDED_ */
