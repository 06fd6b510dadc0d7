-- ARGV[3] agent, ARGV[4] call UUID, ARGV[5] wrap-up ms. Returns 1, or 0
-- when the agent is not in this call.
local a = load(ARGV[3])
normalize(a)
if a.s ~= 'in_call' or a.c ~= ARGV[4] or a.x == '1' then
  return 0
end
finish(a, tonumber(ARGV[5]))
save(a)
return 1
