
/*
 * Copyright (C) nginx-iothub authors
 */


#include <stddef.h>
#include <string.h>

#include "ngx_iothub_log.h"


#define NGX_IOTHUB_LOG_CUT_LEN  (sizeof(NGX_IOTHUB_LOG_CUT) - 1)


static size_t ngx_iothub_log_escape_byte(unsigned char *out, unsigned char c);


size_t
ngx_iothub_log_escape(unsigned char *dst, size_t size,
    const unsigned char *src, size_t len)
{
    size_t          i, n, used, room;
    unsigned char   esc[4];

    /* when it all fits, use it all; else keep room for the cut mark */
    room = size;

    for (i = 0, n = 0; i < len && n <= size; i++) {
        n += ngx_iothub_log_escape_byte(esc, src[i]);
    }

    if (n > size) {
        if (size < NGX_IOTHUB_LOG_CUT_LEN) {
            return 0;
        }

        room = size - NGX_IOTHUB_LOG_CUT_LEN;
    }

    used = 0;

    for (i = 0; i < len; i++) {
        n = ngx_iothub_log_escape_byte(esc, src[i]);

        if (used + n > room) {
            break;
        }

        memcpy(dst + used, esc, n);
        used += n;
    }

    if (i < len) {
        memcpy(dst + used, NGX_IOTHUB_LOG_CUT, NGX_IOTHUB_LOG_CUT_LEN);
        used += NGX_IOTHUB_LOG_CUT_LEN;
    }

    return used;
}


static size_t
ngx_iothub_log_escape_byte(unsigned char *out, unsigned char c)
{
    static const char  hex[] = "0123456789abcdef";

    if (c == '"' || c == '\\') {
        out[0] = '\\';
        out[1] = c;
        return 2;
    }

    if (c >= 0x20 && c < 0x7f) {
        out[0] = c;
        return 1;
    }

    out[0] = '\\';
    out[1] = 'x';
    out[2] = hex[c >> 4];
    out[3] = hex[c & 0x0f];

    return 4;
}
