-- ARGV[3] agent, ARGV[4] "1" registered or "0".
local a = load(ARGV[3])
normalize(a)
if a.reg ~= ARGV[4] then
  a.reg, a.rc = ARGV[4], NOW
end
save(a)
return 1
