-- Deletes a module identity and its twin.
-- KEYS[1] module hash  KEYS[2] module twin hash  KEYS[3] module set
-- ARGV[1] If-Match etag, unquoted: "" or "*" match any
-- ARGV[2] module id
-- returns "OK", or the error "NOT_FOUND" or "ETAG_MISMATCH"
local etag = redis.call('HGET', KEYS[1], 'etag')
if not etag then
  return { err = 'NOT_FOUND' }
end
if ARGV[1] ~= '' and ARGV[1] ~= '*' and ARGV[1] ~= etag then
  return { err = 'ETAG_MISMATCH' }
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[2])
return 'OK'
