
/*
 * nginx-iothub: the twin engine's JSON tree; see ngx_iothub_twin_json.h.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "ngx_iothub_twin_json.h"


/* objects up to this many members are searched linearly */
#define NGX_IOTHUB_TWIN_LINEAR       8


typedef struct {
    ngx_iothub_twin_node_t    *root;
    ngx_iothub_twin_node_t    *stack[NGX_IOTHUB_TWIN_NEST_MAX];
    unsigned                   depth;
    ngx_iothub_twin_rc_e       rc;
} ngx_iothub_twin_parse_t;


static ngx_iothub_twin_rc_e ngx_iothub_twin_dedupe(
    ngx_iothub_twin_node_t *obj);
static int ngx_iothub_twin_key_cmp(const char *a, size_t alen,
    const char *b, size_t blen);
static int ngx_iothub_twin_node_cmp(const void *one, const void *two);
static int ngx_iothub_twin_on_bool(void *data, int b);
static int ngx_iothub_twin_on_end(void *data);
static int ngx_iothub_twin_on_map_key(void *data, const unsigned char *s,
    size_t len);
static int ngx_iothub_twin_on_null(void *data);
static int ngx_iothub_twin_on_number(void *data, const char *s,
    size_t len);
static int ngx_iothub_twin_on_start_array(void *data);
static int ngx_iothub_twin_on_start_map(void *data);
static int ngx_iothub_twin_on_string(void *data, const unsigned char *s,
    size_t len);
static ngx_iothub_twin_rc_e ngx_iothub_twin_parse(const char *json,
    size_t len, ngx_iothub_twin_node_t **root, ngx_iothub_twin_err_t *e);
static int ngx_iothub_twin_push(ngx_iothub_twin_parse_t *ctx,
    ngx_iothub_twin_node_t *node);
static ngx_iothub_twin_node_t *ngx_iothub_twin_value(
    ngx_iothub_twin_parse_t *ctx, ngx_iothub_twin_type_e type);


static const yajl_callbacks  ngx_iothub_twin_callbacks = {
    ngx_iothub_twin_on_null,
    ngx_iothub_twin_on_bool,
    NULL,
    NULL,
    ngx_iothub_twin_on_number,
    ngx_iothub_twin_on_string,
    ngx_iothub_twin_on_start_map,
    ngx_iothub_twin_on_map_key,
    ngx_iothub_twin_on_end,
    ngx_iothub_twin_on_start_array,
    ngx_iothub_twin_on_end
};


ngx_iothub_twin_rc_e
ngx_iothub_twin_fail(ngx_iothub_twin_err_t *e, ngx_iothub_twin_rc_e rc,
    const char *fmt, ...)
{
    va_list  args;

    if (e->errlen == 0) {
        return rc;
    }

    va_start(args, fmt);
    (void) vsnprintf(e->err, e->errlen, fmt, args);
    va_end(args);

    return rc;
}


/*
 * A key for a message: at most NGX_IOTHUB_TWIN_NAME_LEN bytes of whole
 * UTF-8 characters; control characters, quotes and backslashes become
 * '?'.  buf holds NGX_IOTHUB_TWIN_NAME_LEN + 4 bytes.
 */
void
ngx_iothub_twin_name(const char *key, size_t len, char *buf)
{
    size_t          i, n, k;
    unsigned char   c;

    for (i = 0, k = 0; i < len; i += n) {
        c = (unsigned char) key[i];
        n = (c < 0x80) ? 1 : (c < 0xe0) ? 2 : (c < 0xf0) ? 3 : 4;

        if (n > len - i || k + n > NGX_IOTHUB_TWIN_NAME_LEN) {
            memcpy(buf + k, "...", 3);
            k += 3;
            break;
        }

        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\'
            || (c == 0xc2 && (unsigned char) key[i + 1] < 0xa0))
        {
            buf[k++] = '?';
            continue;
        }

        memcpy(buf + k, key + i, n);
        k += n;
    }

    buf[k] = '\0';
}


ngx_iothub_twin_node_t *
ngx_iothub_twin_node(const char *key, size_t len,
    ngx_iothub_twin_type_e type)
{
    ngx_iothub_twin_node_t  *node;

    node = malloc(sizeof(ngx_iothub_twin_node_t) + len + 1);
    if (node == NULL) {
        return NULL;
    }

    memset(node, 0, sizeof(ngx_iothub_twin_node_t));
    node->type = type;

    if (key != NULL) {
        node->key = (char *) (node + 1);
        node->key_len = len;
        memcpy(node->key, key, len);
        node->key[len] = '\0';
    }

    return node;
}


void
ngx_iothub_twin_node_clear(ngx_iothub_twin_node_t *node)
{
    ngx_iothub_twin_node_t  *c, *next;

    for (c = node->child; c != NULL; c = next) {
        next = c->next;
        ngx_iothub_twin_node_free(c);
    }

    free(node->str);

    node->child = NULL;
    node->last = NULL;
    node->str = NULL;
    node->len = 0;
    node->n = 0;
    node->type = NGX_IOTHUB_TWIN_JSON_NULL;
}


void
ngx_iothub_twin_node_free(ngx_iothub_twin_node_t *node)
{
    if (node != NULL) {
        ngx_iothub_twin_node_clear(node);
        free(node);
    }
}


void
ngx_iothub_twin_append(ngx_iothub_twin_node_t *obj,
    ngx_iothub_twin_node_t *node)
{
    node->pos = obj->n++;

    if (obj->last == NULL) {
        obj->child = node;

    } else {
        obj->last->next = node;
    }

    obj->last = node;
}


/* inserts node after prev, or first when prev is NULL */
void
ngx_iothub_twin_insert(ngx_iothub_twin_node_t *obj,
    ngx_iothub_twin_node_t *prev, ngx_iothub_twin_node_t *node)
{
    if (prev == NULL) {
        node->next = obj->child;
        obj->child = node;

    } else {
        node->next = prev->next;
        prev->next = node;
    }

    if (node->next == NULL) {
        obj->last = node;
    }

    obj->n++;
}


/* the key stays: indexes and searches may still compare it */
void
ngx_iothub_twin_delete(ngx_iothub_twin_node_t *node)
{
    ngx_iothub_twin_node_clear(node);
    node->type = NGX_IOTHUB_TWIN_JSON_DELETED;
}


void
ngx_iothub_twin_sweep(ngx_iothub_twin_node_t *obj)
{
    ngx_iothub_twin_node_t  *c, *next, **link;

    link = &obj->child;
    obj->last = NULL;
    obj->n = 0;

    for (c = obj->child; c != NULL; c = next) {
        next = c->next;

        if (c->type == NGX_IOTHUB_TWIN_JSON_DELETED) {
            ngx_iothub_twin_node_free(c);
            continue;
        }

        *link = c;
        link = &c->next;
        obj->last = c;
        obj->n++;
    }

    *link = NULL;
}


int
ngx_iothub_twin_set(ngx_iothub_twin_node_t *node,
    ngx_iothub_twin_type_e type, const char *s, size_t len)
{
    char  *p;

    p = malloc(len + 1);
    if (p == NULL) {
        return 0;
    }

    memcpy(p, s, len);
    p[len] = '\0';

    ngx_iothub_twin_node_clear(node);

    node->type = type;
    node->str = p;
    node->len = len;

    return 1;
}


/* dst takes the value of src, which is left null; keys stay */
void
ngx_iothub_twin_move(ngx_iothub_twin_node_t *dst,
    ngx_iothub_twin_node_t *src)
{
    ngx_iothub_twin_node_clear(dst);

    dst->type = src->type;
    dst->str = src->str;
    dst->len = src->len;
    dst->child = src->child;
    dst->last = src->last;
    dst->n = src->n;

    src->type = NGX_IOTHUB_TWIN_JSON_NULL;
    src->str = NULL;
    src->len = 0;
    src->child = NULL;
    src->last = NULL;
    src->n = 0;
}


static int
ngx_iothub_twin_key_cmp(const char *a, size_t alen, const char *b,
    size_t blen)
{
    int  rc;

    rc = memcmp(a, b, alen < blen ? alen : blen);

    if (rc != 0) {
        return rc;
    }

    return (alen > blen) - (alen < blen);
}


/* by name, then by parse order */
static int
ngx_iothub_twin_node_cmp(const void *one, const void *two)
{
    int                            rc;
    const ngx_iothub_twin_node_t  *a, *b;

    a = *(ngx_iothub_twin_node_t *const *) one;
    b = *(ngx_iothub_twin_node_t *const *) two;

    rc = ngx_iothub_twin_key_cmp(a->key, a->key_len, b->key, b->key_len);

    if (rc != 0) {
        return rc;
    }

    return (a->pos > b->pos) - (a->pos < b->pos);
}


/* builds no index (elts NULL) for small objects */
ngx_iothub_twin_rc_e
ngx_iothub_twin_index(ngx_iothub_twin_node_t *obj,
    ngx_iothub_twin_index_t *idx)
{
    size_t                   i;
    ngx_iothub_twin_node_t  *c;

    idx->elts = NULL;
    idx->n = obj->n;

    if (obj->n <= NGX_IOTHUB_TWIN_LINEAR) {
        return NGX_IOTHUB_TWIN_OK;
    }

    idx->elts = malloc(obj->n * sizeof(ngx_iothub_twin_node_t *));
    if (idx->elts == NULL) {
        return NGX_IOTHUB_TWIN_NO_MEMORY;
    }

    for (c = obj->child, i = 0; c != NULL; c = c->next) {
        idx->elts[i++] = c;
    }

    idx->n = i;

    qsort(idx->elts, idx->n, sizeof(ngx_iothub_twin_node_t *),
          ngx_iothub_twin_node_cmp);

    return NGX_IOTHUB_TWIN_OK;
}


/*
 * With an index only the members the object had when it was built are
 * searched: a patch names each key once, so members it added are never
 * searched for, and a merge stays O(n log n).
 */
ngx_iothub_twin_node_t *
ngx_iothub_twin_find(ngx_iothub_twin_node_t *obj,
    ngx_iothub_twin_index_t *idx, const char *key, size_t len)
{
    int                      rc;
    size_t                   lo, hi, mid, n;
    ngx_iothub_twin_node_t  *c;

    if (idx == NULL || idx->elts == NULL) {
        n = (idx != NULL) ? idx->n : (size_t) -1;

        for (c = obj->child; c != NULL && n-- > 0; c = c->next) {
            if (c->type != NGX_IOTHUB_TWIN_JSON_DELETED && c->key_len == len
                && memcmp(c->key, key, len) == 0)
            {
                return c;
            }
        }

        return NULL;
    }

    lo = 0;
    hi = idx->n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = idx->elts[mid];
        rc = ngx_iothub_twin_key_cmp(key, len, c->key, c->key_len);

        if (rc == 0) {
            return (c->type == NGX_IOTHUB_TWIN_JSON_DELETED) ? NULL : c;
        }

        if (rc < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return NULL;
}


/* of duplicate keys in an object the last one wins, as in JSON.parse() */
static ngx_iothub_twin_rc_e
ngx_iothub_twin_dedupe(ngx_iothub_twin_node_t *obj)
{
    size_t                    i;
    ngx_iothub_twin_node_t   *a, *b;
    ngx_iothub_twin_index_t   idx;

    if (obj->n <= NGX_IOTHUB_TWIN_LINEAR) {
        for (a = obj->child; a != NULL; a = a->next) {
            for (b = a->next; b != NULL; b = b->next) {
                if (a->key_len == b->key_len
                    && memcmp(a->key, b->key, a->key_len) == 0)
                {
                    ngx_iothub_twin_delete(a);
                    break;
                }
            }
        }

        ngx_iothub_twin_sweep(obj);
        return NGX_IOTHUB_TWIN_OK;
    }

    if (ngx_iothub_twin_index(obj, &idx) != NGX_IOTHUB_TWIN_OK) {
        return NGX_IOTHUB_TWIN_NO_MEMORY;
    }

    for (i = 0; i + 1 < idx.n; i++) {
        a = idx.elts[i];
        b = idx.elts[i + 1];

        if (a->key_len == b->key_len
            && memcmp(a->key, b->key, a->key_len) == 0)
        {
            ngx_iothub_twin_delete(a);
        }
    }

    free(idx.elts);
    ngx_iothub_twin_sweep(obj);

    return NGX_IOTHUB_TWIN_OK;
}


/* the node a parsed value goes into: new, or the member named before */
static ngx_iothub_twin_node_t *
ngx_iothub_twin_value(ngx_iothub_twin_parse_t *ctx,
    ngx_iothub_twin_type_e type)
{
    ngx_iothub_twin_node_t  *node, *parent;

    if (ctx->depth == 0) {
        node = ngx_iothub_twin_node(NULL, 0, type);
        ctx->root = node;

    } else {
        parent = ctx->stack[ctx->depth - 1];

        if (parent->type == NGX_IOTHUB_TWIN_JSON_OBJECT) {
            node = parent->last;
            node->type = type;
            return node;
        }

        node = ngx_iothub_twin_node(NULL, 0, type);

        if (node != NULL) {
            ngx_iothub_twin_append(parent, node);
        }
    }

    if (node == NULL) {
        ctx->rc = NGX_IOTHUB_TWIN_NO_MEMORY;
    }

    return node;
}


static int
ngx_iothub_twin_push(ngx_iothub_twin_parse_t *ctx,
    ngx_iothub_twin_node_t *node)
{
    if (node == NULL) {
        return 0;
    }

    if (ctx->depth == NGX_IOTHUB_TWIN_NEST_MAX) {
        ctx->rc = NGX_IOTHUB_TWIN_TOO_DEEP;
        return 0;
    }

    ctx->stack[ctx->depth++] = node;

    return 1;
}


static int
ngx_iothub_twin_on_null(void *data)
{
    return ngx_iothub_twin_value(data, NGX_IOTHUB_TWIN_JSON_NULL) != NULL;
}


static int
ngx_iothub_twin_on_bool(void *data, int b)
{
    return ngx_iothub_twin_value(data, b ? NGX_IOTHUB_TWIN_JSON_TRUE
                                         : NGX_IOTHUB_TWIN_JSON_FALSE)
           != NULL;
}


static int
ngx_iothub_twin_on_number(void *data, const char *s, size_t len)
{
    ngx_iothub_twin_node_t   *node;
    ngx_iothub_twin_parse_t  *ctx;

    ctx = data;

    node = ngx_iothub_twin_value(ctx, NGX_IOTHUB_TWIN_JSON_NULL);
    if (node == NULL) {
        return 0;
    }

    if (!ngx_iothub_twin_set(node, NGX_IOTHUB_TWIN_JSON_NUMBER, s, len)) {
        ctx->rc = NGX_IOTHUB_TWIN_NO_MEMORY;
        return 0;
    }

    return 1;
}


static int
ngx_iothub_twin_on_string(void *data, const unsigned char *s, size_t len)
{
    ngx_iothub_twin_node_t   *node;
    ngx_iothub_twin_parse_t  *ctx;

    ctx = data;

    node = ngx_iothub_twin_value(ctx, NGX_IOTHUB_TWIN_JSON_NULL);
    if (node == NULL) {
        return 0;
    }

    if (!ngx_iothub_twin_set(node, NGX_IOTHUB_TWIN_JSON_STRING,
                             (const char *) s, len))
    {
        ctx->rc = NGX_IOTHUB_TWIN_NO_MEMORY;
        return 0;
    }

    return 1;
}


static int
ngx_iothub_twin_on_start_map(void *data)
{
    return ngx_iothub_twin_push(data,
               ngx_iothub_twin_value(data, NGX_IOTHUB_TWIN_JSON_OBJECT));
}


static int
ngx_iothub_twin_on_map_key(void *data, const unsigned char *s, size_t len)
{
    ngx_iothub_twin_node_t   *node;
    ngx_iothub_twin_parse_t  *ctx;

    ctx = data;

    node = ngx_iothub_twin_node((const char *) s, len,
                                NGX_IOTHUB_TWIN_JSON_PENDING);
    if (node == NULL) {
        ctx->rc = NGX_IOTHUB_TWIN_NO_MEMORY;
        return 0;
    }

    ngx_iothub_twin_append(ctx->stack[ctx->depth - 1], node);

    return 1;
}


static int
ngx_iothub_twin_on_end(void *data)
{
    ngx_iothub_twin_node_t   *node;
    ngx_iothub_twin_parse_t  *ctx;

    ctx = data;
    node = ctx->stack[--ctx->depth];

    if (node->type == NGX_IOTHUB_TWIN_JSON_OBJECT) {
        ctx->rc = ngx_iothub_twin_dedupe(node);
    }

    return ctx->rc == NGX_IOTHUB_TWIN_OK;
}


static int
ngx_iothub_twin_on_start_array(void *data)
{
    return ngx_iothub_twin_push(data,
               ngx_iothub_twin_value(data, NGX_IOTHUB_TWIN_JSON_ARRAY));
}


static ngx_iothub_twin_rc_e
ngx_iothub_twin_parse(const char *json, size_t len,
    ngx_iothub_twin_node_t **root, ngx_iothub_twin_err_t *e)
{
    unsigned char            *msg;
    yajl_handle               h;
    yajl_status               status;
    ngx_iothub_twin_parse_t   ctx;

    *root = NULL;
    memset(&ctx, 0, sizeof(ngx_iothub_twin_parse_t));

    h = yajl_alloc(&ngx_iothub_twin_callbacks, NULL, &ctx);
    if (h == NULL) {
        return ngx_iothub_twin_fail(e, NGX_IOTHUB_TWIN_NO_MEMORY,
                                    "out of memory");
    }

    status = yajl_parse(h, (const unsigned char *) json, len);

    if (status == yajl_status_ok) {
        status = yajl_complete_parse(h);
    }

    if (status == yajl_status_ok) {
        yajl_free(h);
        *root = ctx.root;
        return NGX_IOTHUB_TWIN_OK;
    }

    ngx_iothub_twin_node_free(ctx.root);

    if (status == yajl_status_client_canceled) {
        yajl_free(h);

        if (ctx.rc == NGX_IOTHUB_TWIN_TOO_DEEP) {
            return ngx_iothub_twin_fail(e, ctx.rc,
                                        "JSON nested deeper than %d levels",
                                        NGX_IOTHUB_TWIN_NEST_MAX);
        }

        return ngx_iothub_twin_fail(e, ctx.rc, "out of memory");
    }

    msg = yajl_get_error(h, 0, (const unsigned char *) json, len);
    len = (msg != NULL) ? strcspn((char *) msg, "\r\n") : 0;

    (void) ngx_iothub_twin_fail(e, NGX_IOTHUB_TWIN_BAD_JSON,
                                "malformed JSON: %.*s", (int) len,
                                msg != NULL ? (char *) msg : "");

    if (msg != NULL) {
        yajl_free_error(h, msg);
    }

    yajl_free(h);

    return NGX_IOTHUB_TWIN_BAD_JSON;
}


ngx_iothub_twin_rc_e
ngx_iothub_twin_parse_object(const char *json, size_t len, const char *what,
    ngx_iothub_twin_node_t **root, ngx_iothub_twin_err_t *e)
{
    ngx_iothub_twin_rc_e  rc;

    rc = ngx_iothub_twin_parse(json, len, root, e);
    if (rc != NGX_IOTHUB_TWIN_OK) {
        return rc;
    }

    if ((*root)->type != NGX_IOTHUB_TWIN_JSON_OBJECT) {
        ngx_iothub_twin_node_free(*root);
        *root = NULL;

        return ngx_iothub_twin_fail(e, NGX_IOTHUB_TWIN_INVALID,
                                    "%s is not a JSON object", what);
    }

    return NGX_IOTHUB_TWIN_OK;
}


/* a stored text: anything but an object is CORRUPT */
ngx_iothub_twin_rc_e
ngx_iothub_twin_load(const char *text, const char *what,
    ngx_iothub_twin_node_t **root, ngx_iothub_twin_err_t *e)
{
    ngx_iothub_twin_rc_e  rc;

    *root = NULL;

    if (text == NULL) {
        return ngx_iothub_twin_fail(e, NGX_IOTHUB_TWIN_CORRUPT,
                                    "stored twin %s is missing", what);
    }

    rc = ngx_iothub_twin_parse(text, strlen(text), root, e);

    if (rc == NGX_IOTHUB_TWIN_NO_MEMORY) {
        return rc;
    }

    if (rc != NGX_IOTHUB_TWIN_OK
        || (*root)->type != NGX_IOTHUB_TWIN_JSON_OBJECT)
    {
        ngx_iothub_twin_node_free(*root);
        *root = NULL;

        return ngx_iothub_twin_fail(e, NGX_IOTHUB_TWIN_CORRUPT,
                                    "stored twin %s is not a JSON object",
                                    what);
    }

    return NGX_IOTHUB_TWIN_OK;
}


yajl_gen_status
ngx_iothub_twin_emit(yajl_gen g, const ngx_iothub_twin_node_t *node)
{
    yajl_gen_status                s;
    const ngx_iothub_twin_node_t  *c;

    switch (node->type) {

    case NGX_IOTHUB_TWIN_JSON_FALSE:
    case NGX_IOTHUB_TWIN_JSON_TRUE:
        return yajl_gen_bool(g, node->type == NGX_IOTHUB_TWIN_JSON_TRUE);

    case NGX_IOTHUB_TWIN_JSON_NUMBER:
        return yajl_gen_number(g, node->str, node->len);

    case NGX_IOTHUB_TWIN_JSON_STRING:
        return yajl_gen_string(g, (const unsigned char *) node->str,
                               node->len);

    case NGX_IOTHUB_TWIN_JSON_OBJECT:
        s = yajl_gen_map_open(g);

        if (s == yajl_gen_status_ok) {
            s = ngx_iothub_twin_emit_members(g, node);
        }

        return (s == yajl_gen_status_ok) ? yajl_gen_map_close(g) : s;

    case NGX_IOTHUB_TWIN_JSON_ARRAY:
        s = yajl_gen_array_open(g);

        for (c = node->child; c != NULL && s == yajl_gen_status_ok;
             c = c->next)
        {
            s = ngx_iothub_twin_emit(g, c);
        }

        return (s == yajl_gen_status_ok) ? yajl_gen_array_close(g) : s;

    default:
        return yajl_gen_null(g);
    }
}


yajl_gen_status
ngx_iothub_twin_emit_members(yajl_gen g, const ngx_iothub_twin_node_t *obj)
{
    yajl_gen_status                s;
    const ngx_iothub_twin_node_t  *c;

    s = yajl_gen_status_ok;

    for (c = obj->child; c != NULL && s == yajl_gen_status_ok; c = c->next)
    {
        if (c->type == NGX_IOTHUB_TWIN_JSON_DELETED
            || c->type == NGX_IOTHUB_TWIN_JSON_PENDING)
        {
            continue;
        }

        s = yajl_gen_string(g, (const unsigned char *) c->key, c->key_len);

        if (s == yajl_gen_status_ok) {
            s = ngx_iothub_twin_emit(g, c);
        }
    }

    return s;
}


/* copies what g holds into a malloc()ed string and frees g */
ngx_iothub_twin_rc_e
ngx_iothub_twin_output(yajl_gen g, char **out)
{
    size_t                len;
    const unsigned char  *buf;

    *out = NULL;

    if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok) {
        *out = malloc(len + 1);

        if (*out != NULL) {
            memcpy(*out, buf, len);
            (*out)[len] = '\0';
        }
    }

    yajl_gen_free(g);

    return (*out != NULL) ? NGX_IOTHUB_TWIN_OK : NGX_IOTHUB_TWIN_NO_MEMORY;
}


ngx_iothub_twin_rc_e
ngx_iothub_twin_text(const ngx_iothub_twin_node_t *root, char **out)
{
    yajl_gen  g;

    *out = NULL;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_IOTHUB_TWIN_NO_MEMORY;
    }

    /* trees are at most NGX_IOTHUB_TWIN_NEST_MAX deep: only OOM is left */
    if (ngx_iothub_twin_emit(g, root) != yajl_gen_status_ok) {
        yajl_gen_free(g);
        return NGX_IOTHUB_TWIN_NO_MEMORY;
    }

    return ngx_iothub_twin_output(g, out);
}
