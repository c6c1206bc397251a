
/*
 * nginx-iothub: the direct-method service; see ngx_iothub_method.h.
 *
 * Calls of this worker wait in a tree under their number <n>, on nginx
 * timers: while the device is not online, method_invoke.lua is asked again
 * every 250 ms until the connect timeout; once the request was handed to a
 * session, the response timeout runs.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <openssl/rand.h>

#include "ngx_iothub.h"
#include "ngx_iothub_method.h"
#include "ngx_iothub_log.h"
#include "ngx_iothub_reply.h"
#include "ngx_iothub_lua.h"


#define NGX_IOTHUB_METHOD_RETRY     250
#define NGX_IOTHUB_METHOD_KEY_LEN   512
#define NGX_IOTHUB_INBOX_PREFIX     "iothub:inbox:"


static ngx_int_t ngx_iothub_method_prepare(ngx_iothub_method_op_t *op);
static ngx_int_t ngx_iothub_method_send(ngx_iothub_method_op_t *op);
static void ngx_iothub_method_sent(void *data, redisReply *reply);
static void ngx_iothub_method_timer(ngx_event_t *ev);
static void ngx_iothub_method_answered(u_char *payload, size_t len);
static void ngx_iothub_method_missed(u_char *payload, size_t len);
static ngx_iothub_method_op_t *ngx_iothub_method_find(uint64_t n,
    const u_char *nonce);
static void ngx_iothub_method_finish(ngx_iothub_method_op_t *op,
    ngx_iothub_method_result_e result);
static void ngx_iothub_method_forget(ngx_iothub_method_op_t *op);
static ngx_int_t ngx_iothub_method_reply_to(ngx_str_t *rid,
    ngx_iothub_method_rid_t *parsed, u_char *inbox, ngx_str_t *name);


static ngx_rbtree_t       ngx_iothub_method_calls;
static ngx_rbtree_node_t  ngx_iothub_method_sentinel;
static ngx_rbtree_key_t   ngx_iothub_method_last;


ngx_int_t
ngx_iothub_method_init(ngx_conf_t *cf)
{
    ngx_rbtree_init(&ngx_iothub_method_calls, &ngx_iothub_method_sentinel,
                    ngx_rbtree_insert_value);

    if (ngx_iothub_inbox_register(cf, "methodres",
                                  ngx_iothub_method_answered)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_iothub_inbox_register(cf, "methodmiss",
                                     ngx_iothub_method_missed);
}


ngx_int_t
ngx_iothub_method_invoke(ngx_iothub_method_op_t *op)
{
    ngx_int_t  rc;

    op->node.key = ++ngx_iothub_method_last;

    rc = ngx_iothub_method_prepare(op);
    if (rc != NGX_OK) {
        return rc;
    }

    op->timer.handler = ngx_iothub_method_timer;
    op->timer.data = op;
    op->timer.log = op->log;
    op->connect_deadline = ngx_current_msec + op->connect_timeout;

    ngx_rbtree_insert(&ngx_iothub_method_calls, &op->node);
    op->waiting = 1;

    rc = ngx_iothub_method_send(op);

    if (rc != NGX_OK) {
        ngx_iothub_method_forget(op);
    }

    return rc;
}


void
ngx_iothub_method_cancel(ngx_iothub_method_op_t *op)
{
    ngx_iothub_method_forget(op);
}


/* the nonce and "<rid> <name> <payload>" for method_invoke.lua */

static ngx_int_t
ngx_iothub_method_prepare(ngx_iothub_method_op_t *op)
{
    u_char     *p, random[NGX_IOTHUB_METHOD_NONCE_HEX / 2];
    size_t      n;
    ngx_str_t  *inbox;

    inbox = ngx_iothub_inbox();

    if (inbox->len != sizeof(NGX_IOTHUB_INBOX_PREFIX) - 1
                      + NGX_IOTHUB_METHOD_INBOX_HEX)
    {
        /* no inbox: not a worker of a configured hub */
        return NGX_DECLINED;
    }

    if (RAND_bytes(random, sizeof(random)) != 1) {
        ngx_log_error(NGX_LOG_ALERT, op->log, 0,
                      "iothub: RAND_bytes() failed");
        return NGX_ERROR;
    }

    ngx_hex_dump(op->nonce, random, sizeof(random));

    op->message = ngx_alloc(NGX_IOTHUB_METHOD_RID_MAX + 2 + op->name.len
                            + op->payload.len, op->log);
    if (op->message == NULL) {
        return NGX_ERROR;
    }

    n = ngx_iothub_method_rid_write(op->message, NGX_IOTHUB_METHOD_RID_MAX,
                                    inbox->data
                                    + sizeof(NGX_IOTHUB_INBOX_PREFIX) - 1,
                                    op->node.key, op->nonce);

    p = op->message + n;
    *p++ = ' ';
    p = ngx_cpymem(p, op->name.data, op->name.len);
    *p++ = ' ';
    p = ngx_cpymem(p, op->payload.data, op->payload.len);

    op->message_len = p - op->message;

    return NGX_OK;
}


static ngx_int_t
ngx_iothub_method_send(ngx_iothub_method_op_t *op)
{
    u_char       identity[NGX_IOTHUB_METHOD_KEY_LEN];
    u_char       presence[NGX_IOTHUB_METHOD_KEY_LEN];
    size_t       lens[3];
    ngx_str_t   *mid;
    const char  *argv[3];

    mid = op->module_id.len ? &op->module_id : NULL;

    lens[0] = ngx_iothub_key_write(identity, identity + sizeof(identity),
                                   op->hub, &op->device_id,
                                   mid ? "module:" : "device", mid)
              - identity;
    lens[1] = ngx_iothub_key_write(presence, presence + sizeof(presence),
                                   op->hub, &op->device_id,
                                   mid ? "presence:" : "presence", mid)
              - presence;
    lens[2] = op->message_len;

    argv[0] = (char *) identity;
    argv[1] = (char *) presence;
    argv[2] = (char *) op->message;

    op->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                       NGX_IOTHUB_LUA_METHOD_INVOKE,
                                       ngx_iothub_method_sent, op, 2, 3,
                                       argv, lens);

    return op->call ? NGX_OK : NGX_DECLINED;
}


static void
ngx_iothub_method_sent(void *data, redisReply *reply)
{
    ngx_iothub_method_op_t *op = data;

    long long               delivered;
    ngx_iothub_log_buf_t    lb;
    ngx_iothub_reply_str_t  err;

    op->call = NULL;

    switch (ngx_iothub_reply_integer(reply, &delivered)) {

    case NGX_IOTHUB_REPLY_OK:
        break;

    case NGX_IOTHUB_REPLY_LOST:
        ngx_iothub_method_finish(op, NGX_IOTHUB_METHOD_UNAVAILABLE);
        return;

    case NGX_IOTHUB_REPLY_NOT_FOUND:
        ngx_iothub_method_finish(op, NGX_IOTHUB_METHOD_NOT_FOUND);
        return;

    case NGX_IOTHUB_REPLY_MALFORMED:
        /* as "not online": asked again until the connect timeout */
        delivered = 0;
        break;

    default:
        ngx_iothub_reply_error_text(reply, &err);
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "iothub: method_invoke.lua failed: \"%V\"",
                      ngx_iothub_log_str(&lb, (u_char *) err.data, err.len));
        ngx_iothub_method_finish(op, NGX_IOTHUB_METHOD_UNAVAILABLE);
        return;
    }

    if (delivered == 1) {

        if (op->missed) {
            /* the session named had ended: look again at once */
            op->missed = 0;
            ngx_add_timer(&op->timer, 1);
            return;
        }

        op->delivered = 1;
        ngx_add_timer(&op->timer, op->response_timeout);
        return;
    }

    op->missed = 0;

    if ((ngx_msec_int_t) (op->connect_deadline - ngx_current_msec) > 0) {
        /* wait for the device to connect and subscribe */
        ngx_add_timer(&op->timer, NGX_IOTHUB_METHOD_RETRY);
        return;
    }

    ngx_iothub_method_finish(op, NGX_IOTHUB_METHOD_NOT_ONLINE);
}


static void
ngx_iothub_method_timer(ngx_event_t *ev)
{
    ngx_iothub_method_op_t *op = ev->data;

    if (op->delivered) {
        ngx_iothub_method_finish(op, NGX_IOTHUB_METHOD_TIMED_OUT);
        return;
    }

    if (ngx_iothub_method_send(op) != NGX_OK) {
        ngx_iothub_method_finish(op, NGX_IOTHUB_METHOD_UNAVAILABLE);
    }
}


/*
 * "methodres <n> <nonce> <identity> <status> <payload>": counts only for
 * a call of ours with that nonce, from the identity called
 */

static void
ngx_iothub_method_answered(u_char *payload, size_t len)
{
    ngx_iothub_method_op_t   *op;
    ngx_iothub_method_res_t   res;

    if (ngx_iothub_method_res_parse(payload, len, &res) != 0) {
        ngx_log_debug0(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                       "iothub: malformed methodres dropped");
        return;
    }

    op = ngx_iothub_method_find(res.n, res.nonce);

    if (op == NULL) {
        /* late, unknown or forged: dropped (mqtt.md 8) */
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                       "iothub: methodres for no call %uL dropped", res.n);
        return;
    }

    if (!ngx_iothub_method_identity_is(res.identity, res.identity_len,
                                       op->device_id.data, op->device_id.len,
                                       op->module_id.data, op->module_id.len))
    {
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                       "iothub: methodres for call %uL from another "
                       "identity dropped", res.n);
        return;
    }

    op->status = (ngx_int_t) res.status;
    op->answer.data = (u_char *) res.payload;
    op->answer.len = res.payload_len;

    ngx_iothub_method_finish(op, NGX_IOTHUB_METHOD_ANSWERED);
}


/*
 * "methodmiss <n> <nonce>": the session the presence named had just ended;
 * look again while the connect timeout lasts
 */

static void
ngx_iothub_method_missed(u_char *payload, size_t len)
{
    uint64_t                 n;
    const u_char            *nonce;
    ngx_iothub_method_op_t  *op;

    if (ngx_iothub_method_miss_parse(payload, len, &n, &nonce) != 0) {
        ngx_log_debug0(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                       "iothub: malformed methodmiss dropped");
        return;
    }

    op = ngx_iothub_method_find(n, nonce);

    if (op == NULL) {
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                       "iothub: methodmiss for no call %uL dropped", n);
        return;
    }

    if (op->call) {
        /* the invoke's reply is still on its way */
        op->missed = 1;
        return;
    }

    if (!op->delivered) {
        return;
    }

    op->delivered = 0;

    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }

    ngx_add_timer(&op->timer, 1);
}


/* a call waiting for an answer (or whose request is on its way) */

static ngx_iothub_method_op_t *
ngx_iothub_method_find(uint64_t n, const u_char *nonce)
{
    ngx_rbtree_key_t         key;
    ngx_rbtree_node_t       *node, *sentinel;
    ngx_iothub_method_op_t  *op;

    key = (ngx_rbtree_key_t) n;

    if ((uint64_t) key != n) {
        return NULL;
    }

    node = ngx_iothub_method_calls.root;
    sentinel = ngx_iothub_method_calls.sentinel;

    while (node != sentinel && node->key != key) {
        node = (key < node->key) ? node->left : node->right;
    }

    if (node == sentinel) {
        return NULL;
    }

    op = ngx_rbtree_data(node, ngx_iothub_method_op_t, node);

    if (!ngx_iothub_method_nonce_equal(op->nonce, nonce)
        || !(op->delivered || op->call))
    {
        return NULL;
    }

    return op;
}


static void
ngx_iothub_method_finish(ngx_iothub_method_op_t *op,
    ngx_iothub_method_result_e result)
{
    ngx_iothub_method_forget(op);

    op->result = result;
    op->handler(op);
}


static void
ngx_iothub_method_forget(ngx_iothub_method_op_t *op)
{
    if (op->call) {
        ngx_iothub_redis_cancel(op->call);
        op->call = NULL;
    }

    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }

    if (op->waiting) {
        op->waiting = 0;
        ngx_rbtree_delete(&ngx_iothub_method_calls, &op->node);
    }

    if (op->message) {
        ngx_free(op->message);
        op->message = NULL;
    }

    op->delivered = 0;
}


ngx_int_t
ngx_iothub_method_request_parse(u_char *p, size_t len,
    ngx_iothub_method_request_t *req)
{
    ngx_iothub_method_call_t  call;

    if (ngx_iothub_method_call_parse(p, len, &call) != 0
        || (uint64_t) (ngx_uint_t) call.session != call.session)
    {
        return NGX_ERROR;
    }

    req->session_no = (ngx_uint_t) call.session;
    req->rid.data = (u_char *) call.rid;
    req->rid.len = call.rid_len;
    req->name.data = (u_char *) call.name;
    req->name.len = call.name_len;
    req->payload.data = (u_char *) call.payload;
    req->payload.len = call.payload_len;

    return NGX_OK;
}


ngx_int_t
ngx_iothub_method_answer(ngx_str_t *rid, ngx_str_t *device_id,
    ngx_str_t *module_id, ngx_int_t status, ngx_str_t *payload)
{
    u_char                   *msg, *p, inbox[sizeof(NGX_IOTHUB_INBOX_PREFIX)
                                            + NGX_IOTHUB_METHOD_INBOX_HEX];
    size_t                    size;
    ngx_str_t                 name, answer;
    ngx_iothub_method_rid_t   parsed;
    ngx_iothub_method_res_t   res;
    ngx_iothub_redis_call_t  *call;

    if (ngx_iothub_method_reply_to(rid, &parsed, inbox, &name) != NGX_OK) {
        return NGX_DECLINED;
    }

    res.n = parsed.n;
    res.nonce = parsed.nonce;
    res.identity_len = device_id->len + (module_id->len ? 1 : 0)
                       + module_id->len;
    res.status = status;
    res.payload = payload->data;
    res.payload_len = payload->len;

    size = NGX_IOTHUB_METHOD_RES_OVERHEAD + res.identity_len + payload->len;

    /* the message, then "<device>[/<module>]" for it */

    msg = ngx_alloc(size + res.identity_len, ngx_cycle->log);
    if (msg == NULL) {
        return NGX_ERROR;
    }

    p = msg + size;
    res.identity = p;
    p = ngx_cpymem(p, device_id->data, device_id->len);

    if (module_id->len) {
        *p++ = '/';
        ngx_memcpy(p, module_id->data, module_id->len);
    }

    answer.data = msg;
    answer.len = ngx_iothub_method_res_write(msg, size, &res);

    if (answer.len == 0) {
        ngx_free(msg);
        return NGX_DECLINED;
    }

    /* Redis down: the caller times out with 504, as for a lost answer */
    call = ngx_iothub_inbox_send(&name, "methodres", &answer, NULL, NULL);

    ngx_free(msg);

    return call ? NGX_OK : NGX_ERROR;
}


void
ngx_iothub_method_miss(ngx_str_t *rid)
{
    u_char                   inbox[sizeof(NGX_IOTHUB_INBOX_PREFIX)
                                   + NGX_IOTHUB_METHOD_INBOX_HEX];
    u_char                   miss[NGX_IOTHUB_METHOD_N_MAX + 1
                                  + NGX_IOTHUB_METHOD_NONCE_HEX];
    ngx_str_t                name, payload;
    ngx_iothub_method_rid_t  parsed;

    if (ngx_iothub_method_reply_to(rid, &parsed, inbox, &name) != NGX_OK) {
        return;
    }

    payload.data = miss;
    payload.len = ngx_iothub_method_miss_write(miss, sizeof(miss), parsed.n,
                                               parsed.nonce);

    (void) ngx_iothub_inbox_send(&name, "methodmiss", &payload, NULL, NULL);
}


/* parses rid and writes the caller's inbox name into inbox */

static ngx_int_t
ngx_iothub_method_reply_to(ngx_str_t *rid, ngx_iothub_method_rid_t *parsed,
    u_char *inbox, ngx_str_t *name)
{
    if (ngx_iothub_method_rid_parse(rid->data, rid->len, parsed) != 0) {
        return NGX_DECLINED;
    }

    name->data = inbox;
    name->len = ngx_cpymem(ngx_cpymem(inbox, NGX_IOTHUB_INBOX_PREFIX,
                                      sizeof(NGX_IOTHUB_INBOX_PREFIX) - 1),
                           parsed->inbox, NGX_IOTHUB_METHOD_INBOX_HEX)
                - inbox;

    return NGX_OK;
}
