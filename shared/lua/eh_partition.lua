-- What the Event Hubs $management READ of a partition tells (amqp.md 10.2).
-- KEYS[1] partition stream  KEYS[2] its last entry id
-- returns { "<ms>-<seq>" of the first message or '', last entry id or '',
-- entries }: an entry's id carries its last message's sequence number and
-- it holds "n" messages (d2c_append.lua)
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
local begin = ''
if first then
  local ms, seq = string.match(first[1], '^(%d+)-(%d+)$')
  local n = 1
  for i = 1, #first[2] - 1, 2 do
    if first[2][i] == 'n' then
      n = tonumber(first[2][i + 1])
    end
  end
  begin = ms .. '-' .. string.format('%d', tonumber(seq) - n + 1)
end
return { begin, last and last[1] or redis.call('GET', KEYS[2]) or '',
         redis.call('XLEN', KEYS[1]) }
