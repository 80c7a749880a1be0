-- claim: a worker read entries of one job with XREADGROUP (Lua cannot block, so the read is
-- outside) and now claims their items, as many as it has free slots. An entry counts only if it
-- is still pending to this worker (a reaper may have handed it on meanwhile). If the job is
-- stopped or gone, its entries are acknowledged and deleted: queued items of a cancelled job are
-- dropped here, as is an item given up meanwhile (its fin bit set by cancel-item) or finished
-- already (an entry requeued after its worker died).
-- The fence: the run hash maps each claimed entry to the items taken from it, "<n>:<i>,<i>,..."
-- (report.lua takes an item out when it goes to the delayed set for a retry). Items beyond the
-- free slots, or beyond the call's bytes of payloads from the input hash (at least one item is
-- always taken), go back to the stream as a new entry, so a worker never holds work it cannot
-- start while others could. The new entry copies the items' entry values: short payloads (a
-- bounded size, work-entry.ts) or '' (the payload stays in the input hash).
-- A payload the entry carries came with the worker's read; only those in the input hash are
-- handed out here, so a job of short prompts costs no hash operation.
-- Claiming is idempotent: an entry fenced already (a claim whose reply was lost, sent again) gives
-- the items its fence lists, and is not split again.
-- KEYS: 1 items stream, 2 job hash, 3 run hash, 4 fin bitmap, 5 input hash
-- ARGV: 1 consumer, 2 group, 3 '1' to return the job's spec, 4 free slots, 5 most bytes of
--       payloads from the input hash, then per entry, in increasing entry id order: entry id,
--       item count n, '1' if every item is on its first attempt and never reclaimed (none can
--       have a result yet), '' if the entry carries every item's payload, else one character
--       per item ('1': its payload is in the input hash), then the n item indexes
-- A fresh entry's items are checked against the fin bitmap only if the job has items given up.
-- Returns {status or false, spec or false, retries, then per claimed entry: its id, a string of
--          one character per item ('1' taken, '0' not), and the payloads from the input hash of
--          the taken items, in order}
--@include fence
local items, job, run, fin, input = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local st = redis.call('HMGET', job, 'status', 'spec', 'retries', 'dropped')
local running = st[1] == 'running'
local reply = {st[1] or false, false, tonumber(st[3]) or 0}
if ARGV[3] == '1' and st[2] then reply[2] = st[2] end
if #ARGV < 6 then return reply end
local free = tonumber(ARGV[4])
local budget, bytes, took = tonumber(ARGV[5]), 0, 0
local anyDropped = (tonumber(st[4]) or 0) > 0
-- Entry ids of the call, to read the pending ones in one range (ids come in order).
local ids, n = {}, 6
while n <= #ARGV do
  ids[#ids + 1] = ARGV[n]
  n = n + 4 + tonumber(ARGV[n + 1])
end
local mine = {}
for _, p in ipairs(redis.call('XPENDING', items, ARGV[2], ids[1], ids[#ids], 100000, ARGV[1])) do mine[p[1]] = true end
local gone = {}
-- Writes an entry's fence and answers with it; an entry nothing was taken from is let go.
-- `hashed`: the taken items whose payload is in the input hash.
local function fence(id, taken, flags, hashed)
  if #taken == 0 then
    redis.call('HDEL', run, id)
    gone[#gone + 1] = id
  else
    redis.call('HSET', run, id, sw_fence_value(taken))
    reply[#reply + 1] = id
    reply[#reply + 1] = table.concat(flags)
    reply[#reply + 1] = #hashed > 0 and redis.call('HMGET', input, unpack(hashed)) or {}
  end
end
n = 6
while n <= #ARGV do
  local id, count, held = ARGV[n], tonumber(ARGV[n + 1]), ARGV[n + 3]
  local check = anyDropped or ARGV[n + 2] ~= '1'
  local prior = mine[id] and redis.call('HGET', run, id)
  if prior then
    local listed, flags, taken, hashed = {}, {}, {}, {}
    for _, x in ipairs(sw_fence_items(prior)) do listed[x] = true end
    for k = 1, count do
      local i = ARGV[n + 3 + k]
      if running and listed[i] and redis.call('GETBIT', fin, i) == 0 then
        flags[k] = '1'
        taken[#taken + 1] = i
        if held ~= '' and string.byte(held, k) == 49 then hashed[#hashed + 1] = i end
      else
        flags[k] = '0'
      end
    end
    free = math.max(0, free - #taken)
    fence(id, taken, flags, hashed)
  elseif mine[id] then
    local flags, taken, left, hashed = {}, {}, {}, {}
    for k = 1, count do
      local i = ARGV[n + 3 + k]
      if not running or (check and redis.call('GETBIT', fin, i) == 1) then
        flags[k] = '0'
      elseif free > 0 and (took == 0 or bytes < budget) then
        -- The budget is checked before an item, so a call goes over it by one payload at most.
        flags[k] = '1'
        taken[#taken + 1] = i
        free = free - 1
        took = took + 1
        if held ~= '' and string.byte(held, k) == 49 then -- '1'
          hashed[#hashed + 1] = i
          bytes = bytes + redis.call('HSTRLEN', input, i)
        end
      else
        flags[k] = '0'
        left[k] = true
      end
    end
    if next(left) ~= nil then
      -- The items this worker cannot start go back as a new entry, with their entry values.
      local entry = redis.call('XRANGE', items, id, id)[1]
      if entry then
        local kv, out, pos = entry[2], {}, 0
        for f = 1, #kv, 2 do
          local name = kv[f]
          if name == 'j' or name == 'q' then
            out[#out + 1] = name
            out[#out + 1] = kv[f + 1]
          else
            pos = pos + 1
            if left[pos] then
              out[#out + 1] = name
              out[#out + 1] = kv[f + 1]
            end
          end
        end
        redis.call('XADD', items, '*', unpack(out))
      end
    end
    fence(id, taken, flags, hashed)
  end
  n = n + 4 + count
end
for k = 1, #gone, 1000 do
  local last = math.min(k + 999, #gone)
  redis.call('XACK', items, ARGV[2], unpack(gone, k, last))
  redis.call('XDEL', items, unpack(gone, k, last))
end
return reply
