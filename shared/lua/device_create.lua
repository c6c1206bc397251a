-- Creates a device identity with its empty twin.
-- KEYS[1] device hash  KEYS[2] twin hash  KEYS[3] device index (zset)
-- KEYS[4] disabled-device set
-- ARGV[1] device id  ARGV[2] status
-- ARGV[3..] field, value, ... of the identity hash
-- returns "OK", or the error "EXISTS"
if redis.call('EXISTS', KEYS[1]) == 1 then
  return { err = 'EXISTS' }
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'version', 1, 'tags', '{}',
           'desired', '{}', 'reported', '{}',
           'desiredVersion', 1, 'reportedVersion', 1)
redis.call('ZADD', KEYS[3], 0, ARGV[1])
if ARGV[2] == 'disabled' then
  redis.call('SADD', KEYS[4], ARGV[1])
end
return 'OK'
