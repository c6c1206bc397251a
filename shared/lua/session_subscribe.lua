-- Records the features a session subscribed to (C2D, twin responses,
-- desired notifications, methods) if it is still the current one.
-- KEYS[1] presence hash  KEYS[2] persistent session hash
-- KEYS[3] identity hash
-- ARGV[1] inbox  ARGV[2] session number  ARGV[3] features
-- ARGV[4] clean session (0/1)
-- returns 1 when the session was current, else 0
local cur = redis.call('HMGET', KEYS[1], 'inbox', 'session')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], 'features', ARGV[3])
if ARGV[4] == '0' then
  redis.call('HSET', KEYS[2], 'subs', ARGV[3])
end
return 1
