-- The next events of a partition for an Event Hubs receiver.  When fewer
-- than asked are there, the reader's inbox joins the partition's waiting
-- set in the same step: the next append tells it (d2c_append.lua), so no
-- event can slip between this read and the wait.
-- KEYS[1] partition stream  KEYS[2] the set of waiting inboxes
-- ARGV[1] the last entry id read (exclusive start)  ARGV[2] most entries
-- ARGV[3] the reader's inbox
-- returns { { id, { field, value, ... } }, ... }
local got = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+',
                       'COUNT', ARGV[2])
if #got < tonumber(ARGV[2]) then
  redis.call('SADD', KEYS[2], ARGV[3])
end
return got
