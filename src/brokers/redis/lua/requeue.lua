-- requeue: puts the entries a worker holds back in the work stream, as new entries with the
-- next attempt number, and acknowledges and deletes the old ones. Used by the reaper for a
-- worker whose heartbeat expired ('reclaim': counts against the item's reclaim limit) and by a
-- worker that stops and hands its items back ('handback': free). The old entry id no longer
-- matches the run hash, so anything its worker still sends is rejected.
-- KEYS: 1 items stream, 2 job hash, 3 events stream, 4 run hash, 5 fin bitmap, 6 dead-letter stream
-- ARGV: 1 consumer holding the entries, 2 group, 3 now (ms), 4 'reclaim' or 'handback',
--       5 most reclaims per item, 6 reason, then entry ids (all of this job)
-- Returns the number of entries requeued or settled.
--@include finalize
local items, job, ev, run, fin, dlq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local from, group, now, mode, maxReclaims, reason = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
local status = redis.call('HGET', job, 'status')
local events, moved, failedN, settled = {}, 0, 0, false
for n = 7, #ARGV do
  local id = ARGV[n]
  if #redis.call('XPENDING', items, group, id, id, 1, from) == 1 then
    local entry = redis.call('XRANGE', items, id, id)
    if #entry == 1 then
      local f = {}
      local kv = entry[1][2]
      for k = 1, #kv, 2 do f[kv[k]] = kv[k + 1] end
      local started = redis.call('HGET', run, f.i) == id
      if started then
        redis.call('HDEL', run, f.i)
        settled = true
      end
      local a, r = tonumber(f.a), tonumber(f.r)
      if started and mode == 'reclaim' then r = r + 1 end
      if r > maxReclaims then
        if redis.call('SETBIT', fin, f.i, 1) == 0 then
          failedN = failedN + 1
          local err = reason .. ' (' .. r .. ' times: the item may be killing its workers)'
          events[#events + 1] = cjson.encode({'f', tonumber(f.i), f.k, a, err, from, 0, false, 0, f.p})
          redis.call('XADD', dlq, 'MAXLEN', '~', 10000, '*', 'j', f.j, 'i', f.i, 'p', f.p, 'e', err, 'w', from, 't', now)
        end
        settled = true
      elseif status == 'running' then
        local nextA = a
        if started then
          nextA = a + 1
          events[#events + 1] = cjson.encode({'r', tonumber(f.i), f.k, a, reason, 0, false})
        end
        redis.call('XADD', items, '*', 'j', f.j, 'i', f.i, 'k', f.k, 'a', tostring(nextA), 'c', f.c, 'r', tostring(r), 'p', f.p, 'q', f.q)
      end
      moved = moved + 1
    end
    redis.call('XACK', items, group, id)
    redis.call('XDEL', items, id)
  end
end
if failedN > 0 then redis.call('HINCRBY', job, 'failed', failedN) end
if #events > 0 then redis.call('XADD', ev, '*', 'e', '[' .. table.concat(events, ',') .. ']') end
if settled then sw_finalize(job, ev, run, fin, now) end
return moved
