-- Schedules a job (jobs v2) unless its id is taken or too many jobs are
-- not finished yet.
-- KEYS[1] job hash  KEYS[2] jobs by creation (zset)  KEYS[3] jobs to run
-- (zset, score: when a node may take the job next)
-- ARGV[1] job id  ARGV[2] most unfinished jobs  ARGV[3] creation time (ms)
-- ARGV[4] start time (ms)  ARGV[5..] the hash, field, value, ...
-- returns the job hash as field, value, ..., or the error EXISTS or FULL
if redis.call('EXISTS', KEYS[1]) == 1 then
  return { err = 'EXISTS' }
end
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[2]) then
  return { err = 'FULL' }
end
local fields = {}
for i = 5, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
return redis.call('HGETALL', KEYS[1])
