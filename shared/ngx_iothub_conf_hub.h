
/*
 * nginx-iothub: the part every protocol's main directive shares
 * (iothub_api, iothub_websocket, iothub_blob_store, iothub_mqtt,
 * iothub_amqp): its first argument names a hub of the iothub{} block.
 */


#ifndef _NGX_IOTHUB_CONF_HUB_H_INCLUDED_
#define _NGX_IOTHUB_CONF_HUB_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"


/*
 * Sets *hub to the hub the directive's first argument names.  Returns
 * NGX_CONF_OK, "is duplicate" when *hub is set already (the directive
 * came twice in one block), or NGX_CONF_ERROR, logged, for an unknown hub.
 */
char *ngx_iothub_conf_set_hub(ngx_conf_t *cf, ngx_iothub_hub_t **hub);


#endif /* _NGX_IOTHUB_CONF_HUB_H_INCLUDED_ */
