-- create: write a new session, unless its key is taken.
--
-- KEYS[1]        the session's Redis key
-- KEYS[2]        optional: its user's index, which gets the session's entry
-- ARGV[1]        time to live in seconds, more than zero (the caller keeps it
--                within the session's absolute lifetime, if there is one)
-- ARGV[2]        now, unix seconds
-- ARGV[3]        the created time (#c), unix seconds: now, or the earlier one
--                that a session keeps through a change of key
-- ARGV[4..]      field, value, field, value, ...: the session's fields
-- with KEYS[2], two more at the end:
-- ARGV[#ARGV-1]  the session key, as the index lists it
-- ARGV[#ARGV]    its index score (see index.lua)
--
-- Returns 1 when created; 0 when the key holds anything, a live session, a
-- tombstone or a value of another kind: the caller draws another key. A new
-- session has no last-saved time (#m) until its first save.

--! include lib/user_index.lua
--! include lib/slices.lua

local key = KEYS[1]
if redis.call('EXISTS', key) == 1 then
  return 0
end
local last = KEYS[2] and #ARGV - 2 or #ARGV
hset_in_slices(key, '#c', ARGV[3], 4, last)
redis.call('EXPIRE', key, ARGV[1])
if KEYS[2] then
  set_index_entry(KEYS[2], tonumber(ARGV[2]), ARGV[#ARGV - 1], ARGV[#ARGV])
end
return 1
