
/*
 * nginx-iothub: the registry of protocol engines carried over WebSocket,
 * kept per configuration cycle in the core module's configuration (a
 * reload that drops a module drops its engine with it).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_ws_engine.h"


typedef struct {
    ngx_str_t                   subprotocol;
    ngx_iothub_ws_engine_t     *engine;
} ngx_iothub_ws_entry_t;


static ngx_iothub_ws_engine_t *ngx_iothub_ws_engine_find_in(
    ngx_iothub_main_conf_t *imcf, u_char *name, size_t len);


ngx_int_t
ngx_iothub_ws_engine_register(ngx_cycle_t *cycle, const char *subprotocol,
    ngx_iothub_ws_engine_t *engine)
{
    size_t                   len;
    ngx_iothub_ws_entry_t   *e;
    ngx_iothub_main_conf_t  *imcf;

    imcf = (ngx_iothub_main_conf_t *)
               ngx_get_conf(cycle->conf_ctx, ngx_iothub_module);

    len = ngx_strlen(subprotocol);

    if (ngx_iothub_ws_engine_find_in(imcf, (u_char *) subprotocol, len)
        != NULL)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "iothub: WebSocket subprotocol \"%s\" is registered "
                      "twice", subprotocol);
        return NGX_ERROR;
    }

    if (imcf->ws_engines == NULL) {
        imcf->ws_engines = ngx_array_create(cycle->pool, 2,
                                            sizeof(ngx_iothub_ws_entry_t));
        if (imcf->ws_engines == NULL) {
            return NGX_ERROR;
        }
    }

    e = ngx_array_push(imcf->ws_engines);
    if (e == NULL) {
        return NGX_ERROR;
    }

    e->subprotocol.data = (u_char *) subprotocol;
    e->subprotocol.len = len;
    e->engine = engine;

    return NGX_OK;
}


ngx_iothub_ws_engine_t *
ngx_iothub_ws_engine_find(u_char *name, size_t len)
{
    ngx_iothub_main_conf_t  *imcf;

    imcf = (ngx_iothub_main_conf_t *)
               ngx_get_conf(ngx_cycle->conf_ctx, ngx_iothub_module);

    return ngx_iothub_ws_engine_find_in(imcf, name, len);
}


static ngx_iothub_ws_engine_t *
ngx_iothub_ws_engine_find_in(ngx_iothub_main_conf_t *imcf, u_char *name,
    size_t len)
{
    ngx_uint_t              i;
    ngx_iothub_ws_entry_t  *e;

    if (imcf == NULL || imcf->ws_engines == NULL) {
        return NULL;
    }

    e = imcf->ws_engines->elts;

    for (i = 0; i < imcf->ws_engines->nelts; i++) {
        if (e[i].subprotocol.len == len
            && ngx_strncasecmp(e[i].subprotocol.data, name, len) == 0)
        {
            return e[i].engine;
        }
    }

    return NULL;
}
