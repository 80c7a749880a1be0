-- cancel: stops a job everywhere. 'drain' lets running items finish; 'abort' makes workers abort
-- them too. Queued items are dropped when a worker claims them, delayed ones when promoted and
-- claimed. The pub/sub message is only a wake-up for workers; the status is the truth.
-- KEYS: 1 job hash, 2 events stream, 3 run hash, 4 fin bitmap, 5 input hash
-- ARGV: 1 now (ms), 2 'drain' or 'abort', 3 reason, 4 control channel, 5 job id
-- Returns the job's status afterwards, or 'NOJOB'.
--@include finalize
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'NOJOB' end
if status == 'done' or status == 'cancelled' then return status end
local next = 'draining'
if ARGV[2] == 'abort' or status == 'aborting' then next = 'aborting' end
if next ~= status then
  redis.call('HSET', KEYS[1], 'status', next, 'reason', ARGV[3])
  redis.call('XADD', KEYS[2], '*', 'e', cjson.encode({{'X', next, ARGV[3]}}))
  redis.call('PUBLISH', ARGV[4], next .. ' ' .. ARGV[5])
end
sw_finalize(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1])
return redis.call('HGET', KEYS[1], 'status')
