-- Acknowledge claims; each may put its task back on the schedule in the same step.
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 running, 5 tokens, 6 dues,
--       7 ended chains (hash key -> when its automatic chain ended on purpose),
--       then per finish: its record key and its progress key
-- ARGV: 1 wake channel, then key, token, reschedule due ("" for none), reschedule payload,
--       record ("" for none), record ttl (ms), "1" when the run ended its chain (else "")
-- Returns a string with one '1' or '0' per finish: 0 when the token no longer held the lease.
local schedule, payloads, leases, running, tokens, dues = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local done = {}
local n = 0
local now = nil
for i = 2, #ARGV, 7 do
  local key, token, due = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local record_key, progress_key = KEYS[8 + n * 2], KEYS[9 + n * 2]
  n = n + 1
  if redis.call('HGET', tokens, key) ~= token then
    done[#done + 1] = '0'
  else
    redis.call('ZREM', leases, key)
    redis.call('HDEL', running, key)
    redis.call('HDEL', tokens, key)
    redis.call('HDEL', dues, key)
    done[#done + 1] = '1'
    if ARGV[i + 4] ~= '' then
      -- What the run left behind, and its progress, stay readable for the same time.
      redis.call('SET', record_key, ARGV[i + 4], 'PX', ARGV[i + 5])
      redis.call('PEXPIRE', progress_key, ARGV[i + 5])
    else
      redis.call('DEL', progress_key)
    end
    local waiting = redis.call('ZSCORE', schedule, key)
    if waiting then
      -- A newer schedule of this key was held back by this run; it may go now.
      redis.call('PUBLISH', ARGV[1], waiting)
    elseif due ~= '' then
      local head = redis.call('ZRANGE', schedule, 0, 0, 'WITHSCORES')
      redis.call('ZADD', schedule, due, key)
      redis.call('HSET', payloads, key, ARGV[i + 3])
      if not head[2] or tonumber(due) < tonumber(head[2]) then
        redis.call('PUBLISH', ARGV[1], due)
      end
    elseif ARGV[i + 6] == '1' then
      if now == nil then
        local t = redis.call('TIME')
        now = string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2]))
      end
      redis.call('HSET', KEYS[7], key, now)
    end
  end
end
-- One character per item ('1' or '0'): a single string parses far faster than an array.
return table.concat(done)
