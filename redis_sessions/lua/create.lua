-- create: write a new session, unless its key is taken.
--
-- KEYS[1]        the session's Redis key
-- ARGV[1]        time to live in seconds; zero or less writes nothing (the
--                session would expire at once) but still counts as created
-- ARGV[2]        now, unix seconds: stored as created (#c) and last saved (#m)
-- ARGV[3..]      field, value, field, value, ...
--
-- Returns 1 when created; 0 when the key holds anything, a live session, a
-- tombstone or a value of another kind: the caller draws another key.

local key = KEYS[1]
if redis.call('EXISTS', key) == 1 then
  return 0
end
local ttl = tonumber(ARGV[1])
if ttl <= 0 then
  return 1
end
redis.call('HSET', key, '#c', ARGV[2], '#m', ARGV[2])
-- HSET in slices: unpack() has a limit on how many values it can spread.
for first = 3, #ARGV, 1000 do
  redis.call('HSET', key, unpack(ARGV, first, math.min(first + 999, #ARGV)))
end
redis.call('EXPIRE', key, ttl)
return 1
