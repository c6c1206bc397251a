-- What the Event Hubs $management READ of a partition tells (amqp.md 10.2).
-- KEYS[1] partition stream  KEYS[2] its last entry id
-- returns { first entry id or '', last entry id or '', entries }
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
return { first and first[1] or '', last and last[1]
         or redis.call('GET', KEYS[2]) or '',
         redis.call('XLEN', KEYS[1]) }
