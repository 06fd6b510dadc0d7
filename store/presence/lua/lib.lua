-- Shared by every presence script (the Go side prepends it).
-- KEYS[1] set of known agent IDs, KEYS[2] zset of agents offerable now
-- (score: idle since, ms), KEYS[3] zset of online agents that become
-- offerable at a known time (score: that time, ms).
-- ARGV[1] agent key prefix, ARGV[2] "1" when registration is required.
-- Every expiry decision uses NOW, the Redis server clock.
local AGENTS, IDLE, PENDING = KEYS[1], KEYS[2], KEYS[3]
local PREFIX = ARGV[1]
local REQREG = ARGV[2] == '1'
local clock = redis.call('TIME')
local NOW = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local function ms(n)
  return string.format('%d', n)
end

-- An agent is one string, a MessagePack array in this order: status,
-- state, registered ("1"/"0"), call or channel holding the agent, "1" when
-- that is an outside call, state expiry, state since, idle since,
-- consecutive no-answers, reason, ready at (post-failure delay),
-- registration changed at; times in ms. One GET and one unpack cost far
-- less inside Redis than reading a dozen hash fields.
-- decode builds an agent from its stored string (false when there is
-- none) in one table constructor, which sizes the table once.
local function decode(id, raw)
  if not raw then
    return {id = id, known = false, st = 'logged_out', s = 'idle', reg = '0',
      c = '', x = '0', e = 0, ss = NOW, is = NOW, na = 0, r = '', ra = 0, rc = 0}
  end
  local v = cmsgpack.unpack(raw)
  return {id = id, known = true, st = v[1], s = v[2], reg = v[3], c = v[4],
    x = v[5], e = v[6], ss = v[7], is = v[8], na = v[9], r = v[10], ra = v[11],
    rc = v[12]}
end

-- mget reads many agents' strings at once, in slices that stay below
-- Lua's limit on unpacked arguments.
local function mget(keys)
  local out = {}
  for from = 1, #keys, 1000 do
    local part = redis.call('MGET', unpack(keys, from, math.min(from + 999, #keys)))
    for k = 1, #part do
      out[from + k - 1] = part[k]
    end
  end
  return out
end

local function load(id)
  return decode(id, redis.call('GET', PREFIX .. id))
end

-- normalize turns a reservation, ring, call or wrap-up whose expiry has
-- passed into idle. An unused reservation does not make an agent less
-- idle; the end of a call or wrap-up does.
local function normalize(a)
  if a.s ~= 'idle' and a.e > 0 and a.e <= NOW then
    if a.s == 'wrap_up' or a.s == 'in_call' then
      a.is = a.e
    end
    a.s, a.ss, a.c, a.x, a.e = 'idle', a.e, '', '0', 0
  end
end

local function online(a)
  return a.st == 'available' and (not REQREG or a.reg == '1')
end

-- skip says why a normalized agent cannot be offered a call, or nil.
local function skip(a)
  if a.st == 'break' then return 'break' end
  if not online(a) then return 'offline' end
  if a.s == 'ringing' or a.s == 'in_call' then return 'busy' end
  if a.s == 'reserved' then return 'reserved' end
  if a.s == 'wrap_up' or a.ra > NOW then return 'wrap_up' end
  return nil
end

-- reindex puts a normalized agent in the index that matches its state.
local function reindex(a)
  if not online(a) then
    redis.call('ZREM', IDLE, a.id)
    redis.call('ZREM', PENDING, a.id)
    return
  end
  local at = a.ra
  if a.s ~= 'idle' and a.e > at then at = a.e end
  if a.s == 'idle' and at <= NOW then
    redis.call('ZREM', PENDING, a.id)
    redis.call('ZADD', IDLE, ms(a.is), a.id)
  else
    redis.call('ZREM', IDLE, a.id)
    redis.call('ZADD', PENDING, ms(at), a.id)
  end
end

local function save(a)
  redis.call('SET', PREFIX .. a.id, cmsgpack.pack({a.st, a.s, a.reg, a.c, a.x,
    a.e, a.ss, a.is, a.na, a.r, a.ra, a.rc}))
  if not a.known then
    redis.call('SADD', AGENTS, a.id)
    a.known = true
  end
  reindex(a)
end

local function held(a, call)
  return (a.s == 'reserved' or a.s == 'ringing') and a.c == call
end

-- finish ends a call: wrap-up for wrapup ms, or idle at once.
local function finish(a, wrapup)
  a.ss, a.x = NOW, '0'
  if wrapup > 0 then
    a.s, a.e = 'wrap_up', NOW + wrapup
  else
    a.s, a.c, a.e, a.is = 'idle', '', 0, NOW
  end
end
