-- How many tasks are held, and the earliest of them.
-- KEYS: 1 held (zset key -> due), 2 held payloads
-- ARGV: 1 limit
-- Returns {count, {key, due, payload, ...}}
local limit = tonumber(ARGV[1])
local listed = {}
if limit > 0 then
  local head = redis.call('ZRANGE', KEYS[1], 0, limit - 1, 'WITHSCORES')
  for i = 1, #head, 2 do
    listed[#listed + 1] = head[i]
    listed[#listed + 1] = head[i + 1]
    listed[#listed + 1] = redis.call('HGET', KEYS[2], head[i]) or ''
  end
end
return {redis.call('ZCARD', KEYS[1]), listed}
