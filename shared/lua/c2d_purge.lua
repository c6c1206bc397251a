-- Removes every queued message of a device.
-- KEYS[1] device hash  KEYS[2] queue
-- ARGV[1] message key prefix
-- returns the number of messages removed, or the error "NOT_FOUND"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return { err = 'NOT_FOUND' }
end
local ids = redis.call('LRANGE', KEYS[2], 0, -1)
for _, n in ipairs(ids) do
  redis.call('DEL', ARGV[1] .. n)
end
redis.call('DEL', KEYS[2])
return #ids
