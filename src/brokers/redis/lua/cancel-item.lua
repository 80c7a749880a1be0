-- cancel-item: one item of a running job is given up (its HTTP client went away). It gets no
-- result: its fin bit is set (a waiting entry is then dropped when claimed, a retry when
-- promoted and claimed). If a worker runs it, its entry is acknowledged and deleted and its
-- fence removed (the worker's reports for it are rejected), and a wake-up tells that worker to
-- abort it now. It counts as dropped, so the job still ends once the rest is settled.
-- KEYS: 1 job hash, 2 events stream, 3 run hash, 4 fin bitmap, 5 items stream
-- ARGV: 1 item index, 2 now (ms), 3 group, 4 control channel
-- Returns 1 if the item was given up, 0 if it had its final result already or the job is over
-- (or stopping at once: every item is being aborted anyway).
--@include finalize
local job, ev, run, fin, items = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local status = redis.call('HGET', job, 'status')
if status ~= 'running' and status ~= 'draining' then return 0 end
if redis.call('SETBIT', fin, ARGV[1], 1) == 1 then return 0 end
redis.call('HINCRBY', job, 'dropped', 1)
local entry = redis.call('HGET', run, ARGV[1])
if entry then
  redis.call('HDEL', run, ARGV[1])
  redis.call('XACK', items, ARGV[3], entry)
  redis.call('XDEL', items, entry)
  redis.call('PUBLISH', ARGV[4], 'item ' .. entry)
end
sw_finalize(job, ev, run, fin, ARGV[2])
return 1
