-- A page of an export: the devices after ARGV[3] in id order, each with
-- its twin and then its modules with theirs, in module id order; whole
-- devices until at least ARGV[2] identities are read.
-- KEYS[1] device index (sorted set, every score 0)
-- ARGV[1] hub key prefix ("iothub:<hub>:")  ARGV[2] most identities
-- ARGV[3] the last device id of the previous page, or "" for the first
-- returns { the last device id read, "" when the index ends there, then
-- per identity { twin as field, value, ..., identity as field, value,
-- ..., 0 } } (query_scan.lua's shape)
local from = '-'
if ARGV[3] ~= '' then
  from = '(' .. ARGV[3]
end
local most = tonumber(ARGV[2])
local ids = redis.call('ZRANGEBYLEX', KEYS[1], from, '+', 'LIMIT', 0, most)
local out = { '' }
for i, id in ipairs(ids) do
  local p = ARGV[1] .. '{' .. id .. '}:'
  local ident = redis.call('HGETALL', p .. 'device')
  if #ident > 0 then
    out[#out + 1] = { redis.call('HGETALL', p .. 'twin'), ident, 0 }
    local mods = redis.call('SMEMBERS', p .. 'modules')
    table.sort(mods)
    for _, m in ipairs(mods) do
      local mi = redis.call('HGETALL', p .. 'module:' .. m)
      if #mi > 0 then
        out[#out + 1] = { redis.call('HGETALL', p .. 'twin:' .. m), mi, 0 }
      end
    end
  end
  if #out - 1 >= most or i == most then
    out[1] = id
    break
  end
end
return out
