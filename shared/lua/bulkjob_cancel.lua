-- Cancels an import/export job: an enqueued or running one becomes
-- "cancelled" and gives up the lease (its runner stops at its next
-- bulkjob_progress.lua); an ended one is left as it is.
-- KEYS[1] the lease  KEYS[2] the job (hash)
-- ARGV[1] job id  ARGV[2] now, ISO
-- returns { { id, { field, value, ... } } }, or the error "NOT_FOUND"
local status = redis.call('HGET', KEYS[2], 'status')
if status == false then
  return { err = 'NOT_FOUND' }
end
if status == 'enqueued' or status == 'running' then
  redis.call('HSET', KEYS[2], 'status', 'cancelled', 'endTimeUtc', ARGV[2])
  if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('DEL', KEYS[1])
  end
end
return { { ARGV[1], redis.call('HGETALL', KEYS[2]) } }
