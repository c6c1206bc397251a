-- Reads the next chunk of twins for a query, in device id order.
-- KEYS[1] the device ids to walk: a sorted set, every score 0 (Pdevices)
-- KEYS[2], KEYS[3] optional: a tag index set ("Ptagidx:<path>\n<value>",
-- docs/redis-schema.md) walked instead once the index is complete, and
-- "Ptagidx:ready", there when it is; both sets are in device id order, so
-- a walk may go on in either
-- ARGV[1] hub key prefix ("iothub:<hub>:")
-- ARGV[2] the device id to start after ("": from the first)
-- ARGV[3] devices.modules only: the module of ARGV[2] to start after
--         ("": after the whole device)
-- ARGV[4] how many device ids to read  ARGV[5] "devices" or "modules"
-- returns { the last device id read, "" when the walk reached the end,
-- then per twin { twin as field, value, ..., identity as field, value,
-- ..., queued messages } }
local modules = ARGV[5] == 'modules'
local start = '-'
if ARGV[2] ~= '' then
  if modules and ARGV[3] ~= '' then
    start = '[' .. ARGV[2]
  else
    start = '(' .. ARGV[2]
  end
end
local walk = KEYS[1]
if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 1 then
  walk = KEYS[2]
end
local count = tonumber(ARGV[4])
local ids = redis.call('ZRANGEBYLEX', walk, start, '+', 'LIMIT', 0, count)
local out = { '' }
if #ids == count then
  out[1] = ids[#ids]
end
for _, id in ipairs(ids) do
  local p = ARGV[1] .. '{' .. id .. '}:'
  if not modules then
    local ident = redis.call('HGETALL', p .. 'device')
    if #ident > 0 then
      out[#out + 1] = { redis.call('HGETALL', p .. 'twin'), ident,
                        redis.call('LLEN', p .. 'c2d') }
    elseif walk ~= KEYS[1] then
      -- a deleted device leaves its tag index entries to this read
      redis.call('ZREM', walk, id)
    end
  else
    local mods = redis.call('SMEMBERS', p .. 'modules')
    table.sort(mods)
    for _, m in ipairs(mods) do
      if id ~= ARGV[2] or m > ARGV[3] then
        local ident = redis.call('HGETALL', p .. 'module:' .. m)
        if #ident > 0 then
          out[#out + 1] = { redis.call('HGETALL', p .. 'twin:' .. m), ident,
                            0 }
        end
      end
    end
  end
end
return out
