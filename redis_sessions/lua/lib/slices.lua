-- Run a command on a key with ARGV[first..last] as its arguments, a thousand at
-- a time: unpack() has a limit on how many values it can spread. A thousand is
-- even, so field/value and score/member pairs are never split.
local function call_in_slices(command, key, first, last)
  for from = first, last, 1000 do
    redis.call(command, key, unpack(ARGV, from, math.min(from + 999, last)))
  end
end
