-- Re-time what is left of a batch that fell behind, taking back a worker's late claims of it
-- in the same step (see Store.respread_batch).
-- KEYS: 1 schedule, 2 members (list of 'due key' strings, the cancel index), 3 payloads,
--       4 leases, 5 running, 6 tokens, 7 dues, 8 the batch's descriptor (hash, if listed)
-- ARGV: 1 start (us), 2 spacing (us), 3 overdue (us), 4 wake channel, then key, token pairs
--       of the claims offered back
-- Returns {moved, one '1' or '0' per claim offered: 1 when it was handed back}.
local schedule, members, payloads = KEYS[1], KEYS[2], KEYS[3]
local leases, running, tokens, dues = KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local start, spacing, overdue = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local threshold = start - overdue

-- The claims that may come back: still held by the token offered, not scheduled again
-- meanwhile, and overdue enough. Whether the batch gave the key that due time is seen below,
-- while reading the members.
-- A dues value is "<due> <claimed at>" (or, from an older version, "<due>").
local function due_of(value)
  if not value then return nil end
  local space = string.find(value, ' ', 1, true)
  return tonumber(space and string.sub(value, 1, space - 1) or value)
end

local flags, offered = {}, {}  -- offered: key -> {position in flags, due of the claim}
local offers = 0
for i = 5, #ARGV, 2 do
  local key, token = ARGV[i], ARGV[i + 1]
  flags[#flags + 1] = '0'
  if offered[key] == nil and redis.call('HGET', tokens, key) == token
      and not redis.call('ZSCORE', schedule, key) then
    local due = due_of(redis.call('HGET', dues, key))
    if due and due < threshold then
      offered[key] = {#flags, due}
      offers = offers + 1
    end
  end
end

-- Nothing offered, nothing in the whole docket overdue by more than the threshold: no need to
-- read the batch. This is the common case (a batch re-spread already, workers on time) and
-- costs one lookup.
if offers == 0 and #redis.call('ZRANGEBYSCORE', schedule, '-inf',
    '(' .. string.format('%d', threshold), 'LIMIT', 0, 1) == 0 then
  return {0, table.concat(flags)}
end

-- Due times of every claim in the docket (a few per worker slot), to tell which members are
-- already claimed at a time the batch gave them: the re-spread queues behind those.
local claimed = {}
local all = redis.call('HGETALL', dues)
for i = 1, #all, 2 do claimed[all[i]] = due_of(all[i + 1]) end
local frontier = start
-- Members whose latest time the batch gave falls in [threshold, start] and that are neither
-- scheduled nor coming back: they ran, or run now, without a re-spread (a worker held them
-- when they were less than `overdue` late). They used up slots the re-spread must not give
-- out again, or they and its first tasks would start together.
local recent = {}

local PAGE = 1000
-- Members still scheduled at the time the batch gave them (and offered claims at such a
-- time), as parallel arrays (a table per member would cost an allocation each, which shows
-- at a million members). back[n] is the position in flags of a handed-back claim.
local live_dues, live_keys, back = {}, {}, {}
local n = 0
local earliest = nil
local sorted = true  -- a scatter's list is written in plan order: usually no sort is needed
local count = redis.call('LLEN', members)
for offset = 0, count - 1, PAGE do
  local page = redis.call('LRANGE', members, offset, offset + PAGE - 1)
  local keys, page_dues = {}, {}
  for i, member in ipairs(page) do
    local space = string.find(member, ' ', 1, true)
    page_dues[i] = tonumber(string.sub(member, 1, space - 1))
    keys[i] = string.sub(member, space + 1)
  end
  local current = redis.call('ZMSCORE', schedule, unpack(keys))
  for j, key in ipairs(keys) do
    local due = page_dues[j]
    local claim = offered[key]
    local mine = claim ~= nil and claim[2] == due
    -- An entry left behind by an earlier re-spread no longer matches and is passed over.
    if mine or (current[j] and tonumber(current[j]) == due) then
      if n > 0 and (live_dues[n] > due or (live_dues[n] == due and live_keys[n] > key)) then
        sorted = false
      end
      n = n + 1
      live_dues[n] = due
      live_keys[n] = key
      if mine then
        back[n] = claim[1]
        offered[key] = nil  -- taken once, even if the list names it twice
      end
      if earliest == nil or due < earliest then earliest = due end
      recent[key] = nil
    elseif claimed[key] == due and due > frontier then
      frontier = due  -- claimed for later than `start` (early, on an earlier re-spread's time)
      recent[key] = nil
    elseif due >= threshold and due <= start then
      recent[key] = true  -- a key's entries come in the order written: this is its latest
    elseif recent[key] then
      recent[key] = nil  -- a later time than the one in the window
    end
  end
end

-- Nothing of this batch overdue by more than the threshold: it is on time (or another
-- worker re-spread it a moment ago), and moving it again would only delay it. (A claim
-- handed back is always overdue, so this returns only when none was.)
if earliest == nil or earliest >= threshold then return {0, table.concat(flags)} end

local order = nil  -- positions in due order, when the list is not already in it
if not sorted then
  order = {}
  for i = 1, n do order[i] = i end
  table.sort(order, function(a, b)
    if live_dues[a] ~= live_dues[b] then return live_dues[a] < live_dues[b] end
    return live_keys[a] < live_keys[b]
  end)
end

local reserved = 0
for _ in pairs(recent) do reserved = reserved + 1 end
local previous = math.max(start + reserved * spacing, frontier)
local moved, push = 0, 0
local first = nil  -- the first new due time of a handed-back claim, for the wake-up
local zargs, margs = {}, {}
local function flush()
  if #zargs > 0 then
    -- Live members are on the schedule (seen above, in this same step) and handed-back
    -- claims are not: a plain ZADD serves both.
    redis.call('ZADD', schedule, unpack(zargs))
    -- The cancel index gets the new time appended; the old entry stops matching.
    redis.call('RPUSH', members, unpack(margs))
    zargs, margs = {}, {}
  end
end
local last_old, last_key = nil, nil
for i = 1, n do
  local at = order and order[i] or i
  local old, key = live_dues[at], live_keys[at]
  -- The list can name one schedule twice (a key scattered again at the same time after it
  -- was cancelled): in due order the two are neighbours, and the second is passed over.
  local twice = old == last_old and key == last_key
  last_old, last_key = old, key
  local due = math.max(old, previous + spacing)
  local position = back[at]
  if twice then
    due = previous
  elseif position then
    -- Off the lease and back on the schedule, with the payload the claim carried.
    redis.call('HSET', payloads, key, redis.call('HGET', running, key) or '')
    redis.call('ZREM', leases, key)
    redis.call('HDEL', running, key)
    redis.call('HDEL', tokens, key)
    redis.call('HDEL', dues, key)
    flags[position] = '1'
    if first == nil then first = due end
  end
  if not twice and (due ~= old or position) then
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
  -- The listing follows the members (see commit_batch.lua).
  if KEYS[8] and redis.call('EXISTS', KEYS[8]) == 1 then
    redis.call('PEXPIRE', KEYS[8], string.format('%d', ttl + math.ceil(push / 1000)))
  end
end
-- Handed-back tasks are claimable again from `first`: a worker asleep until later would
-- otherwise start them late.
if first then redis.call('PUBLISH', ARGV[4], string.format('%d', first)) end
return {moved, table.concat(flags)}
