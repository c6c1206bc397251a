
/*
 * Copyright (C) nginx-iothub authors
 */


#ifndef _NGX_IOTHUB_EH_FILTER_H_INCLUDED_
#define _NGX_IOTHUB_EH_FILTER_H_INCLUDED_


/*
 * Where an Event Hubs reader starts, as its selector filter says
 * (amqp.md 10.3).  Pure C: libc only, no nginx headers, nothing allocated.
 */


#include <stddef.h>
#include <stdint.h>


/* where a reader starts */
typedef enum {
    NGX_IOTHUB_EH_START = 0,               /* the oldest event kept */
    NGX_IOTHUB_EH_LATEST,                  /* events after the attach */
    NGX_IOTHUB_EH_SEQUENCE,                /* from a sequence number */
    NGX_IOTHUB_EH_TIME                     /* from an enqueued time, ms */
} ngx_iothub_eh_from_e;


/*
 * The expression of an "apache.org:selector-filter:string" filter:
 * "amqp.annotation.<x-opt-offset | x-opt-sequence-number |
 * x-opt-enqueued-time> <'>' | '>='> <value, maybe in single quotes>";
 * offsets are sequence numbers, a negative value ("-1") the start,
 * "@latest" (an offset) the end.  *n is the first sequence number or
 * enqueued time (ms) wanted, for SEQUENCE and TIME.  0, or -1: not an
 * expression understood, or one that nothing can follow ("> " the largest
 * int64).
 */
int ngx_iothub_eh_filter_parse(const unsigned char *text, size_t len,
    ngx_iothub_eh_from_e *from, int64_t *n);


#endif /* _NGX_IOTHUB_EH_FILTER_H_INCLUDED_ */
