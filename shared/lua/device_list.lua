-- Lists device identities in id order.
-- KEYS[1] device index (zset)
-- ARGV[1] hub key prefix ("iothub:<hub>:")  ARGV[2] most to return
-- returns an array of hashes, each as field, value, ...
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)) do
  local h = redis.call('HGETALL', ARGV[1] .. '{' .. id .. '}:device')
  if #h > 0 then
    out[#out + 1] = h
  end
end
return out
