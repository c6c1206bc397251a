
/*
 * nginx-iothub: the arguments of one Redis command or script, built up in
 * order.  Pure (no nginx headers) so that unit tests link it alone.
 */


#ifndef _NGX_IOTHUB_ARGS_H_INCLUDED_
#define _NGX_IOTHUB_ARGS_H_INCLUDED_


#include <stddef.h>


#define NGX_IOTHUB_MAX_ARGS  192


/* n is 0 to start; -1 once an argument did not fit */
typedef struct {
    int                        n;
    const char                *argv[NGX_IOTHUB_MAX_ARGS];
    size_t                     lens[NGX_IOTHUB_MAX_ARGS];
} ngx_iothub_args_t;


/*
 * Appends an argument: 0 (NGX_OK), or -1 (NGX_ERROR) when the vector is
 * full.  A full vector stays spoiled (n is -1, every later add fails), so
 * a caller may check each add or, before sending, ngx_iothub_args_ok().
 */
int ngx_iothub_args_add(ngx_iothub_args_t *args, const char *s, size_t len);
int ngx_iothub_args_add_str(ngx_iothub_args_t *args, const char *s);

/* 1 when every argument added fitted, else 0 */
int ngx_iothub_args_ok(const ngx_iothub_args_t *args);


#endif /* _NGX_IOTHUB_ARGS_H_INCLUDED_ */
