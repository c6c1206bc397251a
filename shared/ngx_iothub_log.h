
/*
 * Copyright (C) nginx-iothub authors
 */


#ifndef _NGX_IOTHUB_LOG_H_INCLUDED_
#define _NGX_IOTHUB_LOG_H_INCLUDED_


/*
 * Client-supplied text in log lines: device and module ids, policy names,
 * topics, property names.  Such text arrives percent-decoded and may hold
 * a line feed that would forge a log line, or a quote that would end the
 * quoted value early.  Every such value is escaped before it is logged:
 *
 *     printable ASCII (0x20-0x7e)   as is, except " and \
 *     " and \                       \" and \\
 *     anything else                 \xHH (controls, DEL, bytes >= 0x80)
 *
 * Bytes >= 0x80 are escaped even when they form valid UTF-8: a log reader
 * must not render bidi overrides or line separators from a client.
 *
 * The escaper is pure C (no nginx headers); the nginx helper below is
 * declared only when ngx_core.h was included first.
 */


#include <stddef.h>


/* bytes of escaped text one log buffer holds (a device id escapes to 512) */
#define NGX_IOTHUB_LOG_ESCAPED_LEN   512

/* appended when the escaped text did not fit */
#define NGX_IOTHUB_LOG_CUT           "..."


/*
 * Escapes len bytes of src into dst (size bytes, at least 4) and returns
 * the length written; dst is not NUL-terminated.  When the escaped text
 * does not fit, it is cut before a whole escape sequence and "..." ends it.
 */
size_t ngx_iothub_log_escape(unsigned char *dst, size_t size,
    const unsigned char *src, size_t len);


#if (defined _NGX_CORE_H_INCLUDED_)

/*
 * One escaped value for a log line, on the caller's stack:
 *
 *     ngx_iothub_log_buf_t  id;
 *
 *     ngx_log_error(NGX_LOG_INFO, c->log, 0, "device \"%V\" refused",
 *                   ngx_iothub_log_str(&id, name.data, name.len));
 *
 * Each value logged in one call needs its own buffer.
 */

typedef struct {
    ngx_str_t                  str;
    u_char                     buf[NGX_IOTHUB_LOG_ESCAPED_LEN];
} ngx_iothub_log_buf_t;


static ngx_inline ngx_str_t *
ngx_iothub_log_str(ngx_iothub_log_buf_t *lb, const u_char *data, size_t len)
{
    lb->str.data = lb->buf;
    lb->str.len = ngx_iothub_log_escape(lb->buf, sizeof(lb->buf), data, len);

    return &lb->str;
}


#define ngx_iothub_log_v(lb, s)  ngx_iothub_log_str(lb, (s)->data, (s)->len)

#endif


#endif /* _NGX_IOTHUB_LOG_H_INCLUDED_ */
