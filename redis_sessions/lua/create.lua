-- create: write a new session, unless its key is taken.
--
-- KEYS[1]        the session's Redis key
-- KEYS[2]        optional: its user's index, which gets the session's entry
-- ARGV[1]        time to live in seconds, more than zero
-- ARGV[2]        now, unix seconds
-- ARGV[3]        the session key, as the index lists it
-- ARGV[4]        the index score (see index.lua), or '' with no KEYS[2]
-- ARGV[5..]      field, value, field, value, ...: the session's fields, the
--                created (#c) and last-saved (#m) times among them
--
-- Returns 1 when created; 0 when the key holds anything, a live session, a
-- tombstone or a value of another kind: the caller draws another key.

--! include lib/user_index.lua
--! include lib/slices.lua

local key = KEYS[1]
if redis.call('EXISTS', key) == 1 then
  return 0
end
call_in_slices('HSET', key, 5, #ARGV)
redis.call('EXPIRE', key, ARGV[1])
if KEYS[2] then
  set_index_entry(KEYS[2], tonumber(ARGV[2]), ARGV[3], ARGV[4])
end
return 1
