-- ARGV[3] agent, ARGV[4] channel UUID, ARGV[5] "1" when the call starts,
-- "0" when it ends, ARGV[6] longest call ms, ARGV[7] wrap-up ms.
-- Returns 1, or 0 when nothing changed because the agent is held by one of
-- our calls or by another channel.
local a = load(ARGV[3])
normalize(a)
local channel = ARGV[4]
if ARGV[5] == '1' then
  if a.s == 'in_call' and a.c == channel then
    return 1
  end
  if a.s ~= 'idle' and a.s ~= 'wrap_up' then
    return 0
  end
  a.s, a.c, a.x, a.e, a.ss = 'in_call', channel, '1', NOW + tonumber(ARGV[6]), NOW
  save(a)
  return 1
end
if a.s ~= 'in_call' or a.c ~= channel or a.x ~= '1' then
  return 0
end
finish(a, tonumber(ARGV[7]))
save(a)
return 1
