
/*
 * nginx-iothub: the query service, protocol-neutral: it walks the twins
 * of a query's collection in Redis, a chunk of device ids per command and
 * event-loop turn, builds each twin's service view, keeps the ones that
 * satisfy the WHERE condition and hands them to the caller's row handler.
 * REST POST /devices/query pages with it; jobs find their devices with it
 * (ngx_iothub_query_parse_condition() and a handler that takes every row).
 *
 * A devices query whose condition requires a tag to equal a string (see
 * ngx_iothub_query_tag_equality()) walks that tag's index set instead of
 * every device, once the index is complete (docs/redis-schema.md).
 *
 * Where a run is: after the row (device id, module id) it last took; a
 * module id "" means after the whole device.  Rows come in device id
 * order, modules of a device in module id order, so a later run from the
 * same place goes on where this one stopped (rows added or deleted
 * meanwhile are seen or not, as in the hub: eventually consistent).
 */


#ifndef _NGX_IOTHUB_QUERY_SERVICE_H_INCLUDED_
#define _NGX_IOTHUB_QUERY_SERVICE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_query.h"
#include "ngx_iothub_reply.h"


/* device ids read per Redis command */
#define NGX_IOTHUB_QUERY_CHUNK        200

/* ids are at most 128 characters (rest.md 3) */
#define NGX_IOTHUB_QUERY_ID_LEN       128

/* a tag index key: "<prefix>tagidx:<path>\n<value>"; longer ones scan */
#define NGX_IOTHUB_QUERY_INDEX_LEN    1024


typedef enum {
    NGX_IOTHUB_QUERY_RUN_END = 0,      /* the collection was walked */
    NGX_IOTHUB_QUERY_RUN_MORE,         /* stopped; more may follow */
    NGX_IOTHUB_QUERY_RUN_UNAVAILABLE,  /* Redis went away: 503 */
    NGX_IOTHUB_QUERY_RUN_FAILED        /* 500 */
} ngx_iothub_query_run_result_e;


typedef struct ngx_iothub_query_run_s  ngx_iothub_query_run_t;

/*
 * Called for every document that satisfies the condition, with its ids.
 * Returns NGX_OK (taken: the place moves past it), NGX_DONE (not taken:
 * stop with MORE), NGX_DECLINED (not taken: stop with END) or NGX_ERROR
 * (stop with FAILED).  doc is valid only during the call.
 */
typedef ngx_int_t (*ngx_iothub_query_row_pt)(ngx_iothub_query_run_t *run,
    yajl_val doc, ngx_str_t *device_id, ngx_str_t *module_id);

typedef void (*ngx_iothub_query_done_pt)(ngx_iothub_query_run_t *run);


/*
 * Where a collection's rows come from (ngx_iothub_query_sources[] of
 * ngx_iothub_query_service.c, by collection): starts reading the chunk
 * after the run's place and answers NGX_OK, or NGX_DONE when it has no
 * rows, NGX_DECLINED when Redis is down, NGX_ERROR.  When the chunk is
 * read, the source offers each document with ngx_iothub_query_offer()
 * (stopping at the first answer that is not NGX_OK), then calls
 * ngx_iothub_query_next(), or ngx_iothub_query_finish() when the read
 * failed.  The twins' source is
 * the model; devices.jobs reads device job records the same way, with the
 * job id where the twins have a module id (ngx_iothub_job_query.c).
 */
typedef ngx_int_t (*ngx_iothub_query_source_pt)(ngx_iothub_query_run_t *run);


/*
 * Owned by the caller, who sets the fields up to "budget" and calls
 * ngx_iothub_query_run().  The done handler runs once, unless the run
 * ended at once (see there) or was cancelled.
 */
struct ngx_iothub_query_run_s {
    ngx_iothub_hub_t                *hub;
    ngx_log_t                       *log;
    const ngx_iothub_query_t        *query;
    ngx_iothub_query_row_pt          row;
    ngx_iothub_query_done_pt         done;
    void                            *data;

    /* the place: in from a continuation, out for the next one */
    u_char                           device_id[NGX_IOTHUB_QUERY_ID_LEN + 1];
    u_char                           module_id[NGX_IOTHUB_QUERY_ID_LEN + 1];

    /* twins examined before stopping with MORE; 0: no limit */
    ngx_uint_t                       budget;

    ngx_iothub_query_run_result_e    result;
    ngx_uint_t                       examined;

    /* the tag index set the run may walk; len 0: none */
    u_char                           index[NGX_IOTHUB_QUERY_INDEX_LEN];
    size_t                           index_len;

    ngx_iothub_query_source_pt       source;
    ngx_iothub_redis_call_t         *call;
    yajl_gen                         gen;
};


/*
 * Starts a run: NGX_OK (the done handler will run), NGX_DONE (ended at
 * once with run->result set, the handler does not run), NGX_DECLINED
 * (Redis is down) or NGX_ERROR.
 */
ngx_int_t ngx_iothub_query_run(ngx_iothub_query_run_t *run);

/* The done handler will not run; safe when nothing is pending. */
void ngx_iothub_query_cancel(ngx_iothub_query_run_t *run);

/*
 * For row sources: a document read (its ids as the row handler gets them);
 * it is matched against the condition and, if it satisfies it, handed to
 * the row handler.  Returns NGX_OK (not matching, or taken) or the row
 * handler's answer.
 */
ngx_int_t ngx_iothub_query_offer(ngx_iothub_query_run_t *run, yajl_val doc,
    ngx_str_t *device_id, ngx_str_t *module_id);

/*
 * For row sources: a chunk was offered; rc is the first answer of
 * ngx_iothub_query_offer() that was not NGX_OK, else NGX_OK; next (len
 * bytes) is the last device id the chunk read, len 0 when the collection
 * ended.  Finishes the run or asks the source for the next chunk (after
 * next), unless the budget is spent.
 */
void ngx_iothub_query_next(ngx_iothub_query_run_t *run, ngx_int_t rc,
    const u_char *next, size_t len);

/* The row source of devices.jobs (ngx_iothub_job_query.c). */
ngx_int_t ngx_iothub_query_source_jobs(ngx_iothub_query_run_t *run);

/* For row sources: ends the run with result; the done handler runs. */
void ngx_iothub_query_finish(ngx_iothub_query_run_t *run,
    ngx_iothub_query_run_result_e result);

/*
 * For row sources: what the decoder said of the reply of script (a chunk
 * of rows): 1 when it read (OK), else 0 and the run finished:
 * UNAVAILABLE when Redis went away, FAILED (logged) otherwise.
 */
int ngx_iothub_query_chunk_read(ngx_iothub_query_run_t *run,
    ngx_iothub_reply_rc_e rc, const char *script);


#endif /* _NGX_IOTHUB_QUERY_SERVICE_H_INCLUDED_ */
