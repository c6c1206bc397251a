
/*
 * nginx-iothub: packed messages of a stream entry; see
 * ngx_iothub_d2c_pack.h.
 */


#include <string.h>

#include "ngx_iothub_d2c_pack.h"


size_t
ngx_iothub_d2c_pack_size(const ngx_iothub_args_t *args)
{
    int     i;
    size_t  size;

    size = NGX_IOTHUB_D2C_PACK_COUNT_LEN;

    for (i = 0; i < args->n; i++) {
        size += NGX_IOTHUB_D2C_PACK_LENGTH_LEN + args->lens[i] + 1;
    }

    return size;
}


unsigned char *
ngx_iothub_d2c_pack(unsigned char *p, const ngx_iothub_args_t *args)
{
    int     i;
    size_t  len, fields;

    fields = (size_t) args->n / 2;

    *p++ = (unsigned char) (fields >> 8);
    *p++ = (unsigned char) fields;

    for (i = 0; i < args->n; i++) {
        len = args->lens[i];

        *p++ = (unsigned char) (len >> 24);
        *p++ = (unsigned char) (len >> 16);
        *p++ = (unsigned char) (len >> 8);
        *p++ = (unsigned char) len;

        memcpy(p, args->argv[i], len);
        p += len;
        *p++ = '\0';
    }

    return p;
}
