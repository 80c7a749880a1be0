-- heartbeat: a worker says it is alive, with its figures. The worker hash expires unless renewed:
-- its absence is what the reaper reads as death.
-- KEYS: 1 workers zset, 2 worker hash
-- ARGV: 1 worker name, 2 now (ms), 3 ttl (ms), then field, value pairs
-- Returns 1 if the heartbeat was still alive, 0 if it had expired (the worker may have been reaped).
local alive = redis.call('EXISTS', KEYS[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return alive
