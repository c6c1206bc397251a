
/*
 * nginx-iothub: the twin engine, checking and applying patches to a stored
 * twin; see ngx_iothub_twin.h.  The JSON tree it works on is
 * ngx_iothub_twin_json.c, what it renders ngx_iothub_twin_view.c.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "ngx_iothub_twin.h"
#include "ngx_iothub_twin_json.h"


/* versions read from Redis, far from overflow */
#define NGX_IOTHUB_TWIN_VERSION_MAX  (1LL << 62)


/* what a merge writes into the metadata of every node it touches */
typedef struct {
    const char                *now;
    int64_t                    version;  /* 0: no $lastUpdatedVersion */
} ngx_iothub_twin_stamp_t;


/* one section being changed */
typedef struct {
    ngx_iothub_twin_node_t    *patch;    /* object or NULL: consumed */
    char                      *text;     /* result, malloc()ed */
    char                      *meta;     /* result, NULL for tags */
    ngx_iothub_twin_section_e  section;
    unsigned                   replace:1;
} ngx_iothub_twin_apply_t;


/* a service PATCH or PUT body and the parts of it that count */
typedef struct {
    ngx_iothub_twin_node_t    *body;
    ngx_iothub_twin_node_t    *tags;
    ngx_iothub_twin_node_t    *desired;
    ngx_iothub_twin_node_t    *reported;
} ngx_iothub_twin_body_t;


static ngx_iothub_twin_rc_e ngx_iothub_twin_check_key(const char *key,
    size_t len, ngx_iothub_twin_err_t *e);
static int ngx_iothub_twin_int_valid(const char *s, size_t len);
static ngx_iothub_twin_rc_e ngx_iothub_twin_check_value(
    const ngx_iothub_twin_node_t *v, const ngx_iothub_twin_node_t *member,
    unsigned level, ngx_iothub_twin_err_t *e);
static ngx_iothub_twin_rc_e ngx_iothub_twin_check_object(
    const ngx_iothub_twin_node_t *obj, unsigned level,
    ngx_iothub_twin_err_t *e);
static ngx_iothub_twin_rc_e ngx_iothub_twin_fail_value(
    ngx_iothub_twin_err_t *e, ngx_iothub_twin_rc_e rc,
    const ngx_iothub_twin_node_t *member, const char *fmt);
static void ngx_iothub_twin_strip(ngx_iothub_twin_node_t *desired);
static size_t ngx_iothub_twin_text_size(const char *s, size_t len);
static size_t ngx_iothub_twin_size(const ngx_iothub_twin_node_t *node);

static ngx_iothub_twin_rc_e ngx_iothub_twin_stamp(
    ngx_iothub_twin_node_t *meta, const ngx_iothub_twin_stamp_t *st);
static ngx_iothub_twin_rc_e ngx_iothub_twin_merge(
    ngx_iothub_twin_node_t *target, ngx_iothub_twin_node_t *meta,
    ngx_iothub_twin_node_t *patch, const ngx_iothub_twin_stamp_t *st);
static ngx_iothub_twin_rc_e ngx_iothub_twin_merge_member(
    ngx_iothub_twin_node_t *target, ngx_iothub_twin_index_t *tidx,
    ngx_iothub_twin_node_t *meta, ngx_iothub_twin_index_t *midx,
    ngx_iothub_twin_node_t *p, const ngx_iothub_twin_stamp_t *st);
static ngx_iothub_twin_node_t *ngx_iothub_twin_add(
    ngx_iothub_twin_node_t *obj, const ngx_iothub_twin_node_t *p);


static const char *ngx_iothub_twin_section_name(
    ngx_iothub_twin_section_e section);
static char **ngx_iothub_twin_section_text(ngx_iothub_twin_t *t,
    ngx_iothub_twin_section_e section, char ***meta);
static ngx_iothub_twin_rc_e ngx_iothub_twin_apply(ngx_iothub_twin_t *t,
    ngx_iothub_twin_apply_t *a, const ngx_iothub_twin_stamp_t *st,
    ngx_iothub_twin_err_t *e);
static ngx_iothub_twin_rc_e ngx_iothub_twin_apply_end(
    ngx_iothub_twin_node_t *root, ngx_iothub_twin_node_t *meta,
    ngx_iothub_twin_apply_t *a, ngx_iothub_twin_err_t *e);
static void ngx_iothub_twin_commit(ngx_iothub_twin_t *t,
    ngx_iothub_twin_apply_t *a);
static void ngx_iothub_twin_apply_free(ngx_iothub_twin_apply_t *a);
static ngx_iothub_twin_rc_e ngx_iothub_twin_versions(
    const ngx_iothub_twin_t *t, ngx_iothub_twin_err_t *e);

static ngx_iothub_twin_rc_e ngx_iothub_twin_member(
    ngx_iothub_twin_node_t *obj, const char *name,
    ngx_iothub_twin_node_t **out, ngx_iothub_twin_err_t *e);
static ngx_iothub_twin_rc_e ngx_iothub_twin_body(const char *json,
    size_t len, ngx_iothub_twin_body_t *b, ngx_iothub_twin_err_t *e);
static ngx_iothub_twin_rc_e ngx_iothub_twin_service_update(
    ngx_iothub_twin_t *t, const char *json, size_t len, int replace,
    const char *now, char **notify, char *err, size_t errlen);
static ngx_iothub_twin_rc_e ngx_iothub_twin_service(ngx_iothub_twin_t *t,
    ngx_iothub_twin_body_t *b, int replace, const char *now, char **notify,
    ngx_iothub_twin_err_t *e);
static void ngx_iothub_twin_service_commit(ngx_iothub_twin_t *t,
    ngx_iothub_twin_apply_t *tags, ngx_iothub_twin_apply_t *desired);
static ngx_iothub_twin_rc_e ngx_iothub_twin_service_apply(
    ngx_iothub_twin_t *t, ngx_iothub_twin_apply_t *a, const char *now,
    ngx_iothub_twin_err_t *e);

static int ngx_iothub_twin_parse_version(const char *s, size_t len,
    int64_t *v);


static const char  *ngx_iothub_twin_field_names[NGX_IOTHUB_TWIN_NFIELDS] = {
    "tags",
    "desired",
    "desiredMeta",
    "reported",
    "reportedMeta",
    "version",
    "desiredVersion",
    "reportedVersion"
};


/* messaging.md 7.3: UTF-8 (checked by yajl), 1 KB, no C0/C1, '.$ ' */
static ngx_iothub_twin_rc_e
ngx_iothub_twin_check_key(const char *key, size_t len,
    ngx_iothub_twin_err_t *e)
{
    char            name[NGX_IOTHUB_TWIN_NAME_LEN + 4];
    size_t          i;
    unsigned char   c;

    if (len > NGX_IOTHUB_TWIN_KEY_MAX) {
        ngx_iothub_twin_name(key, len, name);
        return ngx_iothub_twin_fail(e, NGX_IOTHUB_TWIN_INVALID,
                                    "twin property name \"%s\" is longer "
                                    "than %d bytes", name,
                                    NGX_IOTHUB_TWIN_KEY_MAX);
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) key[i];

        if (c < 0x20 || c == 0x7f
            || (c == 0xc2 && i + 1 < len
                && (unsigned char) key[i + 1] < 0xa0))
        {
            ngx_iothub_twin_name(key, len, name);
            return ngx_iothub_twin_fail(e, NGX_IOTHUB_TWIN_INVALID,
                                        "twin property name \"%s\" contains "
                                        "a control character", name);
        }

        if (c == '.' || c == '$' || c == ' ') {
            ngx_iothub_twin_name(key, len, name);
            return ngx_iothub_twin_fail(e, NGX_IOTHUB_TWIN_INVALID,
                                        "twin property name \"%s\" contains "
                                        "invalid character '%c'", name, c);
        }
    }

    return NGX_IOTHUB_TWIN_OK;
}


/*
 * An integer literal within NGX_IOTHUB_TWIN_INT_MIN..MAX; other numbers
 * pass.  yajl has checked the grammar: no sign but '-', no leading zeros.
 */
static int
ngx_iothub_twin_int_valid(const char *s, size_t len)
{
    const char  *max;

    if (memchr(s, '.', len) != NULL || memchr(s, 'e', len) != NULL
        || memchr(s, 'E', len) != NULL)
    {
        return 1;
    }

    max = "4503599627370495";

    if (len > 0 && s[0] == '-') {
        max = "4503599627370496";
        s++;
        len--;
    }

    if (len != 16) {
        return len < 16;
    }

    return memcmp(s, max, 16) <= 0;
}


/* member: the object member v is, or is in (arrays), for messages */
static ngx_iothub_twin_rc_e
ngx_iothub_twin_check_value(const ngx_iothub_twin_node_t *v,
    const ngx_iothub_twin_node_t *member, unsigned level,
    ngx_iothub_twin_err_t *e)
{
    const char                    *fmt;
    ngx_iothub_twin_rc_e           rc;
    const ngx_iothub_twin_node_t  *c;

    switch (v->type) {

    case NGX_IOTHUB_TWIN_JSON_OBJECT:
        if (level + 1 > NGX_IOTHUB_TWIN_DEPTH_MAX) {
            return ngx_iothub_twin_fail_value(e, NGX_IOTHUB_TWIN_TOO_DEEP,
                       member, "twin property \"%s\" is nested deeper than "
                       "10 levels");
        }

        return ngx_iothub_twin_check_object(v, level + 1, e);

    case NGX_IOTHUB_TWIN_JSON_ARRAY:
        for (c = v->child; c != NULL; c = c->next) {
            rc = ngx_iothub_twin_check_value(c, member, level, e);
            if (rc != NGX_IOTHUB_TWIN_OK) {
                return rc;
            }
        }

        return NGX_IOTHUB_TWIN_OK;

    case NGX_IOTHUB_TWIN_JSON_STRING:
        fmt = "value of twin property \"%s\" is longer than 4096 bytes";

        return (v->len > NGX_IOTHUB_TWIN_STRING_MAX)
               ? ngx_iothub_twin_fail_value(e, NGX_IOTHUB_TWIN_INVALID,
                                            member, fmt)
               : NGX_IOTHUB_TWIN_OK;

    case NGX_IOTHUB_TWIN_JSON_NUMBER:
        fmt = "value of twin property \"%s\" is out of the integer range";

        return ngx_iothub_twin_int_valid(v->str, v->len)
               ? NGX_IOTHUB_TWIN_OK
               : ngx_iothub_twin_fail_value(e, NGX_IOTHUB_TWIN_INVALID,
                                            member, fmt);

    default:
        return NGX_IOTHUB_TWIN_OK;
    }
}


/* fmt has one %s: the name of member */
static ngx_iothub_twin_rc_e
ngx_iothub_twin_fail_value(ngx_iothub_twin_err_t *e, ngx_iothub_twin_rc_e rc,
    const ngx_iothub_twin_node_t *member, const char *fmt)
{
    char  name[NGX_IOTHUB_TWIN_NAME_LEN + 4];

    ngx_iothub_twin_name(member->key, member->key_len, name);

    if (e->errlen > 0) {
        (void) snprintf(e->err, e->errlen, fmt, name);
    }

    return rc;
}


/* level: of obj, the section root being 0 */
static ngx_iothub_twin_rc_e
ngx_iothub_twin_check_object(const ngx_iothub_twin_node_t *obj,
    unsigned level, ngx_iothub_twin_err_t *e)
{
    ngx_iothub_twin_rc_e           rc;
    const ngx_iothub_twin_node_t  *c;

    for (c = obj->child; c != NULL; c = c->next) {
        rc = ngx_iothub_twin_check_key(c->key, c->key_len, e);

        if (rc == NGX_IOTHUB_TWIN_OK) {
            rc = ngx_iothub_twin_check_value(c, c, level, e);
        }

        if (rc != NGX_IOTHUB_TWIN_OK) {
            return rc;
        }
    }

    return NGX_IOTHUB_TWIN_OK;
}


/* drops the read-only members a client may send back in desired */
static void
ngx_iothub_twin_strip(ngx_iothub_twin_node_t *desired)
{
    ngx_iothub_twin_node_t  *c;

    for (c = desired->child; c != NULL; c = c->next) {
        if ((c->key_len == 9 && memcmp(c->key, "$metadata", 9) == 0)
            || (c->key_len == 8 && memcmp(c->key, "$version", 8) == 0))
        {
            ngx_iothub_twin_delete(c);
        }
    }

    ngx_iothub_twin_sweep(desired);
}


/* UTF-8 bytes without C0, DEL and C1 control characters */
static size_t
ngx_iothub_twin_text_size(const char *s, size_t len)
{
    size_t          i, n;
    unsigned char   c;

    for (i = 0, n = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c < 0x20 || c == 0x7f) {
            continue;
        }

        if (c == 0xc2 && i + 1 < len && (unsigned char) s[i + 1] < 0xa0) {
            i++;
            continue;
        }

        n++;
    }

    return n;
}


/* messaging.md 7.3; a null (only in arrays) counts as a boolean */
static size_t
ngx_iothub_twin_size(const ngx_iothub_twin_node_t *node)
{
    size_t                         n;
    const ngx_iothub_twin_node_t  *c;

    switch (node->type) {

    case NGX_IOTHUB_TWIN_JSON_NUMBER:
        return 8;

    case NGX_IOTHUB_TWIN_JSON_STRING:
        return ngx_iothub_twin_text_size(node->str, node->len);

    case NGX_IOTHUB_TWIN_JSON_OBJECT:
    case NGX_IOTHUB_TWIN_JSON_ARRAY:
        n = 0;

        for (c = node->child; c != NULL; c = c->next) {
            n += c->key_len + ngx_iothub_twin_size(c);
        }

        return n;

    default:
        return 4;
    }
}


/* sets "$lastUpdated" and "$lastUpdatedVersion" first in meta */
static ngx_iothub_twin_rc_e
ngx_iothub_twin_stamp(ngx_iothub_twin_node_t *meta,
    const ngx_iothub_twin_stamp_t *st)
{
    int                      n;
    char                     num[24];
    ngx_iothub_twin_node_t  *lu, *luv;

    lu = ngx_iothub_twin_find(meta, NULL, "$lastUpdated", 12);

    if (lu == NULL) {
        lu = ngx_iothub_twin_node("$lastUpdated", 12,
                                  NGX_IOTHUB_TWIN_JSON_NULL);
        if (lu == NULL) {
            return NGX_IOTHUB_TWIN_NO_MEMORY;
        }

        ngx_iothub_twin_insert(meta, NULL, lu);
    }

    if (!ngx_iothub_twin_set(lu, NGX_IOTHUB_TWIN_JSON_STRING, st->now,
                             strlen(st->now)))
    {
        return NGX_IOTHUB_TWIN_NO_MEMORY;
    }

    if (st->version == 0) {
        return NGX_IOTHUB_TWIN_OK;
    }

    luv = ngx_iothub_twin_find(meta, NULL, "$lastUpdatedVersion", 19);

    if (luv == NULL) {
        luv = ngx_iothub_twin_node("$lastUpdatedVersion", 19,
                                   NGX_IOTHUB_TWIN_JSON_NULL);
        if (luv == NULL) {
            return NGX_IOTHUB_TWIN_NO_MEMORY;
        }

        ngx_iothub_twin_insert(meta, lu, luv);
    }

    n = snprintf(num, sizeof(num), "%lld", (long long) st->version);

    if (!ngx_iothub_twin_set(luv, NGX_IOTHUB_TWIN_JSON_NUMBER, num, n)) {
        return NGX_IOTHUB_TWIN_NO_MEMORY;
    }

    return NGX_IOTHUB_TWIN_OK;
}


/*
 * RFC 7396 on the object target with its metadata meta (NULL: none kept);
 * the values of patch are moved into target, so patch is spent.
 */
static ngx_iothub_twin_rc_e
ngx_iothub_twin_merge(ngx_iothub_twin_node_t *target,
    ngx_iothub_twin_node_t *meta, ngx_iothub_twin_node_t *patch,
    const ngx_iothub_twin_stamp_t *st)
{
    ngx_iothub_twin_rc_e      rc;
    ngx_iothub_twin_node_t   *p;
    ngx_iothub_twin_index_t   tidx, midx;

    midx.elts = NULL;
    midx.n = 0;

    rc = ngx_iothub_twin_index(target, &tidx);

    if (rc == NGX_IOTHUB_TWIN_OK && meta != NULL) {
        rc = ngx_iothub_twin_index(meta, &midx);
    }

    for (p = patch->child; p != NULL && rc == NGX_IOTHUB_TWIN_OK;
         p = p->next)
    {
        rc = ngx_iothub_twin_merge_member(target, &tidx, meta, &midx, p, st);
    }

    free(tidx.elts);
    free(midx.elts);

    if (rc != NGX_IOTHUB_TWIN_OK) {
        return rc;
    }

    ngx_iothub_twin_sweep(target);

    if (meta == NULL) {
        return NGX_IOTHUB_TWIN_OK;
    }

    ngx_iothub_twin_sweep(meta);

    return ngx_iothub_twin_stamp(meta, st);
}


static ngx_iothub_twin_rc_e
ngx_iothub_twin_merge_member(ngx_iothub_twin_node_t *target,
    ngx_iothub_twin_index_t *tidx, ngx_iothub_twin_node_t *meta,
    ngx_iothub_twin_index_t *midx, ngx_iothub_twin_node_t *p,
    const ngx_iothub_twin_stamp_t *st)
{
    int                      fresh;
    ngx_iothub_twin_node_t  *t, *m;

    t = ngx_iothub_twin_find(target, tidx, p->key, p->key_len);
    m = (meta != NULL) ? ngx_iothub_twin_find(meta, midx, p->key, p->key_len)
                       : NULL;

    if (p->type == NGX_IOTHUB_TWIN_JSON_NULL) {
        if (t != NULL) {
            ngx_iothub_twin_delete(t);
        }

        if (m != NULL) {
            ngx_iothub_twin_delete(m);
        }

        return NGX_IOTHUB_TWIN_OK;
    }

    fresh = (t == NULL);

    if ((t == NULL && (t = ngx_iothub_twin_add(target, p)) == NULL)
        || (meta != NULL && m == NULL
            && (m = ngx_iothub_twin_add(meta, p)) == NULL))
    {
        return NGX_IOTHUB_TWIN_NO_MEMORY;
    }

    if (p->type != NGX_IOTHUB_TWIN_JSON_OBJECT) {
        /* scalars and arrays replace; their metadata is a leaf's */
        ngx_iothub_twin_move(t, p);

        if (m == NULL) {
            return NGX_IOTHUB_TWIN_OK;
        }

        ngx_iothub_twin_node_clear(m);
        m->type = NGX_IOTHUB_TWIN_JSON_OBJECT;

        return ngx_iothub_twin_stamp(m, st);
    }

    if (t->type != NGX_IOTHUB_TWIN_JSON_OBJECT) {
        ngx_iothub_twin_node_clear(t);
        t->type = NGX_IOTHUB_TWIN_JSON_OBJECT;
        fresh = 1;
    }

    if (m != NULL && (fresh || m->type != NGX_IOTHUB_TWIN_JSON_OBJECT)) {
        ngx_iothub_twin_node_clear(m);
        m->type = NGX_IOTHUB_TWIN_JSON_OBJECT;
    }

    return ngx_iothub_twin_merge(t, m, p, st);
}


/* appends an empty object named as the patch member p */
static ngx_iothub_twin_node_t *
ngx_iothub_twin_add(ngx_iothub_twin_node_t *obj,
    const ngx_iothub_twin_node_t *p)
{
    ngx_iothub_twin_node_t  *node;

    node = ngx_iothub_twin_node(p->key, p->key_len,
                                NGX_IOTHUB_TWIN_JSON_OBJECT);

    if (node != NULL) {
        ngx_iothub_twin_append(obj, node);
    }

    return node;
}


static const char *
ngx_iothub_twin_section_name(ngx_iothub_twin_section_e section)
{
    switch (section) {
    case NGX_IOTHUB_TWIN_TAGS:
        return "tags";
    case NGX_IOTHUB_TWIN_DESIRED:
        return "desired properties";
    default:
        return "reported properties";
    }
}


static char **
ngx_iothub_twin_section_text(ngx_iothub_twin_t *t,
    ngx_iothub_twin_section_e section, char ***meta)
{
    switch (section) {

    case NGX_IOTHUB_TWIN_TAGS:
        *meta = NULL;
        return &t->tags;

    case NGX_IOTHUB_TWIN_DESIRED:
        *meta = &t->desired_meta;
        return &t->desired;

    default:
        *meta = &t->reported_meta;
        return &t->reported;
    }
}


/*
 * Merges a->patch into a section of t (or into an empty section for a
 * replace) and leaves the new texts in a->text and a->meta; t is only
 * read.
 */
static ngx_iothub_twin_rc_e
ngx_iothub_twin_apply(ngx_iothub_twin_t *t, ngx_iothub_twin_apply_t *a,
    const ngx_iothub_twin_stamp_t *st, ngx_iothub_twin_err_t *e)
{
    char                    **text, **meta;
    const char               *what;
    ngx_iothub_twin_rc_e      rc;
    ngx_iothub_twin_node_t   *root, *mroot;

    text = ngx_iothub_twin_section_text(t, a->section, &meta);
    what = ngx_iothub_twin_section_name(a->section);
    root = NULL;
    mroot = NULL;

    if (a->replace) {
        root = ngx_iothub_twin_node(NULL, 0, NGX_IOTHUB_TWIN_JSON_OBJECT);
        rc = (root != NULL) ? NGX_IOTHUB_TWIN_OK : NGX_IOTHUB_TWIN_NO_MEMORY;

        if (rc == NGX_IOTHUB_TWIN_OK && meta != NULL) {
            mroot = ngx_iothub_twin_node(NULL, 0, NGX_IOTHUB_TWIN_JSON_OBJECT);
            rc = (mroot != NULL) ? NGX_IOTHUB_TWIN_OK
                                 : NGX_IOTHUB_TWIN_NO_MEMORY;
        }

    } else {
        rc = ngx_iothub_twin_load(*text, what, &root, e);

        if (rc == NGX_IOTHUB_TWIN_OK && meta != NULL) {
            rc = ngx_iothub_twin_load(*meta,
                                      (a->section == NGX_IOTHUB_TWIN_DESIRED)
                                      ? "desired metadata"
                                      : "reported metadata", &mroot, e);
        }
    }

    if (rc == NGX_IOTHUB_TWIN_OK) {
        if (a->patch != NULL) {
            rc = ngx_iothub_twin_merge(root, mroot, a->patch, st);

        } else if (mroot != NULL) {
            rc = ngx_iothub_twin_stamp(mroot, st);
        }
    }

    if (rc == NGX_IOTHUB_TWIN_OK) {
        rc = ngx_iothub_twin_apply_end(root, mroot, a, e);
    }

    ngx_iothub_twin_node_free(root);
    ngx_iothub_twin_node_free(mroot);

    if (rc == NGX_IOTHUB_TWIN_NO_MEMORY) {
        return ngx_iothub_twin_fail(e, rc, "out of memory");
    }

    return rc;
}


/* checks the size of the merged section and writes its texts */
static ngx_iothub_twin_rc_e
ngx_iothub_twin_apply_end(ngx_iothub_twin_node_t *root,
    ngx_iothub_twin_node_t *meta, ngx_iothub_twin_apply_t *a,
    ngx_iothub_twin_err_t *e)
{
    size_t                size, max;
    ngx_iothub_twin_rc_e  rc;

    max = (a->section == NGX_IOTHUB_TWIN_TAGS) ? NGX_IOTHUB_TWIN_TAGS_MAX
                                               : NGX_IOTHUB_TWIN_SECTION_MAX;
    size = ngx_iothub_twin_size(root);

    if (size > max) {
        return ngx_iothub_twin_fail(e, NGX_IOTHUB_TWIN_TOO_LARGE,
                                    "%s would be %zu bytes, more than the "
                                    "limit of %zu bytes",
                                    ngx_iothub_twin_section_name(a->section),
                                    size, max);
    }

    rc = ngx_iothub_twin_text(root, &a->text);

    if (rc == NGX_IOTHUB_TWIN_OK && meta != NULL) {
        rc = ngx_iothub_twin_text(meta, &a->meta);
    }

    return rc;
}


static void
ngx_iothub_twin_commit(ngx_iothub_twin_t *t, ngx_iothub_twin_apply_t *a)
{
    char  **text, **meta;

    text = ngx_iothub_twin_section_text(t, a->section, &meta);

    free(*text);
    *text = a->text;
    a->text = NULL;

    if (meta != NULL) {
        free(*meta);
        *meta = a->meta;
        a->meta = NULL;
    }
}


static void
ngx_iothub_twin_apply_free(ngx_iothub_twin_apply_t *a)
{
    free(a->text);
    free(a->meta);

    a->text = NULL;
    a->meta = NULL;
}


static ngx_iothub_twin_rc_e
ngx_iothub_twin_versions(const ngx_iothub_twin_t *t,
    ngx_iothub_twin_err_t *e)
{
    if (t->version < 1 || t->version >= NGX_IOTHUB_TWIN_VERSION_MAX
        || t->desired_version < 1
        || t->desired_version >= NGX_IOTHUB_TWIN_VERSION_MAX
        || t->reported_version < 1
        || t->reported_version >= NGX_IOTHUB_TWIN_VERSION_MAX)
    {
        return ngx_iothub_twin_fail(e, NGX_IOTHUB_TWIN_CORRUPT,
                                    "stored twin versions out of range");
    }

    return NGX_IOTHUB_TWIN_OK;
}


ngx_iothub_twin_rc_e
ngx_iothub_twin_init(ngx_iothub_twin_t *t, const char *now)
{
    char                     *meta;
    ngx_iothub_twin_rc_e      rc;
    ngx_iothub_twin_node_t   *root;
    ngx_iothub_twin_stamp_t   st;

    memset(t, 0, sizeof(ngx_iothub_twin_t));

    t->version = 1;
    t->desired_version = 1;
    t->reported_version = 1;

    /* a new twin's metadata roots carry its creation time only */
    root = ngx_iothub_twin_node(NULL, 0, NGX_IOTHUB_TWIN_JSON_OBJECT);
    if (root == NULL) {
        return NGX_IOTHUB_TWIN_NO_MEMORY;
    }

    st.now = now;
    st.version = 0;

    rc = (now != NULL) ? ngx_iothub_twin_stamp(root, &st)
                       : NGX_IOTHUB_TWIN_OK;

    if (rc == NGX_IOTHUB_TWIN_OK) {
        rc = ngx_iothub_twin_text(root, &meta);
    }

    ngx_iothub_twin_node_free(root);

    if (rc != NGX_IOTHUB_TWIN_OK) {
        return rc;
    }

    t->tags = strdup("{}");
    t->desired = strdup("{}");
    t->reported = strdup("{}");
    t->desired_meta = meta;
    t->reported_meta = strdup(meta);

    if (t->tags == NULL || t->desired == NULL || t->reported == NULL
        || t->reported_meta == NULL)
    {
        ngx_iothub_twin_free(t);
        return NGX_IOTHUB_TWIN_NO_MEMORY;
    }

    return NGX_IOTHUB_TWIN_OK;
}


void
ngx_iothub_twin_free(ngx_iothub_twin_t *t)
{
    free(t->tags);
    free(t->desired);
    free(t->reported);
    free(t->desired_meta);
    free(t->reported_meta);

    t->tags = NULL;
    t->desired = NULL;
    t->reported = NULL;
    t->desired_meta = NULL;
    t->reported_meta = NULL;
}


int
ngx_iothub_twin_fields(const ngx_iothub_twin_t *t, const char **names,
    const char **values, size_t *lens, char *scratch)
{
    int      i, n;
    int64_t  v;

    values[0] = t->tags;
    values[1] = t->desired;
    values[2] = t->desired_meta;
    values[3] = t->reported;
    values[4] = t->reported_meta;

    for (i = 0; i < NGX_IOTHUB_TWIN_NFIELDS; i++) {
        names[i] = ngx_iothub_twin_field_names[i];

        if (i < 5) {
            if (values[i] == NULL) {
                values[i] = "{}";
            }

            lens[i] = strlen(values[i]);
            continue;
        }

        v = (i == 5) ? t->version
                     : (i == 6) ? t->desired_version : t->reported_version;

        n = snprintf(scratch, 24, "%lld", (long long) v);

        values[i] = scratch;
        lens[i] = n;
        scratch += 24;
    }

    return NGX_IOTHUB_TWIN_NFIELDS;
}


static int
ngx_iothub_twin_parse_version(const char *s, size_t len, int64_t *v)
{
    size_t   i;
    int64_t  n;

    if (len == 0 || len > 19) {
        return 0;
    }

    for (i = 0, n = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || n > NGX_IOTHUB_TWIN_VERSION_MAX / 10)
        {
            return 0;
        }

        n = n * 10 + (s[i] - '0');
    }

    if (n < 1 || n > NGX_IOTHUB_TWIN_VERSION_MAX) {
        return 0;
    }

    *v = n;

    return 1;
}


ngx_iothub_twin_rc_e
ngx_iothub_twin_set_field(ngx_iothub_twin_t *t, const char *name,
    size_t nlen, const char *value, size_t vlen)
{
    int       i;
    char     *p, **text;
    int64_t  *v;

    for (i = 0; i < NGX_IOTHUB_TWIN_NFIELDS; i++) {
        if (strlen(ngx_iothub_twin_field_names[i]) == nlen
            && memcmp(ngx_iothub_twin_field_names[i], name, nlen) == 0)
        {
            break;
        }
    }

    if (i >= 5) {
        if (i == NGX_IOTHUB_TWIN_NFIELDS) {
            return NGX_IOTHUB_TWIN_OK;
        }

        v = (i == 5) ? &t->version
                     : (i == 6) ? &t->desired_version : &t->reported_version;

        return ngx_iothub_twin_parse_version(value, vlen, v)
               ? NGX_IOTHUB_TWIN_OK : NGX_IOTHUB_TWIN_CORRUPT;
    }

    /* our texts never hold a NUL: yajl_gen writes \u0000 */
    if (memchr(value, '\0', vlen) != NULL) {
        return NGX_IOTHUB_TWIN_CORRUPT;
    }

    text = (i == 0) ? &t->tags
           : (i == 1) ? &t->desired
           : (i == 2) ? &t->desired_meta
           : (i == 3) ? &t->reported : &t->reported_meta;

    p = malloc(vlen + 1);
    if (p == NULL) {
        return NGX_IOTHUB_TWIN_NO_MEMORY;
    }

    memcpy(p, value, vlen);
    p[vlen] = '\0';

    free(*text);
    *text = p;

    return NGX_IOTHUB_TWIN_OK;
}


ngx_iothub_twin_rc_e
ngx_iothub_twin_validate(const char *json, size_t len,
    ngx_iothub_twin_section_e section, char *err, size_t errlen)
{
    ngx_iothub_twin_rc_e     rc;
    ngx_iothub_twin_err_t    e;
    ngx_iothub_twin_node_t  *patch;

    e.err = err;
    e.errlen = errlen;

    rc = ngx_iothub_twin_parse_object(json, len,
                                      ngx_iothub_twin_section_name(section),
                                      &patch, &e);
    if (rc != NGX_IOTHUB_TWIN_OK) {
        return rc;
    }

    if (section == NGX_IOTHUB_TWIN_DESIRED) {
        ngx_iothub_twin_strip(patch);
    }

    rc = ngx_iothub_twin_check_object(patch, 0, &e);

    ngx_iothub_twin_node_free(patch);

    return rc;
}


ngx_iothub_twin_rc_e
ngx_iothub_twin_patch_reported(ngx_iothub_twin_t *t, const char *json,
    size_t len, const char *now, char *err, size_t errlen)
{
    ngx_iothub_twin_rc_e      rc;
    ngx_iothub_twin_err_t     e;
    ngx_iothub_twin_stamp_t   st;
    ngx_iothub_twin_apply_t   a;

    e.err = err;
    e.errlen = errlen;

    memset(&a, 0, sizeof(ngx_iothub_twin_apply_t));
    a.section = NGX_IOTHUB_TWIN_REPORTED;

    rc = ngx_iothub_twin_versions(t, &e);

    if (rc == NGX_IOTHUB_TWIN_OK) {
        rc = ngx_iothub_twin_parse_object(json, len, "reported properties",
                                          &a.patch, &e);
    }

    if (rc != NGX_IOTHUB_TWIN_OK) {
        return rc;
    }

    rc = ngx_iothub_twin_check_object(a.patch, 0, &e);

    if (rc == NGX_IOTHUB_TWIN_OK) {
        st.now = now;
        st.version = 0;
        rc = ngx_iothub_twin_apply(t, &a, &st, &e);
    }

    ngx_iothub_twin_node_free(a.patch);

    if (rc != NGX_IOTHUB_TWIN_OK) {
        ngx_iothub_twin_apply_free(&a);
        return rc;
    }

    ngx_iothub_twin_commit(t, &a);
    t->reported_version++;
    t->version++;

    return NGX_IOTHUB_TWIN_OK;
}


/*
 * *out: the member name of obj, NULL when absent or null, else an object.
 * Names compare ASCII case-insensitively, the last match wins, as with
 * the hub's deserializer (see ngx_iothub_identity_parse()).
 */
static ngx_iothub_twin_rc_e
ngx_iothub_twin_member(ngx_iothub_twin_node_t *obj, const char *name,
    ngx_iothub_twin_node_t **out, ngx_iothub_twin_err_t *e)
{
    size_t                   i, len;
    ngx_iothub_twin_node_t  *c, *found;

    *out = NULL;

    if (obj == NULL) {
        return NGX_IOTHUB_TWIN_OK;
    }

    len = strlen(name);
    found = NULL;

    for (c = obj->child; c != NULL; c = c->next) {
        for (i = 0; i < len && c->key_len == len; i++) {
            if ((c->key[i] | 0x20) != name[i]) {
                break;
            }
        }

        if (i == len && c->key_len == len) {
            found = c;
        }
    }

    c = found;

    if (c == NULL || c->type == NGX_IOTHUB_TWIN_JSON_NULL) {
        return NGX_IOTHUB_TWIN_OK;
    }

    if (c->type != NGX_IOTHUB_TWIN_JSON_OBJECT) {
        return ngx_iothub_twin_fail(e, NGX_IOTHUB_TWIN_INVALID,
                                    "\"%s\" is not a JSON object", name);
    }

    *out = c;

    return NGX_IOTHUB_TWIN_OK;
}


/* parses and checks a service PATCH or PUT body */
static ngx_iothub_twin_rc_e
ngx_iothub_twin_body(const char *json, size_t len, ngx_iothub_twin_body_t *b,
    ngx_iothub_twin_err_t *e)
{
    ngx_iothub_twin_rc_e     rc;
    ngx_iothub_twin_node_t  *props;

    memset(b, 0, sizeof(ngx_iothub_twin_body_t));

    rc = ngx_iothub_twin_parse_object(json, len, "the twin", &b->body, e);
    if (rc != NGX_IOTHUB_TWIN_OK) {
        return rc;
    }

    rc = ngx_iothub_twin_member(b->body, "tags", &b->tags, e);

    if (rc == NGX_IOTHUB_TWIN_OK) {
        rc = ngx_iothub_twin_member(b->body, "properties", &props, e);
    }

    if (rc == NGX_IOTHUB_TWIN_OK) {
        rc = ngx_iothub_twin_member(props, "desired", &b->desired, e);
    }

    if (rc == NGX_IOTHUB_TWIN_OK) {
        rc = ngx_iothub_twin_member(props, "reported", &b->reported, e);
    }

    if (rc == NGX_IOTHUB_TWIN_OK && b->tags != NULL) {
        rc = ngx_iothub_twin_check_object(b->tags, 0, e);
    }

    if (rc == NGX_IOTHUB_TWIN_OK && b->desired != NULL) {
        ngx_iothub_twin_strip(b->desired);
        rc = ngx_iothub_twin_check_object(b->desired, 0, e);
    }

    return rc;
}


/*
 * The common part of a service PATCH and PUT, the body checked: applies
 * tags and desired, renders the notification, commits.
 */
static ngx_iothub_twin_rc_e
ngx_iothub_twin_service(ngx_iothub_twin_t *t, ngx_iothub_twin_body_t *b,
    int replace, const char *now, char **notify, ngx_iothub_twin_err_t *e)
{
    char                     *text;
    ngx_iothub_twin_rc_e      rc;
    ngx_iothub_twin_apply_t   tags, desired;

    memset(&tags, 0, sizeof(ngx_iothub_twin_apply_t));
    memset(&desired, 0, sizeof(ngx_iothub_twin_apply_t));

    tags.section = NGX_IOTHUB_TWIN_TAGS;
    tags.patch = b->tags;
    tags.replace = replace;
    desired.section = NGX_IOTHUB_TWIN_DESIRED;
    desired.patch = b->desired;
    desired.replace = replace;
    text = NULL;

    rc = NGX_IOTHUB_TWIN_OK;

    /* rendered first: the merge moves values out of the patch */
    if (!replace && b->desired != NULL) {
        rc = ngx_iothub_twin_text(b->desired, &text);
    }

    if (rc == NGX_IOTHUB_TWIN_OK && (replace || b->tags != NULL)) {
        rc = ngx_iothub_twin_service_apply(t, &tags, now, e);
    }

    if (rc == NGX_IOTHUB_TWIN_OK && (replace || b->desired != NULL)) {
        rc = ngx_iothub_twin_service_apply(t, &desired, now, e);
    }

    if (rc == NGX_IOTHUB_TWIN_OK && replace) {
        text = strdup(desired.text);
        rc = (text != NULL) ? NGX_IOTHUB_TWIN_OK : NGX_IOTHUB_TWIN_NO_MEMORY;
    }

    if (rc != NGX_IOTHUB_TWIN_OK) {
        ngx_iothub_twin_apply_free(&tags);
        ngx_iothub_twin_apply_free(&desired);
        free(text);

        return (rc == NGX_IOTHUB_TWIN_NO_MEMORY)
               ? ngx_iothub_twin_fail(e, rc, "out of memory") : rc;
    }

    ngx_iothub_twin_service_commit(t, &tags, &desired);

    if (notify != NULL) {
        *notify = text;

    } else {
        free(text);
    }

    return NGX_IOTHUB_TWIN_OK;
}


static void
ngx_iothub_twin_service_commit(ngx_iothub_twin_t *t,
    ngx_iothub_twin_apply_t *tags, ngx_iothub_twin_apply_t *desired)
{
    if (tags->text != NULL) {
        ngx_iothub_twin_commit(t, tags);
    }

    if (desired->text != NULL) {
        ngx_iothub_twin_commit(t, desired);
        t->desired_version++;
    }

    t->version++;
}


static ngx_iothub_twin_rc_e
ngx_iothub_twin_service_apply(ngx_iothub_twin_t *t,
    ngx_iothub_twin_apply_t *a, const char *now, ngx_iothub_twin_err_t *e)
{
    ngx_iothub_twin_stamp_t  st;

    st.now = now;
    st.version = (a->section == NGX_IOTHUB_TWIN_DESIRED)
                 ? t->desired_version + 1 : 0;

    return ngx_iothub_twin_apply(t, a, &st, e);
}


ngx_iothub_twin_rc_e
ngx_iothub_twin_service_patch(ngx_iothub_twin_t *t, const char *json,
    size_t len, const char *now, char **notify, char *err, size_t errlen)
{
    return ngx_iothub_twin_service_update(t, json, len, 0, now, notify, err,
                                          errlen);
}


ngx_iothub_twin_rc_e
ngx_iothub_twin_service_replace(ngx_iothub_twin_t *t, const char *json,
    size_t len, const char *now, char **notify, char *err, size_t errlen)
{
    return ngx_iothub_twin_service_update(t, json, len, 1, now, notify, err,
                                          errlen);
}


/* a service PATCH (replace 0) or PUT (replace 1) of the body json */
static ngx_iothub_twin_rc_e
ngx_iothub_twin_service_update(ngx_iothub_twin_t *t, const char *json,
    size_t len, int replace, const char *now, char **notify, char *err,
    size_t errlen)
{
    ngx_iothub_twin_rc_e    rc;
    ngx_iothub_twin_err_t   e;
    ngx_iothub_twin_body_t  b;

    e.err = err;
    e.errlen = errlen;

    if (notify != NULL) {
        *notify = NULL;
    }

    rc = ngx_iothub_twin_versions(t, &e);
    if (rc != NGX_IOTHUB_TWIN_OK) {
        return rc;
    }

    rc = ngx_iothub_twin_body(json, len, &b, &e);

    /* rest.md 7: Node jobs send "reported":{}; changes are rejected */
    if (rc == NGX_IOTHUB_TWIN_OK && !replace
        && b.reported != NULL && b.reported->n > 0)
    {
        rc = ngx_iothub_twin_fail(&e, NGX_IOTHUB_TWIN_INVALID,
                                  "reported properties cannot be changed "
                                  "by the service");
    }

    if (rc == NGX_IOTHUB_TWIN_OK) {
        rc = ngx_iothub_twin_service(t, &b, replace, now, notify, &e);
    }

    ngx_iothub_twin_node_free(b.body);

    return rc;
}
