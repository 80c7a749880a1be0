-- Ends a job when nothing is left to do: every item has its final result (done), or the job was
-- stopped and none of its items is running any more (cancelled). Every path that settles or
-- drops an item calls it, the dead-letter path included, so a job always reaches its end.
-- Expects the job's keys: the hash, the events stream, the run hash, the fin bitmap and the
-- input hash (the payloads: nothing needs them once the job is over).
local function sw_finalize(jobKey, evKey, runKey, finKey, inKey, now)
  local st = redis.call('HMGET', jobKey, 'status', 'total', 'done', 'failed', 'ttl', 'reason', 'n', 'dropped')
  local status = st[1]
  if not status or status == 'done' or status == 'cancelled' then return false end
  local total = tonumber(st[2]) or -1
  local done = tonumber(st[3]) or 0
  local failed = tonumber(st[4]) or 0
  local final
  -- Items given up one by one (cancel-item) have no result and are not waited for.
  local dropped = tonumber(st[8]) or 0
  if total >= 0 and done + failed + dropped >= total then
    final = 'done'
  elseif status ~= 'running' and redis.call('HLEN', runKey) == 0 then
    final = 'cancelled'
  else
    return false
  end
  redis.call('HSET', jobKey, 'status', final, 'finished', now)
  if total < 0 then total = tonumber(st[7]) or 0 end
  redis.call('XADD', evKey, '*', 'e', cjson.encode({{'J', final, st[6] or '', total, done, failed}}))
  redis.call('DEL', inKey)
  local ttl = tonumber(st[5]) or 0
  if ttl > 0 then
    redis.call('PEXPIRE', jobKey, ttl)
    redis.call('PEXPIRE', evKey, ttl)
    redis.call('PEXPIRE', finKey, ttl)
    redis.call('DEL', runKey)
  end
  return true
end
