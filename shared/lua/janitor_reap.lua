-- A janitor step: ends the sessions of workers that are gone.  A presence
-- hash whose inbox has no "<inbox>:alive" key any more (its worker stopped
-- beating: a crashed or cut-off node) goes, and its identity becomes
-- Disconnected and a device leaves the hub's connected-device set
-- ("<prefix>connected"), as session_disconnect.lua does; the persistent
-- session stays (a clean session has none).
-- KEYS[1] the janitor lock  KEYS[2..] presence hashes, "P{<dev>}:presence"
-- or "P{<dev>}:presence:<mod>"
-- ARGV[1] the lock's owner (the worker's inbox)  ARGV[2] lock time (ms)
-- ARGV[3] now (ISO 8601)
-- returns the number of sessions ended, or the error "LOCK_LOST" when
-- another worker's round holds the lock
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then
  return { err = 'LOCK_LOST' }
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local n = 0
for i = 2, #KEYS do
  -- device ids hold no "}": the first one ends the key's hash tag
  local prefix, device, rest =
    string.match(KEYS[i], '^([^{]*){([^}]*)}:presence(.*)$')
  local id
  if rest == '' then
    id = prefix .. '{' .. device .. '}:device'
  elseif rest and string.sub(rest, 1, 1) == ':' then
    id = prefix .. '{' .. device .. '}:module:' .. string.sub(rest, 2)
  end
  local inbox = id and redis.call('HGET', KEYS[i], 'inbox')
  if inbox and redis.call('EXISTS', inbox .. ':alive') == 0 then
    redis.call('DEL', KEYS[i])
    if redis.call('EXISTS', id) == 1 then
      redis.call('HSET', id, 'connectionState', 'Disconnected',
                 'connectionStateUpdatedTime', ARGV[3])
    end
    if rest == '' then
      redis.call('SREM', prefix .. 'connected', device)
    end
    n = n + 1
  end
end
return n
