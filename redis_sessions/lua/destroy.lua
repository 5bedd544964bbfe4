-- destroy: replace a live session by a tombstone.
--
-- KEYS[1]        the session's Redis key
-- ARGV[1]        seconds the tombstone lives
-- ARGV[2]        now, unix seconds: stored in the tombstone (#x)
--
-- Returns the user id (#u) when a live session of a user was destroyed, 1 when
-- an anonymous one was, 0 when there was none to destroy (missing, expired,
-- already a tombstone, or a value this engine did not write, which is left as
-- it is). A tombstone is never extended.

local key = KEYS[1]
if redis.pcall('HEXISTS', key, '#c') ~= 1 then
  return 0
end
local user_id = redis.call('HGET', key, '#u')
redis.call('DEL', key)
redis.call('HSET', key, '#x', ARGV[2])
redis.call('EXPIRE', key, ARGV[1])
return user_id or 1
