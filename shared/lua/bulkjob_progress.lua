-- A runner's step of an import/export job: "running" with the progress
-- (ARGV[3] of ARGV[4] done; ARGV[4] "" is the number of devices), the
-- checkpoint a runner taking the job over goes on from, and the lease
-- renewed; or the end, "completed" or "failed" (ARGV[6] the reason),
-- which gives up the lease.  A job that is no longer the caller's
-- (cancelled, or its lease lapsed, or another runner took it over)
-- answers "CONFLICT": its runner stops.
-- KEYS[1] the lease  KEYS[2] the job (hash)  KEYS[3] the device index
-- ARGV[1] job id  ARGV[2] lease, ms  ARGV[3] done  ARGV[4] total or ""
-- ARGV[5] running | completed | failed  ARGV[6] failure reason
-- ARGV[7] now, ISO  ARGV[8] the runner's token  ARGV[9] checkpoint
-- returns the progress (0..100), or the error "CONFLICT"
local job = redis.call('HMGET', KEYS[2], 'status', 'runner')
if redis.call('GET', KEYS[1]) ~= ARGV[1]
   or (job[1] ~= 'enqueued' and job[1] ~= 'running')
   or job[2] ~= ARGV[8] then
  return { err = 'CONFLICT' }
end
if ARGV[5] == 'running' then
  local total = tonumber(ARGV[4]) or redis.call('ZCARD', KEYS[3])
  local progress = 0
  if total > 0 then
    progress = math.min(99, math.floor(tonumber(ARGV[3]) * 100 / total))
  end
  redis.call('HSET', KEYS[2], 'status', 'running', 'progress', progress,
             'checkpoint', ARGV[9])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return progress
end
if ARGV[5] == 'completed' then
  redis.call('HSET', KEYS[2], 'status', 'completed', 'progress', 100,
             'endTimeUtc', ARGV[7])
else
  redis.call('HSET', KEYS[2], 'status', 'failed', 'endTimeUtc', ARGV[7],
             'failureReason', ARGV[6])
end
redis.call('HDEL', KEYS[2], 'runner', 'checkpoint')
redis.call('DEL', KEYS[1])
return 100
