-- ARGV[3] agent, ARGV[4] status, ARGV[5] reason.
-- Coming back to available starts a fresh idle period, so an agent back
-- from a break does not jump the queue, and clears the no-answer count.
local a = load(ARGV[3])
normalize(a)
local st = ARGV[4]
if st == 'available' then
  if a.st ~= 'available' and a.s == 'idle' then
    a.is, a.ss = NOW, NOW
  end
  a.na = 0
end
a.st, a.r = st, ARGV[5]
save(a)
return 1
