-- Counts device identities.
-- KEYS[1] device index (zset)  KEYS[2] disabled-device set
-- returns { total, disabled }
return { redis.call('ZCARD', KEYS[1]), redis.call('SCARD', KEYS[2]) }
