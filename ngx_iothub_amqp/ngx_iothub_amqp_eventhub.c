
/*
 * nginx-iothub: the Event Hubs-compatible endpoint on the AMQP server
 * (amqp.md 10): CBS tokens of the entity's audiences (policy keys used as
 * the raw bytes of their text, auth.md 3.2), $management READs of the
 * entity and of its partitions, and receivers on
 * <entity>/ConsumerGroups/<cg>/Partitions/<n>, fed from the partition's
 * stream within the credit the client grants.  A receiver at the end of
 * its partition waits for the worker's inbox to say that the partition
 * got an entry (shared/ngx_iothub_eventhub.c): no polling.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_amqp.h"
#include "ngx_iothub_eventhub.h"
#include "ngx_iothub_log.h"
#include "ngx_iothub_sas.h"


#define NGX_IOTHUB_AMQP_EH_TOKENS     64        /* per connection */
#define NGX_IOTHUB_AMQP_EH_BATCH      64        /* events per read */
#define NGX_IOTHUB_AMQP_EH_OUTGOING   (1024 * 1024)
#define NGX_IOTHUB_AMQP_EH_RECHECK    5000      /* ms, see pump() */
#define NGX_IOTHUB_AMQP_EH_BACKOFF    20        /* ms */
#define NGX_IOTHUB_AMQP_EH_REPLY_MAX  256


/* a token put on the connection: what its sr covers, until when */
typedef struct {
    u_char                         path[NGX_IOTHUB_AMQP_EH_PATH_MAX];
    size_t                         len;
    time_t                         expiry;
} ngx_iothub_amqp_eh_token_t;


typedef struct {
    ngx_iothub_amqp_eh_token_t     tokens[NGX_IOTHUB_AMQP_EH_TOKENS];
    ngx_uint_t                     ntokens;
    ngx_queue_t                    requests;
} ngx_iothub_amqp_eh_t;


/* a $management link or a partition receiver: pn_link_get_context() */
typedef struct {
    ngx_iothub_amqp_link_t         base;        /* kind EVENTHUB */
    ngx_iothub_amqp_ctx_t         *ctx;
    pn_link_t                     *link;
    ngx_uint_t                     partition;
    u_char                         path[NGX_IOTHUB_AMQP_EH_PATH_MAX];
    size_t                         path_len;
    ngx_iothub_eh_from_e           from;
    int64_t                        from_n;
    u_char                         after[NGX_IOTHUB_EH_ID_LEN];
    size_t                         after_len;
    ngx_uint_t                     asked;
    uint64_t                       tag;
    ngx_iothub_eh_op_t             op;          /* seek, then reads */
    ngx_iothub_eh_waiter_t         waiter;
    ngx_iothub_eh_claim_t          claim;       /* receivers: epochs */
    ngx_event_t                    timer;
    unsigned                       management:1;
    unsigned                       positioned:1;
    unsigned                       behind:1;    /* the last read was full */
    unsigned                       ranged:1;    /* the read: a bare XRANGE */
} ngx_iothub_amqp_eh_link_t;


/* a partition READ waiting for Redis */
typedef struct {
    ngx_queue_t                    queue;
    ngx_iothub_amqp_ctx_t         *ctx;
    pn_atom_t                      id;
    u_char                         id_bytes[NGX_IOTHUB_AMQP_EH_REPLY_MAX];
    u_char                         reply_to[NGX_IOTHUB_AMQP_EH_REPLY_MAX];
    ngx_uint_t                     partition;
    ngx_iothub_eh_op_t             op;
} ngx_iothub_amqp_eh_request_t;


static ngx_iothub_amqp_eh_t *ngx_iothub_amqp_eh_state(
    ngx_iothub_amqp_ctx_t *ctx);
static ngx_int_t ngx_iothub_amqp_eh_audience(ngx_iothub_amqp_ctx_t *ctx,
    pn_bytes_t *audience, u_char *path);
static int ngx_iothub_amqp_eh_token_check(ngx_iothub_amqp_ctx_t *ctx,
    pn_bytes_t *token, u_char *path, ngx_iothub_sas_token_t *t,
    const char **description);
static ngx_uint_t ngx_iothub_amqp_eh_authorized(ngx_iothub_amqp_ctx_t *ctx,
    u_char *path, size_t len);
static ngx_int_t ngx_iothub_amqp_eh_address(ngx_iothub_amqp_ctx_t *ctx,
    const char *addr, ngx_iothub_amqp_eh_link_t *el, ngx_str_t *group,
    ngx_str_t *partition);
static void ngx_iothub_amqp_eh_receiver(ngx_iothub_amqp_eh_link_t *el,
    ngx_str_t *group, ngx_str_t *partition);
static void ngx_iothub_amqp_eh_claimed(ngx_iothub_eh_claim_t *o);
static void ngx_iothub_amqp_eh_start(ngx_iothub_amqp_eh_link_t *el);
static void ngx_iothub_amqp_eh_displaced(ngx_iothub_amqp_eh_link_t *el,
    ngx_uint_t refused);
static void ngx_iothub_amqp_eh_stop(ngx_iothub_amqp_eh_link_t *el);
static void ngx_iothub_amqp_eh_seeked(ngx_iothub_eh_op_t *op);
static void ngx_iothub_amqp_eh_pump(ngx_iothub_amqp_eh_link_t *el);
static void ngx_iothub_amqp_eh_read(ngx_iothub_eh_op_t *op);
static ngx_int_t ngx_iothub_amqp_eh_deliver(ngx_iothub_amqp_eh_link_t *el,
    ngx_iothub_eh_op_t *op);
static void ngx_iothub_amqp_eh_wake(ngx_iothub_eh_waiter_t *w);
static void ngx_iothub_amqp_eh_timer(ngx_event_t *ev);
static ngx_int_t ngx_iothub_amqp_eh_event(ngx_iothub_amqp_eh_link_t *el,
    ngx_iothub_eh_event_t *ev);
static void ngx_iothub_amqp_eh_release(ngx_iothub_amqp_eh_link_t *el);
static void ngx_iothub_amqp_eh_request(ngx_iothub_amqp_ctx_t *ctx,
    pn_message_t *m);
static void ngx_iothub_amqp_eh_partition_read(ngx_iothub_eh_op_t *op);
static void ngx_iothub_amqp_eh_respond(ngx_iothub_amqp_ctx_t *ctx,
    const char *reply_to, pn_atom_t *id, int status, const char *description,
    const char *condition, pn_message_t *m);
static void ngx_iothub_amqp_eh_put_pair(pn_data_t *d, const char *key,
    const char *value);


static time_t  ngx_iothub_amqp_eh_created;


ngx_int_t
ngx_iothub_amqp_eh_init_conf(ngx_conf_t *cf)
{
    /* the entity's created_at: when the configuration was loaded */
    ngx_iothub_amqp_eh_created = ngx_time();

    return ngx_iothub_eh_init_conf(cf);
}


static ngx_iothub_amqp_eh_t *
ngx_iothub_amqp_eh_state(ngx_iothub_amqp_ctx_t *ctx)
{
    ngx_iothub_amqp_eh_t  *eh;

    if (ctx->eventhub) {
        return ctx->eventhub;
    }

    eh = ngx_pcalloc(ctx->connection->pool, sizeof(ngx_iothub_amqp_eh_t));
    if (eh == NULL) {
        return NULL;
    }

    ngx_queue_init(&eh->requests);
    ctx->eventhub = eh;

    return eh;
}


/*
 * put-token for "sb://<host>/<entity>[/...]" (amqp.md 10.1): a policy
 * token with service_connect, signed with the key's text.  Returns the
 * CBS status, or NGX_DECLINED for an audience that is not the entity's.
 */

ngx_int_t
ngx_iothub_amqp_eh_put_token(ngx_iothub_amqp_ctx_t *ctx, pn_bytes_t *audience,
    pn_bytes_t *token, const char **description)
{
    size_t                       len;
    ngx_uint_t                   i;
    ngx_iothub_amqp_eh_t        *eh;
    ngx_iothub_sas_token_t       t;
    ngx_iothub_amqp_eh_token_t  *tok, *free_tok;
    u_char                       path[NGX_IOTHUB_AMQP_EH_PATH_MAX];

    if (ngx_iothub_amqp_eh_audience(ctx, audience, path) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (!ngx_iothub_amqp_eh_token_check(ctx, token, path, &t, description)) {
        return 401;
    }

    eh = ngx_iothub_amqp_eh_state(ctx);
    if (eh == NULL) {
        *description = "out of memory";
        return 500;
    }

    /* a renewal replaces the token of the same sr */

    len = ngx_strlen(t.path);
    free_tok = NULL;

    for (i = 0; i < eh->ntokens; i++) {
        tok = &eh->tokens[i];

        if (tok->len == len && ngx_strncmp(tok->path, t.path, len) == 0) {
            free_tok = tok;
            break;
        }

        if (free_tok == NULL && tok->expiry <= ngx_time()) {
            free_tok = tok;
        }
    }

    if (free_tok == NULL) {
        if (eh->ntokens == NGX_IOTHUB_AMQP_EH_TOKENS) {
            *description = "too many tokens on the connection";
            return 403;
        }

        free_tok = &eh->tokens[eh->ntokens++];
    }

    ngx_memcpy(free_tok->path, t.path, len);
    free_tok->len = len;
    free_tok->expiry = (time_t) t.expiry;

    *description = "OK";

    return 200;
}


/* "sb://host/<entity>..." with the hub's name as entity: its path */

static ngx_int_t
ngx_iothub_amqp_eh_audience(ngx_iothub_amqp_ctx_t *ctx, pn_bytes_t *audience,
    u_char *path)
{
    return ngx_iothub_amqp_eh_audience_path((u_char *) audience->start,
                                            audience->size,
                                            (char *) ctx->hub->name.data,
                                            ctx->hub->name.len,
                                            (char *) path)
           == 0 ? NGX_OK : NGX_DECLINED;
}


static int
ngx_iothub_amqp_eh_token_check(ngx_iothub_amqp_ctx_t *ctx, pn_bytes_t *token,
    u_char *path, ngx_iothub_sas_token_t *t, const char **description)
{
    ngx_iothub_hub_t     *hub;
    ngx_iothub_policy_t  *policy;
    ngx_iothub_sas_rc_e   rc;

    hub = ctx->hub;

    rc = ngx_iothub_sas_parse(t, (u_char *) token->start, token->size);

    if (rc != NGX_IOTHUB_SAS_OK) {
        *description = "malformed SAS token";
        return 0;
    }

    policy = t->skn.len ? ngx_iothub_find_policy(hub, (u_char *) t->policy,
                                                 ngx_strlen(t->policy))
                        : NULL;

    if (policy == NULL
        || !(policy->rights & NGX_IOTHUB_RIGHT_SERVICE_CONNECT))
    {
        *description = "a token of a policy with service_connect is needed";
        return 0;
    }

    /* Event Hubs: the HMAC key is the key's text (auth.md 3.2) */

    rc = ngx_iothub_sas_verify_raw(t, policy->primary_key.data,
                                   policy->primary_key.len);

    if (rc != NGX_IOTHUB_SAS_OK && policy->secondary_key.len) {
        rc = ngx_iothub_sas_verify_raw(t, policy->secondary_key.data,
                                       policy->secondary_key.len);
    }

    if (rc == NGX_IOTHUB_SAS_OK) {
        rc = ngx_iothub_sas_check_expiry(t, ngx_time());
    }

    if (rc == NGX_IOTHUB_SAS_OK) {
        rc = ngx_iothub_sas_covers(t, (char *) hub->hostname.data,
                                   (char *) path);

        /* the hub's host name is not NUL-terminated: compare its length */
        if (rc == NGX_IOTHUB_SAS_OK
            && ngx_strlen(t->host) != hub->hostname.len)
        {
            rc = NGX_IOTHUB_SAS_NOT_COVERED;
        }
    }

    if (rc != NGX_IOTHUB_SAS_OK) {
        *description = ngx_iothub_sas_strerror(rc);
        return 0;
    }

    return 1;
}


/* a live token whose sr covers the path, by whole segments */

static ngx_uint_t
ngx_iothub_amqp_eh_authorized(ngx_iothub_amqp_ctx_t *ctx, u_char *path,
    size_t len)
{
    ngx_uint_t                   i;
    ngx_iothub_amqp_eh_t        *eh;
    ngx_iothub_amqp_eh_token_t  *tok;

    eh = ctx->eventhub;

    if (eh == NULL) {
        return 0;
    }

    for (i = 0; i < eh->ntokens; i++) {
        tok = &eh->tokens[i];

        if (tok->expiry > ngx_time() && tok->len <= len
            && ngx_strncasecmp(tok->path, path, tok->len) == 0
            && (tok->len == len || path[tok->len] == '/'))
        {
            return 1;
        }
    }

    return 0;
}


/*
 * A link to "$management" or "[/]<entity>/ConsumerGroups/<cg>/Partitions/
 * <n>" (amqp.md 10.2, 10.3) is this file's; NGX_DECLINED for others.
 */

ngx_int_t
ngx_iothub_amqp_eh_link_open(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link,
    const char *addr)
{
    ngx_str_t                   group, partition;
    ngx_iothub_amqp_eh_link_t   el0, *el;

    ngx_memzero(&el0, sizeof(ngx_iothub_amqp_eh_link_t));
    ngx_str_null(&group);
    ngx_str_null(&partition);

    if (ngx_iothub_amqp_eh_address(ctx, addr, &el0, &group, &partition)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    el = ngx_alloc(sizeof(ngx_iothub_amqp_eh_link_t), ctx->connection->log);
    if (el == NULL) {
        ngx_iothub_amqp_refuse_link(link, "amqp:internal-error",
                                    "out of memory");
        return NGX_OK;
    }

    ngx_memcpy(el, &el0, sizeof(ngx_iothub_amqp_eh_link_t));

    el->base.kind = NGX_IOTHUB_AMQP_ADDR_EVENTHUB;
    el->ctx = ctx;
    el->link = link;
    el->timer.handler = ngx_iothub_amqp_eh_timer;
    el->timer.data = el;
    el->timer.log = ctx->connection->log;
    el->timer.cancelable = 1;

    pn_link_set_context(link, el);

    if (!ngx_iothub_amqp_eh_authorized(ctx, el->path, el->path_len)) {
        ngx_iothub_amqp_refuse_link(link, "amqp:unauthorized-access",
                                    "no valid token was put for this "
                                    "address");
        return NGX_OK;
    }

    if (el->management) {
        ngx_iothub_amqp_open_link(link);
        el->base.opened = 1;

        if (pn_link_is_receiver(link)) {
            pn_link_flow(link, NGX_IOTHUB_AMQP_CBS_CREDIT);
        }

        return NGX_OK;
    }

    ngx_iothub_amqp_eh_receiver(el, &group, &partition);

    return NGX_OK;
}


static ngx_int_t
ngx_iothub_amqp_eh_address(ngx_iothub_amqp_ctx_t *ctx, const char *addr,
    ngx_iothub_amqp_eh_link_t *el, ngx_str_t *group, ngx_str_t *partition)
{
    ngx_iothub_amqp_eh_addr_t  a;

    if (ngx_iothub_amqp_eh_addr_parse(addr, (char *) ctx->hub->name.data,
                                      ctx->hub->name.len, &a)
        != 0)
    {
        return NGX_DECLINED;
    }

    el->management = a.management;
    el->path_len = a.path_len;
    ngx_memcpy(el->path, a.path, a.path_len);

    group->data = (u_char *) a.group;
    group->len = a.group_len;
    partition->data = (u_char *) a.partition;
    partition->len = a.partition_len;

    return NGX_OK;
}


/* a partition receiver: its group, its partition, where it starts */

static void
ngx_iothub_amqp_eh_receiver(ngx_iothub_amqp_eh_link_t *el, ngx_str_t *group,
    ngx_str_t *partition)
{
    ngx_int_t               p;
    pn_link_t              *link;
    ngx_iothub_hub_t       *hub;

    link = el->link;
    hub = el->ctx->hub;

    if (pn_link_is_receiver(link)) {
        ngx_iothub_amqp_refuse_link(link, "amqp:not-allowed",
                                    "partitions are read, not written");
        return;
    }

    if (group->len > NGX_IOTHUB_EH_GROUP_LEN) {
        ngx_iothub_amqp_refuse_link(link, "amqp:not-found",
                                    "no such consumer group");
        return;
    }

    p = ngx_atoi(partition->data, partition->len);

    if (p == NGX_ERROR || (ngx_uint_t) p >= hub->partitions) {
        ngx_iothub_amqp_refuse_link(link, "amqp:not-found",
                                    "no such partition");
        return;
    }

    el->partition = p;

    if (ngx_iothub_amqp_eh_filter(pn_link_remote_source(link), &el->from,
                                  &el->from_n)
        != NGX_OK)
    {
        ngx_iothub_amqp_refuse_link(link, "com.microsoft:argument-error",
                                    "unsupported filter: an x-opt-offset, "
                                    "x-opt-sequence-number or "
                                    "x-opt-enqueued-time > or >= selector "
                                    "is expected");
        return;
    }

    if (ngx_iothub_amqp_eh_epoch(link, &el->claim.epoch) != NGX_OK) {
        ngx_iothub_amqp_refuse_link(link, "com.microsoft:argument-error",
                                    "com.microsoft:epoch must be a long of "
                                    "0 or more");
        return;
    }

    /* the partition's receivers in Redis first: epochs, consumer group */

    el->claim.hub = hub;
    el->claim.group_len = group->len;
    ngx_memcpy(el->claim.group, group->data, group->len);
    el->claim.partition = el->partition;
    el->claim.handler = ngx_iothub_amqp_eh_claimed;
    el->claim.data = el;

    if (ngx_iothub_eh_claim(&el->claim) != NGX_OK) {
        ngx_iothub_amqp_refuse_link(link, "amqp:internal-error",
                                    "the hub's store is unavailable");
    }
}


static void
ngx_iothub_amqp_eh_claimed(ngx_iothub_eh_claim_t *o)
{
    ngx_iothub_amqp_eh_link_t *el = o->data;

    switch (o->result) {

    case NGX_IOTHUB_EH_HELD:
        ngx_iothub_amqp_eh_start(el);
        break;

    case NGX_IOTHUB_EH_REFUSED:
        ngx_iothub_amqp_eh_displaced(el, 1);
        break;

    case NGX_IOTHUB_EH_STOLEN:
        ngx_iothub_amqp_eh_displaced(el, 0);
        break;

    case NGX_IOTHUB_EH_NO_GROUP:
        ngx_iothub_amqp_refuse_link(el->link, "amqp:not-found",
                                    "no such consumer group");
        break;

    default:
        ngx_iothub_amqp_refuse_link(el->link, "amqp:internal-error",
                                    "the hub's store is unavailable");
        break;
    }

    ngx_iothub_amqp_run(el->ctx);
}


static void
ngx_iothub_amqp_eh_start(ngx_iothub_amqp_eh_link_t *el)
{
    ngx_iothub_amqp_open_link(el->link);
    el->base.opened = 1;

    el->op.hub = el->ctx->hub;
    el->op.partition = el->partition;
    el->op.handler = ngx_iothub_amqp_eh_seeked;
    el->op.data = el;

    if (ngx_iothub_eh_seek(&el->op, el->from, el->from_n) != NGX_OK) {
        ngx_iothub_amqp_detach(el->link, "amqp:internal-error",
                               "the hub's store is unavailable");
    }
}


/*
 * An epoch receiver holds the partition (refused) or took it (stolen):
 * amqp:link:stolen, which the SDKs map to ReceiverDisconnectedError /
 * ConsumerDisconnected, with Azure's words.
 */

static void
ngx_iothub_amqp_eh_displaced(ngx_iothub_amqp_eh_link_t *el,
    ngx_uint_t refused)
{
    u_char   text[NGX_IOTHUB_AMQP_EH_REPLY_MAX], *p;
    int64_t  mine, holder;

    mine = el->claim.epoch;
    holder = el->claim.holder;
    p = text;

    if (refused && mine < 0) {
        p = ngx_snprintf(text, sizeof(text) - 1,
                         "At least one receiver for the endpoint is created "
                         "with epoch of '%L', and so non-epoch receiver is "
                         "not allowed. Either reconnect with a higher "
                         "epoch, or make sure all epoch receivers are "
                         "closed or disconnected.", holder);

    } else if (refused) {
        p = ngx_snprintf(text, sizeof(text) - 1,
                         "Receiver with epoch '%L' cannot be created "
                         "because a receiver with higher epoch '%L' "
                         "already exists.", mine, holder);

    } else if (holder < 0) {
        /* a renewal found the claim gone: its eh-stolen was lost */
        p = ngx_snprintf(text, sizeof(text) - 1,
                         "The receiver's claim on the partition was taken "
                         "by another receiver or lapsed; it is getting "
                         "disconnected.");

    } else if (mine < 0) {
        p = ngx_snprintf(text, sizeof(text) - 1,
                         "New receiver with higher epoch of '%L' is created "
                         "hence current receiver without epoch is getting "
                         "disconnected.", holder);

    } else {
        p = ngx_snprintf(text, sizeof(text) - 1,
                         "New receiver with higher epoch of '%L' is created "
                         "hence current receiver with epoch '%L' is getting "
                         "disconnected. If you are recreating the receiver, "
                         "make sure a higher epoch is used.", holder, mine);
    }

    *p = '\0';

    if (!el->base.opened) {
        ngx_iothub_amqp_refuse_link(el->link, "amqp:link:stolen",
                                    (char *) text);
        return;
    }

    ngx_iothub_amqp_eh_stop(el);
    ngx_iothub_amqp_detach(el->link, "amqp:link:stolen", (char *) text);
}


static void
ngx_iothub_amqp_eh_seeked(ngx_iothub_eh_op_t *op)
{
    ngx_iothub_amqp_eh_link_t *el = op->data;

    if (op->result != NGX_IOTHUB_EH_OK) {
        ngx_log_error(NGX_LOG_ERR, el->ctx->connection->log, 0,
                      "iothub amqp: Event Hubs receiver: no start position");
        ngx_iothub_amqp_detach(el->link, "amqp:internal-error",
                               "the hub's store is unavailable");
        ngx_iothub_amqp_run(el->ctx);
        return;
    }

    ngx_memcpy(el->after, op->id, op->id_len);
    el->after_len = op->id_len;
    el->positioned = 1;

    ngx_iothub_amqp_eh_pump(el);
    ngx_iothub_amqp_run(el->ctx);
}


/*
 * Reads as many events as the link has credit for, at most a batch at a
 * time, while the session's output is under a bound: a receiver's memory
 * is a batch and that bound whatever credit the client grants.  A receiver
 * at the end waits for the partition's next entry; it also reads again
 * every NGX_IOTHUB_AMQP_EH_RECHECK ms, which ends it once its token
 * expired and covers a notification lost while the subscriber link was
 * down.
 */

static void
ngx_iothub_amqp_eh_pump(ngx_iothub_amqp_eh_link_t *el)
{
    int         credit;
    pn_link_t  *link;

    link = el->link;

    if (!el->positioned || el->op.call || el->waiter.waiting
        || (pn_link_state(link) & PN_LOCAL_CLOSED))
    {
        return;
    }

    if (!ngx_iothub_amqp_eh_authorized(el->ctx, el->path, el->path_len)) {
        ngx_iothub_amqp_detach(link, "amqp:unauthorized-access",
                               "the token of this address expired");
        return;
    }

    credit = pn_link_credit(link);

    if (credit <= 0) {
        return;
    }

    if (pn_session_outgoing_bytes(pn_link_session(link))
        > NGX_IOTHUB_AMQP_EH_OUTGOING)
    {
        ngx_add_timer(&el->timer, NGX_IOTHUB_AMQP_EH_BACKOFF);
        return;
    }

    el->asked = ngx_min((ngx_uint_t) credit, NGX_IOTHUB_AMQP_EH_BATCH);

    el->op.handler = ngx_iothub_amqp_eh_read;

    /* behind the end, without the script and its wait (see eh_read()) */
    el->ranged = el->behind;

    if ((el->ranged
         ? ngx_iothub_eh_range(&el->op, el->after, el->after_len, el->asked)
         : ngx_iothub_eh_read(&el->op, el->after, el->after_len, el->asked))
        != NGX_OK)
    {
        /* Redis is down: try again later */
        ngx_add_timer(&el->timer, NGX_IOTHUB_AMQP_EH_RECHECK);
    }
}


static void
ngx_iothub_amqp_eh_read(ngx_iothub_eh_op_t *op)
{
    ngx_iothub_amqp_eh_link_t *el = op->data;

    ngx_int_t   rc;
    ngx_uint_t  at_end;

    if (op->result != NGX_IOTHUB_EH_OK) {
        ngx_log_error(NGX_LOG_ERR, el->ctx->connection->log, 0,
                      "iothub amqp: Event Hubs receiver: read failed");
        ngx_add_timer(&el->timer, NGX_IOTHUB_AMQP_EH_RECHECK);
        return;
    }

    rc = ngx_iothub_amqp_eh_deliver(el, op);

    if (rc == NGX_ERROR) {
        ngx_iothub_amqp_detach(el->link, "amqp:internal-error",
                               "an event could not be read");
        ngx_iothub_amqp_run(el->ctx);
        return;
    }

    /* the end: the read got fewer entries than asked, all delivered */
    at_end = op->at_end && rc == NGX_DONE;

    el->behind = !at_end;

    if (at_end && el->ranged) {
        /* near the end: read again with eh_read.lua, which can wait */
        ngx_iothub_amqp_eh_pump(el);

    } else if (at_end) {
        /* the end: eh_read.lua put the worker's inbox on the wait list */

        if (pn_link_get_drain(el->link)) {
            (void) pn_link_drained(el->link);
        }

        el->waiter.hub = el->ctx->hub;
        el->waiter.partition = el->partition;
        el->waiter.wake = ngx_iothub_amqp_eh_wake;
        el->waiter.data = el;

        if (ngx_iothub_eh_wait(&el->waiter, op->appended) == NGX_OK) {
            ngx_add_timer(&el->timer, NGX_IOTHUB_AMQP_EH_RECHECK);

        } else {
            /* an entry came meanwhile */
            ngx_iothub_amqp_eh_pump(el);
        }

    } else {
        ngx_iothub_amqp_eh_pump(el);
    }

    ngx_iothub_amqp_run(el->ctx);
}


/*
 * Up to el->asked events of the read, the position moved past each:
 * NGX_DONE when none is left, NGX_OK when some are (the credit ran out),
 * NGX_ERROR for one that could not be read or sent.
 */

static ngx_int_t
ngx_iothub_amqp_eh_deliver(ngx_iothub_amqp_eh_link_t *el,
    ngx_iothub_eh_op_t *op)
{
    ngx_int_t              rc;
    ngx_uint_t             sent;
    ngx_iothub_eh_event_t  ev;

    for (sent = 0; /* void */; sent++) {
        rc = ngx_iothub_eh_next(op, &ev);

        if (rc != NGX_OK || sent == el->asked) {
            return rc;
        }

        if (ngx_iothub_amqp_eh_event(el, &ev) != NGX_OK) {
            return NGX_ERROR;
        }

        el->after_len = ngx_sprintf(el->after, "%L-%L", ev.ms, ev.seq)
                        - el->after;
    }
}


static void
ngx_iothub_amqp_eh_wake(ngx_iothub_eh_waiter_t *w)
{
    ngx_iothub_amqp_eh_link_t *el = w->data;

    if (el->timer.timer_set) {
        ngx_del_timer(&el->timer);
    }

    ngx_iothub_amqp_eh_pump(el);
    ngx_iothub_amqp_run(el->ctx);
}


static void
ngx_iothub_amqp_eh_timer(ngx_event_t *ev)
{
    ngx_iothub_amqp_eh_link_t *el = ev->data;

    ngx_iothub_eh_unwait(&el->waiter);
    ngx_iothub_amqp_eh_pump(el);
    ngx_iothub_amqp_run(el->ctx);
}


/* a partition's event as an AMQP message (amqp.md 10.4) */

static ngx_int_t
ngx_iothub_amqp_eh_event(ngx_iothub_amqp_eh_link_t *el,
    ngx_iothub_eh_event_t *ev)
{
    size_t      n;
    u_char     *p;
    ngx_int_t   rc;

    p = ngx_iothub_amqp_eh_encode(ev, &n);
    if (p == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_iothub_amqp_send_bytes(el->ctx, el->link, p, n,
                                    (u_char *) &el->tag, sizeof(el->tag),
                                    pn_link_snd_settle_mode(el->link)
                                    != PN_SND_UNSETTLED,
                                    NULL);
    el->tag++;

    return rc;
}


void
ngx_iothub_amqp_eh_link_closed(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link)
{
    ngx_iothub_amqp_eh_link_t  *el;

    el = pn_link_get_context(link);

    if (el == NULL) {
        return;
    }

    pn_link_set_context(link, NULL);
    ngx_iothub_amqp_eh_release(el);
}


static void
ngx_iothub_amqp_eh_release(ngx_iothub_amqp_eh_link_t *el)
{
    ngx_iothub_amqp_eh_stop(el);
    ngx_iothub_eh_unclaim(&el->claim);

    ngx_free(el);
}


/* no more reads: the pending one, the wait and the timer go */

static void
ngx_iothub_amqp_eh_stop(ngx_iothub_amqp_eh_link_t *el)
{
    ngx_iothub_eh_cancel(&el->op);

    ngx_iothub_eh_unwait(&el->waiter);

    if (el->timer.timer_set) {
        ngx_del_timer(&el->timer);
    }

    el->positioned = 0;
    el->behind = 0;
}


void
ngx_iothub_amqp_eh_flow(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link)
{
    ngx_iothub_amqp_eh_link_t  *el;

    el = pn_link_get_context(link);

    if (el == NULL || el->management || !pn_link_is_sender(link)) {
        return;
    }

    if (el->waiter.waiting) {
        /* at the end: a drain ends with the credit unused */
        if (pn_link_get_drain(link)) {
            (void) pn_link_drained(link);
        }

        return;
    }

    ngx_iothub_amqp_eh_pump(el);
}


void
ngx_iothub_amqp_eh_delivery(ngx_iothub_amqp_ctx_t *ctx, pn_delivery_t *d)
{
    pn_link_t                  *link;
    const char                 *error;
    pn_message_t               *m;
    ngx_iothub_amqp_eh_link_t  *el;

    link = pn_delivery_link(d);
    el = pn_link_get_context(link);

    if (pn_link_is_sender(link)) {
        /* an event sent unsettled: the client's outcome ends it */
        if (pn_delivery_updated(d) || pn_delivery_settled(d)) {
            pn_delivery_settle(d);
        }

        return;
    }

    if (!ngx_iothub_amqp_transfer_complete(link, d)) {
        return;
    }

    m = ngx_iothub_amqp_recv_message(ctx, link, d, &error);

    pn_delivery_update(d, m ? PN_ACCEPTED : PN_REJECTED);
    pn_delivery_settle(d);
    pn_link_flow(link, 1);

    if (m == NULL) {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub amqp: $management request: %s", error);
        return;
    }

    if (el && el->base.opened) {
        ngx_iothub_amqp_eh_request(ctx, m);
    }

    pn_message_free(m);
}


/* a $management request (amqp.md 10.2) */

static void
ngx_iothub_amqp_eh_request(ngx_iothub_amqp_ctx_t *ctx, pn_message_t *m)
{
    u_char                        path[NGX_IOTHUB_AMQP_EH_PATH_MAX], *p;
    pn_atom_t                     id;
    pn_data_t                    *props, *body;
    pn_bytes_t                    key, value, operation, type, name;
    pn_bytes_t                    partition;
    ngx_int_t                     n;
    ngx_uint_t                    i;
    const char                   *reply_to;
    pn_message_t                 *r;
    ngx_iothub_hub_t             *hub;
    ngx_iothub_amqp_eh_t         *eh;
    ngx_iothub_amqp_eh_request_t *req;

    hub = ctx->hub;
    id = pn_message_get_id(m);
    reply_to = pn_message_get_reply_to(m);

    operation = pn_bytes(0, NULL);
    type = operation;
    name = operation;
    partition = operation;

    props = pn_message_properties(m);
    pn_data_rewind(props);

    if (pn_data_next(props) && pn_data_type(props) == PN_MAP) {
        pn_data_enter(props);

        while (pn_data_next(props)) {
            key = pn_bytes(0, NULL);

            if (pn_data_type(props) == PN_STRING) {
                key = pn_data_get_string(props);

            } else if (pn_data_type(props) == PN_SYMBOL) {
                key = pn_data_get_symbol(props);
            }

            if (!pn_data_next(props)) {
                break;
            }

            if (pn_data_type(props) != PN_STRING) {
                continue;
            }

            value = pn_data_get_string(props);

            if (key.size == 9 && ngx_strncmp(key.start, "operation", 9) == 0)
            {
                operation = value;

            } else if (key.size == 4 && ngx_strncmp(key.start, "type", 4) == 0)
            {
                type = value;

            } else if (key.size == 4 && ngx_strncmp(key.start, "name", 4) == 0)
            {
                name = value;

            } else if (key.size == 9
                       && ngx_strncmp(key.start, "partition", 9) == 0)
            {
                partition = value;
            }
        }
    }

    p = ngx_sprintf(path, "/%V/$management", &hub->name);

    if (!ngx_iothub_amqp_eh_authorized(ctx, path, p - path)) {
        ngx_iothub_amqp_eh_respond(ctx, reply_to, &id, 401,
                                   "no valid token for $management",
                                   "amqp:unauthorized-access", NULL);
        return;
    }

    if (operation.size != 4 || ngx_strncmp(operation.start, "READ", 4) != 0)
    {
        ngx_iothub_amqp_eh_respond(ctx, reply_to, &id, 400,
                                   "only the READ operation is supported",
                                   "com.microsoft:argument-error", NULL);
        return;
    }

    if (name.size != hub->name.len
        || ngx_strncasecmp((u_char *) name.start, hub->name.data,
                           name.size) != 0)
    {
        ngx_iothub_amqp_eh_respond(ctx, reply_to, &id, 404,
                                   "no such entity", "amqp:not-found", NULL);
        return;
    }

    if (type.size == 22
        && ngx_strncmp(type.start, "com.microsoft:eventhub", 22) == 0)
    {
        r = pn_message();
        if (r == NULL) {
            return;
        }

        body = pn_message_body(r);
        pn_data_put_map(body);
        pn_data_enter(body);

        pn_data_put_string(body, pn_bytes(4, "name"));
        pn_data_put_string(body, pn_bytes(hub->name.len,
                                          (char *) hub->name.data));
        ngx_iothub_amqp_eh_put_pair(body, "type", "com.microsoft:eventhub");
        pn_data_put_string(body, pn_bytes(10, "created_at"));
        pn_data_put_timestamp(body, (int64_t) ngx_iothub_amqp_eh_created
                                    * 1000);
        pn_data_put_string(body, pn_bytes(15, "partition_count"));
        pn_data_put_int(body, (int32_t) hub->partitions);
        pn_data_put_string(body, pn_bytes(13, "partition_ids"));
        pn_data_put_array(body, false, PN_STRING);
        pn_data_enter(body);

        for (i = 0; i < hub->partitions; i++) {
            p = ngx_sprintf(path, "%ui", i);
            pn_data_put_string(body, pn_bytes(p - path, (char *) path));
        }

        pn_data_exit(body);
        pn_data_exit(body);

        ngx_iothub_amqp_eh_respond(ctx, reply_to, &id, 200, "OK", NULL, r);
        return;
    }

    if (type.size != 23
        || ngx_strncmp(type.start, "com.microsoft:partition", 23) != 0)
    {
        ngx_iothub_amqp_eh_respond(ctx, reply_to, &id, 400,
                                   "unknown type: com.microsoft:eventhub or "
                                   "com.microsoft:partition is expected",
                                   "com.microsoft:argument-error", NULL);
        return;
    }

    n = partition.size ? ngx_atoi((u_char *) partition.start, partition.size)
                       : NGX_ERROR;

    if (n == NGX_ERROR || (ngx_uint_t) n >= hub->partitions) {
        ngx_iothub_amqp_eh_respond(ctx, reply_to, &id, 400,
                                   "no such partition",
                                   "com.microsoft:argument-out-of-range",
                                   NULL);
        return;
    }

    eh = ngx_iothub_amqp_eh_state(ctx);
    req = ngx_calloc(sizeof(ngx_iothub_amqp_eh_request_t),
                     ctx->connection->log);

    if (eh == NULL || req == NULL) {
        ngx_free(req);
        return;
    }

    /* the answer needs the request's id and reply-to, copied */

    req->ctx = ctx;
    req->partition = n;
    req->id = id;

    if ((id.type == PN_STRING || id.type == PN_BINARY
         || id.type == PN_SYMBOL))
    {
        if (id.u.as_bytes.size > NGX_IOTHUB_AMQP_EH_REPLY_MAX) {
            ngx_free(req);
            ngx_iothub_amqp_eh_respond(ctx, reply_to, &id, 400,
                                       "message-id too long",
                                       "com.microsoft:argument-error", NULL);
            return;
        }

        ngx_memcpy(req->id_bytes, id.u.as_bytes.start, id.u.as_bytes.size);
        req->id.u.as_bytes.start = (char *) req->id_bytes;
    }

    if (reply_to) {
        (void) ngx_cpystrn(req->reply_to, (u_char *) reply_to,
                           NGX_IOTHUB_AMQP_EH_REPLY_MAX);
    }

    req->op.hub = hub;
    req->op.partition = n;
    req->op.handler = ngx_iothub_amqp_eh_partition_read;
    req->op.data = req;

    if (ngx_iothub_eh_partition(&req->op) != NGX_OK) {
        ngx_free(req);
        ngx_iothub_amqp_eh_respond(ctx, reply_to, &id, 503,
                                   "the hub's store is unavailable",
                                   "com.microsoft:server-busy", NULL);
        return;
    }

    ngx_queue_insert_tail(&eh->requests, &req->queue);
}


/* the partition's facts as the answer (amqp.md 10.2) */

static void
ngx_iothub_amqp_eh_partition_read(ngx_iothub_eh_op_t *op)
{
    ngx_iothub_amqp_eh_request_t *req = op->data;

    u_char                 text[NGX_INT64_LEN];
    pn_data_t             *body;
    pn_message_t          *r;
    ngx_iothub_hub_t      *hub;
    ngx_iothub_amqp_ctx_t *ctx;

    ctx = req->ctx;
    hub = ctx->hub;

    ngx_queue_remove(&req->queue);

    if (op->result != NGX_IOTHUB_EH_OK) {
        ngx_iothub_amqp_eh_respond(ctx, (char *) req->reply_to, &req->id,
                                   503, "the hub's store is unavailable",
                                   "com.microsoft:server-busy", NULL);
        goto done;
    }

    r = pn_message();
    if (r == NULL) {
        goto done;
    }

    body = pn_message_body(r);
    pn_data_put_map(body);
    pn_data_enter(body);

    pn_data_put_string(body, pn_bytes(4, "name"));
    pn_data_put_string(body, pn_bytes(hub->name.len, (char *) hub->name.data));
    ngx_iothub_amqp_eh_put_pair(body, "type", "com.microsoft:partition");
    pn_data_put_string(body, pn_bytes(9, "partition"));
    pn_data_put_string(body, pn_bytes(ngx_sprintf(text, "%ui", req->partition)
                                      - text, (char *) text));
    pn_data_put_string(body, pn_bytes(21, "begin_sequence_number"));
    pn_data_put_long(body, op->begin);
    pn_data_put_string(body, pn_bytes(29, "last_enqueued_sequence_number"));
    pn_data_put_long(body, op->last_seq);
    pn_data_put_string(body, pn_bytes(20, "last_enqueued_offset"));
    pn_data_put_string(body, pn_bytes(ngx_sprintf(text, "%L", op->last_seq)
                                      - text, (char *) text));
    pn_data_put_string(body, pn_bytes(22, "last_enqueued_time_utc"));
    pn_data_put_timestamp(body, op->last_ms);
    pn_data_put_string(body, pn_bytes(18, "is_partition_empty"));
    pn_data_put_bool(body, op->empty);

    pn_data_exit(body);

    ngx_iothub_amqp_eh_respond(ctx, (char *) req->reply_to, &req->id, 200,
                               "OK", NULL, r);

done:

    ngx_free(req);
    ngx_iothub_amqp_run(ctx);
}


static void
ngx_iothub_amqp_eh_put_pair(pn_data_t *d, const char *key, const char *value)
{
    pn_data_put_string(d, pn_bytes(ngx_strlen(key), key));
    pn_data_put_string(d, pn_bytes(ngx_strlen(value), value));
}


/*
 * The answer on the $management receiver named by reply-to (or the only
 * one): correlation-id, status-code (int), status-description and, on
 * failure, error-condition.  m (the body) may be NULL; it is freed.
 */

static void
ngx_iothub_amqp_eh_respond(ngx_iothub_amqp_ctx_t *ctx, const char *reply_to,
    pn_atom_t *id, int status, const char *description,
    const char *condition, pn_message_t *m)
{
    pn_link_t                  *link, *any;
    const char                 *target;
    ngx_iothub_amqp_eh_link_t  *el;

    any = NULL;

    for (link = pn_link_head(ctx->driver.connection, PN_LOCAL_ACTIVE);
         link;
         link = pn_link_next(link, PN_LOCAL_ACTIVE))
    {
        el = pn_link_get_context(link);

        if (el == NULL || el->base.kind != NGX_IOTHUB_AMQP_ADDR_EVENTHUB
            || !el->management || !pn_link_is_sender(link))
        {
            continue;
        }

        target = pn_terminus_get_address(pn_link_remote_target(link));

        if (reply_to && reply_to[0] && target
            && ngx_strcmp(reply_to, target) == 0)
        {
            break;
        }

        if (any == NULL) {
            any = link;
        }
    }

    if (link == NULL) {
        link = any;
    }

    if (link == NULL) {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub amqp: no $management receiver for the "
                      "answer %d", status);

        if (m) {
            pn_message_free(m);
        }

        return;
    }

    (void) ngx_iothub_amqp_send_status(ctx, link, m, id, status, description,
                                       condition);
}


/* the connection ends: links and requests let go of Redis and timers */

void
ngx_iothub_amqp_eh_closed(ngx_iothub_amqp_ctx_t *ctx)
{
    pn_link_t                     *link;
    ngx_queue_t                   *q;
    ngx_iothub_amqp_eh_t          *eh;
    ngx_iothub_amqp_eh_link_t     *el;
    ngx_iothub_amqp_eh_request_t  *req;

    eh = ctx->eventhub;

    if (eh) {
        while (!ngx_queue_empty(&eh->requests)) {
            q = ngx_queue_head(&eh->requests);
            ngx_queue_remove(q);
            req = ngx_queue_data(q, ngx_iothub_amqp_eh_request_t, queue);
            ngx_iothub_eh_cancel(&req->op);
            ngx_free(req);
        }
    }

    for (link = pn_link_head(ctx->driver.connection, 0);
         link;
         link = pn_link_next(link, 0))
    {
        el = pn_link_get_context(link);

        if (el && el->base.kind == NGX_IOTHUB_AMQP_ADDR_EVENTHUB) {
            pn_link_set_context(link, NULL);
            ngx_iothub_amqp_eh_release(el);
        }
    }
}
