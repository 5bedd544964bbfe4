#!lua flags=allow-cross-slot-keys,allow-oom
-- unlink: delete a batch of keys: sessions, tombstones and user indexes.
--
-- ARGV[1..]      the keys to delete, found by SCAN under this prefix (as
--                arguments: see count.lua; allow-oom, so that a full server
--                can still be emptied)
--
-- Returns how many keys were deleted.

local deleted = 0
for _, key in ipairs(ARGV) do
  deleted = deleted + redis.call('UNLINK', key)
end
return deleted
