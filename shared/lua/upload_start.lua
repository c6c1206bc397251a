-- Starts a file upload of a device (rest.md 14.4): at most ARGV[5] are
-- in progress at once (403006); the correlation lives as long as the
-- upload's SAS.  Uploads that ended or expired leave the set a day
-- later, so that a late notification reads as expired, not unknown.
-- KEYS[1] the device's uploads (sorted set: correlation -> expiry, ms)
-- KEYS[2] the correlation (string: the blob path)
-- ARGV[1] correlation  ARGV[2] blob path  ARGV[3] now, ms  ARGV[4] TTL, ms
-- ARGV[5] most uploads in progress
-- returns 1, or the error "FULL"
local now = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 86400000)
if redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf') >= tonumber(ARGV[5]) then
  return { err = 'FULL' }
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl + 86400000)
redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl)
return 1
