-- forget-worker: removes a dead worker's consumer from the group once it holds no entries (its
-- pending entries would become unclaimable otherwise). Its row in the workers zset stays, so the
-- dashboard can show it as dead, until it is older than the cutoff.
-- KEYS: 1 items stream, 2 workers zset, 3 worker hash
-- ARGV: 1 group, 2 worker name, 3 cutoff (ms): workers last seen before it leave the zset
-- Returns 1 if the consumer was deleted.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
