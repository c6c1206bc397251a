-- A janitor step: trims a hub's device-to-cloud partitions to its
-- retention (an append trims only the partition it goes to: a quiet one
-- would keep its entries for ever).
-- KEYS[1] the janitor lock  KEYS[2..] partition streams
-- ARGV[1] the lock's owner (the worker's inbox)  ARGV[2] lock time (ms)
-- ARGV[3] the oldest entry id to keep (now - retention, ms)
-- returns the number of entries removed, or the error "LOCK_LOST" when
-- another worker's round holds the lock
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then
  return { err = 'LOCK_LOST' }
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local n = 0
for i = 2, #KEYS do
  -- approximate: whole stream nodes, at most 100 of them per call
  n = n + redis.call('XTRIM', KEYS[i], 'MINID', '~', ARGV[3])
end
return n
