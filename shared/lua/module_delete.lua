-- Deletes a module identity and its twin.
-- KEYS[1] module hash  KEYS[2] module twin hash  KEYS[3] module set
-- ARGV[1] If-Match etag, unquoted: "" or "*" match any
-- ARGV[2] module id
-- ARGV[3] key prefix of the device ("...{id}:"): the module's session is
-- ended (kicked) and its presence and session keys go too
-- returns "OK", or the error "NOT_FOUND" or "ETAG_MISMATCH"; workers drop
-- their cached copy (iothub:identities)
local etag = redis.call('HGET', KEYS[1], 'etag')
if not etag then
  return { err = 'NOT_FOUND' }
end
if ARGV[1] ~= '' and ARGV[1] ~= '*' and ARGV[1] ~= etag then
  return { err = 'ETAG_MISMATCH' }
end
local p = redis.call('HMGET', ARGV[3] .. 'presence:' .. ARGV[2],
                     'inbox', 'session')
if p[1] then
  redis.call('PUBLISH', p[1], 'kick ' .. p[2] .. ' removed')
end
redis.call('PUBLISH', 'iothub:identities', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2], ARGV[3] .. 'presence:' .. ARGV[2],
           ARGV[3] .. 'session:' .. ARGV[2])
redis.call('SREM', KEYS[3], ARGV[2])
return 'OK'
