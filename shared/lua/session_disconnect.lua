-- Ends a session if it is still the identity's current one.
-- KEYS[1] presence hash  KEYS[2] persistent session hash
-- KEYS[3] identity hash  KEYS[4] the hub's connected-device set
-- ARGV[1] inbox  ARGV[2] session number  ARGV[3] clean session (0/1)
-- ARGV[4] now (ISO 8601)
-- returns 1 when the session was current, else 0
-- A presence hash exists only while its identity does (device_delete.lua
-- and module_delete.lua delete both in one step), so the identity needs
-- no check of its own before it is marked.
local cur = redis.call('HMGET', KEYS[1], 'inbox', 'session')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] then
  return 0
end
if ARGV[3] == '1' then
  redis.call('DEL', KEYS[1], KEYS[2])
else
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[3], 'connectionState', 'Disconnected',
           'connectionStateUpdatedTime', ARGV[4])
if string.sub(KEYS[3], -7) == ':device' then
  redis.call('SREM', KEYS[4], string.match(KEYS[3], '{([^}]*)}'))
end
return 1
