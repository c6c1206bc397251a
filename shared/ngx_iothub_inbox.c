
/*
 * nginx-iothub: the per-worker inbox.  Every worker subscribes to a Redis
 * channel only it reads, "iothub:inbox:<32 hex digits>", named in the
 * presence records of its sessions; other nodes reach a session, or the
 * caller of a direct method, by publishing "<type> <payload>" there.
 * Each type has one handler, registered at configuration.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/rand.h>

#include "ngx_iothub.h"
#include "ngx_iothub_inbox_codec.h"


static ngx_iothub_main_conf_t *ngx_iothub_inbox_conf(ngx_cycle_t *cycle);


ngx_int_t
ngx_iothub_inbox_register(ngx_conf_t *cf, const char *type,
    ngx_iothub_inbox_handler_pt handler)
{
    size_t                    len;
    ngx_uint_t                i;
    ngx_iothub_main_conf_t   *imcf;
    ngx_iothub_inbox_type_t  *t;

    imcf = ngx_iothub_inbox_conf(cf->cycle);
    len = ngx_strlen(type);
    t = imcf->inbox_types.elts;

    for (i = 0; i < imcf->inbox_types.nelts; i++) {
        if (t[i].type.len == len
            && ngx_strncmp(t[i].type.data, type, len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "iothub: inbox message type \"%s\" is "
                               "registered twice", type);
            return NGX_ERROR;
        }
    }

    t = ngx_array_push(&imcf->inbox_types);
    if (t == NULL) {
        return NGX_ERROR;
    }

    t->type.data = (u_char *) type;
    t->type.len = len;
    t->handler = handler;

    return NGX_OK;
}


/* a random name: workers of every node share one Redis */

ngx_int_t
ngx_iothub_inbox_init_process(ngx_cycle_t *cycle)
{
    u_char                  *p, id[16];
    ngx_iothub_main_conf_t  *imcf;

    imcf = ngx_iothub_inbox_conf(cycle);

    if (RAND_bytes(id, sizeof(id)) != 1) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "iothub: RAND_bytes() failed");
        return NGX_ERROR;
    }

    p = ngx_cpymem(imcf->inbox_name, NGX_IOTHUB_INBOX_PREFIX,
                   sizeof(NGX_IOTHUB_INBOX_PREFIX) - 1);
    p = ngx_hex_dump(p, id, sizeof(id));

    imcf->inbox.data = imcf->inbox_name;
    imcf->inbox.len = p - imcf->inbox_name;

    return NGX_OK;
}


void
ngx_iothub_inbox_in(u_char *payload, size_t len)
{
    ngx_uint_t                i;
    ngx_iothub_inbox_str_t    type, rest;
    ngx_iothub_main_conf_t   *imcf;
    ngx_iothub_inbox_type_t  *t;

    ngx_iothub_inbox_split(payload, len, &type, &rest);

    imcf = ngx_iothub_inbox_conf((ngx_cycle_t *) ngx_cycle);
    t = imcf->inbox_types.elts;

    for (i = 0; i < imcf->inbox_types.nelts; i++) {
        if (t[i].type.len == type.len
            && ngx_strncmp(t[i].type.data, type.data, type.len) == 0)
        {
            t[i].handler((u_char *) rest.data, rest.len);
            return;
        }
    }

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "iothub: unknown inbox message type of %uz bytes",
                  type.len);
}


ngx_str_t *
ngx_iothub_inbox(void)
{
    return &ngx_iothub_inbox_conf((ngx_cycle_t *) ngx_cycle)->inbox;
}


ngx_iothub_redis_call_t *
ngx_iothub_inbox_send(ngx_str_t *inbox, const char *type, ngx_str_t *payload,
    ngx_iothub_redis_handler_pt handler, void *data)
{
    u_char                   *msg, *p;
    size_t                    len, lens[3];
    const char               *argv[3];
    ngx_iothub_redis_call_t  *call;

    len = ngx_strlen(type) + 1 + payload->len;

    msg = ngx_alloc(len, ngx_cycle->log);
    if (msg == NULL) {
        return NULL;
    }

    p = ngx_cpymem(msg, type, ngx_strlen(type));
    *p++ = ' ';
    ngx_memcpy(p, payload->data, payload->len);

    argv[0] = "PUBLISH";
    lens[0] = 7;
    argv[1] = (char *) inbox->data;
    lens[1] = inbox->len;
    argv[2] = (char *) msg;
    lens[2] = len;

    /* the command is formatted, so msg can go */
    call = ngx_iothub_redis_command(ngx_iothub_redis_link(),
                                    handler ? handler
                                            : ngx_iothub_redis_ignore,
                                    data, 3, argv, lens);
    ngx_free(msg);

    return call;
}


void
ngx_iothub_redis_ignore(void *data, redisReply *reply)
{
    /* fire and forget */
}


static ngx_iothub_main_conf_t *
ngx_iothub_inbox_conf(ngx_cycle_t *cycle)
{
    return (ngx_iothub_main_conf_t *)
               ngx_get_conf(cycle->conf_ctx, ngx_iothub_module);
}
