
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


static ngx_int_t ngx_iothub_amqp_eh_expression(u_char *p, u_char *last,
    ngx_iothub_eh_from_e *from, int64_t *n);


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

        return ngx_iothub_amqp_eh_expression((u_char *) expr.start,
                                             (u_char *) expr.start
                                             + expr.size, from, n);
    }

    return NGX_OK;
}


/*
 * "amqp.annotation.<x-opt-offset | x-opt-sequence-number |
 * x-opt-enqueued-time> <'>' | '>='> <value, maybe in single quotes>";
 * offsets are sequence numbers, "-1" the start, "@latest" the end.
 */

static ngx_int_t
ngx_iothub_amqp_eh_expression(u_char *p, u_char *last,
    ngx_iothub_eh_from_e *from, int64_t *n)
{
    size_t      len;
    u_char     *name, *value;
    int64_t     v;
    ngx_uint_t  inclusive, negative;

    static const char  prefix[] = "amqp.annotation.";

    while (p < last && *p == ' ') {
        p++;
    }

    if ((size_t) (last - p) < sizeof(prefix) - 1
        || ngx_strncasecmp(p, (u_char *) prefix, sizeof(prefix) - 1) != 0)
    {
        return NGX_ERROR;
    }

    p += sizeof(prefix) - 1;
    name = p;

    while (p < last && *p != ' ' && *p != '>') {
        p++;
    }

    len = p - name;

    while (p < last && *p == ' ') {
        p++;
    }

    if (p == last || *p++ != '>') {
        return NGX_ERROR;
    }

    inclusive = 0;

    if (p < last && *p == '=') {
        inclusive = 1;
        p++;
    }

    while (p < last && *p == ' ') {
        p++;
    }

    while (last > p && last[-1] == ' ') {
        last--;
    }

    if (last - p >= 2 && *p == '\'' && last[-1] == '\'') {
        p++;
        last--;
    }

    value = p;

    if (len == 12 && ngx_strncasecmp(name, (u_char *) "x-opt-offset", 12) == 0
        && last - value == 7 && ngx_strncmp(value, "@latest", 7) == 0)
    {
        *from = NGX_IOTHUB_EH_LATEST;
        return NGX_OK;
    }

    negative = (value < last && *value == '-');
    v = ngx_atoof(value + negative, last - value - negative);

    if (v == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (negative) {
        /* -1: before the first event */
        *from = NGX_IOTHUB_EH_START;
        return NGX_OK;
    }

    if ((len == 12
         && ngx_strncasecmp(name, (u_char *) "x-opt-offset", 12) == 0)
        || (len == 21
            && ngx_strncasecmp(name, (u_char *) "x-opt-sequence-number", 21)
               == 0))
    {
        *from = NGX_IOTHUB_EH_SEQUENCE;

    } else if (len == 19
               && ngx_strncasecmp(name, (u_char *) "x-opt-enqueued-time", 19)
                  == 0)
    {
        *from = NGX_IOTHUB_EH_TIME;

    } else {
        return NGX_ERROR;
    }

    *n = inclusive ? v : v + 1;

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
