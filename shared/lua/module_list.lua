-- Lists the module identities of a device in id order.
-- KEYS[1] parent device hash  KEYS[2] module set
-- ARGV[1] key prefix of the device's module hashes ("...{id}:module:")
-- returns an array of hashes, each as field, value, ..., or the error
-- "NO_DEVICE"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return { err = 'NO_DEVICE' }
end
local ids = redis.call('SMEMBERS', KEYS[2])
table.sort(ids)
local out = {}
for _, m in ipairs(ids) do
  local h = redis.call('HGETALL', ARGV[1] .. m)
  if #h > 0 then
    out[#out + 1] = h
  end
end
return out
