-- ARGV[3] call UUID, ARGV[4] reservation TTL ms, ARGV[5..] agents to leave out.
-- Returns the agent reserved, or "".
local call, ttl = ARGV[3], tonumber(ARGV[4])

-- Fold back agents whose reservation, call, wrap-up or delay ended by now;
-- each expiry is folded once, so this costs O(log n) per call amortised.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', PENDING, '-inf', ms(NOW))) do
  local a = load(id)
  if a.known then
    normalize(a)
    reindex(a)
  else
    redis.call('ZREM', PENDING, id)
  end
end

local exclude = {}
for j = 5, #ARGV do
  exclude[ARGV[j]] = true
end

-- The index is exact after the fold, so at most #exclude + 1 entries are
-- read; an entry found stale anyway is repaired and the walk restarts.
local batch = #ARGV - 3
local from = 0
while true do
  local ids = redis.call('ZRANGE', IDLE, from, from + batch - 1)
  if #ids == 0 then
    return ''
  end
  local restart = false
  for _, id in ipairs(ids) do
    if not exclude[id] then
      local a = load(id)
      normalize(a)
      if a.known and skip(a) == nil then
        a.s, a.c, a.x, a.e, a.ss = 'reserved', call, '0', NOW + ttl, NOW
        save(a)
        return id
      end
      if a.known then
        reindex(a)
      else
        redis.call('ZREM', IDLE, id)
      end
      restart = true
      break
    end
  end
  if not restart then
    from = from + batch
  end
end
