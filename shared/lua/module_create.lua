-- Creates a module identity with its empty twin.
-- KEYS[1] module hash  KEYS[2] module twin hash  KEYS[3] module set
-- KEYS[4] parent device hash
-- ARGV[1] module id, ARGV[2..] field, value, ... of the identity hash
-- returns "OK", or the error "NO_DEVICE" or "EXISTS"
if redis.call('EXISTS', KEYS[4]) == 0 then
  return { err = 'NO_DEVICE' }
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return { err = 'EXISTS' }
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'version', 1, 'tags', '{}',
           'desired', '{}', 'reported', '{}',
           'desiredVersion', 1, 'reportedVersion', 1)
redis.call('SADD', KEYS[3], ARGV[1])
return 'OK'
