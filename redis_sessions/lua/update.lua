-- update: save the changes of a live session, field by field.
--
-- KEYS[1]        the session's Redis key
-- KEYS[2]        optional: its user's index, where the session's entry moves
-- ARGV[1]        time to live in seconds; zero or less deletes the session
-- ARGV[2]        '1' to delete every field this call does not set, apart from
--                the created time (the session was cleared); '0' otherwise
-- ARGV[3]        now, unix seconds
-- ARGV[4]        the session key, as the index lists it
-- ARGV[5]        the index score (see index.lua), or '' with no KEYS[2]
-- ARGV[6]        n, the number of field/value pairs that follow
-- ARGV[7..6+2n]  field, value, field, value, ...: fields to set, the
--                last-saved time (#m) first
-- ARGV[7+2n..]   fields to delete
--
-- Returns 1 when saved; 0 when no live session is there (never created, or
-- expired); -1 when a tombstone is there (destroyed). Nothing is written unless
-- it returns 1, so a session destroyed or expired by another request is never
-- brought back, however late this save comes.

--! include lib/user_index.lua
--! include lib/slices.lua

local key = KEYS[1]
-- pcall: a key of another type answers with an error, which is not 1.
if redis.pcall('HEXISTS', key, '#c') ~= 1 then
  if redis.pcall('HEXISTS', key, '#x') == 1 then
    return -1
  end
  return 0
end
local ttl = tonumber(ARGV[1])
if ttl <= 0 then
  redis.call('DEL', key)
  return 1
end
local last_set = 6 + 2 * tonumber(ARGV[6])
-- Writes come before deletes: when Redis is out of memory the first write is
-- refused, and then nothing at all has changed.
call_in_slices('HSET', key, 7, last_set)
call_in_slices('HDEL', key, last_set + 1, #ARGV)
if ARGV[2] == '1' then
  local keep = {['#c'] = true}
  for i = 7, last_set, 2 do
    keep[ARGV[i]] = true
  end
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if not keep[field] then
      redis.call('HDEL', key, field)
    end
  end
end
redis.call('EXPIRE', key, ttl)
if KEYS[2] then
  set_index_entry(KEYS[2], tonumber(ARGV[3]), ARGV[4], ARGV[5])
end
return 1
