-- create-job: registers a job, idempotently (a second call with the same id changes nothing).
-- KEYS: 1 job hash, 2 jobs zset, 3 job events stream
-- ARGV: 1 job id, 2 now (ms), 3 total (-1 if not known yet), 4 ttl (ms) of the finished job's
--       keys, 5 retries, 6 spec (JSON), 7 submitter, 8 results path
-- Returns 'created', or the status of the job that exists already.
local status = redis.call('HGET', KEYS[1], 'status')
if status then return status end
redis.call('HSET', KEYS[1], 'status', 'running', 'total', ARGV[3], 'enq', 0, 'n', 0, 'done', 0, 'failed', 0,
  'created', ARGV[2], 'ttl', ARGV[4], 'retries', ARGV[5], 'spec', ARGV[6], 'submitter', ARGV[7], 'out', ARGV[8])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if tonumber(ARGV[3]) >= 0 then
  redis.call('XADD', KEYS[3], '*', 'e', cjson.encode({{'T', tonumber(ARGV[3])}}))
end
return 'created'
