
/*
 * nginx-iothub: a back end's links on the hub (amqp.md 9): the claim a
 * policy token puts for the hub's audience (amqp.md 3, auth.md 3.3, 4),
 * cloud-to-device sends on /messages/devicebound (amqp.md 9.1), and the
 * receivers of the service-bound streams: feedback batches on
 * /messages/serviceBound/feedback (amqp.md 9.2) and file-upload
 * notifications on /messages/serviceBound/filenotifications (amqp.md 9.3).
 * The claim is the connection's one service identity, apart from the
 * device identities it may hold as well.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_amqp.h"
#include "ngx_iothub_c2d.h"
#include "ngx_iothub_sbstream.h"
#include "ngx_iothub_http_c2d_headers.h"
#include "ngx_iothub_log.h"
#include "ngx_iothub_sas.h"


#if (NGX_IOTHUB_C2D_HEADERS_MAX != NGX_IOTHUB_D2C_MAX_PROPERTIES          \
     || NGX_IOTHUB_C2D_HEADERS_BODY_MAX != NGX_IOTHUB_C2D_MAX_SIZE)
#error "ngx_iothub_http_c2d_headers.h's limits differ from the service's"
#endif


/* sends in flight on a /messages/devicebound link: its credit */
#define NGX_IOTHUB_AMQP_SERVICE_CREDIT   16

/* nothing was due: a service-bound stream's link asks again after this, ms */
#define NGX_IOTHUB_AMQP_SBSTREAM_POLL    1000

/* the longest timer, ms: a token's expiry is looked at again then */
#define NGX_IOTHUB_AMQP_EXPIRY_STEP      86400000

#define NGX_IOTHUB_AMQP_SCOPE_MAX        512

/* the service-bound streams, by the index of their receiver */
#define NGX_IOTHUB_AMQP_SBL_FEEDBACK     0
#define NGX_IOTHUB_AMQP_SBL_FILES        1
#define NGX_IOTHUB_AMQP_SBL_N            2


/* a receiver of a service-bound stream: at most one batch out, one op */
typedef struct {
    ngx_iothub_amqp_service_t      *service;
    const ngx_iothub_sbstream_t    *stream;
    pn_link_t                      *link;
    pn_delivery_t                  *delivery;
    uint64_t                        tag;
    ngx_event_t                     poll;
    ngx_pool_t                     *pool;
    ngx_iothub_sbstream_op_t        op;
    u_char                          lock[NGX_IOTHUB_SBSTREAM_LOCK_LEN];
    unsigned                        busy:1;
} ngx_iothub_amqp_sbl_t;


struct ngx_iothub_amqp_service_s {
    ngx_iothub_amqp_ctx_t          *ctx;

    /* the claim: a policy token with ServiceConnect for the audience */
    time_t                          expires;
    ngx_event_t                     expiry;
    char                            scope[NGX_IOTHUB_AMQP_SCOPE_MAX];

    ngx_queue_t                     sends;       /* ngx_iothub_amqp_send_t */

    ngx_iothub_amqp_sbl_t           sbl[NGX_IOTHUB_AMQP_SBL_N];

    unsigned                        authorized:1;
};


/* a cloud-to-device send waiting for Redis */
typedef struct {
    ngx_iothub_c2d_op_t             op;
    ngx_queue_t                     queue;
    ngx_pool_t                     *pool;
    ngx_iothub_amqp_service_t      *service;
    pn_link_t                      *link;
    pn_delivery_t                  *delivery;   /* NULL: the link went */
} ngx_iothub_amqp_send_t;


static ngx_int_t ngx_iothub_amqp_service_verify(ngx_iothub_amqp_ctx_t *ctx,
    pn_bytes_t *token, const char *host, const char *path, time_t *expires,
    const char **why);
static ngx_iothub_amqp_service_t *ngx_iothub_amqp_service_get(
    ngx_iothub_amqp_ctx_t *ctx);
static void ngx_iothub_amqp_service_arm(ngx_iothub_amqp_service_t *svc);
static void ngx_iothub_amqp_service_expired(ngx_event_t *ev);
static void ngx_iothub_amqp_service_gone(ngx_iothub_amqp_service_t *svc,
    pn_link_t *link);
static void ngx_iothub_amqp_c2d_send(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link, pn_delivery_t *d);
static ngx_int_t ngx_iothub_amqp_c2d_fields(ngx_iothub_amqp_send_t *s,
    pn_message_t *m, const char **condition, const char **why);
static ngx_int_t ngx_iothub_amqp_c2d_target(ngx_iothub_amqp_send_t *s,
    pn_message_t *m);
static ngx_int_t ngx_iothub_amqp_c2d_properties(ngx_iothub_amqp_send_t *s,
    pn_message_t *m, ngx_iothub_c2d_headers_t *h);
static ngx_int_t ngx_iothub_amqp_c2d_body(pn_message_t *m, ngx_str_t *body);
static ngx_int_t ngx_iothub_amqp_id_text(ngx_pool_t *pool, pn_atom_t atom,
    ngx_str_t *out);
static ngx_int_t ngx_iothub_amqp_c2d_add(ngx_iothub_amqp_send_t *s,
    const char *name, u_char *value, size_t len);
static void ngx_iothub_amqp_c2d_sent(ngx_iothub_c2d_op_t *op);
static void ngx_iothub_amqp_c2d_done(ngx_iothub_amqp_send_t *s,
    uint64_t outcome, const char *condition, const char *why);
static ngx_iothub_amqp_sbl_t *ngx_iothub_amqp_sbl_of(
    ngx_iothub_amqp_service_t *svc, pn_link_t *link);
static void ngx_iothub_amqp_sbl_gone(ngx_iothub_amqp_sbl_t *sbl);
static void ngx_iothub_amqp_sbl_closed(ngx_iothub_amqp_sbl_t *sbl);
static void ngx_iothub_amqp_sbl_poll(ngx_iothub_amqp_sbl_t *sbl);
static void ngx_iothub_amqp_sbl_timer(ngx_event_t *ev);
static void ngx_iothub_amqp_sbl_later(ngx_iothub_amqp_sbl_t *sbl);
static void ngx_iothub_amqp_sbl_received(ngx_iothub_sbstream_op_t *op);
static ngx_int_t ngx_iothub_amqp_sbl_send(ngx_iothub_amqp_sbl_t *sbl,
    ngx_iothub_sbstream_op_t *op);
static void ngx_iothub_amqp_sbl_settle(ngx_iothub_amqp_sbl_t *sbl,
    ngx_uint_t complete);
static void ngx_iothub_amqp_sbl_settled(ngx_iothub_sbstream_op_t *op);
static void ngx_iothub_amqp_sbl_orphan(ngx_iothub_amqp_sbl_t *sbl);
static void ngx_iothub_amqp_sbl_freed(ngx_iothub_sbstream_op_t *op);


/*
 * A put-token for an audience that names no identity: a back end's
 * policy token for the hub (Node: the audience is the host).  Checked at
 * once, nothing to ask Redis.  Returns the CBS status (amqp.md 3); a
 * refused renewal leaves the claim as it was.
 */

int
ngx_iothub_amqp_service_put_token(ngx_iothub_amqp_ctx_t *ctx,
    pn_bytes_t *audience, pn_bytes_t *token, const char **description)
{
    char                        host[256], path[NGX_IOTHUB_AMQP_SCOPE_MAX];
    time_t                      expires;
    ngx_str_t                  *hostname;
    ngx_iothub_amqp_service_t  *svc;

    if (ngx_iothub_amqp_audience_scope((u_char *) audience->start,
                                       audience->size, host, sizeof(host),
                                       path, sizeof(path))
        != 0)
    {
        *description = "malformed audience";
        return 400;
    }

    hostname = &ctx->hub->hostname;

    if (ngx_strlen(host) != hostname->len
        || ngx_strncasecmp((u_char *) host, hostname->data, hostname->len)
           != 0)
    {
        *description = "the audience names another hub";
        return 404;
    }

    switch (ngx_iothub_amqp_service_verify(ctx, token, host, path, &expires,
                                           description))
    {
    case NGX_OK:
        break;

    case NGX_DECLINED:
        return 401;

    default:
        return 400;
    }

    svc = ngx_iothub_amqp_service_get(ctx);
    if (svc == NULL) {
        *description = "out of memory";
        return 500;
    }

    /* a new claim, or a renewal: the links stay, the expiry moves */

    ngx_memcpy(svc->scope, path, ngx_strlen(path) + 1);
    svc->expires = expires;
    svc->authorized = 1;

    ngx_iothub_amqp_service_arm(svc);

    ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                  "iothub amqp: service claim for \"%s%s\" until %T",
                  host, path, expires);

    *description = "OK";
    return 200;
}


/*
 * The token must be a policy's (skn), signed with one of its keys, in
 * force, cover the audience, and the policy must hold ServiceConnect
 * (auth.md 3.3, 4).  NGX_ERROR: malformed; NGX_DECLINED: not authorized.
 */

static ngx_int_t
ngx_iothub_amqp_service_verify(ngx_iothub_amqp_ctx_t *ctx, pn_bytes_t *token,
    const char *host, const char *path, time_t *expires, const char **why)
{
    ngx_iothub_policy_t     *policy;
    ngx_iothub_log_buf_t     name;
    ngx_iothub_sas_rc_e      rc;
    ngx_iothub_sas_token_t   t;

    if (ngx_iothub_sas_parse(&t, (u_char *) token->start, token->size)
        != NGX_IOTHUB_SAS_OK)
    {
        *why = "malformed SAS token";
        return NGX_ERROR;
    }

    if (t.skn.len == 0) {
        *why = "the hub's audience takes a shared access policy's token";
        return NGX_DECLINED;
    }

    policy = ngx_iothub_find_policy(ctx->hub, (u_char *) t.policy,
                                    ngx_strlen(t.policy));

    rc = NGX_IOTHUB_SAS_BAD_SIGNATURE;

    if (policy != NULL) {
        rc = ngx_iothub_sas_verify(&t, (char *) policy->primary_key.data,
                                   policy->primary_key.len);

        if (rc != NGX_IOTHUB_SAS_OK && policy->secondary_key.len) {
            rc = ngx_iothub_sas_verify(&t,
                                       (char *) policy->secondary_key.data,
                                       policy->secondary_key.len);
        }
    }

    if (rc == NGX_IOTHUB_SAS_OK) {
        rc = ngx_iothub_sas_check_expiry(&t, (long long) ngx_time());
    }

    if (rc == NGX_IOTHUB_SAS_OK) {
        rc = ngx_iothub_sas_covers(&t, host, path);
    }

    if (rc == NGX_IOTHUB_SAS_OK
        && !(policy->rights & NGX_IOTHUB_RIGHT_SERVICE_CONNECT))
    {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub amqp: policy \"%V\" has no service_connect",
                      ngx_iothub_log_str(&name, (u_char *) t.policy,
                                         ngx_strlen(t.policy)));
        *why = "the policy lacks ServiceConnect";
        return NGX_DECLINED;
    }

    if (rc != NGX_IOTHUB_SAS_OK) {
        ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                      "iothub amqp: service token refused, %s, policy "
                      "\"%V\"", ngx_iothub_sas_strerror(rc),
                      ngx_iothub_log_str(&name, (u_char *) t.policy,
                                         ngx_strlen(t.policy)));

        /* an unknown policy reads as a bad signature: nothing is learnt */
        *why = (rc == NGX_IOTHUB_SAS_EXPIRED) ? "SAS token expired"
               : (rc == NGX_IOTHUB_SAS_NOT_COVERED)
                 ? "the token does not cover the audience"
                 : "unknown policy or bad signature";
        return NGX_DECLINED;
    }

    *expires = (time_t) t.expiry;

    return NGX_OK;
}


static ngx_iothub_amqp_service_t *
ngx_iothub_amqp_service_get(ngx_iothub_amqp_ctx_t *ctx)
{
    ngx_uint_t                  i;
    ngx_iothub_amqp_service_t  *svc;

    if (ctx->service) {
        return ctx->service;
    }

    svc = ngx_pcalloc(ctx->connection->pool,
                      sizeof(ngx_iothub_amqp_service_t));
    if (svc == NULL) {
        return NULL;
    }

    svc->ctx = ctx;
    ngx_queue_init(&svc->sends);

    svc->expiry.handler = ngx_iothub_amqp_service_expired;
    svc->expiry.data = svc;
    svc->expiry.log = ctx->connection->log;
    svc->expiry.cancelable = 1;

    svc->sbl[NGX_IOTHUB_AMQP_SBL_FEEDBACK].stream =
                                                &ngx_iothub_sbstream_feedback;
    svc->sbl[NGX_IOTHUB_AMQP_SBL_FILES].stream =
                                       &ngx_iothub_sbstream_filenotifications;

    for (i = 0; i < NGX_IOTHUB_AMQP_SBL_N; i++) {
        svc->sbl[i].service = svc;
        svc->sbl[i].poll.handler = ngx_iothub_amqp_sbl_timer;
        svc->sbl[i].poll.data = &svc->sbl[i];
        svc->sbl[i].poll.log = ctx->connection->log;
        svc->sbl[i].poll.cancelable = 1;
    }

    ctx->service = svc;

    return svc;
}


static void
ngx_iothub_amqp_service_arm(ngx_iothub_amqp_service_t *svc)
{
    time_t  left;

    left = svc->expires - ngx_time();

    ngx_add_timer(&svc->expiry,
                  left * 1000 > NGX_IOTHUB_AMQP_EXPIRY_STEP
                  ? NGX_IOTHUB_AMQP_EXPIRY_STEP
                  : (ngx_msec_t) ngx_max(left * 1000, 1));
}


/* the token was not renewed: the service links go (amqp.md 3) */

static void
ngx_iothub_amqp_service_expired(ngx_event_t *ev)
{
    ngx_iothub_amqp_service_t *svc = ev->data;

    pn_link_t               *link;
    ngx_iothub_amqp_ctx_t   *ctx;
    ngx_iothub_amqp_link_t  *lc;

    ctx = svc->ctx;

    if (ngx_time() < svc->expires) {
        ngx_iothub_amqp_service_arm(svc);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                  "iothub amqp: service claim expired");

    svc->authorized = 0;

    for (link = pn_link_head(ctx->driver.connection, 0);
         link;
         link = pn_link_next(link, 0))
    {
        lc = pn_link_get_context(link);

        /* service links are accepted or refused when attached */

        if (lc == NULL || !ngx_iothub_amqp_service_kind(lc->kind)
            || !lc->opened || (pn_link_state(link) & PN_LOCAL_CLOSED))
        {
            continue;
        }

        ngx_iothub_amqp_service_gone(svc, link);
        ngx_iothub_amqp_detach(link, "amqp:unauthorized-access",
                               "SAS token expired");
    }

    ngx_iothub_amqp_run(ctx);
}


/* a link to a service node: the claim must cover it */

void
ngx_iothub_amqp_service_link(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link,
    ngx_iothub_amqp_link_t *lc)
{
    ngx_uint_t                  c2d;
    const char                 *path;
    ngx_iothub_amqp_sbl_t      *sbl;
    ngx_iothub_amqp_service_t  *svc;

    svc = ctx->service;
    c2d = (lc->kind == NGX_IOTHUB_AMQP_ADDR_SERVICE_C2D);

    path = c2d ? NGX_IOTHUB_AMQP_SERVICE_C2D_PATH
           : (lc->kind == NGX_IOTHUB_AMQP_ADDR_FEEDBACK)
             ? NGX_IOTHUB_AMQP_FEEDBACK_PATH
             : NGX_IOTHUB_AMQP_FILE_NOTIFICATIONS_PATH;

    if (c2d != (pn_link_is_receiver(link) != 0)) {
        ngx_iothub_amqp_refuse_link(link, "amqp:not-allowed",
                                    c2d ? "cloud-to-device messages are "
                                          "sent to the hub"
                                        : "the hub's queues are received");
        return;
    }

    if (svc == NULL || !svc->authorized
        || !ngx_iothub_amqp_scope_covers(svc->scope, path))
    {
        ngx_iothub_amqp_refuse_link(link, "amqp:unauthorized-access",
                                    "no valid policy token with "
                                    "ServiceConnect was put for the hub");
        return;
    }

    sbl = c2d ? NULL
              : &svc->sbl[(lc->kind == NGX_IOTHUB_AMQP_ADDR_FEEDBACK)
                          ? NGX_IOTHUB_AMQP_SBL_FEEDBACK
                          : NGX_IOTHUB_AMQP_SBL_FILES];

    if (sbl && sbl->link != NULL) {
        ngx_iothub_amqp_refuse_link(link, "amqp:resource-limit-exceeded",
                                    "one receiver of a queue per connection");
        return;
    }

    ngx_iothub_amqp_open_link(link);
    lc->opened = 1;

    if (c2d) {
        pn_link_flow(link, NGX_IOTHUB_AMQP_SERVICE_CREDIT);
        return;
    }

    sbl->link = link;
    ngx_iothub_amqp_sbl_poll(sbl);
}


void
ngx_iothub_amqp_service_link_closed(ngx_iothub_amqp_ctx_t *ctx,
    pn_link_t *link)
{
    if (ctx->service) {
        ngx_iothub_amqp_service_gone(ctx->service, link);
    }
}


/*
 * A service link goes: its sends in flight are settled with nobody (the
 * messages stay queued), a stream's batch out is abandoned, due again.
 */

static void
ngx_iothub_amqp_service_gone(ngx_iothub_amqp_service_t *svc, pn_link_t *link)
{
    ngx_queue_t             *q;
    ngx_iothub_amqp_sbl_t   *sbl;
    ngx_iothub_amqp_send_t  *s;

    for (q = ngx_queue_head(&svc->sends);
         q != ngx_queue_sentinel(&svc->sends);
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_iothub_amqp_send_t, queue);

        if (s->link == link) {
            s->link = NULL;
            s->delivery = NULL;
        }
    }

    sbl = ngx_iothub_amqp_sbl_of(svc, link);

    if (sbl) {
        ngx_iothub_amqp_sbl_gone(sbl);
    }
}


static ngx_iothub_amqp_sbl_t *
ngx_iothub_amqp_sbl_of(ngx_iothub_amqp_service_t *svc, pn_link_t *link)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_IOTHUB_AMQP_SBL_N; i++) {
        if (svc->sbl[i].link == link) {
            return &svc->sbl[i];
        }
    }

    return NULL;
}


static void
ngx_iothub_amqp_sbl_gone(ngx_iothub_amqp_sbl_t *sbl)
{
    sbl->link = NULL;

    if (sbl->poll.timer_set) {
        ngx_del_timer(&sbl->poll);
    }

    if (sbl->delivery) {
        sbl->delivery = NULL;
        ngx_iothub_amqp_sbl_settle(sbl, 0);
    }
}


/* credit on a stream's link: a batch may go */

void
ngx_iothub_amqp_service_flow(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link)
{
    ngx_iothub_amqp_sbl_t  *sbl;

    sbl = ctx->service ? ngx_iothub_amqp_sbl_of(ctx->service, link) : NULL;

    if (sbl && !sbl->poll.timer_set) {
        ngx_iothub_amqp_sbl_poll(sbl);
    }
}


void
ngx_iothub_amqp_service_delivery(ngx_iothub_amqp_ctx_t *ctx,
    pn_delivery_t *d)
{
    uint64_t                    state;
    pn_link_t                  *link;
    ngx_uint_t                  complete;
    ngx_iothub_amqp_sbl_t      *sbl;

    link = pn_delivery_link(d);

    if (pn_link_is_receiver(link)) {
        ngx_iothub_amqp_c2d_send(ctx, link, d);
        return;
    }

    sbl = ctx->service ? ngx_iothub_amqp_sbl_of(ctx->service, link) : NULL;

    if (sbl == NULL || d != sbl->delivery || !pn_delivery_updated(d)) {
        return;
    }

    /* the back end's outcome of a batch (amqp.md 9.2, 9.3) */

    state = pn_delivery_remote_state(d);

    switch (state) {

    case PN_ACCEPTED:
    case PN_REJECTED:
        /* rejected: dead-lettered, which for these queues is removed */
        complete = 1;
        break;

    case PN_RELEASED:
    case PN_MODIFIED:
        complete = 0;
        break;

    default:
        if (!pn_delivery_settled(d)) {
            return;
        }

        complete = 0;
    }

    sbl->delivery = NULL;
    pn_delivery_settle(d);

    ngx_iothub_amqp_sbl_settle(sbl, complete);
}


void
ngx_iothub_amqp_service_closed(ngx_iothub_amqp_ctx_t *ctx)
{
    ngx_uint_t                  i;
    ngx_queue_t                *q;
    ngx_iothub_amqp_send_t     *s;
    ngx_iothub_amqp_service_t  *svc;

    svc = ctx->service;
    if (svc == NULL) {
        return;
    }

    while (!ngx_queue_empty(&svc->sends)) {
        q = ngx_queue_head(&svc->sends);
        s = ngx_queue_data(q, ngx_iothub_amqp_send_t, queue);

        ngx_queue_remove(q);
        ngx_iothub_c2d_cancel(&s->op);
        ngx_destroy_pool(s->pool);
    }

    for (i = 0; i < NGX_IOTHUB_AMQP_SBL_N; i++) {
        ngx_iothub_amqp_sbl_closed(&svc->sbl[i]);
    }

    if (svc->expiry.timer_set) {
        ngx_del_timer(&svc->expiry);
    }

    ctx->service = NULL;
}


/*
 * A message for a device (amqp.md 9.1): queued with the properties the
 * REST send takes, settled once Redis answered; the link's credit comes
 * back as sends end.
 */

static void
ngx_iothub_amqp_c2d_send(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link,
    pn_delivery_t *d)
{
    ngx_int_t                rc;
    ngx_pool_t              *pool;
    const char              *error, *condition;
    pn_message_t            *m;
    ngx_iothub_amqp_send_t  *s;

    pool = ngx_create_pool(4096, ctx->connection->log);
    s = pool ? ngx_pcalloc(pool, sizeof(ngx_iothub_amqp_send_t)) : NULL;

    if (s == NULL) {
        if (pool) {
            ngx_destroy_pool(pool);
        }

        (void) pn_link_advance(link);
        ngx_iothub_amqp_settle(d, PN_REJECTED, "amqp:internal-error",
                               "out of memory");
        pn_link_flow(link, 1);
        return;
    }

    s->pool = pool;
    s->service = ctx->service;
    s->link = link;
    s->delivery = d;

    if (pn_delivery_pending(d) > NGX_IOTHUB_AMQP_MAX_MESSAGE) {
        (void) pn_link_advance(link);
        ngx_iothub_amqp_c2d_done(s, PN_REJECTED,
                                 "amqp:link:message-size-exceeded",
                                 "a cloud-to-device message holds at most "
                                 "64 KB");
        return;
    }

    if (s->service == NULL || !s->service->authorized) {
        (void) pn_link_advance(link);
        ngx_iothub_amqp_c2d_done(s, PN_REJECTED, "amqp:unauthorized-access",
                                 "no valid service token");
        return;
    }

    m = ngx_iothub_amqp_recv_message(ctx, link, d, &error);
    if (m == NULL) {
        ngx_iothub_amqp_c2d_done(s, PN_REJECTED, "amqp:decode-error", error);
        return;
    }

    rc = ngx_iothub_amqp_c2d_fields(s, m, &condition, &error);

    if (rc != NGX_OK) {
        pn_message_free(m);
        ngx_iothub_amqp_c2d_done(s, PN_REJECTED, condition, error);
        return;
    }

    s->op.hub = ctx->hub;
    s->op.log = ctx->connection->log;
    s->op.handler = ngx_iothub_amqp_c2d_sent;
    s->op.data = s;

    /* the command is formatted at once: the message may go */
    rc = ngx_iothub_c2d_send(&s->op);

    pn_message_free(m);

    if (rc != NGX_OK) {
        ngx_iothub_amqp_c2d_done(s, PN_REJECTED, "amqp:internal-error",
                                 rc == NGX_DECLINED
                                 ? "the hub's store is unavailable"
                                 : "the message does not fit a command");
        return;
    }

    ngx_queue_insert_tail(&s->service->sends, &s->queue);
}


/* NGX_OK, or the rejection's condition and description */

static ngx_int_t
ngx_iothub_amqp_c2d_fields(ngx_iothub_amqp_send_t *s, pn_message_t *m,
    const char **condition, const char **why)
{
    ngx_iothub_c2d_headers_t  *h;

    *condition = "amqp:internal-error";
    *why = "out of memory";

    s->op.msg = ngx_pcalloc(s->pool, sizeof(ngx_iothub_message_t));
    h = ngx_palloc(s->pool, sizeof(ngx_iothub_c2d_headers_t));

    if (s->op.msg == NULL || h == NULL) {
        return NGX_ERROR;
    }

    if (ngx_iothub_amqp_c2d_target(s, m) != NGX_OK) {
        *condition = "amqp:not-allowed";
        *why = "properties.to must be /devices/{id}/messages/devicebound";
        return NGX_ERROR;
    }

    ngx_iothub_c2d_headers_init(h);

    if (ngx_iothub_amqp_c2d_properties(s, m, h) != NGX_OK) {
        *condition = "com.microsoft:argument-error";
        *why = "too many or invalid properties";
        return NGX_ERROR;
    }

    if (ngx_iothub_amqp_c2d_body(m, &s->op.msg->body) != NGX_OK) {
        *condition = "amqp:decode-error";
        *why = "the body is not a data section";
        return NGX_ERROR;
    }

    /* the checks of the REST send: the feedback mode, the size */

    switch (ngx_iothub_c2d_headers_check(h, s->op.msg->body.len)) {

    case NGX_IOTHUB_C2D_HEADERS_OK:
        break;

    case NGX_IOTHUB_C2D_HEADERS_TOO_LARGE:
        *condition = "amqp:link:message-size-exceeded";
        *why = "a cloud-to-device message holds at most 64 KB";
        return NGX_ERROR;

    default:
        *condition = "com.microsoft:argument-error";
        *why = "iothub-ack must be none, positive, negative or full";
        return NGX_ERROR;
    }

    s->op.ack.data = (u_char *) h->ack;
    s->op.ack.len = ngx_strlen(h->ack);
    s->op.expiry = (uint64_t) pn_message_get_expiry_time(m);

    return NGX_OK;
}


/* properties.to: /devices/{url-encoded id}/messages/devicebound */

static ngx_int_t
ngx_iothub_amqp_c2d_target(ngx_iothub_amqp_send_t *s, pn_message_t *m)
{
    const char              *to;
    ngx_iothub_amqp_addr_t   a;

    to = pn_message_get_address(m);

    if (to == NULL
        || ngx_iothub_amqp_addr_parse((u_char *) to, ngx_strlen(to), &a) != 0
        || a.kind != NGX_IOTHUB_AMQP_ADDR_C2D
        || a.module_len != 0
        || !ngx_iothub_id_valid((u_char *) a.device, a.device_len))
    {
        return NGX_ERROR;
    }

    s->op.device_id.data = ngx_pnalloc(s->pool, a.device_len);
    if (s->op.device_id.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(s->op.device_id.data, a.device, a.device_len);
    s->op.device_id.len = a.device_len;

    return NGX_OK;
}


/*
 * The message's fields as the REST send names them ("p:...", "u:...");
 * iothub-ack goes to the headers reader, which checks it.
 */

static ngx_int_t
ngx_iothub_amqp_c2d_properties(ngx_iothub_amqp_send_t *s, pn_message_t *m,
    ngx_iothub_c2d_headers_t *h)
{
    u_char      *name;
    ngx_str_t    text;
    pn_data_t   *props;
    pn_bytes_t   key, b;
    const char  *p;

    if ((ngx_iothub_amqp_id_text(s->pool, pn_message_get_id(m), &text)
         == NGX_OK
         && ngx_iothub_amqp_c2d_add(s, "p:message-id", text.data, text.len)
            != NGX_OK)
        || (ngx_iothub_amqp_id_text(s->pool,
                                    pn_message_get_correlation_id(m), &text)
            == NGX_OK
            && ngx_iothub_amqp_c2d_add(s, "p:correlation-id", text.data,
                                       text.len) != NGX_OK))
    {
        return NGX_ERROR;
    }

    b = pn_message_get_user_id(m);

    if (b.size
        && ngx_iothub_amqp_c2d_add(s, "p:user-id", (u_char *) b.start, b.size)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = pn_message_get_content_type(m);

    if (p && ngx_iothub_amqp_c2d_add(s, "p:content-type", (u_char *) p,
                                     ngx_strlen(p)) != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = pn_message_get_content_encoding(m);

    if (p && ngx_iothub_amqp_c2d_add(s, "p:content-encoding", (u_char *) p,
                                     ngx_strlen(p)) != NGX_OK)
    {
        return NGX_ERROR;
    }

    props = pn_message_properties(m);
    pn_data_rewind(props);

    if (!pn_data_next(props) || pn_data_type(props) != PN_MAP) {
        return NGX_OK;
    }

    pn_data_enter(props);

    while (pn_data_next(props)) {
        if (pn_data_type(props) == PN_STRING) {
            key = pn_data_get_string(props);

        } else if (pn_data_type(props) == PN_SYMBOL) {
            key = pn_data_get_symbol(props);

        } else {
            return NGX_ERROR;
        }

        if (!pn_data_next(props)
            || ngx_iothub_amqp_atom_text(s->pool, pn_data_get_atom(props),
                                         &text)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (key.size == 10 && ngx_strncmp(key.start, "iothub-ack", 10) == 0) {
            (void) ngx_iothub_c2d_headers_add(h, (u_char *) key.start,
                                              key.size, text.data, text.len);
            continue;
        }

        name = ngx_pnalloc(s->pool, key.size + 3);
        if (name == NULL || key.size == 0) {
            return NGX_ERROR;
        }

        ngx_memcpy(name, "u:", 2);
        ngx_memcpy(name + 2, key.start, key.size);
        name[key.size + 2] = '\0';

        if (ngx_iothub_amqp_c2d_add(s, (char *) name, text.data, text.len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    pn_data_exit(props);

    return NGX_OK;
}


/* a data section; an amqp-value string or binary is taken as well */

static ngx_int_t
ngx_iothub_amqp_c2d_body(pn_message_t *m, ngx_str_t *body)
{
    pn_data_t   *data;
    pn_bytes_t   b;

    data = pn_message_body(m);
    pn_data_rewind(data);

    ngx_str_null(body);

    if (!pn_data_next(data) || pn_data_type(data) == PN_NULL) {
        return NGX_OK;
    }

    switch (pn_data_type(data)) {

    case PN_BINARY:
        b = pn_data_get_binary(data);
        break;

    case PN_STRING:
        b = pn_data_get_string(data);
        break;

    default:
        return NGX_ERROR;
    }

    body->data = (u_char *) b.start;
    body->len = b.size;

    return NGX_OK;
}


/*
 * A message or correlation id as the text the queue keeps and feedback
 * records name: a uuid in its canonical form (the Node SDK sends ids that
 * look like one as uuids), numbers in decimal, a 16-byte binary as a uuid
 * (as the Node SDK reads it back), another binary in lower-case hex.
 */

static ngx_int_t
ngx_iothub_amqp_id_text(ngx_pool_t *pool, pn_atom_t atom, ngx_str_t *out)
{
    u_char     *p;
    pn_atom_t   uuid;

    if (atom.type == PN_BINARY && atom.u.as_bytes.size == 16) {
        uuid.type = PN_UUID;
        ngx_memcpy(uuid.u.as_uuid.bytes, atom.u.as_bytes.start, 16);

        return ngx_iothub_amqp_atom_text(pool, uuid, out);
    }

    if (atom.type != PN_BINARY) {
        if (atom.type == PN_NULL) {
            return NGX_DECLINED;
        }

        return ngx_iothub_amqp_atom_text(pool, atom, out);
    }

    if (atom.u.as_bytes.size == 0) {
        return NGX_DECLINED;
    }

    p = ngx_pnalloc(pool, 2 * atom.u.as_bytes.size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;
    out->len = ngx_hex_dump(p, (u_char *) atom.u.as_bytes.start,
                            atom.u.as_bytes.size) - p;

    return NGX_OK;
}


static ngx_int_t
ngx_iothub_amqp_c2d_add(ngx_iothub_amqp_send_t *s, const char *name,
    u_char *value, size_t len)
{
    return ngx_iothub_message_add(s->op.msg, name, ngx_strlen(name), value,
                                  len);
}


/* Redis answered: the outcome (amqp.md 9.1), and the credit back */

static void
ngx_iothub_amqp_c2d_sent(ngx_iothub_c2d_op_t *op)
{
    ngx_iothub_amqp_send_t *s = op->data;

    ngx_queue_remove(&s->queue);

    switch (op->result) {

    case NGX_IOTHUB_C2D_DONE:
        ngx_iothub_amqp_c2d_done(s, PN_ACCEPTED, NULL, NULL);
        break;

    case NGX_IOTHUB_C2D_NOT_FOUND:
        ngx_iothub_amqp_c2d_done(s, PN_REJECTED, "amqp:not-found",
                                 "device not registered (404001)");
        break;

    case NGX_IOTHUB_C2D_FULL:
        ngx_iothub_amqp_c2d_done(s, PN_REJECTED,
                                 "amqp:resource-limit-exceeded",
                                 "the device's queue is full (403004)");
        break;

    case NGX_IOTHUB_C2D_UNAVAILABLE:
        ngx_iothub_amqp_c2d_done(s, PN_REJECTED, "amqp:internal-error",
                                 "the hub's store is unavailable");
        break;

    default:
        ngx_iothub_amqp_c2d_done(s, PN_REJECTED, "amqp:internal-error",
                                 "the hub's store failed");
    }
}


/* settles the send (unless its link went), one credit back, frees it */

static void
ngx_iothub_amqp_c2d_done(ngx_iothub_amqp_send_t *s, uint64_t outcome,
    const char *condition, const char *why)
{
    pn_link_t              *link;
    ngx_iothub_amqp_ctx_t  *ctx;

    link = s->link;
    ctx = s->service ? s->service->ctx : NULL;

    if (s->delivery) {
        if (condition) {
            ngx_log_error(NGX_LOG_INFO, s->pool->log, 0,
                          "iothub amqp: cloud-to-device send rejected: "
                          "%s %s", condition, why);
        }

        ngx_iothub_amqp_settle(s->delivery, outcome, condition, why);
    }

    if (link
        && pn_link_state(link) == (PN_LOCAL_ACTIVE | PN_REMOTE_ACTIVE))
    {
        pn_link_flow(link, 1);
    }

    ngx_destroy_pool(s->pool);

    if (ctx) {
        ngx_iothub_amqp_run(ctx);
    }
}


/* the connection ends: a batch out is abandoned, an operation cancelled */

static void
ngx_iothub_amqp_sbl_closed(ngx_iothub_amqp_sbl_t *sbl)
{
    if (sbl->delivery && !sbl->busy) {
        ngx_iothub_amqp_sbl_orphan(sbl);
    }

    if (sbl->busy) {
        ngx_iothub_sbstream_cancel(&sbl->op);
        sbl->busy = 0;
    }

    if (sbl->pool) {
        ngx_destroy_pool(sbl->pool);
        sbl->pool = NULL;
    }

    if (sbl->poll.timer_set) {
        ngx_del_timer(&sbl->poll);
    }
}


/*
 * A stream's link asks for a batch when it has credit, nothing is out
 * and nothing is asked; a batch out waits for the back end's outcome.
 */

static void
ngx_iothub_amqp_sbl_poll(ngx_iothub_amqp_sbl_t *sbl)
{
    ngx_int_t                  rc;
    ngx_iothub_amqp_ctx_t     *ctx;
    ngx_iothub_sbstream_op_t  *op;

    ctx = sbl->service->ctx;

    if (sbl->link == NULL || sbl->busy || sbl->delivery
        || !sbl->service->authorized || pn_link_credit(sbl->link) <= 0)
    {
        return;
    }

    if (sbl->poll.timer_set) {
        ngx_del_timer(&sbl->poll);
    }

    sbl->pool = ngx_create_pool(4096, ctx->connection->log);
    if (sbl->pool == NULL) {
        ngx_iothub_amqp_sbl_later(sbl);
        return;
    }

    op = &sbl->op;
    ngx_memzero(op, sizeof(ngx_iothub_sbstream_op_t));

    op->stream = sbl->stream;
    op->hub = ctx->hub;
    op->log = ctx->connection->log;
    op->pool = sbl->pool;
    op->handler = ngx_iothub_amqp_sbl_received;
    op->data = sbl;

    rc = ngx_iothub_sbstream_receive(op);

    if (rc != NGX_OK) {
        ngx_destroy_pool(sbl->pool);
        sbl->pool = NULL;
        ngx_iothub_amqp_sbl_later(sbl);
        return;
    }

    sbl->busy = 1;
}


static void
ngx_iothub_amqp_sbl_timer(ngx_event_t *ev)
{
    ngx_iothub_amqp_sbl_t *sbl = ev->data;

    ngx_iothub_amqp_sbl_poll(sbl);
    ngx_iothub_amqp_run(sbl->service->ctx);
}


static void
ngx_iothub_amqp_sbl_later(ngx_iothub_amqp_sbl_t *sbl)
{
    if (sbl->link != NULL) {
        ngx_add_timer(&sbl->poll, NGX_IOTHUB_AMQP_SBSTREAM_POLL);
    }
}


static void
ngx_iothub_amqp_sbl_received(ngx_iothub_sbstream_op_t *op)
{
    ngx_iothub_amqp_sbl_t *sbl = op->data;

    sbl->busy = 0;

    switch (op->result) {

    case NGX_IOTHUB_SBSTREAM_OK:
        ngx_memcpy(sbl->lock, op->lock.data,
                   ngx_min(op->lock.len, NGX_IOTHUB_SBSTREAM_LOCK_LEN));

        if (sbl->link == NULL
            || ngx_iothub_amqp_sbl_send(sbl, op) != NGX_OK)
        {
            /* nobody to take it: due again at once */
            ngx_iothub_amqp_sbl_settle(sbl, 0);
            break;
        }

        break;

    case NGX_IOTHUB_SBSTREAM_EMPTY:
        ngx_iothub_amqp_sbl_later(sbl);
        break;

    default:
        ngx_log_error(NGX_LOG_INFO, op->log, 0,
                      "iothub amqp: %s queue not read, asking again later",
                      sbl->stream->name);
        ngx_iothub_amqp_sbl_later(sbl);
    }

    if (sbl->pool) {
        ngx_destroy_pool(sbl->pool);
        sbl->pool = NULL;
    }

    ngx_iothub_amqp_run(sbl->service->ctx);
}


/* the batch as one message (amqp.md 9.2, 9.3), sent unsettled */

static ngx_int_t
ngx_iothub_amqp_sbl_send(ngx_iothub_amqp_sbl_t *sbl,
    ngx_iothub_sbstream_op_t *op)
{
    ngx_int_t          rc;
    pn_atom_t          id;
    pn_data_t         *data;
    ngx_time_t        *tp;
    pn_message_t      *m;
    ngx_iothub_hub_t  *hub;

    hub = sbl->service->ctx->hub;

    m = pn_message();
    if (m == NULL) {
        return NGX_ERROR;
    }

    id.type = PN_STRING;
    id.u.as_bytes = pn_bytes(NGX_IOTHUB_SBSTREAM_LOCK_LEN, (char *) sbl->lock);

    (void) pn_message_set_id(m, id);
    (void) pn_message_set_user_id(m, pn_bytes(hub->name.len,
                                              (char *) hub->name.data));
    (void) pn_message_set_content_type(m, sbl->stream->content_type);

    tp = ngx_timeofday();

    data = pn_message_annotations(m);
    pn_data_put_map(data);
    pn_data_enter(data);
    pn_data_put_symbol(data, pn_bytes(19, "iothub-enqueuedtime"));
    pn_data_put_timestamp(data, (pn_timestamp_t) tp->sec * 1000 + tp->msec);
    pn_data_exit(data);

    (void) pn_message_set_inferred(m, true);

    data = pn_message_body(m);
    pn_data_put_binary(data, pn_bytes(op->body.len, (char *) op->body.data));

    sbl->tag++;

    rc = ngx_iothub_amqp_send_message(sbl->service->ctx, sbl->link, m,
                                      (u_char *) &sbl->tag, sizeof(sbl->tag),
                                      0, &sbl->delivery);
    pn_message_free(m);

    if (rc != NGX_OK) {
        sbl->delivery = NULL;
    }

    return rc;
}


/* complete (accepted, rejected) or abandon (released) the batch out */

static void
ngx_iothub_amqp_sbl_settle(ngx_iothub_amqp_sbl_t *sbl, ngx_uint_t complete)
{
    ngx_iothub_sbstream_op_t  *op;

    op = &sbl->op;
    ngx_memzero(op, sizeof(ngx_iothub_sbstream_op_t));

    op->stream = sbl->stream;
    op->hub = sbl->service->ctx->hub;
    op->log = sbl->service->ctx->connection->log;
    op->handler = ngx_iothub_amqp_sbl_settled;
    op->data = sbl;
    op->lock.data = sbl->lock;
    op->lock.len = NGX_IOTHUB_SBSTREAM_LOCK_LEN;

    if (ngx_iothub_sbstream_settle(op, complete) != NGX_OK) {
        /* the lock ends by itself: the batch is due again then */
        ngx_log_error(NGX_LOG_INFO, op->log, 0,
                      "iothub amqp: %s batch not settled", sbl->stream->name);
        ngx_iothub_amqp_sbl_later(sbl);
        return;
    }

    sbl->busy = 1;
}


static void
ngx_iothub_amqp_sbl_settled(ngx_iothub_sbstream_op_t *op)
{
    ngx_iothub_amqp_sbl_t *sbl = op->data;

    sbl->busy = 0;

    if (op->result != NGX_IOTHUB_SBSTREAM_OK) {
        ngx_log_error(NGX_LOG_INFO, op->log, 0,
                      "iothub amqp: %s batch not settled: %s",
                      sbl->stream->name,
                      op->result == NGX_IOTHUB_SBSTREAM_LOCK_LOST
                      ? "its lock expired" : "the hub's store failed");
    }

    ngx_iothub_amqp_sbl_poll(sbl);
    ngx_iothub_amqp_run(sbl->service->ctx);
}


/*
 * The connection ends with a batch out: an operation of its own, which
 * outlives the connection, abandons it (due again at once).  Failing
 * that, the batch is due again when its lock ends.
 */

static void
ngx_iothub_amqp_sbl_orphan(ngx_iothub_amqp_sbl_t *sbl)
{
    ngx_iothub_sbstream_op_t  *op;

    op = ngx_alloc(sizeof(ngx_iothub_sbstream_op_t), ngx_cycle->log);
    if (op == NULL) {
        return;
    }

    ngx_memzero(op, sizeof(ngx_iothub_sbstream_op_t));

    op->stream = sbl->stream;
    op->hub = sbl->service->ctx->hub;
    op->log = ngx_cycle->log;
    op->handler = ngx_iothub_amqp_sbl_freed;

    ngx_memcpy(op->lock_text, sbl->lock, NGX_IOTHUB_SBSTREAM_LOCK_LEN);
    op->lock.data = op->lock_text;
    op->lock.len = NGX_IOTHUB_SBSTREAM_LOCK_LEN;

    if (ngx_iothub_sbstream_settle(op, 0) != NGX_OK) {
        ngx_free(op);
    }
}


static void
ngx_iothub_amqp_sbl_freed(ngx_iothub_sbstream_op_t *op)
{
    ngx_free(op);
}
