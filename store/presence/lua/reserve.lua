-- ARGV[3] call UUID, ARGV[4] reservation TTL ms, ARGV[5] group count, then
-- per group: its size and its agent IDs in order of preference.
-- Returns {agent reserved or "", its group (0 when none), then for every
-- candidate passed over: group, agent, reason}.
local call, ttl = ARGV[3], tonumber(ARGV[4])
local out = {'', 0}
local seen = {}
local i = 6
for g = 1, tonumber(ARGV[5]) do
  local n = tonumber(ARGV[i])
  -- One MGET per group: far cheaper inside Redis than a GET per agent.
  local ids, keys = {}, {}
  for j = i + 1, i + n do
    local id = ARGV[j]
    if not seen[id] then
      seen[id] = true
      ids[#ids + 1] = id
      keys[#keys + 1] = PREFIX .. id
    end
  end
  i = i + n + 1
  local best
  local raws = mget(keys)
  for k, id in ipairs(ids) do
    local a = decode(id, raws[k])
    normalize(a)
    local why = skip(a)
    if why then
      out[#out + 1] = g
      out[#out + 1] = id
      out[#out + 1] = why
    elseif best == nil or a.is < best.is then
      best = a
    end
  end
  if best then
    best.s, best.c, best.x, best.e, best.ss = 'reserved', call, '0', NOW + ttl, NOW
    save(best)
    out[1], out[2] = best.id, g
    return out
  end
end
return out
