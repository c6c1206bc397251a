-- Writes a twin back if nobody changed it meanwhile (optimistic
-- concurrency), and pushes a desired change to the session subscribed to
-- desired notifications.
-- KEYS[1] twin hash  KEYS[2] identity hash  KEYS[3] presence hash
-- ARGV[1] the version read  ARGV[2] desired notification ("" for none)
-- ARGV[3] its desired version  ARGV[4..] field, value, ... to write
-- returns "OK", or the error "NOT_FOUND" or "CONFLICT"
if redis.call('EXISTS', KEYS[2]) == 0 then
  return { err = 'NOT_FOUND' }
end
local v = redis.call('HGET', KEYS[1], 'version') or '1'
if v ~= ARGV[1] then
  return { err = 'CONFLICT' }
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
if ARGV[2] ~= '' then
  local p = redis.call('HMGET', KEYS[3], 'inbox', 'session', 'features')
  -- 4: NGX_IOTHUB_FEATURE_DESIRED (shared/ngx_iothub_features.h)
  if p[1] and math.floor(tonumber(p[3] or '0') / 4) % 2 == 1 then
    redis.call('PUBLISH', p[1],
               'desired ' .. p[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[2])
  end
end
return 'OK'
