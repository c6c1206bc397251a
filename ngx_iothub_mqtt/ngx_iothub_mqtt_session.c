
/*
 * nginx-iothub: what MQTT packets mean to IoT Hub: authentication and the
 * session's presence, telemetry, subscriptions (mqtt.md 2-9).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_mqtt.h"
#include "ngx_iothub_sas.h"
#include "ngx_iothub_lua.h"


#define NGX_IOTHUB_MQTT_MAX_PROPS  NGX_IOTHUB_D2C_MAX_PROPERTIES


static ngx_int_t ngx_iothub_mqtt_identify(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_connect_t *connect);
static ngx_int_t ngx_iothub_mqtt_refuse(ngx_iothub_mqtt_ctx_t *ctx,
    u_int code, const char *why);
static void ngx_iothub_mqtt_identity_done(ngx_iothub_registry_op_t *op);
static ngx_int_t ngx_iothub_mqtt_authenticate(ngx_iothub_mqtt_ctx_t *ctx);
static u_int ngx_iothub_mqtt_authorize(ngx_iothub_mqtt_ctx_t *ctx,
    const char **why);
static u_int ngx_iothub_mqtt_verify_token(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_sas_token_t *token, const char **why);
static ngx_int_t ngx_iothub_mqtt_presence(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_uint_t script, const char *extra,
    void (*handler)(ngx_iothub_mqtt_ctx_t *ctx, redisReply *reply,
    ngx_uint_t arg), ngx_uint_t arg);
static void ngx_iothub_mqtt_presence_ended(void *data, redisReply *reply);
static void ngx_iothub_mqtt_connected(ngx_iothub_mqtt_ctx_t *ctx,
    redisReply *reply, ngx_uint_t arg);
static ngx_int_t ngx_iothub_mqtt_telemetry(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_publish_t *pub, ngx_iothub_mqtt_pub_t *t);
static ngx_int_t ngx_iothub_mqtt_message(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_publish_t *pub, ngx_iothub_mqtt_pub_t *t,
    ngx_iothub_message_t *msg, u_char *buf, size_t size);
static void ngx_iothub_mqtt_activity(ngx_iothub_mqtt_ctx_t *ctx);
static void ngx_iothub_mqtt_send_will(ngx_iothub_mqtt_ctx_t *ctx);
static void ngx_iothub_mqtt_stored(ngx_iothub_mqtt_ctx_t *ctx,
    redisReply *reply, ngx_uint_t packet_id);
static ngx_int_t ngx_iothub_mqtt_save_features(ngx_iothub_mqtt_ctx_t *ctx,
    u_char *suback);
static void ngx_iothub_mqtt_subscribed(ngx_iothub_mqtt_ctx_t *ctx,
    redisReply *reply, ngx_uint_t arg);
static ngx_int_t ngx_iothub_mqtt_send_suback(ngx_iothub_mqtt_ctx_t *ctx,
    u_char *suback);
static ngx_int_t ngx_iothub_mqtt_copy(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_str_t *dst, ngx_iothub_mqtt_str_t *src);
static void ngx_iothub_mqtt_register(ngx_iothub_mqtt_ctx_t *ctx);
static void ngx_iothub_mqtt_kick(u_char *payload, size_t len);


/* this worker's sessions by number, for messages to its inbox */

static ngx_rbtree_t       ngx_iothub_mqtt_sessions;
static ngx_rbtree_node_t  ngx_iothub_mqtt_sentinel;
static ngx_uint_t         ngx_iothub_mqtt_last_no;


ngx_int_t
ngx_iothub_mqtt_session_init(ngx_conf_t *cf)
{
    ngx_rbtree_init(&ngx_iothub_mqtt_sessions, &ngx_iothub_mqtt_sentinel,
                    ngx_rbtree_insert_value);

    if (ngx_iothub_inbox_register(cf, "kick", ngx_iothub_mqtt_kick)
        != NGX_OK
        || ngx_iothub_inbox_register(cf, "desired", ngx_iothub_mqtt_desired)
           != NGX_OK
        || ngx_iothub_inbox_register(cf, "method", ngx_iothub_mqtt_method)
           != NGX_OK
        || ngx_iothub_inbox_register(cf, "c2d", ngx_iothub_mqtt_c2d_notify)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_iothub_mqtt_connect(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_connect_t *connect)
{
    ngx_int_t  rc;

    ctx->connection->log->action = "authenticating device";
    ctx->clean = connect->clean_session;

    /* 1.5 times the client's keep-alive, capped (mqtt.md 10) */
    ctx->keepalive_time = connect->keep_alive
                          ? ngx_min(connect->keep_alive * 1500,
                                    NGX_IOTHUB_MQTT_MAX_IDLE)
                          : NGX_IOTHUB_MQTT_MAX_IDLE;

    rc = ngx_iothub_mqtt_identify(ctx, connect);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_iothub_mqtt_will(ctx, connect);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!connect->has_password || connect->password.len == 0) {
        /* X.509 devices send no password (auth.md 5) */
        if (ngx_iothub_x509_peer(ctx->connection, &ctx->cert) != NGX_OK) {
            return ngx_iothub_mqtt_refuse(ctx, NGX_IOTHUB_MQTT_REFUSED_AUTH,
                                          "no SAS token in the password "
                                          "and no client certificate");
        }

        ctx->x509 = 1;

    } else if (connect->password.len > NGX_IOTHUB_MQTT_PASSWORD_MAX) {
        return ngx_iothub_mqtt_refuse(ctx, NGX_IOTHUB_MQTT_REFUSED_LOGIN,
                                      "password too long");
    }

    /* the identity record and the token live only until CONNACK */

    ctx->auth_pool = ngx_create_pool(4096, ctx->connection->log);
    if (ctx->auth_pool == NULL) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    if (!ctx->x509) {
        ctx->password = ngx_pnalloc(ctx->auth_pool, connect->password.len);
        if (ctx->password == NULL) {
            ngx_iothub_mqtt_close(ctx, NULL);
            return NGX_ERROR;
        }

        ngx_memcpy(ctx->password, connect->password.data,
                   connect->password.len);
        ctx->password_len = connect->password.len;
    }

    ctx->op.hub = ctx->hub;
    ctx->op.pool = ctx->auth_pool;
    ctx->op.log = ctx->connection->log;
    ctx->op.handler = ngx_iothub_mqtt_identity_done;
    ctx->op.data = ctx;

    rc = ngx_iothub_registry_lookup(&ctx->op, &ctx->sender.device_id,
                                    &ctx->sender.module_id);

    if (rc == NGX_DECLINED) {
        return ngx_iothub_mqtt_refuse(ctx, NGX_IOTHUB_MQTT_REFUSED_SERVER,
                                      "the hub's store is unavailable");
    }

    if (rc != NGX_OK && rc != NGX_DONE) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    ctx->state = NGX_IOTHUB_MQTT_AUTHENTICATING;

    if (rc == NGX_DONE) {
        /* from the worker's identity cache */
        ctx->identity = ctx->op.identity;
        return ngx_iothub_mqtt_authenticate(ctx);
    }

    return NGX_OK;
}


/* client id and user name name the same identity (mqtt.md 2) */

static ngx_int_t
ngx_iothub_mqtt_identify(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_connect_t *connect)
{
    size_t                      dlen, mlen;
    ngx_iothub_mqtt_username_t  u;

    if (!connect->has_username
        || ngx_iothub_mqtt_parse_username(connect->username.data,
                                          connect->username.len, &u)
           != NGX_IOTHUB_MQTT_TOPIC_OK)
    {
        return ngx_iothub_mqtt_refuse(ctx, NGX_IOTHUB_MQTT_REFUSED_LOGIN,
                                      "malformed user name");
    }

    dlen = u.device_id.len;
    mlen = u.module_id.len;

    if (!ngx_iothub_id_valid(u.device_id.data, dlen)
        || (mlen && !ngx_iothub_id_valid(u.module_id.data, mlen))
        || connect->client_id.len != dlen + (mlen ? mlen + 1 : 0)
        || ngx_strncmp(connect->client_id.data, u.device_id.data, dlen) != 0
        || (mlen && (connect->client_id.data[dlen] != '/'
                     || ngx_strncmp(connect->client_id.data + dlen + 1,
                                    u.module_id.data, mlen) != 0)))
    {
        return ngx_iothub_mqtt_refuse(ctx, NGX_IOTHUB_MQTT_REFUSED_ID,
                                      "client id does not match the user "
                                      "name");
    }

    if (ngx_iothub_mqtt_copy(ctx, &ctx->client_id, &connect->client_id)
           != NGX_OK
        || ngx_iothub_mqtt_copy(ctx, &ctx->sender.device_id, &u.device_id)
           != NGX_OK
        || ngx_iothub_mqtt_copy(ctx, &ctx->sender.module_id, &u.module_id)
           != NGX_OK
        || ngx_iothub_mqtt_copy(ctx, &ctx->sender.model_id, &u.model_id)
           != NGX_OK)
    {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    ctx->device.data = ctx->sender.device_id.data;
    ctx->device.len = ctx->sender.device_id.len;
    ctx->module.data = ctx->sender.module_id.data;
    ctx->module.len = ctx->sender.module_id.len;

    return NGX_OK;
}


static ngx_int_t
ngx_iothub_mqtt_refuse(ngx_iothub_mqtt_ctx_t *ctx, u_int code,
    const char *why)
{
    u_char  connack[NGX_IOTHUB_MQTT_CONNACK_LEN];

    ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                  "iothub mqtt: CONNECT refused with %ui, %s, client \"%V\"",
                  (ngx_uint_t) code, why, &ctx->client_id);

    ngx_iothub_mqtt_write_connack(connack, sizeof(connack), 0, code);

    /* send() and flush() close the session themselves when they fail */

    if (ngx_iothub_mqtt_send(ctx, connack, sizeof(connack), 0) == NGX_OK
        && ngx_iothub_mqtt_flush(ctx) == NGX_OK)
    {
        ngx_iothub_mqtt_close(ctx, NULL);
    }

    return NGX_ERROR;
}


static void
ngx_iothub_mqtt_identity_done(ngx_iothub_registry_op_t *op)
{
    ngx_iothub_mqtt_ctx_t *ctx = op->data;

    switch (op->rc) {

    case NGX_IOTHUB_REGISTRY_OK:
        break;

    case NGX_IOTHUB_REGISTRY_NO_DEVICE:
    case NGX_IOTHUB_REGISTRY_NO_MODULE:
        (void) ngx_iothub_mqtt_refuse(ctx, NGX_IOTHUB_MQTT_REFUSED_AUTH,
                                      "identity not registered");
        return;

    default:
        (void) ngx_iothub_mqtt_refuse(ctx, NGX_IOTHUB_MQTT_REFUSED_SERVER,
                                      "the hub's store is unavailable");
        return;
    }

    ctx->identity = op->identity;

    (void) ngx_iothub_mqtt_authenticate(ctx);
}


/*
 * Checks the credentials against ctx->identity and starts the session.
 * NGX_ERROR: the CONNECT was refused and the session closed.
 */

static ngx_int_t
ngx_iothub_mqtt_authenticate(ngx_iothub_mqtt_ctx_t *ctx)
{
    u_int        code;
    ngx_str_t    gen;
    const char  *why;

    code = ngx_iothub_mqtt_authorize(ctx, &why);

    if (code != NGX_IOTHUB_MQTT_ACCEPTED) {
        return ngx_iothub_mqtt_refuse(ctx, code, why);
    }

    gen.data = (u_char *) ctx->identity->generation_id;
    gen.len = ngx_strlen(ctx->identity->generation_id);

    ctx->sender.generation_id.data = ngx_pstrdup(ctx->connection->pool,
                                                 &gen);
    if (ctx->sender.generation_id.data == NULL) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    ctx->sender.generation_id.len = gen.len;
    ctx->sender.policy = ctx->policy_token;

    ngx_iothub_mqtt_auth_done(ctx);

    ctx->session_no = ++ngx_iothub_mqtt_last_no;

    if (ngx_iothub_mqtt_presence(ctx, NGX_IOTHUB_LUA_SESSION_CONNECT, NULL,
                                 ngx_iothub_mqtt_connected, 0)
        != NGX_OK)
    {
        return ngx_iothub_mqtt_refuse(ctx, NGX_IOTHUB_MQTT_REFUSED_SERVER,
                                      "the hub's store is unavailable");
    }

    return NGX_OK;
}


static u_int
ngx_iothub_mqtt_authorize(ngx_iothub_mqtt_ctx_t *ctx, const char **why)
{
    ngx_iothub_sas_rc_e     rc;
    ngx_iothub_sas_token_t  token;

    if (ngx_strcmp(ctx->identity->status, "disabled") == 0) {
        *why = "the device is disabled";
        return NGX_IOTHUB_MQTT_REFUSED_AUTH;
    }

    if (ctx->x509) {
        *why = ngx_iothub_x509_authorize(&ctx->cert, ctx->identity);

        /* no token to expire: the session lasts */
        ctx->sender.x509 = 1;

        return *why ? NGX_IOTHUB_MQTT_REFUSED_AUTH
                    : NGX_IOTHUB_MQTT_ACCEPTED;
    }

    rc = ngx_iothub_sas_parse(&token, ctx->password, ctx->password_len);

    if (rc != NGX_IOTHUB_SAS_OK) {
        *why = "malformed SAS token";
        return NGX_IOTHUB_MQTT_REFUSED_LOGIN;
    }

    return ngx_iothub_mqtt_verify_token(ctx, &token, why);
}


static u_int
ngx_iothub_mqtt_verify_token(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_sas_token_t *token, const char **why)
{
    u_char                 path[300];
    const char            *key1, *key2;
    ngx_iothub_policy_t   *policy;
    ngx_iothub_identity_t *id;

    id = ctx->identity;

    if (token->policy[0]) {
        policy = ngx_iothub_find_policy(ctx->hub, (u_char *) token->policy,
                                        ngx_strlen(token->policy));

        if (policy == NULL
            || !(policy->rights & NGX_IOTHUB_RIGHT_DEVICE_CONNECT))
        {
            *why = "the policy has no device_connect right";
            return NGX_IOTHUB_MQTT_REFUSED_AUTH;
        }

        key1 = (char *) policy->primary_key.data;
        key2 = (char *) policy->secondary_key.data;
        ctx->policy_token = 1;

    } else if (ngx_strcmp(id->auth_type, "sas") == 0) {
        key1 = id->primary_key;
        key2 = id->secondary_key;

    } else {
        *why = "the identity does not authenticate with SAS tokens";
        return NGX_IOTHUB_MQTT_REFUSED_AUTH;
    }

    if (ngx_iothub_sas_verify(token, key1, ngx_strlen(key1))
        != NGX_IOTHUB_SAS_OK
        && (key2 == NULL || key2[0] == '\0'
            || ngx_iothub_sas_verify(token, key2, ngx_strlen(key2))
               != NGX_IOTHUB_SAS_OK))
    {
        *why = "bad SAS token signature";
        return NGX_IOTHUB_MQTT_REFUSED_AUTH;
    }

    if (ngx_iothub_sas_check_expiry(token, ngx_time()) != NGX_IOTHUB_SAS_OK) {
        *why = "expired SAS token";
        return NGX_IOTHUB_MQTT_REFUSED_AUTH;
    }

    if (ctx->sender.module_id.len) {
        ngx_snprintf(path, sizeof(path), "/devices/%V/modules/%V%Z",
                     &ctx->sender.device_id, &ctx->sender.module_id);

    } else {
        ngx_snprintf(path, sizeof(path), "/devices/%V%Z",
                     &ctx->sender.device_id);
    }

    if (ngx_iothub_sas_covers(token, (char *) ctx->hub->hostname.data,
                              (char *) path)
        != NGX_IOTHUB_SAS_OK)
    {
        *why = "the SAS token is for another identity";
        return NGX_IOTHUB_MQTT_REFUSED_AUTH;
    }

    ctx->token_expiry = token->expiry;

    return NGX_IOTHUB_MQTT_ACCEPTED;
}


/*
 * Runs a session script on the identity's presence keys (KEYS presence,
 * session, identity, and for a module's connect its device) with ARGV
 * inbox, session number, then "extra" (or the clean flag) and now.
 * Without a handler the call is not the session's: it outlives the
 * connection.
 */

static ngx_int_t
ngx_iothub_mqtt_presence(ngx_iothub_mqtt_ctx_t *ctx, ngx_uint_t script,
    const char *extra,
    void (*handler)(ngx_iothub_mqtt_ctx_t *ctx, redisReply *reply,
    ngx_uint_t arg), ngx_uint_t arg)
{
    int                      nkeys, n;
    u_char                   no[NGX_INT_T_LEN], now[40];
    size_t                   lens[8];
    ngx_str_t                keys[4], *inbox, *mid;
    ngx_uint_t               i;
    ngx_pool_t              *pool;
    const char              *argv[8];
    ngx_iothub_mqtt_token_t *t;

    pool = ctx->connection->pool;
    mid = ctx->sender.module_id.len ? &ctx->sender.module_id : NULL;

    if (ngx_iothub_key(pool, &keys[0], ctx->hub, &ctx->sender.device_id,
                       mid ? "presence:" : "presence", mid) != NGX_OK
        || ngx_iothub_key(pool, &keys[1], ctx->hub, &ctx->sender.device_id,
                          mid ? "session:" : "session", mid) != NGX_OK
        || ngx_iothub_key(pool, &keys[2], ctx->hub, &ctx->sender.device_id,
                          mid ? "module:" : "device", mid) != NGX_OK)
    {
        return NGX_ERROR;
    }

    nkeys = 3;

    /* a module connects only while its device is enabled */

    if (mid && script == NGX_IOTHUB_LUA_SESSION_CONNECT) {
        if (ngx_iothub_key(pool, &keys[3], ctx->hub, &ctx->sender.device_id,
                           "device", NULL) != NGX_OK)
        {
            return NGX_ERROR;
        }

        nkeys = 4;
    }

    for (i = 0; i < (ngx_uint_t) nkeys; i++) {
        argv[i] = (char *) keys[i].data;
        lens[i] = keys[i].len;
    }

    inbox = ngx_iothub_inbox();
    ngx_iothub_time_now(now, sizeof(now));

    argv[i] = (char *) inbox->data;
    lens[i++] = inbox->len;
    argv[i] = (char *) no;
    lens[i++] = ngx_sprintf(no, "%ui", ctx->session_no) - no;
    argv[i] = extra ? extra : (ctx->clean ? "1" : "0");
    lens[i] = ngx_strlen(argv[i]);
    i++;
    argv[i] = extra ? (ctx->clean ? "1" : "0") : (char *) now;
    lens[i] = ngx_strlen(argv[i]);
    n = (int) i + 1;

    if (handler == NULL && script == NGX_IOTHUB_LUA_SESSION_DISCONNECT) {
        /* bookkeeping after the session: it may wait for company */
        return ngx_iothub_redis_script_lazy(ngx_iothub_redis_link(), script,
                                            ngx_iothub_mqtt_presence_ended,
                                            NULL, nkeys, n, argv, lens)
               ? NGX_OK : NGX_DECLINED;
    }

    if (handler == NULL) {
        /* subscriptions: notifications depend on them, no waiting */
        return ngx_iothub_redis_script(ngx_iothub_redis_link(), script,
                                       ngx_iothub_mqtt_presence_ended, NULL,
                                       nkeys, n, argv, lens)
               ? NGX_OK : NGX_DECLINED;
    }

    t = ngx_iothub_mqtt_token(ctx, handler, arg);
    if (t == NULL) {
        return NGX_ERROR;
    }

    t->call = ngx_iothub_redis_script(ngx_iothub_redis_link(), script,
                                      ngx_iothub_mqtt_token_reply, t,
                                      nkeys, n, argv, lens);
    if (t->call == NULL) {
        ngx_queue_remove(&t->queue);
        ngx_free(t);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_iothub_mqtt_connected(ngx_iothub_mqtt_ctx_t *ctx, redisReply *reply,
    ngx_uint_t arg)
{
    u_char     connack[NGX_IOTHUB_MQTT_CONNACK_LEN];
    ngx_int_t  present;
    time_t     left;

    /* deleted or disabled after the registry read (session_connect.lua) */

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        if (reply->len == sizeof("NOT_FOUND") - 1
            && ngx_strncmp(reply->str, "NOT_FOUND", reply->len) == 0)
        {
            (void) ngx_iothub_mqtt_refuse(ctx, NGX_IOTHUB_MQTT_REFUSED_AUTH,
                                          "identity not registered");
            return;
        }

        if (reply->len == sizeof("DISABLED") - 1
            && ngx_strncmp(reply->str, "DISABLED", reply->len) == 0)
        {
            (void) ngx_iothub_mqtt_refuse(ctx, NGX_IOTHUB_MQTT_REFUSED_AUTH,
                                          "the device is disabled");
            return;
        }
    }

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_INTEGER
        || reply->element[1]->type != REDIS_REPLY_INTEGER)
    {
        (void) ngx_iothub_mqtt_refuse(ctx, NGX_IOTHUB_MQTT_REFUSED_SERVER,
                                      "the hub's store is unavailable");
        return;
    }

    ctx->features = (ngx_uint_t) reply->element[0]->integer;
    present = reply->element[1]->integer;

    ngx_iothub_mqtt_write_connack(connack, sizeof(connack), present,
                                  NGX_IOTHUB_MQTT_ACCEPTED);

    if (ngx_iothub_mqtt_send(ctx, connack, sizeof(connack), 0) != NGX_OK) {
        return;
    }

    ctx->state = NGX_IOTHUB_MQTT_CONNECTED;
    ctx->activity_saved = ngx_time();
    ctx->connection->log->action = "serving device";

    ngx_iothub_mqtt_register(ctx);

    ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                  "iothub mqtt: \"%V\" connected, clean session %ui",
                  &ctx->client_id, (ngx_uint_t) ctx->clean);

    /* the session ends when its SAS token expires (auth.md 7) */

    if (!ctx->x509) {
        left = (time_t) (ctx->token_expiry - ngx_time());

        /* nginx timers reach 24 days: a longer token is checked then */
        ngx_add_timer(&ctx->expiry,
                      (ngx_msec_t) ngx_min(left, 86400 * 24) * 1000);
    }

    ngx_add_timer(&ctx->keepalive, ctx->keepalive_time);

    ngx_iothub_mqtt_unblock(ctx);

    /* the restored subscriptions take effect now that the session is up */
    if (ctx->features && ngx_iothub_mqtt_save_features(ctx, NULL) != NGX_OK) {
        return;
    }

    /* messages queued while the device was away (clean session 0) */
    ngx_iothub_mqtt_c2d_pull(ctx);
}


static void
ngx_iothub_mqtt_presence_ended(void *data, redisReply *reply)
{
    /* bookkeeping only: the next connect or subscribe repairs a failure */
}


ngx_int_t
ngx_iothub_mqtt_publish(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_publish_t *pub)
{
    ngx_iothub_mqtt_pub_t  t;

    if (pub->qos > 1) {
        /* IoT Hub has no QoS 2 (mqtt.md 4) */
        ngx_iothub_mqtt_close(ctx, "QoS 2 PUBLISH refused");
        return NGX_ERROR;
    }

    switch (ngx_iothub_mqtt_pub_parse(pub->topic.data, pub->topic.len, &t)) {

    case NGX_IOTHUB_MQTT_PUB_TELEMETRY:
        return ngx_iothub_mqtt_telemetry(ctx, pub, &t);

    case NGX_IOTHUB_MQTT_PUB_TWIN_GET:
    case NGX_IOTHUB_MQTT_PUB_TWIN_REPORTED:
        return ngx_iothub_mqtt_twin_request(ctx, pub, &t);

    case NGX_IOTHUB_MQTT_PUB_METHOD_RES:
        return ngx_iothub_mqtt_method_response(ctx, pub, &t);

    default:
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub mqtt: PUBLISH to unknown topic \"%*s\"",
                      pub->topic.len, pub->topic.data);
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }
}


static ngx_int_t
ngx_iothub_mqtt_telemetry(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_publish_t *pub, ngx_iothub_mqtt_pub_t *t)
{
    u_char                   *buf;
    size_t                    size;
    ngx_int_t                 rc;
    ngx_iothub_message_t      msg;
    ngx_iothub_mqtt_token_t  *tok;

    if (!ngx_iothub_mqtt_pub_owned(t, &ctx->device, &ctx->module)) {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub mqtt: PUBLISH to another identity's topic "
                      "\"%*s\"", pub->topic.len, pub->topic.data);
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    if (pub->payload.len > NGX_IOTHUB_D2C_MAX_SIZE) {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub mqtt: message of %uz bytes over the 256 KB "
                      "limit", pub->payload.len);
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    /* decoded values, then "u:"-prefixed names: twice the bag at most */
    size = 2 * t->props.len + 4 * NGX_IOTHUB_MQTT_MAX_PROPS + 64;

    buf = ngx_alloc(size, ctx->connection->log);
    if (buf == NULL) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    rc = ngx_iothub_mqtt_message(ctx, pub, t, &msg, buf, size);
    if (rc != NGX_OK) {
        ngx_free(buf);
        return rc;
    }

    tok = ngx_iothub_mqtt_token(ctx, ngx_iothub_mqtt_stored,
                                pub->qos ? pub->packet_id : 0);
    if (tok == NULL) {
        ngx_free(buf);
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    /* the command is formatted at once: msg and buf may go */
    tok->call = ngx_iothub_d2c_send(ctx->hub, &ctx->sender, &msg,
                                    ngx_iothub_mqtt_token_reply, tok);
    ngx_free(buf);

    if (tok->call == NULL) {
        ngx_queue_remove(&tok->queue);
        ngx_free(tok);
        ngx_iothub_mqtt_close(ctx, "the hub's store is unavailable, "
                                   "message not acknowledged");
        return NGX_ERROR;
    }

    ctx->inflight++;

    ngx_iothub_mqtt_activity(ctx);

    return NGX_OK;
}


/* lastActivityTime in the registry, at most once a minute per session */

static void
ngx_iothub_mqtt_activity(ngx_iothub_mqtt_ctx_t *ctx)
{
    u_char              key[320], now[40];
    ngx_str_t          *mid;
    ngx_iothub_args_t   args;

    if (ngx_time() - ctx->activity_saved < 60) {
        return;
    }

    ctx->activity_saved = ngx_time();
    ngx_iothub_time_now(now, sizeof(now));

    mid = ctx->sender.module_id.len ? &ctx->sender.module_id : NULL;

    args.n = 0;
    ngx_iothub_args_add(&args, (char *) key,
                        ngx_iothub_key_write(key, key + sizeof(key), ctx->hub,
                                             &ctx->sender.device_id,
                                             mid ? "module:" : "device", mid)
                        - key);

    ngx_iothub_args_add_str(&args, (char *) now);

    (void) ngx_iothub_redis_script_lazy(ngx_iothub_redis_link(),
                                        NGX_IOTHUB_LUA_IDENTITY_TOUCH,
                                        ngx_iothub_mqtt_presence_ended, NULL,
                                        1, args.n, args.argv, args.lens);
}


/* the stream field of each system property of the topic (messaging.md 1) */

static const char  *ngx_iothub_mqtt_fields[] = {
    NULL,                               /* APP: "u:<name>" */
    "p:message-id",
    "p:correlation-id",
    "p:user-id",
    "p:to",
    "p:content-type",
    "p:content-encoding",
    "p:absolute-expiry-time",
    "u:iothub-outputname",
    "u:iothub-interface-id",
    "a:dt-subject",
    "u:iothub-creation-time-utc",
    "a:diag-id",
    "a:diag-context",
    NULL,                               /* CDID: set by the hub only */
    NULL,                               /* CMID */
    NULL                                /* another "$." name: dropped */
};


static ngx_int_t
ngx_iothub_mqtt_message(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_publish_t *pub, ngx_iothub_mqtt_pub_t *t,
    ngx_iothub_message_t *msg, u_char *buf, size_t size)
{
    size_t                       i, n;
    u_char                      *names, *name;
    ngx_int_t                    rc;
    const char                  *field;
    ngx_iothub_mqtt_prop_t       props[NGX_IOTHUB_MQTT_MAX_PROPS];
    ngx_iothub_mqtt_topic_rc_e   trc;

    msg->n = 0;
    msg->body.data = (u_char *) pub->payload.data;
    msg->body.len = pub->payload.len;

    trc = ngx_iothub_mqtt_props_parse(t->props.data, t->props.len, props,
                                      NGX_IOTHUB_MQTT_MAX_PROPS - 1, &n,
                                      buf, t->props.len + 1);
    if (trc != NGX_IOTHUB_MQTT_TOPIC_OK) {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub mqtt: property bag: %s",
                      ngx_iothub_mqtt_topic_strerror(trc));
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    names = buf + t->props.len + 1;

    for (i = 0; i < n; i++) {
        field = ngx_iothub_mqtt_fields[props[i].sys];
        name = names;

        if (props[i].sys == NGX_IOTHUB_MQTT_PROP_APP) {
            names = ngx_cpymem(ngx_cpymem(names, "u:", 2),
                               props[i].key.data, props[i].key.len);

        } else if (field != NULL) {
            name = (u_char *) field;

        } else {
            continue;
        }

        rc = ngx_iothub_message_add(msg, (char *) name,
                                    field ? ngx_strlen(field)
                                          : (size_t) (names - name),
                                    (u_char *) props[i].value.data,
                                    props[i].value.len);
        if (rc != NGX_OK) {
            break;
        }
    }

    if (pub->retain) {
        /* not stored: forwarded with mqtt-retain (mqtt.md 4) */
        (void) ngx_iothub_message_add(msg, "u:mqtt-retain", 13,
                                      (u_char *) "true", 4);
    }

    (void) size;

    return NGX_OK;
}


/* PUBACK once Redis stored the message; without it the device resends */

static void
ngx_iothub_mqtt_stored(ngx_iothub_mqtt_ctx_t *ctx, redisReply *reply,
    ngx_uint_t packet_id)
{
    u_char  puback[NGX_IOTHUB_MQTT_PUBACK_LEN];

    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        ngx_iothub_mqtt_close(ctx, "the hub's store failed, message not "
                                   "acknowledged");
        return;
    }

    if (ctx->inflight-- == NGX_IOTHUB_MQTT_MAX_INFLIGHT) {
        ngx_iothub_mqtt_unblock(ctx);
    }

    if (packet_id == 0) {
        return;
    }

    ngx_iothub_mqtt_write_puback(puback, sizeof(puback), packet_id);
    (void) ngx_iothub_mqtt_send(ctx, puback, sizeof(puback), 0);
}


ngx_int_t
ngx_iothub_mqtt_subscribe(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_subscribe_t *sub)
{
    u_char                 codes[64], *p;
    u_int                  qos;
    size_t                 pos, n, len;
    ngx_uint_t             feature;
    ngx_iothub_mqtt_str_t  filter;

    if (sub->count > sizeof(codes)) {
        ngx_iothub_mqtt_close(ctx, "too many filters in SUBSCRIBE");
        return NGX_ERROR;
    }

    pos = 0;
    n = 0;

    while (ngx_iothub_mqtt_subscribe_next(sub, &pos, &filter, &qos)) {
        feature = ngx_iothub_mqtt_filter_valid(filter.data, filter.len)
                  ? ngx_iothub_mqtt_filter_feature(filter.data, filter.len,
                                                   &ctx->device, &ctx->module)
                  : 0;

        if (feature == 0) {
            /* a friendlier answer than closing (mqtt.md 3) */
            ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                          "iothub mqtt: SUBSCRIBE to unknown filter \"%*s\"",
                          filter.len, filter.data);
            codes[n++] = NGX_IOTHUB_MQTT_SUBACK_FAILURE;
            continue;
        }

        ctx->features |= feature;
        codes[n++] = ngx_min(qos, 1);
    }

    /* kept until the subscriptions are stored; at most 68 bytes */

    len = ngx_iothub_mqtt_suback_size(n);

    p = ngx_pnalloc(ctx->connection->pool, len);
    if (p == NULL) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    ngx_iothub_mqtt_write_suback(p, len, sub->packet_id, codes, n);

    return ngx_iothub_mqtt_save_features(ctx, p);
}


/*
 * The SUBACK goes once the subscriptions are in the presence hash: a
 * service call made after the device saw it finds them.  Other packets
 * go on meanwhile; SUBACKs keep their order (one Redis link, in order).
 */

static void
ngx_iothub_mqtt_subscribed(ngx_iothub_mqtt_ctx_t *ctx, redisReply *reply,
    ngx_uint_t arg)
{
    /* a failed store leaves the subscriptions to this connection */
    (void) ngx_iothub_mqtt_send_suback(ctx, (u_char *) arg);
}


static ngx_int_t
ngx_iothub_mqtt_send_suback(ngx_iothub_mqtt_ctx_t *ctx, u_char *suback)
{
    size_t  len;

    /* the fixed header's remaining length is one byte: at most 66 */
    len = 2 + suback[1];

    if (ngx_iothub_mqtt_send(ctx, suback, len, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_iothub_mqtt_c2d_pull(ctx);

    return NGX_OK;
}

ngx_int_t
ngx_iothub_mqtt_unsubscribe(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_subscribe_t *sub)
{
    u_char                 unsuback[NGX_IOTHUB_MQTT_UNSUBACK_LEN];
    size_t                 pos;
    ngx_iothub_mqtt_str_t  filter;

    pos = 0;

    while (ngx_iothub_mqtt_subscribe_next(sub, &pos, &filter, NULL)) {
        ctx->features &= ~ngx_iothub_mqtt_filter_feature(filter.data,
                                                         filter.len,
                                                         &ctx->device,
                                                         &ctx->module);
    }

    ngx_iothub_mqtt_write_unsuback(unsuback, sizeof(unsuback),
                                   sub->packet_id);

    if (ngx_iothub_mqtt_send(ctx, unsuback, sizeof(unsuback), 0) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_iothub_mqtt_save_features(ctx, NULL);
}


/* with a SUBACK to send once stored, or NULL (restored subscriptions) */

static ngx_int_t
ngx_iothub_mqtt_save_features(ngx_iothub_mqtt_ctx_t *ctx, u_char *suback)
{
    u_char     features[NGX_INT_T_LEN + 1];
    ngx_int_t  rc;

    ngx_sprintf(features, "%ui%Z", ctx->features);

    rc = ngx_iothub_mqtt_presence(ctx, NGX_IOTHUB_LUA_SESSION_SUBSCRIBE,
                                  (char *) features,
                                  suback ? ngx_iothub_mqtt_subscribed : NULL,
                                  (ngx_uint_t) suback);

    if (rc == NGX_ERROR) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED && suback) {
        /* Redis down: the subscriptions hold on this connection */
        return ngx_iothub_mqtt_send_suback(ctx, suback);
    }

    return NGX_OK;
}


/*
 * A will must be telemetry of the identity itself, at most QoS 1; it is
 * kept (copied) until the connection ends.
 */

ngx_int_t
ngx_iothub_mqtt_will(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_connect_t *connect)
{
    ngx_iothub_mqtt_pub_t   t;

    if (!connect->will) {
        return NGX_OK;
    }

    if (connect->will_qos > 1
        || connect->will_message.len > NGX_IOTHUB_D2C_MAX_SIZE
        || ngx_iothub_mqtt_pub_parse(connect->will_topic.data,
                                     connect->will_topic.len, &t)
           != NGX_IOTHUB_MQTT_PUB_TELEMETRY
        || !ngx_iothub_mqtt_pub_owned(&t, &ctx->device, &ctx->module))
    {
        return ngx_iothub_mqtt_refuse(ctx, NGX_IOTHUB_MQTT_REFUSED_AUTH,
                                      "the will is not telemetry of the "
                                      "identity at QoS 0 or 1");
    }

    ctx->will = ngx_alloc(connect->will_topic.len
                          + connect->will_message.len + 1,
                          ctx->connection->log);
    if (ctx->will == NULL) {
        ngx_iothub_mqtt_close(ctx, NULL);
        return NGX_ERROR;
    }

    ngx_memcpy(ctx->will, connect->will_topic.data, connect->will_topic.len);
    ngx_memcpy(ctx->will + connect->will_topic.len,
               connect->will_message.data, connect->will_message.len);

    ctx->will_topic_len = connect->will_topic.len;
    ctx->will_len = connect->will_message.len;

    return NGX_OK;
}


/* the will goes out as telemetry marked iothub-MessageType: Will */

static void
ngx_iothub_mqtt_send_will(ngx_iothub_mqtt_ctx_t *ctx)
{
    u_char                     *buf;
    size_t                      size;
    ngx_iothub_mqtt_pub_t       t;
    ngx_iothub_message_t        msg;
    ngx_iothub_mqtt_publish_t   pub;

    if (ctx->will == NULL || ctx->disconnected
        || ctx->state != NGX_IOTHUB_MQTT_CONNECTED)
    {
        return;
    }

    ngx_memzero(&pub, sizeof(ngx_iothub_mqtt_publish_t));
    pub.topic.data = ctx->will;
    pub.topic.len = ctx->will_topic_len;
    pub.payload.data = ctx->will + ctx->will_topic_len;
    pub.payload.len = ctx->will_len;

    (void) ngx_iothub_mqtt_pub_parse(pub.topic.data, pub.topic.len, &t);

    size = 2 * t.props.len + 4 * NGX_IOTHUB_MQTT_MAX_PROPS + 64;

    buf = ngx_alloc(size, ctx->connection->log);
    if (buf == NULL) {
        return;
    }

    if (ngx_iothub_mqtt_message(ctx, &pub, &t, &msg, buf, size) == NGX_OK) {
        (void) ngx_iothub_message_add(&msg, "u:iothub-MessageType", 20,
                                      (u_char *) "Will", 4);
        (void) ngx_iothub_d2c_send(ctx->hub, &ctx->sender, &msg,
                                   ngx_iothub_mqtt_presence_ended, NULL);
    }

    ngx_free(buf);
}


void
ngx_iothub_mqtt_session_closed(ngx_iothub_mqtt_ctx_t *ctx)
{
    ngx_iothub_mqtt_send_will(ctx);
    ngx_iothub_mqtt_c2d_release(ctx);

    if (!ctx->registered) {
        return;
    }

    ctx->registered = 0;
    ngx_rbtree_delete(&ngx_iothub_mqtt_sessions, &ctx->node);

    (void) ngx_iothub_mqtt_presence(ctx, NGX_IOTHUB_LUA_SESSION_DISCONNECT,
                                    NULL, NULL, 0);
}


static void
ngx_iothub_mqtt_register(ngx_iothub_mqtt_ctx_t *ctx)
{
    ctx->node.key = ctx->session_no;
    ngx_rbtree_insert(&ngx_iothub_mqtt_sessions, &ctx->node);
    ctx->registered = 1;
}


ngx_iothub_mqtt_ctx_t *
ngx_iothub_mqtt_find(ngx_uint_t no)
{
    ngx_rbtree_node_t  *node, *sentinel;

    node = ngx_iothub_mqtt_sessions.root;
    sentinel = ngx_iothub_mqtt_sessions.sentinel;

    while (node != sentinel) {
        if (no == node->key) {
            return (ngx_iothub_mqtt_ctx_t *)
                       ((u_char *) node
                        - offsetof(ngx_iothub_mqtt_ctx_t, node));
        }

        node = (no < node->key) ? node->left : node->right;
    }

    return NULL;
}


/* "kick <session> replaced|removed": the session must end */

static void
ngx_iothub_mqtt_kick(u_char *payload, size_t len)
{
    u_char                 *sp, *last;
    ngx_int_t               no;
    ngx_iothub_mqtt_ctx_t  *ctx;

    last = payload + len;
    sp = ngx_strlchr(payload, last, ' ');

    no = ngx_atoi(payload, (sp ? sp : last) - payload);
    ctx = (no == NGX_ERROR) ? NULL : ngx_iothub_mqtt_find(no);

    if (ctx == NULL) {
        return;
    }

    /* the close path ends the presence only if it still names us */

    if (sp && last - sp == 8 && ngx_strncmp(sp + 1, "removed", 7) == 0) {
        ngx_iothub_mqtt_close(ctx, "the identity was deleted or disabled");
        return;
    }

    ngx_iothub_mqtt_close(ctx, "replaced by a newer connection of the "
                               "same identity");
}


static ngx_int_t
ngx_iothub_mqtt_copy(ngx_iothub_mqtt_ctx_t *ctx, ngx_str_t *dst,
    ngx_iothub_mqtt_str_t *src)
{
    dst->len = src->len;

    if (src->len == 0) {
        dst->data = (u_char *) "";
        return NGX_OK;
    }

    dst->data = ngx_pnalloc(ctx->connection->pool, src->len);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);

    return NGX_OK;
}


/* what only authentication needed goes: idle sessions stay small */

void
ngx_iothub_mqtt_auth_done(ngx_iothub_mqtt_ctx_t *ctx)
{
    if (ctx->auth_pool) {
        ngx_destroy_pool(ctx->auth_pool);
        ctx->auth_pool = NULL;
    }

    ctx->identity = NULL;
    ctx->password = NULL;
    ctx->password_len = 0;
}
