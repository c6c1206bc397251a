-- Records what one device's part of a job came to, once, and renews the
-- runner's lease.
-- KEYS[1] job hash  KEYS[2] the device's job records (hash, by job id)
-- KEYS[3] jobs to run (zset)  KEYS[4] the devices with a record of the
-- job (set: what trimming the job deletes)
-- ARGV[1] job id  ARGV[2] owner  ARGV[3] device id  ARGV[4] record (JSON)
-- ARGV[5] succeededCount or failedCount  ARGV[6] lease end (ms)
-- returns 1, 0 when the device had a record, or the error LOCK_LOST when
-- the caller no longer runs the job (cancelled, or another node's lease)
local job = redis.call('HMGET', KEYS[1], 'owner', 'status')
if job[1] ~= ARGV[2] or job[2] ~= 'running' then
  return { err = 'LOCK_LOST' }
end
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[1])
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[4]) == 0 then
  return 0
end
redis.call('SADD', KEYS[4], ARGV[3])
redis.call('HINCRBY', KEYS[1], ARGV[5], 1)
return 1
