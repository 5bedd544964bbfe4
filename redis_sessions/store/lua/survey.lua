#!lua flags=no-writes,allow-cross-slot-keys
-- survey: what the store's statistics need to know of a batch of keys.
--
-- ARGV[1]        n, the number of session keys
-- ARGV[2]        now, unix seconds: index entries scored at or before it
--                belong to expired sessions and are not counted
-- ARGV[3]        how many live sessions to measure with MEMORY USAGE, at
--                most: the first ones of the batch
-- ARGV[4..3+n]   session keys (live sessions, tombstones, or anything else
--                that SCAN returned for this prefix's session pattern)
-- ARGV[4+n..]    user index keys
--
-- The keys come as arguments: see count.lua.
--
-- Returns a flat array: for each session key, three values: its kind (1 a
-- live session, 2 a tombstone, 0 anything else), its user id (#u, nil when
-- anonymous or not live) and its TTL in seconds (-1 when it never expires;
-- only for a live session, else 0); then, for each index key, how many of its
-- entries belong to unexpired sessions; then the number of sessions measured
-- and the sum of their MEMORY USAGE in bytes. Reads only.

local sessions = tonumber(ARGV[1])
local now = ARGV[2]
local to_measure = tonumber(ARGV[3])
local measured, bytes = 0, 0
local out = {}
for i = 4, 3 + sessions do
  local key = ARGV[i]
  local kind, user_id, ttl = 0, false, 0
  -- pcall: a key of another type answers with an error (a table with .err).
  local fields = redis.pcall('HMGET', key, '#c', '#u', '#x')
  if fields.err == nil then
    if fields[1] then
      kind, user_id = 1, fields[2]
      ttl = redis.call('TTL', key)
      if measured < to_measure then
        measured = measured + 1
        bytes = bytes + (redis.call('MEMORY', 'USAGE', key) or 0)
      end
    elseif fields[3] then
      kind = 2
    end
  end
  out[#out + 1] = kind
  out[#out + 1] = user_id
  out[#out + 1] = ttl
end
for i = 4 + sessions, #ARGV do
  local entries = redis.pcall('ZCOUNT', ARGV[i], '(' .. now, '+inf')
  if type(entries) ~= 'number' then
    entries = 0  -- not a sorted set: not an index of this engine
  end
  out[#out + 1] = entries
end
out[#out + 1] = measured
out[#out + 1] = bytes
return out
