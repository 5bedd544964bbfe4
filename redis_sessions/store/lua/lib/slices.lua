-- Run a command on a key with ARGV[first..last] as its arguments, a thousand at
-- a time: unpack() has a limit on how many values it can spread. A thousand is
-- even, so field/value and score/member pairs are never split.
local function call_in_slices(command, key, first, last)
  for from = first, last, 1000 do
    redis.call(command, key, unpack(ARGV, from, math.min(from + 999, last)))
  end
end

-- HSET one field and value, and the field/value pairs of ARGV[first..last],
-- in as few calls as call_in_slices makes: the field rides with the first slice.
local function hset_in_slices(key, field, value, first, last)
  local upto = math.min(first + 997, last)
  redis.call('HSET', key, field, value, unpack(ARGV, first, upto))
  call_in_slices('HSET', key, upto + 1, last)
end
