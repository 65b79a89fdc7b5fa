-- Everything known about one task key, in one atomic read.
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 running, 5 tokens, 6 record, 7 progress,
--       8 held (zset key -> due), 9 held payloads, 10 dues
-- Returns {now, due or "", payload or "", lease deadline or "", token or "",
--          running payload or "", record or "", progress fields (flat list),
--          held due or "", held payload or "", claimed at or ""}
local t = redis.call('TIME')
local now = string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2]))
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
local deadline = redis.call('ZSCORE', KEYS[3], ARGV[1])
local held = redis.call('ZSCORE', KEYS[8], ARGV[1])
local out = {now, due or '', '', deadline or '', '', '', redis.call('GET', KEYS[6]) or ''}
if due then out[3] = redis.call('HGET', KEYS[2], ARGV[1]) or '' end
if deadline then
  out[5] = redis.call('HGET', KEYS[5], ARGV[1]) or ''
  out[6] = redis.call('HGET', KEYS[4], ARGV[1]) or ''
end
out[8] = redis.call('HGETALL', KEYS[7])
out[9] = held or ''
out[10] = held and (redis.call('HGET', KEYS[9], ARGV[1]) or '') or ''
local claimed = ''
if deadline then
  -- "<due> <claimed at>": the claim time ("" when an older version wrote only the due time)
  local value = redis.call('HGET', KEYS[10], ARGV[1]) or ''
  local space = string.find(value, ' ', 1, true)
  if space then claimed = string.sub(value, space + 1) end
end
out[11] = claimed
return out
