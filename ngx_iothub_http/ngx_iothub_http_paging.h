
/*
 * Copyright (C) nginx-iothub authors
 */


#ifndef _NGX_IOTHUB_HTTP_PAGING_H_INCLUDED_
#define _NGX_IOTHUB_HTTP_PAGING_H_INCLUDED_


/*
 * The query API's continuation token (rest.md 9), decoded from base64url:
 * "<rows before the next page>\n<device id>\n<module id>", the place of
 * the last row sent.  Pure C: libc only, no nginx headers.
 */


#include <stddef.h>
#include <stdint.h>


#define NGX_IOTHUB_PAGING_ID_LEN  128

/* the longest text written: 20 digits, two ids, two '\n' */
#define NGX_IOTHUB_PAGING_TEXT_MAX                                           \
    (20 + 2 * NGX_IOTHUB_PAGING_ID_LEN + 2)


typedef struct {
    uint64_t              before;       /* at most INT64_MAX */
    char                  device_id[NGX_IOTHUB_PAGING_ID_LEN + 1];
    char                  module_id[NGX_IOTHUB_PAGING_ID_LEN + 1];
} ngx_iothub_paging_t;


/*
 * The decoded token's text: 0, or -1 when it is not one (the number is
 * not decimal digits or over INT64_MAX, an id is missing, too long or not
 * a valid id; the module id may be empty).
 */
int ngx_iothub_paging_parse(const unsigned char *text, size_t len,
    ngx_iothub_paging_t *t);


#endif /* _NGX_IOTHUB_HTTP_PAGING_H_INCLUDED_ */
