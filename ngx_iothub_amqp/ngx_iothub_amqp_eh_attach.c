
/*
 * nginx-iothub: what an Event Hubs receiver's attach asks (amqp.md 10.3):
 * where it starts (the selector filter of its source) and its epoch (the
 * link property com.microsoft:epoch, the SDKs' owner level).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_amqp.h"
#include "ngx_iothub_eventhub.h"


/* source.filter {"apache.org:selector-filter:string": described(, expr)} */

ngx_int_t
ngx_iothub_amqp_eh_filter(pn_terminus_t *source, ngx_iothub_eh_from_e *from,
    int64_t *n)
{
    pn_data_t   *f;
    pn_bytes_t   key, expr;

    *from = NGX_IOTHUB_EH_START;
    *n = 0;

    f = pn_terminus_filter(source);
    pn_data_rewind(f);

    if (!pn_data_next(f)) {
        return NGX_OK;
    }

    if (pn_data_type(f) != PN_MAP) {
        return NGX_ERROR;
    }

    pn_data_enter(f);

    while (pn_data_next(f)) {
        key = pn_bytes(0, NULL);

        if (pn_data_type(f) == PN_SYMBOL) {
            key = pn_data_get_symbol(f);

        } else if (pn_data_type(f) == PN_STRING) {
            key = pn_data_get_string(f);
        }

        if (!pn_data_next(f)) {
            break;
        }

        if (key.size != 33
            || ngx_strncmp(key.start, "apache.org:selector-filter:string",
                           33) != 0)
        {
            continue;
        }

        if (pn_data_type(f) == PN_DESCRIBED) {
            pn_data_enter(f);

            /* the descriptor, then the value */
            if (!pn_data_next(f) || !pn_data_next(f)) {
                return NGX_ERROR;
            }
        }

        if (pn_data_type(f) != PN_STRING) {
            return NGX_ERROR;
        }

        expr = pn_data_get_string(f);

        return ngx_iothub_eh_filter_parse((u_char *) expr.start, expr.size,
                                          from, n)
               == 0 ? NGX_OK : NGX_ERROR;
    }

    return NGX_OK;
}


/* the link property com.microsoft:epoch (a long), -1 without it */

ngx_int_t
ngx_iothub_amqp_eh_epoch(pn_link_t *link, int64_t *epoch)
{
    pn_data_t   *d;
    pn_bytes_t   key;

    *epoch = -1;

    d = pn_link_remote_properties(link);

    if (d == NULL) {
        return NGX_OK;
    }

    pn_data_rewind(d);

    if (!pn_data_next(d) || pn_data_type(d) != PN_MAP) {
        return NGX_OK;
    }

    pn_data_enter(d);

    while (pn_data_next(d)) {
        key = pn_bytes(0, NULL);

        if (pn_data_type(d) == PN_SYMBOL) {
            key = pn_data_get_symbol(d);
        }

        if (!pn_data_next(d)) {
            break;
        }

        if (key.size != 19
            || ngx_strncmp(key.start, "com.microsoft:epoch", 19) != 0)
        {
            continue;
        }

        switch (pn_data_type(d)) {

        case PN_LONG:
            *epoch = pn_data_get_long(d);
            break;

        case PN_INT:
            *epoch = pn_data_get_int(d);
            break;

        case PN_UINT:
            *epoch = pn_data_get_uint(d);
            break;

        case PN_ULONG:
            *epoch = (pn_data_get_ulong(d) > INT64_MAX)
                     ? -1 : (int64_t) pn_data_get_ulong(d);
            break;

        default:
            return NGX_ERROR;
        }

        return (*epoch < 0) ? NGX_ERROR : NGX_OK;
    }

    return NGX_OK;
}
