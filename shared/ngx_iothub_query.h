
/*
 * nginx-iothub: the IoT Hub query language (rest.md 9): a parser and an
 * evaluator over twin (and device job) JSON documents.
 *
 * Pure C: libc, libm and yajl 2.1 only, no nginx headers, no global
 * mutable state, nothing is logged.  A parsed query is read-only and may
 * be evaluated over any number of documents; an aggregation keeps its
 * groups in its own state.
 *
 * Semantics: a missing member is undefined; only true satisfies WHERE;
 * comparisons are between primitives of one type (numbers, strings,
 * booleans, null), anything else is undefined; AND, OR and NOT are
 * three-valued.  The first path segment matches the document's top-level
 * member without regard to case (an exact match first), and so does the
 * segment after "properties" ("desired", "reported"); deeper segments are
 * case-sensitive.  A path may start with its collection's name
 * ("devices.jobs.jobId"), which is dropped.
 */


#ifndef _NGX_IOTHUB_QUERY_H_INCLUDED_
#define _NGX_IOTHUB_QUERY_H_INCLUDED_


#include <stddef.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>


/* rest.md 9: the longest query text */
#define NGX_IOTHUB_QUERY_MAX_LEN      8192

/* how deeply expressions nest, a guard for the recursive parser */
#define NGX_IOTHUB_QUERY_DEPTH_MAX    64

/* groups one aggregation may hold */
#define NGX_IOTHUB_QUERY_GROUPS_MAX   10000


typedef enum {
    NGX_IOTHUB_QUERY_OK = 0,
    NGX_IOTHUB_QUERY_SYNTAX,          /* 400 ArgumentInvalid: err names */
    NGX_IOTHUB_QUERY_UNSUPPORTED,     /* 400 ArgumentInvalid: valid, not */
    NGX_IOTHUB_QUERY_TOO_LONG,        /* 400: over 8192 characters */
    NGX_IOTHUB_QUERY_TOO_MANY_GROUPS, /* 400: GROUP BY over the limit */
    NGX_IOTHUB_QUERY_GEN_ERROR,       /* the caller's yajl_gen refused */
    NGX_IOTHUB_QUERY_NO_MEMORY
} ngx_iothub_query_rc_e;


typedef enum {
    NGX_IOTHUB_QUERY_DEVICES = 0,
    NGX_IOTHUB_QUERY_MODULES,         /* devices.modules */
    NGX_IOTHUB_QUERY_JOBS             /* devices.jobs */
} ngx_iothub_query_collection_e;


typedef struct ngx_iothub_query_s      ngx_iothub_query_t;
typedef struct ngx_iothub_query_agg_s  ngx_iothub_query_agg_t;


/*
 * Parses a whole query, text of len bytes (no NUL needed).  On OK *q is the
 * caller's, freed with ngx_iothub_query_free().  On any other result *q is
 * NULL and err (errlen bytes, NUL-terminated) says what and where, e.g.
 * "syntax error at position 15 (near 'FORM'): expected FROM".
 */
ngx_iothub_query_rc_e ngx_iothub_query_parse(const char *text, size_t len,
    ngx_iothub_query_t **q, char *err, size_t errlen);

/*
 * Parses a bare condition (a jobs v2 queryCondition, rest.md 10) as
 * "SELECT * FROM devices WHERE <text>".
 */
ngx_iothub_query_rc_e ngx_iothub_query_parse_condition(const char *text,
    size_t len, ngx_iothub_query_t **q, char *err, size_t errlen);

void ngx_iothub_query_free(ngx_iothub_query_t *q);


ngx_iothub_query_collection_e ngx_iothub_query_collection(
    const ngx_iothub_query_t *q);

/* TOP n, or 0 when the query has none */
unsigned long ngx_iothub_query_top(const ngx_iothub_query_t *q);

/* 1 for SELECT * (rows are whole documents) */
int ngx_iothub_query_is_star(const ngx_iothub_query_t *q);

/* 1 when the query aggregates (an aggregate or GROUP BY): see _agg_ */
int ngx_iothub_query_is_aggregate(const ngx_iothub_query_t *q);

/*
 * "Twin", "DeviceJob" or "Raw": the x-ms-item-type of the rows (projections
 * and aggregates are Raw).
 */
const char *ngx_iothub_query_item_type(const ngx_iothub_query_t *q);

/*
 * An index hint: when the WHERE condition is a conjunction (possibly of
 * one term) of which one term is "<path> = <string constant>" with path
 * under "tags.", writes the path after "tags." (segments joined by '.')
 * into path and the constant into value, both NUL-terminated, and returns
 * 1; 0 when there is none or a buffer is too small.  A document that
 * satisfies the condition has that tag leaf equal to that string.
 */
int ngx_iothub_query_tag_equality(const ngx_iothub_query_t *q, char *path,
    size_t path_size, char *value, size_t value_size);


/* 1 when doc satisfies the WHERE condition (always, without WHERE) */
int ngx_iothub_query_match(const ngx_iothub_query_t *q, yajl_val doc);

/*
 * Emits the row of a matching doc for a query that does not aggregate:
 * the document for SELECT *, else an object with one member per
 * projection that is defined (its alias, or the last segment of its path
 * as the document spells it).  Returns OK, GEN_ERROR or NO_MEMORY.
 */
ngx_iothub_query_rc_e ngx_iothub_query_emit_row(const ngx_iothub_query_t *q,
    yajl_val doc, yajl_gen g);


/*
 * Aggregation: create one per query run, add every matching document,
 * then emit the rows (one without GROUP BY, one per group with it), each
 * an object of the group key's alias and the aggregates' aliases (an
 * aggregate without alias is "$1", "$2", ... by its position).  SUM over
 * no numbers is 0, AVG, MIN and MAX over none are left out.  The state is
 * the caller's, freed with ngx_iothub_query_agg_free().  _add returns OK,
 * TOO_MANY_GROUPS or NO_MEMORY; _emit emits the rows as separate values
 * (not an array), in first-seen order of the groups.
 */
ngx_iothub_query_agg_t *ngx_iothub_query_agg_create(
    const ngx_iothub_query_t *q);
ngx_iothub_query_rc_e ngx_iothub_query_agg_add(ngx_iothub_query_agg_t *a,
    yajl_val doc);
ngx_iothub_query_rc_e ngx_iothub_query_agg_emit(ngx_iothub_query_agg_t *a,
    yajl_gen g);
void ngx_iothub_query_agg_free(ngx_iothub_query_agg_t *a);


#endif /* _NGX_IOTHUB_QUERY_H_INCLUDED_ */
