
/*
 * nginx-iothub: the WebSocket endpoint (/$iothub/websocket on 443): the
 * opening handshake, then a transport that terminates WebSocket and
 * carries a protocol engine (MQTT, AMQP) chosen by subprotocol from
 * the core module's registry (ngx_iothub_ws_engine.h).
 *
 * After the 101 answer the request is freed, as a keep-alive connection
 * frees it, and the connection's read and write handlers become the
 * transport's: an idle device keeps the connection, the transport and
 * the engine's session, no request.
 *
 *   handshake --101--> takeover --> engine running --finalize--> closing
 *                                                  (close frame, then the
 *                                                   connection is closed)
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_iothub.h"
#include "ngx_iothub_conf_hub.h"
#include "ngx_iothub_engine_io.h"
#include "ngx_iothub_ws_engine.h"
#include "ngx_iothub_ws_codec.h"
#include "ngx_http_iothub_module.h"


/* one frame per send: a TLS record's worth with its 4-byte header */
#define NGX_HTTP_IOTHUB_WS_FRAME       (16384 - 4)

/* pongs are dropped while this much output waits (RFC 6455 5.5.3) */
#define NGX_HTTP_IOTHUB_WS_PONG_ROOM   4096

/* how long a close frame may take to leave */
#define NGX_HTTP_IOTHUB_WS_LINGER      5000


typedef struct {
    ngx_iothub_ws_settings_t         settings;    /* hub NULL: not here */
} ngx_http_iothub_ws_loc_conf_t;


typedef struct {
    ngx_iothub_ws_transport_t        t;           /* first: the engine's */
    ngx_iothub_ws_engine_t          *engine;
    ngx_iothub_ws_decoder_t          decoder;

    /* the 101 answer and frames not yet written */
    u_char                          *out;
    size_t                           out_pos;
    size_t                           out_len;
    size_t                           out_size;

    /* what the client sent after its request, before the takeover */
    u_char                          *pre;
    size_t                           pre_pos;
    size_t                           pre_len;

    /* our close frame */
    ngx_uint_t                       close_code;
    const char                      *close_reason;

    unsigned                         finalized:1; /* the engine closed */
    unsigned                         peer_closed:1;
} ngx_http_iothub_ws_ctx_t;


static ngx_int_t ngx_http_iothub_ws_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_iothub_ws_check(ngx_http_request_t *r,
    u_char *accept, ngx_str_t *protocol, ngx_iothub_ws_engine_t **engine);
static ngx_int_t ngx_http_iothub_ws_select(ngx_http_request_t *r,
    ngx_str_t *protocol, ngx_iothub_ws_engine_t **engine);
static ngx_int_t ngx_http_iothub_ws_version(ngx_http_request_t *r);
static ngx_int_t ngx_http_iothub_ws_answer(ngx_http_request_t *r,
    ngx_http_iothub_ws_ctx_t *ctx, u_char *accept, ngx_str_t *protocol);
static void ngx_http_iothub_ws_takeover(ngx_event_t *wev);
static void ngx_http_iothub_ws_free_headers(ngx_connection_t *c,
    ngx_http_connection_t *hc);
static void ngx_http_iothub_ws_read_handler(ngx_event_t *rev);
static void ngx_http_iothub_ws_write_handler(ngx_event_t *wev);
static ssize_t ngx_http_iothub_ws_recv(ngx_iothub_ws_transport_t *t,
    u_char *buf, size_t size);
static ssize_t ngx_http_iothub_ws_decode(ngx_http_iothub_ws_ctx_t *ctx,
    u_char *buf, size_t n);
static void ngx_http_iothub_ws_pong(ngx_http_iothub_ws_ctx_t *ctx);
static ssize_t ngx_http_iothub_ws_send(ngx_iothub_ws_transport_t *t,
    u_char *buf, size_t len);
static u_char *ngx_http_iothub_ws_reserve(ngx_http_iothub_ws_ctx_t *ctx,
    size_t len);
static ngx_int_t ngx_http_iothub_ws_flush(ngx_http_iothub_ws_ctx_t *ctx);
static void ngx_http_iothub_ws_finalize(ngx_iothub_ws_transport_t *t);
static void ngx_http_iothub_ws_cleanup(void *data);
static void *ngx_http_iothub_ws_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_iothub_ws_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_iothub_ws(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_http_iothub_ws_commands[] = {

    { ngx_string("iothub_websocket"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_iothub_ws,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iothub_websocket_max_packet_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_iothub_ws_loc_conf_t, settings.max_packet_size),
      NULL },

    { ngx_string("iothub_websocket_send_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_iothub_ws_loc_conf_t, settings.send_limit),
      NULL },

    { ngx_string("iothub_websocket_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_iothub_ws_loc_conf_t, settings.connect_timeout),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_iothub_ws_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_iothub_ws_create_loc_conf,    /* create location configuration */
    ngx_http_iothub_ws_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_iothub_websocket_module = {
    NGX_MODULE_V1,
    &ngx_http_iothub_ws_module_ctx,        /* module context */
    ngx_http_iothub_ws_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* the opening handshake (RFC 6455 4.2) */

static ngx_int_t
ngx_http_iothub_ws_handler(ngx_http_request_t *r)
{
    u_char                          accept[NGX_IOTHUB_WS_ACCEPT_LEN];
    ngx_int_t                       rc;
    ngx_str_t                       protocol;
    ngx_connection_t               *c;
    ngx_pool_cleanup_t             *cln;
    ngx_iothub_ws_engine_t         *engine;
    ngx_http_iothub_ws_ctx_t       *ctx;
    ngx_http_iothub_ws_loc_conf_t  *wlcf;

    c = r->connection;
    c->log->action = "opening a WebSocket";

    /* a client that asked for an upgrade gets it or the connection ends */
    r->keepalive = 0;

    ngx_str_null(&protocol);
    engine = NULL;

    /* each step answers NGX_DECLINED to go on, or the response's rc */

    rc = ngx_http_iothub_ws_check(r, accept, &protocol, &engine);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_iothub_websocket_module);

    /* the transport outlives the request: it lives in the connection */

    ctx = ngx_pcalloc(c->pool, sizeof(ngx_http_iothub_ws_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(c->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_iothub_ws_cleanup;
    cln->data = ctx;

    ctx->t.connection = c;
    ctx->t.settings = &wlcf->settings;
    ctx->t.recv = ngx_http_iothub_ws_recv;
    ctx->t.send = ngx_http_iothub_ws_send;
    ctx->t.finalize = ngx_http_iothub_ws_finalize;
    ctx->engine = engine;

    ngx_iothub_ws_decoder_init(&ctx->decoder, wlcf->settings.max_packet_size);

    if (ngx_http_iothub_ws_answer(r, ctx, accept, &protocol) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_iothub_websocket_module);

    /*
     * The request ends once this handler returned: the takeover runs
     * from the posted write event, outside the http machinery.
     */
    r->main->count++;
    r->headers_out.status = NGX_HTTP_SWITCHING_PROTOCOLS;

    c->write->handler = ngx_http_iothub_ws_takeover;
    ngx_post_event(c->write, &ngx_posted_events);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_iothub_ws_check(ngx_http_request_t *r, u_char *accept,
    ngx_str_t *protocol, ngx_iothub_ws_engine_t **engine)
{
    ngx_uint_t        n;
    ngx_table_elt_t  *h;

    if (r->method != NGX_HTTP_GET) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iothub websocket: method %V instead of GET",
                      &r->method_name);
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (r != r->main || r->http_version != NGX_HTTP_VERSION_11
#if (NGX_HTTP_V2)
        || r->stream != NULL
#endif
       )
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iothub websocket: not an HTTP/1.1 request");
        return NGX_HTTP_BAD_REQUEST;
    }

    if (r->headers_in.content_length_n > 0 || r->headers_in.chunked) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iothub websocket: a handshake with a body");
        return NGX_HTTP_BAD_REQUEST;
    }

    h = ngx_http_iothub_find_header(r, "Upgrade", &n);
    if (h == NULL
        || !ngx_iothub_ws_list_has(h->value.data, h->value.len, "websocket"))
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iothub websocket: no \"Upgrade: websocket\"");
        return NGX_HTTP_BAD_REQUEST;
    }

    h = ngx_http_iothub_find_header(r, "Connection", &n);
    if (h == NULL
        || !ngx_iothub_ws_list_has(h->value.data, h->value.len, "upgrade"))
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iothub websocket: no \"Connection: Upgrade\"");
        return NGX_HTTP_BAD_REQUEST;
    }

    h = ngx_http_iothub_find_header(r, "Sec-WebSocket-Version", &n);
    if (h == NULL || n != 1) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iothub websocket: no Sec-WebSocket-Version");
        return NGX_HTTP_BAD_REQUEST;
    }

    if (h->value.len != 2 || ngx_strncmp(h->value.data, "13", 2) != 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iothub websocket: version \"%V\" not supported",
                      &h->value);
        return ngx_http_iothub_ws_version(r);
    }

    h = ngx_http_iothub_find_header(r, "Sec-WebSocket-Key", &n);
    if (h == NULL || n != 1) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iothub websocket: %s Sec-WebSocket-Key",
                      h == NULL ? "no" : "more than one");
        return NGX_HTTP_BAD_REQUEST;
    }

    if (ngx_iothub_ws_accept(h->value.data, h->value.len, accept) != 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iothub websocket: invalid Sec-WebSocket-Key \"%V\"",
                      &h->value);
        return NGX_HTTP_BAD_REQUEST;
    }

    return ngx_http_iothub_ws_select(r, protocol, engine);
}


/* RFC 6455 4.4: 426 naming the version we speak */

static ngx_int_t
ngx_http_iothub_ws_version(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Sec-WebSocket-Version");
    ngx_str_set(&h->value, "13");

    r->headers_out.status = 426;
    ngx_str_set(&r->headers_out.status_line, "426 Upgrade Required");
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


/*
 * The first subprotocol the client offers that an engine speaks, in the
 * client's order, over every Sec-WebSocket-Protocol line; the answer
 * names it as the client spelled it ("mqtt" or "MQTT").
 */

static ngx_int_t
ngx_http_iothub_ws_select(ngx_http_request_t *r, ngx_str_t *protocol,
    ngx_iothub_ws_engine_t **engine)
{
    int                             rc;
    size_t                          len;
    ngx_uint_t                      offered;
    ngx_table_elt_t                *h;
    const u_char                   *p, *last, *token;
    ngx_http_iothub_header_iter_t   it;

    offered = 0;
    ngx_memzero(&it, sizeof(ngx_http_iothub_header_iter_t));

    while ((h = ngx_http_iothub_next_header(r, &it, "Sec-WebSocket-Protocol"))
           != NULL)
    {
        p = h->value.data;
        last = p + h->value.len;

        while ((rc = ngx_iothub_ws_next_token(&p, last, &token, &len)) == 1) {
            offered = 1;

            *engine = ngx_iothub_ws_engine_find((u_char *) token, len);

            if (*engine != NULL) {
                protocol->data = (u_char *) token;
                protocol->len = len;
                return NGX_DECLINED;
            }
        }

        if (rc == -1) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "iothub websocket: malformed "
                          "Sec-WebSocket-Protocol \"%V\"", &h->value);
            return NGX_HTTP_BAD_REQUEST;
        }
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "iothub websocket: %s",
                  offered ? "no subprotocol offered is served here"
                          : "no Sec-WebSocket-Protocol");

    return NGX_HTTP_BAD_REQUEST;
}


/* the 101 answer, written by the transport like any frame */

static ngx_int_t
ngx_http_iothub_ws_answer(ngx_http_request_t *r,
    ngx_http_iothub_ws_ctx_t *ctx, u_char *accept, ngx_str_t *protocol)
{
    u_char  *p;
    size_t   len;

    len = sizeof("HTTP/1.1 101 Switching Protocols" CRLF
                 "Upgrade: websocket" CRLF
                 "Connection: Upgrade" CRLF
                 "Sec-WebSocket-Accept: " CRLF
                 "Sec-WebSocket-Protocol: " CRLF CRLF) - 1
          + NGX_IOTHUB_WS_ACCEPT_LEN + protocol->len;

    p = ngx_http_iothub_ws_reserve(ctx, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(p, "HTTP/1.1 101 Switching Protocols" CRLF
                       "Upgrade: websocket" CRLF
                       "Connection: Upgrade" CRLF
                       "Sec-WebSocket-Accept: %*s" CRLF
                       "Sec-WebSocket-Protocol: %V" CRLF CRLF,
                    (size_t) NGX_IOTHUB_WS_ACCEPT_LEN, accept, protocol);

    /* bytes the client sent without waiting for the answer */

    if (r->header_in->last > r->header_in->pos) {
        ctx->pre_len = r->header_in->last - r->header_in->pos;

        ctx->pre = ngx_alloc(ctx->pre_len, r->connection->log);
        if (ctx->pre == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(ctx->pre, r->header_in->pos, ctx->pre_len);
        r->header_in->pos = r->header_in->last;
    }

    return NGX_OK;
}


/* the request ends; the connection becomes the transport's */

static void
ngx_http_iothub_ws_takeover(ngx_event_t *wev)
{
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_connection_t     *hc;
    ngx_http_iothub_ws_ctx_t  *ctx;

    c = wev->data;
    r = c->data;
    hc = r->http_connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_iothub_websocket_module);

    /* logs the request with its 101, destroys its pool */
    ngx_http_free_request(r, 0);

    c->destroyed = 0;
    c->data = ctx;
    c->idle = 1;

    ngx_iothub_conn_moving_writes(c);

    c->log->action = "serving a WebSocket";

    ngx_http_iothub_ws_free_headers(c, hc);

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    c->read->handler = ngx_http_iothub_ws_read_handler;
    c->write->handler = ngx_http_iothub_ws_write_handler;

    if (ctx->engine->start(&ctx->t) != NGX_OK) {
        if (!ctx->finalized) {
            ctx->close_code = NGX_IOTHUB_WS_INTERNAL_ERROR;
            ngx_http_iothub_ws_finalize(&ctx->t);
        }

        return;
    }

    if (ngx_exiting) {
        /* the shutdown closed idle connections before this one was */
        c->close = 1;
    }

    if (ctx->pre != NULL || c->read->ready || c->close) {
        ngx_post_event(c->read, &ngx_posted_events);
    }

    ngx_http_iothub_ws_write_handler(c->write);
}


/* header buffers go, as on a keep-alive connection */

static void
ngx_http_iothub_ws_free_headers(ngx_connection_t *c,
    ngx_http_connection_t *hc)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl, *ln;

    b = c->buffer;

    if (b != NULL && b->start != NULL
        && ngx_pfree(c->pool, b->start) == NGX_OK)
    {
        b->start = NULL;
        b->pos = NULL;
        b->last = NULL;
        b->end = NULL;
    }

    for (cl = hc->free; cl; /* void */) {
        ln = cl;
        cl = cl->next;
        ngx_pfree(c->pool, ln->buf->start);
        ngx_free_chain(c->pool, ln);
    }

    hc->free = NULL;

    for (cl = hc->busy; cl; /* void */) {
        ln = cl;
        cl = cl->next;
        ngx_pfree(c->pool, ln->buf->start);
        ngx_free_chain(c->pool, ln);
    }

    hc->busy = NULL;
    hc->nbusy = 0;

#if (NGX_HTTP_SSL)
    if (c->ssl) {
        ngx_ssl_free_buffer(c);
    }
#endif
}


static void
ngx_http_iothub_ws_read_handler(ngx_event_t *rev)
{
    ngx_connection_t          *c;
    ngx_http_iothub_ws_ctx_t  *ctx;

    c = rev->data;
    ctx = c->data;

    if (ctx->finalized) {
        /* our close frame is on its way; the peer's answer is not read */
        if (c->close) {
            ngx_http_close_connection(c);
        }

        return;
    }

    if (c->close) {
        /* a graceful shutdown or reload: the device reconnects */
        ctx->close_code = NGX_IOTHUB_WS_GOING_AWAY;
        ctx->engine->close(&ctx->t, NGX_IOTHUB_WS_SHUTDOWN,
                           "server shutting down");
        return;
    }

    if (ctx->engine->read(&ctx->t) == NGX_DONE) {
        return;
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ctx->engine->close(&ctx->t, NGX_IOTHUB_WS_ABORT, NULL);
    }
}


static void
ngx_http_iothub_ws_write_handler(ngx_event_t *wev)
{
    ngx_int_t                  rc;
    ngx_connection_t          *c;
    ngx_http_iothub_ws_ctx_t  *ctx;

    c = wev->data;
    ctx = c->data;

    if (ctx->finalized) {
        /* the close frame leaves, then the connection closes */

        if (!wev->timedout && !c->error
            && ngx_http_iothub_ws_flush(ctx) == NGX_AGAIN
            && ngx_handle_write_event(wev, 0) == NGX_OK)
        {
            return;
        }

        ngx_http_close_connection(c);
        return;
    }

    rc = ngx_http_iothub_ws_flush(ctx);

    if (rc == NGX_ERROR) {
        c->error = 1;
        ctx->engine->close(&ctx->t, NGX_IOTHUB_WS_ABORT,
                           "cannot write to client");
        return;
    }

    /* the engine writes through send(), which waits for our output */
    ctx->engine->write(&ctx->t);
}


/*
 * The engine's recv: reads WebSocket bytes into the engine's buffer and
 * decodes them there; data frames' payloads come out, control frames are
 * answered.  0 once the client closed (a close frame, or end of stream),
 * NGX_ERROR on a protocol error.
 */

static ssize_t
ngx_http_iothub_ws_recv(ngx_iothub_ws_transport_t *t, u_char *buf,
    size_t size)
{
    size_t                     n;
    ssize_t                    rc;
    ngx_connection_t          *c;
    ngx_http_iothub_ws_ctx_t  *ctx;

    ctx = (ngx_http_iothub_ws_ctx_t *) t;
    c = t->connection;

    for ( ;; ) {

        if (ctx->decoder.closed) {
            return ctx->peer_closed ? 0 : NGX_ERROR;
        }

        if (ctx->pre != NULL) {
            n = ngx_min(size, ctx->pre_len - ctx->pre_pos);
            ngx_memcpy(buf, ctx->pre + ctx->pre_pos, n);
            ctx->pre_pos += n;

            if (ctx->pre_pos == ctx->pre_len) {
                ngx_free(ctx->pre);
                ctx->pre = NULL;
            }

        } else {
            /* no read() while nothing came (ngx_iothub_engine_io.h) */
            rc = ngx_iothub_conn_recv(c, buf, size);

            if (rc == NGX_AGAIN || rc == NGX_ERROR || rc == 0) {
                return rc;
            }

            n = rc;
        }

        rc = ngx_http_iothub_ws_decode(ctx, buf, n);

        if (rc > 0) {
            return rc;
        }

        /* headers and control frames only: read on */
    }
}


static ssize_t
ngx_http_iothub_ws_decode(ngx_http_iothub_ws_ctx_t *ctx, u_char *buf,
    size_t n)
{
    size_t                    pos, out, used, produced;
    ngx_iothub_ws_rc_e        rc;
    ngx_iothub_ws_decoder_t  *d;

    d = &ctx->decoder;
    pos = 0;
    out = 0;

    while (pos < n && !d->closed) {
        rc = ngx_iothub_ws_decode(d, buf + pos, n - pos, buf + out, &used,
                                  &produced);
        pos += used;
        out += produced;

        switch (rc) {

        case NGX_IOTHUB_WS_PING:
            ngx_http_iothub_ws_pong(ctx);
            break;

        case NGX_IOTHUB_WS_CLOSE:
            ngx_log_error(NGX_LOG_INFO, ctx->t.connection->log, 0,
                          "iothub websocket: client closed, code %ui",
                          (ngx_uint_t) d->code);

            /* RFC 6455 5.5.1: the answer echoes the code */
            ctx->peer_closed = 1;
            ctx->close_code = d->code;
            break;

        case NGX_IOTHUB_WS_ERROR:
            ngx_log_error(NGX_LOG_INFO, ctx->t.connection->log, 0,
                          "iothub websocket: %s, closing with %ui",
                          d->error, (ngx_uint_t) d->code);

            ctx->close_code = d->code;
            ctx->close_reason = d->error;
            break;

        default: /* NGX_IOTHUB_WS_AGAIN, NGX_IOTHUB_WS_PONG */
            break;
        }
    }

    return out;
}


static void
ngx_http_iothub_ws_pong(ngx_http_iothub_ws_ctx_t *ctx)
{
    u_char            *p;
    ngx_connection_t  *c;

    if (ctx->out_len - ctx->out_pos > NGX_HTTP_IOTHUB_WS_PONG_ROOM) {
        /* a client that pings and does not read gets no more pongs */
        return;
    }

    p = ngx_http_iothub_ws_reserve(ctx, 2 + ctx->decoder.control_len);
    if (p == NULL) {
        return;
    }

    (void) ngx_iothub_ws_pong_frame(p, ctx->decoder.control,
                                    ctx->decoder.control_len);

    c = ctx->t.connection;

    if (!c->write->posted) {
        ngx_post_event(c->write, &ngx_posted_events);
    }
}


/*
 * The engine's send: the engine's bytes become one binary frame, copied
 * into our output, at most NGX_HTTP_IOTHUB_WS_FRAME at a time and only
 * once the previous output left, so the engine's own buffer (and its send
 * limit) holds what the client does not read.
 */

static ssize_t
ngx_http_iothub_ws_send(ngx_iothub_ws_transport_t *t, u_char *buf,
    size_t len)
{
    u_char                    *p;
    size_t                     n, h;
    ngx_int_t                  rc;
    ngx_http_iothub_ws_ctx_t  *ctx;

    ctx = (ngx_http_iothub_ws_ctx_t *) t;

    if (ctx->out_len) {
        rc = ngx_http_iothub_ws_flush(ctx);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    n = ngx_min(len, NGX_HTTP_IOTHUB_WS_FRAME);

    p = ngx_http_iothub_ws_reserve(ctx, NGX_IOTHUB_WS_SERVER_HEADER_MAX + n);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h = ngx_iothub_ws_frame_header(p, NGX_IOTHUB_WS_OP_BINARY, n);
    ngx_memcpy(p + h, buf, n);
    ctx->out_len -= NGX_IOTHUB_WS_SERVER_HEADER_MAX - h;

    if (ngx_http_iothub_ws_flush(ctx) == NGX_ERROR) {
        return NGX_ERROR;
    }

    return n;
}


/* room for len more output bytes; NULL on no memory */

static u_char *
ngx_http_iothub_ws_reserve(ngx_http_iothub_ws_ctx_t *ctx, size_t len)
{
    u_char  *p;
    size_t   size, pending;

    pending = ctx->out_len - ctx->out_pos;

    if (ctx->out_len + len > ctx->out_size) {
        size = ngx_max(pending + len, 256);

        p = ngx_alloc(size, ctx->t.connection->log);
        if (p == NULL) {
            return NULL;
        }

        if (pending) {
            ngx_memcpy(p, ctx->out + ctx->out_pos, pending);
        }

        ngx_free(ctx->out);
        ctx->out = p;
        ctx->out_size = size;
        ctx->out_pos = 0;
        ctx->out_len = pending;
    }

    p = ctx->out + ctx->out_len;
    ctx->out_len += len;

    return p;
}


/* NGX_OK: all written (the buffer is freed), NGX_AGAIN, NGX_ERROR */

static ngx_int_t
ngx_http_iothub_ws_flush(ngx_http_iothub_ws_ctx_t *ctx)
{
    ssize_t            n;
    ngx_connection_t  *c;

    c = ctx->t.connection;

    while (ctx->out_pos < ctx->out_len) {
        n = c->send(c, ctx->out + ctx->out_pos, ctx->out_len - ctx->out_pos);

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (n == NGX_AGAIN || n == 0) {
            return NGX_AGAIN;
        }

        ctx->out_pos += n;
    }

    /* an idle connection keeps no output buffer */

    ngx_free(ctx->out);
    ctx->out = NULL;
    ctx->out_pos = 0;
    ctx->out_len = 0;
    ctx->out_size = 0;

    return NGX_OK;
}


/*
 * The engine closed its session (once): a close frame is queued (unless
 * the connection failed), and the connection closes from the write event,
 * once the engine's calls returned (no engine has to expect its memory
 * gone when finalize returns); the close frame gets
 * NGX_HTTP_IOTHUB_WS_LINGER to leave.
 */

static void
ngx_http_iothub_ws_finalize(ngx_iothub_ws_transport_t *t)
{
    u_char                    *p;
    size_t                     n;
    ngx_connection_t          *c;
    ngx_http_iothub_ws_ctx_t  *ctx;

    ctx = (ngx_http_iothub_ws_ctx_t *) t;
    c = t->connection;

    if (ctx->finalized) {
        return;
    }

    ctx->finalized = 1;

    if (ctx->pre != NULL) {
        ngx_free(ctx->pre);
        ctx->pre = NULL;
    }

    if (!c->error && !c->read->eof) {
        p = ngx_http_iothub_ws_reserve(ctx, NGX_IOTHUB_WS_CLOSE_FRAME_MAX);

        if (p != NULL) {
            n = ngx_iothub_ws_close_frame(p, ctx->close_code
                                             ? ctx->close_code
                                             : NGX_IOTHUB_WS_NORMAL,
                                          ctx->close_reason);
            ctx->out_len -= NGX_IOTHUB_WS_CLOSE_FRAME_MAX - n;
        }
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    ngx_add_timer(c->write, NGX_HTTP_IOTHUB_WS_LINGER);

    if (!c->write->posted) {
        ngx_post_event(c->write, &ngx_posted_events);
    }
}


/* the connection's pool goes: so do our buffers */

static void
ngx_http_iothub_ws_cleanup(void *data)
{
    ngx_http_iothub_ws_ctx_t *ctx = data;

    ngx_free(ctx->out);
    ngx_free(ctx->pre);
    ctx->out = NULL;
    ctx->pre = NULL;
}


static void *
ngx_http_iothub_ws_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_iothub_ws_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_iothub_ws_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->settings.max_packet_size = NGX_CONF_UNSET_SIZE;
    conf->settings.send_limit = NGX_CONF_UNSET_SIZE;
    conf->settings.connect_timeout = NGX_CONF_UNSET_MSEC;

    return conf;
}


static char *
ngx_http_iothub_ws_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_iothub_ws_loc_conf_t *prev = parent;
    ngx_http_iothub_ws_loc_conf_t *conf = child;

    /* the defaults of iothub_mqtt_max_packet_size and its siblings */
    ngx_conf_merge_size_value(conf->settings.max_packet_size,
                              prev->settings.max_packet_size, 288 * 1024);
    ngx_conf_merge_size_value(conf->settings.send_limit,
                              prev->settings.send_limit, 1024 * 1024);
    ngx_conf_merge_msec_value(conf->settings.connect_timeout,
                              prev->settings.connect_timeout, 30000);

    if (conf->settings.max_packet_size < 1024
        || conf->settings.max_packet_size > 268435455)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"iothub_websocket_max_packet_size\" must be "
                           "from 1k to 268435455");
        return NGX_CONF_ERROR;
    }

    if (conf->settings.send_limit < conf->settings.max_packet_size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"iothub_websocket_send_limit\" must be at "
                           "least \"iothub_websocket_max_packet_size\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_iothub_ws(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_iothub_ws_loc_conf_t *wlcf = conf;

    char                      *rv;
    ngx_http_core_loc_conf_t  *clcf;

    rv = ngx_iothub_conf_set_hub(cf, &wlcf->settings.hub);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_iothub_ws_handler;

    return NGX_CONF_OK;
}
