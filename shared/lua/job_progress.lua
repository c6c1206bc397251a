-- Renews the runner's lease of a job and notes its progress.
-- KEYS[1] job hash  KEYS[2] jobs to run (zset)
-- ARGV[1] job id  ARGV[2] owner  ARGV[3] lease end (ms)
-- ARGV[4] cursor (the last device id done; '' keeps it)
-- ARGV[5] devices in flight
-- returns 1, or the error LOCK_LOST
local job = redis.call('HMGET', KEYS[1], 'owner', 'status')
if job[1] ~= ARGV[2] or job[2] ~= 'running' then
  return { err = 'LOCK_LOST' }
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'cursor', ARGV[4])
end
redis.call('HSET', KEYS[1], 'runningCount', ARGV[5])
return 1
