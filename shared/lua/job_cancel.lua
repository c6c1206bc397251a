-- Cancels a job that has not finished; a finished job is left as it is.
-- KEYS[1] job hash  KEYS[2] jobs to run (zset)  KEYS[3] finished jobs
-- (zset, score: the end, ms)
-- ARGV[1] job id  ARGV[2] now (ISO 8601)  ARGV[3] now (ms)
-- returns the job hash as field, value, ..., or the error NOT_FOUND
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  return { err = 'NOT_FOUND' }
end
if status == 'queued' or status == 'scheduled' or status == 'running' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'endTime', ARGV[2],
             'runningCount', '0')
  redis.call('HDEL', KEYS[1], 'owner')
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
end
return redis.call('HGETALL', KEYS[1])
