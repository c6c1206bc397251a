-- Consumer groups created at run time (docs/rest-extensions.md), besides
-- the configured ones: a hash of the lower-case name -> "<created> <name>".
-- KEYS[1] the hub's groups
-- ARGV[1] create | delete  ARGV[2] the name in lower case
-- ARGV[3] the name as given  ARGV[4] the time (ISO 8601)
-- ARGV[5] most groups the hash may hold
-- create: { 1, value } (created) or { 0, value } (it existed), FULL when
-- the hash holds the most already; delete: { 1 or 0, "" }
if ARGV[1] == 'delete' then
  return { redis.call('HDEL', KEYS[1], ARGV[2]), '' }
end

local old = redis.call('HGET', KEYS[1], ARGV[2])
if old then
  return { 0, old }
end

if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then
  return redis.error_reply('FULL too many consumer groups')
end

local value = ARGV[4] .. ' ' .. ARGV[3]
redis.call('HSET', KEYS[1], ARGV[2], value)
return { 1, value }
