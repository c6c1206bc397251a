
/*
 * nginx-iothub: a per-worker Redis link on nginx's event loop.
 *
 * nginx owns the socket (ngx_event_connect_peer, nginx timers); commands
 * are written by ngx_iothub_resp.c, hiredis only parses replies
 * (redisReader) and formats the handshake's commands.  Commands
 * are pipelined in order; each has a callback that is called exactly once,
 * with the reply or with NULL when Redis is unreachable, the command timed
 * out or the connection was lost, unless the call was cancelled first.
 */


#ifndef _NGX_IOTHUB_REDIS_H_INCLUDED_
#define _NGX_IOTHUB_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include <hiredis/hiredis.h>


typedef struct ngx_iothub_redis_s       ngx_iothub_redis_t;
typedef struct ngx_iothub_redis_call_s  ngx_iothub_redis_call_t;

/*
 * reply is owned by the link and freed after the handler returns: copy what
 * is needed.  reply is NULL on failure; a Redis error is a reply of type
 * REDIS_REPLY_ERROR.
 */
typedef void (*ngx_iothub_redis_handler_pt)(void *data, redisReply *reply);


typedef struct {
    ngx_addr_t                 *addr;
    ngx_str_t                   password;
    ngx_int_t                   database;
    ngx_msec_t                  connect_timeout;
    ngx_msec_t                  command_timeout;
    ngx_msec_t                  max_backoff;
} ngx_iothub_redis_conf_t;


/*
 * Creates a link and starts connecting.  Freed by ngx_iothub_redis_destroy,
 * which fails nothing: pending handlers are not called.
 */
ngx_iothub_redis_t *ngx_iothub_redis_create(ngx_iothub_redis_conf_t *conf,
    ngx_log_t *log);
void ngx_iothub_redis_destroy(ngx_iothub_redis_t *rd);

/*
 * A subscriber link: on every connection it subscribes to the n channels
 * (at most NGX_IOTHUB_REDIS_MAX_CHANNELS) and hands each message to
 * handler(data, channel, payload, len).  Once subscribed it calls
 * handler(data, NULL, NULL, 0): what was published while the link was
 * down is lost.  It takes no commands; channels must outlive it.
 */
#define NGX_IOTHUB_REDIS_MAX_CHANNELS  4

typedef void (*ngx_iothub_redis_message_pt)(void *data, ngx_str_t *channel,
    u_char *payload, size_t len);

ngx_iothub_redis_t *ngx_iothub_redis_create_subscriber(
    ngx_iothub_redis_conf_t *conf, ngx_log_t *log, ngx_str_t *channels,
    ngx_uint_t n, ngx_iothub_redis_message_pt handler, void *data);

/* NGX_OK when connected, NGX_DECLINED while Redis is down. */
ngx_int_t ngx_iothub_redis_ready(ngx_iothub_redis_t *rd);

/*
 * Queues a command.  Returns NULL, without calling the handler, when Redis
 * is down (fail fast) or on allocation failure.  The returned call belongs
 * to the link; it stays valid until the handler runs or the call is
 * cancelled.
 */
ngx_iothub_redis_call_t *ngx_iothub_redis_command(ngx_iothub_redis_t *rd,
    ngx_iothub_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen);

/*
 * Runs the embedded Lua script "script" (an NGX_IOTHUB_LUA_* index) by its
 * SHA1 with nkeys keys followed by arguments: argv holds the keys, then the
 * arguments.  A NOSCRIPT answer is retried once with the script's text.
 */
ngx_iothub_redis_call_t *ngx_iothub_redis_script(ngx_iothub_redis_t *rd,
    ngx_uint_t script, ngx_iothub_redis_handler_pt handler, void *data,
    int nkeys, int argc, const char **argv, const size_t *argvlen);

/*
 * The same for bookkeeping that may wait a few milliseconds (a session's
 * end, lastActivityTime): it goes out with the next command that cannot
 * wait, or after 5 ms, so that in a storm many share one write and one
 * read on both sides.  Order with other commands is kept.
 */
ngx_iothub_redis_call_t *ngx_iothub_redis_script_lazy(ngx_iothub_redis_t *rd,
    ngx_uint_t script, ngx_iothub_redis_handler_pt handler, void *data,
    int nkeys, int argc, const char **argv, const size_t *argvlen);

/*
 * ngx_iothub_redis_script() with nresp more arguments after argv, already
 * written as RESP bulk strings (ngx_iothub_resp_bulk()), resp_len bytes:
 * for callers that collect the arguments of many requests in one command.
 * resp is not copied for a NOSCRIPT answer: it must stay until the
 * handler was called (or the call cancelled and the link destroyed).
 */
ngx_iothub_redis_call_t *ngx_iothub_redis_script_resp(ngx_iothub_redis_t *rd,
    ngx_uint_t script, ngx_iothub_redis_handler_pt handler, void *data,
    int nkeys, int argc, const char **argv, const size_t *argvlen,
    ngx_uint_t nresp, const u_char *resp, size_t resp_len);

/*
 * A call that is not a command of its own but part of one that a batching
 * caller sends later (its reply is a part of that command's reply): NULL
 * when Redis is down, as for a command.  The caller must end it exactly
 * once with ngx_iothub_redis_answer(), which calls its handler unless it
 * was cancelled, and frees it.
 */
ngx_iothub_redis_call_t *ngx_iothub_redis_call_detached(ngx_iothub_redis_t *rd,
    ngx_iothub_redis_handler_pt handler, void *data);
void ngx_iothub_redis_answer(ngx_iothub_redis_call_t *call,
    redisReply *reply);

/* The handler of a pending call will not be called; safe to call once. */
void ngx_iothub_redis_cancel(ngx_iothub_redis_call_t *call);


#endif /* _NGX_IOTHUB_REDIS_H_INCLUDED_ */
