-- trim: entries are deleted one by one when acknowledged, which leaves the stream's nodes
-- fragmented; trimming up to the oldest entry still needed frees them. Never MAXLEN: that would
-- drop pending or undelivered work.
-- KEYS: 1 items stream
-- ARGV: 1 group
-- Returns the number of entries trimmed.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local summary = redis.call('XPENDING', KEYS[1], ARGV[1])
local oldest = summary[2]
if not oldest then
  local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
  for _, g in ipairs(groups) do
    local info = {}
    for k = 1, #g, 2 do info[g[k]] = g[k + 1] end
    if info['name'] == ARGV[1] then oldest = info['last-delivered-id'] end
  end
end
if not oldest or oldest == '0-0' then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', oldest)
