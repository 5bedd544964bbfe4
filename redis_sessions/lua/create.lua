-- create: write a new session, unless its key is taken.
--
-- KEYS[1]        the session's Redis key
-- ARGV[1]        time to live in seconds, more than zero
-- ARGV[2..]      field, value, field, value, ...: the session's fields, the
--                created (#c) and last-saved (#m) times among them
--
-- Returns 1 when created; 0 when the key holds anything, a live session, a
-- tombstone or a value of another kind: the caller draws another key.

local key = KEYS[1]
if redis.call('EXISTS', key) == 1 then
  return 0
end
-- HSET in slices: unpack() has a limit on how many values it can spread.
for first = 2, #ARGV, 1000 do
  redis.call('HSET', key, unpack(ARGV, first, math.min(first + 999, #ARGV)))
end
redis.call('EXPIRE', key, ARGV[1])
return 1
