/**
 * Lua applied by the Redis sink, one call per batch (EVALSHA, loaded once). Kept in TypeScript so
 * it ships with the compiled code; see docs/redis.md for the data model it maintains.
 */
export const APPLY_BATCH_LUA = `
-- Applies one batch of checked events; atomic, and idempotent through a per-partition watermark.
-- ARGV: prefix, recentMax, topic, quarantineMaxLen, cascadeMaxLen, then per chunk: partition and
--   a buffer of packed records (src/sinks/redis-record.ts: '<ddBHHHII' header, then venue, symbol,
--   event key, event JSON, details), read with struct.unpack: one argument per chunk, not eight
--   per event
-- Keys (all under prefix):
--   applied:<topic>            hash  partition -> last applied offset (replays below it are skipped)
--   latest:<venue>:<symbol>    hash  ts, offset, event: newest accepted/flagged event by exchange time
--   recent:<symbol>            zset  score = exchange time µs, member = <venue>|<event key> (the venue's
--                                    id: a re-sent event is held once); trimmed to recentMax
--   recent-events:<symbol>     hash  <venue>|<event key> -> event JSON, trimmed with the zset
--   quality:<venue>:<symbol>   hash  accepted / flagged / rejected counters
--   quarantine                 stream of rejected events (venue, symbol, offset, event), MAXLEN ~
--   cascade                    stream of rejects and cascade indicators (venue, symbol, ts, verdict,
--                              checks = JSON [{id, severity, value, threshold}], offset), MAXLEN ~
local prefix = ARGV[1]
local recentMax = tonumber(ARGV[2])
local topic = ARGV[3]
local quarantineMaxLen = ARGV[4]
local cascadeMaxLen = ARGV[5]
local appliedKey = prefix .. 'applied:' .. topic
local verdictNames = { ['0'] = 'accepted', ['1'] = 'flagged', ['2'] = 'rejected' }

local latest = {}    -- latest key -> { ts, offset, json }
local recent = {}    -- recent key -> { score, member, score, member, ... }
local counters = {}  -- quality key -> { accepted = n, ... }
local applied = 0

local i = 6
while i <= #ARGV do
  local partition = ARGV[i]
  local blob = ARGV[i + 1]
  i = i + 2
  local watermark = tonumber(redis.call('HGET', appliedKey, partition) or '-1')
  local newMark = watermark
  local pos = 1
  local size = #blob
  while pos <= size do
    local offset, ts, verdictNum, lv, ls, lk, lj, ld, p = struct.unpack('<ddBHHHII', blob, pos)
    local venue = string.sub(blob, p, p + lv - 1); p = p + lv
    local symbol = string.sub(blob, p, p + ls - 1); p = p + ls
    local eventKey = string.sub(blob, p, p + lk - 1); p = p + lk
    local jsonFrom = p; p = p + lj
    local detailsFrom = p; p = p + ld
    pos = p
    if offset > watermark then
      local verdict = tostring(verdictNum)
      local json = string.sub(blob, jsonFrom, jsonFrom + lj - 1)
      local offsetText = string.format('%d', offset)
      local vs = venue .. ':' .. symbol
      if ld > 0 then
        redis.call('XADD', prefix .. 'cascade', 'MAXLEN', '~', cascadeMaxLen, '*',
          'venue', venue, 'symbol', symbol, 'ts', string.format('%d', ts), 'verdict', verdictNames[verdict],
          'checks', string.sub(blob, detailsFrom, detailsFrom + ld - 1),
          'topic', topic, 'partition', partition, 'offset', offsetText)
      end
      if verdict == '2' then
        redis.call('XADD', prefix .. 'quarantine', 'MAXLEN', '~', quarantineMaxLen, '*',
          'venue', venue, 'symbol', symbol, 'topic', topic, 'partition', partition, 'offset', offsetText, 'event', json)
      else
        local lkey = prefix .. 'latest:' .. vs
        local best = latest[lkey]
        if best == nil or ts >= best[1] then latest[lkey] = { ts, offset, json } end
        local r = recent[symbol]
        if r == nil then r = { scores = {}, data = {} }; recent[symbol] = r end
        local member = venue .. '|' .. eventKey
        r.scores[#r.scores + 1] = ts
        r.scores[#r.scores + 1] = member
        r.data[#r.data + 1] = member
        r.data[#r.data + 1] = json
      end
      local qk = prefix .. 'quality:' .. vs
      local q = counters[qk]
      if q == nil then q = {}; counters[qk] = q end
      local name = verdictNames[verdict]
      q[name] = (q[name] or 0) + 1
      if offset > newMark then newMark = offset end
      applied = applied + 1
    end
  end
  if newMark > watermark then redis.call('HSET', appliedKey, partition, string.format('%d', newMark)) end
end

for lk, best in pairs(latest) do
  local cur = redis.call('HGET', lk, 'ts')
  -- A replayed or late event never moves the latest view back in time.
  if cur == false or tonumber(cur) <= best[1] then
    redis.call('HSET', lk, 'ts', string.format('%d', best[1]), 'offset', string.format('%d', best[2]), 'event', best[3])
  end
end
for symbol, r in pairs(recent) do
  local rk = prefix .. 'recent:' .. symbol
  local hk = prefix .. 'recent-events:' .. symbol
  -- unpack() has a C-stack limit: add in slices.
  for s = 1, #r.scores, 1000 do
    redis.call('ZADD', rk, unpack(r.scores, s, math.min(s + 999, #r.scores)))
    redis.call('HSET', hk, unpack(r.data, s, math.min(s + 999, #r.data)))
  end
  local evicted = redis.call('ZRANGE', rk, 0, -recentMax - 1)
  if #evicted > 0 then
    for s = 1, #evicted, 1000 do
      redis.call('HDEL', hk, unpack(evicted, s, math.min(s + 999, #evicted)))
    end
    redis.call('ZREMRANGEBYRANK', rk, 0, -recentMax - 1)
  end
end
for qk, q in pairs(counters) do
  for name, n in pairs(q) do redis.call('HINCRBY', qk, name, n) end
end
return applied
`;
