#!lua flags=allow-cross-slot-keys,allow-oom
-- unlink: delete a batch of keys, sessions, tombstones and user indexes.
--
-- KEYS[1..]      the keys to delete: SCAN found them under this prefix, all on
--                one node (on Redis Cluster they are of many slots of that
--                node, hence the flags; allow-oom, so that a full server can
--                still be emptied)
--
-- Returns how many keys were deleted.

local deleted = 0
for first = 1, #KEYS, 1000 do
  deleted = deleted + redis.call('UNLINK', unpack(KEYS, first, math.min(first + 999, #KEYS)))
end
return deleted
