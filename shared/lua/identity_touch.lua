-- Records activity of a connected identity, unless it was deleted.
-- KEYS[1] identity hash
-- ARGV[1] now (ISO 8601)
-- returns 1 when recorded, else 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'lastActivityTime', ARGV[1])
return 1
