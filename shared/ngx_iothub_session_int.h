
/*
 * nginx-iothub: what the files of the device-session layer share
 * (ngx_iothub_session*.c); not for protocol modules.
 */


#ifndef _NGX_IOTHUB_SESSION_INT_H_INCLUDED_
#define _NGX_IOTHUB_SESSION_INT_H_INCLUDED_


#include "ngx_iothub_session.h"
#include "ngx_iothub_redis.h"


typedef void (*ngx_iothub_session_reply_pt)(ngx_iothub_session_t *s,
    redisReply *reply, void *arg);


/*
 * A pending Redis call whose reply the session needs.  The reply handler
 * finds the session through it; closing the session cancels it, so a
 * late reply never reaches a freed session.
 */
struct ngx_iothub_session_call_s {
    ngx_queue_t                     queue;
    ngx_iothub_session_t           *session;
    ngx_iothub_redis_call_t        *call;
    ngx_iothub_session_reply_pt     handler;
    void                           *arg;
};


/* ngx_iothub_session.c */
ngx_iothub_session_call_t *ngx_iothub_session_call(ngx_iothub_session_t *s,
    ngx_iothub_session_reply_pt handler, void *arg);
void ngx_iothub_session_call_reply(void *data, redisReply *reply);
/* forgets a call whose Redis command could not be sent */
void ngx_iothub_session_call_drop(ngx_iothub_session_call_t *sc);
/* NGX_OK when sc->call went out, else NGX_DECLINED with sc dropped */
ngx_int_t ngx_iothub_session_call_sent(ngx_iothub_session_call_t *sc);
ngx_iothub_session_t *ngx_iothub_session_find(ngx_uint_t no);
void ngx_iothub_session_auth_done(ngx_iothub_session_t *s);
ngx_int_t ngx_iothub_session_auth_start(ngx_iothub_session_t *s);
ngx_int_t ngx_iothub_session_keep_token(ngx_iothub_session_t *s,
    ngx_str_t *token);
ngx_iothub_session_rc_e ngx_iothub_session_read_identity(
    ngx_iothub_session_t *s, ngx_iothub_registry_handler_pt handler);
ngx_iothub_session_rc_e ngx_iothub_session_identity_read(
    ngx_iothub_session_t *s, ngx_iothub_registry_op_t *op);
void ngx_iothub_session_arm_expiry(ngx_iothub_session_t *s);

/* ngx_iothub_session_auth.c: the credentials against s->auth->identity */
ngx_iothub_session_rc_e ngx_iothub_session_authorize(
    ngx_iothub_session_t *s);

/* ngx_iothub_session_c2d.c */
void ngx_iothub_session_c2d_init(ngx_iothub_session_t *s);
void ngx_iothub_session_c2d_close(ngx_iothub_session_t *s);

/* ngx_iothub_session_notify.c: inbox messages, method requests */
ngx_int_t ngx_iothub_session_notify_init(ngx_conf_t *cf);
void ngx_iothub_session_methods_free(ngx_iothub_session_t *s);


#endif /* _NGX_IOTHUB_SESSION_INT_H_INCLUDED_ */
