
/*
 * nginx-iothub: the life of a device session, whatever its protocol:
 * connect (authentication, then presence and takeover), subscriptions,
 * telemetry, activity, and the one close path.  The sessions of a worker
 * are kept by number for the messages other nodes send to its inbox.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub_session_int.h"
#include "ngx_iothub_reply.h"
#include "ngx_iothub_lua.h"


static ngx_int_t ngx_iothub_session_copy(ngx_iothub_session_t *s,
    ngx_str_t *dst, ngx_str_t *src);
static ngx_int_t ngx_iothub_session_model_id(ngx_iothub_session_t *s,
    ngx_str_t *raw);
static ngx_iothub_session_rc_e ngx_iothub_session_credentials(
    ngx_iothub_session_t *s, ngx_iothub_credentials_t *cred);
static void ngx_iothub_session_identity_done(ngx_iothub_registry_op_t *op);
static ngx_iothub_session_rc_e ngx_iothub_session_authenticate(
    ngx_iothub_session_t *s);
static ngx_iothub_session_rc_e ngx_iothub_session_verified(
    ngx_iothub_session_t *s);
static void ngx_iothub_session_device_done(ngx_iothub_registry_op_t *op);
static ngx_iothub_session_rc_e ngx_iothub_session_device_enabled(
    ngx_iothub_session_t *s);
static ngx_int_t ngx_iothub_session_presence(ngx_iothub_session_t *s,
    ngx_uint_t script, const char *extra,
    ngx_iothub_session_reply_pt handler, void *arg);
static void ngx_iothub_session_connected(ngx_iothub_session_t *s,
    redisReply *reply, void *arg);
static ngx_iothub_session_rc_e ngx_iothub_session_refused(
    ngx_iothub_session_t *s, ngx_iothub_reply_rc_e rc);
static void ngx_iothub_session_register(ngx_iothub_session_t *s);
static void ngx_iothub_session_expiry_handler(ngx_event_t *ev);
static void ngx_iothub_session_subscribed(ngx_iothub_session_t *s,
    redisReply *reply, void *arg);
static void ngx_iothub_session_stored(ngx_iothub_session_t *s,
    redisReply *reply, void *arg);
static void ngx_iothub_session_cancel_calls(ngx_iothub_session_t *s);
static ngx_uint_t ngx_iothub_session_activity_due(u_char *key, size_t len);


/* this worker's sessions by number, for messages to its inbox */

static ngx_rbtree_t       ngx_iothub_sessions;
static ngx_rbtree_node_t  ngx_iothub_sessions_sentinel;
static ngx_uint_t         ngx_iothub_sessions_last_no;


/*
 * When this worker last saved an identity's lastActivityTime, by a hash of
 * its key: an HTTPS request is a session of its own, and a device posting
 * many a second must not cost a write each.  Two identities on one slot
 * only cost a write more.
 */

#define NGX_IOTHUB_ACTIVITY_SLOTS     1024
#define NGX_IOTHUB_ACTIVITY_INTERVAL  60

typedef struct {
    uint32_t                  hash;
    time_t                    saved;
} ngx_iothub_activity_slot_t;

static ngx_iothub_activity_slot_t
    ngx_iothub_activity_slots[NGX_IOTHUB_ACTIVITY_SLOTS];


ngx_int_t
ngx_iothub_session_conf_init(ngx_conf_t *cf)
{
    ngx_rbtree_init(&ngx_iothub_sessions, &ngx_iothub_sessions_sentinel,
                    ngx_rbtree_insert_value);

    return ngx_iothub_session_notify_init(cf);
}


void
ngx_iothub_session_init(ngx_iothub_session_t *s, ngx_iothub_hub_t *hub,
    ngx_iothub_session_protocol_t *protocol, void *data, ngx_log_t *log,
    ngx_pool_t *pool)
{
    s->protocol = protocol;
    s->data = data;
    s->log = log;
    s->pool = pool;
    s->hub = hub;

    ngx_queue_init(&s->calls);
    ngx_queue_init(&s->methods);

    s->expiry.handler = ngx_iothub_session_expiry_handler;
    s->expiry.data = s;
    s->expiry.log = log;
    s->expiry.cancelable = 1;

    ngx_iothub_session_c2d_init(s);
}


ngx_iothub_session_rc_e
ngx_iothub_session_connect(ngx_iothub_session_t *s,
    ngx_iothub_credentials_t *cred)
{
    ngx_iothub_session_rc_e  rc;

    rc = ngx_iothub_session_credentials(s, cred);
    if (rc != NGX_IOTHUB_SESSION_OK) {
        return rc;
    }

    rc = ngx_iothub_session_read_identity(s,
                                          ngx_iothub_session_identity_done);

    /* OK: from the worker's identity cache */
    return (rc == NGX_IOTHUB_SESSION_OK) ? ngx_iothub_session_authenticate(s)
                                         : rc;
}


ngx_iothub_session_rc_e
ngx_iothub_session_verify(ngx_iothub_session_t *s,
    ngx_iothub_credentials_t *cred)
{
    s->verify_only = 1;

    return ngx_iothub_session_connect(s, cred);
}


/*
 * Reads s's identity record into s->auth's pool: PENDING (the handler
 * will run), OK (s->auth->identity is set, from the worker's identity
 * cache), or a failure.
 */

ngx_iothub_session_rc_e
ngx_iothub_session_read_identity(ngx_iothub_session_t *s,
    ngx_iothub_registry_handler_pt handler)
{
    ngx_int_t                  rc;
    ngx_iothub_registry_op_t  *op;

    op = &s->auth->op;

    op->hub = s->hub;
    op->pool = s->auth->pool;
    op->log = s->log;
    op->handler = handler;
    op->data = s;

    rc = ngx_iothub_registry_lookup(op, &s->sender.device_id,
                                    &s->sender.module_id);

    switch (rc) {

    case NGX_OK:
        return NGX_IOTHUB_SESSION_PENDING;

    case NGX_DONE:
        s->auth->identity = op->identity;
        return NGX_IOTHUB_SESSION_OK;

    case NGX_DECLINED:
        s->why = "the hub's store is unavailable";
        return NGX_IOTHUB_SESSION_UNAVAILABLE;

    default:
        return NGX_IOTHUB_SESSION_ERROR;
    }
}


/* the outcome of that read, once its handler ran; OK sets the identity */

ngx_iothub_session_rc_e
ngx_iothub_session_identity_read(ngx_iothub_session_t *s,
    ngx_iothub_registry_op_t *op)
{
    switch (op->rc) {

    case NGX_IOTHUB_REGISTRY_OK:
        s->auth->identity = op->identity;
        return NGX_IOTHUB_SESSION_OK;

    case NGX_IOTHUB_REGISTRY_NO_DEVICE:
    case NGX_IOTHUB_REGISTRY_NO_MODULE:
        s->why = "identity not registered";
        return NGX_IOTHUB_SESSION_NOT_AUTHORIZED;

    default:
        s->why = "the hub's store is unavailable";
        return NGX_IOTHUB_SESSION_UNAVAILABLE;
    }
}


/* s->auth, in a pool that lives only until authentication is done */

ngx_int_t
ngx_iothub_session_auth_start(ngx_iothub_session_t *s)
{
    ngx_pool_t  *pool;

    pool = ngx_create_pool(4096, s->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    s->auth = ngx_pcalloc(pool, sizeof(ngx_iothub_session_auth_t));
    if (s->auth == NULL) {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    s->auth->pool = pool;

    return NGX_OK;
}


ngx_int_t
ngx_iothub_session_keep_token(ngx_iothub_session_t *s, ngx_str_t *token)
{
    ngx_iothub_session_auth_t  *auth;

    auth = s->auth;

    auth->token.len = token->len;
    auth->token.data = ngx_pstrdup(auth->pool, token);

    return (auth->token.data || token->len == 0) ? NGX_OK : NGX_ERROR;
}


/* the session ends when its SAS token expires (auth.md 7) */

void
ngx_iothub_session_arm_expiry(ngx_iothub_session_t *s)
{
    time_t  left;

    left = (time_t) (s->token_expiry - ngx_time());

    /* nginx timers reach 24 days: a longer token is checked then */
    ngx_add_timer(&s->expiry,
                  (ngx_msec_t) ngx_max(ngx_min(left, 86400 * 24), 1) * 1000);
}


/* the ids for the session's life, the token until authenticated */

static ngx_iothub_session_rc_e
ngx_iothub_session_credentials(ngx_iothub_session_t *s,
    ngx_iothub_credentials_t *cred)
{
    s->clean = cred->clean;

    if (ngx_iothub_session_copy(s, &s->sender.device_id, &cred->device_id)
           != NGX_OK
        || ngx_iothub_session_copy(s, &s->sender.module_id,
                                   &cred->module_id) != NGX_OK
        || ngx_iothub_session_model_id(s, &cred->model_id) != NGX_OK)
    {
        return NGX_IOTHUB_SESSION_ERROR;
    }

    if (ngx_iothub_session_auth_start(s) != NGX_OK) {
        return NGX_IOTHUB_SESSION_ERROR;
    }

    if (cred->token.len == 0) {
        /* X.509 devices send no token (auth.md 5) */
        if (ngx_iothub_x509_peer(cred->connection, s->auth->pool,
                                 &s->auth->cert)
            != NGX_OK)
        {
            s->why = "no SAS token in the password and no client certificate";
            return NGX_IOTHUB_SESSION_NOT_AUTHORIZED;
        }

        s->x509 = 1;

    } else if (cred->token.len > NGX_IOTHUB_SESSION_TOKEN_MAX) {
        s->why = "password too long";
        return NGX_IOTHUB_SESSION_BAD_CREDENTIALS;
    }

    /* the identity record and the token live only until connected */

    return (ngx_iothub_session_keep_token(s, &cred->token) == NGX_OK)
           ? NGX_IOTHUB_SESSION_OK : NGX_IOTHUB_SESSION_ERROR;
}


static void
ngx_iothub_session_identity_done(ngx_iothub_registry_op_t *op)
{
    ngx_iothub_session_t *s = op->data;

    ngx_iothub_session_rc_e  rc;

    rc = ngx_iothub_session_identity_read(s, op);

    if (rc == NGX_IOTHUB_SESSION_OK) {
        rc = ngx_iothub_session_authenticate(s);
    }

    if (rc != NGX_IOTHUB_SESSION_PENDING) {
        s->protocol->connected(s, rc, 0);
    }
}


/*
 * Checks the credentials against s->auth->identity, then makes the
 * connection the identity's session (session_connect.lua).
 */

static ngx_iothub_session_rc_e
ngx_iothub_session_authenticate(ngx_iothub_session_t *s)
{
    ngx_str_t                gen;
    ngx_iothub_session_rc_e  rc;

    rc = ngx_iothub_session_authorize(s);
    if (rc != NGX_IOTHUB_SESSION_OK) {
        return rc;
    }

    gen.data = (u_char *) s->auth->identity->generation_id;
    gen.len = ngx_strlen(s->auth->identity->generation_id);

    if (ngx_iothub_session_copy(s, &s->sender.generation_id, &gen)
        != NGX_OK)
    {
        return NGX_IOTHUB_SESSION_ERROR;
    }

    s->sender.policy = s->policy_token;
    s->sender.x509 = s->x509;

    if (s->verify_only) {
        /* a request's credentials: no presence, no takeover */
        return ngx_iothub_session_verified(s);
    }

    ngx_iothub_session_auth_done(s);

    s->no = ++ngx_iothub_sessions_last_no;

    if (ngx_iothub_session_presence(s, NGX_IOTHUB_LUA_SESSION_CONNECT, NULL,
                                    ngx_iothub_session_connected, NULL)
        != NGX_OK)
    {
        s->why = "the hub's store is unavailable";
        return NGX_IOTHUB_SESSION_UNAVAILABLE;
    }

    return NGX_IOTHUB_SESSION_PENDING;
}


/*
 * The end of a verification: a module is refused while its device is
 * disabled, as session_connect.lua refuses it for a session, so the
 * device's record is read too (from the identity cache, usually).
 */

static ngx_iothub_session_rc_e
ngx_iothub_session_verified(ngx_iothub_session_t *s)
{
    ngx_int_t  rc;
    ngx_str_t  none;

    if (s->sender.module_id.len == 0) {
        ngx_iothub_session_auth_done(s);
        return NGX_IOTHUB_SESSION_OK;
    }

    ngx_str_null(&none);

    s->auth->op.handler = ngx_iothub_session_device_done;

    rc = ngx_iothub_registry_lookup(&s->auth->op, &s->sender.device_id,
                                    &none);

    switch (rc) {

    case NGX_OK:
        return NGX_IOTHUB_SESSION_PENDING;

    case NGX_DONE:
        return ngx_iothub_session_device_enabled(s);

    case NGX_DECLINED:
        s->why = "the hub's store is unavailable";
        return NGX_IOTHUB_SESSION_UNAVAILABLE;

    default:
        return NGX_IOTHUB_SESSION_ERROR;
    }
}


static void
ngx_iothub_session_device_done(ngx_iothub_registry_op_t *op)
{
    ngx_iothub_session_t *s = op->data;

    ngx_iothub_session_rc_e  rc;

    rc = ngx_iothub_session_identity_read(s, op);

    if (rc == NGX_IOTHUB_SESSION_OK) {
        rc = ngx_iothub_session_device_enabled(s);
    }

    s->protocol->connected(s, rc, 0);
}


static ngx_iothub_session_rc_e
ngx_iothub_session_device_enabled(ngx_iothub_session_t *s)
{
    ngx_iothub_session_rc_e  rc;

    rc = NGX_IOTHUB_SESSION_OK;

    if (ngx_strcmp(s->auth->op.identity->status, "disabled") == 0) {
        s->why = "the module's device is disabled";
        rc = NGX_IOTHUB_SESSION_NOT_AUTHORIZED;
    }

    ngx_iothub_session_auth_done(s);

    return rc;
}


/*
 * Runs a session script on the identity's presence keys (for a connect or
 * a disconnect also the hub's connected-device set, and for a module's
 * connect its device) with ARGV inbox, session number, then "extra" (or
 * the clean flag) and now, and for a connect the model id.  Without a
 * handler the call is not the session's: it outlives the connection.
 */

static ngx_int_t
ngx_iothub_session_presence(ngx_iothub_session_t *s, ngx_uint_t script,
    const char *extra, ngx_iothub_session_reply_pt handler, void *arg)
{
    u_char                     no[NGX_INT_T_LEN], now[40];
    u_char                     keys[5][320];
    ngx_str_t                 *inbox, *mid, *did;
    ngx_uint_t                 nkeys;
    ngx_iothub_args_t          args;
    ngx_iothub_session_call_t *sc;

    did = &s->sender.device_id;
    mid = s->sender.module_id.len ? &s->sender.module_id : NULL;

    args.n = 0;

    ngx_iothub_args_add(&args, (char *) keys[0],
        ngx_iothub_key_write(keys[0], keys[0] + 320, s->hub, did,
                             mid ? "presence:" : "presence", mid) - keys[0]);
    ngx_iothub_args_add(&args, (char *) keys[1],
        ngx_iothub_key_write(keys[1], keys[1] + 320, s->hub, did,
                             mid ? "session:" : "session", mid) - keys[1]);
    ngx_iothub_args_add(&args, (char *) keys[2],
        ngx_iothub_key_write(keys[2], keys[2] + 320, s->hub, did,
                             mid ? "module:" : "device", mid) - keys[2]);

    nkeys = 3;

    if (script != NGX_IOTHUB_LUA_SESSION_SUBSCRIBE) {
        /* the devices connected, for GET /statistics/service */
        ngx_iothub_args_add(&args, (char *) keys[3],
            ngx_iothub_key_write(keys[3], keys[3] + 320, s->hub, NULL,
                                 "connected", NULL) - keys[3]);
        nkeys = 4;
    }

    if (mid && script == NGX_IOTHUB_LUA_SESSION_CONNECT) {
        /* a module connects only while its device is enabled */
        ngx_iothub_args_add(&args, (char *) keys[4],
            ngx_iothub_key_write(keys[4], keys[4] + 320, s->hub, did,
                                 "device", NULL) - keys[4]);
        nkeys = 5;
    }

    inbox = ngx_iothub_inbox();
    ngx_iothub_time_now(now, sizeof(now));

    ngx_iothub_args_add(&args, (char *) inbox->data, inbox->len);
    ngx_iothub_args_add(&args, (char *) no,
                        ngx_sprintf(no, "%ui", s->no) - no);
    ngx_iothub_args_add_str(&args, extra ? extra : (s->clean ? "1" : "0"));
    ngx_iothub_args_add_str(&args, extra ? (s->clean ? "1" : "0")
                                         : (char *) now);

    if (script == NGX_IOTHUB_LUA_SESSION_CONNECT) {
        ngx_iothub_args_add(&args, (char *) s->sender.model_id.data,
                            s->sender.model_id.len);
    }

    if (!ngx_iothub_args_ok(&args)) {
        return NGX_ERROR;
    }

    if (handler == NULL && script == NGX_IOTHUB_LUA_SESSION_DISCONNECT) {
        /* bookkeeping after the session: it may wait for company */
        return ngx_iothub_redis_script_lazy(ngx_iothub_redis_link(), script,
                                            ngx_iothub_redis_ignore, NULL,
                                            nkeys, args.n, args.argv,
                                            args.lens)
               ? NGX_OK : NGX_DECLINED;
    }

    if (handler == NULL) {
        /* subscriptions: notifications depend on them, no waiting */
        return ngx_iothub_redis_script(ngx_iothub_redis_link(), script,
                                       ngx_iothub_redis_ignore, NULL,
                                       nkeys, args.n, args.argv,
                                       args.lens)
               ? NGX_OK : NGX_DECLINED;
    }

    sc = ngx_iothub_session_call(s, handler, arg);
    if (sc == NULL) {
        return NGX_ERROR;
    }

    sc->call = ngx_iothub_redis_script(ngx_iothub_redis_link(), script,
                                       ngx_iothub_session_call_reply, sc,
                                       nkeys, args.n, args.argv,
                                       args.lens);

    return ngx_iothub_session_call_sent(sc);
}


/* session_connect.lua answered: { subscriptions, session present } */

static void
ngx_iothub_session_connected(ngx_iothub_session_t *s, redisReply *reply,
    void *arg)
{
    ngx_iothub_reply_rc_e       rc;
    ngx_iothub_reply_connect_t  answer;

    rc = ngx_iothub_reply_connect(reply, &answer);

    if (rc != NGX_IOTHUB_REPLY_OK) {
        s->protocol->connected(s, ngx_iothub_session_refused(s, rc), 0);
        return;
    }

    s->features = (ngx_uint_t) answer.features;
    s->connected = 1;
    s->activity_saved = ngx_time();

    ngx_iothub_session_register(s);

    if (!s->x509) {
        ngx_iothub_session_arm_expiry(s);
    }

    s->protocol->connected(s, NGX_IOTHUB_SESSION_OK, answer.present);
}


/* the script refuses an identity deleted or disabled meanwhile */

static ngx_iothub_session_rc_e
ngx_iothub_session_refused(ngx_iothub_session_t *s, ngx_iothub_reply_rc_e rc)
{
    switch (rc) {

    case NGX_IOTHUB_REPLY_NOT_FOUND:
        s->why = "identity not registered";
        return NGX_IOTHUB_SESSION_NOT_AUTHORIZED;

    case NGX_IOTHUB_REPLY_DISABLED:
        s->why = "the device is disabled";
        return NGX_IOTHUB_SESSION_NOT_AUTHORIZED;

    default:
        s->why = "the hub's store is unavailable";
        return NGX_IOTHUB_SESSION_UNAVAILABLE;
    }
}


static void
ngx_iothub_session_register(ngx_iothub_session_t *s)
{
    s->node.key = s->no;
    ngx_rbtree_insert(&ngx_iothub_sessions, &s->node);
    s->registered = 1;
}


ngx_iothub_session_t *
ngx_iothub_session_find(ngx_uint_t no)
{
    ngx_rbtree_node_t  *node, *sentinel;

    node = ngx_iothub_sessions.root;
    sentinel = ngx_iothub_sessions.sentinel;

    while (node != sentinel) {
        if (no == node->key) {
            return (ngx_iothub_session_t *)
                       ((u_char *) node
                        - offsetof(ngx_iothub_session_t, node));
        }

        node = (no < node->key) ? node->left : node->right;
    }

    return NULL;
}


void
ngx_iothub_session_resume_all(void)
{
    ngx_rbtree_node_t  *node;

    if (ngx_iothub_sessions.root == ngx_iothub_sessions.sentinel) {
        return;
    }

    node = ngx_rbtree_min(ngx_iothub_sessions.root,
                          ngx_iothub_sessions.sentinel);

    while (node) {
        ngx_iothub_session_c2d_pull((ngx_iothub_session_t *)
                                        ((u_char *) node
                                         - offsetof(ngx_iothub_session_t,
                                                    node)));

        node = ngx_rbtree_next(&ngx_iothub_sessions, node);
    }
}


static void
ngx_iothub_session_expiry_handler(ngx_event_t *ev)
{
    ngx_iothub_session_t *s = ev->data;

    if (s->token_expiry > ngx_time()) {
        ngx_iothub_session_arm_expiry(s);
        return;
    }

    s->protocol->kick(s, NGX_IOTHUB_KICK_EXPIRED);
}


ngx_int_t
ngx_iothub_session_subscribe(ngx_iothub_session_t *s,
    void (*handler)(ngx_iothub_session_t *s, void *arg), void *arg)
{
    u_char  features[NGX_INT_T_LEN + 1];

    ngx_sprintf(features, "%ui%Z", s->features);

    if (handler) {
        /* one function per protocol: an earlier call's reply uses it too */
        s->subscribed = handler;
    }

    return ngx_iothub_session_presence(s, NGX_IOTHUB_LUA_SESSION_SUBSCRIBE,
                                       (char *) features,
                                       handler ? ngx_iothub_session_subscribed
                                               : NULL,
                                       arg);
}


static void
ngx_iothub_session_subscribed(ngx_iothub_session_t *s, redisReply *reply,
    void *arg)
{
    /* a failed store leaves the subscriptions to this connection */
    s->subscribed(s, arg);
}


ngx_int_t
ngx_iothub_session_telemetry(ngx_iothub_session_t *s,
    ngx_iothub_message_t *msg,
    void (*handler)(ngx_iothub_session_t *s, ngx_int_t rc, ngx_uint_t arg),
    ngx_uint_t arg)
{
    ngx_iothub_session_call_t  *sc;

    if (handler == NULL) {
        return ngx_iothub_d2c_send(s->hub, &s->sender, msg,
                                   ngx_iothub_redis_ignore, NULL)
               ? NGX_OK : NGX_DECLINED;
    }

    s->stored = handler;

    sc = ngx_iothub_session_call(s, ngx_iothub_session_stored, (void *) arg);
    if (sc == NULL) {
        return NGX_ERROR;
    }

    /* the command is formatted at once: msg may go */
    sc->call = ngx_iothub_d2c_send(s->hub, &s->sender, msg,
                                   ngx_iothub_session_call_reply, sc);

    if (ngx_iothub_session_call_sent(sc) != NGX_OK) {
        return NGX_DECLINED;
    }

    ngx_iothub_session_activity(s);

    return NGX_OK;
}


/* XADD answers the entry id once the message is stored */

static void
ngx_iothub_session_stored(ngx_iothub_session_t *s, redisReply *reply,
    void *arg)
{
    ngx_iothub_reply_str_t  id;

    s->stored(s, (ngx_iothub_reply_bulk(reply, &id) == NGX_IOTHUB_REPLY_OK)
                 ? NGX_OK : NGX_ERROR,
              (ngx_uint_t) arg);
}


/*
 * lastActivityTime in the registry, at most once a minute per session and
 * per identity in this worker
 */

void
ngx_iothub_session_activity(ngx_iothub_session_t *s)
{
    u_char              key[320], now[40], *last;
    ngx_str_t          *mid;
    ngx_iothub_args_t   args;

    if (ngx_time() - s->activity_saved < NGX_IOTHUB_ACTIVITY_INTERVAL) {
        return;
    }

    s->activity_saved = ngx_time();

    mid = s->sender.module_id.len ? &s->sender.module_id : NULL;

    last = ngx_iothub_key_write(key, key + sizeof(key), s->hub,
                                &s->sender.device_id,
                                mid ? "module:" : "device", mid);

    if (!ngx_iothub_session_activity_due(key, last - key)) {
        return;
    }

    ngx_iothub_time_now(now, sizeof(now));

    args.n = 0;
    ngx_iothub_args_add(&args, (char *) key, last - key);
    ngx_iothub_args_add_str(&args, (char *) now);

    if (!ngx_iothub_args_ok(&args)) {
        return;
    }

    (void) ngx_iothub_redis_script_lazy(ngx_iothub_redis_link(),
                                        NGX_IOTHUB_LUA_IDENTITY_TOUCH,
                                        ngx_iothub_redis_ignore, NULL,
                                        1, args.n, args.argv, args.lens);
}


static ngx_uint_t
ngx_iothub_session_activity_due(u_char *key, size_t len)
{
    uint32_t                     hash;
    ngx_iothub_activity_slot_t  *slot;

    hash = ngx_crc32_short(key, len);
    slot = &ngx_iothub_activity_slots[hash % NGX_IOTHUB_ACTIVITY_SLOTS];

    if (slot->hash == hash
        && ngx_time() - slot->saved < NGX_IOTHUB_ACTIVITY_INTERVAL)
    {
        return 0;
    }

    slot->hash = hash;
    slot->saved = ngx_time();

    return 1;
}


void
ngx_iothub_session_close(ngx_iothub_session_t *s)
{
    if (s->closed) {
        return;
    }

    s->closed = 1;

    ngx_iothub_session_c2d_close(s);
    ngx_iothub_session_methods_free(s);

    if (s->registered) {
        s->registered = 0;
        ngx_rbtree_delete(&ngx_iothub_sessions, &s->node);

        (void) ngx_iothub_session_presence(s,
                                           NGX_IOTHUB_LUA_SESSION_DISCONNECT,
                                           NULL, NULL, NULL);
    }

    ngx_iothub_session_cancel_calls(s);

    if (s->auth) {
        ngx_iothub_registry_cancel(&s->auth->op);
        ngx_iothub_session_auth_done(s);
    }

    if (s->expiry.timer_set) {
        ngx_del_timer(&s->expiry);
    }
}


static void
ngx_iothub_session_cancel_calls(ngx_iothub_session_t *s)
{
    ngx_queue_t                *q;
    ngx_iothub_session_call_t  *sc;

    while (!ngx_queue_empty(&s->calls)) {
        q = ngx_queue_head(&s->calls);
        ngx_queue_remove(q);
        sc = ngx_queue_data(q, ngx_iothub_session_call_t, queue);

        if (sc->call) {
            ngx_iothub_redis_cancel(sc->call);
        }

        ngx_free(sc);
    }
}


/* what only authentication needed goes: idle sessions stay small */

void
ngx_iothub_session_auth_done(ngx_iothub_session_t *s)
{
    ngx_pool_t  *pool;

    if (s->auth) {
        pool = s->auth->pool;
        s->auth = NULL;
        ngx_destroy_pool(pool);
    }
}


ngx_iothub_session_call_t *
ngx_iothub_session_call(ngx_iothub_session_t *s,
    ngx_iothub_session_reply_pt handler, void *arg)
{
    ngx_iothub_session_call_t  *sc;

    sc = ngx_alloc(sizeof(ngx_iothub_session_call_t), s->log);
    if (sc == NULL) {
        return NULL;
    }

    sc->session = s;
    sc->call = NULL;
    sc->handler = handler;
    sc->arg = arg;

    ngx_queue_insert_tail(&s->calls, &sc->queue);

    return sc;
}


/* the Redis handler of every session call: data is the call */

void
ngx_iothub_session_call_reply(void *data, redisReply *reply)
{
    ngx_iothub_session_call_t *sc = data;

    void                        *arg;
    ngx_iothub_session_t        *s;
    ngx_iothub_session_reply_pt  handler;

    s = sc->session;
    arg = sc->arg;
    handler = sc->handler;

    ngx_queue_remove(&sc->queue);
    ngx_free(sc);

    /* may close the session: nothing is touched after it */
    handler(s, reply, arg);
}


void
ngx_iothub_session_call_drop(ngx_iothub_session_call_t *sc)
{
    ngx_queue_remove(&sc->queue);
    ngx_free(sc);
}


ngx_int_t
ngx_iothub_session_call_sent(ngx_iothub_session_call_t *sc)
{
    if (sc->call == NULL) {
        ngx_iothub_session_call_drop(sc);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_iothub_session_copy(ngx_iothub_session_t *s, ngx_str_t *dst,
    ngx_str_t *src)
{
    dst->len = src->len;

    if (src->len == 0) {
        dst->data = (u_char *) "";
        return NGX_OK;
    }

    dst->data = ngx_pnalloc(s->pool, src->len);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);

    return NGX_OK;
}


/*
 * The model id the device announced (IoT Plug and Play), percent-decoded
 * as a user name's value is (the Node SDK sends it as it is, others
 * encoded); one longer than NGX_IOTHUB_MODEL_ID_MAX is not recorded.
 */

static ngx_int_t
ngx_iothub_session_model_id(ngx_iothub_session_t *s, ngx_str_t *raw)
{
    u_char  *src, *dst;

    ngx_str_set(&s->sender.model_id, "");

    if (raw->len == 0) {
        return NGX_OK;
    }

    dst = ngx_pnalloc(s->pool, raw->len);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    s->sender.model_id.data = dst;
    src = raw->data;

    ngx_unescape_uri(&dst, &src, raw->len, 0);

    s->sender.model_id.len = dst - s->sender.model_id.data;

    if (s->sender.model_id.len > NGX_IOTHUB_MODEL_ID_MAX) {
        ngx_str_set(&s->sender.model_id, "");
    }

    return NGX_OK;
}
