-- Ends a session if it is still the identity's current one.
-- KEYS[1] presence hash  KEYS[2] persistent session hash
-- KEYS[3] identity hash
-- ARGV[1] inbox  ARGV[2] session number  ARGV[3] clean session (0/1)
-- ARGV[4] now (ISO 8601)
-- returns 1 when the session was current, else 0
local cur = redis.call('HMGET', KEYS[1], 'inbox', 'session')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] then
  return 0
end
redis.call('DEL', KEYS[1])
if ARGV[3] == '1' then
  redis.call('DEL', KEYS[2])
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HSET', KEYS[3], 'connectionState', 'Disconnected',
             'connectionStateUpdatedTime', ARGV[4])
end
return 1
