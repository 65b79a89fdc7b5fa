-- Take up to `limit` tasks under a lease, expired leases first, then due tasks.
-- KEYS: 1 schedule, 2 payloads, 3 leases (zset key -> deadline), 4 running (hash key -> payload),
--       5 tokens (hash key -> token), 6 dues (hash key -> "<due time> <claimed at>" of the
--       run: when it was due, and when this claim was made)
--       and, with a watch lease: 7 watch (string: the worker holding it, expiring),
--       8 standby (zset worker -> until when it waits in line, us), 9 merging (zset: a
--       committed batch still merging -> the earliest due time not merged yet)
-- ARGV: 1 token prefix ("worker/"), 2 limit, 3 lease (us), 4 horizon (us), 5 first token number
--       6 worker, 7 watch lease (us; 0 or absent: no watch), 8 hand-off channel prefix
-- Returns {now, next_due or "", scheduled count, running count, then per claim:
--          key, token, payload, due, redelivered (1/0), then the count of scheduled
--          tasks due by now, this worker's place in the standby line (0: none), and last
--          the id of a batch still merging that the caller is to merge a step of ('' for
--          none; see below and batches.py). next_due counts the earliest due time not merged
--          yet of any batch still merging.}
local schedule, payloads, leases, running, tokens, dues = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local prefix, limit, lease, horizon = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local serial = tonumber(ARGV[5])
-- The progress keys (strew:{docket}:progress:KEY) share the schedule key's prefix.
local progress_prefix = string.sub(schedule, 1, -9) .. 'progress:'

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local deadline = string.format('%d', now + lease)
local claimed_at = string.format('%d', now)

local out = {string.format('%d', now), '', 0, 0}
local taken = 0

local function take(key, payload, due, redelivered)
  local token = prefix .. serial
  serial = serial + 1
  taken = taken + 1
  redis.call('ZADD', leases, deadline, key)
  redis.call('HSET', tokens, key, token)
  out[#out + 1] = key
  out[#out + 1] = token
  out[#out + 1] = payload
  out[#out + 1] = due
  out[#out + 1] = redelivered
end

if limit > 0 then
  local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, limit)
  for _, key in ipairs(expired) do
    -- The due time stays; the claim time is this claim's. A value without a space was
    -- written by a version that kept only the due time.
    local due = redis.call('HGET', dues, key) or '0'
    local space = string.find(due, ' ', 1, true)
    if space then due = string.sub(due, 1, space - 1) end
    redis.call('HSET', dues, key, due .. ' ' .. claimed_at)
    take(key, redis.call('HGET', running, key) or '', due, 1)
  end
end

-- Redis commands over many keys at once, at most CHUNK values a call (unpack() has a stack
-- limit): one call a round of due tasks instead of one a task per step.
local CHUNK = 1000
local function each_chunk(command, key, values, width)
  local size = CHUNK - CHUNK % width
  for i = 1, #values, size do
    if key then
      redis.call(command, key, unpack(values, i, math.min(i + size - 1, #values)))
    else
      redis.call(command, unpack(values, i, math.min(i + size - 1, #values)))
    end
  end
end
-- One reply value per key (ZMSCORE, HMGET), asked CHUNK keys at a time.
local function each_key(command, key, keys)
  local found = {}
  for i = 1, #keys, CHUNK do
    local part = redis.call(command, key, unpack(keys, i, math.min(i + CHUNK - 1, #keys)))
    for j = 1, #part do found[#found + 1] = part[j] end
  end
  return found
end

if taken < limit then
  local upto = string.format('%d', now + horizon)
  local skipped = 0
  while taken < limit do
    local want = limit - taken
    local due = redis.call('ZRANGEBYSCORE', schedule, '-inf', upto, 'WITHSCORES', 'LIMIT', skipped, want)
    if #due == 0 then break end
    local keys = {}
    for i = 1, #due, 2 do keys[#keys + 1] = due[i] end
    local leased = each_key('ZMSCORE', leases, keys)
    local free, ats = {}, {}
    for i = 1, #keys do
      if leased[i] then
        skipped = skipped + 1  -- an earlier run of this key is still going; it waits
      else
        free[#free + 1] = keys[i]
        ats[#ats + 1] = due[i * 2]
      end
    end
    if #free > 0 then
      local found = each_key('HMGET', payloads, free)
      local runs, claimed, progress, leased_until, held_by = {}, {}, {}, {}, {}
      for i = 1, #free do
        local key, at = free[i], ats[i]
        -- A key scheduled without a payload (written by hand) is claimed with an empty one,
        -- which the worker quarantines, instead of failing every claim from now on.
        local payload = found[i] or ''
        runs[#runs + 1] = key
        runs[#runs + 1] = payload
        claimed[#claimed + 1] = key
        claimed[#claimed + 1] = at .. ' ' .. claimed_at
        -- A new run starts with no progress: an earlier run's count would run on (the key's
        -- progress is kept after a run for its record's lifetime).
        progress[#progress + 1] = progress_prefix .. key
        local token = prefix .. serial
        serial = serial + 1
        taken = taken + 1
        leased_until[#leased_until + 1] = deadline
        leased_until[#leased_until + 1] = key
        held_by[#held_by + 1] = key
        held_by[#held_by + 1] = token
        out[#out + 1] = key
        out[#out + 1] = token
        out[#out + 1] = payload
        out[#out + 1] = at
        out[#out + 1] = 0
      end
      each_chunk('ZREM', schedule, free, 1)
      each_chunk('HDEL', payloads, free, 1)
      each_chunk('HSET', running, runs, 2)
      each_chunk('HSET', dues, claimed, 2)
      each_chunk('DEL', nil, progress, 1)
      each_chunk('ZADD', leases, leased_until, 2)
      each_chunk('HSET', tokens, held_by, 2)
    end
    if #due < want * 2 then break end
  end
end

-- The earliest moment anything else becomes claimable.
local next_due = nil
local first_lease = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
if first_lease[2] then next_due = tonumber(first_lease[2]) end
local offset = 0
while true do
  local head = redis.call('ZRANGE', schedule, offset, offset + 15, 'WITHSCORES')
  if #head == 0 then break end
  local found = false
  for i = 1, #head, 2 do
    if not redis.call('ZSCORE', leases, head[i]) then
      local at = tonumber(head[i + 1])
      if next_due == nil or at < next_due then next_due = at end
      found = true
      break
    end
  end
  if found or #head < 32 then break end
  offset = offset + 16
end
if next_due then out[2] = string.format('%d', next_due) end
out[3] = redis.call('ZCARD', schedule)
out[4] = redis.call('ZCARD', leases)
out[#out + 1] = redis.call('ZCOUNT', schedule, '-inf', string.format('%d', now))

-- The watch (docs/workers.md, "How a fleet wakes"): of the workers with room, one at a time
-- acts on wake-ups and sleeps until the schedule's head is due; the others wait in line.
-- A watcher that fills up hands the watch to the first in line (a wake-up on that worker's
-- own channel), so a burst spreads worker by worker, one claim each, and never wakes all.
local standby = 0
local watch_lease = tonumber(ARGV[7] or '0')
if watch_lease > 0 then
  local watch, line, me = KEYS[7], KEYS[8], ARGV[6]
  local watch_ms = math.max(1, math.floor(watch_lease / 1000))
  redis.call('ZREMRANGEBYSCORE', line, '-inf', now)  -- those that stopped checking in
  redis.call('ZREM', line, me)
  local holder = redis.call('GET', watch)
  if taken < limit then
    if not holder or holder == me then
      redis.call('SET', watch, me, 'PX', watch_ms)
    else
      standby = redis.call('ZCARD', line) + 1
      redis.call('ZADD', line, string.format('%d', now + 3 * watch_lease), me)
    end
  elseif not holder or holder == me then
    redis.call('DEL', watch)
    local first = redis.call('ZPOPMIN', line)
    if first[1] then
      redis.call('SET', watch, first[1], 'PX', watch_ms)
      redis.call('PUBLISH', ARGV[8] .. first[1], claimed_at)
    end
  end
end
out[#out + 1] = standby
-- A committed batch not merged yet: its tasks count as scheduled from the commit on, so
-- the earliest of them not merged is a due time like any other. The caller merges a step
-- when that time is within this claim's horizon (a task of it is due: it must be on the
-- schedule to start on time), or when this claim took nothing (a step then delays no task):
-- otherwise the merge is left to its producer, so that a busy worker and the producer do
-- not both keep Redis merging while tasks wait to be claimed.
local merging = ''
if KEYS[9] then
  local first = redis.call('ZRANGE', KEYS[9], 0, 0, 'WITHSCORES')
  if first[1] then
    local frontier = tonumber(first[2])
    if frontier <= now + horizon or taken == 0 then merging = first[1] end
    if next_due == nil or frontier < next_due then out[2] = string.format('%d', frontier) end
    if out[3] == 0 then out[3] = 1 end
  end
end
out[#out + 1] = merging
return out
