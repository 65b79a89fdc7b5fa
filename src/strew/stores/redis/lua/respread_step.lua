-- One bounded step of a re-spread opened by respread_batch.lua (see Store.respread_batch):
-- reads or moves at most ARGV[2] members, so no step blocks Redis for long at any batch size.
-- A run has two phases. *Read*: the members listed when it began are read in list order,
-- page by page, to find what the plan starts after (see Store.respread_batch) and the
-- earliest live member (scheduled at a time the batch gave it, or an offered claim at such
-- a time). *Move*: the live members are re-timed in due order (ties by key), page by page,
-- each page from where the previous one left `previous`. A scatter's list is written in
-- that order, and then the move walks the list again (phase 'walk'); once a batch was
-- re-spread its list is not (the new times are appended), and the read starts over to put
-- the live members in a sorted set by due time, which the move takes from its head (phase
-- 'move'). Other clients run between steps, so each member is checked again in the step
-- that moves it: one claimed, cancelled or scheduled again meanwhile is passed over (it
-- takes no slot), and an offered claim goes back only if its token still holds it.
-- KEYS: as respread_batch.lua
-- ARGV: 1 run id, 2 members per step, 3 the run's keys' ttl (ms), 4 wake channel
-- Returns {'more', moved, flags}, {'done', moved, flags}, or {'lost'} when the run is not
-- this one any more (its keys expired and another began).
local schedule, members, payloads = KEYS[1], KEYS[2], KEYS[3]
local leases, running, tokens, dues = KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local run, live, recent, offers = KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local budget = tonumber(ARGV[2])

--#include respread_due

if redis.call('HGET', run, 'id') ~= ARGV[1] then return {'lost'} end
local state = {}
local fields = redis.call('HGETALL', run)
for i = 1, #fields, 2 do state[fields[i]] = fields[i + 1] end
local start, spacing = tonumber(state.start), tonumber(state.spacing)
local threshold, moved = tonumber(state.threshold), tonumber(state.moved)
local flags, any_offers = state.flags, tonumber(state.offers) > 0

local function finish(status)
  redis.call('DEL', run, live, recent, offers)
  return {status, moved, flags}
end
-- Cancelled meanwhile (cancel_batch drops the list): nothing of the batch is left to move,
-- and writing the list again would bring back the index it dropped.
if redis.call('EXISTS', members) == 0 then return finish('done') end
for i = 9, 12 do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end

local PAGE = 1000  -- per command: unpack() has a limit, and a reply is built at once

local function offer_of(text)  -- 'position due token' (see respread_batch.lua)
  if not text then return nil end
  local position, due, token = string.match(text, '^(%d+) (%d+) (.*)$')
  return tonumber(position), token, tonumber(due)
end

local function read_page(from, to)  -- the members at [from, to) as keys and due texts
  local page = redis.call('LRANGE', members, from, to - 1)
  local keys, texts = {}, {}
  for i, member in ipairs(page) do
    local space = string.find(member, ' ', 1, true)
    texts[i] = string.sub(member, 1, space - 1)
    keys[i] = string.sub(member, space + 1)
  end
  return keys, texts
end

local cursor, last = tonumber(state.cursor), tonumber(state.last)
if state.phase == 'read' then
  local frontier = tonumber(state.frontier)
  local indexing = state.sorted == '0'  -- else: no index while the list is in due order
  local last_due, last_key = tonumber(state.last_due), state.last_key
  local first_due = tonumber(state.first_due)  -- the earliest live member, in due order
  -- The list position of the last live member less than `spacing` after the one before:
  -- past it, the walk stops at the first member it leaves in place (the rest keep theirs).
  local tight = tonumber(state.tight or 0)
  local stop = math.min(last, cursor + budget)
  -- ran[key]: true while the key's latest entry so far is one that ran without the
  -- re-spread, in [threshold, start] (see Store.respread_batch: such members are reserved);
  -- a later entry of the key clears it, in this step or (HDEL) in the hash of earlier ones.
  -- That hash and the docket's claims are small (a window's worth, a few per worker slot):
  -- read whole once per step, unless they are not.
  local ran, earlier = {}, nil
  if redis.call('HLEN', recent) <= budget then
    earlier = {}
    for _, key in ipairs(redis.call('HKEYS', recent)) do earlier[key] = true end
  end
  local claims = nil
  local function claimed_at(claimed, j, key)  -- the dues value of the key, if claimed
    if claims then return claims[key] end
    return claimed[j]
  end
  if redis.call('HLEN', dues) <= budget then
    claims = {}
    local all = redis.call('HGETALL', dues)
    for i = 1, #all, 2 do claims[all[i]] = all[i + 1] end
  end
  while cursor < stop do
    local keys, texts = read_page(cursor, math.min(stop, cursor + PAGE))
    if #keys == 0 then  -- (never: the list only grows while it exists)
      cursor = last
      break
    end
    local current = redis.call('ZMSCORE', schedule, unpack(keys))
    local claimed = claims == nil and redis.call('HMGET', dues, unpack(keys))
    local offered = any_offers and redis.call('HMGET', offers, unpack(keys)) or {}
    local zargs, later = {}, {}
    for j, key in ipairs(keys) do
      local due = tonumber(texts[j])
      local _, _, offered_due = offer_of(offered[j])
      local window = false
      -- An entry left behind by an earlier re-spread no longer matches and is passed over.
      if offered_due == due or (current[j] and tonumber(current[j]) == due) then
        if indexing then
          zargs[#zargs + 1] = texts[j]
          zargs[#zargs + 1] = key  -- a key listed twice at one time is indexed once
        elseif last_due and (due < last_due or (due == last_due and key < last_key)) then
          -- Out of due order: read again from the start, indexing this time.
          redis.call('DEL', recent, live)
          redis.call('HSET', run, 'cursor', 0, 'sorted', 0, 'frontier', state.start)
          return {'more', moved, flags}
        else
          if last_due and due - last_due < spacing then tight = cursor + j - 1 end
          last_due, last_key = due, key
          if first_due == nil then first_due = due end
        end
      elseif due > start and due_of(claimed_at(claimed, j, key)) == due then
        -- Claimed early, on an earlier re-spread's time: this run queues behind it.
        if due > frontier then frontier = due end
      else
        window = due >= threshold and due <= start
      end
      if window then
        ran[key] = true
      else
        if ran[key] then ran[key] = false end
        if earlier == nil then
          later[#later + 1] = key
        elseif earlier[key] then
          later[#later + 1] = key
          earlier[key] = nil
        end
      end
    end
    cursor = cursor + #keys
    if #zargs > 0 then redis.call('ZADD', live, unpack(zargs)) end
    if #later > 0 then redis.call('HDEL', recent, unpack(later)) end
  end
  local window = {}
  for key, flag in pairs(ran) do
    if flag then
      window[#window + 1] = key
      window[#window + 1] = '1'
      if #window >= 2 * PAGE then
        redis.call('HSET', recent, unpack(window))
        window = {}
      end
    end
  end
  if #window > 0 then redis.call('HSET', recent, unpack(window)) end
  if cursor < last then
    redis.call('HSET', run, 'cursor', cursor, 'frontier', string.format('%d', frontier))
    if not indexing and last_due then
      redis.call('HSET', run, 'last_due', string.format('%d', last_due), 'last_key', last_key,
        'first_due', string.format('%d', first_due), 'tight', tight)
    end
    return {'more', moved, flags}
  end
  -- Nothing of this batch overdue by more than the threshold: it is on time (or another
  -- worker re-spread it a moment ago), and moving it again would only delay it. (A claim
  -- handed back is always overdue, so this returns only when none was.)
  local earliest = first_due
  if indexing then earliest = tonumber(redis.call('ZRANGE', live, 0, 0, 'WITHSCORES')[2]) end
  if earliest == nil or earliest >= threshold then return finish('done') end
  -- Reading a large batch takes a while: if it took longer than `overdue` (only a batch
  -- read in several steps can), a plan timed from `start` would be more than `overdue`
  -- late the moment it is written, and its first tasks handed back again by whoever
  -- claims them. The plan then starts as much later as the reading took.
  local clock = redis.call('TIME')
  local reading = tonumber(clock[1]) * 1000000 + tonumber(clock[2]) - tonumber(state.began)
  if tonumber(state.cursor) > 0 and reading > tonumber(state.overdue) then
    start = start + reading
  end
  local reserved = redis.call('HLEN', recent)
  local previous = math.max(start + reserved * spacing, frontier)
  redis.call('DEL', recent)
  redis.call('HSET', run, 'phase', indexing and 'move' or 'walk', 'cursor', 0, 'tight', tight,
    'previous', string.format('%d', previous))
  return {'more', moved, flags}
end

local previous, push = tonumber(state.previous), tonumber(state.push)
local first = nil  -- the first new due time of a handed-back claim, for the wake-up
local zargs, margs = {}, {}
local function flush()
  if #zargs > 0 then
    -- Live members are on the schedule (checked in this same step) and handed-back claims
    -- are not: a plain ZADD serves both. The cancel index gets the new time appended; the
    -- old entry stops matching.
    redis.call('ZADD', schedule, unpack(zargs))
    redis.call('RPUSH', members, unpack(margs))
    zargs, margs = {}, {}
  end
end

-- Re-time `key` if it is still live at `old` (its score now: `score`; `offer`: its offered
-- claim, if any): 'moved', 'kept' (live, and its time stands) or nil (not live).
local function retime(key, old, score, offer)
  local position, token, offered_due = offer_of(offer)
  -- Checked again now: held by the token offered, not scheduled again, at this time.
  if not (offered_due == old and not score
      and redis.call('HGET', tokens, key) == token
      and due_of(redis.call('HGET', dues, key)) == old) then
    position = nil
  end
  if not (position or (score and tonumber(score) == old)) then return nil end
  local due = math.max(old, previous + spacing)
  if position then
    -- Off the lease and back on the schedule, with the payload the claim carried.
    redis.call('HSET', payloads, key, redis.call('HGET', running, key) or '')
    redis.call('ZREM', leases, key)
    redis.call('HDEL', running, key)
    redis.call('HDEL', tokens, key)
    redis.call('HDEL', dues, key)
    flags = string.sub(flags, 1, position - 1) .. '1' .. string.sub(flags, position + 1)
    if first == nil then first = due end
  end
  if due ~= old or position then
    local text = string.format('%d', due)
    moved = moved + 1
    if due - old > push then push = due - old end
    zargs[#zargs + 1] = text
    zargs[#zargs + 1] = key
    margs[#margs + 1] = text .. ' ' .. key
  end
  previous = due
  return (due ~= old or position) and 'moved' or 'kept'
end

if state.phase == 'walk' then
  -- The list again, in its (due) order, up to where the read stopped: what this run
  -- appends comes after. The list can name one schedule twice (a key scattered again at
  -- the same time after it was cancelled): the two are neighbours, and the second is
  -- passed over.
  local twice_due, twice_key = tonumber(state.twice_due), state.twice_key
  local tight = tonumber(state.tight or 0)
  local stop = math.min(last, cursor + budget)
  while cursor < stop do
    local keys, texts = read_page(cursor, math.min(stop, cursor + PAGE))
    if #keys == 0 then
      cursor = last
      break
    end
    local current = redis.call('ZMSCORE', schedule, unpack(keys))
    local offered = any_offers and redis.call('HMGET', offers, unpack(keys)) or {}
    local done = false
    for j, key in ipairs(keys) do
      local old = tonumber(texts[j])
      local outcome = nil
      if not (old == twice_due and key == twice_key) then
        outcome = retime(key, old, current[j], offered[j])
      end
      if outcome then twice_due, twice_key = old, key end
      -- Past the last crowded member, one left in place means all after it stay: each is
      -- at least `spacing` after the one before.
      if outcome == 'kept' and cursor + j - 1 > tight then
        done = true
        break
      end
    end
    cursor = done and last or cursor + #keys
    flush()
  end
  if twice_key then
    redis.call('HSET', run, 'twice_due', string.format('%d', twice_due), 'twice_key', twice_key)
  end
  redis.call('HSET', run, 'cursor', cursor)
else
  -- The head of the index, in due order (ties by key: a sorted set's own order).
  local left = budget
  while left > 0 do
    local head = redis.call('ZRANGE', live, 0, math.min(left, PAGE) - 1, 'WITHSCORES')
    if #head == 0 then break end
    local n = #head / 2
    left = left - n
    redis.call('ZREMRANGEBYRANK', live, 0, n - 1)
    local keys = {}
    for i = 1, n do keys[i] = head[2 * i - 1] end
    local current = redis.call('ZMSCORE', schedule, unpack(keys))
    local offered = any_offers and redis.call('HMGET', offers, unpack(keys)) or {}
    for i, key in ipairs(keys) do retime(key, tonumber(head[2 * i]), current[i], offered[i]) end
    flush()
  end
  cursor = redis.call('ZCARD', live) == 0 and last or 0
end

-- Kept longer by the furthest move, so the pushed-back tail can be cancelled for as long
-- after its new time as the original plan allowed; each step adds what its moves need.
local extend = math.ceil(push / 1000) - math.ceil(tonumber(state.push) / 1000)
local ttl = redis.call('PTTL', members)
if extend > 0 and ttl > 0 then
  redis.call('PEXPIRE', members, string.format('%d', ttl + extend))
  -- The listing follows the members (see commit_batch.lua).
  if KEYS[8] and redis.call('EXISTS', KEYS[8]) == 1 then
    redis.call('PEXPIRE', KEYS[8], string.format('%d', ttl + extend))
  end
end
-- Handed-back tasks are claimable again from `first`: a worker asleep until later would
-- otherwise start them late. Once per run: the first hand-back is the earliest.
if first and state.woken == '0' then
  redis.call('PUBLISH', ARGV[4], string.format('%d', first))
  redis.call('HSET', run, 'woken', 1)
end
redis.call('HSET', run, 'previous', string.format('%d', previous), 'moved', moved,
  'push', string.format('%d', push), 'flags', flags)
if cursor >= last then return finish('done') end
return {'more', moved, flags}
