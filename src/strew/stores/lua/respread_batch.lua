-- Re-time what is left of a batch that fell behind (see Store.respread_batch).
-- KEYS: 1 schedule, 2 members (list of 'due key' strings, the cancel index)
-- ARGV: 1 start (us), 2 spacing (us), 3 overdue (us)
-- Returns how many tasks were moved.
local schedule, members = KEYS[1], KEYS[2]
local start, spacing, overdue = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])

local PAGE = 1000
local live = {}    -- {due, key} of members still scheduled at the batch's time
local others = {}  -- every other member entry, kept as it is (a handed-back run returns to it)
local earliest = nil
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
    if current[j] and tonumber(current[j]) == dues[j] then
      live[#live + 1] = {dues[j], key}
      if earliest == nil or dues[j] < earliest then earliest = dues[j] end
    else
      others[#others + 1] = page[j]
    end
  end
end

-- Nothing overdue by more than the threshold: the batch is on time (or was re-spread
-- already by another worker), and moving it again would only delay it.
if earliest == nil or earliest >= start - overdue then return 0 end

table.sort(live, function(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  return a[2] < b[2]
end)

local previous = start
local moved, push = 0, 0
local zargs = {}
local entries = others
for _, item in ipairs(live) do
  local old, key = item[1], item[2]
  local due = math.max(old, previous + spacing)
  local text = string.format('%d', due)
  if due ~= old then
    moved = moved + 1
    if due - old > push then push = due - old end
    zargs[#zargs + 1] = text
    zargs[#zargs + 1] = key
    if #zargs >= 2 * PAGE then
      redis.call('ZADD', schedule, 'XX', unpack(zargs))
      zargs = {}
    end
  end
  entries[#entries + 1] = text .. ' ' .. key
  previous = due
end
if #zargs > 0 then redis.call('ZADD', schedule, 'XX', unpack(zargs)) end

-- The cancel index follows the new times; it lives longer by the furthest move, so the
-- pushed-back tail can still be cancelled as long as the original plan allowed.
local ttl = redis.call('PTTL', members)
redis.call('DEL', members)
for first = 1, #entries, PAGE do
  redis.call('RPUSH', members, unpack(entries, first, math.min(first + PAGE - 1, #entries)))
end
if ttl > 0 then
  redis.call('PEXPIRE', members, string.format('%d', ttl + math.ceil(push / 1000)))
end
return moved
