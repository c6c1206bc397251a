
/*
 * nginx-iothub: the transports of the device protocol engines, once for
 * MQTT and AMQP (ngx_iothub_engine_io.h).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub_engine_io.h"
#include "ngx_iothub_ws_engine.h"


static ssize_t ngx_iothub_engine_ws_recv(ngx_connection_t *c, void *data,
    u_char *buf, size_t size);
static ssize_t ngx_iothub_engine_ws_send(ngx_connection_t *c, void *data,
    u_char *buf, size_t len);
static void ngx_iothub_engine_ws_finalize(void *data);
static ngx_uint_t ngx_iothub_conn_ssl_pending(ngx_connection_t *c);


ngx_iothub_engine_io_t  ngx_iothub_engine_ws_io = {
    ngx_iothub_engine_ws_recv,
    ngx_iothub_engine_ws_send,
    ngx_iothub_engine_ws_finalize
};


static ssize_t
ngx_iothub_engine_ws_recv(ngx_connection_t *c, void *data, u_char *buf,
    size_t size)
{
    ngx_iothub_ws_transport_t  *t = data;

    return t->recv(t, buf, size);
}


static ssize_t
ngx_iothub_engine_ws_send(ngx_connection_t *c, void *data, u_char *buf,
    size_t len)
{
    ngx_iothub_ws_transport_t  *t = data;

    return t->send(t, buf, len);
}


static void
ngx_iothub_engine_ws_finalize(void *data)
{
    ngx_iothub_ws_transport_t  *t = data;

    ngx_iothub_conn_no_wait_shutdown(t->connection);
    t->finalize(t);
}


void
ngx_iothub_conn_no_wait_shutdown(ngx_connection_t *c)
{
#if (NGX_SSL)
    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
    }
#endif
}


ssize_t
ngx_iothub_engine_stream_recv(ngx_connection_t *c, void *data, u_char *buf,
    size_t size)
{
    return ngx_iothub_conn_recv(c, buf, size);
}


ssize_t
ngx_iothub_conn_recv(ngx_connection_t *c, u_char *buf, size_t size)
{
    if (!c->read->ready && !ngx_iothub_conn_ssl_pending(c)) {
        return NGX_AGAIN;
    }

    return c->recv(c, buf, size);
}


static ngx_uint_t
ngx_iothub_conn_ssl_pending(ngx_connection_t *c)
{
#if (NGX_SSL)
    if (c->ssl) {
        return SSL_has_pending(c->ssl->connection);
    }
#endif

    return 0;
}


ssize_t
ngx_iothub_engine_stream_send(ngx_connection_t *c, void *data, u_char *buf,
    size_t len)
{
    return c->send(c, buf, len);
}


void
ngx_iothub_conn_moving_writes(ngx_connection_t *c)
{
#if (NGX_SSL)
    if (c->ssl) {
        SSL_set_mode(c->ssl->connection, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
#endif
}
