
/*
 * nginx-iothub: the RESP writer; see ngx_iothub_resp.h.
 */


#include <string.h>

#include "ngx_iothub_resp.h"


static size_t ngx_iothub_resp_digits(size_t n);
static char *ngx_iothub_resp_header(char *p, char type, size_t n);


static size_t
ngx_iothub_resp_digits(size_t n)
{
    size_t  d;

    for (d = 1; n >= 10; d++) {
        n /= 10;
    }

    return d;
}


size_t
ngx_iothub_resp_array_size(size_t n)
{
    return 1 + ngx_iothub_resp_digits(n) + 2;
}


size_t
ngx_iothub_resp_bulk_size(size_t len)
{
    return 1 + ngx_iothub_resp_digits(len) + 2 + len + 2;
}


/* "<type><n>\r\n", the digits written backwards into their place */

static char *
ngx_iothub_resp_header(char *p, char type, size_t n)
{
    char    *end;
    size_t   d;

    *p++ = type;

    d = ngx_iothub_resp_digits(n);
    end = p + d;

    do {
        *--end = (char) ('0' + n % 10);
        n /= 10;
    } while (n);

    p += d;
    *p++ = '\r';
    *p++ = '\n';

    return p;
}


char *
ngx_iothub_resp_array(char *p, size_t n)
{
    return ngx_iothub_resp_header(p, '*', n);
}


char *
ngx_iothub_resp_bulk(char *p, const char *s, size_t len)
{
    p = ngx_iothub_resp_header(p, '$', len);

    if (len) {
        memcpy(p, s, len);
        p += len;
    }

    *p++ = '\r';
    *p++ = '\n';

    return p;
}


char *
ngx_iothub_resp_bulk_head(char *p, size_t len)
{
    return ngx_iothub_resp_header(p, '$', len);
}


size_t
ngx_iothub_resp_args_size(int argc, const size_t *lens)
{
    int     i;
    size_t  size;

    size = 0;

    for (i = 0; i < argc; i++) {
        size += ngx_iothub_resp_bulk_size(lens[i]);
    }

    return size;
}


char *
ngx_iothub_resp_args(char *p, int argc, const char **argv,
    const size_t *lens)
{
    int  i;

    for (i = 0; i < argc; i++) {
        p = ngx_iothub_resp_bulk(p, argv[i], lens[i]);
    }

    return p;
}


size_t
ngx_iothub_resp_size(int argc, const size_t *lens)
{
    return ngx_iothub_resp_array_size((size_t) argc)
           + ngx_iothub_resp_args_size(argc, lens);
}


char *
ngx_iothub_resp_write(char *p, int argc, const char **argv,
    const size_t *lens)
{
    p = ngx_iothub_resp_array(p, (size_t) argc);

    return ngx_iothub_resp_args(p, argc, argv, lens);
}
