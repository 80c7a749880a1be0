-- cancel-item: one item of a running job is given up (its HTTP client went away). It gets no
-- result: its fin bit is set, so a waiting entry drops it when claimed (a retry too, when
-- promoted and claimed), and a worker running it has its result refused. A wake-up on the
-- control channel tells the worker running it to abort it now. It counts as dropped, so the job
-- still ends once the rest is settled.
-- KEYS: 1 job hash, 2 events stream, 3 run hash, 4 fin bitmap, 5 input hash
-- ARGV: 1 item index, 2 now (ms), 3 control channel, 4 job id
-- Returns 1 if the item was given up, 0 if it had its final result already or the job is over
-- (or stopping at once: every item is being aborted anyway).
--@include finalize
local job, ev, run, fin, input = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local status = redis.call('HGET', job, 'status')
if status ~= 'running' and status ~= 'draining' then return 0 end
if redis.call('SETBIT', fin, ARGV[1], 1) == 1 then return 0 end
redis.call('HINCRBY', job, 'dropped', 1)
redis.call('PUBLISH', ARGV[3], 'item ' .. ARGV[4] .. ' ' .. ARGV[1])
sw_finalize(job, ev, run, fin, input, ARGV[2])
return 1
