-- Appends device-to-cloud messages to their partition (the built-in
-- endpoint, docs/redis-schema.md "Device-to-cloud streams"): a worker
-- sends the messages of one event-loop turn for one partition in one
-- call, packed (shared/ngx_iothub_d2c_pack.h), stored as one entry with
-- fields "n" (their count) and "m" (the packed messages).  The entry id
-- is "<ms>-<sequence number of its last message>": the time Redis stored
-- it (never before the previous entry's) and the partition's Event Hubs
-- sequence numbers, dense and kept in KEYS[2] across trims and restarts
-- (the messages of an entry have the n numbers up to its id's).  Inboxes
-- waiting for this partition (KEYS[3]) are told once, then forgotten.
-- KEYS[1] partition stream  KEYS[2] its last entry id  KEYS[3] the set of
-- waiting inboxes
-- ARGV[1] the oldest entry id to keep (now - retention, ms)
-- ARGV[2] the number of messages  ARGV[3] the packed messages
-- returns the entry id
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seq = -1
local last = redis.call('GET', KEYS[2])
if last then
  local lms, lseq = string.match(last, '^(%d+)-(%d+)$')
  seq = tonumber(lseq)
  if tonumber(lms) > ms then
    ms = tonumber(lms)
  end
end
local n = tonumber(ARGV[2])
if not n or n < 1 then
  return redis.error_reply('ERR no messages')
end
-- the milliseconds formatted as a float (%d would overflow), the number
-- as an integer
local id = string.format('%.0f-%d', ms, seq + n)
redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[1], id,
           'n', ARGV[2], 'm', ARGV[3])
redis.call('SET', KEYS[2], id)
local waiting = redis.call('SMEMBERS', KEYS[3])
if #waiting > 0 then
  redis.call('DEL', KEYS[3])
  for _, inbox in ipairs(waiting) do
    redis.call('PUBLISH', inbox, 'd2c ' .. KEYS[1])
  end
end
return id
