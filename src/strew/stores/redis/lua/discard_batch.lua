-- Drop a batch's stage unless it was committed (a committed batch is merged whole, by its
-- producer or by the workers; a producer stopped mid-merge must not cut it short).
-- KEYS: 1 stage (hash), 2 merge queue (list: exists once committed)
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
return redis.call('UNLINK', KEYS[1])
