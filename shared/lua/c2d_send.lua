-- Queues a cloud-to-device message and tells the device's session.
-- KEYS[1] device hash  KEYS[2] queue (list of message numbers)
-- KEYS[3] message number counter  KEYS[4] presence hash
-- ARGV[1] queue depth limit  ARGV[2] message key prefix ("...{id}:c2d:")
-- ARGV[3..] field, value, ... of the message hash
-- returns the message number, or the error "NOT_FOUND" or "FULL"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return { err = 'NOT_FOUND' }
end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[1]) then
  return { err = 'FULL' }
end
local n = redis.call('INCR', KEYS[3])
redis.call('HSET', ARGV[2] .. n, 'dc', 0, unpack(ARGV, 3))
redis.call('RPUSH', KEYS[2], n)
local p = redis.call('HMGET', KEYS[4], 'inbox', 'session', 'features')
-- 1: NGX_IOTHUB_FEATURE_C2D (shared/ngx_iothub_features.h)
if p[1] and tonumber(p[3] or '0') % 2 == 1 then
  redis.call('PUBLISH', p[1], 'c2d ' .. p[2])
end
return n
