
/*
 * nginx-iothub http module: device telemetry over HTTPS (rest.md 14.1,
 * 14.2):
 *   POST /devices/{id}/messages/events                   one message
 *   POST /devices/{id}/modules/{mid}/messages/events     a module's
 * With Content-Type application/vnd.microsoft.iothub.json the body is a
 * batch, each element its own message.  The messages go the way MQTT and
 * AMQP telemetry goes (ngx_iothub_session_telemetry()); 204 once Redis
 * stored every one.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_iothub_module.h"
#include "ngx_iothub_http_d2c.h"


#define NGX_HTTP_IOTHUB_BATCH_TYPE  "application/vnd.microsoft.iothub.json"


#if (NGX_IOTHUB_HTTP_D2C_MAX_PROPS != NGX_IOTHUB_D2C_MAX_PROPERTIES)
#error "an HTTPS message holds as many properties as a stored one"
#endif


static ngx_int_t ngx_http_iothub_d2c_single(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
static ngx_int_t ngx_http_iothub_d2c_batch(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
static ngx_int_t ngx_http_iothub_d2c_batch_send(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_iothub_http_d2c_batch_t *b, size_t n);
static ngx_int_t ngx_http_iothub_d2c_body(ngx_http_request_t *r,
    ngx_iothub_http_d2c_msg_t *m, ngx_str_t *body);
static ngx_int_t ngx_http_iothub_d2c_message(ngx_http_request_t *r,
    ngx_iothub_http_d2c_msg_t *m, ngx_iothub_message_t *msg);
static ngx_int_t ngx_http_iothub_d2c_send(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_iothub_message_t *msg);
static void ngx_http_iothub_d2c_stored(ngx_iothub_session_t *s, ngx_int_t rc,
    ngx_uint_t arg);
static ngx_int_t ngx_http_iothub_d2c_answer(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx);
static ngx_int_t ngx_http_iothub_d2c_invalid(ngx_http_request_t *r,
    ngx_iothub_http_d2c_rc_e rc);
static void ngx_http_iothub_d2c_batch_cleanup(void *data);


ngx_int_t
ngx_http_iothub_route_d2c(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    ngx_table_elt_t  *h;

    if (ctx->body.len > NGX_IOTHUB_D2C_MAX_SIZE) {
        return ngx_http_iothub_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     "MessageTooLarge",
                                     "the message is over %uz bytes",
                                     (size_t) NGX_IOTHUB_D2C_MAX_SIZE);
    }

    h = r->headers_in.content_type;

    if (h != NULL
        && h->value.len >= sizeof(NGX_HTTP_IOTHUB_BATCH_TYPE) - 1
        && ngx_strncasecmp(h->value.data,
                           (u_char *) NGX_HTTP_IOTHUB_BATCH_TYPE,
                           sizeof(NGX_HTTP_IOTHUB_BATCH_TYPE) - 1)
           == 0)
    {
        return ngx_http_iothub_d2c_batch(r, ctx);
    }

    return ngx_http_iothub_d2c_single(r, ctx);
}


/* the body as it came, properties from the request headers */

static ngx_int_t
ngx_http_iothub_d2c_single(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    ngx_table_elt_t                *h;
    ngx_iothub_message_t            msg;
    ngx_iothub_http_d2c_rc_e        rc;
    ngx_iothub_http_d2c_msg_t       m;
    ngx_http_iothub_header_iter_t   it;

    ngx_iothub_http_d2c_init(&m);
    ngx_memzero(&it, sizeof(ngx_http_iothub_header_iter_t));

    while ((h = ngx_http_iothub_next_header(r, &it, NULL)) != NULL) {
        rc = ngx_iothub_http_d2c_header(&m, h->key.data, h->key.len,
                                        h->value.data, h->value.len);
        if (rc != NGX_IOTHUB_HTTP_D2C_OK) {
            return ngx_http_iothub_d2c_invalid(r, rc);
        }
    }

    if (ngx_http_iothub_d2c_message(r, &m, &msg) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    msg.body = ctx->body;

    return ngx_http_iothub_d2c_send(r, ctx, &msg);
}


static ngx_int_t
ngx_http_iothub_d2c_batch(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    char                          err[128];
    size_t                        n;
    ngx_pool_cleanup_t           *cln;
    ngx_iothub_http_d2c_rc_e      rc;
    ngx_iothub_http_d2c_batch_t  *b;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    err[0] = '\0';

    /* the body is NUL-terminated (ngx_http_iothub_read_body()) */
    rc = ngx_iothub_http_d2c_batch_parse((char *) ctx->body.data, &b, &n,
                                         err, sizeof(err));

    if (rc == NGX_IOTHUB_HTTP_D2C_BAD_JSON) {
        /* yajl's reason, without the lines that point at the text */
        err[strcspn(err, "\n")] = '\0';

        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "%s: %s",
                                     ngx_iothub_http_d2c_strerror(rc), err);
    }

    if (rc != NGX_IOTHUB_HTTP_D2C_OK) {
        return ngx_http_iothub_d2c_invalid(r, rc);
    }

    cln->handler = ngx_http_iothub_d2c_batch_cleanup;
    cln->data = b;

    return ngx_http_iothub_d2c_batch_send(r, ctx, b, n);
}


/* every message is checked before the first is sent: all or none */

static ngx_int_t
ngx_http_iothub_d2c_batch_send(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_iothub_http_d2c_batch_t *b, size_t n)
{
    size_t                      i;
    ngx_int_t                   rc;
    ngx_str_t                  *bodies;
    ngx_iothub_message_t        msg;
    ngx_iothub_http_d2c_msg_t   m;

    bodies = ngx_palloc(r->pool, n * sizeof(ngx_str_t));
    if (bodies == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < n; i++) {
        (void) ngx_iothub_http_d2c_batch_message(b, i, &m);

        rc = ngx_http_iothub_d2c_body(r, &m, &bodies[i]);

        if (rc == NGX_DECLINED) {
            return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                         "ArgumentInvalid",
                                         "a batch message's body is not "
                                         "base64");
        }

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    for (i = 0; i < n; i++) {
        (void) ngx_iothub_http_d2c_batch_message(b, i, &m);

        if (ngx_http_iothub_d2c_message(r, &m, &msg) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        msg.body = bodies[i];

        rc = ngx_http_iothub_d2c_send(r, ctx, &msg);
        if (rc != NGX_DONE || ctx->d2c_failed) {
            return rc;
        }
    }

    return NGX_DONE;
}


/*
 * A batch message's body: base64 unless it says otherwise.  NGX_DECLINED
 * when it is not base64.
 */

static ngx_int_t
ngx_http_iothub_d2c_body(ngx_http_request_t *r, ngx_iothub_http_d2c_msg_t *m,
    ngx_str_t *body)
{
    ngx_str_t  text;

    text.data = (u_char *) m->body;
    text.len = m->body_len;

    if (!m->base64) {
        *body = text;
        return NGX_OK;
    }

    body->data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(text.len)
                                      + 1);
    if (body->data == NULL) {
        return NGX_ERROR;
    }

    return (ngx_decode_base64(body, &text) == NGX_OK) ? NGX_OK
                                                      : NGX_DECLINED;
}


/* the properties as stream fields: "u:" names are joined in r->pool */

static ngx_int_t
ngx_http_iothub_d2c_message(ngx_http_request_t *r,
    ngx_iothub_http_d2c_msg_t *m, ngx_iothub_message_t *msg)
{
    u_char                      *name;
    size_t                       i, len;
    ngx_iothub_http_d2c_prop_t  *p;

    msg->n = 0;

    for (i = 0; i < m->n; i++) {
        p = &m->prop[i];
        len = ngx_strlen(p->field);
        name = (u_char *) p->field;

        if (p->name_len) {
            name = ngx_pnalloc(r->pool, len + p->name_len);
            if (name == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(ngx_cpymem(name, p->field, len), p->name,
                       p->name_len);
            len += p->name_len;
        }

        if (ngx_iothub_message_add(msg, (char *) name, len,
                                   (u_char *) p->value, p->value_len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* NGX_DONE: stored later, the answer then */

static ngx_int_t
ngx_http_iothub_d2c_send(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx,
    ngx_iothub_message_t *msg)
{
    ngx_int_t  rc;

    rc = ngx_iothub_session_telemetry(ctx->session, msg,
                                      ngx_http_iothub_d2c_stored, 0);

    if (rc == NGX_OK) {
        ctx->d2c_pending++;
        return NGX_DONE;
    }

    ctx->d2c_failed = 1;

    if (ctx->d2c_pending) {
        /* the answer waits for those sent */
        return NGX_DONE;
    }

    return (rc == NGX_DECLINED) ? ngx_http_iothub_unavailable(r)
                                : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static void
ngx_http_iothub_d2c_stored(ngx_iothub_session_t *s, ngx_int_t rc,
    ngx_uint_t arg)
{
    ngx_http_request_t *r = s->data;

    ngx_http_iothub_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iothub_module);

    if (rc != NGX_OK) {
        ctx->d2c_failed = 1;
    }

    if (--ctx->d2c_pending == 0) {
        ngx_http_iothub_finish(r, ngx_http_iothub_d2c_answer(r, ctx));
    }
}


static ngx_int_t
ngx_http_iothub_d2c_answer(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx)
{
    if (ctx->d2c_failed) {
        /* some may be stored: the device sends again, as after a 503 */
        return ngx_http_iothub_unavailable(r);
    }

    return ngx_http_iothub_send_empty(r, NGX_HTTP_NO_CONTENT);
}


static ngx_int_t
ngx_http_iothub_d2c_invalid(ngx_http_request_t *r,
    ngx_iothub_http_d2c_rc_e rc)
{
    return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST, "ArgumentInvalid",
                                 "%s", ngx_iothub_http_d2c_strerror(rc));
}


static void
ngx_http_iothub_d2c_batch_cleanup(void *data)
{
    ngx_iothub_http_d2c_batch_free(data);
}
