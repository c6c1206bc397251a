-- Takes the first job due to run, for one lease: the job's owner becomes
-- the caller and its score in the run set the lease's end, so that no
-- other node takes it until the lease ends unrenewed.
-- KEYS[1] jobs to run (zset)
-- ARGV[1] hub key prefix  ARGV[2] now (ms)  ARGV[3] lease (ms)
-- ARGV[4] owner (the worker's inbox)  ARGV[5] now (ISO 8601)
-- returns the job hash as field, value, ..., or nil
for _ = 1, 10 do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2],
                         'LIMIT', 0, 1)
  if #ids == 0 then
    return nil
  end
  local id = ids[1]
  local key = ARGV[1] .. 'job:' .. id
  local status = redis.call('HGET', key, 'status')
  if status == 'queued' or status == 'scheduled' or status == 'running' then
    redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]), id)
    redis.call('HSET', key, 'owner', ARGV[4], 'status', 'running')
    if status ~= 'running' then
      redis.call('HSET', key, 'startTime', ARGV[5])
    end
    return redis.call('HGETALL', key)
  end
  redis.call('ZREM', KEYS[1], id)
end
return nil
