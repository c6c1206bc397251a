-- Reads one import/export job (ARGV[2]) or all of them, newest first
-- (ARGV[2] "").  A job whose runner stopped stays enqueued or running
-- until another worker takes it over (bulkjob_claim.lua).
-- KEYS[1] the jobs (sorted set)
-- ARGV[1] the jobs' key prefix  ARGV[2] job id or ""
-- returns { { id, { field, value, ... } }, ... }, or the error "NOT_FOUND"
local ids
if ARGV[2] ~= '' then
  ids = { ARGV[2] }
else
  ids = redis.call('ZREVRANGE', KEYS[1], 0, -1)
end
local out = {}
for _, id in ipairs(ids) do
  local h = redis.call('HGETALL', ARGV[1] .. id)
  if #h == 0 then
    if ARGV[2] ~= '' then
      return { err = 'NOT_FOUND' }
    end
  else
    out[#out + 1] = { id, h }
  end
end
return out
