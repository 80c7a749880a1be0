-- promote: retries whose backoff is over go back to the work stream, one entry each (layout:
-- work-entry.ts): with the payload the member carries (`p`: a short one), else '' (it waits in
-- the job's input hash).
-- KEYS: 1 delayed zset, 2 items stream
-- ARGV: 1 now (ms), 2 most to move
-- Returns {moved, score of the next retry due or false}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  local e = cjson.decode(m)
  redis.call('XADD', KEYS[2], '*', 'j', e.j, 'q', e.q, e.i .. ',' .. e.a .. ',' .. e.c .. ',' .. e.r .. ',' .. e.k, e.p or '')
  redis.call('ZREM', KEYS[1], m)
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#due, nxt[2] or false}
