
/*
 * nginx-iothub: the claims of Event Hubs receivers on their partitions,
 * for epoch (owner level) receivers across workers and nodes; see
 * ngx_iothub_eventhub.h and eh_claim.lua.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_d2c.h"
#include "ngx_iothub_eventhub.h"
#include "ngx_iothub_inbox_codec.h"
#include "ngx_iothub_lua.h"


#define NGX_IOTHUB_EH_CLAIM_LIFETIME  30000     /* ms, in Redis */
#define NGX_IOTHUB_EH_CLAIM_RENEW     10000     /* ms */


static ngx_int_t ngx_iothub_eh_claim_script(ngx_iothub_eh_claim_t *o,
    const char *op, ngx_iothub_redis_handler_pt handler);
static void ngx_iothub_eh_claimed(void *data, redisReply *reply);
static void ngx_iothub_eh_renew(ngx_event_t *ev);
static void ngx_iothub_eh_renewed(void *data, redisReply *reply);
static void ngx_iothub_eh_claim_lost(ngx_iothub_eh_claim_t *o,
    int64_t holder);
static void ngx_iothub_eh_claim_forget(ngx_iothub_eh_claim_t *o);


static ngx_queue_t  ngx_iothub_eh_claims;
static ngx_uint_t   ngx_iothub_eh_claims_init;
static uint64_t     ngx_iothub_eh_claim_numbers;


ngx_int_t
ngx_iothub_eh_claim(ngx_iothub_eh_claim_t *o)
{
    if (!ngx_iothub_eh_claims_init) {
        ngx_queue_init(&ngx_iothub_eh_claims);
        ngx_iothub_eh_claims_init = 1;
    }

    ngx_strlow(o->group, o->group, o->group_len);

    o->number = ++ngx_iothub_eh_claim_numbers;
    o->held = 0;
    o->stolen = 0;
    o->holder = -1;

    o->renew.handler = ngx_iothub_eh_renew;
    o->renew.data = o;
    o->renew.log = ngx_cycle->log;
    o->renew.cancelable = 1;

    if (ngx_iothub_eh_claim_script(o, "claim", ngx_iothub_eh_claimed)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    /* listed from now on: a displacement may come before the answer */
    ngx_queue_insert_tail(&ngx_iothub_eh_claims, &o->queue);

    return NGX_OK;
}


static void
ngx_iothub_eh_claimed(void *data, redisReply *reply)
{
    ngx_iothub_eh_claim_t *o = data;

    long long              held, holder;
    ngx_iothub_reply_rc_e  rc;

    o->call = NULL;

    rc = ngx_iothub_reply_integer_pair(reply, &held, &holder);

    o->holder = (rc == NGX_IOTHUB_REPLY_OK) ? holder : -1;

    if (rc == NGX_IOTHUB_REPLY_OK && held && o->stolen) {
        /* taken by another receiver before this answer came */
        o->result = NGX_IOTHUB_EH_STOLEN;

    } else if (rc == NGX_IOTHUB_REPLY_OK && held) {
        o->result = NGX_IOTHUB_EH_HELD;
        o->held = 1;
        ngx_add_timer(&o->renew, NGX_IOTHUB_EH_CLAIM_RENEW);

    } else if (rc == NGX_IOTHUB_REPLY_OK) {
        o->result = NGX_IOTHUB_EH_REFUSED;

    } else if (rc == NGX_IOTHUB_REPLY_NOT_FOUND) {
        o->result = NGX_IOTHUB_EH_NO_GROUP;

    } else {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "iothub: Event Hubs receiver claim failed (%d)",
                      (int) rc);
        o->result = NGX_IOTHUB_EH_CLAIM_UNAVAILABLE;
    }

    if (!o->held) {
        ngx_iothub_eh_claim_forget(o);
    }

    o->handler(o);
}


static void
ngx_iothub_eh_renew(ngx_event_t *ev)
{
    ngx_iothub_eh_claim_t *o = ev->data;

    if (o->call == NULL
        && ngx_iothub_eh_claim_script(o, "renew", ngx_iothub_eh_renewed)
           != NGX_OK)
    {
        /* Redis is down: the claim lives until its deadline */
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "iothub: Event Hubs receiver claim not renewed");
    }

    ngx_add_timer(&o->renew, NGX_IOTHUB_EH_CLAIM_RENEW);
}


static void
ngx_iothub_eh_renewed(void *data, redisReply *reply)
{
    ngx_iothub_eh_claim_t *o = data;

    long long              held, holder;
    ngx_iothub_reply_rc_e  rc;

    o->call = NULL;

    rc = ngx_iothub_reply_integer_pair(reply, &held, &holder);

    if (rc == NGX_IOTHUB_REPLY_OK && !held) {
        /* displaced and the inbox message lost, or lapsed */
        ngx_iothub_eh_claim_lost(o, holder);
    }
}


void
ngx_iothub_eh_unclaim(ngx_iothub_eh_claim_t *o)
{
    ngx_uint_t  pending;

    if (o->number == 0) {
        return;
    }

    pending = (o->call != NULL);

    if (o->held || pending) {
        /* an answer on its way may have stored it: remove it anyway */
        if (pending) {
            ngx_iothub_redis_cancel(o->call);
            o->call = NULL;
        }

        (void) ngx_iothub_eh_claim_script(o, "release",
                                          ngx_iothub_redis_ignore);
        o->call = NULL;
        o->held = 0;
    }

    ngx_iothub_eh_claim_forget(o);
}


/* "eh-stolen <claim> <epoch>" from eh_claim.lua of another receiver */

void
ngx_iothub_eh_claim_stolen(u_char *payload, size_t len)
{
    ngx_queue_t             *q;
    ngx_iothub_inbox_msg_t   m;
    ngx_iothub_eh_claim_t   *o;

    if (ngx_iothub_inbox_parse_eh_stolen(payload, len, &m) != 0) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "iothub: malformed eh-stolen inbox message");
        return;
    }

    if (!ngx_iothub_eh_claims_init) {
        return;
    }

    for (q = ngx_queue_head(&ngx_iothub_eh_claims);
         q != ngx_queue_sentinel(&ngx_iothub_eh_claims);
         q = ngx_queue_next(q))
    {
        o = ngx_queue_data(q, ngx_iothub_eh_claim_t, queue);

        if (o->number != m.session) {
            continue;
        }

        if (o->call && !o->held) {
            /* the claim's own answer is still to come */
            o->stolen = 1;
            o->holder = (int64_t) m.version;
            return;
        }

        ngx_iothub_eh_claim_lost(o, (int64_t) m.version);
        return;
    }
}


static void
ngx_iothub_eh_claim_lost(ngx_iothub_eh_claim_t *o, int64_t holder)
{
    if (!o->held) {
        return;
    }

    if (o->call) {
        ngx_iothub_redis_cancel(o->call);
        o->call = NULL;
    }

    o->held = 0;
    o->holder = holder;
    o->result = NGX_IOTHUB_EH_STOLEN;

    ngx_iothub_eh_claim_forget(o);

    o->handler(o);
}


static void
ngx_iothub_eh_claim_forget(ngx_iothub_eh_claim_t *o)
{
    if (o->renew.timer_set) {
        ngx_del_timer(&o->renew);
    }

    if (o->number) {
        ngx_queue_remove(&o->queue);
        o->number = 0;
    }
}


/*
 * eh_claim.lua; KEYS "<prefix>eh-owners:<group>:<partition>" and
 * "<prefix>eh-groups", the receiver's field "<inbox> <claim number>"
 */

static ngx_int_t
ngx_iothub_eh_claim_script(ngx_iothub_eh_claim_t *o, const char *op,
    ngx_iothub_redis_handler_pt handler)
{
    u_char             owners[NGX_IOTHUB_D2C_KEY_LEN];
    u_char             groups[NGX_IOTHUB_D2C_KEY_LEN];
    u_char             kind[sizeof("eh-owners:") + NGX_IOTHUB_EH_GROUP_LEN];
    u_char             field[NGX_IOTHUB_D2C_KEY_LEN], epoch[NGX_INT64_LEN];
    u_char             ttl[NGX_INT_T_LEN];
    ngx_str_t         *inbox;
    ngx_iothub_args_t  args;

    inbox = ngx_iothub_inbox();

    *ngx_sprintf(kind, "eh-owners:%*s", o->group_len, o->group) = '\0';

    args.n = 0;
    ngx_iothub_args_add(&args, (char *) owners,
                        ngx_iothub_d2c_key(owners, o->hub, o->partition,
                                           (char *) kind)
                        - owners);
    ngx_iothub_args_add(&args, (char *) groups,
                        ngx_iothub_eh_groups_key(groups, o->hub));
    ngx_iothub_args_add_str(&args, op);
    ngx_iothub_args_add(&args, (char *) field,
                        ngx_snprintf(field, sizeof(field), "%V %uL", inbox,
                                     o->number)
                        - field);
    ngx_iothub_args_add(&args, (char *) epoch,
                        ngx_sprintf(epoch, "%L", o->epoch) - epoch);
    ngx_iothub_args_add(&args, (char *) ttl,
                        ngx_sprintf(ttl, "%ui",
                                    (ngx_uint_t) NGX_IOTHUB_EH_CLAIM_LIFETIME)
                        - ttl);

    /* a configured group needs no look-up */
    if (ngx_iothub_eh_consumer_group_find(o->hub, o->group, o->group_len)
        == NGX_OK)
    {
        ngx_iothub_args_add(&args, "", 0);

    } else {
        ngx_iothub_args_add(&args, (char *) o->group, o->group_len);
    }

    if (!ngx_iothub_args_ok(&args)) {
        return NGX_DECLINED;
    }

    o->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                      NGX_IOTHUB_LUA_EH_CLAIM, handler, o, 2,
                                      args.n, args.argv, args.lens);

    return o->call ? NGX_OK : NGX_DECLINED;
}
