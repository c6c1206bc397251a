-- Settles a locked message: "complete" removes it (feedback Success when
-- asked for), "reject" dead-letters it (feedback Rejected when asked
-- for), "abandon" unlocks it with one more delivery counted, "release"
-- unlocks it as an expired lock would (a dropped connection).
-- KEYS[1] queue  KEYS[2] feedback stream  KEYS[3] presence hash: the
-- device's current session is told when a message is due again
-- ARGV[1] message key prefix  ARGV[2] message number  ARGV[3] lock token
-- ARGV[4] "complete", "reject", "abandon" or "release"  ARGV[5] now (ISO 8601)
-- ARGV[6] device id  ARGV[7] device generation id  ARGV[8] most feedback
-- records kept (approximately: trimmed by whole stream nodes)
-- ARGV[9] now (ms)
-- returns "OK", or the error "LOCK_LOST": another lock, or this one
-- expired (lockUntil passed; "release" only gives the message back, and
-- may come late); the message then stays for the next receive, its
-- delivery count unchanged (messaging.md 3.1)
local key = ARGV[1] .. ARGV[2]
local h = redis.call('HMGET', key, 'lock', 'ack', 'p:message-id',
                     'lockUntil')
if h[1] ~= ARGV[3] then
  return { err = 'LOCK_LOST' }
end
if ARGV[4] ~= 'release'
   and (not h[4] or tonumber(h[4]) <= tonumber(ARGV[9])) then
  return { err = 'LOCK_LOST' }
end
local done = { complete = { 'positive', 'full', 'Success' },
               reject = { 'negative', 'full', 'Rejected' } }
local how = done[ARGV[4]]
if not how then
  if ARGV[4] == 'abandon' then
    redis.call('HINCRBY', key, 'dc', 1)
  end
  redis.call('HDEL', key, 'lock', 'lockUntil')
  local p = redis.call('HMGET', KEYS[3], 'inbox', 'session', 'features')
  -- 1: NGX_IOTHUB_FEATURE_C2D (shared/ngx_iothub_features.h)
  if p[1] and tonumber(p[3] or '0') % 2 == 1 then
    redis.call('PUBLISH', p[1], 'c2d ' .. p[2])
  end
  return 'OK'
end
redis.call('LREM', KEYS[1], 1, ARGV[2])
redis.call('DEL', key)
-- feedback when the message's ack mode asks for this outcome
if h[2] == how[1] or h[2] == how[2] then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[8], '*',
             'originalMessageId', h[3] or '',
             'enqueuedTimeUtc', ARGV[5], 'statusCode', how[3],
             'description', how[3], 'deviceId', ARGV[6],
             'deviceGenerationId', ARGV[7])
end
return 'OK'
