-- enqueue: adds items of a running job to the work stream, a batch of them per entry (layout:
-- work-entry.ts). Items come in increasing index order; an index below the job's `enq` mark was
-- enqueued before (by this submitter or one that died) and is skipped, so a resumed submit can
-- send everything again. A payload of ARGV[4] bytes at most rides in the entry; a bigger one goes
-- to the job's input hash, its entry value '': what claims, splits and requeues copy per item
-- stays small whatever the prompts weigh. The caller bounds a call's payload bytes (job-run.ts),
-- so no call holds Redis for long.
-- KEYS: 1 items stream, 2 job hash, 3 input hash
-- ARGV: 1 job id, 2 now (ms), 3 most items per entry, 4 most payload bytes in an entry, then
--       triples: index, the item's header ("<index>,1,0,0,<item id>": its first attempt),
--       payload (JSON text, never empty)
-- Returns {status, added}; nothing is added unless the job is running.
local st = redis.call('HMGET', KEYS[2], 'status', 'enq')
if not st[1] then return redis.error_reply('NOJOB job ' .. ARGV[1] .. ' does not exist') end
if st[1] ~= 'running' then return {st[1], 0} end
local enq = tonumber(st[2]) or 0
local size, inline = tonumber(ARGV[3]), tonumber(ARGV[4])
local mark, added = enq, 0
local fields = {'j', ARGV[1], 'q', ARGV[2]}
local inputs, ni = {}, 0
for n = 5, #ARGV, 3 do
  local i = tonumber(ARGV[n])
  if i >= enq then
    local payload = ARGV[n + 2]
    fields[#fields + 1] = ARGV[n + 1]
    if #payload <= inline then
      fields[#fields + 1] = payload
    else
      fields[#fields + 1] = ''
      inputs[ni + 1] = ARGV[n]
      inputs[ni + 2] = payload
      ni = ni + 2
    end
    added = added + 1
    if i + 1 > mark then mark = i + 1 end
    if #fields >= 4 + 2 * size then
      redis.call('XADD', KEYS[1], '*', unpack(fields))
      fields = {'j', ARGV[1], 'q', ARGV[2]}
    end
  end
end
if #fields > 4 then redis.call('XADD', KEYS[1], '*', unpack(fields)) end
for k = 1, ni, 1000 do redis.call('HSET', KEYS[3], unpack(inputs, k, math.min(k + 999, ni))) end
if added > 0 then
  redis.call('HSET', KEYS[2], 'enq', mark)
  redis.call('HINCRBY', KEYS[2], 'n', added)
end
return {st[1], added}
