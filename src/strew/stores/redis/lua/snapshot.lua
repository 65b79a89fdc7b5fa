-- A consistent picture of one docket, but for its scheduled tasks past the first page
-- (`Store.snapshot` reads those with snapshot_page.lua).
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 running, 5 tokens, 6 workers (zset name -> expiry),
--       7 seen (hash name -> last heartbeat), 8 quarantine (hash), 9 dues (of running tasks)
-- ARGV: 1 how many scheduled tasks to return (at most a page: the caller bounds it)
-- Returns {now, scheduled total, {key, due, payload, ...},
--          {key, token, deadline, payload, claimed at or "", ...},
--          {worker, last seen, ...}, quarantined count}
local schedule, payloads, leases, running, tokens, workers = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])

local scheduled = {}
if limit > 0 then
  local head = redis.call('ZRANGE', schedule, 0, limit - 1, 'WITHSCORES')
  for i = 1, #head, 2 do
    scheduled[#scheduled + 1] = head[i]
    scheduled[#scheduled + 1] = head[i + 1]
    scheduled[#scheduled + 1] = redis.call('HGET', payloads, head[i]) or ''
  end
end

local held = {}
local all = redis.call('ZRANGE', leases, 0, -1, 'WITHSCORES')
for i = 1, #all, 2 do
  held[#held + 1] = all[i]
  held[#held + 1] = redis.call('HGET', tokens, all[i]) or ''
  held[#held + 1] = all[i + 1]
  held[#held + 1] = redis.call('HGET', running, all[i]) or ''
  -- "<due> <claimed at>"; only the claim time is wanted ("" when an older version wrote it)
  local value = redis.call('HGET', KEYS[9], all[i]) or ''
  local space = string.find(value, ' ', 1, true)
  held[#held + 1] = space and string.sub(value, space + 1) or ''
end

redis.call('ZREMRANGEBYSCORE', workers, '-inf', now)
local live = {}
local names = redis.call('ZRANGE', workers, 0, -1)
for _, name in ipairs(names) do
  live[#live + 1] = name
  live[#live + 1] = redis.call('HGET', KEYS[7], name) or '0'
end
return {string.format('%d', now), redis.call('ZCARD', schedule), scheduled, held, live,
        redis.call('HLEN', KEYS[8])}
