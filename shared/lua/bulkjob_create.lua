-- Creates an import/export job (rest.md 11), status "enqueued", unless
-- one is enqueued or running: only one at a time.  The running job's id
-- is the lease key; its runner renews it (bulkjob_progress.lua) and a
-- job whose lease is gone is taken over (bulkjob_claim.lua).  The newest
-- ARGV[4] jobs are kept.
-- KEYS[1] the lease (string: job id)  KEYS[2] the jobs (sorted set:
-- id -> created, ms)  KEYS[3] the job (hash)
-- ARGV[1] job id  ARGV[2] lease, ms  ARGV[3] now, ms  ARGV[4] jobs kept
-- ARGV[5] the jobs' key prefix  ARGV[6..] field, value, ...
-- returns { { id, { field, value, ... } } }, or the error "FULL"
-- the newest job may be waiting to be taken over (bulkjob_claim.lua)
local newest = redis.call('ZREVRANGE', KEYS[2], 0, 0)
if #newest == 1 then
  local status = redis.call('HGET', ARGV[5] .. newest[1], 'status')
  if status == 'enqueued' or status == 'running' then
    return { err = 'FULL' }
  end
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) == false then
  return { err = 'FULL' }
end
local fields = {}
for i = 6, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[3], unpack(fields))
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), ARGV[1])
local old = redis.call('ZRANGE', KEYS[2], 0, -tonumber(ARGV[4]) - 1)
for _, id in ipairs(old) do
  redis.call('DEL', ARGV[5] .. id)
  redis.call('ZREM', KEYS[2], id)
end
return { { ARGV[1], redis.call('HGETALL', KEYS[3]) } }
