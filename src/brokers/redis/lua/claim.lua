-- claim: a worker took entries of one job with XREADGROUP (Lua cannot block, so the read is
-- outside) and now claims them. An entry counts only if it is still pending to this worker (a
-- reaper may have handed it on meanwhile). If the job is stopped or gone, its entries are
-- acknowledged and deleted: queued items of a cancelled job are dropped here.
-- KEYS: 1 items stream, 2 job hash, 3 run hash
-- ARGV: 1 consumer, 2 group, 3 '1' to return the job's spec, then pairs: entry id, item index
-- Returns {status or false, spec or false, retries, accepted entry ids...}
local st = redis.call('HMGET', KEYS[2], 'status', 'spec', 'retries')
local running = st[1] == 'running'
local reply = {st[1] or false, false, tonumber(st[3]) or 0}
if ARGV[3] == '1' and st[2] then reply[2] = st[2] end
for n = 4, #ARGV, 2 do
  local id = ARGV[n]
  if #redis.call('XPENDING', KEYS[1], ARGV[2], id, id, 1, ARGV[1]) == 1 then
    if running then
      redis.call('HSET', KEYS[3], ARGV[n + 1], id)
      reply[#reply + 1] = id
    else
      redis.call('XACK', KEYS[1], ARGV[2], id)
      redis.call('XDEL', KEYS[1], id)
    end
  end
end
return reply
