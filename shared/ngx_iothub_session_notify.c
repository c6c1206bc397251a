
/*
 * nginx-iothub: what other nodes send to a device session through this
 * worker's inbox (kick, desired, c2d, method), and the answers to method
 * requests.  A session answers only the requests it was given: each
 * request id it receives is kept until answered, so a device cannot
 * complete another device's call (the caller checks the answering
 * identity and the request's nonce as well, ngx_iothub_method.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub_session_int.h"
#include "ngx_iothub_inbox_codec.h"
#include "ngx_iothub_method.h"


/* a request id given to the session and not answered yet */
typedef struct {
    ngx_queue_t                 queue;
    size_t                      len;
    u_char                      rid[1];
} ngx_iothub_session_rid_t;


static void ngx_iothub_session_kick_in(u_char *payload, size_t len);
static void ngx_iothub_session_desired_in(u_char *payload, size_t len);
static void ngx_iothub_session_c2d_in(u_char *payload, size_t len);
static void ngx_iothub_session_method_in(u_char *payload, size_t len);
static ngx_int_t ngx_iothub_session_rid_keep(ngx_iothub_session_t *s,
    ngx_str_t *rid);
static ngx_iothub_session_rid_t *ngx_iothub_session_rid_find(
    ngx_iothub_session_t *s, ngx_str_t *rid);
static void ngx_iothub_session_rid_free(ngx_iothub_session_t *s,
    ngx_iothub_session_rid_t *r);


ngx_int_t
ngx_iothub_session_notify_init(ngx_conf_t *cf)
{
    if (ngx_iothub_inbox_register(cf, "kick", ngx_iothub_session_kick_in)
           != NGX_OK
        || ngx_iothub_inbox_register(cf, "desired",
                                     ngx_iothub_session_desired_in)
           != NGX_OK
        || ngx_iothub_inbox_register(cf, "c2d", ngx_iothub_session_c2d_in)
           != NGX_OK
        || ngx_iothub_inbox_register(cf, "method",
                                     ngx_iothub_session_method_in)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* "kick <session> replaced|removed": the session must end */

static void
ngx_iothub_session_kick_in(u_char *payload, size_t len)
{
    ngx_iothub_session_t    *s;
    ngx_iothub_inbox_msg_t   m;

    if (ngx_iothub_inbox_parse_kick(payload, len, &m) != 0) {
        return;
    }

    s = ngx_iothub_session_find((ngx_uint_t) m.session);

    if (s) {
        s->protocol->kick(s, m.removed ? NGX_IOTHUB_KICK_REMOVED
                                       : NGX_IOTHUB_KICK_REPLACED);
    }
}


/* "desired <session> <version> <patch>" from a twin writer */

static void
ngx_iothub_session_desired_in(u_char *payload, size_t len)
{
    ngx_str_t                patch;
    ngx_iothub_session_t    *s;
    ngx_iothub_inbox_msg_t   m;

    if (ngx_iothub_inbox_parse_desired(payload, len, &m) != 0
        || m.version > NGX_MAX_INT_T_VALUE)
    {
        return;
    }

    s = ngx_iothub_session_find((ngx_uint_t) m.session);

    if (s == NULL || !(s->features & NGX_IOTHUB_FEATURE_DESIRED)) {
        return;
    }

    patch.data = (u_char *) m.rest.data;
    patch.len = m.rest.len;

    s->protocol->desired(s, (ngx_int_t) m.version, &patch);
}


/* "c2d <session>": a message was queued for the session's device */

static void
ngx_iothub_session_c2d_in(u_char *payload, size_t len)
{
    ngx_iothub_session_t    *s;
    ngx_iothub_inbox_msg_t   m;

    if (ngx_iothub_inbox_parse_c2d(payload, len, &m) != 0) {
        return;
    }

    s = ngx_iothub_session_find((ngx_uint_t) m.session);

    if (s) {
        ngx_iothub_session_c2d_pull(s);
    }
}


/* "method <session> <rid> <name> <payload>" */

static void
ngx_iothub_session_method_in(u_char *payload, size_t len)
{
    ngx_iothub_session_t         *s;
    ngx_iothub_method_request_t   req;
    ngx_iothub_session_method_t   m;

    if (ngx_iothub_method_request_parse(payload, len, &req) != NGX_OK) {
        return;
    }

    s = ngx_iothub_session_find(req.session_no);

    if (s == NULL || !(s->features & NGX_IOTHUB_FEATURE_METHODS)) {
        /*
         * the presence named a session that just ended: the caller looks
         * again for the device's current one
         */
        ngx_iothub_method_miss(&req.rid);
        return;
    }

    if (ngx_iothub_session_rid_keep(s, &req.rid) != NGX_OK) {
        return;
    }

    m.rid = req.rid;
    m.name = req.name;
    m.payload = req.payload;

    s->protocol->method(s, &m);
}


ngx_int_t
ngx_iothub_session_method_answer(ngx_iothub_session_t *s, ngx_str_t *rid,
    ngx_int_t status, ngx_str_t *payload)
{
    ngx_iothub_session_rid_t  *r;

    r = ngx_iothub_session_rid_find(s, rid);

    if (r == NULL) {
        ngx_log_error(NGX_LOG_INFO, s->log, 0,
                      "iothub: method answer for a request id this "
                      "session was not given, dropped");
        return NGX_DECLINED;
    }

    ngx_iothub_session_rid_free(s, r);

    /* Redis down: the caller times out with 504, as for a lost answer */
    (void) ngx_iothub_method_answer(rid, &s->sender.device_id,
                                    &s->sender.module_id, status, payload);

    return NGX_OK;
}


/* the oldest unanswered request gives way: its caller times out */

static ngx_int_t
ngx_iothub_session_rid_keep(ngx_iothub_session_t *s, ngx_str_t *rid)
{
    ngx_iothub_session_rid_t  *r;

    if (s->nmethods == NGX_IOTHUB_SESSION_MAX_METHODS) {
        r = ngx_queue_data(ngx_queue_head(&s->methods),
                           ngx_iothub_session_rid_t, queue);
        ngx_iothub_session_rid_free(s, r);
    }

    r = ngx_alloc(sizeof(ngx_iothub_session_rid_t) + rid->len, s->log);
    if (r == NULL) {
        return NGX_ERROR;
    }

    r->len = rid->len;
    ngx_memcpy(r->rid, rid->data, rid->len);

    ngx_queue_insert_tail(&s->methods, &r->queue);
    s->nmethods++;

    return NGX_OK;
}


static ngx_iothub_session_rid_t *
ngx_iothub_session_rid_find(ngx_iothub_session_t *s, ngx_str_t *rid)
{
    ngx_queue_t               *q;
    ngx_iothub_session_rid_t  *r;

    for (q = ngx_queue_head(&s->methods);
         q != ngx_queue_sentinel(&s->methods);
         q = ngx_queue_next(q))
    {
        r = ngx_queue_data(q, ngx_iothub_session_rid_t, queue);

        if (r->len == rid->len && ngx_memcmp(r->rid, rid->data, r->len) == 0)
        {
            return r;
        }
    }

    return NULL;
}


static void
ngx_iothub_session_rid_free(ngx_iothub_session_t *s,
    ngx_iothub_session_rid_t *r)
{
    ngx_queue_remove(&r->queue);
    ngx_free(r);
    s->nmethods--;
}


void
ngx_iothub_session_methods_free(ngx_iothub_session_t *s)
{
    while (!ngx_queue_empty(&s->methods)) {
        ngx_iothub_session_rid_free(s,
            ngx_queue_data(ngx_queue_head(&s->methods),
                           ngx_iothub_session_rid_t, queue));
    }
}
