-- index: add, move and remove entries of one user's index of sessions.
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
--
-- The session scripts keep the index themselves when they are given its key;
-- this script serves bulk work (pruning, logging a user out everywhere).

--! include lib/user_index.lua
--! include lib/slices.lua

local key = KEYS[1]
local now = tonumber(ARGV[1])
local pruned = prune_index(key, now)
local last_add = 2 + 2 * tonumber(ARGV[2])
call_in_slices('ZADD', key, 3, last_add)
call_in_slices('ZREM', key, last_add + 1, #ARGV)
expire_index(key, now)
return pruned
