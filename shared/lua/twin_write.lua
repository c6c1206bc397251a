-- Writes a twin back if nobody changed it meanwhile (optimistic
-- concurrency), and pushes a desired change to the session subscribed to
-- desired notifications.
-- KEYS[1] twin hash  KEYS[2] identity hash  KEYS[3] presence hash
-- ARGV[1] the version read  ARGV[2] desired notification ("" for none)
-- ARGV[3] its desired version  ARGV[4..] field, value, ... to write
-- returns "OK", or the error "NOT_FOUND" or "CONFLICT"
-- A device twin (KEYS[1] "<prefix>{<dev>}:twin") also keeps the tag index
-- (docs/redis-schema.md, "Tag index") in step with its tags.
if redis.call('EXISTS', KEYS[2]) == 0 then
  return { err = 'NOT_FOUND' }
end
local v = redis.call('HGET', KEYS[1], 'version') or '1'
if v ~= ARGV[1] then
  return { err = 'CONFLICT' }
end

-- the string leaves of a tags text as "<path>\n<value>";
-- tag_index_build.lua walks tags the same way
local function leaves(json)
  local out = {}
  local ok, tags = pcall(cjson.decode, json or '{}')
  local function walk(node, path)
    for k, val in pairs(node) do
      if type(k) == 'string' then
        local p = path .. k
        if type(val) == 'string' then
          out[p .. '\n' .. val] = true
        elseif type(val) == 'table' then
          walk(val, p .. '.')
        end
      end
    end
  end
  if ok and type(tags) == 'table' then
    walk(tags, '')
  end
  return out
end

local prefix, dev = string.match(KEYS[1], '^(.*){([^{}]*)}:twin$')
if dev then
  local new
  for i = 4, #ARGV - 1, 2 do
    if ARGV[i] == 'tags' then
      new = ARGV[i + 1]
    end
  end
  local old = redis.call('HGET', KEYS[1], 'tags') or '{}'
  if new and new ~= old then
    local before, after = leaves(old), leaves(new)
    for leaf in pairs(before) do
      if not after[leaf] then
        redis.call('ZREM', prefix .. 'tagidx:' .. leaf, dev)
      end
    end
    for leaf in pairs(after) do
      if not before[leaf] then
        redis.call('ZADD', prefix .. 'tagidx:' .. leaf, 0, dev)
      end
    end
  end
end

redis.call('HSET', KEYS[1], unpack(ARGV, 4))
if ARGV[2] ~= '' then
  local p = redis.call('HMGET', KEYS[3], 'inbox', 'session', 'features')
  -- 4: NGX_IOTHUB_FEATURE_DESIRED (shared/ngx_iothub_features.h)
  if p[1] and math.floor(tonumber(p[3] or '0') / 4) % 2 == 1 then
    redis.call('PUBLISH', p[1],
               'desired ' .. p[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[2])
  end
end
return 'OK'
