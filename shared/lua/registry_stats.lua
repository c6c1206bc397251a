-- Counts device identities, and the devices connected (MQTT, AMQP).
-- KEYS[1] device index (zset)  KEYS[2] disabled-device set
-- KEYS[3] connected-device set
-- returns { total, disabled, connected }
return { redis.call('ZCARD', KEYS[1]), redis.call('SCARD', KEYS[2]),
         redis.call('SCARD', KEYS[3]) }
