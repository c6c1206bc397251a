-- Reads an identity with the length of its cloud-to-device queue.
-- KEYS[1] identity hash  KEYS[2] cloud-to-device queue
-- returns { hash as field, value, ..., queued messages }
return { redis.call('HGETALL', KEYS[1]), redis.call('LLEN', KEYS[2]) }
