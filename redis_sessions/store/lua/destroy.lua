-- destroy: replace a live session by a tombstone.
--
-- KEYS[1]        the session's Redis key
-- KEYS[2]        optional: its user's index, which loses the session's entry
-- ARGV[1]        seconds the tombstone lives
-- ARGV[2]        now, unix seconds: stored in the tombstone (#x)
-- ARGV[3]        a user id to destroy only a session of that user, or ''
-- ARGV[4]        why the session ends, a short code: stored in the tombstone (#r)
-- with KEYS[2], two more:
-- ARGV[5]        the session key, as the index lists it
-- ARGV[6]        '': its entry is taken out
--
-- The tombstone is a hash of three short fields at most: #x, #r, and the user
-- id the session had (#u), none for an anonymous one. What it holds is what a
-- later request that presents the ended session's key is told.
--
-- Returns the user id (#u) when a live session of a user was destroyed, 1 when
-- an anonymous one was, 0 when there was none to destroy (missing, expired,
-- already a tombstone, another user's, or a value this engine did not write,
-- which is left as it is). A tombstone is never extended.

--! include lib/user_index.lua

local key = KEYS[1]
if redis.pcall('HEXISTS', key, '#c') ~= 1 then
  return 0
end
local user_id = redis.call('HGET', key, '#u')
if ARGV[3] ~= '' and user_id ~= ARGV[3] then
  return 0
end
redis.call('DEL', key)
if user_id then
  redis.call('HSET', key, '#x', ARGV[2], '#r', ARGV[4], '#u', user_id)
else
  redis.call('HSET', key, '#x', ARGV[2], '#r', ARGV[4])
end
redis.call('EXPIRE', key, ARGV[1])
if KEYS[2] then
  set_index_entry(KEYS[2], tonumber(ARGV[2]), ARGV[5], ARGV[6])
end
return user_id or 1
