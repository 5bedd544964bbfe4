#!lua flags=no-writes,allow-cross-slot-keys
-- count: how many of a batch of keys hold a live session.
--
-- KEYS[1..]      keys that SCAN returned for this prefix's session pattern
--
-- Returns the number of them that are live sessions (they have a created
-- time, #c). Tombstones, missing keys, hashes this engine did not write and
-- keys of other types count as nothing. One call per SCAN batch: the keys are
-- checked on the server, with no reply per key. On Redis Cluster a batch
-- holds keys of one node, of many slots: hence the flag above.

local live = 0
for _, key in ipairs(KEYS) do
  -- pcall: a key of another type answers with an error, which is not 1.
  if redis.pcall('HEXISTS', key, '#c') == 1 then
    live = live + 1
  end
end
return live
