
/*
 * nginx-iothub: device-to-cloud messages; see ngx_iothub_d2c.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_d2c.h"
#include "ngx_iothub_lua.h"


static size_t ngx_iothub_d2c_auth_method(u_char *buf, size_t size,
    ngx_iothub_sender_t *sender);


ngx_int_t
ngx_iothub_message_add(ngx_iothub_message_t *msg, const char *prefixed_name,
    size_t name_len, u_char *value, size_t len)
{
    if (msg->n == NGX_IOTHUB_D2C_MAX_PROPERTIES) {
        return NGX_ERROR;
    }

    msg->name[msg->n].data = (u_char *) prefixed_name;
    msg->name[msg->n].len = name_len;
    msg->value[msg->n].data = value;
    msg->value[msg->n].len = len;
    msg->n++;

    return NGX_OK;
}


ngx_int_t
ngx_iothub_message_args(ngx_iothub_args_t *args, ngx_iothub_message_t *msg)
{
    ngx_uint_t  i;

    for (i = 0; i < msg->n; i++) {
        ngx_iothub_args_add(args, (char *) msg->name[i].data,
                            msg->name[i].len);
        ngx_iothub_args_add(args, (char *) msg->value[i].data,
                            msg->value[i].len);
    }

    ngx_iothub_args_add_str(args, "body");

    /* the vector stays spoiled once full: the last add tells for all */
    return ngx_iothub_args_add(args, (char *) msg->body.data, msg->body.len);
}


/* FNV-1a: stable across nodes, versions and restarts */

ngx_uint_t
ngx_iothub_d2c_partition(ngx_iothub_hub_t *hub, ngx_str_t *id)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;

    for (i = 0; i < id->len; i++) {
        h ^= id->data[i];
        h *= 16777619u;
    }

    return h % hub->partitions;
}


u_char *
ngx_iothub_d2c_key(u_char *buf, ngx_iothub_hub_t *hub, ngx_uint_t partition,
    const char *kind)
{
    return ngx_snprintf(buf, NGX_IOTHUB_D2C_KEY_LEN, "%V%s:%ui",
                        &hub->prefix, kind, partition);
}


ngx_iothub_redis_call_t *
ngx_iothub_d2c_send(ngx_iothub_hub_t *hub, ngx_iothub_sender_t *sender,
    ngx_iothub_message_t *msg, ngx_iothub_redis_handler_pt handler,
    void *data)
{
    u_char             key[3][NGX_IOTHUB_D2C_KEY_LEN];
    u_char             minid[NGX_INT64_LEN + 3], now[40], method[160];
    ngx_tm_t           tm;
    ngx_uint_t         p;
    ngx_time_t        *tp;
    ngx_iothub_args_t  args;

    tp = ngx_timeofday();
    args.n = 0;

    /* d2c_append.lua: KEYS the stream, its last id, its waiting inboxes */

    p = ngx_iothub_d2c_partition(hub, &sender->device_id);

    ngx_iothub_args_add(&args, (char *) key[0],
                        ngx_iothub_d2c_key(key[0], hub, p, "d2c") - key[0]);
    ngx_iothub_args_add(&args, (char *) key[1],
                        ngx_iothub_d2c_key(key[1], hub, p, "d2c-last")
                        - key[1]);
    ngx_iothub_args_add(&args, (char *) key[2],
                        ngx_iothub_d2c_key(key[2], hub, p, "d2c-wait")
                        - key[2]);

    /* retention: entries older than the hub's retention go, lazily */
    ngx_iothub_args_add(&args, (char *) minid,
                       ngx_sprintf(minid, "%uL",
                                   (uint64_t) (tp->sec - hub->retention)
                                   * 1000)
                       - minid);

    ngx_iothub_args_add_str(&args, "a:iothub-connection-device-id");
    ngx_iothub_args_add(&args, (char *) sender->device_id.data,
                       sender->device_id.len);

    if (sender->module_id.len) {
        ngx_iothub_args_add_str(&args, "a:iothub-connection-module-id");
        ngx_iothub_args_add(&args, (char *) sender->module_id.data,
                           sender->module_id.len);
    }

    ngx_iothub_args_add_str(&args, "a:iothub-connection-auth-generation-id");
    ngx_iothub_args_add(&args, (char *) sender->generation_id.data,
                       sender->generation_id.len);

    ngx_iothub_args_add_str(&args, "a:iothub-connection-auth-method");
    ngx_iothub_args_add(&args, (char *) method,
                       ngx_iothub_d2c_auth_method(method, sizeof(method),
                                                  sender));

    ngx_gmtime(tp->sec, &tm);

    ngx_iothub_args_add_str(&args, "a:iothub-enqueuedtime");
    ngx_iothub_args_add(&args, (char *) now,
                       ngx_sprintf(now, "%4d-%02d-%02dT%02d:%02d:%02d.%03MZ",
                                   tm.ngx_tm_year, tm.ngx_tm_mon,
                                   tm.ngx_tm_mday, tm.ngx_tm_hour,
                                   tm.ngx_tm_min, tm.ngx_tm_sec, tp->msec)
                       - now);

    ngx_iothub_args_add_str(&args, "a:iothub-message-source");
    ngx_iothub_args_add_str(&args, "Telemetry");

    if (sender->model_id.len) {
        ngx_iothub_args_add_str(&args, "a:dt-dataschema");
        ngx_iothub_args_add(&args, (char *) sender->model_id.data,
                           sender->model_id.len);
    }

    if (ngx_iothub_message_args(&args, msg) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "iothub: too many arguments for a telemetry message");
        return NULL;
    }

    return ngx_iothub_redis_script(ngx_iothub_redis_link(),
                                   NGX_IOTHUB_LUA_D2C_APPEND, handler, data,
                                   3, args.n, args.argv, args.lens);
}


static size_t
ngx_iothub_d2c_auth_method(u_char *buf, size_t size,
    ngx_iothub_sender_t *sender)
{
    const char  *scope, *type;

    scope = sender->policy ? "hub"
                           : (sender->module_id.len ? "module" : "device");
    type = sender->x509 ? "x509Certificate" : "sas";

    return ngx_snprintf(buf, size,
                        "{\"scope\":\"%s\",\"type\":\"%s\",\"issuer\":"
                        "\"iothub\",\"acceptingIpFilterRule\":null}",
                        scope, type)
           - buf;
}


