-- A janitor step: deletes the jobs v2 that ended before the hub's
-- job_history, a bounded number of deletions per call: a job's device
-- records first (popped from its set of devices), then, once none is
-- left, its hash and its entries in the job indexes.
-- KEYS[1] the janitor lock  KEYS[2] jobs by creation (zset)
-- KEYS[3] finished jobs (zset, score: the end, ms)
-- ARGV[1] the lock's owner (the worker's inbox)  ARGV[2] lock time (ms)
-- ARGV[3] hub key prefix  ARGV[4] the oldest end to keep (ms)
-- ARGV[5] most deletions
-- returns 1 when no job older remains, 0 when more are to trim, or the
-- error LOCK_LOST when another worker's round holds the lock
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then
  return { err = 'LOCK_LOST' }
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local budget = tonumber(ARGV[5])
local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[4],
                       'LIMIT', 0, budget)
for _, id in ipairs(ids) do
  local devices = ARGV[3] .. 'jobdevices:' .. id
  local popped = redis.call('SPOP', devices, budget)
  for _, device in ipairs(popped) do
    redis.call('HDEL', ARGV[3] .. '{' .. device .. '}:jobs', id)
  end
  budget = budget - #popped - 1
  if redis.call('EXISTS', devices) == 1 then
    return 0
  end
  redis.call('DEL', ARGV[3] .. 'job:' .. id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
  if budget <= 0 then
    return 0
  end
end
return 1
