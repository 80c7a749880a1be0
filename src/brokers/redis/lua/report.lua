-- report: one worker's news about one job since its last report, in one round trip: item
-- starts, chunks, results, failures, and the entries it is done with. Every record is fenced: it
-- counts only if the run hash still holds its entry (claimed by this worker, not reaped and
-- requeued since). A zombie (a worker reaped while it was stalled) gets its records rejected and
-- learns which entries it lost.
-- A report whose reply was lost is sent again by the client after a reconnect: each carries the
-- worker's increasing sequence number, and one already applied is not applied twice (its starts
-- and chunks would otherwise be appended again).
-- KEYS: 1 items stream, 2 job hash, 3 events stream, 4 run hash, 5 fin bitmap, 6 delayed zset,
--       7 dead-letter stream, 8 seq hash (worker -> last report applied), 9 input hash (an item
--       with its final result has its payload deleted)
-- ARGV: 1 worker name, 2 group, 3 now (ms), 4 job id, 5 report sequence number, then records:
--       kind, entry id, then but for E: item index, event (JSON), then for R and F only: x1, x2
--   S start, C chunk:   append the event
--   D done:             first result wins (fin bit), done+1, append
--   R retry:            x1 = delay (ms), x2 = the next attempt's entry (JSON) for the delayed set;
--                       the item leaves its entry's fence (a requeue of the entry must not run it
--                       again); ignored for an item given up meanwhile (fin bit)
--   F failed for good:  x1 = payload, x2 = error; fin bit, failed+1, dead-letter
--   U tokens:           event = completion tokens an attempt of the item reported (whatever its
--                       outcome: they were billed), added to the job hash's tokens_out
--   E entry finished:   every item taken from it is settled (or let go): ack+delete it, drop its
--                       fence (even if stale: see below)
-- Returns {job status or false, stale entry ids...}
--@include finalize
--@include fence
local items, job, ev, run, fin, delayed, dlq, seqs, input = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local group, now = ARGV[2], ARGV[3]
local last = tonumber(redis.call('HGET', seqs, ARGV[1]) or '0')
if last >= tonumber(ARGV[5]) then return {redis.call('HGET', job, 'status') or false} end
redis.call('HSET', seqs, ARGV[1], ARGV[5])
local events, stale, settled = {}, {}, false
local doneN, failedN, tokensN = 0, 0, 0
local function size(kind)
  if kind == 'E' then return 2 elseif kind == 'R' or kind == 'F' then return 6 else return 4 end
end
-- Pass 1: which records count (the fence of each entry, read once per call: a report often
-- holds many records of one entry), and every result's fin bit set in one BITFIELD call, whose
-- reply says which results are first.
-- (Counters, not #t, in these loops: Lua's length operator is a search, not a field.)
local nargs = #ARGV
local fence, owns, bits, nb = {}, {}, {}, 0
local n = 6
while n <= nargs do
  local kind, id = ARGV[n], ARGV[n + 1]
  if kind == 'E' then
    fence[id] = false
  else
    local owned = fence[id]
    if owned == nil then
      owned = redis.call('HEXISTS', run, id) == 1
      fence[id] = owned
    end
    if owned then
      owns[n] = true
      if kind == 'D' then
        bits[nb + 1] = 'SET'
        bits[nb + 2] = 'u1'
        bits[nb + 3] = ARGV[n + 2]
        bits[nb + 4] = 1
        nb = nb + 4
      end
    end
  end
  n = n + size(kind)
end
local was, nw = {}, 0
for k = 1, nb, 4000 do
  for _, v in ipairs(redis.call('BITFIELD', fin, unpack(bits, k, math.min(k + 3999, nb)))) do
    nw = nw + 1
    was[nw] = v
  end
end
-- Pass 2, in order. Finished entries are acknowledged and deleted in one call each at the end.
-- Payloads in the input hash go with their item's final result (short ones go with their entry;
-- a job of short ones only has no input hash, and nothing to list here).
local acked, d, ne = {}, 0, 0
local freed, hashed = {}, redis.call('EXISTS', input) == 1
n = 6
while n <= nargs do
  local kind, id, i, event = ARGV[n], ARGV[n + 1], ARGV[n + 2], ARGV[n + 3]
  if kind == 'E' then
    -- Acknowledged and deleted even when stale: a reaped entry is gone already (no harm done), and
    -- one whose fence went with its finished job must not stay pending forever.
    acked[#acked + 1] = id
    settled = true
  elseif not owns[n] then
    if stale[#stale] ~= id then stale[#stale + 1] = id end
  elseif kind == 'S' or kind == 'C' then
    ne = ne + 1
    events[ne] = event
  elseif kind == 'D' then
    d = d + 1
    if hashed then freed[#freed + 1] = i end
    if was[d] == 0 then
      doneN = doneN + 1
      ne = ne + 1
      events[ne] = event
    end
    settled = true
  elseif kind == 'R' then
    if redis.call('GETBIT', fin, i) == 0 then
      redis.call('ZADD', delayed, tonumber(now) + tonumber(ARGV[n + 4]), ARGV[n + 5])
      ne = ne + 1
      events[ne] = event
      local rest = {}
      for _, x in ipairs(sw_fence_items(redis.call('HGET', run, id))) do
        if x ~= i then rest[#rest + 1] = x end
      end
      redis.call('HSET', run, id, sw_fence_value(rest))
    end
    settled = true
  elseif kind == 'F' then
    if hashed then freed[#freed + 1] = i end
    if redis.call('SETBIT', fin, i, 1) == 0 then
      failedN = failedN + 1
      ne = ne + 1
      events[ne] = event
      redis.call('XADD', dlq, 'MAXLEN', '~', 10000, '*', 'j', ARGV[4], 'i', i,
        'p', ARGV[n + 4], 'e', ARGV[n + 5], 'w', ARGV[1], 't', now)
    end
    settled = true
  elseif kind == 'U' then
    tokensN = tokensN + math.floor(tonumber(event) or 0)
  end
  n = n + size(kind)
end
-- Variadic calls, a bounded number of arguments each (Lua's unpack has a stack limit).
for k = 1, #acked, 1000 do
  local last = math.min(k + 999, #acked)
  redis.call('HDEL', run, unpack(acked, k, last))
  redis.call('XACK', items, group, unpack(acked, k, last))
  redis.call('XDEL', items, unpack(acked, k, last))
end
for k = 1, #freed, 1000 do redis.call('HDEL', input, unpack(freed, k, math.min(k + 999, #freed))) end
if doneN > 0 then redis.call('HINCRBY', job, 'done', doneN) end
if failedN > 0 then redis.call('HINCRBY', job, 'failed', failedN) end
if tokensN > 0 then redis.call('HINCRBY', job, 'tokens_out', tokensN) end
if ne > 0 then redis.call('XADD', ev, '*', 'e', '[' .. table.concat(events, ',') .. ']') end
if settled then sw_finalize(job, ev, run, fin, input, now) end
local st = redis.call('HMGET', job, 'status', 'ttl')
-- The sequence hash lives as long as the job's other keys.
if st[1] == 'done' or st[1] == 'cancelled' then redis.call('PEXPIRE', seqs, tonumber(st[2]) or 86400000)
else redis.call('PEXPIRE', seqs, 7 * 86400000) end
local reply = {st[1] or false}
for _, id in ipairs(stale) do reply[#reply + 1] = id end
return reply
