
/*
 * nginx-iothub: a worker's cache of what authenticating a connection needs
 * from an identity (status, authentication type, keys, thumbprints,
 * generation id), so that a device reconnecting to the same worker costs
 * no Redis read.
 *
 * Registry writes publish the identity's key on NGX_IOTHUB_IDCACHE_CHANNEL
 * (identity_update.lua, device_delete.lua, module_delete.lua); every
 * worker's subscriber link drops the entry.  The cache is used only while
 * that link is subscribed, is emptied whenever it subscribes again (what
 * was published meanwhile is lost), and an entry lives at most
 * NGX_IOTHUB_IDCACHE_TTL seconds.  A read that raced with an invalidation
 * is not cached (see ngx_iothub_idcache_stamp).
 *
 * An entry also remembers the last SAS token verified against it (its
 * signature, the identity it covers), so that a device that sends the same
 * token again (the SDKs' Http transport: on every request, for up to an
 * hour) costs no HMAC.  The token goes with its entry: when the identity
 * changes (keys, status, deletion), when the entry expires or is pushed
 * out, and when the cache is flushed.  Its expiry is checked on every use
 * by the caller, as the identity's status is.
 */


#ifndef _NGX_IOTHUB_IDCACHE_H_INCLUDED_
#define _NGX_IOTHUB_IDCACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub_identity.h"
#include "ngx_iothub_redis.h"


#define NGX_IOTHUB_IDCACHE_CHANNEL  "iothub:identities"
#define NGX_IOTHUB_IDCACHE_TTL      60
#define NGX_IOTHUB_IDCACHE_SWEEP    10000

/* longer tokens are verified every time (an SDK's is about 150 bytes) */
#define NGX_IOTHUB_IDCACHE_TOKEN_MAX  512


/*
 * At most "max" entries, the least recently used go first; 0 disables.
 * The cache is on while "subscriber" (subscribed to the channel) is up.
 */
void ngx_iothub_idcache_init(ngx_uint_t max, ngx_iothub_redis_t *subscriber);

/*
 * 0 while the cache is off (not subscribed); otherwise a number that
 * changes with every invalidation.  Take it before sending a read and pass
 * it to ngx_iothub_idcache_put() with the answer.
 */
ngx_uint_t ngx_iothub_idcache_stamp(void);

/*
 * A copy of the cached identity in pool (c2d_count -1), or NULL; *serial
 * names the entry it came from (no two entries of a worker's life share
 * one).
 */
ngx_iothub_identity_t *ngx_iothub_idcache_get(ngx_str_t *key,
    ngx_pool_t *pool, ngx_uint_t *serial);

/* the entry's serial, or 0 when the identity was not cached */
ngx_uint_t ngx_iothub_idcache_put(ngx_str_t *key, ngx_iothub_identity_t *id,
    ngx_uint_t stamp);

/*
 * NGX_OK when entry "serial" of key holds token, verified against that
 * entry's identity: *expiry and *policy are what the verification found
 * (the token's se, signed by a policy's key); NGX_DECLINED otherwise.
 */
ngx_int_t ngx_iothub_idcache_token_get(ngx_str_t *key, ngx_uint_t serial,
    ngx_str_t *token, long long *expiry, ngx_uint_t *policy);

/*
 * token was verified against the identity of entry "serial" of key: the
 * entry remembers it, in place of the one it had; nothing when that entry
 * is gone (the identity changed meanwhile) or the token is too long.
 */
void ngx_iothub_idcache_token_put(ngx_str_t *key, ngx_uint_t serial,
    ngx_str_t *token, long long expiry, ngx_uint_t policy);

/* the identity's entry goes: its hash changed */
void ngx_iothub_idcache_invalidate(u_char *key, size_t len);

/* every entry goes: the subscriber link (re)subscribed */
void ngx_iothub_idcache_flush(void);

/*
 * Frees expired entries, looking at NGX_IOTHUB_IDCACHE_SWEEP entries at
 * most, least recently used first; returns how many it freed.  Without
 * it an expired entry goes only when its identity is looked up again or
 * it is pushed out: after a reconnect storm a worker would hold every
 * device's entry, each pinning a page of heap among the connections'
 * freed memory (memory_trim calls it before each trim).
 */
ngx_uint_t ngx_iothub_idcache_expire(void);


#endif /* _NGX_IOTHUB_IDCACHE_H_INCLUDED_ */
