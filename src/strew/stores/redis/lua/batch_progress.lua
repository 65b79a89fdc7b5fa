-- Part of a batch's progress (see Store.batch_progress): per slice of [start, end), the
-- members the batch's writes planned there and those still scheduled at their batch time,
-- among the members at the given spots of the list.
-- KEYS: 1 members (list of 'due key' strings), 2 schedule
-- ARGV: 1 planned members (the first positions of the list; a re-spread appends after
--       them), 2 start (us), 3 end (us), 4 slices, 5 members read at each spot, 6... the
--       spots (list positions); at most 2,500 members in all
-- Returns {planned per slice, waiting per slice, members read}.
local members, schedule = KEYS[1], KEYS[2]
local planned_n = tonumber(ARGV[1])
local start, stop, slices = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local span = tonumber(ARGV[5])
local width = (stop - start) / slices
local planned, waiting = {}, {}
for s = 1, slices do
  planned[s] = 0
  waiting[s] = 0
end
local read = 0
for a = 6, #ARGV do
  local first = tonumber(ARGV[a])
  local page = redis.call('LRANGE', members, first, first + span - 1)
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
    for j = 1, n do
      local due = dues[j]
      local s = math.floor((due - start) / width) + 1
      if s < 1 then s = 1 elseif s > slices then s = slices end
      if first + low + j - 2 < planned_n then planned[s] = planned[s] + 1 end
      if current[j] and tonumber(current[j]) == due then waiting[s] = waiting[s] + 1 end
    end
  end
  read = read + #page
end
return {planned, waiting, read}
