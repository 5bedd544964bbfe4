#!lua flags=no-writes,allow-cross-slot-keys
-- owned: which of a batch of keys hold a live session of one user.
--
-- KEYS[1..]      keys that SCAN returned for this prefix's session pattern, all
--                on one node (on Redis Cluster, of many slots of that node)
-- ARGV[1]        the user id (#u)
--
-- Returns the keys that hold a live session (#c) of that user. What finds a
-- user's sessions when they are not indexed by user: one call per SCAN batch.

local found = {}
for _, key in ipairs(KEYS) do
  -- pcall: a key of another type answers with an error (a table with .err).
  local fields = redis.pcall('HMGET', key, '#c', '#u')
  if fields.err == nil and fields[1] and fields[2] == ARGV[1] then
    found[#found + 1] = key
  end
end
return found
