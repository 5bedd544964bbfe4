-- update: save the changes of a live session, field by field.
--
-- KEYS[1]        the session's Redis key
-- KEYS[2]        optional: its user's index, where the session's entry moves
-- ARGV[1]        time to live in seconds; zero or less deletes the session
-- ARGV[2]        '1' to delete every field this call does not set, apart from
--                the created time (the session was cleared); '0' otherwise
-- ARGV[3]        now, unix seconds: the last-saved time (#m)
-- ARGV[4]        the absolute lifetime in seconds, counted from the created
--                time (#c): the TTL never reaches past #c + ARGV[4]; 0 for none
-- ARGV[5]        n, the number of field/value pairs that follow
-- ARGV[6..5+2n]  field, value, field, value, ...: fields to set
-- ARGV[6+2n..]   fields to delete
-- with KEYS[2], two more at the end:
-- ARGV[#ARGV-1]  the session key, as the index lists it
-- ARGV[#ARGV]    its index score (see index.lua)
--
-- Returns 1 when saved; 0 when no live session is there (never created,
-- expired, or past its absolute lifetime, which this call then deletes); -1
-- when a tombstone is there (destroyed). Nothing else is written unless it
-- returns 1, so a session destroyed or expired by another request is never
-- brought back, however late this save comes.

--! include lib/user_index.lua
--! include lib/slices.lua
--! include lib/lifetime.lua

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
ttl = capped_ttl(key, ttl, tonumber(ARGV[3]), tonumber(ARGV[4]))
if not ttl then
  return 0
end
local last_set = 5 + 2 * tonumber(ARGV[5])
local last = KEYS[2] and #ARGV - 2 or #ARGV
-- Writes come before deletes: when Redis is out of memory the first write is
-- refused, and then nothing at all has changed.
hset_in_slices(key, '#m', ARGV[3], 6, last_set)
call_in_slices('HDEL', key, last_set + 1, last)
if ARGV[2] == '1' then
  local keep = {['#c'] = true, ['#m'] = true}
  for i = 6, last_set, 2 do
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
  set_index_entry(KEYS[2], tonumber(ARGV[3]), ARGV[#ARGV - 1], ARGV[#ARGV])
end
return 1
