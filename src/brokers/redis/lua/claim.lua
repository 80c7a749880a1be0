-- claim: a worker took entries of one job with XREADGROUP (Lua cannot block, so the read is
-- outside) and now claims them. An entry counts only if it is still pending to this worker (a
-- reaper may have handed it on meanwhile). If the job is stopped or gone, its entries are
-- acknowledged and deleted: queued items of a cancelled job are dropped here.
-- An entry of an item given up meanwhile (its fin bit set by cancel-item) is dropped too.
-- KEYS: 1 items stream, 2 job hash, 3 run hash, 4 fin bitmap
-- ARGV: 1 consumer, 2 group, 3 '1' to return the job's spec, then pairs: entry id, item index,
--       in increasing entry id order
-- Returns {status or false, spec or false, retries, accepted entry ids...}
local st = redis.call('HMGET', KEYS[2], 'status', 'spec', 'retries')
local running = st[1] == 'running'
local reply = {st[1] or false, false, tonumber(st[3]) or 0}
if ARGV[3] == '1' and st[2] then reply[2] = st[2] end
if #ARGV < 4 then return reply end
-- Which of these entries are still pending to this worker: one range read over their ids (given
-- in id order, as XREADGROUP returns them), not one per entry. The range may hold other jobs'
-- entries of this worker too, never more than its slots: the count only guards the reply size.
local mine = {}
for _, p in ipairs(redis.call('XPENDING', KEYS[1], ARGV[2], ARGV[4], ARGV[#ARGV - 1], 100000, ARGV[1])) do mine[p[1]] = true end
local fences, dropped = {}, {}
for k = 4, #ARGV, 2 do
  local id = ARGV[k]
  if mine[id] then
    if running and redis.call('GETBIT', KEYS[4], ARGV[k + 1]) == 0 then
      fences[#fences + 1] = ARGV[k + 1]
      fences[#fences + 1] = id
      reply[#reply + 1] = id
    else
      dropped[#dropped + 1] = id
    end
  end
end
for k = 1, #fences, 1000 do redis.call('HSET', KEYS[3], unpack(fences, k, math.min(k + 999, #fences))) end
for k = 1, #dropped, 1000 do
  local last = math.min(k + 999, #dropped)
  redis.call('XACK', KEYS[1], ARGV[2], unpack(dropped, k, last))
  redis.call('XDEL', KEYS[1], unpack(dropped, k, last))
end
return reply
