-- KEYS[4] set of our live call UUIDs. ARGV[3] grace ms, ARGV[4] wrap-up ms,
-- ARGV[5] longest call ms, then per agent: ID, "1" when FreeSWITCH has it
-- registered, the channel UUID of its live call or "".
-- An agent whose registration or state changed within the grace period is
-- left alone: FreeSWITCH was asked before that change and its answer is
-- older than ours. Returns {agent, change, ...}.
local LIVE = KEYS[4]
local grace, wrapup, longest = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
local function note(id, what)
  out[#out + 1] = id
  out[#out + 1] = what
end
for j = 6, #ARGV, 3 do
  local id, reg, live = ARGV[j], ARGV[j + 1], ARGV[j + 2]
  local a = load(id)
  if a.known or reg == '1' or live ~= '' then
    normalize(a)
    local changed = not a.known
    if a.reg ~= reg and NOW - a.rc >= grace then
      a.reg, a.rc, changed = reg, NOW, true
      note(id, reg == '1' and 'registered' or 'unregistered')
    end
    if NOW - a.ss >= grace then
      local ours = a.s == 'reserved' or a.s == 'ringing' or (a.s == 'in_call' and a.x ~= '1')
      if ours then
        if redis.call('SISMEMBER', LIVE, a.c) == 0 then
          if a.s == 'in_call' then
            finish(a, wrapup)
          else
            a.s, a.c, a.e, a.ss = 'idle', '', 0, NOW
          end
          changed = true
          note(id, 'released')
        end
      elseif a.s == 'in_call' then
        if live == '' then
          finish(a, wrapup)
          changed = true
          note(id, 'ended')
        elseif live ~= a.c then
          a.c, changed = live, true
        end
      elseif live ~= '' then
        a.s, a.c, a.x, a.e, a.ss = 'in_call', live, '1', NOW + longest, NOW
        changed = true
        note(id, 'started')
      end
    end
    if changed then
      save(a)
    else
      reindex(a)
    end
  end
end
return out
