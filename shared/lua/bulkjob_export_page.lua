-- A page of an export: the device identities after ARGV[3] in id order.
-- KEYS[1] device index (sorted set, every score 0)
-- ARGV[1] hub key prefix ("iothub:<hub>:")  ARGV[2] most to return
-- ARGV[3] the last id of the previous page, or "" for the first
-- returns an array of hashes, each as field, value, ...
local from = '-'
if ARGV[3] ~= '' then
  from = '(' .. ARGV[3]
end
local out = {}
local ids = redis.call('ZRANGEBYLEX', KEYS[1], from, '+', 'LIMIT', 0,
                       tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local h = redis.call('HGETALL', ARGV[1] .. '{' .. id .. '}:device')
  if #h > 0 then
    out[#out + 1] = h
  end
end
return out
