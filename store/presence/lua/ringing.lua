-- ARGV[3] agent, ARGV[4] call UUID, ARGV[5] TTL ms. Returns 1, or 0 when
-- the agent is not reserved or ringing for this call.
local a = load(ARGV[3])
normalize(a)
if not held(a, ARGV[4]) then
  return 0
end
if a.s ~= 'ringing' then
  a.s, a.ss = 'ringing', NOW
end
a.e = NOW + tonumber(ARGV[5])
save(a)
return 1
