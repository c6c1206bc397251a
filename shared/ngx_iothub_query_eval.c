
/*
 * nginx-iothub: the query evaluator over JSON documents; see
 * ngx_iothub_query.h.
 */


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ngx_iothub_query_int.h"
#include "ngx_iothub_json.h"


#define NGX_IOTHUB_QAGG_BUCKETS  1024


typedef struct {
    double                         sum;
    double                         min;
    double                         max;
    unsigned long                  numbers;
    unsigned long                  count;
} ngx_iothub_qacc_t;


typedef struct ngx_iothub_qgroup_s  ngx_iothub_qgroup_t;

struct ngx_iothub_qgroup_s {
    ngx_iothub_qgroup_t           *next;      /* in its bucket */
    char                          *key;       /* type-tagged, see _key() */
    size_t                         key_len;
    yajl_val                       value;     /* the key's value; NULL */
    int                            defined;
    ngx_iothub_qacc_t             *acc;       /* one per projection */
};


struct ngx_iothub_query_agg_s {
    const ngx_iothub_query_t      *q;
    ngx_iothub_qgroup_t           *buckets[NGX_IOTHUB_QAGG_BUCKETS];
    ngx_iothub_qgroup_t          **groups;    /* first-seen order */
    size_t                         ngroups;
    size_t                         cap;
};


static yajl_val ngx_iothub_qe_member(yajl_val obj, const char *name,
    int any_case, const char **key);
static yajl_val ngx_iothub_qe_resolve(const ngx_iothub_qnode_t *path,
    yajl_val doc, const char **key);
static void ngx_iothub_qe_from_json(yajl_val v, ngx_iothub_qv_t *out);
static void ngx_iothub_qe_eval(const ngx_iothub_qnode_t *n, yajl_val doc,
    ngx_iothub_qv_t *out);
static void ngx_iothub_qe_binary(const ngx_iothub_qnode_t *n, yajl_val doc,
    ngx_iothub_qv_t *out);
static void ngx_iothub_qe_logic(ngx_iothub_qop_e op, const ngx_iothub_qv_t *a,
    const ngx_iothub_qv_t *b, ngx_iothub_qv_t *out);
static void ngx_iothub_qe_arith(ngx_iothub_qop_e op, const ngx_iothub_qv_t *a,
    const ngx_iothub_qv_t *b, ngx_iothub_qv_t *out);
static int ngx_iothub_qe_compare(const ngx_iothub_qv_t *a,
    const ngx_iothub_qv_t *b, int *order);
static void ngx_iothub_qe_in(const ngx_iothub_qnode_t *n, yajl_val doc,
    ngx_iothub_qv_t *out);
static yajl_gen_status ngx_iothub_qe_gen(yajl_gen g, const ngx_iothub_qv_t *v);
static yajl_gen_status ngx_iothub_qe_gen_number(yajl_gen g, double d);
static yajl_gen_status ngx_iothub_qe_gen_key(yajl_gen g,
    const ngx_iothub_qproj_t *proj, size_t i, const char *doc_key);
static ngx_iothub_query_rc_e ngx_iothub_qe_key(const ngx_iothub_qv_t *v,
    char **key, size_t *len);
static ngx_iothub_qgroup_t *ngx_iothub_qe_group(ngx_iothub_query_agg_t *a,
    yajl_val doc, ngx_iothub_query_rc_e *rc);
static ngx_iothub_qgroup_t *ngx_iothub_qe_group_add(ngx_iothub_query_agg_t *a,
    const ngx_iothub_qv_t *v, char *key, size_t len, size_t bucket);
static void ngx_iothub_qe_accumulate(const ngx_iothub_qnode_t *n,
    yajl_val doc, ngx_iothub_qacc_t *acc);
static yajl_gen_status ngx_iothub_qe_gen_group(ngx_iothub_query_agg_t *a,
    ngx_iothub_qgroup_t *gr, yajl_gen g);
static yajl_gen_status ngx_iothub_qe_gen_aggregate(yajl_gen g,
    const ngx_iothub_qnode_t *n, const ngx_iothub_qacc_t *acc);


ngx_iothub_query_collection_e
ngx_iothub_query_collection(const ngx_iothub_query_t *q)
{
    return q->collection;
}


unsigned long
ngx_iothub_query_top(const ngx_iothub_query_t *q)
{
    return q->top;
}


int
ngx_iothub_query_is_star(const ngx_iothub_query_t *q)
{
    return q->star;
}


int
ngx_iothub_query_is_aggregate(const ngx_iothub_query_t *q)
{
    return q->aggregate;
}


const char *
ngx_iothub_query_item_type(const ngx_iothub_query_t *q)
{
    if (!q->star) {
        return "Raw";
    }

    return q->collection == NGX_IOTHUB_QUERY_JOBS ? "DeviceJob" : "Twin";
}


int
ngx_iothub_query_tag_equality(const ngx_iothub_query_t *q, char *path,
    size_t path_size, char *value, size_t value_size)
{
    size_t                     i, n;
    const ngx_iothub_qnode_t  *t, *l, *r, *stack[NGX_IOTHUB_QUERY_DEPTH_MAX];

    if (q->where == NULL) {
        return 0;
    }

    n = 0;
    stack[n++] = q->where;

    while (n) {
        t = stack[--n];

        if (t->kind == NGX_IOTHUB_QN_BINARY && t->op == NGX_IOTHUB_QOP_AND) {
            if (n + 2 > NGX_IOTHUB_QUERY_DEPTH_MAX) {
                return 0;
            }

            stack[n++] = t->right;
            stack[n++] = t->left;
            continue;
        }

        if (t->kind != NGX_IOTHUB_QN_BINARY || t->op != NGX_IOTHUB_QOP_EQ) {
            continue;
        }

        l = t->left;
        r = t->right;

        if (l->kind == NGX_IOTHUB_QN_CONST) {
            l = t->right;
            r = t->left;
        }

        if (l->kind != NGX_IOTHUB_QN_PATH || l->nseg < 2
            || strcasecmp(l->seg[0], "tags") != 0
            || r->kind != NGX_IOTHUB_QN_CONST
            || r->value.type != NGX_IOTHUB_QV_STRING
            || r->value.len >= value_size
            || memchr(r->value.str, '\0', r->value.len) != NULL)
        {
            continue;
        }

        path[0] = '\0';

        for (i = 1; i < l->nseg; i++) {
            if (strlen(path) + strlen(l->seg[i]) + 2 > path_size) {
                return 0;
            }

            if (i > 1) {
                strcat(path, ".");
            }

            strcat(path, l->seg[i]);
        }

        memcpy(value, r->value.str, r->value.len);
        value[r->value.len] = '\0';

        return 1;
    }

    return 0;
}


int
ngx_iothub_query_match(const ngx_iothub_query_t *q, yajl_val doc)
{
    ngx_iothub_qv_t  v;

    if (q->where == NULL) {
        return 1;
    }

    ngx_iothub_qe_eval(q->where, doc, &v);

    return v.type == NGX_IOTHUB_QV_BOOL && v.b;
}


ngx_iothub_query_rc_e
ngx_iothub_query_emit_row(const ngx_iothub_query_t *q, yajl_val doc,
    yajl_gen g)
{
    size_t                     i;
    const char                *key;
    ngx_iothub_qv_t            v;
    yajl_gen_status            st;
    const ngx_iothub_qnode_t  *e;

    if (q->star) {
        st = ngx_iothub_json_gen_value(g, doc);
        return st == yajl_gen_status_ok ? NGX_IOTHUB_QUERY_OK
                                        : NGX_IOTHUB_QUERY_GEN_ERROR;
    }

    st = yajl_gen_map_open(g);

    for (i = 0; st == yajl_gen_status_ok && i < q->nproj; i++) {
        e = q->proj[i].expr;
        key = NULL;

        if (e->kind == NGX_IOTHUB_QN_PATH) {
            ngx_iothub_qe_from_json(ngx_iothub_qe_resolve(e, doc, &key), &v);

        } else {
            ngx_iothub_qe_eval(e, doc, &v);
        }

        if (v.type == NGX_IOTHUB_QV_UNDEFINED) {
            continue;
        }

        st = ngx_iothub_qe_gen_key(g, &q->proj[i], i, key);

        if (st == yajl_gen_status_ok) {
            st = ngx_iothub_qe_gen(g, &v);
        }
    }

    if (st == yajl_gen_status_ok) {
        st = yajl_gen_map_close(g);
    }

    return st == yajl_gen_status_ok ? NGX_IOTHUB_QUERY_OK
                                    : NGX_IOTHUB_QUERY_GEN_ERROR;
}


/* a member of an object: exactly named first, then in any case if asked */

static yajl_val
ngx_iothub_qe_member(yajl_val obj, const char *name, int any_case,
    const char **key)
{
    size_t  i;

    if (obj == NULL || !YAJL_IS_OBJECT(obj)) {
        return NULL;
    }

    for (i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], name) == 0) {
            *key = obj->u.object.keys[i];
            return obj->u.object.values[i];
        }
    }

    for (i = 0; any_case && i < obj->u.object.len; i++) {
        if (strcasecmp(obj->u.object.keys[i], name) == 0) {
            *key = obj->u.object.keys[i];
            return obj->u.object.values[i];
        }
    }

    return NULL;
}


/* NULL: undefined; *key: the last segment as the document spells it */

static yajl_val
ngx_iothub_qe_resolve(const ngx_iothub_qnode_t *path, yajl_val doc,
    const char **key)
{
    int          any_case;
    size_t       i;
    yajl_val     v;
    const char  *k, *first;

    v = doc;
    first = NULL;
    k = NULL;

    for (i = 0; v && i < path->nseg; i++) {
        any_case = (i == 0)
                   || (i == 1 && first && strcmp(first, "properties") == 0);

        v = ngx_iothub_qe_member(v, path->seg[i], any_case, &k);

        if (i == 0) {
            first = k;
        }
    }

    if (key) {
        *key = k;
    }

    return v;
}


static void
ngx_iothub_qe_from_json(yajl_val v, ngx_iothub_qv_t *out)
{
    memset(out, 0, sizeof(ngx_iothub_qv_t));

    out->v = v;

    if (v == NULL) {
        out->type = NGX_IOTHUB_QV_UNDEFINED;

    } else if (YAJL_IS_NULL(v)) {
        out->type = NGX_IOTHUB_QV_NULL;

    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        out->type = NGX_IOTHUB_QV_BOOL;
        out->b = YAJL_IS_TRUE(v);

    } else if (YAJL_IS_NUMBER(v)) {
        out->type = NGX_IOTHUB_QV_NUMBER;
        out->num = strtod(YAJL_GET_NUMBER(v), NULL);

    } else if (YAJL_IS_STRING(v)) {
        out->type = NGX_IOTHUB_QV_STRING;
        out->str = YAJL_GET_STRING(v);
        out->len = strlen(out->str);

    } else {
        out->type = NGX_IOTHUB_QV_OBJECT;
    }
}


static void
ngx_iothub_qe_eval(const ngx_iothub_qnode_t *n, yajl_val doc,
    ngx_iothub_qv_t *out)
{
    ngx_iothub_qv_t  a;

    memset(out, 0, sizeof(ngx_iothub_qv_t));

    switch (n->kind) {

    case NGX_IOTHUB_QN_CONST:
        *out = n->value;
        return;

    case NGX_IOTHUB_QN_PATH:
        ngx_iothub_qe_from_json(ngx_iothub_qe_resolve(n, doc, NULL), out);
        return;

    case NGX_IOTHUB_QN_NOT:
        ngx_iothub_qe_eval(n->left, doc, &a);

        if (a.type == NGX_IOTHUB_QV_BOOL) {
            out->type = NGX_IOTHUB_QV_BOOL;
            out->b = !a.b;
        }

        return;

    case NGX_IOTHUB_QN_NEG:
        ngx_iothub_qe_eval(n->left, doc, &a);

        if (a.type == NGX_IOTHUB_QV_NUMBER) {
            out->type = NGX_IOTHUB_QV_NUMBER;
            out->num = -a.num;
        }

        return;

    case NGX_IOTHUB_QN_BINARY:
        ngx_iothub_qe_binary(n, doc, out);
        return;

    case NGX_IOTHUB_QN_IN:
    case NGX_IOTHUB_QN_NIN:
        ngx_iothub_qe_in(n, doc, out);
        return;

    case NGX_IOTHUB_QN_IS_DEFINED:
        out->type = NGX_IOTHUB_QV_BOOL;
        out->b = ngx_iothub_qe_resolve(n->left, doc, NULL) != NULL;
        return;

    default:
        /* aggregates are evaluated by the aggregation only */
        return;
    }
}


static void
ngx_iothub_qe_binary(const ngx_iothub_qnode_t *n, yajl_val doc,
    ngx_iothub_qv_t *out)
{
    int              order;
    ngx_iothub_qv_t  a, b;

    ngx_iothub_qe_eval(n->left, doc, &a);

    /* AND and OR decide on one side when they can */

    if ((n->op == NGX_IOTHUB_QOP_AND && a.type == NGX_IOTHUB_QV_BOOL && !a.b)
        || (n->op == NGX_IOTHUB_QOP_OR && a.type == NGX_IOTHUB_QV_BOOL
            && a.b))
    {
        *out = a;
        return;
    }

    ngx_iothub_qe_eval(n->right, doc, &b);

    switch (n->op) {

    case NGX_IOTHUB_QOP_AND:
    case NGX_IOTHUB_QOP_OR:
        ngx_iothub_qe_logic(n->op, &a, &b, out);
        return;

    case NGX_IOTHUB_QOP_ADD:
    case NGX_IOTHUB_QOP_SUB:
    case NGX_IOTHUB_QOP_MUL:
    case NGX_IOTHUB_QOP_DIV:
    case NGX_IOTHUB_QOP_MOD:
        ngx_iothub_qe_arith(n->op, &a, &b, out);
        return;

    default:
        break;
    }

    if (!ngx_iothub_qe_compare(&a, &b, &order)) {
        return;
    }

    out->type = NGX_IOTHUB_QV_BOOL;

    switch (n->op) {
    case NGX_IOTHUB_QOP_EQ:  out->b = (order == 0); break;
    case NGX_IOTHUB_QOP_NE:  out->b = (order != 0); break;
    case NGX_IOTHUB_QOP_LT:  out->b = (order < 0); break;
    case NGX_IOTHUB_QOP_GT:  out->b = (order > 0); break;
    case NGX_IOTHUB_QOP_LE:  out->b = (order <= 0); break;
    default:                 out->b = (order >= 0); break;
    }
}


/* three-valued: a side that is not a boolean is unknown */

static void
ngx_iothub_qe_logic(ngx_iothub_qop_e op, const ngx_iothub_qv_t *a,
    const ngx_iothub_qv_t *b, ngx_iothub_qv_t *out)
{
    int  ka, kb;

    ka = (a->type == NGX_IOTHUB_QV_BOOL);
    kb = (b->type == NGX_IOTHUB_QV_BOOL);

    if (op == NGX_IOTHUB_QOP_AND) {
        if ((ka && !a->b) || (kb && !b->b)) {
            out->type = NGX_IOTHUB_QV_BOOL;
            out->b = 0;

        } else if (ka && kb) {
            out->type = NGX_IOTHUB_QV_BOOL;
            out->b = 1;
        }

        return;
    }

    if ((ka && a->b) || (kb && b->b)) {
        out->type = NGX_IOTHUB_QV_BOOL;
        out->b = 1;

    } else if (ka && kb) {
        out->type = NGX_IOTHUB_QV_BOOL;
        out->b = 0;
    }
}


static void
ngx_iothub_qe_arith(ngx_iothub_qop_e op, const ngx_iothub_qv_t *a,
    const ngx_iothub_qv_t *b, ngx_iothub_qv_t *out)
{
    double  r;

    if (a->type != NGX_IOTHUB_QV_NUMBER || b->type != NGX_IOTHUB_QV_NUMBER) {
        return;
    }

    switch (op) {

    case NGX_IOTHUB_QOP_ADD:
        r = a->num + b->num;
        break;

    case NGX_IOTHUB_QOP_SUB:
        r = a->num - b->num;
        break;

    case NGX_IOTHUB_QOP_MUL:
        r = a->num * b->num;
        break;

    case NGX_IOTHUB_QOP_DIV:
        if (b->num == 0) {
            return;
        }

        r = a->num / b->num;
        break;

    default:
        if (b->num == 0) {
            return;
        }

        r = fmod(a->num, b->num);
    }

    if (!isfinite(r)) {
        return;
    }

    out->type = NGX_IOTHUB_QV_NUMBER;
    out->num = r;
}


/* 1 and *order when both are primitives of one type, else 0 */

static int
ngx_iothub_qe_compare(const ngx_iothub_qv_t *a, const ngx_iothub_qv_t *b,
    int *order)
{
    int     c;
    size_t  n;

    if (a->type != b->type) {
        return 0;
    }

    switch (a->type) {

    case NGX_IOTHUB_QV_NULL:
        *order = 0;
        return 1;

    case NGX_IOTHUB_QV_BOOL:
        *order = a->b - b->b;
        return 1;

    case NGX_IOTHUB_QV_NUMBER:
        *order = (a->num > b->num) - (a->num < b->num);
        return 1;

    case NGX_IOTHUB_QV_STRING:
        n = a->len < b->len ? a->len : b->len;
        c = memcmp(a->str, b->str, n);
        *order = c ? c : (a->len > b->len) - (a->len < b->len);
        return 1;

    default:
        return 0;
    }
}


static void
ngx_iothub_qe_in(const ngx_iothub_qnode_t *n, yajl_val doc,
    ngx_iothub_qv_t *out)
{
    int              order, found;
    size_t           i;
    ngx_iothub_qv_t  a;

    ngx_iothub_qe_eval(n->left, doc, &a);

    if (a.type == NGX_IOTHUB_QV_UNDEFINED || a.type == NGX_IOTHUB_QV_OBJECT) {
        return;
    }

    found = 0;

    for (i = 0; i < n->nlist && !found; i++) {
        found = ngx_iothub_qe_compare(&a, &n->list[i], &order) && order == 0;
    }

    out->type = NGX_IOTHUB_QV_BOOL;
    out->b = (n->kind == NGX_IOTHUB_QN_IN) ? found : !found;
}


static yajl_gen_status
ngx_iothub_qe_gen(yajl_gen g, const ngx_iothub_qv_t *v)
{
    if (v->v) {
        return ngx_iothub_json_gen_value(g, v->v);
    }

    switch (v->type) {

    case NGX_IOTHUB_QV_BOOL:
        return yajl_gen_bool(g, v->b);

    case NGX_IOTHUB_QV_NUMBER:
        return ngx_iothub_qe_gen_number(g, v->num);

    case NGX_IOTHUB_QV_STRING:
        return yajl_gen_string(g, (const unsigned char *) v->str, v->len);

    default:
        return yajl_gen_null(g);
    }
}


/* integers without a fraction, as the twin wrote them */

static yajl_gen_status
ngx_iothub_qe_gen_number(yajl_gen g, double d)
{
    if (!isfinite(d)) {
        return yajl_gen_null(g);
    }

    if (d == floor(d) && fabs(d) < 9007199254740992.0) {
        return yajl_gen_integer(g, (long long) d);
    }

    return yajl_gen_double(g, d);
}


static yajl_gen_status
ngx_iothub_qe_gen_key(yajl_gen g, const ngx_iothub_qproj_t *proj, size_t i,
    const char *doc_key)
{
    char                       buf[32];
    const char                *key;
    const ngx_iothub_qnode_t  *e;

    e = proj->expr;

    if (proj->alias) {
        key = proj->alias;

    } else if (doc_key) {
        key = doc_key;

    } else if (e->kind == NGX_IOTHUB_QN_PATH) {
        key = e->seg[e->nseg - 1];

    } else {
        snprintf(buf, sizeof(buf), "$%zu", i + 1);
        key = buf;
    }

    return yajl_gen_string(g, (const unsigned char *) key, strlen(key));
}


ngx_iothub_query_agg_t *
ngx_iothub_query_agg_create(const ngx_iothub_query_t *q)
{
    ngx_iothub_query_agg_t  *a;

    a = calloc(1, sizeof(ngx_iothub_query_agg_t));
    if (a == NULL) {
        return NULL;
    }

    a->q = q;

    return a;
}


ngx_iothub_query_rc_e
ngx_iothub_query_agg_add(ngx_iothub_query_agg_t *a, yajl_val doc)
{
    size_t                 i;
    ngx_iothub_qgroup_t   *gr;
    ngx_iothub_query_rc_e  rc;

    gr = ngx_iothub_qe_group(a, doc, &rc);
    if (gr == NULL) {
        return rc;
    }

    for (i = 0; i < a->q->nproj; i++) {
        if (a->q->proj[i].expr->kind == NGX_IOTHUB_QN_AGGREGATE) {
            ngx_iothub_qe_accumulate(a->q->proj[i].expr, doc, &gr->acc[i]);
        }
    }

    return NGX_IOTHUB_QUERY_OK;
}


ngx_iothub_query_rc_e
ngx_iothub_query_agg_emit(ngx_iothub_query_agg_t *a, yajl_gen g)
{
    size_t                 i;
    ngx_iothub_qgroup_t   *gr;
    ngx_iothub_query_rc_e  rc;

    /* without GROUP BY there is one row, also over no documents */

    if (a->ngroups == 0 && a->q->group_by == NULL) {
        gr = ngx_iothub_qe_group(a, NULL, &rc);
        if (gr == NULL) {
            return rc;
        }
    }

    for (i = 0; i < a->ngroups; i++) {
        if (ngx_iothub_qe_gen_group(a, a->groups[i], g)
            != yajl_gen_status_ok)
        {
            return NGX_IOTHUB_QUERY_GEN_ERROR;
        }
    }

    return NGX_IOTHUB_QUERY_OK;
}


void
ngx_iothub_query_agg_free(ngx_iothub_query_agg_t *a)
{
    size_t                i;
    ngx_iothub_qgroup_t  *gr;

    if (a == NULL) {
        return;
    }

    for (i = 0; i < a->ngroups; i++) {
        gr = a->groups[i];
        yajl_tree_free(gr->value);
        free(gr->key);
        free(gr->acc);
        free(gr);
    }

    free(a->groups);
    free(a);
}


/* a group key: the value's type, then its canonical bytes */

static ngx_iothub_query_rc_e
ngx_iothub_qe_key(const ngx_iothub_qv_t *v, char **key, size_t *len)
{
    char                 *k;
    size_t                n;
    yajl_gen              g;
    const unsigned char  *json;

    g = NULL;
    json = NULL;
    n = 32;

    if (v->type == NGX_IOTHUB_QV_STRING) {
        n = v->len + 1;

    } else if (v->type == NGX_IOTHUB_QV_OBJECT) {
        g = yajl_gen_alloc(NULL);

        if (g == NULL || ngx_iothub_json_gen_value(g, v->v)
                         != yajl_gen_status_ok
            || yajl_gen_get_buf(g, &json, &n) != yajl_gen_status_ok)
        {
            if (g) {
                yajl_gen_free(g);
            }

            return NGX_IOTHUB_QUERY_NO_MEMORY;
        }

        n++;
    }

    k = malloc(n + 1);
    if (k == NULL) {
        if (g) {
            yajl_gen_free(g);
        }

        return NGX_IOTHUB_QUERY_NO_MEMORY;
    }

    k[0] = (char) ('0' + v->type);

    switch (v->type) {

    case NGX_IOTHUB_QV_BOOL:
        n = 1 + snprintf(k + 1, 31, "%d", v->b);
        break;

    case NGX_IOTHUB_QV_NUMBER:
        n = 1 + snprintf(k + 1, 31, "%.17g", v->num);
        break;

    case NGX_IOTHUB_QV_STRING:
        memcpy(k + 1, v->str, v->len);
        n = 1 + v->len;
        break;

    case NGX_IOTHUB_QV_OBJECT:
        memcpy(k + 1, json, n - 1);
        yajl_gen_free(g);
        break;

    default:
        n = 1;
    }

    *key = k;
    *len = n;

    return NGX_IOTHUB_QUERY_OK;
}


static ngx_iothub_qgroup_t *
ngx_iothub_qe_group(ngx_iothub_query_agg_t *a, yajl_val doc,
    ngx_iothub_query_rc_e *rc)
{
    char                 *key;
    size_t                len, i, h;
    ngx_iothub_qv_t       v;
    ngx_iothub_qgroup_t  *gr;

    memset(&v, 0, sizeof(ngx_iothub_qv_t));

    if (a->q->group_by && doc) {
        ngx_iothub_qe_from_json(ngx_iothub_qe_resolve(a->q->group_by, doc,
                                                       NULL),
                                &v);
    }

    *rc = ngx_iothub_qe_key(&v, &key, &len);
    if (*rc != NGX_IOTHUB_QUERY_OK) {
        return NULL;
    }

    h = 2166136261u;

    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char) key[i]) * 16777619u;
    }

    h %= NGX_IOTHUB_QAGG_BUCKETS;

    for (gr = a->buckets[h]; gr; gr = gr->next) {
        if (gr->key_len == len && memcmp(gr->key, key, len) == 0) {
            free(key);
            return gr;
        }
    }

    if (a->ngroups == NGX_IOTHUB_QUERY_GROUPS_MAX) {
        free(key);
        *rc = NGX_IOTHUB_QUERY_TOO_MANY_GROUPS;
        return NULL;
    }

    gr = ngx_iothub_qe_group_add(a, &v, key, len, h);

    if (gr == NULL) {
        free(key);
        *rc = NGX_IOTHUB_QUERY_NO_MEMORY;
    }

    return gr;
}


static ngx_iothub_qgroup_t *
ngx_iothub_qe_group_add(ngx_iothub_query_agg_t *a, const ngx_iothub_qv_t *v,
    char *key, size_t len, size_t bucket)
{
    char                  *text;
    size_t                 cap, n;
    yajl_gen               g;
    ngx_iothub_qgroup_t   *gr, **groups;
    const unsigned char   *json;

    if (a->ngroups == a->cap) {
        cap = a->cap ? 2 * a->cap : 16;

        groups = realloc(a->groups, cap * sizeof(ngx_iothub_qgroup_t *));
        if (groups == NULL) {
            return NULL;
        }

        a->groups = groups;
        a->cap = cap;
    }

    gr = calloc(1, sizeof(ngx_iothub_qgroup_t));
    if (gr == NULL) {
        return NULL;
    }

    gr->acc = calloc(a->q->nproj ? a->q->nproj : 1, sizeof(ngx_iothub_qacc_t));
    if (gr->acc == NULL) {
        free(gr);
        return NULL;
    }

    gr->defined = (v->type != NGX_IOTHUB_QV_UNDEFINED);

    /* the key's value outlives the document: keep a copy of it */

    if (gr->defined) {
        g = yajl_gen_alloc(NULL);
        text = NULL;

        if (g && ngx_iothub_qe_gen(g, v) == yajl_gen_status_ok
            && yajl_gen_get_buf(g, &json, &n) == yajl_gen_status_ok)
        {
            text = malloc(n + 1);

            if (text) {
                memcpy(text, json, n);
                text[n] = '\0';
                gr->value = yajl_tree_parse(text, NULL, 0);
                free(text);
            }
        }

        if (g) {
            yajl_gen_free(g);
        }

        if (gr->value == NULL) {
            free(gr->acc);
            free(gr);
            return NULL;
        }
    }

    gr->key = key;
    gr->key_len = len;
    gr->next = a->buckets[bucket];
    a->buckets[bucket] = gr;
    a->groups[a->ngroups++] = gr;

    return gr;
}


static void
ngx_iothub_qe_accumulate(const ngx_iothub_qnode_t *n, yajl_val doc,
    ngx_iothub_qacc_t *acc)
{
    ngx_iothub_qv_t  v;

    acc->count++;

    if (n->agg == NGX_IOTHUB_QAGG_COUNT) {
        return;
    }

    ngx_iothub_qe_from_json(ngx_iothub_qe_resolve(n->left, doc, NULL), &v);

    if (v.type != NGX_IOTHUB_QV_NUMBER) {
        return;
    }

    if (acc->numbers == 0 || v.num < acc->min) {
        acc->min = v.num;
    }

    if (acc->numbers == 0 || v.num > acc->max) {
        acc->max = v.num;
    }

    acc->sum += v.num;
    acc->numbers++;
}


static yajl_gen_status
ngx_iothub_qe_gen_group(ngx_iothub_query_agg_t *a, ngx_iothub_qgroup_t *gr,
    yajl_gen g)
{
    size_t                     i;
    const char                *key;
    yajl_gen_status            st;
    const ngx_iothub_qproj_t  *proj;

    st = yajl_gen_map_open(g);

    for (i = 0; st == yajl_gen_status_ok && i < a->q->nproj; i++) {
        proj = &a->q->proj[i];

        if (proj->expr->kind != NGX_IOTHUB_QN_AGGREGATE) {
            if (!gr->defined) {
                continue;
            }

            key = proj->alias ? proj->alias
                              : proj->expr->seg[proj->expr->nseg - 1];

            st = yajl_gen_string(g, (const unsigned char *) key, strlen(key));

            if (st == yajl_gen_status_ok) {
                st = ngx_iothub_json_gen_value(g, gr->value);
            }

            continue;
        }

        /* AVG, MIN and MAX over no numbers are undefined */

        if (proj->expr->agg != NGX_IOTHUB_QAGG_COUNT
            && proj->expr->agg != NGX_IOTHUB_QAGG_SUM
            && gr->acc[i].numbers == 0)
        {
            continue;
        }

        st = ngx_iothub_qe_gen_key(g, proj, i, NULL);

        if (st == yajl_gen_status_ok) {
            st = ngx_iothub_qe_gen_aggregate(g, proj->expr, &gr->acc[i]);
        }
    }

    return st == yajl_gen_status_ok ? yajl_gen_map_close(g) : st;
}


static yajl_gen_status
ngx_iothub_qe_gen_aggregate(yajl_gen g, const ngx_iothub_qnode_t *n,
    const ngx_iothub_qacc_t *acc)
{
    switch (n->agg) {

    case NGX_IOTHUB_QAGG_COUNT:
        return yajl_gen_integer(g, (long long) acc->count);

    case NGX_IOTHUB_QAGG_SUM:
        return ngx_iothub_qe_gen_number(g, acc->sum);

    case NGX_IOTHUB_QAGG_AVG:
        return ngx_iothub_qe_gen_number(g, acc->sum / acc->numbers);

    case NGX_IOTHUB_QAGG_MIN:
        return ngx_iothub_qe_gen_number(g, acc->min);

    default:
        return ngx_iothub_qe_gen_number(g, acc->max);
    }
}
