
/*
 * nginx-iothub http module: log escaping; see ngx_iothub_http_log.h.
 */


#include "ngx_iothub_http_log.h"


static size_t ngx_iothub_http_log_width(unsigned char c);


size_t
ngx_iothub_http_log_escape(unsigned char *dst, size_t size,
    const unsigned char *src, size_t len)
{
    size_t              i, n, total, limit, w;
    unsigned char       c;
    static const char   hex[] = "0123456789abcdef";

    if (size == 0) {
        return 0;
    }

    total = 0;

    for (i = 0; i < len; i++) {
        total += ngx_iothub_http_log_width(src[i]);
    }

    /* what does not fit is cut before a whole character, then "..." */
    limit = (total < size) ? total : (size > 4 ? size - 4 : 0);

    n = 0;

    for (i = 0; i < len; i++) {
        c = src[i];
        w = ngx_iothub_http_log_width(c);

        if (n + w > limit) {
            break;
        }

        if (w == 1) {
            dst[n++] = c;
            continue;
        }

        dst[n++] = '\\';
        dst[n++] = 'x';
        dst[n++] = hex[c >> 4];
        dst[n++] = hex[c & 0x0f];
    }

    for (w = 0; total >= size && w < 3 && n + 1 < size; w++) {
        dst[n++] = '.';
    }

    dst[n] = '\0';

    return n;
}


static size_t
ngx_iothub_http_log_width(unsigned char c)
{
    return (c < 0x20 || c > 0x7e || c == '"' || c == '\\') ? 4 : 1;
}
