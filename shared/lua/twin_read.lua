-- Reads a twin with the identity it belongs to.
-- KEYS[1] twin hash  KEYS[2] identity hash  KEYS[3] cloud-to-device queue
-- returns { twin as field, value, ..., identity as field, value, ...,
-- queued messages }, or the error "NOT_FOUND"
local id = redis.call('HGETALL', KEYS[2])
if #id == 0 then
  return { err = 'NOT_FOUND' }
end
return { redis.call('HGETALL', KEYS[1]), id, redis.call('LLEN', KEYS[3]) }
