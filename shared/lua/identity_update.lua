-- Replaces the client-settable fields of a device or module identity.
-- KEYS[1] identity hash  KEYS[2] disabled-device set (devices only)
-- KEYS[3] presence hash (devices only): a disabled device's session ends,
-- and so do those of its modules
-- ARGV[1] If-Match etag, unquoted: "" or "*" match any
-- ARGV[2] now (ISO 8601), the new statusUpdatedTime if status changes
-- ARGV[3..] field, value, ... to set (etag included)
-- returns the stored hash as field, value, ..., or the error "NOT_FOUND"
-- or "ETAG_MISMATCH"; workers drop their cached copy (iothub:identities)
local old = redis.call('HMGET', KEYS[1], 'etag', 'status', 'deviceId')
if not old[1] then
  return { err = 'NOT_FOUND' }
end
if ARGV[1] ~= '' and ARGV[1] ~= '*' and ARGV[1] ~= old[1] then
  return { err = 'ETAG_MISMATCH' }
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PUBLISH', 'iothub:identities', KEYS[1])
local function kick(presence)
  local p = redis.call('HMGET', presence, 'inbox', 'session')
  if p[1] then
    redis.call('PUBLISH', p[1], 'kick ' .. p[2] .. ' removed')
  end
end
local status = redis.call('HGET', KEYS[1], 'status')
if KEYS[2] and status and status ~= old[2] then
  redis.call('HSET', KEYS[1], 'statusUpdatedTime', ARGV[2])
  if status == 'disabled' then
    redis.call('SADD', KEYS[2], old[3])
    kick(KEYS[3])
    -- the modules' keys: "P{<dev>}:modules", "P{<dev>}:presence:<mod>"
    local dev = string.sub(KEYS[3], 1, -#'presence' - 1)
    for _, m in ipairs(redis.call('SMEMBERS', dev .. 'modules')) do
      kick(KEYS[3] .. ':' .. m)
    end
  else
    redis.call('SREM', KEYS[2], old[3])
  end
end
return redis.call('HGETALL', KEYS[1])
