-- One bounded step of removing what is left of a batch from the schedule, and forgetting it.
-- The first step (offset 0) also drops a stage still being written (its commit then fails
-- instead of writing) and the part of a committed batch not merged yet, and marks a listed
-- batch cancelled; each step then reads at most ARGV[2] members, from ARGV[1] on; the last
-- deletes the members. Between steps other clients run: a member claimed meanwhile has
-- started (as it would have before a one-step cancel).
-- KEYS: 1 schedule, 2 payloads, 3 members (list of 'due key' strings), 4 stage (hash),
--       5 merge queue, 6 merging (zset), 7 the batch's descriptor (hash; absent for a batch
--       not listed)
-- ARGV: 1 offset, 2 members per step, 3 batch id
-- Returns {scheduled tasks removed by this step, the next offset or -1 when done}.
local schedule, payloads, members = KEYS[1], KEYS[2], KEYS[3]
local offset, step = tonumber(ARGV[1]), tonumber(ARGV[2])
local PAGE = 1000
if offset == 0 then
  redis.call('UNLINK', KEYS[4], KEYS[5])
  redis.call('ZREM', KEYS[6], ARGV[3])
  -- A listed batch stays listed, marked, until its descriptor expires as the members would.
  if KEYS[7] and redis.call('EXISTS', KEYS[7]) == 1 then
    local t = redis.call('TIME')
    redis.call('HSET', KEYS[7], 'cancelled',
      string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2])))
  end
end
local removed = 0
local stop = math.min(redis.call('LLEN', members), offset + step)
for low = offset, stop - 1, PAGE do
  local page = redis.call('LRANGE', members, low, math.min(low + PAGE, stop) - 1)
  local keys, dues = {}, {}
  for i, member in ipairs(page) do
    local space = string.find(member, ' ', 1, true)
    dues[i] = string.sub(member, 1, space - 1)
    keys[i] = string.sub(member, space + 1)
  end
  local current = redis.call('ZMSCORE', schedule, unpack(keys))
  local doomed = {}
  for j, key in ipairs(keys) do
    -- Only the schedule this batch wrote: a key scheduled again since at another time (a
    -- replace, a retry) belongs to someone else now.
    if current[j] and tonumber(current[j]) == tonumber(dues[j]) then
      doomed[#doomed + 1] = key
    end
  end
  if #doomed > 0 then
    removed = removed + redis.call('ZREM', schedule, unpack(doomed))
    redis.call('HDEL', payloads, unpack(doomed))
  end
end
if stop >= redis.call('LLEN', members) then
  redis.call('UNLINK', members)
  return {removed, -1}
end
return {removed, stop}
