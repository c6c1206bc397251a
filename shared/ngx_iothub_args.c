
/*
 * nginx-iothub: Redis command arguments; see ngx_iothub_args.h.
 */


#include <string.h>

#include "ngx_iothub_args.h"


int
ngx_iothub_args_add(ngx_iothub_args_t *args, const char *s, size_t len)
{
    if (args->n < 0 || args->n >= NGX_IOTHUB_MAX_ARGS) {
        args->n = -1;
        return -1;
    }

    args->argv[args->n] = s ? s : "";
    args->lens[args->n] = s ? len : 0;
    args->n++;

    return 0;
}


int
ngx_iothub_args_add_str(ngx_iothub_args_t *args, const char *s)
{
    return ngx_iothub_args_add(args, s, s ? strlen(s) : 0);
}


int
ngx_iothub_args_ok(const ngx_iothub_args_t *args)
{
    return args->n >= 0;
}
