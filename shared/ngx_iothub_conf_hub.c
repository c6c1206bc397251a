
/*
 * nginx-iothub: the hub argument of the protocols' main directives
 * (ngx_iothub_conf_hub.h).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_conf_hub.h"


char *
ngx_iothub_conf_set_hub(ngx_conf_t *cf, ngx_iothub_hub_t **hub)
{
    ngx_str_t  *value;

    if (*hub != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    *hub = ngx_iothub_conf_find_hub(cf, &value[1]);
    if (*hub == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
