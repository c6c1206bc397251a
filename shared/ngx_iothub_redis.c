
/*
 * nginx-iothub: a per-worker Redis link; see ngx_iothub_redis.h.
 *
 * States:
 *
 *   BACKOFF --timer--> CONNECTING --connected--> HANDSHAKE --done--> READY
 *      ^                   |                         |                 |
 *      +----- error -------+------ error ------------+-- error/timeout-+
 *
 * The handshake (AUTH, SELECT, then SCRIPT LOAD or SUBSCRIBE) goes first;
 * commands queued until it succeeded are held back and sent only then, so
 * a refused AUTH or SELECT never lets one run.  In BACKOFF commands fail
 * fast.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include <openssl/sha.h>

#include "ngx_iothub_redis.h"
#include "ngx_iothub_log.h"
#include "ngx_iothub_reply.h"
#include "ngx_iothub_resp.h"
#define NGX_IOTHUB_LUA_TEXTS
#include "ngx_iothub_lua.h"


#define NGX_IOTHUB_REDIS_MIN_BACKOFF  100
#define NGX_IOTHUB_REDIS_READ_SIZE    16384

/* the longest a command that may wait waits for company (ms) */
#define NGX_IOTHUB_REDIS_LAZY_DELAY   5

/* "$7\r\nEVALSHA\r\n$40\r\n<sha>\r\n" in a formatted EVALSHA */
#define NGX_IOTHUB_REDIS_SHA_PART     (sizeof("$7\r\nEVALSHA\r\n$40\r\n") - 1 \
                                       + 40 + 2)


typedef enum {
    NGX_IOTHUB_REDIS_BACKOFF = 0,
    NGX_IOTHUB_REDIS_CONNECTING,
    NGX_IOTHUB_REDIS_HANDSHAKE,
    NGX_IOTHUB_REDIS_READY
} ngx_iothub_redis_state_e;


typedef struct {
    u_char                      *data;
    size_t                       len;
    size_t                       size;
} ngx_iothub_redis_buf_t;


struct ngx_iothub_redis_call_s {
    ngx_queue_t                  queue;
    ngx_iothub_redis_handler_pt  handler;
    void                        *data;
    ngx_msec_t                   deadline;
    /*
     * for scripts: the EVALSHA sent, turned into EVAL once on NOSCRIPT;
     * its bytes follow the call in the same allocation, but for the
     * caller's arguments already in RESP (resp), which are the caller's
     */
    ngx_uint_t                   script;
    char                        *evalsha;
    size_t                       evalsha_len;
    const u_char                *resp;
    size_t                       resp_len;
};


struct ngx_iothub_redis_s {
    ngx_iothub_redis_conf_t     *conf;
    ngx_log_t                   *log;
    ngx_iothub_redis_state_e     state;
    ngx_peer_connection_t        peer;
    redisReader                 *reader;

    /* unsent command bytes; held: those queued before READY */
    ngx_iothub_redis_buf_t       out;
    ngx_iothub_redis_buf_t       held;
    ngx_uint_t                   handshake_left;

    ngx_queue_t                  pending;     /* ngx_iothub_redis_call_t */
    ngx_event_t                  reconnect;
    ngx_event_t                  timeout;
    ngx_event_t                  lazy;
    ngx_msec_t                   backoff;
    ngx_uint_t                   failures;

    char                         sha[NGX_IOTHUB_LUA_N][41];

    /* subscriber links */
    ngx_str_t                   *channels;
    ngx_uint_t                   nchannels;
    ngx_iothub_redis_message_pt  message;
    void                        *message_data;
};


static ngx_iothub_redis_t *ngx_iothub_redis_new(
    ngx_iothub_redis_conf_t *conf, ngx_log_t *log);
static void ngx_iothub_redis_connect(ngx_event_t *ev);
static void ngx_iothub_redis_connected(ngx_iothub_redis_t *rd);
static ngx_int_t ngx_iothub_redis_handshake(ngx_iothub_redis_t *rd);
static void ngx_iothub_redis_handshake_reply(void *data, redisReply *reply);
static void ngx_iothub_redis_write_handler(ngx_event_t *wev);
static void ngx_iothub_redis_read_handler(ngx_event_t *rev);
static ngx_int_t ngx_iothub_redis_dispatch(ngx_iothub_redis_t *rd);
static ngx_int_t ngx_iothub_redis_pushed(ngx_iothub_redis_t *rd,
    redisReply *reply);
static ngx_int_t ngx_iothub_redis_noscript(ngx_iothub_redis_t *rd,
    ngx_iothub_redis_call_t *call, redisReply *reply);
static void ngx_iothub_redis_timeout_handler(ngx_event_t *ev);
static void ngx_iothub_redis_arm_timeout(ngx_iothub_redis_t *rd);
static void ngx_iothub_redis_fail(ngx_iothub_redis_t *rd, const char *why);
static void ngx_iothub_redis_close(ngx_iothub_redis_t *rd);
static void ngx_iothub_redis_fail_pending(ngx_iothub_redis_t *rd);
static ngx_iothub_redis_buf_t *ngx_iothub_redis_buffer(
    ngx_iothub_redis_t *rd);
static ngx_iothub_redis_call_t *ngx_iothub_redis_queue(ngx_iothub_redis_t *rd,
    ngx_iothub_redis_buf_t *buf, ngx_iothub_redis_handler_pt handler,
    void *data, char *cmd, int len);
static ngx_iothub_redis_call_t *ngx_iothub_redis_evalsha(
    ngx_iothub_redis_t *rd, ngx_uint_t script,
    ngx_iothub_redis_handler_pt handler, void *data, int nkeys, int argc,
    const char **argv, const size_t *argvlen, ngx_uint_t nresp,
    const u_char *resp, size_t resp_len, ngx_uint_t lazy);
static ngx_iothub_redis_call_t *ngx_iothub_redis_call_new(
    ngx_iothub_redis_t *rd, ngx_iothub_redis_handler_pt handler, void *data,
    size_t extra);
static void ngx_iothub_redis_enqueue(ngx_iothub_redis_t *rd,
    ngx_iothub_redis_call_t *call, ngx_uint_t lazy);
static void ngx_iothub_redis_lazy_handler(ngx_event_t *ev);
static void ngx_iothub_redis_free_call(ngx_iothub_redis_call_t *call);
static ngx_int_t ngx_iothub_redis_append_eval(ngx_iothub_redis_t *rd,
    ngx_iothub_redis_call_t *call);
static ngx_int_t ngx_iothub_redis_append(ngx_iothub_redis_t *rd,
    ngx_iothub_redis_buf_t *buf, const char *cmd, size_t len);
static ngx_int_t ngx_iothub_redis_reserve(ngx_iothub_redis_t *rd,
    ngx_iothub_redis_buf_t *buf, size_t len);
static ngx_int_t ngx_iothub_redis_subscribe(ngx_iothub_redis_t *rd);
static void ngx_iothub_redis_handshake_done(ngx_iothub_redis_t *rd);
static ngx_int_t ngx_iothub_redis_send(ngx_iothub_redis_t *rd);
static void ngx_iothub_redis_script_shas(ngx_iothub_redis_t *rd);
static void ngx_iothub_redis_move(ngx_queue_t *to, ngx_queue_t *from);
static ngx_int_t ngx_iothub_redis_test_connect(ngx_connection_t *c);


ngx_iothub_redis_t *
ngx_iothub_redis_create(ngx_iothub_redis_conf_t *conf, ngx_log_t *log)
{
    ngx_iothub_redis_t  *rd;

    rd = ngx_iothub_redis_new(conf, log);
    if (rd == NULL) {
        return NULL;
    }

    ngx_iothub_redis_script_shas(rd);
    ngx_iothub_redis_connect(&rd->reconnect);

    return rd;
}


ngx_iothub_redis_t *
ngx_iothub_redis_create_subscriber(ngx_iothub_redis_conf_t *conf,
    ngx_log_t *log, ngx_str_t *channels, ngx_uint_t n,
    ngx_iothub_redis_message_pt handler, void *data)
{
    ngx_iothub_redis_t  *rd;

    if (n == 0 || n > NGX_IOTHUB_REDIS_MAX_CHANNELS) {
        return NULL;
    }

    rd = ngx_iothub_redis_new(conf, log);
    if (rd == NULL) {
        return NULL;
    }

    rd->channels = channels;
    rd->nchannels = n;
    rd->message = handler;
    rd->message_data = data;

    ngx_iothub_redis_connect(&rd->reconnect);

    return rd;
}


static ngx_iothub_redis_t *
ngx_iothub_redis_new(ngx_iothub_redis_conf_t *conf, ngx_log_t *log)
{
    ngx_iothub_redis_t  *rd;

    rd = ngx_calloc(sizeof(ngx_iothub_redis_t), log);
    if (rd == NULL) {
        return NULL;
    }

    rd->conf = conf;
    rd->log = log;
    rd->backoff = NGX_IOTHUB_REDIS_MIN_BACKOFF;
    ngx_queue_init(&rd->pending);

    rd->reconnect.handler = ngx_iothub_redis_connect;
    rd->reconnect.data = rd;
    rd->reconnect.log = log;
    rd->reconnect.cancelable = 1;

    /*
     * not cancelable: a graceful shutdown waits for pending commands (their
     * requests) to be answered or to time out
     */
    rd->timeout.handler = ngx_iothub_redis_timeout_handler;
    rd->timeout.data = rd;
    rd->timeout.log = log;

    /* not cancelable either: lazy commands go out before the worker exits */
    rd->lazy.handler = ngx_iothub_redis_lazy_handler;
    rd->lazy.data = rd;
    rd->lazy.log = log;

    return rd;
}


void
ngx_iothub_redis_destroy(ngx_iothub_redis_t *rd)
{
    ngx_queue_t              *q;
    ngx_iothub_redis_call_t  *call;

    ngx_iothub_redis_close(rd);

    while (!ngx_queue_empty(&rd->pending)) {
        q = ngx_queue_head(&rd->pending);
        ngx_queue_remove(q);
        call = ngx_queue_data(q, ngx_iothub_redis_call_t, queue);
        ngx_iothub_redis_free_call(call);
    }

    if (rd->reconnect.timer_set) {
        ngx_del_timer(&rd->reconnect);
    }

    ngx_free(rd);
}


ngx_int_t
ngx_iothub_redis_ready(ngx_iothub_redis_t *rd)
{
    return rd->state == NGX_IOTHUB_REDIS_READY ? NGX_OK : NGX_DECLINED;
}


static void
ngx_iothub_redis_script_shas(ngx_iothub_redis_t *rd)
{
    u_char      digest[SHA_DIGEST_LENGTH];
    ngx_uint_t  i;

    for (i = 0; i < NGX_IOTHUB_LUA_N; i++) {
        SHA1((u_char *) ngx_iothub_lua_scripts[i][1],
             ngx_strlen(ngx_iothub_lua_scripts[i][1]), digest);
        ngx_hex_dump((u_char *) rd->sha[i], digest, SHA_DIGEST_LENGTH);
        rd->sha[i][40] = '\0';
    }
}


static void
ngx_iothub_redis_connect(ngx_event_t *ev)
{
    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_iothub_redis_t  *rd;

    rd = ev->data;

    ngx_memzero(&rd->peer, sizeof(ngx_peer_connection_t));
    rd->peer.sockaddr = rd->conf->addr->sockaddr;
    rd->peer.socklen = rd->conf->addr->socklen;
    rd->peer.name = &rd->conf->addr->name;
    rd->peer.get = ngx_event_get_peer;
    rd->peer.log = rd->log;
    rd->peer.log_error = NGX_ERROR_ERR;

    rd->state = NGX_IOTHUB_REDIS_CONNECTING;

    rc = ngx_event_connect_peer(&rd->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        ngx_iothub_redis_fail(rd, "cannot connect");
        return;
    }

    c = rd->peer.connection;
    c->data = rd;
    c->read->handler = ngx_iothub_redis_read_handler;
    c->write->handler = ngx_iothub_redis_write_handler;
    c->read->cancelable = 1;
    c->write->cancelable = 1;
    c->log->action = "talking to redis";

    rd->reader = redisReaderCreate();
    if (rd->reader == NULL) {
        ngx_iothub_redis_fail(rd, "out of memory");
        return;
    }

    if (rc == NGX_AGAIN) {
        ngx_add_timer(c->write, rd->conf->connect_timeout);
        return;
    }

    ngx_iothub_redis_connected(rd);
}


static void
ngx_iothub_redis_connected(ngx_iothub_redis_t *rd)
{
    ngx_connection_t  *c;

    c = rd->peer.connection;

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (ngx_iothub_redis_test_connect(c) != NGX_OK) {
        ngx_iothub_redis_fail(rd, "cannot connect");
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rd->log, 0,
                   "iothub redis: connected to %V", rd->peer.name);

    if (ngx_iothub_redis_handshake(rd) != NGX_OK) {
        ngx_iothub_redis_fail(rd, "out of memory");
        return;
    }

    if (ngx_iothub_redis_send(rd) != NGX_OK) {
        ngx_iothub_redis_fail(rd, "cannot write");
    }
}


static ngx_int_t
ngx_iothub_redis_test_connect(ngx_connection_t *c)
{
    int        err;
    socklen_t  len;

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        ngx_log_error(NGX_LOG_DEBUG, c->log, err, "iothub redis: connect()");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * AUTH, SELECT and SCRIPT LOAD (or SUBSCRIBE) go first; the calls queued
 * while connecting follow in the pending queue, their bytes stay held.
 */

static ngx_int_t
ngx_iothub_redis_handshake(ngx_iothub_redis_t *rd)
{
    int                       len;
    char                     *cmd, db[NGX_INT_T_LEN + 1];
    ngx_uint_t                i;
    ngx_queue_t               head;
    ngx_iothub_redis_call_t  *call;

    ngx_queue_init(&head);
    ngx_iothub_redis_move(&head, &rd->pending);

    rd->state = NGX_IOTHUB_REDIS_HANDSHAKE;
    rd->handshake_left = 0;

    if (rd->conf->password.len) {
        len = redisFormatCommand(&cmd, "AUTH %b", rd->conf->password.data,
                                 rd->conf->password.len);
        if (ngx_iothub_redis_queue(rd, &rd->out,
                                   ngx_iothub_redis_handshake_reply, rd,
                                   cmd, len) == NULL)
        {
            goto failed;
        }

        rd->handshake_left++;
    }

    if (rd->conf->database) {
        ngx_sprintf((u_char *) db, "%i%Z", rd->conf->database);
        len = redisFormatCommand(&cmd, "SELECT %s", db);
        if (ngx_iothub_redis_queue(rd, &rd->out,
                                   ngx_iothub_redis_handshake_reply, rd,
                                   cmd, len) == NULL)
        {
            goto failed;
        }

        rd->handshake_left++;
    }

    if (rd->message) {
        /* the confirmations are pushed replies, not a call's */
        if (ngx_iothub_redis_subscribe(rd) != NGX_OK) {
            goto failed;
        }
    }

    for (i = 0; rd->message == NULL && i < NGX_IOTHUB_LUA_N; i++) {
        len = redisFormatCommand(&cmd, "SCRIPT LOAD %s",
                                 ngx_iothub_lua_scripts[i][1]);
        if (ngx_iothub_redis_queue(rd, &rd->out,
                                   ngx_iothub_redis_handshake_reply, rd,
                                   cmd, len) == NULL)
        {
            goto failed;
        }

        rd->handshake_left++;
    }

    ngx_iothub_redis_move(&rd->pending, &head);

    /* queued commands get a fresh deadline from now */

    for (call = (ngx_iothub_redis_call_t *) ngx_queue_head(&rd->pending);
         (ngx_queue_t *) call != ngx_queue_sentinel(&rd->pending);
         call = (ngx_iothub_redis_call_t *) ngx_queue_next(&call->queue))
    {
        call->deadline = ngx_current_msec + rd->conf->command_timeout;
    }

    ngx_iothub_redis_arm_timeout(rd);

    return NGX_OK;

failed:

    ngx_iothub_redis_move(&rd->pending, &head);

    return NGX_ERROR;
}


static ngx_int_t
ngx_iothub_redis_subscribe(ngx_iothub_redis_t *rd)
{
    int          len;
    char        *cmd;
    size_t       lens[NGX_IOTHUB_REDIS_MAX_CHANNELS + 1];
    ngx_uint_t   i;
    const char  *argv[NGX_IOTHUB_REDIS_MAX_CHANNELS + 1];

    argv[0] = "SUBSCRIBE";
    lens[0] = sizeof("SUBSCRIBE") - 1;

    for (i = 0; i < rd->nchannels; i++) {
        argv[i + 1] = (char *) rd->channels[i].data;
        lens[i + 1] = rd->channels[i].len;
    }

    len = redisFormatCommandArgv(&cmd, rd->nchannels + 1, argv, lens);
    if (len < 0) {
        return NGX_ERROR;
    }

    if (ngx_iothub_redis_append(rd, &rd->out, cmd, len) != NGX_OK) {
        redisFreeCommand(cmd);
        return NGX_ERROR;
    }

    redisFreeCommand(cmd);
    rd->handshake_left += rd->nchannels;

    return NGX_OK;
}


/* the handshake succeeded: the held commands go out */

static void
ngx_iothub_redis_handshake_done(ngx_iothub_redis_t *rd)
{
    if (rd->failures) {
        ngx_log_error(NGX_LOG_NOTICE, rd->log, 0,
                      "iothub redis: connected to %V again",
                      &rd->conf->addr->name);
    }

    rd->state = NGX_IOTHUB_REDIS_READY;
    rd->failures = 0;
    rd->backoff = NGX_IOTHUB_REDIS_MIN_BACKOFF;

    if (rd->message) {
        /* messages published while the link was down are lost */
        rd->message(rd->message_data, NULL, NULL, 0);
        return;
    }

    if (rd->held.len == 0) {
        return;
    }

    if (ngx_iothub_redis_append(rd, &rd->out, (char *) rd->held.data,
                                rd->held.len)
        != NGX_OK)
    {
        ngx_iothub_redis_fail(rd, "out of memory");
        return;
    }

    rd->held.len = 0;
    ngx_post_event(rd->peer.connection->write, &ngx_posted_events);
}


static void
ngx_iothub_redis_handshake_reply(void *data, redisReply *reply)
{
    ngx_iothub_redis_t *rd = data;

    ngx_iothub_log_buf_t    lb;
    ngx_iothub_reply_rc_e   rc;
    ngx_iothub_reply_str_t  err;

    rc = ngx_iothub_reply_check(reply);

    if (rc == NGX_IOTHUB_REPLY_LOST) {
        return;
    }

    if (rc == NGX_IOTHUB_REPLY_OK) {
        if (--rd->handshake_left == 0) {
            ngx_iothub_redis_handshake_done(rd);
        }

        return;
    }

    /* AUTH or SELECT refused: held commands never run */

    ngx_iothub_reply_error_text(reply, &err);

    ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                  "iothub redis: handshake refused by %V: \"%V\"",
                  &rd->conf->addr->name,
                  ngx_iothub_log_str(&lb, (u_char *) err.data, err.len));

    ngx_iothub_redis_fail(rd, "handshake failed");
}


/* appends every element of "from" to "to" and leaves "from" empty */

static void
ngx_iothub_redis_move(ngx_queue_t *to, ngx_queue_t *from)
{
    if (!ngx_queue_empty(from)) {
        ngx_queue_add(to, from);
    }

    ngx_queue_init(from);
}


ngx_iothub_redis_call_t *
ngx_iothub_redis_command(ngx_iothub_redis_t *rd,
    ngx_iothub_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    size_t                    len;
    ngx_iothub_redis_buf_t   *buf;
    ngx_iothub_redis_call_t  *call;

    if (rd == NULL || rd->state == NGX_IOTHUB_REDIS_BACKOFF) {
        return NULL;
    }

    buf = ngx_iothub_redis_buffer(rd);
    len = ngx_iothub_resp_size(argc, argvlen);

    call = ngx_iothub_redis_call_new(rd, handler, data, 0);
    if (call == NULL) {
        return NULL;
    }

    if (ngx_iothub_redis_reserve(rd, buf, len) != NGX_OK) {
        ngx_free(call);
        return NULL;
    }

    buf->len = (u_char *) ngx_iothub_resp_write((char *) buf->data + buf->len,
                                                argc, argv, argvlen)
               - buf->data;

    ngx_iothub_redis_enqueue(rd, call, 0);

    return call;
}


ngx_iothub_redis_call_t *
ngx_iothub_redis_script(ngx_iothub_redis_t *rd, ngx_uint_t script,
    ngx_iothub_redis_handler_pt handler, void *data, int nkeys, int argc,
    const char **argv, const size_t *argvlen)
{
    return ngx_iothub_redis_evalsha(rd, script, handler, data, nkeys, argc,
                                    argv, argvlen, 0, NULL, 0, 0);
}


ngx_iothub_redis_call_t *
ngx_iothub_redis_script_resp(ngx_iothub_redis_t *rd, ngx_uint_t script,
    ngx_iothub_redis_handler_pt handler, void *data, int nkeys, int argc,
    const char **argv, const size_t *argvlen, ngx_uint_t nresp,
    const u_char *resp, size_t resp_len)
{
    return ngx_iothub_redis_evalsha(rd, script, handler, data, nkeys, argc,
                                    argv, argvlen, nresp, resp, resp_len, 0);
}


ngx_iothub_redis_call_t *
ngx_iothub_redis_script_lazy(ngx_iothub_redis_t *rd, ngx_uint_t script,
    ngx_iothub_redis_handler_pt handler, void *data, int nkeys, int argc,
    const char **argv, const size_t *argvlen)
{
    return ngx_iothub_redis_evalsha(rd, script, handler, data, nkeys, argc,
                                    argv, argvlen, 0, NULL, 0, 1);
}


static ngx_iothub_redis_call_t *
ngx_iothub_redis_evalsha(ngx_iothub_redis_t *rd, ngx_uint_t script,
    ngx_iothub_redis_handler_pt handler, void *data, int nkeys, int argc,
    const char **argv, const size_t *argvlen, ngx_uint_t nresp,
    const u_char *resp, size_t resp_len, ngx_uint_t lazy)
{
    char                     *p, keys[NGX_INT_T_LEN];
    size_t                    len, keys_len;
    ngx_iothub_redis_buf_t   *buf;
    ngx_iothub_redis_call_t  *call;

    if (rd == NULL || rd->state == NGX_IOTHUB_REDIS_BACKOFF) {
        return NULL;
    }

    keys_len = (char *) ngx_sprintf((u_char *) keys, "%d", nkeys) - keys;

    len = ngx_iothub_resp_array_size((size_t) argc + 3 + nresp)
          + ngx_iothub_resp_bulk_size(sizeof("EVALSHA") - 1)
          + ngx_iothub_resp_bulk_size(40)
          + ngx_iothub_resp_bulk_size(keys_len)
          + ngx_iothub_resp_args_size(argc, argvlen);

    /* kept with the call for a NOSCRIPT answer: no EVAL formatted now */
    call = ngx_iothub_redis_call_new(rd, handler, data, len);
    if (call == NULL) {
        return NULL;
    }

    call->script = script;
    call->evalsha = (char *) (call + 1);
    call->evalsha_len = len;

    p = ngx_iothub_resp_array(call->evalsha, (size_t) argc + 3 + nresp);
    p = ngx_iothub_resp_bulk(p, "EVALSHA", sizeof("EVALSHA") - 1);
    p = ngx_iothub_resp_bulk(p, rd->sha[script], 40);
    p = ngx_iothub_resp_bulk(p, keys, keys_len);
    (void) ngx_iothub_resp_args(p, argc, argv, argvlen);

    call->resp = resp;
    call->resp_len = resp_len;

    buf = ngx_iothub_redis_buffer(rd);

    if (ngx_iothub_redis_reserve(rd, buf, len + resp_len) != NGX_OK) {
        ngx_free(call);
        return NULL;
    }

    (void) ngx_iothub_redis_append(rd, buf, call->evalsha, len);

    if (resp_len) {
        (void) ngx_iothub_redis_append(rd, buf, (char *) resp, resp_len);
    }

    ngx_iothub_redis_enqueue(rd, call, lazy);

    return call;
}


ngx_iothub_redis_call_t *
ngx_iothub_redis_call_detached(ngx_iothub_redis_t *rd,
    ngx_iothub_redis_handler_pt handler, void *data)
{
    if (rd == NULL || rd->state == NGX_IOTHUB_REDIS_BACKOFF) {
        return NULL;
    }

    return ngx_iothub_redis_call_new(rd, handler, data, 0);
}


void
ngx_iothub_redis_answer(ngx_iothub_redis_call_t *call, redisReply *reply)
{
    if (call->handler) {
        call->handler(call->data, reply);
    }

    ngx_iothub_redis_free_call(call);
}


void
ngx_iothub_redis_cancel(ngx_iothub_redis_call_t *call)
{
    call->handler = NULL;
    call->data = NULL;
}


static ngx_iothub_redis_buf_t *
ngx_iothub_redis_buffer(ngx_iothub_redis_t *rd)
{
    return rd->state == NGX_IOTHUB_REDIS_READY ? &rd->out : &rd->held;
}


/* the handshake's commands: takes ownership of cmd, formatted by hiredis */

static ngx_iothub_redis_call_t *
ngx_iothub_redis_queue(ngx_iothub_redis_t *rd, ngx_iothub_redis_buf_t *buf,
    ngx_iothub_redis_handler_pt handler, void *data, char *cmd, int len)
{
    ngx_iothub_redis_call_t  *call;

    if (len < 0) {
        return NULL;
    }

    call = ngx_iothub_redis_call_new(rd, handler, data, 0);

    if (call && ngx_iothub_redis_append(rd, buf, cmd, len) != NGX_OK) {
        ngx_free(call);
        call = NULL;
    }

    redisFreeCommand(cmd);

    if (call) {
        ngx_iothub_redis_enqueue(rd, call, 0);
    }

    return call;
}


/* a call with extra bytes after it (a script's EVALSHA), not queued yet */

static ngx_iothub_redis_call_t *
ngx_iothub_redis_call_new(ngx_iothub_redis_t *rd,
    ngx_iothub_redis_handler_pt handler, void *data, size_t extra)
{
    ngx_iothub_redis_call_t  *call;

    call = ngx_alloc(sizeof(ngx_iothub_redis_call_t) + extra, rd->log);
    if (call == NULL) {
        return NULL;
    }

    ngx_memzero(call, sizeof(ngx_iothub_redis_call_t));

    call->handler = handler;
    call->data = data;

    return call;
}


/* the call's command bytes are in the buffer: it waits for its reply */

static void
ngx_iothub_redis_enqueue(ngx_iothub_redis_t *rd, ngx_iothub_redis_call_t *call,
    ngx_uint_t lazy)
{
    call->deadline = ngx_current_msec + rd->conf->command_timeout;

    ngx_queue_insert_tail(&rd->pending, &call->queue);

    if (!rd->timeout.timer_set) {
        ngx_add_timer(&rd->timeout, rd->conf->command_timeout);
    }

    if (rd->state != NGX_IOTHUB_REDIS_READY || rd->peer.connection == NULL) {
        return;
    }

    if (lazy) {
        /* goes with the next command that cannot wait, or on the timer */
        if (!rd->lazy.timer_set) {
            ngx_add_timer(&rd->lazy, NGX_IOTHUB_REDIS_LAZY_DELAY);
        }

    } else {
        /*
         * written after the events that are ready by the end of this
         * loop iteration (a poll without waiting): the commands of all
         * of them pipeline into one write
         */
        ngx_post_event(rd->peer.connection->write, &ngx_posted_next_events);
    }
}


static void
ngx_iothub_redis_free_call(ngx_iothub_redis_call_t *call)
{
    ngx_free(call);
}


static ngx_int_t
ngx_iothub_redis_append(ngx_iothub_redis_t *rd, ngx_iothub_redis_buf_t *buf,
    const char *cmd, size_t len)
{
    if (ngx_iothub_redis_reserve(rd, buf, len) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memcpy(buf->data + buf->len, cmd, len);
    buf->len += len;

    return NGX_OK;
}


/* room for len more bytes */

static ngx_int_t
ngx_iothub_redis_reserve(ngx_iothub_redis_t *rd, ngx_iothub_redis_buf_t *buf,
    size_t len)
{
    size_t   size;
    u_char  *p;

    if (buf->len + len <= buf->size) {
        return NGX_OK;
    }

    size = ngx_max(buf->size * 2, buf->len + len);
    size = ngx_max(size, 4096);

    p = ngx_alloc(size, rd->log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (buf->len) {
        ngx_memcpy(p, buf->data, buf->len);
    }

    ngx_free(buf->data);
    buf->data = p;
    buf->size = size;

    return NGX_OK;
}


static ngx_int_t
ngx_iothub_redis_send(ngx_iothub_redis_t *rd)
{
    ssize_t            n;
    ngx_connection_t  *c;

    c = rd->peer.connection;

    if (rd->lazy.timer_set) {
        /* the lazy commands go now, with the rest */
        ngx_del_timer(&rd->lazy);
    }

    while (rd->out.len) {
        n = c->send(c, rd->out.data, rd->out.len);

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (n == NGX_AGAIN) {
            break;
        }

        ngx_memmove(rd->out.data, rd->out.data + n, rd->out.len - n);
        rd->out.len -= n;
    }

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_iothub_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t    *c;
    ngx_iothub_redis_t  *rd;

    c = wev->data;
    rd = c->data;

    if (rd->state == NGX_IOTHUB_REDIS_CONNECTING) {
        if (wev->timedout) {
            ngx_iothub_redis_fail(rd, "connect timed out");
            return;
        }

        ngx_iothub_redis_connected(rd);
        return;
    }

    if (ngx_iothub_redis_send(rd) != NGX_OK) {
        ngx_iothub_redis_fail(rd, "cannot write");
    }
}


static void
ngx_iothub_redis_lazy_handler(ngx_event_t *ev)
{
    ngx_iothub_redis_t *rd = ev->data;

    if (rd->peer.connection && rd->state == NGX_IOTHUB_REDIS_READY) {
        ngx_post_event(rd->peer.connection->write, &ngx_posted_events);
    }
}


static void
ngx_iothub_redis_read_handler(ngx_event_t *rev)
{
    ssize_t              n;
    ngx_connection_t    *c;
    ngx_iothub_redis_t  *rd;
    u_char               buf[NGX_IOTHUB_REDIS_READ_SIZE];

    c = rev->data;
    rd = c->data;

    if (rd->state == NGX_IOTHUB_REDIS_CONNECTING) {
        /* a refused connect shows up as readable on some systems */
        ngx_iothub_redis_write_handler(c->write);
        return;
    }

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_iothub_redis_fail(rd, "connection closed");
            return;
        }

        if (redisReaderFeed(rd->reader, (char *) buf, n) != REDIS_OK) {
            ngx_iothub_redis_fail(rd, "out of memory");
            return;
        }

        if (ngx_iothub_redis_dispatch(rd) != NGX_OK) {
            return;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_iothub_redis_fail(rd, "cannot read");
    }
}


/*
 * Hands each complete reply to the oldest pending call.  Returns NGX_ERROR
 * when the link failed (and was reset) meanwhile.
 */

static ngx_int_t
ngx_iothub_redis_dispatch(ngx_iothub_redis_t *rd)
{
    void                     *r;
    ngx_queue_t              *q;
    redisReply               *reply;
    ngx_iothub_redis_call_t  *call;

    for ( ;; ) {
        if (redisReaderGetReply(rd->reader, &r) != REDIS_OK) {
            ngx_iothub_redis_fail(rd, "protocol error");
            return NGX_ERROR;
        }

        if (r == NULL) {
            return NGX_OK;
        }

        reply = r;

        if (rd->message && ngx_iothub_redis_pushed(rd, reply) == NGX_OK) {
            freeReplyObject(reply);

            if (rd->peer.connection == NULL) {
                return NGX_ERROR;
            }

            continue;
        }

        if (ngx_queue_empty(&rd->pending)) {
            freeReplyObject(reply);
            ngx_iothub_redis_fail(rd, "unexpected reply");
            return NGX_ERROR;
        }

        q = ngx_queue_head(&rd->pending);
        ngx_queue_remove(q);
        call = ngx_queue_data(q, ngx_iothub_redis_call_t, queue);

        if (ngx_iothub_redis_noscript(rd, call, reply) == NGX_OK) {
            freeReplyObject(reply);
            continue;
        }

        if (call->handler) {
            call->handler(call->data, reply);
        }

        freeReplyObject(reply);
        ngx_iothub_redis_free_call(call);

        if (rd->peer.connection == NULL) {
            /* the handler failed the link (a refused handshake) */
            return NGX_ERROR;
        }

        ngx_iothub_redis_arm_timeout(rd);
    }
}


/*
 * Subscriber links: ["message", channel, payload] goes to the handler,
 * ["subscribe", channel, n] confirms; anything else answers a call.
 */

static ngx_int_t
ngx_iothub_redis_pushed(ngx_iothub_redis_t *rd, redisReply *reply)
{
    ngx_str_t                name;
    ngx_iothub_reply_push_t  push;

    if (ngx_iothub_reply_push(reply, &push) != NGX_IOTHUB_REPLY_OK) {
        return NGX_DECLINED;
    }

    if (push.kind == NGX_IOTHUB_REPLY_PUSH_SUBSCRIBE) {
        if (rd->state == NGX_IOTHUB_REDIS_HANDSHAKE
            && --rd->handshake_left == 0)
        {
            ngx_iothub_redis_handshake_done(rd);
        }

        return NGX_OK;
    }

    name.data = (u_char *) push.channel.data;
    name.len = push.channel.len;

    rd->message(rd->message_data, &name, (u_char *) push.payload.data,
                push.payload.len);

    return NGX_OK;
}


/*
 * The script cache was flushed behind our back: send the script's text with
 * EVAL, which caches it again, and wait for that reply instead.
 */

static ngx_int_t
ngx_iothub_redis_noscript(ngx_iothub_redis_t *rd,
    ngx_iothub_redis_call_t *call, redisReply *reply)
{
    if (call->evalsha == NULL
        || ngx_iothub_reply_check(reply) != NGX_IOTHUB_REPLY_NOSCRIPT)
    {
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                  "iothub redis: script cache was flushed, loading again");

    if (ngx_iothub_redis_append_eval(rd, call) != NGX_OK) {
        return NGX_DECLINED;
    }

    call->evalsha = NULL;

    ngx_queue_insert_tail(&rd->pending, &call->queue);
    ngx_post_event(rd->peer.connection->write, &ngx_posted_events);

    return NGX_OK;
}


/*
 * "*<n>\r\n$7\r\nEVALSHA\r\n$40\r\n<sha>\r\n<rest>" becomes
 * "*<n>\r\n$4\r\nEVAL\r\n$<len>\r\n<text>\r\n<rest>".
 */

static ngx_int_t
ngx_iothub_redis_append_eval(ngx_iothub_redis_t *rd,
    ngx_iothub_redis_call_t *call)
{
    u_char                  *nl, *p;
    size_t                   count_len, text_len, rest;
    const char              *text;
    ngx_iothub_redis_buf_t  *out;

    nl = ngx_strlchr((u_char *) call->evalsha,
                     (u_char *) call->evalsha + call->evalsha_len, '\n');
    if (nl == NULL) {
        return NGX_ERROR;
    }

    count_len = nl + 1 - (u_char *) call->evalsha;
    if (count_len + NGX_IOTHUB_REDIS_SHA_PART > call->evalsha_len) {
        return NGX_ERROR;
    }

    text = ngx_iothub_lua_scripts[call->script][1];
    text_len = ngx_strlen(text);
    rest = call->evalsha_len - count_len - NGX_IOTHUB_REDIS_SHA_PART;

    out = &rd->out;

    if (ngx_iothub_redis_reserve(rd, out, count_len + NGX_INT_T_LEN + 16
                                          + text_len + rest + call->resp_len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = out->data + out->len;
    p = ngx_cpymem(p, call->evalsha, count_len);
    p = ngx_sprintf(p, "$4\r\nEVAL\r\n$%uz\r\n", text_len);
    p = ngx_cpymem(p, text, text_len);
    *p++ = '\r';
    *p++ = '\n';
    p = ngx_cpymem(p, call->evalsha + call->evalsha_len - rest, rest);

    if (call->resp_len) {
        p = ngx_cpymem(p, call->resp, call->resp_len);
    }

    out->len = p - out->data;

    return NGX_OK;
}


static void
ngx_iothub_redis_arm_timeout(ngx_iothub_redis_t *rd)
{
    ngx_msec_int_t            left;
    ngx_iothub_redis_call_t  *call;

    if (ngx_queue_empty(&rd->pending)) {
        if (rd->timeout.timer_set) {
            ngx_del_timer(&rd->timeout);
        }

        return;
    }

    call = ngx_queue_data(ngx_queue_head(&rd->pending),
                          ngx_iothub_redis_call_t, queue);

    left = (ngx_msec_int_t) (call->deadline - ngx_current_msec);

    ngx_add_timer(&rd->timeout, left > 0 ? (ngx_msec_t) left : 1);
}


static void
ngx_iothub_redis_timeout_handler(ngx_event_t *ev)
{
    ngx_iothub_redis_t       *rd;
    ngx_iothub_redis_call_t  *call;

    rd = ev->data;

    if (ngx_queue_empty(&rd->pending)) {
        return;
    }

    call = ngx_queue_data(ngx_queue_head(&rd->pending),
                          ngx_iothub_redis_call_t, queue);

    if ((ngx_msec_int_t) (call->deadline - ngx_current_msec) > 0) {
        ngx_iothub_redis_arm_timeout(rd);
        return;
    }

    ngx_iothub_redis_fail(rd, "command timed out");
}


/*
 * Closes the connection, fails every pending call and schedules the next
 * attempt with a doubling back-off.
 */

static void
ngx_iothub_redis_fail(ngx_iothub_redis_t *rd, const char *why)
{
    if (rd->failures++ == 0) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "iothub redis: %s, server %V", why,
                      &rd->conf->addr->name);

    } else {
        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, rd->log, 0,
                       "iothub redis: %s, server %V", why,
                       &rd->conf->addr->name);
    }

    ngx_iothub_redis_close(rd);

    rd->state = NGX_IOTHUB_REDIS_BACKOFF;

    ngx_iothub_redis_fail_pending(rd);

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_add_timer(&rd->reconnect, rd->backoff);

    rd->backoff = ngx_min(rd->backoff * 2, rd->conf->max_backoff);
}


static void
ngx_iothub_redis_fail_pending(ngx_iothub_redis_t *rd)
{
    ngx_queue_t               failed, *q;
    ngx_iothub_redis_call_t  *call;

    /* handlers may queue new commands: they fail fast in BACKOFF */

    ngx_queue_init(&failed);
    ngx_iothub_redis_move(&failed, &rd->pending);

    while (!ngx_queue_empty(&failed)) {
        q = ngx_queue_head(&failed);
        ngx_queue_remove(q);
        call = ngx_queue_data(q, ngx_iothub_redis_call_t, queue);

        if (call->handler) {
            call->handler(call->data, NULL);
        }

        ngx_iothub_redis_free_call(call);
    }

    if (rd->timeout.timer_set) {
        ngx_del_timer(&rd->timeout);
    }

    if (rd->lazy.timer_set) {
        ngx_del_timer(&rd->lazy);
    }
}


static void
ngx_iothub_redis_close(ngx_iothub_redis_t *rd)
{
    if (rd->peer.connection) {
        ngx_close_connection(rd->peer.connection);
        rd->peer.connection = NULL;
    }

    if (rd->reader) {
        redisReaderFree(rd->reader);
        rd->reader = NULL;
    }

    ngx_free(rd->out.data);
    ngx_free(rd->held.data);
    ngx_memzero(&rd->out, sizeof(ngx_iothub_redis_buf_t));
    ngx_memzero(&rd->held, sizeof(ngx_iothub_redis_buf_t));

    if (rd->timeout.timer_set) {
        ngx_del_timer(&rd->timeout);
    }

    if (rd->lazy.timer_set) {
        ngx_del_timer(&rd->lazy);
    }
}
