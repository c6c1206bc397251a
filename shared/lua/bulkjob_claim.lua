-- Takes over the import/export job whose runner stopped: the hub's newest
-- job (only one is ever enqueued or running: bulkjob_create.lua), when
-- it is enqueued or running and nobody holds the lease (its node died,
-- or lost Redis for longer than the lease).  The caller becomes its
-- runner and goes on from the job's checkpoint.  A job taken over
-- ARGV[5] times already fails instead (it may be what stops its nodes).
-- KEYS[1] the lease  KEYS[2] the jobs (sorted set)
-- ARGV[1] the jobs' key prefix  ARGV[2] lease, ms  ARGV[3] runner token
-- ARGV[4] now, ISO  ARGV[5] most takeovers
-- returns { { id, { field, value, ... } } }, or {} when there is none
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {}
end
local ids = redis.call('ZREVRANGE', KEYS[2], 0, 0)
if #ids == 0 then
  return {}
end
local key = ARGV[1] .. ids[1]
local status = redis.call('HGET', key, 'status')
if status ~= 'enqueued' and status ~= 'running' then
  return {}
end
if redis.call('HINCRBY', key, 'takeovers', 1) > tonumber(ARGV[5]) then
  redis.call('HSET', key, 'status', 'failed', 'endTimeUtc', ARGV[4],
             'failureReason', 'the node running the job stopped')
  redis.call('HDEL', key, 'runner')
  return {}
end
redis.call('SET', KEYS[1], ids[1], 'PX', ARGV[2])
redis.call('HSET', key, 'runner', ARGV[3])
return { { ids[1], redis.call('HGETALL', key) } }
