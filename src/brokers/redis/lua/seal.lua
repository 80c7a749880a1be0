-- seal: the submitter has enqueued every item: the job's total is what was enqueued, and the job
-- may be complete already.
-- KEYS: 1 job hash, 2 events stream, 3 run hash, 4 fin bitmap, 5 input hash
-- ARGV: 1 now (ms)
-- Returns the job's status after sealing, or 'NOJOB'.
--@include finalize
local st = redis.call('HMGET', KEYS[1], 'status', 'n', 'total')
if not st[1] then return 'NOJOB' end
if st[3] ~= st[2] then
  redis.call('HSET', KEYS[1], 'total', st[2])
  redis.call('XADD', KEYS[2], '*', 'e', cjson.encode({{'T', tonumber(st[2])}}))
end
sw_finalize(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1])
return redis.call('HGET', KEYS[1], 'status')
