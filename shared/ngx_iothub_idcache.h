
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
 */


#ifndef _NGX_IOTHUB_IDCACHE_H_INCLUDED_
#define _NGX_IOTHUB_IDCACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub_identity.h"
#include "ngx_iothub_redis.h"


#define NGX_IOTHUB_IDCACHE_CHANNEL  "iothub:identities"
#define NGX_IOTHUB_IDCACHE_TTL      60


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

/* a copy of the cached identity in pool (c2d_count -1), or NULL */
ngx_iothub_identity_t *ngx_iothub_idcache_get(ngx_str_t *key,
    ngx_pool_t *pool);

void ngx_iothub_idcache_put(ngx_str_t *key, ngx_iothub_identity_t *id,
    ngx_uint_t stamp);

/* the identity's entry goes: its hash changed */
void ngx_iothub_idcache_invalidate(u_char *key, size_t len);

/* every entry goes: the subscriber link (re)subscribed */
void ngx_iothub_idcache_flush(void);


#endif /* _NGX_IOTHUB_IDCACHE_H_INCLUDED_ */
