-- ARGV[3] agent, ARGV[4] call UUID, ARGV[5] longest call ms. Returns 1, or
-- 0 when the agent is not held by this call. A repeated answer is a no-op.
local a = load(ARGV[3])
normalize(a)
if a.s == 'in_call' and a.c == ARGV[4] and a.x ~= '1' then
  return 1
end
if not held(a, ARGV[4]) then
  return 0
end
a.s, a.ss, a.e, a.na = 'in_call', NOW, NOW + tonumber(ARGV[5]), 0
save(a)
return 1
