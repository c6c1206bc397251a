-- Ends a job the caller runs.
-- KEYS[1] job hash  KEYS[2] jobs to run (zset)  KEYS[3] finished jobs
-- (zset, score: the end, ms)
-- ARGV[1] job id  ARGV[2] owner  ARGV[3] status (completed, failed)
-- ARGV[4] end time (ISO 8601)  ARGV[5] failure reason or ''
-- ARGV[6] end time (ms)
-- returns 1, or the error LOCK_LOST
local job = redis.call('HMGET', KEYS[1], 'owner', 'status')
if job[1] ~= ARGV[2] or job[2] ~= 'running' then
  return { err = 'LOCK_LOST' }
end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'endTime', ARGV[4],
           'runningCount', '0')
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 'failureReason', ARGV[5])
end
redis.call('HDEL', KEYS[1], 'owner')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[1])
return 1
