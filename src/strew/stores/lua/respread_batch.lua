-- Re-time what is left of a batch that fell behind (see Store.respread_batch).
-- KEYS: 1 schedule, 2 members (list of 'due key' strings, the cancel index)
-- ARGV: 1 start (us), 2 spacing (us), 3 overdue (us)
-- Returns how many tasks were moved.
local schedule, members = KEYS[1], KEYS[2]
local start, spacing, overdue = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])

-- Nothing in the whole docket overdue by more than the threshold: no need to read the batch.
-- This is the common case (a batch re-spread already, workers on time) and costs one lookup.
local threshold = start - overdue
if #redis.call('ZRANGEBYSCORE', schedule, '-inf', '(' .. string.format('%d', threshold),
    'LIMIT', 0, 1) == 0 then
  return 0
end

local PAGE = 1000
-- Members still scheduled at the time the batch gave them, as two parallel arrays (a table
-- per member would cost an allocation each, which shows at a million members).
local live_dues, live_keys = {}, {}
local n = 0
local earliest = nil
local sorted = true  -- a scatter's list is written in plan order: usually no sort is needed
local count = redis.call('LLEN', members)
for offset = 0, count - 1, PAGE do
  local page = redis.call('LRANGE', members, offset, offset + PAGE - 1)
  local keys, dues = {}, {}
  for i, member in ipairs(page) do
    local space = string.find(member, ' ', 1, true)
    dues[i] = tonumber(string.sub(member, 1, space - 1))
    keys[i] = string.sub(member, space + 1)
  end
  local current = redis.call('ZMSCORE', schedule, unpack(keys))
  for j, key in ipairs(keys) do
    -- An entry left behind by an earlier re-spread no longer matches and is passed over.
    if current[j] and tonumber(current[j]) == dues[j] then
      if n > 0 and (live_dues[n] > dues[j] or (live_dues[n] == dues[j] and live_keys[n] > key)) then
        sorted = false
      end
      n = n + 1
      live_dues[n] = dues[j]
      live_keys[n] = key
      if earliest == nil or dues[j] < earliest then earliest = dues[j] end
    end
  end
end

-- Nothing of this batch overdue by more than the threshold: it is on time (or another
-- worker re-spread it a moment ago), and moving it again would only delay it.
if earliest == nil or earliest >= threshold then return 0 end

local order = nil  -- positions in due order, when the list is not already in it
if not sorted then
  order = {}
  for i = 1, n do order[i] = i end
  table.sort(order, function(a, b)
    if live_dues[a] ~= live_dues[b] then return live_dues[a] < live_dues[b] end
    return live_keys[a] < live_keys[b]
  end)
end

local previous = start
local moved, push = 0, 0
local zargs, margs = {}, {}
local function flush()
  if #zargs > 0 then
    redis.call('ZADD', schedule, 'XX', unpack(zargs))
    -- The cancel index gets the new time appended; the old entry stops matching.
    redis.call('RPUSH', members, unpack(margs))
    zargs, margs = {}, {}
  end
end
for i = 1, n do
  local at = order and order[i] or i
  local old, key = live_dues[at], live_keys[at]
  local due = math.max(old, previous + spacing)
  if due ~= old then
    local text = string.format('%d', due)
    moved = moved + 1
    if due - old > push then push = due - old end
    zargs[#zargs + 1] = text
    zargs[#zargs + 1] = key
    margs[#margs + 1] = text .. ' ' .. key
    if #margs >= PAGE then flush() end
  end
  previous = due
end
flush()

-- Kept longer by the furthest move, so the pushed-back tail can be cancelled for as long
-- after its new time as the original plan allowed.
local ttl = redis.call('PTTL', members)
if ttl > 0 then
  redis.call('PEXPIRE', members, string.format('%d', ttl + math.ceil(push / 1000)))
end
return moved
