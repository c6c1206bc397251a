
/*
 * nginx-iothub: the query language's lexer and recursive-descent parser;
 * see ngx_iothub_query.h.  Grammar (rest.md 9), lowest precedence first:
 *
 *     query   = SELECT [TOP n] list FROM collection [WHERE expr]
 *               [GROUP BY path]
 *     list    = '*' | expr [AS name] {',' expr [AS name]}
 *     expr    = and {OR and}
 *     and     = not {AND not}
 *     not     = NOT not | compare
 *     compare = sum [('=' | '!=' | '<>' | '<' | '>' | '<=' | '>=') sum
 *               | [NOT] IN list | NIN list]
 *     sum     = product {('+' | '-') product}
 *     product = unary {('*' | '/' | '%') unary}
 *     unary   = '-' unary | primary
 *     primary = constant | '(' expr ')' | name '(' [args] ')' | path
 */


#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ngx_iothub_query_int.h"


typedef enum {
    NGX_IOTHUB_QT_END = 0,
    NGX_IOTHUB_QT_NAME,
    NGX_IOTHUB_QT_STRING,
    NGX_IOTHUB_QT_NUMBER,
    NGX_IOTHUB_QT_PUNCT
} ngx_iothub_qtok_e;


typedef struct {
    ngx_iothub_qtok_e              type;
    const char                    *start;    /* in the text */
    size_t                         len;
    char                          *str;      /* STRING: unescaped, owned */
    size_t                         str_len;
    double                         num;
} ngx_iothub_qtok_t;


typedef struct {
    const char                    *text;
    const char                    *pos;
    const char                    *last;
    ngx_iothub_qtok_t              tok;
    ngx_iothub_query_t            *q;
    ngx_iothub_query_rc_e          rc;
    char                          *err;
    size_t                         errlen;
    unsigned                       depth;
} ngx_iothub_qparser_t;


static void *ngx_iothub_qp_alloc(ngx_iothub_qparser_t *p, size_t size);
static void ngx_iothub_qp_fail(ngx_iothub_qparser_t *p,
    ngx_iothub_query_rc_e rc, const char *what);
static int ngx_iothub_qp_next(ngx_iothub_qparser_t *p);
static int ngx_iothub_qp_lex_string(ngx_iothub_qparser_t *p);
static int ngx_iothub_qp_lex_number(ngx_iothub_qparser_t *p);
static int ngx_iothub_qp_is(ngx_iothub_qparser_t *p, const char *word);
static int ngx_iothub_qp_accept(ngx_iothub_qparser_t *p, const char *word);
static int ngx_iothub_qp_expect(ngx_iothub_qparser_t *p, const char *word);
static int ngx_iothub_qp_query(ngx_iothub_qparser_t *p);
static int ngx_iothub_qp_top(ngx_iothub_qparser_t *p);
static int ngx_iothub_qp_list(ngx_iothub_qparser_t *p);
static int ngx_iothub_qp_collection(ngx_iothub_qparser_t *p);
static int ngx_iothub_qp_check(ngx_iothub_qparser_t *p);
static int ngx_iothub_qp_has_aggregate(const ngx_iothub_qnode_t *n);
static int ngx_iothub_qp_same_path(const ngx_iothub_qnode_t *a,
    const ngx_iothub_qnode_t *b);
static ngx_iothub_qnode_t *ngx_iothub_qp_node(ngx_iothub_qparser_t *p,
    ngx_iothub_qn_kind_e kind);
static ngx_iothub_qnode_t *ngx_iothub_qp_expr(ngx_iothub_qparser_t *p);
static ngx_iothub_qnode_t *ngx_iothub_qp_and(ngx_iothub_qparser_t *p);
static ngx_iothub_qnode_t *ngx_iothub_qp_not(ngx_iothub_qparser_t *p);
static ngx_iothub_qnode_t *ngx_iothub_qp_compare(ngx_iothub_qparser_t *p);
static ngx_iothub_qnode_t *ngx_iothub_qp_in(ngx_iothub_qparser_t *p,
    ngx_iothub_qnode_t *left, ngx_iothub_qn_kind_e kind);
static ngx_iothub_qnode_t *ngx_iothub_qp_sum(ngx_iothub_qparser_t *p);
static ngx_iothub_qnode_t *ngx_iothub_qp_product(ngx_iothub_qparser_t *p);
static ngx_iothub_qnode_t *ngx_iothub_qp_unary(ngx_iothub_qparser_t *p);
static ngx_iothub_qnode_t *ngx_iothub_qp_primary(ngx_iothub_qparser_t *p);
static ngx_iothub_qnode_t *ngx_iothub_qp_call(ngx_iothub_qparser_t *p);
static int ngx_iothub_qp_before_paren(ngx_iothub_qparser_t *p);
static ngx_iothub_qnode_t *ngx_iothub_qp_path(ngx_iothub_qparser_t *p);
static ngx_iothub_qnode_t *ngx_iothub_qp_binary(ngx_iothub_qparser_t *p,
    ngx_iothub_qop_e op, ngx_iothub_qnode_t *left,
    ngx_iothub_qnode_t *right);
static int ngx_iothub_qp_constant(ngx_iothub_qparser_t *p,
    ngx_iothub_qv_t *v);
static char *ngx_iothub_qp_name(ngx_iothub_qparser_t *p, int keyword_ok);


static const char  *ngx_iothub_qp_keywords[] = {
    "select", "top", "from", "where", "group", "by", "as", "and", "or",
    "not", "in", "nin", NULL
};


ngx_iothub_query_rc_e
ngx_iothub_query_parse(const char *text, size_t len, ngx_iothub_query_t **q,
    char *err, size_t errlen)
{
    ngx_iothub_qparser_t  p;

    *q = NULL;

    if (errlen) {
        err[0] = '\0';
    }

    if (len > NGX_IOTHUB_QUERY_MAX_LEN) {
        if (errlen) {
            snprintf(err, errlen, "the query is longer than %d characters",
                     NGX_IOTHUB_QUERY_MAX_LEN);
        }

        return NGX_IOTHUB_QUERY_TOO_LONG;
    }

    memset(&p, 0, sizeof(ngx_iothub_qparser_t));

    p.text = text;
    p.pos = text;
    p.last = text + len;
    p.err = err;
    p.errlen = errlen;

    p.q = calloc(1, sizeof(ngx_iothub_query_t));
    if (p.q == NULL) {
        return NGX_IOTHUB_QUERY_NO_MEMORY;
    }

    if (!ngx_iothub_qp_next(&p)
        || !ngx_iothub_qp_query(&p)
        || !ngx_iothub_qp_check(&p))
    {
        ngx_iothub_query_free(p.q);
        return p.rc;
    }

    *q = p.q;

    return NGX_IOTHUB_QUERY_OK;
}


ngx_iothub_query_rc_e
ngx_iothub_query_parse_condition(const char *text, size_t len,
    ngx_iothub_query_t **q, char *err, size_t errlen)
{
    char                   *buf;
    size_t                  n;
    ngx_iothub_query_rc_e   rc;

    static const char  prefix[] = "SELECT * FROM devices WHERE ";

    n = sizeof(prefix) - 1;

    if (len > NGX_IOTHUB_QUERY_MAX_LEN - n) {
        return ngx_iothub_query_parse(text, NGX_IOTHUB_QUERY_MAX_LEN + 1, q,
                                      err, errlen);
    }

    buf = malloc(n + len);
    if (buf == NULL) {
        return NGX_IOTHUB_QUERY_NO_MEMORY;
    }

    memcpy(buf, prefix, n);
    memcpy(buf + n, text, len);

    rc = ngx_iothub_query_parse(buf, n + len, q, err, errlen);

    free(buf);

    return rc;
}


void
ngx_iothub_query_free(ngx_iothub_query_t *q)
{
    size_t  i;

    if (q == NULL) {
        return;
    }

    for (i = 0; i < q->nowned; i++) {
        free(q->owned[i]);
    }

    free(q->owned);
    free(q);
}


/* every allocation of a parse belongs to the query */

static void *
ngx_iothub_qp_alloc(ngx_iothub_qparser_t *p, size_t size)
{
    void                *m, **owned;
    size_t               cap;
    ngx_iothub_query_t  *q;

    q = p->q;

    if (q->nowned == q->owned_cap) {
        cap = q->owned_cap ? 2 * q->owned_cap : 32;

        owned = realloc(q->owned, cap * sizeof(void *));
        if (owned == NULL) {
            ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_NO_MEMORY, NULL);
            return NULL;
        }

        q->owned = owned;
        q->owned_cap = cap;
    }

    m = calloc(1, size ? size : 1);
    if (m == NULL) {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_NO_MEMORY, NULL);
        return NULL;
    }

    q->owned[q->nowned++] = m;

    return m;
}


/* the first failure is the one reported */

static void
ngx_iothub_qp_fail(ngx_iothub_qparser_t *p, ngx_iothub_query_rc_e rc,
    const char *what)
{
    int          n;
    size_t       pos;
    const char  *start;

    if (p->rc != NGX_IOTHUB_QUERY_OK) {
        return;
    }

    p->rc = rc;

    if (p->errlen == 0 || what == NULL) {
        return;
    }

    start = p->tok.start ? p->tok.start : p->pos;
    pos = (size_t) (start - p->text) + 1;

    if (p->tok.type == NGX_IOTHUB_QT_END) {
        snprintf(p->err, p->errlen, "%s at position %zu (end of query): %s",
                 rc == NGX_IOTHUB_QUERY_SYNTAX ? "syntax error"
                                               : "unsupported query",
                 pos, what);
        return;
    }

    n = p->tok.len > 32 ? 32 : (int) p->tok.len;

    snprintf(p->err, p->errlen, "%s at position %zu (near '%.*s'): %s",
             rc == NGX_IOTHUB_QUERY_SYNTAX ? "syntax error"
                                           : "unsupported query",
             pos, n, start, what);
}


static int
ngx_iothub_qp_next(ngx_iothub_qparser_t *p)
{
    const char  *c;

    while (p->pos < p->last && isspace((unsigned char) *p->pos)) {
        p->pos++;
    }

    memset(&p->tok, 0, sizeof(ngx_iothub_qtok_t));
    p->tok.start = p->pos;

    if (p->pos == p->last) {
        p->tok.type = NGX_IOTHUB_QT_END;
        return 1;
    }

    c = p->pos;

    if (isalpha((unsigned char) *c) || *c == '_' || *c == '$') {
        while (c < p->last
               && (isalnum((unsigned char) *c) || *c == '_' || *c == '$'))
        {
            c++;
        }

        p->tok.type = NGX_IOTHUB_QT_NAME;
        p->tok.len = c - p->pos;
        p->pos = c;
        return 1;
    }

    if (*c == '\'' || *c == '"') {
        return ngx_iothub_qp_lex_string(p);
    }

    if (isdigit((unsigned char) *c)
        || (*c == '.' && c + 1 < p->last && isdigit((unsigned char) c[1])))
    {
        return ngx_iothub_qp_lex_number(p);
    }

    p->tok.type = NGX_IOTHUB_QT_PUNCT;
    p->tok.len = 1;

    if (c + 1 < p->last
        && ((c[0] == '!' && c[1] == '=') || (c[0] == '<' && c[1] == '>')
            || (c[0] == '<' && c[1] == '=') || (c[0] == '>' && c[1] == '=')))
    {
        p->tok.len = 2;

    } else if (strchr("*,.()[]=<>+-/%", *c) == NULL || *c == '\0') {
        p->tok.len = 1;
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_SYNTAX,
                           "unexpected character");
        return 0;
    }

    p->pos += p->tok.len;

    return 1;
}


/* 'text' or "text"; a backslash escapes the next character */

static int
ngx_iothub_qp_lex_string(ngx_iothub_qparser_t *p)
{
    char         quote, *out;
    size_t       n;
    const char  *c;

    quote = *p->pos;
    c = p->pos + 1;

    out = ngx_iothub_qp_alloc(p, p->last - p->pos);
    if (out == NULL) {
        return 0;
    }

    n = 0;

    while (c < p->last && *c != quote) {
        if (*c == '\\' && c + 1 < p->last) {
            c++;

            switch (*c) {
            case 'n':  out[n++] = '\n'; break;
            case 't':  out[n++] = '\t'; break;
            case 'r':  out[n++] = '\r'; break;
            default:   out[n++] = *c;
            }

            c++;
            continue;
        }

        out[n++] = *c++;
    }

    p->tok.type = NGX_IOTHUB_QT_STRING;
    p->tok.len = c - p->pos;

    if (c == p->last) {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_SYNTAX,
                           "unterminated string");
        return 0;
    }

    p->tok.len++;
    p->tok.str = out;
    p->tok.str_len = n;
    p->pos = c + 1;

    return 1;
}


static int
ngx_iothub_qp_lex_number(ngx_iothub_qparser_t *p)
{
    char         buf[64], *end;
    size_t       n;
    const char  *c;

    c = p->pos;

    if (c + 1 < p->last && c[0] == '0' && (c[1] == 'x' || c[1] == 'X')) {
        c += 2;

        while (c < p->last && isxdigit((unsigned char) *c)) {
            c++;
        }

    } else {
        while (c < p->last
               && (isdigit((unsigned char) *c) || *c == '.'
                   || ((*c == 'e' || *c == 'E') && c + 1 < p->last)
                   || ((*c == '+' || *c == '-')
                       && (c[-1] == 'e' || c[-1] == 'E'))))
        {
            c++;
        }
    }

    p->tok.type = NGX_IOTHUB_QT_NUMBER;
    p->tok.len = c - p->pos;
    n = p->tok.len;

    if (n >= sizeof(buf)) {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_SYNTAX, "number too long");
        return 0;
    }

    memcpy(buf, p->pos, n);
    buf[n] = '\0';

    if (n > 2 && (buf[1] == 'x' || buf[1] == 'X')) {
        p->tok.num = (double) strtoull(buf + 2, &end, 16);

    } else {
        p->tok.num = strtod(buf, &end);
    }

    if (*end != '\0' || (c < p->last && (isalpha((unsigned char) *c)
                                         || *c == '_')))
    {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_SYNTAX, "invalid number");
        return 0;
    }

    p->pos = c;

    return 1;
}


/* the current token is the word (a name without regard to case, or punct) */

static int
ngx_iothub_qp_is(ngx_iothub_qparser_t *p, const char *word)
{
    size_t  n;

    if (p->tok.type != NGX_IOTHUB_QT_NAME
        && p->tok.type != NGX_IOTHUB_QT_PUNCT)
    {
        return 0;
    }

    n = strlen(word);

    return p->tok.len == n && strncasecmp(p->tok.start, word, n) == 0;
}


static int
ngx_iothub_qp_accept(ngx_iothub_qparser_t *p, const char *word)
{
    if (!ngx_iothub_qp_is(p, word)) {
        return 0;
    }

    return ngx_iothub_qp_next(p) ? 1 : -1;
}


static int
ngx_iothub_qp_expect(ngx_iothub_qparser_t *p, const char *word)
{
    char  what[64];

    switch (ngx_iothub_qp_accept(p, word)) {

    case 1:
        return 1;

    case 0:
        snprintf(what, sizeof(what), "expected %s", word);
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_SYNTAX, what);
        return 0;

    default:
        return 0;
    }
}


static int
ngx_iothub_qp_query(ngx_iothub_qparser_t *p)
{
    ngx_iothub_query_t  *q;

    q = p->q;

    if (!ngx_iothub_qp_expect(p, "SELECT")
        || !ngx_iothub_qp_top(p)
        || !ngx_iothub_qp_list(p)
        || !ngx_iothub_qp_expect(p, "FROM")
        || !ngx_iothub_qp_collection(p))
    {
        return 0;
    }

    switch (ngx_iothub_qp_accept(p, "WHERE")) {

    case 1:
        q->where = ngx_iothub_qp_expr(p);
        if (q->where == NULL) {
            return 0;
        }

        break;

    case -1:
        return 0;
    }

    switch (ngx_iothub_qp_accept(p, "GROUP")) {

    case 1:
        if (!ngx_iothub_qp_expect(p, "BY")) {
            return 0;
        }

        if (p->tok.type != NGX_IOTHUB_QT_NAME) {
            ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_SYNTAX,
                               "expected a property path after GROUP BY");
            return 0;
        }

        q->group_by = ngx_iothub_qp_path(p);
        if (q->group_by == NULL) {
            return 0;
        }

        q->aggregate = 1;
        break;

    case -1:
        return 0;
    }

    if (p->tok.type != NGX_IOTHUB_QT_END) {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_SYNTAX,
                           "expected the end of the query");
        return 0;
    }

    return 1;
}


static int
ngx_iothub_qp_top(ngx_iothub_qparser_t *p)
{
    switch (ngx_iothub_qp_accept(p, "TOP")) {

    case 0:
        return 1;

    case -1:
        return 0;
    }

    if (p->tok.type != NGX_IOTHUB_QT_NUMBER || p->tok.num < 1
        || p->tok.num > 1e9 || p->tok.num != (unsigned long) p->tok.num)
    {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_SYNTAX,
                           "TOP takes a positive integer");
        return 0;
    }

    p->q->top = (unsigned long) p->tok.num;

    return ngx_iothub_qp_next(p);
}


static int
ngx_iothub_qp_list(ngx_iothub_qparser_t *p)
{
    size_t               cap;
    ngx_iothub_query_t  *q;
    ngx_iothub_qproj_t  *proj, *prev;

    q = p->q;

    if (ngx_iothub_qp_is(p, "*")) {
        q->star = 1;
        return ngx_iothub_qp_next(p);
    }

    cap = 0;

    for ( ;; ) {
        if (q->nproj == cap) {
            cap = cap ? 2 * cap : 8;
            prev = q->proj;

            proj = ngx_iothub_qp_alloc(p, cap * sizeof(ngx_iothub_qproj_t));
            if (proj == NULL) {
                return 0;
            }

            if (prev) {
                memcpy(proj, prev, q->nproj * sizeof(ngx_iothub_qproj_t));
            }

            q->proj = proj;
        }

        proj = &q->proj[q->nproj];

        proj->expr = ngx_iothub_qp_expr(p);
        if (proj->expr == NULL) {
            return 0;
        }

        q->nproj++;

        switch (ngx_iothub_qp_accept(p, "AS")) {

        case 1:
            proj->alias = ngx_iothub_qp_name(p, 0);
            if (proj->alias == NULL) {
                return 0;
            }

            break;

        case -1:
            return 0;
        }

        switch (ngx_iothub_qp_accept(p, ",")) {

        case 0:
            return 1;

        case -1:
            return 0;
        }
    }
}


static int
ngx_iothub_qp_collection(ngx_iothub_qparser_t *p)
{
    if (!ngx_iothub_qp_is(p, "devices")) {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_SYNTAX,
                           "expected devices, devices.modules or "
                           "devices.jobs");
        return 0;
    }

    if (!ngx_iothub_qp_next(p)) {
        return 0;
    }

    switch (ngx_iothub_qp_accept(p, ".")) {

    case 0:
        p->q->collection = NGX_IOTHUB_QUERY_DEVICES;
        return 1;

    case -1:
        return 0;
    }

    if (ngx_iothub_qp_is(p, "modules")) {
        p->q->collection = NGX_IOTHUB_QUERY_MODULES;

    } else if (ngx_iothub_qp_is(p, "jobs")) {
        p->q->collection = NGX_IOTHUB_QUERY_JOBS;

    } else {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_SYNTAX,
                           "expected devices, devices.modules or "
                           "devices.jobs");
        return 0;
    }

    return ngx_iothub_qp_next(p);
}


/* the forms the grammar admits but the hub does not (rest.md 9) */

static int
ngx_iothub_qp_check(ngx_iothub_qparser_t *p)
{
    size_t               i, aggs;
    ngx_iothub_query_t  *q;
    ngx_iothub_qnode_t  *e;

    q = p->q;
    p->tok.type = NGX_IOTHUB_QT_END;
    p->tok.start = p->last;

    if (q->where && ngx_iothub_qp_has_aggregate(q->where)) {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_UNSUPPORTED,
                           "aggregates are not allowed in WHERE");
        return 0;
    }

    if (q->collection == NGX_IOTHUB_QUERY_JOBS
        && (!q->star || q->group_by))
    {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_UNSUPPORTED,
                           "devices.jobs supports only SELECT * without "
                           "GROUP BY");
        return 0;
    }

    aggs = 0;

    for (i = 0; i < q->nproj; i++) {
        e = q->proj[i].expr;

        if (e->kind == NGX_IOTHUB_QN_AGGREGATE) {
            aggs++;
            continue;
        }

        if (ngx_iothub_qp_has_aggregate(e)) {
            ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_UNSUPPORTED,
                               "an aggregate must be a whole projection");
            return 0;
        }
    }

    if (aggs) {
        q->aggregate = 1;
    }

    if (q->star && q->aggregate) {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_UNSUPPORTED,
                           "SELECT * cannot be grouped");
        return 0;
    }

    if (!q->aggregate) {
        return 1;
    }

    /* every other projection of an aggregating query is the group key */

    for (i = 0; i < q->nproj; i++) {
        e = q->proj[i].expr;

        if (e->kind != NGX_IOTHUB_QN_AGGREGATE
            && (q->group_by == NULL || !ngx_iothub_qp_same_path(e,
                                                            q->group_by)))
        {
            ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_UNSUPPORTED,
                               "with aggregates, a projection must be an "
                               "aggregate or the GROUP BY path");
            return 0;
        }
    }

    return 1;
}


static int
ngx_iothub_qp_has_aggregate(const ngx_iothub_qnode_t *n)
{
    if (n == NULL) {
        return 0;
    }

    if (n->kind == NGX_IOTHUB_QN_AGGREGATE) {
        return 1;
    }

    return ngx_iothub_qp_has_aggregate(n->left)
           || ngx_iothub_qp_has_aggregate(n->right);
}


static int
ngx_iothub_qp_same_path(const ngx_iothub_qnode_t *a,
    const ngx_iothub_qnode_t *b)
{
    size_t  i;

    if (a->kind != NGX_IOTHUB_QN_PATH || b->kind != NGX_IOTHUB_QN_PATH
        || a->nseg != b->nseg)
    {
        return 0;
    }

    for (i = 0; i < a->nseg; i++) {
        if (strcasecmp(a->seg[i], b->seg[i]) != 0) {
            return 0;
        }
    }

    return 1;
}


static ngx_iothub_qnode_t *
ngx_iothub_qp_node(ngx_iothub_qparser_t *p, ngx_iothub_qn_kind_e kind)
{
    ngx_iothub_qnode_t  *n;

    n = ngx_iothub_qp_alloc(p, sizeof(ngx_iothub_qnode_t));
    if (n == NULL) {
        return NULL;
    }

    n->kind = kind;

    return n;
}


static ngx_iothub_qnode_t *
ngx_iothub_qp_expr(ngx_iothub_qparser_t *p)
{
    int                  rc;
    ngx_iothub_qnode_t  *left, *right;

    if (++p->depth > NGX_IOTHUB_QUERY_DEPTH_MAX) {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_UNSUPPORTED,
                           "expression nested too deeply");
        return NULL;
    }

    left = ngx_iothub_qp_and(p);

    while (left) {
        rc = ngx_iothub_qp_accept(p, "OR");

        if (rc != 1) {
            left = (rc == 0) ? left : NULL;
            break;
        }

        right = ngx_iothub_qp_and(p);
        left = ngx_iothub_qp_binary(p, NGX_IOTHUB_QOP_OR, left, right);
    }

    p->depth--;

    return left;
}


static ngx_iothub_qnode_t *
ngx_iothub_qp_and(ngx_iothub_qparser_t *p)
{
    int                  rc;
    ngx_iothub_qnode_t  *left, *right;

    left = ngx_iothub_qp_not(p);

    while (left) {
        rc = ngx_iothub_qp_accept(p, "AND");

        if (rc != 1) {
            return (rc == 0) ? left : NULL;
        }

        right = ngx_iothub_qp_not(p);
        left = ngx_iothub_qp_binary(p, NGX_IOTHUB_QOP_AND, left, right);
    }

    return NULL;
}


static ngx_iothub_qnode_t *
ngx_iothub_qp_not(ngx_iothub_qparser_t *p)
{
    ngx_iothub_qnode_t  *n;

    switch (ngx_iothub_qp_accept(p, "NOT")) {

    case 0:
        return ngx_iothub_qp_compare(p);

    case -1:
        return NULL;
    }

    if (++p->depth > NGX_IOTHUB_QUERY_DEPTH_MAX) {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_UNSUPPORTED,
                           "expression nested too deeply");
        return NULL;
    }

    n = ngx_iothub_qp_node(p, NGX_IOTHUB_QN_NOT);

    if (n) {
        n->left = ngx_iothub_qp_not(p);
        n = n->left ? n : NULL;
    }

    p->depth--;

    return n;
}


static ngx_iothub_qnode_t *
ngx_iothub_qp_compare(ngx_iothub_qparser_t *p)
{
    size_t               i;
    ngx_iothub_qnode_t  *left, *right;

    static const struct {
        const char        *word;
        ngx_iothub_qop_e   op;
    } ops[] = {
        { "=",  NGX_IOTHUB_QOP_EQ }, { "!=", NGX_IOTHUB_QOP_NE },
        { "<>", NGX_IOTHUB_QOP_NE }, { "<",  NGX_IOTHUB_QOP_LT },
        { ">",  NGX_IOTHUB_QOP_GT }, { "<=", NGX_IOTHUB_QOP_LE },
        { ">=", NGX_IOTHUB_QOP_GE }
    };

    left = ngx_iothub_qp_sum(p);
    if (left == NULL) {
        return NULL;
    }

    for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (p->tok.type == NGX_IOTHUB_QT_PUNCT && ngx_iothub_qp_is(p,
                                                               ops[i].word))
        {
            if (!ngx_iothub_qp_next(p)) {
                return NULL;
            }

            right = ngx_iothub_qp_sum(p);

            return ngx_iothub_qp_binary(p, ops[i].op, left, right);
        }
    }

    if (ngx_iothub_qp_is(p, "IN")) {
        return ngx_iothub_qp_in(p, left, NGX_IOTHUB_QN_IN);
    }

    if (ngx_iothub_qp_is(p, "NIN")) {
        return ngx_iothub_qp_in(p, left, NGX_IOTHUB_QN_NIN);
    }

    if (ngx_iothub_qp_is(p, "NOT")) {
        if (!ngx_iothub_qp_next(p)) {
            return NULL;
        }

        if (!ngx_iothub_qp_is(p, "IN")) {
            ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_SYNTAX, "expected IN");
            return NULL;
        }

        return ngx_iothub_qp_in(p, left, NGX_IOTHUB_QN_NIN);
    }

    return left;
}


/* IN / NIN at the current token, then '[' constants ']' */

static ngx_iothub_qnode_t *
ngx_iothub_qp_in(ngx_iothub_qparser_t *p, ngx_iothub_qnode_t *left,
    ngx_iothub_qn_kind_e kind)
{
    size_t               cap;
    ngx_iothub_qv_t     *list;
    ngx_iothub_qnode_t  *n;

    if (!ngx_iothub_qp_next(p) || !ngx_iothub_qp_expect(p, "[")) {
        return NULL;
    }

    n = ngx_iothub_qp_node(p, kind);
    if (n == NULL) {
        return NULL;
    }

    n->left = left;
    cap = 0;

    if (ngx_iothub_qp_is(p, "]")) {
        return ngx_iothub_qp_next(p) ? n : NULL;
    }

    for ( ;; ) {
        if (n->nlist == cap) {
            cap = cap ? 2 * cap : 8;

            list = ngx_iothub_qp_alloc(p, cap * sizeof(ngx_iothub_qv_t));
            if (list == NULL) {
                return NULL;
            }

            if (n->list) {
                memcpy(list, n->list, n->nlist * sizeof(ngx_iothub_qv_t));
            }

            n->list = list;
        }

        if (!ngx_iothub_qp_constant(p, &n->list[n->nlist])) {
            if (p->rc == NGX_IOTHUB_QUERY_OK) {
                ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_SYNTAX,
                                   "expected a constant in the IN list");
            }

            return NULL;
        }

        n->nlist++;

        switch (ngx_iothub_qp_accept(p, ",")) {

        case 1:
            continue;

        case -1:
            return NULL;
        }

        return ngx_iothub_qp_expect(p, "]") ? n : NULL;
    }
}


static ngx_iothub_qnode_t *
ngx_iothub_qp_sum(ngx_iothub_qparser_t *p)
{
    ngx_iothub_qop_e     op;
    ngx_iothub_qnode_t  *left, *right;

    left = ngx_iothub_qp_product(p);

    while (left) {
        if (ngx_iothub_qp_is(p, "+")) {
            op = NGX_IOTHUB_QOP_ADD;

        } else if (ngx_iothub_qp_is(p, "-")) {
            op = NGX_IOTHUB_QOP_SUB;

        } else {
            return left;
        }

        if (!ngx_iothub_qp_next(p)) {
            return NULL;
        }

        right = ngx_iothub_qp_product(p);
        left = ngx_iothub_qp_binary(p, op, left, right);
    }

    return NULL;
}


static ngx_iothub_qnode_t *
ngx_iothub_qp_product(ngx_iothub_qparser_t *p)
{
    ngx_iothub_qop_e     op;
    ngx_iothub_qnode_t  *left, *right;

    left = ngx_iothub_qp_unary(p);

    while (left) {
        if (ngx_iothub_qp_is(p, "*")) {
            op = NGX_IOTHUB_QOP_MUL;

        } else if (ngx_iothub_qp_is(p, "/")) {
            op = NGX_IOTHUB_QOP_DIV;

        } else if (ngx_iothub_qp_is(p, "%")) {
            op = NGX_IOTHUB_QOP_MOD;

        } else {
            return left;
        }

        if (!ngx_iothub_qp_next(p)) {
            return NULL;
        }

        right = ngx_iothub_qp_unary(p);
        left = ngx_iothub_qp_binary(p, op, left, right);
    }

    return NULL;
}


static ngx_iothub_qnode_t *
ngx_iothub_qp_unary(ngx_iothub_qparser_t *p)
{
    ngx_iothub_qnode_t  *n;

    if (!ngx_iothub_qp_is(p, "-")) {
        return ngx_iothub_qp_primary(p);
    }

    if (!ngx_iothub_qp_next(p)) {
        return NULL;
    }

    if (++p->depth > NGX_IOTHUB_QUERY_DEPTH_MAX) {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_UNSUPPORTED,
                           "expression nested too deeply");
        return NULL;
    }

    n = ngx_iothub_qp_node(p, NGX_IOTHUB_QN_NEG);

    if (n) {
        n->left = ngx_iothub_qp_unary(p);
        n = n->left ? n : NULL;
    }

    p->depth--;

    return n;
}


static ngx_iothub_qnode_t *
ngx_iothub_qp_primary(ngx_iothub_qparser_t *p)
{
    ngx_iothub_qnode_t  *n;

    if (ngx_iothub_qp_is(p, "(")) {
        if (!ngx_iothub_qp_next(p)) {
            return NULL;
        }

        n = ngx_iothub_qp_expr(p);

        return (n && ngx_iothub_qp_expect(p, ")")) ? n : NULL;
    }

    n = ngx_iothub_qp_node(p, NGX_IOTHUB_QN_CONST);
    if (n == NULL) {
        return NULL;
    }

    if (ngx_iothub_qp_constant(p, &n->value)) {
        return n;
    }

    if (p->rc != NGX_IOTHUB_QUERY_OK) {
        return NULL;
    }

    if (p->tok.type != NGX_IOTHUB_QT_NAME) {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_SYNTAX,
                           "expected a property, a constant or a function");
        return NULL;
    }

    if (ngx_iothub_qp_before_paren(p)) {
        return ngx_iothub_qp_call(p);
    }

    return ngx_iothub_qp_path(p);
}


/* the name token is followed by '(': a function call */

static int
ngx_iothub_qp_before_paren(ngx_iothub_qparser_t *p)
{
    const char  *c;

    for (c = p->pos; c < p->last && isspace((unsigned char) *c); c++) {
        /* void */
    }

    return c < p->last && *c == '(';
}


static ngx_iothub_qnode_t *
ngx_iothub_qp_call(ngx_iothub_qparser_t *p)
{
    size_t               i;
    ngx_iothub_qnode_t  *n;

    static const struct {
        const char         *name;
        ngx_iothub_qagg_e   agg;
    } aggs[] = {
        { "COUNT", NGX_IOTHUB_QAGG_COUNT }, { "SUM", NGX_IOTHUB_QAGG_SUM },
        { "AVG", NGX_IOTHUB_QAGG_AVG }, { "MIN", NGX_IOTHUB_QAGG_MIN },
        { "MAX", NGX_IOTHUB_QAGG_MAX }
    };

    if (ngx_iothub_qp_is(p, "IS_DEFINED")) {
        n = ngx_iothub_qp_node(p, NGX_IOTHUB_QN_IS_DEFINED);

        if (n == NULL || !ngx_iothub_qp_next(p)
            || !ngx_iothub_qp_expect(p, "("))
        {
            return NULL;
        }

        if (p->tok.type != NGX_IOTHUB_QT_NAME) {
            ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_SYNTAX,
                               "IS_DEFINED takes a property path");
            return NULL;
        }

        n->left = ngx_iothub_qp_path(p);

        return (n->left && ngx_iothub_qp_expect(p, ")")) ? n : NULL;
    }

    for (i = 0; i < sizeof(aggs) / sizeof(aggs[0]); i++) {
        if (ngx_iothub_qp_is(p, aggs[i].name)) {
            break;
        }
    }

    if (i == sizeof(aggs) / sizeof(aggs[0])) {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_UNSUPPORTED,
                           "unknown function (twin queries support "
                           "IS_DEFINED and COUNT, SUM, AVG, MIN, MAX)");
        return NULL;
    }

    n = ngx_iothub_qp_node(p, NGX_IOTHUB_QN_AGGREGATE);

    if (n == NULL || !ngx_iothub_qp_next(p) || !ngx_iothub_qp_expect(p, "("))
    {
        return NULL;
    }

    n->agg = aggs[i].agg;

    if (n->agg == NGX_IOTHUB_QAGG_COUNT) {
        return ngx_iothub_qp_expect(p, ")") ? n : NULL;
    }

    if (p->tok.type != NGX_IOTHUB_QT_NAME) {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_SYNTAX,
                           "an aggregate takes a property path");
        return NULL;
    }

    n->left = ngx_iothub_qp_path(p);

    return (n->left && ngx_iothub_qp_expect(p, ")")) ? n : NULL;
}


/* name {'.' name}; the collection's own name in front is dropped */

static ngx_iothub_qnode_t *
ngx_iothub_qp_path(ngx_iothub_qparser_t *p)
{
    char                **seg;
    size_t                cap;
    ngx_iothub_qnode_t   *n;

    n = ngx_iothub_qp_node(p, NGX_IOTHUB_QN_PATH);
    if (n == NULL) {
        return NULL;
    }

    cap = 0;

    for ( ;; ) {
        if (n->nseg == cap) {
            cap = cap ? 2 * cap : 8;

            seg = ngx_iothub_qp_alloc(p, cap * sizeof(char *));
            if (seg == NULL) {
                return NULL;
            }

            if (n->seg) {
                memcpy(seg, n->seg, n->nseg * sizeof(char *));
            }

            n->seg = seg;
        }

        n->seg[n->nseg] = ngx_iothub_qp_name(p, n->nseg > 0);
        if (n->seg[n->nseg] == NULL) {
            return NULL;
        }

        n->nseg++;

        switch (ngx_iothub_qp_accept(p, ".")) {

        case 1:
            continue;

        case -1:
            return NULL;
        }

        break;
    }

    /* "devices.x", "devices.modules.x", "devices.jobs.x" */

    if (n->nseg > 1 && strcasecmp(n->seg[0], "devices") == 0) {
        cap = (n->nseg > 2 && (strcasecmp(n->seg[1], "modules") == 0
                               || strcasecmp(n->seg[1], "jobs") == 0))
              ? 2 : 1;

        n->seg += cap;
        n->nseg -= cap;
    }

    return n;
}


static ngx_iothub_qnode_t *
ngx_iothub_qp_binary(ngx_iothub_qparser_t *p, ngx_iothub_qop_e op,
    ngx_iothub_qnode_t *left, ngx_iothub_qnode_t *right)
{
    ngx_iothub_qnode_t  *n;

    if (left == NULL || right == NULL) {
        return NULL;
    }

    n = ngx_iothub_qp_node(p, NGX_IOTHUB_QN_BINARY);
    if (n == NULL) {
        return NULL;
    }

    n->op = op;
    n->left = left;
    n->right = right;

    return n;
}


/*
 * A constant at the current token: 1 and the token consumed, or 0 when the
 * token is no constant (p->rc tells a failure apart).  A '-' in front of a
 * number is part of it (IN lists hold constants only).
 */

static int
ngx_iothub_qp_constant(ngx_iothub_qparser_t *p, ngx_iothub_qv_t *v)
{
    memset(v, 0, sizeof(ngx_iothub_qv_t));

    switch (p->tok.type) {

    case NGX_IOTHUB_QT_STRING:
        v->type = NGX_IOTHUB_QV_STRING;
        v->str = p->tok.str;
        v->len = p->tok.str_len;
        break;

    case NGX_IOTHUB_QT_NUMBER:
        v->type = NGX_IOTHUB_QV_NUMBER;
        v->num = p->tok.num;
        break;

    case NGX_IOTHUB_QT_NAME:
        if (ngx_iothub_qp_is(p, "true") || ngx_iothub_qp_is(p, "false")) {
            v->type = NGX_IOTHUB_QV_BOOL;
            v->b = ngx_iothub_qp_is(p, "true");

        } else if (ngx_iothub_qp_is(p, "null")) {
            v->type = NGX_IOTHUB_QV_NULL;

        } else if (ngx_iothub_qp_is(p, "undefined")) {
            v->type = NGX_IOTHUB_QV_UNDEFINED;

        } else {
            return 0;
        }

        break;

    case NGX_IOTHUB_QT_PUNCT:
        if (ngx_iothub_qp_is(p, "-") && p->pos < p->last
            && (isdigit((unsigned char) *p->pos) || *p->pos == '.'))
        {
            if (!ngx_iothub_qp_next(p)) {
                return 0;
            }

            if (p->tok.type != NGX_IOTHUB_QT_NUMBER) {
                return 0;
            }

            v->type = NGX_IOTHUB_QV_NUMBER;
            v->num = -p->tok.num;
            break;
        }

        if (ngx_iothub_qp_is(p, "[")) {
            ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_UNSUPPORTED,
                               "an array constant is allowed only after IN "
                               "or NIN");
        }

        return 0;

    default:
        return 0;
    }

    return ngx_iothub_qp_next(p);
}


/* a name token as an owned string; keywords only where keyword_ok */

static char *
ngx_iothub_qp_name(ngx_iothub_qparser_t *p, int keyword_ok)
{
    char    *s;
    size_t   i;

    if (p->tok.type != NGX_IOTHUB_QT_NAME) {
        ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_SYNTAX, "expected a name");
        return NULL;
    }

    for (i = 0; !keyword_ok && ngx_iothub_qp_keywords[i]; i++) {
        if (ngx_iothub_qp_is(p, ngx_iothub_qp_keywords[i])) {
            ngx_iothub_qp_fail(p, NGX_IOTHUB_QUERY_SYNTAX,
                               "a keyword cannot be a name");
            return NULL;
        }
    }

    s = ngx_iothub_qp_alloc(p, p->tok.len + 1);
    if (s == NULL) {
        return NULL;
    }

    memcpy(s, p->tok.start, p->tok.len);

    return ngx_iothub_qp_next(p) ? s : NULL;
}
