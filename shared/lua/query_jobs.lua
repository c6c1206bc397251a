-- Reads the next chunk of device job records (devices.jobs) for a query,
-- in device id order, each device's by job id.
-- KEYS[1] the device ids to walk: a sorted set, every score 0 (Pdevices)
-- ARGV[1] hub key prefix ("iothub:<hub>:")
-- ARGV[2] the device id to start after ("": from the first)
-- ARGV[3] the job id of ARGV[2] to start after ("": after the whole
--         device)
-- ARGV[4] how many device ids to read
-- returns { the last device id read, "" when the walk reached the end,
-- then the records (JSON text, P{<dev>}:jobs values) }
local start = '-'
if ARGV[2] ~= '' then
  if ARGV[3] ~= '' then
    start = '[' .. ARGV[2]
  else
    start = '(' .. ARGV[2]
  end
end
local count = tonumber(ARGV[4])
local ids = redis.call('ZRANGEBYLEX', KEYS[1], start, '+', 'LIMIT', 0, count)
local out = { '' }
if #ids == count then
  out[1] = ids[#ids]
end
for _, id in ipairs(ids) do
  local h = redis.call('HGETALL', ARGV[1] .. '{' .. id .. '}:jobs')
  local jobs = {}
  for i = 1, #h, 2 do
    if id ~= ARGV[2] or h[i] > ARGV[3] then
      jobs[#jobs + 1] = h[i]
    end
  end
  table.sort(jobs)
  local rec = {}
  for i = 1, #h, 2 do
    rec[h[i]] = h[i + 1]
  end
  for _, j in ipairs(jobs) do
    out[#out + 1] = rec[j]
  end
end
return out
