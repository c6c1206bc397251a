-- Hands a direct method request to the session of the identity, if it is
-- connected and subscribed to method requests.
-- KEYS[1] identity hash  KEYS[2] presence hash
-- ARGV[1] "<rid> <method name> <payload>"
-- returns 1 when delivered to a session's node, 0 when not online, or the
-- error "NOT_FOUND"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return { err = 'NOT_FOUND' }
end
local p = redis.call('HMGET', KEYS[2], 'inbox', 'session', 'features')
-- 8: the method subscription of ngx_iothub_mqtt_topic.h; a session whose
-- worker stopped beating ("<inbox>:alive") is gone
if not p[1] or math.floor(tonumber(p[3] or '0') / 8) % 2 == 0
   or redis.call('EXISTS', p[1] .. ':alive') == 0 then
  return 0
end
redis.call('PUBLISH', p[1], 'method ' .. p[2] .. ' ' .. ARGV[1])
return 1
