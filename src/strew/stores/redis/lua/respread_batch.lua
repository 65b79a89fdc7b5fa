-- Begin a re-spread of a batch that fell behind (see Store.respread_batch): the first of its
-- bounded steps. It checks the claims offered back, takes the fast path when nothing can be
-- overdue, and otherwise opens the run that respread_step.lua carries out page by page.
-- KEYS: 1 schedule, 2 members (list of 'due key' strings, the cancel index), 3 payloads,
--       4 leases, 5 running, 6 tokens, 7 dues, 8 the batch's descriptor (hash, if listed),
--       9 the run (hash), 10 its index of live members (zset), 11 its members that ran
--       without it (hash), 12 its offered claims (hash)
-- ARGV: 1 start (us), 2 spacing (us), 3 overdue (us), 4 wake channel, 5 run id, 6 the run's
--       keys' ttl (ms), then key, token pairs of the claims offered back
-- Returns {'done', moved, flags} when nothing is to move, {'busy'} while another run of this
-- batch is under way (the caller waits for it), or {'run'}: step the run with respread_step.
local schedule, members, dues = KEYS[1], KEYS[2], KEYS[7]
local run, live, recent, offers = KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local start, spacing, overdue = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local threshold = start - overdue

--#include respread_due

-- The claims that may come back: still held by the token offered, not scheduled again
-- meanwhile, and overdue enough. Whether the batch gave the key that due time is seen while
-- reading the members, and all of it is checked again when the claim is handed back.
-- offered: key -> 'position due token' (the token last: a worker's name may hold spaces)
local flags, offered = {}, {}
local offers_count = 0
for i = 7, #ARGV, 2 do
  local key, token = ARGV[i], ARGV[i + 1]
  flags[#flags + 1] = '0'
  if offered[key] == nil and redis.call('HGET', KEYS[6], key) == token
      and not redis.call('ZSCORE', schedule, key) then
    local due = due_of(redis.call('HGET', dues, key))
    if due and due < threshold then
      offered[key] = string.format('%d %d %s', #flags, due, token)
      offers_count = offers_count + 1
    end
  end
end

-- Nothing offered, nothing in the whole docket overdue by more than the threshold: no need to
-- read the batch. This is the common case (a batch re-spread already, workers on time) and
-- costs one lookup.
if offers_count == 0 and #redis.call('ZRANGEBYSCORE', schedule, '-inf',
    '(' .. string.format('%d', threshold), 'LIMIT', 0, 1) == 0 then
  return {'done', 0, table.concat(flags)}
end
local count = redis.call('LLEN', members)
if count == 0 then return {'done', 0, table.concat(flags)} end  -- unknown, or cancelled
-- One run of a batch at a time: a second would read members the first is moving.
if redis.call('EXISTS', run) == 1 then return {'busy'} end

redis.call('DEL', live, recent, offers)  -- what a run that lost its driver left, if anything
local pairs_ = {}
for key, offer in pairs(offered) do
  pairs_[#pairs_ + 1] = key
  pairs_[#pairs_ + 1] = offer
end
if #pairs_ > 0 then redis.call('HSET', offers, unpack(pairs_)) end
-- Only the members listed now are read: what a run appends (and a streamed scatter's later
-- chunks) comes after `last`.
local clock = redis.call('TIME')
redis.call('HSET', run, 'id', ARGV[5], 'start', ARGV[1], 'spacing', ARGV[2],
  'overdue', ARGV[3], 'began', clock[1] .. string.format('%06d', tonumber(clock[2])),
  'threshold', string.format('%d', threshold), 'cursor', 0, 'last', count,
  'phase', 'read', 'sorted', 1, 'frontier', ARGV[1], 'offers', offers_count,
  'flags', table.concat(flags),
  'moved', 0, 'push', 0, 'woken', 0)
for i = 9, 12 do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
return {'run'}
