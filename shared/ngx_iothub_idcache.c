
/*
 * nginx-iothub: a worker's identity cache; see ngx_iothub_idcache.h.
 *
 * Entries are found by key in a string rbtree and kept in LRU order.  An
 * entry is one allocation: the node, then the key and the cached fields as
 * NUL-terminated strings, in the order of ngx_iothub_idcache_fields; the
 * token verified against it is a second allocation.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/crypto.h>

#include "ngx_iothub_idcache.h"
#include "ngx_iothub_log.h"


typedef struct {
    ngx_str_node_t              sn;
    ngx_queue_t                 lru;
    time_t                      expires;
    ngx_uint_t                  serial;

    /* the SAS token last verified against this identity (len 0: none) */
    ngx_str_t                   token;
    long long                   token_expiry;
    ngx_uint_t                  token_policy;

    u_char                      data[1];
} ngx_iothub_idcache_entry_t;


typedef struct {
    size_t                      offset;
    size_t                      size;
} ngx_iothub_idcache_field_t;


#define ngx_iothub_idcache_field(f)                                           \
    { offsetof(ngx_iothub_identity_t, f),                                     \
      sizeof(((ngx_iothub_identity_t *) 0)->f) }

/* what ngx_iothub_mqtt_authorize() and ngx_iothub_x509_authorize() read */

static const ngx_iothub_idcache_field_t  ngx_iothub_idcache_fields[] = {
    ngx_iothub_idcache_field(device_id),
    ngx_iothub_idcache_field(module_id),
    ngx_iothub_idcache_field(generation_id),
    ngx_iothub_idcache_field(status),
    ngx_iothub_idcache_field(auth_type),
    ngx_iothub_idcache_field(primary_key),
    ngx_iothub_idcache_field(secondary_key),
    ngx_iothub_idcache_field(primary_thumbprint),
    ngx_iothub_idcache_field(secondary_thumbprint)
};

#define NGX_IOTHUB_IDCACHE_NFIELDS                                            \
    (sizeof(ngx_iothub_idcache_fields) / sizeof(ngx_iothub_idcache_field_t))


static void ngx_iothub_idcache_remove(ngx_iothub_idcache_entry_t *e);
static ngx_iothub_idcache_entry_t *ngx_iothub_idcache_find(ngx_str_t *key);
static ngx_iothub_idcache_entry_t *ngx_iothub_idcache_entry(ngx_str_t *key,
    ngx_uint_t serial);


static ngx_rbtree_t         ngx_iothub_idcache_tree;
static ngx_rbtree_node_t    ngx_iothub_idcache_sentinel;
static ngx_queue_t          ngx_iothub_idcache_lru;
static ngx_uint_t           ngx_iothub_idcache_n;
static ngx_uint_t           ngx_iothub_idcache_max;
static ngx_uint_t           ngx_iothub_idcache_changes = 1;
static ngx_uint_t           ngx_iothub_idcache_serial;
static ngx_iothub_redis_t  *ngx_iothub_idcache_subscriber;


void
ngx_iothub_idcache_init(ngx_uint_t max, ngx_iothub_redis_t *subscriber)
{
    ngx_rbtree_init(&ngx_iothub_idcache_tree, &ngx_iothub_idcache_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&ngx_iothub_idcache_lru);

    ngx_iothub_idcache_n = 0;
    ngx_iothub_idcache_max = max;
    ngx_iothub_idcache_subscriber = subscriber;
}


ngx_uint_t
ngx_iothub_idcache_stamp(void)
{
    if (ngx_iothub_idcache_max == 0
        || ngx_iothub_redis_ready(ngx_iothub_idcache_subscriber) != NGX_OK)
    {
        return 0;
    }

    return ngx_iothub_idcache_changes;
}


ngx_iothub_identity_t *
ngx_iothub_idcache_get(ngx_str_t *key, ngx_pool_t *pool, ngx_uint_t *serial)
{
    u_char                      *p;
    ngx_uint_t                   i;
    ngx_iothub_identity_t       *id;
    ngx_iothub_idcache_entry_t  *e;

    if (ngx_iothub_idcache_stamp() == 0) {
        return NULL;
    }

    e = ngx_iothub_idcache_find(key);
    if (e == NULL) {
        return NULL;
    }

    if (e->expires <= ngx_time()) {
        ngx_iothub_idcache_remove(e);
        return NULL;
    }

    id = ngx_palloc(pool, sizeof(ngx_iothub_identity_t));
    if (id == NULL) {
        return NULL;
    }

    ngx_iothub_identity_init(id);
    id->c2d_count = -1;

    p = e->data + key->len + 1;

    for (i = 0; i < NGX_IOTHUB_IDCACHE_NFIELDS; i++) {
        ngx_cpystrn((u_char *) id + ngx_iothub_idcache_fields[i].offset, p,
                    ngx_iothub_idcache_fields[i].size);
        p += ngx_strlen(p) + 1;
    }

    ngx_queue_remove(&e->lru);
    ngx_queue_insert_head(&ngx_iothub_idcache_lru, &e->lru);

    *serial = e->serial;

    return id;
}


ngx_uint_t
ngx_iothub_idcache_put(ngx_str_t *key, ngx_iothub_identity_t *id,
    ngx_uint_t stamp)
{
    u_char                      *p, *field;
    size_t                       len;
    ngx_uint_t                   i;
    ngx_iothub_idcache_entry_t  *e;

    if (stamp == 0 || stamp != ngx_iothub_idcache_stamp()) {
        /* off, or an invalidation may have overtaken this answer */
        return 0;
    }

    e = ngx_iothub_idcache_find(key);
    if (e) {
        ngx_iothub_idcache_remove(e);
    }

    if (ngx_iothub_idcache_n == ngx_iothub_idcache_max) {
        e = ngx_queue_data(ngx_queue_last(&ngx_iothub_idcache_lru),
                           ngx_iothub_idcache_entry_t, lru);
        ngx_iothub_idcache_remove(e);
    }

    len = key->len + 1;

    for (i = 0; i < NGX_IOTHUB_IDCACHE_NFIELDS; i++) {
        len += ngx_strlen((u_char *) id + ngx_iothub_idcache_fields[i].offset)
               + 1;
    }

    e = ngx_alloc(offsetof(ngx_iothub_idcache_entry_t, data) + len,
                  ngx_cycle->log);
    if (e == NULL) {
        return 0;
    }

    p = ngx_cpymem(e->data, key->data, key->len);
    *p++ = '\0';

    for (i = 0; i < NGX_IOTHUB_IDCACHE_NFIELDS; i++) {
        field = (u_char *) id + ngx_iothub_idcache_fields[i].offset;
        p = ngx_cpymem(p, field, ngx_strlen(field) + 1);
    }

    e->sn.str.data = e->data;
    e->sn.str.len = key->len;
    e->sn.node.key = ngx_crc32_short(key->data, key->len);
    e->expires = ngx_time() + NGX_IOTHUB_IDCACHE_TTL;
    e->serial = ++ngx_iothub_idcache_serial;
    ngx_str_null(&e->token);

    ngx_rbtree_insert(&ngx_iothub_idcache_tree, &e->sn.node);
    ngx_queue_insert_head(&ngx_iothub_idcache_lru, &e->lru);
    ngx_iothub_idcache_n++;

    return e->serial;
}


ngx_int_t
ngx_iothub_idcache_token_get(ngx_str_t *key, ngx_uint_t serial,
    ngx_str_t *token, long long *expiry, ngx_uint_t *policy)
{
    ngx_iothub_idcache_entry_t  *e;

    e = ngx_iothub_idcache_entry(key, serial);

    /* in constant time, as the signature it stands for is compared */
    if (e == NULL
        || e->token.len == 0
        || e->token.len != token->len
        || CRYPTO_memcmp(e->token.data, token->data, token->len) != 0)
    {
        return NGX_DECLINED;
    }

    *expiry = e->token_expiry;
    *policy = e->token_policy;

    return NGX_OK;
}


void
ngx_iothub_idcache_token_put(ngx_str_t *key, ngx_uint_t serial,
    ngx_str_t *token, long long expiry, ngx_uint_t policy)
{
    u_char                      *p;
    ngx_iothub_idcache_entry_t  *e;

    if (token->len == 0 || token->len > NGX_IOTHUB_IDCACHE_TOKEN_MAX) {
        return;
    }

    e = ngx_iothub_idcache_entry(key, serial);
    if (e == NULL) {
        return;
    }

    p = ngx_alloc(token->len, ngx_cycle->log);
    if (p == NULL) {
        return;
    }

    ngx_memcpy(p, token->data, token->len);

    if (e->token.data) {
        ngx_free(e->token.data);
    }

    e->token.data = p;
    e->token.len = token->len;
    e->token_expiry = expiry;
    e->token_policy = policy;
}


/* the entry of key while it is "serial" and the cache is on, or NULL */

static ngx_iothub_idcache_entry_t *
ngx_iothub_idcache_entry(ngx_str_t *key, ngx_uint_t serial)
{
    ngx_iothub_idcache_entry_t  *e;

    if (serial == 0 || ngx_iothub_idcache_stamp() == 0) {
        return NULL;
    }

    e = ngx_iothub_idcache_find(key);

    if (e == NULL || e->serial != serial || e->expires <= ngx_time()) {
        return NULL;
    }

    return e;
}


void
ngx_iothub_idcache_invalidate(u_char *key, size_t len)
{
    ngx_str_t                    k;
    ngx_iothub_log_buf_t         lb;
    ngx_iothub_idcache_entry_t  *e;

    ngx_iothub_idcache_changes++;

    k.data = key;
    k.len = len;

    e = ngx_iothub_idcache_find(&k);

    ngx_log_debug2(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                   "iothub identity cache: \"%V\" changed%s",
                   ngx_iothub_log_v(&lb, &k), e ? ", dropped" : "");

    if (e) {
        ngx_iothub_idcache_remove(e);
    }
}


void
ngx_iothub_idcache_flush(void)
{
    ngx_iothub_idcache_entry_t  *e;

    ngx_iothub_idcache_changes++;

    while (!ngx_queue_empty(&ngx_iothub_idcache_lru)) {
        e = ngx_queue_data(ngx_queue_head(&ngx_iothub_idcache_lru),
                           ngx_iothub_idcache_entry_t, lru);
        ngx_iothub_idcache_remove(e);
    }
}


ngx_uint_t
ngx_iothub_idcache_expire(void)
{
    time_t                       now;
    ngx_uint_t                   seen, freed;
    ngx_queue_t                 *q, *prev;
    ngx_iothub_idcache_entry_t  *e;

    now = ngx_time();
    freed = 0;
    seen = 0;

    for (q = ngx_queue_last(&ngx_iothub_idcache_lru);
         q != ngx_queue_sentinel(&ngx_iothub_idcache_lru)
         && seen < NGX_IOTHUB_IDCACHE_SWEEP;
         q = prev, seen++)
    {
        prev = ngx_queue_prev(q);
        e = ngx_queue_data(q, ngx_iothub_idcache_entry_t, lru);

        if (e->expires <= now) {
            ngx_iothub_idcache_remove(e);
            freed++;
        }
    }

    return freed;
}


static ngx_iothub_idcache_entry_t *
ngx_iothub_idcache_find(ngx_str_t *key)
{
    ngx_str_node_t  *sn;

    if (ngx_iothub_idcache_n == 0) {
        return NULL;
    }

    sn = ngx_str_rbtree_lookup(&ngx_iothub_idcache_tree, key,
                               ngx_crc32_short(key->data, key->len));

    return sn ? (ngx_iothub_idcache_entry_t *) sn : NULL;
}


static void
ngx_iothub_idcache_remove(ngx_iothub_idcache_entry_t *e)
{
    ngx_rbtree_delete(&ngx_iothub_idcache_tree, &e->sn.node);
    ngx_queue_remove(&e->lru);

    if (e->token.data) {
        ngx_free(e->token.data);
    }

    ngx_free(e);
    ngx_iothub_idcache_n--;
}
