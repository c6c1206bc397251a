
/*
 * nginx-iothub http module: direct methods (rest.md 8).  The request goes
 * to the node of the device's session through its inbox; the device's
 * answer comes back to this worker's inbox as "methodres".  The request
 * waits on nginx timers, never blocking the worker.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_tree.h>

#include "ngx_iothub_sas.h"
#include "ngx_iothub_lua.h"
#include "ngx_http_iothub_module.h"


#define NGX_HTTP_IOTHUB_METHOD_PAYLOAD_MAX  (128 * 1024)
#define NGX_HTTP_IOTHUB_METHOD_DEPTH_MAX    64
#define NGX_HTTP_IOTHUB_METHOD_RETRY        250


typedef struct {
    ngx_rbtree_node_t           node;
    ngx_http_request_t         *request;
    ngx_event_t                 timer;
    ngx_iothub_redis_call_t    *call;
    ngx_str_t                   message;     /* "<rid> <name> <payload>" */
    ngx_msec_t                  connect_deadline;
    ngx_msec_t                  response_timeout;
    ngx_uint_t                  connect_timeout;
    unsigned                    delivered:1;
    unsigned                    waiting:1;    /* in the tree of requests */
} ngx_http_iothub_method_t;


static ngx_int_t ngx_http_iothub_method_parse(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_http_iothub_method_t *m);
static ngx_int_t ngx_http_iothub_method_timeouts(ngx_http_request_t *r,
    yajl_val root, ngx_http_iothub_method_t *m);
static ngx_int_t ngx_http_iothub_method_message(ngx_http_request_t *r,
    ngx_http_iothub_method_t *m, const char *name, yajl_val payload);
static ngx_int_t ngx_http_iothub_method_invoke(ngx_http_iothub_method_t *m);
static void ngx_http_iothub_method_invoked(void *data, redisReply *reply);
static void ngx_http_iothub_method_timer(ngx_event_t *ev);
static void ngx_http_iothub_method_answer(u_char *payload, size_t len);
static void ngx_http_iothub_method_missed(u_char *payload, size_t len);
static ngx_http_iothub_method_t *ngx_http_iothub_method_find(
    ngx_rbtree_key_t key);
static ngx_int_t ngx_http_iothub_method_reply(ngx_http_request_t *r,
    ngx_int_t status, u_char *payload, size_t len);
static ngx_int_t ngx_http_iothub_method_fail(ngx_http_request_t *r,
    ngx_uint_t status, ngx_uint_t code, const char *name,
    const char *message, ngx_uint_t timeout);
static void ngx_http_iothub_method_cleanup(void *data);
static void ngx_http_iothub_method_forget(ngx_http_iothub_method_t *m);
static ngx_int_t ngx_http_iothub_json_depth_ok(u_char *p, size_t len);
static ngx_int_t ngx_http_iothub_method_name_ok(const char *name);


static ngx_rbtree_t       ngx_http_iothub_methods;
static ngx_rbtree_node_t  ngx_http_iothub_methods_sentinel;
static ngx_uint_t         ngx_http_iothub_methods_last;


ngx_int_t
ngx_http_iothub_method_init(ngx_conf_t *cf)
{
    ngx_rbtree_init(&ngx_http_iothub_methods,
                    &ngx_http_iothub_methods_sentinel,
                    ngx_rbtree_insert_value);

    if (ngx_iothub_inbox_register(cf, "methodres",
                                  ngx_http_iothub_method_answer)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_iothub_inbox_register(cf, "methodmiss",
                                     ngx_http_iothub_method_missed);
}


ngx_int_t
ngx_http_iothub_route_method(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_pool_cleanup_t        *cln;
    ngx_http_iothub_method_t  *m;

    m = ngx_pcalloc(r->pool, sizeof(ngx_http_iothub_method_t));
    if (m == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    m->request = r;
    m->node.key = ++ngx_http_iothub_methods_last;

    rc = ngx_http_iothub_method_parse(r, ctx, m);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    m->timer.handler = ngx_http_iothub_method_timer;
    m->timer.data = m;
    m->timer.log = r->connection->log;
    m->connect_deadline = ngx_current_msec + m->connect_timeout * 1000;

    ngx_rbtree_insert(&ngx_http_iothub_methods, &m->node);
    m->waiting = 1;

    cln->handler = ngx_http_iothub_method_cleanup;
    cln->data = m;

    rc = ngx_http_iothub_method_invoke(m);

    if (rc != NGX_OK) {
        return ngx_http_iothub_method_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           503001, "ServiceUnavailable",
                                           "the hub's store is unavailable",
                                           0);
    }

    return NGX_DONE;
}


/* NGX_DECLINED when the request is good, else the response's rc */

static ngx_int_t
ngx_http_iothub_method_parse(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_http_iothub_method_t *m)
{
    char         err[128];
    ngx_int_t    rc;
    yajl_val     root;
    const char  *path[2], *name;

    if (ctx->body.len > NGX_HTTP_IOTHUB_METHOD_PAYLOAD_MAX + 4096) {
        return ngx_http_iothub_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     "MessageTooLarge",
                                     "the method payload is over 128 KB");
    }

    if (ngx_http_iothub_json_depth_ok(ctx->body.data, ctx->body.len)
        != NGX_OK)
    {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "the body nests too deep");
    }

    root = yajl_tree_parse((char *) ctx->body.data, err, sizeof(err));

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "IotHubFormatError",
                                     "the body is not a JSON object");
    }

    path[0] = "methodName";
    path[1] = NULL;
    name = YAJL_GET_STRING(yajl_tree_get(root, path, yajl_t_string));

    if (name == NULL || !ngx_http_iothub_method_name_ok(name)) {
        yajl_tree_free(root);
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "methodName is missing or invalid");
    }

    rc = ngx_http_iothub_method_timeouts(r, root, m);

    if (rc == NGX_DECLINED) {
        path[0] = "payload";
        rc = ngx_http_iothub_method_message(r, m, name,
                                            yajl_tree_get(root, path,
                                                          yajl_t_any));
    }

    yajl_tree_free(root);

    return rc;
}


static ngx_int_t
ngx_http_iothub_method_timeouts(ngx_http_request_t *r, yajl_val root,
    ngx_http_iothub_method_t *m)
{
    yajl_val     v;
    long long    response, connect;
    const char  *path[2];

    path[1] = NULL;

    path[0] = "responseTimeoutInSeconds";
    v = yajl_tree_get(root, path, yajl_t_any);
    response = (v && YAJL_IS_INTEGER(v)) ? YAJL_GET_INTEGER(v) : 30;

    if (v && !YAJL_IS_NULL(v) && !YAJL_IS_INTEGER(v)) {
        response = -1;
    }

    path[0] = "connectTimeoutInSeconds";
    v = yajl_tree_get(root, path, yajl_t_any);
    connect = (v && YAJL_IS_INTEGER(v)) ? YAJL_GET_INTEGER(v) : 0;

    if (v && !YAJL_IS_NULL(v) && !YAJL_IS_INTEGER(v)) {
        connect = -1;
    }

    if (response < 5 || response > 300 || connect < 0 || connect > 300) {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "responseTimeoutInSeconds must be 5 to "
                                     "300 and connectTimeoutInSeconds 0 to "
                                     "300");
    }

    m->response_timeout = (ngx_msec_t) response * 1000;
    m->connect_timeout = (ngx_uint_t) connect;

    return NGX_DECLINED;
}


/* "<rid> <name> <payload as JSON text>" for the device's node */

static ngx_int_t
ngx_http_iothub_method_message(ngx_http_request_t *r,
    ngx_http_iothub_method_t *m, const char *name, yajl_val payload)
{
    u_char                *p;
    size_t                 len;
    ngx_str_t             *inbox;
    yajl_gen               g;
    const unsigned char   *json;

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_iothub_json_gen_value(g, payload) != yajl_gen_status_ok
        || yajl_gen_get_buf(g, &json, &len) != yajl_gen_status_ok)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (len > NGX_HTTP_IOTHUB_METHOD_PAYLOAD_MAX) {
        return ngx_http_iothub_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     "MessageTooLarge",
                                     "the method payload is over 128 KB");
    }

    inbox = ngx_iothub_inbox();

    /* the rid names our inbox: "iothub:inbox:<hex>" gives "<hex>.<n>" */

    m->message.len = inbox->len + NGX_INT_T_LEN + 3
                     + ngx_strlen(name) + len;
    m->message.data = ngx_pnalloc(r->pool, m->message.len);
    if (m->message.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(m->message.data, "%*s.%ui %s ",
                    inbox->len - (sizeof("iothub:inbox:") - 1),
                    inbox->data + sizeof("iothub:inbox:") - 1,
                    m->node.key, name);
    p = ngx_cpymem(p, json, len);

    m->message.len = p - m->message.data;

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_iothub_method_invoke(ngx_http_iothub_method_t *m)
{
    size_t                  lens[3];
    ngx_str_t               keys[2], *mid;
    const char             *argv[3];
    ngx_http_iothub_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(m->request, ngx_http_iothub_module);
    mid = ctx->nseg == 5 ? &ctx->seg[3] : NULL;

    if (ngx_iothub_key(m->request->pool, &keys[0], ctx->hub, &ctx->seg[1],
                       mid ? "module:" : "device", mid) != NGX_OK
        || ngx_iothub_key(m->request->pool, &keys[1], ctx->hub, &ctx->seg[1],
                          mid ? "presence:" : "presence", mid) != NGX_OK)
    {
        return NGX_ERROR;
    }

    argv[0] = (char *) keys[0].data;
    lens[0] = keys[0].len;
    argv[1] = (char *) keys[1].data;
    lens[1] = keys[1].len;
    argv[2] = (char *) m->message.data;
    lens[2] = m->message.len;

    m->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                      NGX_IOTHUB_LUA_METHOD_INVOKE,
                                      ngx_http_iothub_method_invoked, m, 2,
                                      3, argv, lens);

    return m->call ? NGX_OK : NGX_DECLINED;
}


static void
ngx_http_iothub_method_invoked(void *data, redisReply *reply)
{
    ngx_http_iothub_method_t *m = data;

    ngx_int_t               rc;
    ngx_http_request_t     *r;
    ngx_http_iothub_ctx_t  *ctx;

    m->call = NULL;
    r = m->request;

    if (reply == NULL) {
        rc = ngx_http_iothub_method_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         503001, "ServiceUnavailable",
                                         "the hub's store is unavailable",
                                         0);
        ngx_http_iothub_finish(r, rc);
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ctx = ngx_http_get_module_ctx(r, ngx_http_iothub_module);

        if (ctx->nseg == 5) {
            rc = ngx_http_iothub_error(r, NGX_HTTP_NOT_FOUND,
                                       "ModuleNotFound",
                                       "Module %V not registered on device "
                                       "%V", &ctx->seg[3], &ctx->seg[1]);

        } else {
            rc = ngx_http_iothub_error(r, NGX_HTTP_NOT_FOUND,
                                       "DeviceNotFound",
                                       "Device %V not registered",
                                       &ctx->seg[1]);
        }

        ngx_http_iothub_finish(r, rc);
        return;
    }

    if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 1) {
        m->delivered = 1;
        ngx_add_timer(&m->timer, m->response_timeout);
        return;
    }

    if ((ngx_msec_int_t) (m->connect_deadline - ngx_current_msec) > 0) {
        /* wait for the device to connect and subscribe */
        ngx_add_timer(&m->timer, NGX_HTTP_IOTHUB_METHOD_RETRY);
        return;
    }

    rc = ngx_http_iothub_method_fail(r, NGX_HTTP_NOT_FOUND, 404103,
                                     "DeviceNotOnline",
                                     "The operation failed because the "
                                     "requested device isn't online or "
                                     "hasn't registered the direct method "
                                     "callback.", m->connect_timeout);
    ngx_http_iothub_finish(r, rc);
}


static void
ngx_http_iothub_method_timer(ngx_event_t *ev)
{
    ngx_http_iothub_method_t *m = ev->data;

    ngx_int_t  rc;

    if (!m->delivered) {
        if (ngx_http_iothub_method_invoke(m) == NGX_OK) {
            return;
        }

        rc = ngx_http_iothub_method_fail(m->request,
                                         NGX_HTTP_SERVICE_UNAVAILABLE,
                                         503001, "ServiceUnavailable",
                                         "the hub's store is unavailable",
                                         0);
        ngx_http_iothub_finish(m->request, rc);
        return;
    }

    ngx_http_iothub_method_forget(m);

    rc = ngx_http_iothub_method_fail(m->request, NGX_HTTP_GATEWAY_TIME_OUT,
                                     504101, "GatewayTimeout",
                                     "Timed out waiting for the response "
                                     "from device.",
                                     m->response_timeout / 1000);
    ngx_http_iothub_finish(m->request, rc);
}


/*
 * "methodmiss <n>": the session the presence named had just ended; look
 * again while the connect timeout lasts
 */

static void
ngx_http_iothub_method_missed(u_char *payload, size_t len)
{
    ngx_int_t                  n;
    ngx_http_iothub_method_t  *m;

    n = ngx_atoi(payload, len);

    m = (n == NGX_ERROR) ? NULL : ngx_http_iothub_method_find(n);

    if (m == NULL || !m->delivered) {
        return;
    }

    m->delivered = 0;

    if (m->timer.timer_set) {
        ngx_del_timer(&m->timer);
    }

    ngx_add_timer(&m->timer, 1);
}


static ngx_http_iothub_method_t *
ngx_http_iothub_method_find(ngx_rbtree_key_t key)
{
    ngx_rbtree_node_t  *node, *sentinel;

    node = ngx_http_iothub_methods.root;
    sentinel = ngx_http_iothub_methods.sentinel;

    while (node != sentinel && node->key != key) {
        node = (key < node->key) ? node->left : node->right;
    }

    return (node == sentinel) ? NULL : (ngx_http_iothub_method_t *) node;
}


/* "methodres <n> <status> <payload>" from the device's node */

static void
ngx_http_iothub_method_answer(u_char *payload, size_t len)
{
    u_char                    *p, *last, *sp;
    ngx_int_t                  n, status, rc;
    ngx_http_iothub_method_t  *m;

    last = payload + len;

    sp = ngx_strlchr(payload, last, ' ');
    if (sp == NULL) {
        return;
    }

    n = ngx_atoi(payload, sp - payload);
    p = sp + 1;

    sp = ngx_strlchr(p, last, ' ');
    if (n == NGX_ERROR || sp == NULL) {
        return;
    }

    status = (*p == '-') ? -ngx_atoi(p + 1, sp - p - 1)
                         : ngx_atoi(p, sp - p);

    m = ngx_http_iothub_method_find(n);

    if (m == NULL || !m->delivered) {
        /* late or unknown: dropped (mqtt.md 8) */
        return;
    }

    /* answered once: a second answer (or the timer) finds nothing */
    ngx_http_iothub_method_forget(m);

    rc = ngx_http_iothub_method_reply(m->request, status, sp + 1,
                                      last - sp - 1);
    ngx_http_iothub_finish(m->request, rc);
}


/* 200 {"status":<device status>,"payload":<device JSON>} (rest.md 8) */

static ngx_int_t
ngx_http_iothub_method_reply(ngx_http_request_t *r, ngx_int_t status,
    u_char *payload, size_t len)
{
    yajl_val   v;
    yajl_gen   g;
    u_char    *json;

    json = ngx_pnalloc(r->pool, len + 1);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(json, payload, len);
    json[len] = '\0';

    v = NULL;

    if (len && ngx_http_iothub_json_depth_ok(json, len) == NGX_OK) {
        v = yajl_tree_parse((char *) json, NULL, 0);
    }

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL) {
        yajl_tree_free(v);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (u_char *) "status", 6);
    yajl_gen_integer(g, status);
    yajl_gen_string(g, (u_char *) "payload", 7);

    if (v) {
        (void) ngx_iothub_json_gen_value(g, v);

    } else if (len) {
        /* not JSON: passed on as a string */
        yajl_gen_string(g, json, len);

    } else {
        yajl_gen_null(g);
    }

    yajl_gen_map_close(g);
    yajl_tree_free(v);

    return ngx_http_iothub_send_json(r, NGX_HTTP_OK, g, NULL);
}


/* the nested error envelope of direct methods (rest.md 2.1) */

static ngx_int_t
ngx_http_iothub_method_fail(ngx_http_request_t *r, ngx_uint_t status,
    ngx_uint_t code, const char *name, const char *message,
    ngx_uint_t timeout)
{
    u_char     inner[640], now[40], *last;
    yajl_gen   g;
    ngx_str_t  value;

    ngx_iothub_time_now(now, sizeof(now));

    last = ngx_snprintf(inner, sizeof(inner),
                        "{\"errorCode\":%ui,\"trackingId\":\"%08xD%08xD\","
                        "\"message\":\"%s\",\"info\":{\"timeout\":"
                        "\"%02ui:%02ui:%02ui\"},\"timestampUtc\":\"%s\"}",
                        code, (uint32_t) ngx_random(),
                        (uint32_t) ngx_random(), message,
                        timeout / 3600, timeout / 60 % 60, timeout % 60, now);

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (u_char *) "Message", 7);
    yajl_gen_string(g, inner, last - inner);
    yajl_gen_string(g, (u_char *) "ExceptionMessage", 16);
    yajl_gen_string(g, (u_char *) "", 0);
    yajl_gen_map_close(g);

    value.data = (u_char *) name;
    value.len = ngx_strlen(name);

    if (ngx_http_iothub_add_header(r, "iothub-errorcode", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iothub_send_json(r, status, g, NULL);
}


static void
ngx_http_iothub_method_cleanup(void *data)
{
    ngx_http_iothub_method_t *m = data;

    if (m->call) {
        ngx_iothub_redis_cancel(m->call);
        m->call = NULL;
    }

    ngx_http_iothub_method_forget(m);
}


static void
ngx_http_iothub_method_forget(ngx_http_iothub_method_t *m)
{
    if (m->timer.timer_set) {
        ngx_del_timer(&m->timer);
    }

    if (m->waiting) {
        m->waiting = 0;
        ngx_rbtree_delete(&ngx_http_iothub_methods, &m->node);
    }
}


/* nesting of JSON text outside strings, bounded before yajl's tree */

static ngx_int_t
ngx_http_iothub_json_depth_ok(u_char *p, size_t len)
{
    u_char      *last;
    ngx_uint_t   depth, in_string;

    depth = 0;
    in_string = 0;

    for (last = p + len; p < last; p++) {
        if (in_string) {
            if (*p == '\\') {
                p++;

            } else if (*p == '"') {
                in_string = 0;
            }

            continue;
        }

        switch (*p) {

        case '"':
            in_string = 1;
            break;

        case '{':
        case '[':
            if (++depth > NGX_HTTP_IOTHUB_METHOD_DEPTH_MAX) {
                return NGX_ERROR;
            }

            break;

        case '}':
        case ']':
            depth -= depth ? 1 : 0;
            break;
        }
    }

    return NGX_OK;
}


/* US-ASCII printable without $()<>@,;:\"/[]?={} space tab (rest.md 8) */

static ngx_int_t
ngx_http_iothub_method_name_ok(const char *name)
{
    const char  *p;

    if (*name == '\0' || ngx_strlen(name) > 128) {
        return 0;
    }

    for (p = name; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f
            || ngx_strchr("$()<>@,;:\\\"/[]?={}", *p))
        {
            return 0;
        }
    }

    return 1;
}
