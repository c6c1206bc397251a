
/*
 * nginx-iothub: the parsed form of a query, shared by the parser
 * (ngx_iothub_query_parse.c) and the evaluator (ngx_iothub_query_eval.c)
 * only.
 */


#ifndef _NGX_IOTHUB_QUERY_INT_H_INCLUDED_
#define _NGX_IOTHUB_QUERY_INT_H_INCLUDED_


#include "ngx_iothub_query.h"


typedef enum {
    NGX_IOTHUB_QV_UNDEFINED = 0,
    NGX_IOTHUB_QV_NULL,
    NGX_IOTHUB_QV_BOOL,
    NGX_IOTHUB_QV_NUMBER,
    NGX_IOTHUB_QV_STRING,
    NGX_IOTHUB_QV_OBJECT,             /* a document's object or array */
} ngx_iothub_qv_type_e;


/* a value while evaluating; strings point into the query or a document */
typedef struct {
    ngx_iothub_qv_type_e           type;
    int                            b;
    double                         num;
    const char                    *str;
    size_t                         len;
    yajl_val                       v;        /* OBJECT; a document's node */
} ngx_iothub_qv_t;


typedef enum {
    NGX_IOTHUB_QN_CONST = 0,
    NGX_IOTHUB_QN_PATH,
    NGX_IOTHUB_QN_NOT,
    NGX_IOTHUB_QN_NEG,
    NGX_IOTHUB_QN_BINARY,
    NGX_IOTHUB_QN_IN,
    NGX_IOTHUB_QN_NIN,
    NGX_IOTHUB_QN_IS_DEFINED,
    NGX_IOTHUB_QN_AGGREGATE
} ngx_iothub_qn_kind_e;


typedef enum {
    NGX_IOTHUB_QOP_ADD = 0,
    NGX_IOTHUB_QOP_SUB,
    NGX_IOTHUB_QOP_MUL,
    NGX_IOTHUB_QOP_DIV,
    NGX_IOTHUB_QOP_MOD,
    NGX_IOTHUB_QOP_EQ,
    NGX_IOTHUB_QOP_NE,
    NGX_IOTHUB_QOP_LT,
    NGX_IOTHUB_QOP_GT,
    NGX_IOTHUB_QOP_LE,
    NGX_IOTHUB_QOP_GE,
    NGX_IOTHUB_QOP_AND,
    NGX_IOTHUB_QOP_OR
} ngx_iothub_qop_e;


typedef enum {
    NGX_IOTHUB_QAGG_COUNT = 0,
    NGX_IOTHUB_QAGG_SUM,
    NGX_IOTHUB_QAGG_AVG,
    NGX_IOTHUB_QAGG_MIN,
    NGX_IOTHUB_QAGG_MAX
} ngx_iothub_qagg_e;


typedef struct ngx_iothub_qnode_s  ngx_iothub_qnode_t;

struct ngx_iothub_qnode_s {
    ngx_iothub_qn_kind_e           kind;
    ngx_iothub_qop_e               op;           /* BINARY */
    ngx_iothub_qagg_e              agg;          /* AGGREGATE */
    ngx_iothub_qnode_t            *left;         /* operand, argument */
    ngx_iothub_qnode_t            *right;
    ngx_iothub_qv_t                value;        /* CONST */
    char                         **seg;          /* PATH */
    size_t                         nseg;
    ngx_iothub_qv_t               *list;         /* IN, NIN constants */
    size_t                         nlist;
};


typedef struct {
    ngx_iothub_qnode_t            *expr;
    char                          *alias;        /* NULL: none given */
} ngx_iothub_qproj_t;


struct ngx_iothub_query_s {
    ngx_iothub_query_collection_e  collection;
    unsigned long                  top;
    int                            star;
    int                            aggregate;
    ngx_iothub_qproj_t            *proj;
    size_t                         nproj;
    ngx_iothub_qnode_t            *where;        /* NULL: none */
    ngx_iothub_qnode_t            *group_by;     /* a PATH or NULL */

    /* every node and string, freed together */
    void                         **owned;
    size_t                         nowned;
    size_t                         owned_cap;
};


#endif /* _NGX_IOTHUB_QUERY_INT_H_INCLUDED_ */
