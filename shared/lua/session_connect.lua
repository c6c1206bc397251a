-- Makes a connection the identity's one session (kicking any older one,
-- on any node) and marks the identity connected, if the identity still
-- exists and is enabled, and for a module its device too: the check and
-- the writes are one step, so a delete or a disable that came after the
-- connection's registry read leaves no key behind.
-- KEYS[1] presence hash  KEYS[2] persistent session hash
-- KEYS[3] identity hash  KEYS[4] the hub's connected-device set
-- KEYS[5] the device hash (module sessions only)
-- ARGV[1] inbox  ARGV[2] session number  ARGV[3] clean session (0/1)
-- ARGV[4] now (ISO 8601)  ARGV[5] the model id announced (IoT Plug and
-- Play), "" for none: a device that announces none keeps the one recorded
-- returns { subscriptions, session present (0/1) }, or the error
-- "NOT_FOUND" (no identity) or "DISABLED" (the identity is disabled, or a
-- module's device is disabled or gone); nothing is written then
-- A connect cycle runs often: each redis.call and each write (it goes to
-- the AOF) costs, so nothing is written that is already stored.
local status = redis.call('HGET', KEYS[3], 'status')
if not status then
  return { err = 'NOT_FOUND' }
end
if status ~= 'enabled'
   or (KEYS[5] and redis.call('HGET', KEYS[5], 'status') ~= 'enabled') then
  return { err = 'DISABLED' }
end
local old = redis.call('HMGET', KEYS[1], 'inbox', 'session')
if old[1] and (old[1] ~= ARGV[1] or old[2] ~= ARGV[2]) then
  redis.call('PUBLISH', old[1], 'kick ' .. old[2] .. ' replaced')
end
-- features stay 0 until the session is up on its node (after CONNACK),
-- which records them again: nothing is sent to it before
redis.call('HSET', KEYS[1], 'inbox', ARGV[1], 'session', ARGV[2],
           'features', 0)
-- the persistent session hash always holds "subs" while it exists
local subs, present = 0, 0
if ARGV[3] == '1' then
  redis.call('DEL', KEYS[2])
else
  local stored = redis.call('HGET', KEYS[2], 'subs')
  if stored then
    subs, present = tonumber(stored), 1
  else
    redis.call('HSET', KEYS[2], 'subs', 0)
  end
end
local state = { 'connectionState', 'Connected',
                'connectionStateUpdatedTime', ARGV[4],
                'lastActivityTime', ARGV[4] }
if ARGV[5] ~= '' then
  state[7], state[8] = 'modelId', ARGV[5]
end
redis.call('HSET', KEYS[3], unpack(state))
if not KEYS[5] then
  -- GET /statistics/service counts devices, not modules; device ids hold
  -- no "}"
  redis.call('SADD', KEYS[4], string.match(KEYS[3], '{([^}]*)}'))
end
return { subs, present }
