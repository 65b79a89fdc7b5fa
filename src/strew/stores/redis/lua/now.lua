-- The clock of the node that holds KEYS[1] (in a Cluster: the node owning the docket's slot,
-- the same clock claim.lua reads). Returns {seconds, microseconds}.
return redis.call('TIME')
