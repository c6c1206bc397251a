-- Completes a file upload of a device (rest.md 14.4): the correlation
-- ends, and a successful upload's notification joins the hub's file
-- notification stream (messaging.md 4) when ARGV[4] is "1".
-- KEYS[1] the device's uploads  KEYS[2] the correlation
-- KEYS[3] the hub's file notification stream
-- ARGV[1] correlation  ARGV[2] blob path  ARGV[3] now, ms
-- ARGV[4] "1": notify, "0": not  ARGV[5] most records of the stream
-- ARGV[6...] the notification's field, value pairs
-- returns 1, or the error "NOT_FOUND" (unknown correlation) or "EXPIRED"
local path = redis.call('GET', KEYS[2])
if not path then
  local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if expiry and tonumber(expiry) <= tonumber(ARGV[3]) then
    redis.call('ZREM', KEYS[1], ARGV[1])
    return { err = 'EXPIRED' }
  end
  return { err = 'NOT_FOUND' }
end
if path ~= ARGV[2] then
  return { err = 'NOT_FOUND' }
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[4] == '1' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*',
             unpack(ARGV, 6))
end
return 1
