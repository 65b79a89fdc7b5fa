-- Acknowledge claims; each may put its task back on the schedule in the same step.
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 running, 5 tokens, 6 dues,
--       7 ended chains (hash key -> when its automatic chain ended on purpose),
--       8 failures, 9 failure notes, 10 failure payloads (see failure_record.lua),
--       then per finish: its record key and its progress key
-- ARGV: 1 wake channel, then key, token, reschedule due ("" for none), reschedule payload,
--       record ("" for none), record ttl (ms), "1" when the run ended its chain (else ""),
--       failure note ("" when the run did not fail), failures kept, failure max age (us)
-- Returns a string with one '1' or '0' per finish: 0 when the token no longer held the lease.
--#include failure_record
local schedule, payloads, leases, running, tokens, dues = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local failures, notes, failure_payloads = KEYS[8], KEYS[9], KEYS[10]
local done = {}
local n = 0
local now = nil
local function clock()
  if now == nil then
    local t = redis.call('TIME')
    now = string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2]))
  end
  return now
end
for i = 2, #ARGV, 10 do
  local key, token, due = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local record_key, progress_key = KEYS[11 + n * 2], KEYS[12 + n * 2]
  n = n + 1
  if redis.call('HGET', tokens, key) ~= token then
    done[#done + 1] = '0'
  else
    if ARGV[i + 7] ~= '' then
      -- In the same step as the acknowledgement: never an ack without its failure, nor
      -- the reverse.
      record_failure(failures, notes, failure_payloads, key, clock(), ARGV[i + 7],
        redis.call('HGET', running, key) or '', ARGV[i + 8], ARGV[i + 9])
    else
      clear_failure(failures, notes, failure_payloads, key)
    end
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
      redis.call('HSET', KEYS[7], key, clock())
    end
  end
end
-- One character per item ('1' or '0'): a single string parses far faster than an array.
return table.concat(done)
