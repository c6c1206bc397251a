
/*
 * nginx-iothub: the JSON tree the twin engine (ngx_iothub_twin.c) works
 * on: parsing with yajl into nodes that keep the members' order and the
 * numbers' text, finding, adding and removing members, and emitting JSON
 * again.  Internal to the twin engine; pure C like it.
 */


#ifndef _NGX_IOTHUB_TWIN_JSON_H_INCLUDED_
#define _NGX_IOTHUB_TWIN_JSON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "ngx_iothub_twin.h"


#define NGX_IOTHUB_TWIN_NAME_LEN     64

#define ngx_iothub_twin_str(g, s)                                            \
    yajl_gen_string(g, (const unsigned char *) (s), strlen(s))


typedef enum {
    NGX_IOTHUB_TWIN_JSON_NULL = 0,
    NGX_IOTHUB_TWIN_JSON_FALSE,
    NGX_IOTHUB_TWIN_JSON_TRUE,
    NGX_IOTHUB_TWIN_JSON_NUMBER,
    NGX_IOTHUB_TWIN_JSON_STRING,
    NGX_IOTHUB_TWIN_JSON_OBJECT,
    NGX_IOTHUB_TWIN_JSON_ARRAY,
    NGX_IOTHUB_TWIN_JSON_PENDING,    /* a member whose value is parsed */
    NGX_IOTHUB_TWIN_JSON_DELETED     /* removed, unlinked by a sweep */
} ngx_iothub_twin_type_e;


typedef struct ngx_iothub_twin_node_s  ngx_iothub_twin_node_t;

/*
 * A JSON value: objects and arrays list their members; an object
 * member's name is stored after the struct.  Numbers keep their text.
 */
struct ngx_iothub_twin_node_s {
    ngx_iothub_twin_node_t    *next;
    ngx_iothub_twin_node_t    *child;
    ngx_iothub_twin_node_t    *last;
    char                      *key;      /* NULL: array element, root */
    char                      *str;      /* string, number text */
    size_t                     key_len;
    size_t                     len;
    size_t                     n;        /* members */
    size_t                     pos;      /* parse order in the parent */
    ngx_iothub_twin_type_e     type;
};


/*
 * The members an object had before a merge: sorted by name for binary
 * search in a large object (elts), or the first n of a small one.
 */
typedef struct {
    ngx_iothub_twin_node_t   **elts;
    size_t                     n;
} ngx_iothub_twin_index_t;


typedef struct {
    char                      *err;
    size_t                     errlen;
} ngx_iothub_twin_err_t;


/* errors: rc, with the message written into e (if it has room) */
ngx_iothub_twin_rc_e ngx_iothub_twin_fail(ngx_iothub_twin_err_t *e,
    ngx_iothub_twin_rc_e rc, const char *fmt, ...);
void ngx_iothub_twin_name(const char *key, size_t len, char *buf);

/* nodes, malloc()ed; freeing a node frees its members */
ngx_iothub_twin_node_t *ngx_iothub_twin_node(const char *key,
    size_t len, ngx_iothub_twin_type_e type);
void ngx_iothub_twin_node_clear(ngx_iothub_twin_node_t *node);
void ngx_iothub_twin_node_free(ngx_iothub_twin_node_t *node);
int ngx_iothub_twin_set(ngx_iothub_twin_node_t *node,
    ngx_iothub_twin_type_e type, const char *s, size_t len);
void ngx_iothub_twin_move(ngx_iothub_twin_node_t *dst,
    ngx_iothub_twin_node_t *src);

/* the members of an object */
void ngx_iothub_twin_append(ngx_iothub_twin_node_t *obj,
    ngx_iothub_twin_node_t *node);
void ngx_iothub_twin_insert(ngx_iothub_twin_node_t *obj,
    ngx_iothub_twin_node_t *prev, ngx_iothub_twin_node_t *node);
void ngx_iothub_twin_delete(ngx_iothub_twin_node_t *node);
void ngx_iothub_twin_sweep(ngx_iothub_twin_node_t *obj);
ngx_iothub_twin_rc_e ngx_iothub_twin_index(
    ngx_iothub_twin_node_t *obj, ngx_iothub_twin_index_t *idx);
ngx_iothub_twin_node_t *ngx_iothub_twin_find(
    ngx_iothub_twin_node_t *obj, ngx_iothub_twin_index_t *idx,
    const char *key, size_t len);

/* JSON text to a tree ("what" names the text in error messages) */
ngx_iothub_twin_rc_e ngx_iothub_twin_parse_object(const char *json,
    size_t len, const char *what, ngx_iothub_twin_node_t **root,
    ngx_iothub_twin_err_t *e);
ngx_iothub_twin_rc_e ngx_iothub_twin_load(const char *text,
    const char *what, ngx_iothub_twin_node_t **root,
    ngx_iothub_twin_err_t *e);

/* a tree to JSON text, malloc()ed */
yajl_gen_status ngx_iothub_twin_emit(yajl_gen g,
    const ngx_iothub_twin_node_t *node);
yajl_gen_status ngx_iothub_twin_emit_members(yajl_gen g,
    const ngx_iothub_twin_node_t *obj);
ngx_iothub_twin_rc_e ngx_iothub_twin_output(yajl_gen g, char **out);
ngx_iothub_twin_rc_e ngx_iothub_twin_text(
    const ngx_iothub_twin_node_t *root, char **out);


#endif /* _NGX_IOTHUB_TWIN_JSON_H_INCLUDED_ */
