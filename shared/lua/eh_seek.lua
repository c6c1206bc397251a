-- Where an Event Hubs receiver starts (amqp.md 10.3): the position before
-- its first event, exclusive start of its reads, as "<ms>-<seq>".  Entry
-- ids are "<ms>-<sequence number of the entry's last message>" and an
-- entry holds "n" messages (d2c_append.lua); a reader skips the messages
-- of an entry of the position's ms up to its seq.  Offsets are sequence
-- numbers.
-- KEYS[1] partition stream  KEYS[2] its last entry id
-- ARGV[1] "start", "latest", "seq" (the first sequence number wanted) or
-- "time" (the first enqueued time wanted, ms)  ARGV[2] the number
-- returns the id
local function seq_of(id)
  return tonumber(string.match(id, '-(%d+)$'))
end
local function ms_of(id)
  return tonumber(string.match(id, '^(%d+)-'))
end
-- the sequence number of an entry's first message
local function first_seq_of(entry)
  local f = entry[2]
  for i = 1, #f - 1, 2 do
    if f[i] == 'n' then
      return seq_of(entry[1]) - tonumber(f[i + 1]) + 1
    end
  end
  return seq_of(entry[1])
end
local function last_id()
  local e = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
  if e then
    return e[1]
  end
  return redis.call('GET', KEYS[2]) or '0-0'
end
local kind, n = ARGV[1], tonumber(ARGV[2])
if kind == 'start' then
  return '0-0'
end
if kind == 'latest' then
  return last_id()
end
if kind == 'time' then
  if n <= 0 then
    return '0-0'
  end
  return string.format('%.0f-18446744073709551615', n - 1)
end
-- seq: the smallest ms whose last entry has a sequence number >= n: its
-- entry of message n is the first after (ms, n - 1)
if n <= 0 then
  return '0-0'
end
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
if not first then
  if redis.call('GET', KEYS[2]) then
    return last_id()
  end
  return '0-0'
end
if first_seq_of(first) >= n then
  return '0-0'
end
local last = last_id()
if seq_of(last) < n then
  return last
end
local lo, hi = ms_of(first[1]), ms_of(last)
while lo < hi do
  local mid = math.floor((lo + hi) / 2)
  local e = redis.call('XREVRANGE', KEYS[1], string.format('%.0f', mid), '-',
                       'COUNT', 1)[1]
  if e and seq_of(e[1]) >= n then
    hi = mid
  else
    lo = mid + 1
  end
end
return string.format('%.0f-%.0f', lo, n - 1)
