-- quota: one rate limiter (a key of ctx.limit: an endpoint and API key) shared by every worker
-- process of the queue. The buckets' state lives in one hash in the queue's slot, and this script
-- is its only writer, on the server's clock (TIME, ms): the arithmetic of src/core/quota/gcra.ts,
-- line for line, so a permit reserved here is due when the embedded pool's ledger would say.
--
-- Mapping to gcra.ts (keep them in step):
--   reserve -> `reserve` (with `tooLarge`), refund -> `refund`, correct -> `correct`,
--   learn   -> ledger.ts `learn`: learned limits (`resolveRates`, `retune`, and `charge` of the
--              caller's permits held when a limit becomes known), then `sync`, then on an overload
--              with a retry-after the ledger's `pauseKey`: the caller's waiting permits refunded,
--              `pause`, and reserved again in their order.
-- Per process, not here: the AIMD window (aimd.ts) and which permits are held (the worker's
-- quota host). A pause reaches other processes' sleeping permits by a PUBLISH of "<epoch> <key>"
-- on ARGV[2]: each reserves its waiting ones again (op reserve, no refund: they may be counted
-- twice once per pause, which is slower, never over the limit).
--
-- Hash fields: rt, tt  the requests and tokens TATs (ms, server time); pu  paused until;
--              ep  the pause epoch (bumped by every pause that takes effect);
--              lr, lt  learned rpm and tpm; rpm, tpm, win  the rates in force at the last call
--              (a change is retuned). The hash expires an hour after its TATs and pause pass.
-- KEYS: 1 the key's hash
-- ARGV: 1 op, 2 pause channel, 3 given rpm, 4 given tpm, 5 window (s), 6 jitter (ms) ('' for
--       none: learned / 60 / 1000), 7 and 8 the requests and tokens of the caller's held permits
--       (charged when a limit becomes known), then per op:
--   reserve  9.. requests, tokens pairs, one per permit, reserved in order
--   refund   9 requests, 10 tokens
--   correct  9 real minus estimated tokens, 10 '1' if the server refunds unused tokens
--   learn    9 learned rpm, 10 learned tpm, 11 requests remaining, 12 requests reset (ms),
--            13 tokens remaining, 14 tokens reset (ms) ('' for each not said), 15 and 16 the
--            requests and tokens sent after the answer's request (gcra.ts sync's pending),
--            17 '1' if the answer was an overload (429, 503), 18 retry-after (ms, '' none),
--            19 and 20 the refused request's cost, 21.. the caller's waiting permits' cost
--            pairs in due order (refunded and reserved again if the pause takes effect)
-- Returns {epoch, rpm, tpm, window (strings), then per permit reserved: ms until due (rounded up)
--          or -1 if its cost never fits}; learn adds nothing when no pause took effect.
local key, op, channel = KEYS[1], ARGV[1], ARGV[2]
local MINUTE = 60000
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000

local function arg(i)
  local v = ARGV[i]
  if v == nil or v == '' then return nil end
  return tonumber(v)
end

local h = redis.call('HMGET', key, 'rt', 'tt', 'pu', 'ep', 'lr', 'lt', 'rpm', 'tpm')
local s = {rt = tonumber(h[1]) or 0, tt = tonumber(h[2]) or 0, pu = tonumber(h[3]) or 0}
local epoch = tonumber(h[4]) or 0
local learned = {rpm = tonumber(h[5]) or 0, tpm = tonumber(h[6]) or 0}
local given = {rpm = arg(3), tpm = arg(4)}
local window, jitter = arg(5) or 60, arg(6) or 1000
if jitter < 0 then jitter = 0 end
local rates = {rpm = tonumber(h[7]) or 0, tpm = tonumber(h[8]) or 0}

-- gcra.ts bucket(): ms per unit and capacity; a requests bucket holds one request at least.
local function bucket(perMinute, isRequests)
  if not (perMinute > 0) then return nil end
  local cap = perMinute * window / 60
  if isRequests and cap < 1 then cap = 1 end
  return {interval = MINUTE / perMinute, capacity = cap}
end
local function rb() return bucket(rates.rpm, true) end
local function tb() return bucket(rates.tpm, false) end
local function earliest(tat, cost, b) return tat - (b.capacity - cost) * b.interval end
local function taken(tat, at, cost, b) return math.max(tat, at) + cost * b.interval end

-- gcra.ts retune(), then ledger.ts applyRates(): owed units kept at the new rate; a limit new to
-- the key charges what the caller's held permits take (sent without it).
local function retuned(tat, from, to)
  if not (to > 0) or from == to then return tat end
  if not (from > 0) then return 0 end
  return now + math.max(0, tat - now) / (MINUTE / from) * (MINUTE / to)
end
local function applyRates()
  local rpm, tpm = given.rpm or learned.rpm, given.tpm or learned.tpm
  if rpm == rates.rpm and tpm == rates.tpm then return end
  local newR, newT = rates.rpm <= 0 and rpm > 0, rates.tpm <= 0 and tpm > 0
  s.rt, s.tt = retuned(s.rt, rates.rpm, rpm), retuned(s.tt, rates.tpm, tpm)
  rates = {rpm = rpm, tpm = tpm}
  local heldR, heldT = arg(7) or 0, arg(8) or 0
  if newR and heldR > 0 then s.rt = taken(s.rt, now, heldR, rb()) end
  if newT and heldT > 0 then s.tt = taken(s.tt, now, heldT, tb()) end
end

-- gcra.ts reserve(): the wait until due, or -1 if the cost never fits.
local function reserve(cr, ct)
  local r, k = rb(), tb()
  if (r and cr > r.capacity) or (k and ct > k.capacity) then return -1 end
  if cr <= 0 then r = nil end
  if ct <= 0 then k = nil end
  local due = math.max(now, s.pu)
  if r then due = math.max(due, earliest(s.rt, cr, r)) end
  if k then due = math.max(due, earliest(s.tt, ct, k)) end
  if r then s.rt = taken(s.rt, due + jitter, cr, r) end
  if k then s.tt = taken(s.tt, due + jitter, ct, k) end
  return math.ceil(due - now)
end

-- gcra.ts refund()
local function refund(cr, ct)
  local r, k = rb(), tb()
  if r and cr > 0 then s.rt = s.rt - cr * r.interval end
  if k and ct > 0 then s.tt = s.tt - ct * k.interval end
end

-- gcra.ts sync()'s synced()
local function synced(tat, remaining, resetMs, b, pending)
  if not b then return tat end
  local owed = resetMs
  if remaining then owed = (b.capacity - remaining) * b.interval end
  if not owed then return tat end
  return math.max(tat, now + owed + pending * b.interval)
end

-- gcra.ts pause()
local function pause(untilMs, cr, ct)
  local r, k = rb(), tb()
  if r and cr > 0 then s.rt = math.max(s.rt, untilMs + (r.capacity - math.min(cr, r.capacity)) * r.interval) end
  if k and ct > 0 then s.tt = math.max(s.tt, untilMs + (k.capacity - math.min(ct, k.capacity)) * k.interval) end
  s.pu = math.max(s.pu, untilMs)
end

applyRates()
local waits = {}
if op == 'reserve' then
  for i = 9, #ARGV, 2 do waits[#waits + 1] = reserve(tonumber(ARGV[i]), tonumber(ARGV[i + 1])) end
elseif op == 'refund' then
  refund(tonumber(ARGV[9]), tonumber(ARGV[10]))
elseif op == 'correct' then
  local delta, k = tonumber(ARGV[9]), tb()
  if k and delta and delta ~= 0 then
    if delta > 0 then s.tt = taken(s.tt, now, delta, k)
    elseif ARGV[10] == '1' then s.tt = s.tt + delta * k.interval end
  end
elseif op == 'learn' then
  local lr, lt = arg(9), arg(10)
  if lr or lt then
    learned = {rpm = lr or learned.rpm, tpm = lt or learned.tpm}
    redis.call('HSET', key, 'lr', learned.rpm, 'lt', learned.tpm)
    applyRates()
  end
  s.rt = synced(s.rt, arg(11), arg(12), rb(), arg(15) or 0)
  s.tt = synced(s.tt, arg(13), arg(14), tb(), arg(16) or 0)
  local retry = arg(18)
  -- ledger.ts pauseKey(): a pause inside the one in force changes nothing.
  if ARGV[17] == '1' and retry and now + retry > s.pu then
    for i = 21, #ARGV, 2 do refund(tonumber(ARGV[i]), tonumber(ARGV[i + 1])) end
    pause(now + retry, tonumber(ARGV[19]), tonumber(ARGV[20]))
    for i = 21, #ARGV, 2 do waits[#waits + 1] = reserve(tonumber(ARGV[i]), tonumber(ARGV[i + 1])) end
    epoch = epoch + 1
    redis.call('HSET', key, 'ep', epoch)
    redis.call('PUBLISH', channel, epoch .. ' ' .. key)
  end
else
  return redis.error_reply('ERR quota: unknown op ' .. tostring(op))
end

local f = '%.17g'
redis.call('HSET', key, 'rt', string.format(f, s.rt), 'tt', string.format(f, s.tt), 'pu', string.format(f, s.pu),
  'rpm', string.format(f, rates.rpm), 'tpm', string.format(f, rates.tpm))
redis.call('PEXPIRE', key, math.ceil(math.max(0, s.rt - now, s.tt - now, s.pu - now)) + 3600000)
local reply = {epoch, string.format(f, rates.rpm), string.format(f, rates.tpm), string.format(f, window)}
for _, w in ipairs(waits) do reply[#reply + 1] = w end
return reply
