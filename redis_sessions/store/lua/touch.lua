-- touch: give a live session a new time to live, and nothing else.
--
-- KEYS[1]        the session's Redis key
-- ARGV[1]        time to live in seconds, more than zero
-- ARGV[2]        the new expiry, unix seconds
-- ARGV[3]        the score to record (#i) if the user index must move, or ''
--                when sessions are not indexed by user
-- ARGV[4]        now, unix seconds
-- ARGV[5]        the absolute lifetime in seconds, counted from the created
--                time (#c): the TTL never reaches past #c + ARGV[5]; 0 for none
--
-- Returns 0 when no live session is there (a tombstone is never extended and
-- nothing is created; a session past its absolute lifetime is deleted); 1
-- when touched; the user id when touched and the session's entry in that
-- user's index must move to ARGV[3].

--! include lib/lifetime.lua

local key = KEYS[1]
if redis.pcall('HEXISTS', key, '#c') ~= 1 then
  return 0
end
local ttl = capped_ttl(key, tonumber(ARGV[1]), tonumber(ARGV[4]), tonumber(ARGV[5]))
if not ttl then
  return 0
end
redis.call('EXPIRE', key, ttl)
local user_id = redis.call('HGET', key, '#u')
if user_id and ARGV[3] ~= '' and tonumber(redis.call('HGET', key, '#i') or '0') < tonumber(ARGV[2]) then
  redis.call('HSET', key, '#i', ARGV[3])
  return user_id
end
return 1
