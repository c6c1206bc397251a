-- The receivers of one consumer group's partition, for Event Hubs epoch
-- (owner level) receivers: a receiver with an epoch takes the partition
-- from every other receiver whose epoch is not higher (receivers without
-- one included), and is refused while a higher epoch holds it; a receiver
-- without an epoch is refused while any epoch receiver holds it.  Each
-- receiver is a field "<inbox> <claim number>" = "<epoch, -1 none>
-- <deadline ms>": the worker renews it while the link lives, so the claim
-- of a dead worker ends at its deadline.  Displaced receivers hear
-- "eh-stolen <claim number> <epoch>" on their worker's inbox.
-- KEYS[1] the receivers of the partition  KEYS[2] the hub's consumer
-- groups created at run time
-- ARGV[1] claim | renew | release  ARGV[2] the receiver's field
-- ARGV[3] its epoch, -1 for none  ARGV[4] lifetime of a claim (ms)
-- ARGV[5] the group's name in lower case, "" when it is configured
-- returns { 1 held, 0 refused; the highest epoch of the others, -1 none },
-- NOT_FOUND for a group that does not exist
local op, me = ARGV[1], ARGV[2]

if op == 'release' then
  redis.call('HDEL', KEYS[1], me)
  return { 1, -1 }
end

if op == 'claim' and ARGV[5] ~= ''
   and redis.call('HEXISTS', KEYS[2], ARGV[5]) == 0 then
  return redis.error_reply('NOT_FOUND no such consumer group')
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local others, top, mine = {}, -1, false

for i = 1, #all, 2 do
  local epoch, deadline = string.match(all[i + 1], '^(-?%d+) (%d+)$')
  if not epoch or tonumber(deadline) < now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] == me then
    mine = true
  else
    epoch = tonumber(epoch)
    others[#others + 1] = { all[i], epoch }
    if epoch > top then
      top = epoch
    end
  end
end

local epoch = tonumber(ARGV[3])

if op == 'renew' then
  -- gone: displaced (its inbox was told) or lapsed
  if not mine then
    return { 0, top }
  end
elseif top >= 0 and epoch < top then
  return { 0, top }
elseif epoch >= 0 then
  for _, r in ipairs(others) do
    local inbox, n = string.match(r[1], '^(%S+) (%d+)$')
    redis.call('HDEL', KEYS[1], r[1])
    if inbox then
      redis.call('PUBLISH', inbox, 'eh-stolen ' .. n .. ' ' .. ARGV[3])
    end
  end
end

redis.call('HSET', KEYS[1], me,
           ARGV[3] .. ' ' .. (now + tonumber(ARGV[4])))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return { 1, top }
