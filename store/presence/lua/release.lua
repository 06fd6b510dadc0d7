-- ARGV[3] agent, ARGV[4] call UUID, ARGV[5] why (no_answer, busy, rejected,
-- unreachable or ""), ARGV[6] no-answers before a break (0: never),
-- ARGV[7..9] delay ms after no answer, busy, rejected.
-- Returns 0 when the agent is not reserved or ringing for this call, 1 when
-- released, 2 when released onto break for too many no-answers.
local a = load(ARGV[3])
normalize(a)
if not held(a, ARGV[4]) then
  return 0
end
local why, cap = ARGV[5], tonumber(ARGV[6])
local delay = 0
local res = 1
if why == 'no_answer' then
  a.na = a.na + 1
  delay = tonumber(ARGV[7])
  if cap > 0 and a.na >= cap then
    a.st, a.r = 'break', 'max_no_answer'
    res = 2
  end
elseif why == 'busy' then
  delay = tonumber(ARGV[8])
elseif why == 'rejected' then
  delay = tonumber(ARGV[9])
end
if delay > 0 then
  a.ra = NOW + delay
end
-- A call the agent's phone turned down was still offered: like
-- mod_callcenter's last_offered_call, it sends the agent to the back of the
-- longest-idle order, or a phone that is always busy or never answers would
-- head it and take every caller's first tries. A reservation never rung
-- (why "") was no offer.
if why ~= '' then
  a.is = NOW
end
a.s, a.c, a.x, a.e, a.ss = 'idle', '', '0', 0, NOW
save(a)
return res
