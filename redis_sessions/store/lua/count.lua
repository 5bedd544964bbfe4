#!lua flags=no-writes,allow-cross-slot-keys
-- count: how many of a batch of keys hold a live session.
--
-- ARGV[1..]      keys that SCAN returned for this prefix's session pattern
--
-- Returns the number of them that are live sessions (they have a created
-- time, #c). Tombstones, missing keys, hashes this engine did not write and
-- keys of other types count as nothing. One call per SCAN batch: the keys are
-- checked on the server, with no reply per key.
--
-- The bulk scripts take their keys as arguments, not as KEYS, and touch one
-- key per command: on Redis Cluster a SCAN batch holds keys of many slots of
-- one node, which a script may read only so (hence the flags above).

local live = 0
for _, key in ipairs(ARGV) do
  -- pcall: a key of another type answers with an error, which is not 1.
  if redis.pcall('HEXISTS', key, '#c') == 1 then
    live = live + 1
  end
end
return live
