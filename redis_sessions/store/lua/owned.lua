#!lua flags=no-writes,allow-cross-slot-keys
-- owned: which of a batch of keys hold a live session of one user.
--
-- ARGV[1]        the user id (#u)
-- ARGV[2..]      keys that SCAN returned for this prefix's session pattern
--                (as arguments: see count.lua)
--
-- Returns the keys that hold a live session (#c) of that user: what finds a
-- user's sessions when they are not indexed by user, one call per SCAN batch.

local found = {}
for i = 2, #ARGV do
  -- pcall: a key of another type answers with an error (a table with .err).
  local fields = redis.pcall('HMGET', ARGV[i], '#c', '#u')
  if fields.err == nil and fields[1] and fields[2] == ARGV[1] then
    found[#found + 1] = ARGV[i]
  end
end
return found
