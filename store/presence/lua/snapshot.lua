-- ARGV[3..] agents. Read-only. Returns, per agent: {known,
-- status, state, registered, online, state since, idle since, call,
-- outside call, no-answers, reason, ready at, state expiry}.
local out = {}
local keys = {}
for j = 3, #ARGV do
  keys[#keys + 1] = PREFIX .. ARGV[j]
end
local raws = mget(keys)
for j = 3, #ARGV do
  local a = decode(ARGV[j], raws[j - 2])
  normalize(a)
  local ra = a.ra
  if ra <= NOW then ra = 0 end
  local n = #out
  out[n + 1] = a.known and 1 or 0
  out[n + 2] = a.st
  out[n + 3] = a.s
  out[n + 4] = a.reg
  out[n + 5] = online(a) and 1 or 0
  out[n + 6] = a.ss
  out[n + 7] = a.is
  out[n + 8] = a.c
  out[n + 9] = a.x
  out[n + 10] = a.na
  out[n + 11] = a.r
  out[n + 12] = ra
  out[n + 13] = a.e
end
return out
