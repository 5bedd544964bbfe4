-- index: one user's live session keys, each scored by a bound on its expiry.
--
-- KEYS[1]        the user's index key
-- ARGV[1]        now, unix seconds
-- ARGV[2]        n, the number of score/member pairs that follow
-- ARGV[3..2+2n]  score, session key, ...: entries to add or move; a score is
--                a time at or after which that session has surely expired
-- ARGV[3+2n..]   session keys to remove
--
-- Entries whose score has passed are pruned first, so the index never holds
-- more than the user's unexpired sessions; the key itself expires with its
-- last entry. Returns the number of entries pruned.

local key = KEYS[1]
local now = tonumber(ARGV[1])
local pruned = redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
local last_add = 2 + 2 * tonumber(ARGV[2])
-- Slices of 1000: unpack() has a limit on how many values it can spread.
for first = 3, last_add, 1000 do
  redis.call('ZADD', key, unpack(ARGV, first, math.min(first + 999, last_add)))
end
for first = last_add + 1, #ARGV, 1000 do
  redis.call('ZREM', key, unpack(ARGV, first, math.min(first + 999, #ARGV)))
end
local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if #top > 0 then
  redis.call('EXPIRE', key, math.max(1, math.floor(tonumber(top[2]) - now + 1)))
end
return pruned
