-- Locks the next batch of records of a service-bound stream (feedback,
-- file notifications) for a back end (messaging.md 3.5, 4: queue
-- semantics as C2D: lock, delivery count, TTL).
-- Records whose lock expired come first, then new ones.  The stream's
-- consumer group "service" keeps what is delivered and not completed.
-- KEYS[1] the stream  KEYS[2] the new lock (a list of record ids)
-- ARGV[1] lock duration, ms  ARGV[2] most records in a batch
-- ARGV[3] most deliveries of a record  ARGV[4] the oldest live record's
-- time, ms since the epoch (now - TTL)
-- returns { { id, { field, value, ... } }, ... }, empty when none is due
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {}
end
redis.pcall('XGROUP', 'CREATE', KEYS[1], 'service', '0')
local got = redis.call('XAUTOCLAIM', KEYS[1], 'service', 'c', ARGV[1],
                       '0-0', 'COUNT', ARGV[2])[2]
if #got == 0 then
  local r = redis.call('XREADGROUP', 'GROUP', 'service', 'c',
                       'COUNT', ARGV[2], 'STREAMS', KEYS[1], '>')
  got = r and r[1][2] or {}
end
-- dead records (older than the TTL, delivered too often) leave the queue
local live = {}
for _, e in ipairs(got) do
  local p = redis.call('XPENDING', KEYS[1], 'service', e[1], e[1], 1)
  local tries = p[1] and p[1][4] or 1
  local ms = tonumber(string.match(e[1], '^(%d+)'))
  if tries > tonumber(ARGV[3]) or ms < tonumber(ARGV[4]) then
    redis.call('XACK', KEYS[1], 'service', e[1])
    redis.call('XDEL', KEYS[1], e[1])
  else
    live[#live + 1] = e
  end
end
if #live == 0 then
  return {}
end
for _, e in ipairs(live) do
  redis.call('RPUSH', KEYS[2], e[1])
end
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return live
