
/*
 * nginx-iothub http module: what a caller sent, made safe for a log line.
 * Pure (no nginx headers) so that unit tests and fuzzers link it alone.
 */


#ifndef _NGX_IOTHUB_HTTP_LOG_H_INCLUDED_
#define _NGX_IOTHUB_HTTP_LOG_H_INCLUDED_


#include <stddef.h>


/* room for n bytes of input escaped, and the NUL */
#define NGX_IOTHUB_HTTP_LOG_ESCAPED(n)  (4 * (n) + 1)


/*
 * Copies len bytes of src into dst as printable ASCII: bytes outside 0x20
 * to 0x7e, '"' and '\' become "\xHH", so no control character (a decoded
 * "%0A" forging a line) and no quote reaches the log.  What does not fit
 * in size is cut and ends in "...".  dst is NUL-terminated (size > 0);
 * returns its length.
 */
size_t ngx_iothub_http_log_escape(unsigned char *dst, size_t size,
    const unsigned char *src, size_t len);


#endif /* _NGX_IOTHUB_HTTP_LOG_H_INCLUDED_ */
