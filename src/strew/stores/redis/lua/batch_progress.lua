-- One page of a batch's progress (see Store.batch_progress): per slice of [start, end), the
-- members the batch's writes planned there and those still scheduled at their batch time.
-- KEYS: 1 members (list of 'due key' strings), 2 schedule
-- ARGV: 1 first position, 2 page length (at most 5,000), 3 planned members (the first
--       positions of the list; a re-spread appends after them), 4 start (us), 5 end (us),
--       6 slices
-- Returns {planned per slice, waiting per slice}.
local members, schedule = KEYS[1], KEYS[2]
local first, length, planned_n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local start, stop, slices = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local width = (stop - start) / slices
local planned, waiting = {}, {}
for s = 1, slices do
  planned[s] = 0
  waiting[s] = 0
end
local function slice_of(due)
  local s = math.floor((due - start) / width) + 1
  if s < 1 then return 1 end
  if s > slices then return slices end
  return s
end
local page = redis.call('LRANGE', members, first, first + length - 1)
-- ZMSCORE takes at most a thousand keys at a time: unpack() has a stack limit.
for low = 1, #page, 1000 do
  local high = math.min(low + 999, #page)
  local keys, dues = {}, {}
  local n = 0
  for i = low, high do
    n = n + 1
    local due, key = string.match(page[i], '^(%d+) (.*)$')
    dues[n] = tonumber(due)
    keys[n] = key
  end
  local current = redis.call('ZMSCORE', schedule, unpack(keys))
  for j = 1, #keys do
    local due = dues[j]
    local s = slice_of(due)
    if first + low + j - 2 < planned_n then planned[s] = planned[s] + 1 end
    if current[j] and tonumber(current[j]) == due then waiting[s] = waiting[s] + 1 end
  end
end
return {planned, waiting}
