-- Locks the oldest deliverable message of a device's queue.  Expired
-- messages and those abandoned too often are dead-lettered on the way,
-- with feedback when their ack mode asks for it.
-- KEYS[1] queue  KEYS[2] feedback stream
-- ARGV[1] message key prefix  ARGV[2] now (ms)  ARGV[3] lock time (ms)
-- ARGV[4] max delivery count  ARGV[5] lock token  ARGV[6] now (ISO 8601)
-- ARGV[7] device id  ARGV[8] device generation id
-- ARGV[9] most feedback records kept (approximately: trimmed by whole
-- stream nodes)
-- returns the message hash as field, value, ... with "n", or nil
local now = tonumber(ARGV[2])
local function dead(n, h, code)
  redis.call('LREM', KEYS[1], 1, n)
  redis.call('DEL', ARGV[1] .. n)
  if h[4] == 'negative' or h[4] == 'full' then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[9], '*',
               'originalMessageId', h[5] or '',
               'enqueuedTimeUtc', ARGV[6], 'statusCode', code,
               'description', code, 'deviceId', ARGV[7],
               'deviceGenerationId', ARGV[8])
  end
end
for _, n in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local h = redis.call('HMGET', ARGV[1] .. n, 'expiry', 'lockUntil', 'dc',
                       'ack', 'p:message-id')
  if not h[1] then
    redis.call('LREM', KEYS[1], 1, n)
  elseif tonumber(h[1]) <= now then
    dead(n, h, 'Expired')
  elseif tonumber(h[3]) >= tonumber(ARGV[4]) then
    dead(n, h, 'DeliveryCountExceeded')
  elseif not h[2] or tonumber(h[2]) <= now then
    redis.call('HSET', ARGV[1] .. n, 'lock', ARGV[5],
               'lockUntil', now + tonumber(ARGV[3]))
    local m = redis.call('HGETALL', ARGV[1] .. n)
    m[#m + 1] = 'n'
    m[#m + 1] = n
    return m
  end
end
return nil
