-- cancel-item: one item of a running job is given up (its HTTP client went away). It gets no
-- result: its fin bit is set (a waiting entry is then dropped when claimed, a retry when
-- promoted and claimed) and its fence removed (the worker running it has its reports rejected
-- and aborts it). It counts as dropped, so the job still ends once the rest is settled.
-- KEYS: 1 job hash, 2 events stream, 3 run hash, 4 fin bitmap
-- ARGV: 1 item index, 2 now (ms)
-- Returns 1 if the item was given up, 0 if it had its final result already.
--@include finalize
local job, ev, run, fin = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('SETBIT', fin, ARGV[1], 1) == 1 then return 0 end
redis.call('HINCRBY', job, 'dropped', 1)
redis.call('HDEL', run, ARGV[1])
sw_finalize(job, ev, run, fin, ARGV[2])
return 1
