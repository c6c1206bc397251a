
/*
 * nginx-iothub: a RESP writer for Redis commands (an array of bulk
 * strings), in place of hiredis's redisFormatCommandArgv, which formats
 * each argument's header with sprintf.  Pure (no nginx headers): unit
 * tests link it alone.
 *
 * A command is written in two steps: ngx_iothub_resp_size() tells how
 * many bytes it takes, the caller reserves them, ngx_iothub_resp_write()
 * writes them.  The parts (an array header, one bulk string) are there
 * for commands whose first arguments are not in the vector (EVALSHA).
 */


#ifndef _NGX_IOTHUB_RESP_H_INCLUDED_
#define _NGX_IOTHUB_RESP_H_INCLUDED_


#include <stddef.h>


/* "*<n>\r\n" or "$<n>\r\n": 1 + at most 20 digits + 2 */
#define NGX_IOTHUB_RESP_HEADER_MAX  23


/* the bytes of "*<n>\r\n" / "$<len>\r\n<len bytes>\r\n" */
size_t ngx_iothub_resp_array_size(size_t n);
size_t ngx_iothub_resp_bulk_size(size_t len);

/* write them at p; return the end */
char *ngx_iothub_resp_array(char *p, size_t n);
char *ngx_iothub_resp_bulk(char *p, const char *s, size_t len);

/* a bulk string's header alone ("$<len>\r\n"), for bytes already in place
 * after it: ngx_iothub_resp_bulk_size(len) - len - 2 bytes */
char *ngx_iothub_resp_bulk_head(char *p, size_t len);

/* the whole command: an array of argc bulk strings */
size_t ngx_iothub_resp_size(int argc, const size_t *lens);
char *ngx_iothub_resp_write(char *p, int argc, const char **argv,
    const size_t *lens);

/* bulk strings only, no array header: argc arguments that follow others */
size_t ngx_iothub_resp_args_size(int argc, const size_t *lens);
char *ngx_iothub_resp_args(char *p, int argc, const char **argv,
    const size_t *lens);


#endif /* _NGX_IOTHUB_RESP_H_INCLUDED_ */
