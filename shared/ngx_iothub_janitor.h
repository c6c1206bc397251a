
/*
 * nginx-iothub: the janitor, what no request cleans up.  Every
 * janitor_interval each worker tries to take the cluster's janitor lock;
 * the one that gets it runs a round over every hub: it trims the
 * device-to-cloud partitions to the hub's retention and ends the sessions
 * whose worker is gone (presence hashes whose inbox stopped beating).
 * A round is a chain of bounded Redis calls (SCAN ... COUNT, one Lua call
 * per batch); nothing waits for it.
 */


#ifndef _NGX_IOTHUB_JANITOR_H_INCLUDED_
#define _NGX_IOTHUB_JANITOR_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"


/*
 * Arms the worker's janitor timer (init_process, after the Redis link and
 * the inbox exist: the inbox names the lock's owner).
 */
void ngx_iothub_janitor_start(ngx_iothub_main_conf_t *imcf, ngx_log_t *log);

/* Stops the timer and cancels a pending call (exit_process). */
void ngx_iothub_janitor_stop(void);


#endif /* _NGX_IOTHUB_JANITOR_H_INCLUDED_ */
