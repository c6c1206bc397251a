
/*
 * nginx-iothub http module: cloud-to-device messages for HTTPS devices
 * (rest.md 14.3), polled:
 *   GET    /devices/{id}/messages/deviceBound                   receive
 *   DELETE /devices/{id}/messages/deviceBound/{etag}            complete
 *   DELETE /devices/{id}/messages/deviceBound/{etag}?reject     reject
 *   POST   /devices/{id}/messages/deviceBound/{etag}/abandon    abandon
 * The queue, its locks and delivery counts are those MQTT and AMQP
 * devices use (the session layer's ngx_iothub_session_c2d_fetch() and
 * ngx_iothub_session_c2d_settle_lock()).  A message is 200 with the
 * payload as body, properties as headers and the lock token as ETag;
 * none due is 204; a lock unknown or lost is 412 DeviceMessageLockLost.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_iothub_module.h"
#include "ngx_iothub_http_c2d_headers.h"
#include "ngx_iothub_log.h"


static void ngx_http_iothub_c2d_fetched(ngx_iothub_session_t *s,
    ngx_int_t rc, ngx_iothub_c2d_message_t *msg);
static ngx_int_t ngx_http_iothub_c2d_deliver(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_iothub_c2d_message_t *msg);
static ngx_int_t ngx_http_iothub_c2d_etag(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_str_t *n);
static ngx_int_t ngx_http_iothub_c2d_properties(ngx_http_request_t *r,
    ngx_iothub_c2d_message_t *msg);
static ngx_int_t ngx_http_iothub_c2d_header(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);
static ngx_int_t ngx_http_iothub_c2d_app_header(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value);
static void ngx_http_iothub_c2d_settled(ngx_iothub_session_t *s,
    ngx_int_t rc);
static ngx_int_t ngx_http_iothub_c2d_lock_lost(ngx_http_request_t *r);


ngx_int_t
ngx_http_iothub_route_c2d_receive(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    uint64_t   bits;
    ngx_str_t  lock;

    lock.len = NGX_IOTHUB_C2D_LOCK_LEN;
    lock.data = ngx_pnalloc(r->pool, lock.len);
    if (lock.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    bits = ((uint64_t) ngx_random() << 32) ^ (uint64_t) ngx_random()
             ^ ((uint64_t) ngx_random() << 16);

    ngx_iothub_c2d_lock_write(lock.data, bits);

    ctx->c2d_lock = lock.data;

    return ngx_http_iothub_started(r,
               ngx_iothub_session_c2d_fetch(ctx->session, &lock,
                                            ngx_http_iothub_c2d_fetched));
}


static void
ngx_http_iothub_c2d_fetched(ngx_iothub_session_t *s, ngx_int_t rc,
    ngx_iothub_c2d_message_t *msg)
{
    ngx_http_request_t *r = s->data;

    ngx_http_iothub_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iothub_module);

    switch (rc) {

    case NGX_OK:
        ngx_http_iothub_finish(r, ngx_http_iothub_c2d_deliver(r, ctx, msg));
        return;

    case NGX_DECLINED:
        ngx_http_iothub_finish(r, ngx_http_iothub_send_empty(r,
                                                      NGX_HTTP_NO_CONTENT));
        return;

    default:
        ngx_http_iothub_finish(r, ngx_http_iothub_unavailable(r));
    }
}


/* 200: everything is copied, msg lives only during the hook */

static ngx_int_t
ngx_http_iothub_c2d_deliver(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx,
    ngx_iothub_c2d_message_t *msg)
{
    ngx_buf_t  *b;

    if (ngx_http_iothub_c2d_etag(r, ctx, &msg->sequence_number) != NGX_OK
        || ngx_http_iothub_c2d_properties(r, msg) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_create_temp_buf(r->pool, ngx_max(msg->body.len, 1));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->pos, msg->body.data, msg->body.len);

    ngx_str_set(&r->headers_out.content_type, "application/octet-stream");

    return ngx_http_iothub_send_buf(r, NGX_HTTP_OK, b);
}


/* ETag: the lock token, quoted (the C SDK wants the quotes) */

static ngx_int_t
ngx_http_iothub_c2d_etag(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx,
    ngx_str_t *n)
{
    ngx_int_t  number;
    ngx_str_t  etag;

    number = ngx_atoi(n->data, n->len);

    etag.len = NGX_IOTHUB_C2D_TOKEN_LEN + 2;
    etag.data = ngx_pnalloc(r->pool, etag.len);

    if (number == NGX_ERROR || etag.data == NULL
        || ngx_iothub_c2d_token_write(etag.data + 1, ctx->c2d_lock,
                                      (uint64_t) number) != 0)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "iothub: C2D message number \"%V\" has no lock token",
                      n);
        return NGX_ERROR;
    }

    etag.data[0] = '"';
    etag.data[etag.len - 1] = '"';

    return ngx_http_iothub_add_header(r, "ETag", &etag);
}


/* the system properties by the names the SDKs read, then iothub-app-* */

static ngx_int_t
ngx_http_iothub_c2d_properties(ngx_http_request_t *r,
    ngx_iothub_c2d_message_t *msg)
{
    ngx_uint_t  i;

    if (ngx_http_iothub_c2d_header(r, "iothub-messageid", &msg->message_id)
        != NGX_OK
        || ngx_http_iothub_c2d_header(r, "iothub-to", &msg->to) != NGX_OK
        || ngx_http_iothub_c2d_header(r, "iothub-ack", &msg->ack) != NGX_OK
        || ngx_http_iothub_c2d_header(r, "iothub-sequencenumber",
                                      &msg->sequence_number) != NGX_OK
        || ngx_http_iothub_c2d_header(r, "iothub-enqueuedtime",
                                      &msg->enqueued) != NGX_OK
        || ngx_http_iothub_c2d_header(r, "iothub-expiry", &msg->expiry)
           != NGX_OK
        || ngx_http_iothub_c2d_header(r, "iothub-deliverycount",
                                      &msg->delivery_count) != NGX_OK
        || ngx_http_iothub_c2d_header(r, "iothub-correlationid",
                                      &msg->correlation_id) != NGX_OK
        || ngx_http_iothub_c2d_header(r, "iothub-userid", &msg->user_id)
           != NGX_OK
        || ngx_http_iothub_c2d_header(r, "ContentType", &msg->content_type)
           != NGX_OK
        || ngx_http_iothub_c2d_header(r, "ContentEncoding",
                                      &msg->content_encoding) != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < msg->napp; i++) {
        if (ngx_http_iothub_c2d_app_header(r, &msg->app_name[i],
                                           &msg->app_value[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* a header with a copy of value; none for an empty one but the counts */

static ngx_int_t
ngx_http_iothub_c2d_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_str_t  copy;

    if (!ngx_iothub_http_header_value_ok(value->data, value->len)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iothub: C2D property %s dropped: its value cannot "
                      "be a header", name);
        return NGX_OK;
    }

    if (value->len == 0) {
        if (ngx_strcmp(name, "iothub-deliverycount") == 0) {
            ngx_str_set(&copy, "0");
            return ngx_http_iothub_add_header(r, name, &copy);
        }

        return NGX_OK;
    }

    copy.len = value->len;
    copy.data = ngx_pstrdup(r->pool, value);
    if (copy.data == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_iothub_add_header(r, name, &copy);
}


static ngx_int_t
ngx_http_iothub_c2d_app_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
    u_char           *p;
    ngx_str_t             copy;
    ngx_table_elt_t      *h;
    ngx_iothub_log_buf_t  lb;

    if (!ngx_iothub_http_header_name_ok(name->data, name->len)
        || !ngx_iothub_http_header_value_ok(value->data, value->len))
    {
        /* a CR or LF must not split the response (rest.md 14.1) */
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iothub: C2D application property \"%V\" dropped: "
                      "it cannot be a header",
                      ngx_iothub_log_str(&lb, name->data, name->len));
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, sizeof("iothub-app-") - 1 + name->len);
    copy.len = value->len;
    copy.data = ngx_pstrdup(r->pool, value);
    h = ngx_list_push(&r->headers_out.headers);

    if (p == NULL || (copy.data == NULL && value->len) || h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = p;
    h->key.len = ngx_cpymem(ngx_cpymem(p, "iothub-app-",
                                       sizeof("iothub-app-") - 1),
                            name->data, name->len)
                 - p;
    h->value = copy;

    return NGX_OK;
}


ngx_int_t
ngx_http_iothub_route_c2d_settle(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    u_char                   number[NGX_INT64_LEN];
    uint64_t                 n;
    ngx_str_t                token, lock, ns;
    ngx_iothub_c2d_settle_e  how;

    /* the token as the ETag gave it, quotes or not */

    token = ctx->seg[4];

    if (token.len >= 2 && token.data[0] == '"'
        && token.data[token.len - 1] == '"')
    {
        token.data++;
        token.len -= 2;
    }

    if (ngx_iothub_c2d_token_parse(token.data, token.len, &n) != 0) {
        return ngx_http_iothub_c2d_lock_lost(r);
    }

    lock.data = token.data;
    lock.len = NGX_IOTHUB_C2D_LOCK_LEN;

    ns.data = number;
    ns.len = ngx_sprintf(number, "%uL", n) - number;

    if (r->method == NGX_HTTP_POST) {
        how = NGX_IOTHUB_C2D_ABANDON;

    } else if (ngx_iothub_c2d_query_reject(r->args.data, r->args.len)) {
        how = NGX_IOTHUB_C2D_REJECT;

    } else {
        how = NGX_IOTHUB_C2D_COMPLETE;
    }

    return ngx_http_iothub_started(r,
               ngx_iothub_session_c2d_settle_lock(ctx->session, &ns, &lock,
                                               how,
                                               ngx_http_iothub_c2d_settled));
}


static void
ngx_http_iothub_c2d_settled(ngx_iothub_session_t *s, ngx_int_t rc)
{
    ngx_http_request_t *r = s->data;

    switch (rc) {

    case NGX_OK:
        ngx_http_iothub_finish(r, ngx_http_iothub_send_empty(r,
                                                      NGX_HTTP_NO_CONTENT));
        return;

    case NGX_DECLINED:
        ngx_http_iothub_finish(r, ngx_http_iothub_c2d_lock_lost(r));
        return;

    default:
        ngx_http_iothub_finish(r, ngx_http_iothub_unavailable(r));
    }
}


static ngx_int_t
ngx_http_iothub_c2d_lock_lost(ngx_http_request_t *r)
{
    return ngx_http_iothub_error(r, NGX_HTTP_PRECONDITION_FAILED,
                                 "DeviceMessageLockLost",
                                 "the message's lock token is unknown or "
                                 "its lock was lost");
}
