-- Notes how many devices a running job selects (its deviceCount), once:
-- the runner counts them when it takes a job that has no count yet.
-- KEYS[1] job hash  KEYS[2] the hub's device ids (zset)
-- ARGV[1] owner  ARGV[2] devices counted by the query service
-- ARGV[3..] device ids the condition names, each counted if it exists
-- returns the deviceCount, or the error LOCK_LOST when the caller no
-- longer runs the job
local job = redis.call('HMGET', KEYS[1], 'owner', 'status')
if job[1] ~= ARGV[1] or job[2] ~= 'running' then
  return { err = 'LOCK_LOST' }
end
local n = tonumber(ARGV[2])
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[2], ARGV[i]) then
    n = n + 1
  end
end
redis.call('HSET', KEYS[1], 'deviceCount', n, 'counted', '1')
return n
