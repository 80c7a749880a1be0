-- requeue: puts the entries a worker holds back in the work stream, and acknowledges and deletes
-- the old ones. Used by the reaper for a worker whose heartbeat expired ('reclaim': counts
-- against the item's reclaim limit) and by a worker that stops and hands its items back
-- ('handback': free). The items of an entry still to be settled go back together as one new
-- entry; those with their final result (fin bit) stay settled. Items the worker had claimed
-- (its fence says which) come back with the next attempt number, and watchers get a retry event
-- for them so their stream starts again. The old entry id is no longer in the run hash, so
-- anything its worker still sends is rejected.
-- An entry's values are short payloads or '' (long ones stay in the input hash: work-entry.ts),
-- so a requeue copies little whatever the prompts weigh.
-- A reclaim checks the worker's heartbeat here, atomically: one that beat since the reaper
-- looked is alive, and nothing of it is touched.
-- KEYS: 1 items stream, 2 job hash, 3 events stream, 4 run hash, 5 fin bitmap, 6 dead-letter stream,
--       7 input hash, 8 the holding worker's heartbeat hash
-- ARGV: 1 consumer holding the entries, 2 group, 3 now (ms), 4 'reclaim' or 'handback',
--       5 most reclaims per item, 6 reason, then entry ids (all of this job)
-- Returns the number of entries requeued or settled, or -1 if the worker is alive (a reclaim).
--@include finalize
--@include fence
local items, job, ev, run, fin, dlq, input = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local from, group, now, mode, maxReclaims, reason = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
if mode == 'reclaim' and redis.call('EXISTS', KEYS[8]) == 1 then return -1 end
local status = redis.call('HGET', job, 'status')
local events, moved, failedN, settled = {}, 0, 0, false
for n = 7, #ARGV do
  local id = ARGV[n]
  if #redis.call('XPENDING', items, group, id, id, 1, from) == 1 then
    local entry = redis.call('XRANGE', items, id, id)
    if #entry == 1 then
      local kv = entry[1][2]
      -- What the worker claimed of it and has not sent on for a retry: nothing (nil: never
      -- claimed, every item comes back as it was), or the listed items.
      local claimed = redis.call('HGET', run, id)
      local only = nil
      if claimed then
        redis.call('HDEL', run, id)
        settled = true
        only = {}
        for _, i in ipairs(sw_fence_items(claimed)) do only[i] = true end
      end
      local jobId, q, out = nil, nil, {}
      for f = 1, #kv, 2 do
        local name, value = kv[f], kv[f + 1]
        if name == 'j' then jobId = value
        elseif name == 'q' then q = value
        else
          local i, a, c, r, k = string.match(name, '^(%d+),(%d+),(%d+),(%d+),(.*)$')
          -- Items split off at claim time live in another entry now, and items sent on for a
          -- retry wait in the delayed set: neither is this entry's to requeue.
          local ours = i and (not claimed or only[i])
          if ours and redis.call('GETBIT', fin, i) == 0 then
            local started = claimed and true or false
            a, r = tonumber(a), tonumber(r)
            if started and mode == 'reclaim' then r = r + 1 end
            if r > maxReclaims then
              local payload = value
              if value == '' then
                payload = redis.call('HGET', input, i) or 'null'
                redis.call('HDEL', input, i)
              end
              redis.call('SETBIT', fin, i, 1)
              failedN = failedN + 1
              local err = reason .. ' (' .. r .. ' times: the item may be killing its workers)'
              events[#events + 1] = cjson.encode({'f', tonumber(i), k, a, err, from, 0, false, 0, payload})
              redis.call('XADD', dlq, 'MAXLEN', '~', 10000, '*', 'j', jobId or '', 'i', i, 'p', payload, 'e', err, 'w', from, 't', now)
              settled = true
            elseif status == 'running' then
              local nextA = a
              if started then
                nextA = a + 1
                events[#events + 1] = cjson.encode({'r', tonumber(i), k, a, reason, 0, false})
              end
              out[#out + 1] = i .. ',' .. nextA .. ',' .. c .. ',' .. r .. ',' .. k
              out[#out + 1] = value
            end
          end
        end
      end
      if #out > 0 then redis.call('XADD', items, '*', 'j', jobId or '', 'q', q or now, unpack(out)) end
      moved = moved + 1
    end
    redis.call('XACK', items, group, id)
    redis.call('XDEL', items, id)
  end
end
if failedN > 0 then redis.call('HINCRBY', job, 'failed', failedN) end
if #events > 0 then redis.call('XADD', ev, '*', 'e', '[' .. table.concat(events, ',') .. ']') end
if settled then sw_finalize(job, ev, run, fin, input, now) end
return moved
