-- Settles a locked batch of a service-bound stream's records: "complete" removes them,
-- "abandon" makes them due again at once (one more delivery counted when
-- they are delivered again).
-- KEYS[1] the stream  KEYS[2] the batch's lock (a list of record ids)
-- ARGV[1] "complete" or "abandon"  ARGV[2] lock duration, ms
-- returns the number of records settled, or the error "LOCK_LOST"
local ids = redis.call('LRANGE', KEYS[2], 0, -1)
if #ids == 0 then
  return { err = 'LOCK_LOST' }
end
redis.call('DEL', KEYS[2])
if ARGV[1] == 'complete' then
  redis.call('XACK', KEYS[1], 'service', unpack(ids))
  redis.call('XDEL', KEYS[1], unpack(ids))
else
  -- idle as long as a lock lasts: the next receive claims them
  local args = { KEYS[1], 'service', 'c', 0 }
  for _, id in ipairs(ids) do
    args[#args + 1] = id
  end
  args[#args + 1] = 'IDLE'
  args[#args + 1] = ARGV[2]
  args[#args + 1] = 'JUSTID'
  redis.call('XCLAIM', unpack(args))
end
return #ids
