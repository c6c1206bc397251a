-- A janitor step: builds the tag index of twins written before it existed
-- (docs/redis-schema.md, "Tag index"), a chunk of devices per call, in
-- device id order from where the last call stopped; twin_write.lua keeps
-- it from then on.  Once every device was seen the index is complete and
-- queries may read it.
-- KEYS[1] the janitor lock  KEYS[2] device index (zset)
-- KEYS[3] "Ptagidx:ready"  KEYS[4] "Ptagidx:cursor"
-- ARGV[1] the lock's owner  ARGV[2] lock time (ms)  ARGV[3] hub key prefix
-- ARGV[4] devices per call
-- returns 1 when the index is complete, 0 when more calls are due, or the
-- error "LOCK_LOST"
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then
  return { err = 'LOCK_LOST' }
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('EXISTS', KEYS[3]) == 1 then
  return 1
end

-- the string leaves of a tags text as "<path>\n<value>"; twin_write.lua
-- walks tags the same way
local function leaves(json)
  local out = {}
  local ok, tags = pcall(cjson.decode, json or '{}')
  local function walk(node, path)
    for k, v in pairs(node) do
      if type(k) == 'string' then
        local p = path .. k
        if type(v) == 'string' then
          out[p .. '\n' .. v] = true
        elseif type(v) == 'table' then
          walk(v, p .. '.')
        end
      end
    end
  end
  if ok and type(tags) == 'table' then
    walk(tags, '')
  end
  return out
end

local count = tonumber(ARGV[4])
local cursor = redis.call('GET', KEYS[4])
local ids = redis.call('ZRANGEBYLEX', KEYS[2],
                       cursor and ('(' .. cursor) or '-', '+',
                       'LIMIT', 0, count)
for _, id in ipairs(ids) do
  local tags = redis.call('HGET', ARGV[3] .. '{' .. id .. '}:twin', 'tags')
  for leaf in pairs(leaves(tags)) do
    redis.call('ZADD', ARGV[3] .. 'tagidx:' .. leaf, 0, id)
  end
end
if #ids < count then
  redis.call('SET', KEYS[3], '1')
  redis.call('DEL', KEYS[4])
  return 1
end
redis.call('SET', KEYS[4], ids[#ids])
return 0
