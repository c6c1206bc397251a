-- Deletes a device identity, its twin, and its modules with their twins.
-- KEYS[1] device hash  KEYS[2] twin hash  KEYS[3] module set
-- KEYS[4] device index  KEYS[5] disabled-device set
-- KEYS[6] connected-device set
-- ARGV[1] If-Match etag, unquoted: "" or "*" match any
-- ARGV[2] device id
-- ARGV[3] key prefix of the device's module hashes ("...{id}:module:")
-- ARGV[4] key prefix of the device's module twins ("...{id}:twin:")
-- ARGV[5] key prefix of the device ("...{id}:"): its sessions are ended
-- (kicked) and its presence, session, cloud-to-device and job record keys
-- go too
-- returns "OK", or the error "NOT_FOUND" or "ETAG_MISMATCH"; workers drop
-- their cached copies of the device and its modules (iothub:identities)
local etag = redis.call('HGET', KEYS[1], 'etag')
if not etag then
  return { err = 'NOT_FOUND' }
end
if ARGV[1] ~= '' and ARGV[1] ~= '*' and ARGV[1] ~= etag then
  return { err = 'ETAG_MISMATCH' }
end
local function forget(suffix)
  local p = redis.call('HMGET', ARGV[5] .. 'presence' .. suffix,
                       'inbox', 'session')
  if p[1] then
    redis.call('PUBLISH', p[1], 'kick ' .. p[2] .. ' removed')
  end
  redis.call('DEL', ARGV[5] .. 'presence' .. suffix,
             ARGV[5] .. 'session' .. suffix)
end
for _, m in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  redis.call('DEL', ARGV[3] .. m, ARGV[4] .. m)
  redis.call('PUBLISH', 'iothub:identities', ARGV[3] .. m)
  forget(':' .. m)
end
forget('')
for _, n in ipairs(redis.call('LRANGE', ARGV[5] .. 'c2d', 0, -1)) do
  redis.call('DEL', ARGV[5] .. 'c2d:' .. n)
end
redis.call('DEL', ARGV[5] .. 'c2d', ARGV[5] .. 'c2d:seq', ARGV[5] .. 'jobs')
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('PUBLISH', 'iothub:identities', KEYS[1])
redis.call('ZREM', KEYS[4], ARGV[2])
redis.call('SREM', KEYS[5], ARGV[2])
redis.call('SREM', KEYS[6], ARGV[2])
return 'OK'
