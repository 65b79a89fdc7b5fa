-- Remove a strike rule, bump the version, and put every held task back on the schedule.
-- KEYS: 1 rules, 2 version, 3 held (zset key -> due), 4 held payloads (hash key -> payload),
--       5 schedule, 6 payloads
-- ARGV: 1 the rule, 2 wake channel
-- Returns {new version, how many held tasks went back on the schedule}.
local rules, version, held, held_payloads, schedule, payloads = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
redis.call('SREM', rules, ARGV[1])
local now_version = redis.call('INCR', version)
local head = redis.call('ZRANGE', schedule, 0, 0, 'WITHSCORES')
local restored, first = 0, nil
local all = redis.call('ZRANGE', held, 0, -1, 'WITHSCORES')
for i = 1, #all, 2 do
  local key, due = all[i], all[i + 1]
  -- A key scheduled again while it was held keeps its newer schedule.
  if not redis.call('ZSCORE', schedule, key) then
    redis.call('ZADD', schedule, due, key)
    redis.call('HSET', payloads, key, redis.call('HGET', held_payloads, key))
    restored = restored + 1
    if first == nil or tonumber(due) < first then first = tonumber(due) end
  end
end
redis.call('DEL', held, held_payloads)
if first ~= nil and (not head[2] or first < tonumber(head[2])) then
  redis.call('PUBLISH', ARGV[2], string.format('%d', first))
end
return {now_version, restored}
