-- Shared by every presence script (the Go side prepends it).
-- KEYS[1] set of known agent IDs, KEYS[2] zset of agents offerable now
-- (score: idle since, ms), KEYS[3] zset of online agents that become
-- offerable at a known time (score: that time, ms).
-- ARGV[1] agent hash key prefix, ARGV[2] "1" when registration is required.
-- Every expiry decision uses NOW, the Redis server clock.
local AGENTS, IDLE, PENDING = KEYS[1], KEYS[2], KEYS[3]
local PREFIX = ARGV[1]
local REQREG = ARGV[2] == '1'
local clock = redis.call('TIME')
local NOW = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- Agent hash fields: st status, s state, reg registered, c call or channel
-- holding the agent, x "1" when that is an outside call, e state expiry,
-- ss state since, is idle since, na consecutive no-answers, r reason,
-- ra ready at (post-failure delay), rc registration changed at.
local FIELDS = {'st', 's', 'reg', 'c', 'x', 'e', 'ss', 'is', 'na', 'r', 'ra', 'rc'}

local function ms(n)
  return string.format('%d', n)
end

local function load(id)
  local v = redis.call('HMGET', PREFIX .. id, unpack(FIELDS))
  local a = {id = id, known = v[1] ~= false}
  if not a.known then
    a.st, a.s, a.reg, a.c, a.x, a.r = 'logged_out', 'idle', '0', '', '0', ''
    a.e, a.ss, a.is, a.na, a.ra, a.rc = 0, NOW, NOW, 0, 0, 0
    return a
  end
  a.st, a.s, a.reg, a.c, a.x, a.r = v[1], v[2], v[3], v[4], v[5], v[10]
  a.e, a.ss, a.is = tonumber(v[6]), tonumber(v[7]), tonumber(v[8])
  a.na, a.ra, a.rc = tonumber(v[9]), tonumber(v[11]), tonumber(v[12])
  return a
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
  redis.call('HSET', PREFIX .. a.id, 'st', a.st, 's', a.s, 'reg', a.reg,
    'c', a.c, 'x', a.x, 'e', ms(a.e), 'ss', ms(a.ss), 'is', ms(a.is),
    'na', ms(a.na), 'r', a.r, 'ra', ms(a.ra), 'rc', ms(a.rc))
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
