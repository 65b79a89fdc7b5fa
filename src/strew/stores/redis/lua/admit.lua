-- Decide whether a claimed task may run now under its admission controls (see
-- AdmissionStore.admit), and settle it when it may not run yet.
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 running, 5 tokens, 6 dues, 7 limits index (set of
--       the concurrency limits' base keys), then two keys per gate: concurrency: slots (zset
--       holder -> when it took the slot), waiters (zset holder -> the due time it had when it began to wait);
--       rate: the log (zset "key@due" -> start time) twice; cooldown: the string ("key@due" of the run that began it)
--       twice; debounce: the hash (winner, last) twice
-- ARGV: 1 key, 2 token, 3 holder ("docket\nkey"), 4 lease (us), 5 wake channel, then per
--       gate: kind, limit, window (us), drop ("1" or ""), base key (for the index)
-- Returns {verdict, index of the deciding gate (0-based, -1 for none), until (us)}.
-- Holders (see holders.lua) reach other dockets' keys only for a scope on a standalone Redis:
-- on a Cluster a scope's keys carry the docket's hash tag and its holders are all of it.
local schedule, payloads, leases, running, tokens, dues = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local index = KEYS[7]
local key, token, holder, lease, wake = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local nowstr = string.format('%d', now)

if redis.call('HGET', tokens, key) ~= token then return {'lost', -1, '0'} end
local due = redis.call('HGET', dues, key) or '0'
local space = string.find(due, ' ', 1, true)
if space then due = string.sub(due, 1, space - 1) end

--#include holders
local WEEK = 604800000
-- A waiting task that leaves the line (dropped or put back by another gate) frees what it
-- was owed: the first waiting tasks that the free slots belong to are brought forward.
local function leave_line(slots, waiters, limit)
  if redis.call('ZREM', waiters, holder) == 1 then wake_owed(slots, waiters, limit) end
end

local n = (#ARGV - 5) / 5
local function gate(i)
  local a = 5 + (i - 1) * 5
  return ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), ARGV[a + 4] == '1', ARGV[a + 5], KEYS[6 + i * 2], KEYS[7 + i * 2]
end
local function ms(us) return math.max(1, math.ceil(us / 1000)) end

local verdict, decider, untilv = nil, -1, 0
local winner_state = nil  -- the debounce state this run, its winner, clears if it runs

-- 1. debounce: the first claim wins and waits for quiet; later ones push the quiet back.
for i = 1, n do
  local kind, limit, window, drop, base, k1 = gate(i)
  if kind == 'debounce' and verdict == nil then
    local state = redis.call('HMGET', k1, 'winner', 'last')
    local ttl = ms(window * 2 + 60000000)
    if not state[1] then
      redis.call('HSET', k1, 'winner', holder, 'last', nowstr)
      redis.call('PEXPIRE', k1, ttl)
      verdict, decider, untilv = 'defer', i - 1, now + window
    elseif state[1] ~= holder and not still_waiting(state[1]) then
      -- The winner is gone (cancelled, or held by a strike): this claim takes its place.
      redis.call('HSET', k1, 'winner', holder, 'last', nowstr)
      redis.call('PEXPIRE', k1, ttl)
      verdict, decider, untilv = 'defer', i - 1, now + window
    elseif state[1] ~= holder then
      redis.call('HSET', k1, 'last', nowstr)
      redis.call('PEXPIRE', k1, ttl)
      verdict, decider = 'drop', i - 1
    else
      local quiet = tonumber(state[2]) + window
      if now < quiet then
        verdict, decider, untilv = 'defer', i - 1, quiet
      else
        winner_state = k1
      end
    end
  end
end

-- 2. cooldown: another run (another key, or a later run of this key) began within the window.
local member = key .. '@' .. due
if verdict == nil then
  for i = 1, n do
    local kind, limit, window, drop, base, k1 = gate(i)
    if kind == 'cooldown' then
      local began = redis.call('GET', k1)
      if began and began ~= member then
        verdict, decider = 'drop', i - 1
        break
      end
    end
  end
end

-- 3. rate: at most `limit` starts in any window.
if verdict == nil then
  local latest, latest_gate = nil, -1
  for i = 1, n do
    local kind, limit, window, drop, base, k1 = gate(i)
    if kind == 'rate' then
      redis.call('ZREMRANGEBYSCORE', k1, '-inf', string.format('%d', now - window))
      if not redis.call('ZSCORE', k1, member) and redis.call('ZCARD', k1) >= limit then
        if drop then
          verdict, decider = 'drop', i - 1
          break
        end
        local oldest = redis.call('ZRANGE', k1, 0, 0, 'WITHSCORES')
        local at = math.max(tonumber(oldest[2]) + window, now + 1)
        if latest == nil or at > latest then latest, latest_gate = at, i - 1 end
      end
    end
  end
  if verdict == nil and latest ~= nil then verdict, decider, untilv = 'defer', latest_gate, latest end
end

-- 4. concurrency: a free slot that no waiting task ahead is owed.
if verdict == nil then
  for i = 1, n do
    local kind, limit, window, drop, base, slots, waiters = gate(i)
    if kind == 'concurrency' then
      local mine, used, earliest = false, 0, nil
      for _, h in ipairs(redis.call('ZRANGE', slots, 0, -1)) do
        if h == holder then
          mine = true
        else
          local deadline = live_until(h)
          if deadline then
            used = used + 1
            if earliest == nil or deadline < earliest then earliest = deadline end
          else
            redis.call('ZREM', slots, h)  -- its run ended or its worker died: the slot is free
          end
        end
      end
      if not mine then
        local free = limit - used
        local ahead, owed = 0, {}
        if free > 0 then
          local offset, reached = 0, false
          while not reached and ahead < free do
            local page = redis.call('ZRANGE', waiters, offset, offset + 31)
            if #page == 0 then break end
            local removed = 0
            for _, h in ipairs(page) do
              if h == holder then reached = true break end
              if still_waiting(h) then
                ahead = ahead + 1
                owed[#owed + 1] = h
                if ahead >= free then break end
              else
                redis.call('ZREM', waiters, h)
                removed = removed + 1
              end
            end
            offset = offset + #page - removed
          end
        end
        if free <= 0 or ahead >= free then
          redis.call('ZADD', waiters, 'NX', due, holder)
          redis.call('PEXPIRE', waiters, WEEK)
          redis.call('SADD', index, base)
          for _, h in ipairs(owed) do bring_forward(h) end
          local rank = redis.call('ZRANK', waiters, holder) or 0
          local from = earliest or now
          untilv = math.max(from, now + 1) + math.floor(rank / limit) * lease
          if earliest == nil then untilv = untilv + lease end
          verdict, decider = 'wait', i - 1
          break
        end
      end
    end
  end
end

if verdict == nil then
  -- Every gate passed: record the run in each.
  for i = 1, n do
    local kind, limit, window, drop, base, k1, k2 = gate(i)
    if kind == 'cooldown' then
      redis.call('SET', k1, member, 'PX', ms(window))
    elseif kind == 'rate' then
      redis.call('ZADD', k1, nowstr, member)
      redis.call('PEXPIRE', k1, ms(window * 2))
    elseif kind == 'concurrency' then
      redis.call('ZADD', k1, 'NX', nowstr, holder)
      redis.call('PEXPIRE', k1, WEEK)
      redis.call('ZREM', k2, holder)
      if redis.call('ZCARD', k2) == 0 then redis.call('DEL', k2) end
      redis.call('SADD', index, base)
    end
  end
  if winner_state then redis.call('DEL', winner_state) end
  return {'run', -1, '0'}
end

if verdict ~= 'wait' then
  for i = 1, n do
    local kind, limit, window, drop, base, slots, waiters = gate(i)
    if kind == 'concurrency' then leave_line(slots, waiters, limit) end
  end
end

if verdict == 'drop' then
  if winner_state then redis.call('DEL', winner_state) end  -- the winner never runs: start afresh
  return {'drop', decider, '0'}
end

-- defer or wait: from the lease back onto the schedule, unless a newer schedule of the key
-- came meanwhile (it stands, and this run is superseded).
local payload = redis.call('HGET', running, key) or ''
redis.call('ZREM', leases, key)
redis.call('HDEL', tokens, key)
redis.call('HDEL', dues, key)
redis.call('HDEL', running, key)
local untilstr = string.format('%d', untilv)
if not redis.call('ZSCORE', schedule, key) then
  local head = redis.call('ZRANGE', schedule, 0, 0, 'WITHSCORES')
  redis.call('ZADD', schedule, untilstr, key)
  redis.call('HSET', payloads, key, payload)
  if not head[2] or untilv < tonumber(head[2]) then redis.call('PUBLISH', wake, untilstr) end
end
return {verdict, decider, untilstr}
