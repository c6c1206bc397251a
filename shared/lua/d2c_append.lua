-- Appends device-to-cloud messages to their partition (the built-in
-- endpoint, docs/redis-schema.md "Device-to-cloud streams"): a worker
-- sends the messages of one event-loop turn for one partition in one
-- call.  Each entry id is "<ms>-<sequence number>": the time Redis stored
-- it (never before the previous entry's) and the partition's next Event
-- Hubs sequence number, dense and kept in KEYS[2] across trims and
-- restarts.  Inboxes waiting for this partition (KEYS[3]) are told once,
-- then forgotten.
-- KEYS[1] partition stream  KEYS[2] its last entry id  KEYS[3] the set of
-- waiting inboxes
-- ARGV[1] the oldest entry id to keep (now - retention, ms)
-- ARGV[2..] per message: n, then n arguments (field, value, ...)
-- returns the entry ids, one per message, in order
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seq = 0
local last = redis.call('GET', KEYS[2])
if last then
  local lms, lseq = string.match(last, '^(%d+)-(%d+)$')
  seq = tonumber(lseq) + 1
  if tonumber(lms) > ms then
    ms = tonumber(lms)
  end
end
-- a message that cannot be appended gets its error, and no number; the
-- milliseconds are formatted once (as a float: slow), the numbers as
-- integers
local prefix = string.format('%.0f-', ms)
local ids = {}
local stored = nil
local i = 2
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local id = prefix .. string.format('%d', seq)
  local r = redis.pcall('XADD', KEYS[1], 'MINID', '~', ARGV[1], id,
                        unpack(ARGV, i + 1, i + n))
  if type(r) == 'table' and r.err then
    ids[#ids + 1] = r
  else
    ids[#ids + 1] = id
    stored = id
    seq = seq + 1
  end
  i = i + 1 + n
end
if not stored then
  return ids
end
redis.call('SET', KEYS[2], stored)
local waiting = redis.call('SMEMBERS', KEYS[3])
if #waiting > 0 then
  redis.call('DEL', KEYS[3])
  for _, inbox in ipairs(waiting) do
    redis.call('PUBLISH', inbox, 'd2c ' .. KEYS[1])
  end
end
return ids
