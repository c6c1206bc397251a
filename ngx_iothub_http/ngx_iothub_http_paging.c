
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * nginx-iothub: the query API's continuation token text, read without
 * nginx (the handler decodes the base64url around it).
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ngx_iothub_sas.h"
#include "ngx_iothub_http_paging.h"


int
ngx_iothub_paging_parse(const unsigned char *text, size_t len,
    ngx_iothub_paging_t *t)
{
    uint64_t              n;
    const unsigned char  *dev, *mod, *last;

    last = text + len;

    dev = memchr(text, '\n', len);
    if (dev == NULL) {
        return -1;
    }

    if (ngx_iothub_decimal_parse(text, dev - text, &n) != 0) {
        return -1;
    }

    dev++;

    mod = memchr(dev, '\n', last - dev);

    if (mod == NULL || mod - dev > NGX_IOTHUB_PAGING_ID_LEN
        || last - mod - 1 > NGX_IOTHUB_PAGING_ID_LEN
        || !ngx_iothub_id_valid(dev, mod - dev)
        || (last - mod > 1 && !ngx_iothub_id_valid(mod + 1, last - mod - 1)))
    {
        return -1;
    }

    t->before = n;

    memcpy(t->device_id, dev, mod - dev);
    t->device_id[mod - dev] = '\0';

    memcpy(t->module_id, mod + 1, last - mod - 1);
    t->module_id[last - mod - 1] = '\0';

    return 0;
}
