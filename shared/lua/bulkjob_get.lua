-- Reads one import/export job (ARGV[2]) or all of them, newest first
-- (ARGV[2] ""); an enqueued or running job whose lease is gone (its node
-- stopped, or lost Redis) is marked failed first.
-- KEYS[1] the lease  KEYS[2] the jobs (sorted set)
-- ARGV[1] the jobs' key prefix  ARGV[2] job id or ""  ARGV[3] now, ISO
-- returns { { id, { field, value, ... } }, ... }, or the error "NOT_FOUND"
local ids
if ARGV[2] ~= '' then
  ids = { ARGV[2] }
else
  ids = redis.call('ZREVRANGE', KEYS[2], 0, -1)
end
local active = redis.call('GET', KEYS[1])
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  local status = redis.call('HGET', key, 'status')
  if status == false then
    if ARGV[2] ~= '' then
      return { err = 'NOT_FOUND' }
    end
  else
    if (status == 'enqueued' or status == 'running') and active ~= id then
      redis.call('HSET', key, 'status', 'failed', 'endTimeUtc', ARGV[3],
                 'failureReason', 'the node running the job stopped')
    end
    out[#out + 1] = { id, redis.call('HGETALL', key) }
  end
end
return out
