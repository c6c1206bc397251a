
/*
 * nginx-iothub: consumer groups created at run time, kept in Redis in
 * "<prefix>eh-groups" beside the configured ones; see
 * ngx_iothub_eventhub.h and eh_group.lua.  A receiver's claim
 * (eh_claim.lua) looks a group up there when it is not configured.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_d2c.h"
#include "ngx_iothub_eventhub.h"
#include "ngx_iothub_lua.h"


static ngx_int_t ngx_iothub_eh_groups_script(ngx_iothub_eh_groups_op_t *op,
    const char *what, ngx_str_t *name);
static void ngx_iothub_eh_groups_listed(void *data, redisReply *reply);
static void ngx_iothub_eh_groups_changed(void *data, redisReply *reply);


ngx_uint_t
ngx_iothub_eh_groups_configured(ngx_iothub_hub_t *hub)
{
    return hub->consumer_groups ? hub->consumer_groups->nelts : 0;
}


ngx_int_t
ngx_iothub_eh_groups_list(ngx_iothub_eh_groups_op_t *op)
{
    u_char       key[NGX_IOTHUB_D2C_KEY_LEN];
    size_t       lens[2];
    const char  *argv[2];

    argv[0] = "HGETALL";
    lens[0] = 7;
    argv[1] = (char *) key;
    lens[1] = ngx_iothub_eh_groups_key(key, op->hub);

    op->call = ngx_iothub_redis_command(ngx_iothub_redis_link(),
                                        ngx_iothub_eh_groups_listed, op, 2,
                                        argv, lens);

    return op->call ? NGX_OK : NGX_DECLINED;
}


static void
ngx_iothub_eh_groups_listed(void *data, redisReply *reply)
{
    ngx_iothub_eh_groups_op_t *op = data;

    size_t  n;

    op->call = NULL;
    op->ngroups = 0;
    op->reply = reply;

    op->result = ngx_iothub_reply_eh_groups(reply, &n);

    if (op->result == NGX_IOTHUB_REPLY_OK) {
        op->ngroups = n;
    }

    op->handler(op);
}


ngx_int_t
ngx_iothub_eh_groups_item(ngx_iothub_eh_groups_op_t *op, ngx_uint_t i,
    ngx_iothub_reply_eh_group_t *g)
{
    return (ngx_iothub_reply_eh_group(op->reply, i, g)
            == NGX_IOTHUB_REPLY_OK) ? NGX_OK : NGX_ERROR;
}


ngx_int_t
ngx_iothub_eh_groups_create(ngx_iothub_eh_groups_op_t *op, ngx_str_t *name)
{
    return ngx_iothub_eh_groups_script(op, "create", name);
}


ngx_int_t
ngx_iothub_eh_groups_delete(ngx_iothub_eh_groups_op_t *op, ngx_str_t *name)
{
    return ngx_iothub_eh_groups_script(op, "delete", name);
}


/* eh_group.lua: the hash, then what, the name lower-cased and as given */

static ngx_int_t
ngx_iothub_eh_groups_script(ngx_iothub_eh_groups_op_t *op, const char *what,
    ngx_str_t *name)
{
    u_char             key[NGX_IOTHUB_D2C_KEY_LEN];
    u_char             low[NGX_IOTHUB_EH_GROUP_LEN], now[40];
    u_char             most[NGX_INT_T_LEN];
    ngx_iothub_args_t  args;

    if (name->len > NGX_IOTHUB_EH_GROUP_LEN) {
        return NGX_ERROR;
    }

    ngx_strlow(low, name->data, name->len);
    ngx_iothub_time_now(now, sizeof(now));

    args.n = 0;
    ngx_iothub_args_add(&args, (char *) key,
                        ngx_iothub_eh_groups_key(key, op->hub));
    ngx_iothub_args_add_str(&args, what);
    ngx_iothub_args_add(&args, (char *) low, name->len);
    ngx_iothub_args_add(&args, (char *) name->data, name->len);
    ngx_iothub_args_add_str(&args, (char *) now);
    ngx_iothub_args_add(&args, (char *) most,
                        ngx_sprintf(most, "%ui",
                                    NGX_IOTHUB_EH_CONSUMER_GROUPS
                                    - ngx_iothub_eh_groups_configured(op->hub))
                        - most);

    if (!ngx_iothub_args_ok(&args)) {
        return NGX_ERROR;
    }

    op->call = ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                       NGX_IOTHUB_LUA_EH_GROUP,
                                       ngx_iothub_eh_groups_changed, op, 1,
                                       args.n, args.argv, args.lens);

    return op->call ? NGX_OK : NGX_DECLINED;
}


static void
ngx_iothub_eh_groups_changed(void *data, redisReply *reply)
{
    ngx_iothub_eh_groups_op_t *op = data;

    long long  done;

    op->call = NULL;
    op->reply = reply;

    op->result = ngx_iothub_reply_eh_group_op(reply, &done, &op->group);
    op->done = (op->result == NGX_IOTHUB_REPLY_OK && done == 1);

    op->handler(op);
}


void
ngx_iothub_eh_groups_cancel(ngx_iothub_eh_groups_op_t *op)
{
    if (op->call) {
        ngx_iothub_redis_cancel(op->call);
        op->call = NULL;
    }
}


size_t
ngx_iothub_eh_groups_key(u_char *buf, ngx_iothub_hub_t *hub)
{
    return ngx_snprintf(buf, NGX_IOTHUB_D2C_KEY_LEN, "%Veh-groups",
                        &hub->prefix)
           - buf;
}
