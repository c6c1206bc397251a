-- Lists jobs in creation order, filtered by type and status.
-- KEYS[1] jobs by creation (zset)
-- ARGV[1] hub key prefix  ARGV[2] offset to start at  ARGV[3] most to
-- return  ARGV[4] type or ''  ARGV[5] status or ''
-- returns { offset to continue from (0: no more), hash, hash, ... }
local out = { 0 }
local offset = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local batch = 100
while true do
  local ids = redis.call('ZRANGE', KEYS[1], offset, offset + batch - 1)
  if #ids == 0 then
    return out
  end
  for i, id in ipairs(ids) do
    local key = ARGV[1] .. 'job:' .. id
    local t = redis.call('HMGET', key, 'type', 'status')
    if t[1] and (ARGV[4] == '' or t[1] == ARGV[4])
        and (ARGV[5] == '' or t[2] == ARGV[5]) then
      if #out - 1 == want then
        out[1] = offset + i - 1
        return out
      end
      out[#out + 1] = redis.call('HGETALL', key)
    end
  end
  offset = offset + batch
end
