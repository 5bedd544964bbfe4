-- The user index, shared by the scripts that keep it (see index.lua).
--
-- An index is a sorted set of one user's session keys, each scored by a time
-- at or after which that session has surely expired.

-- Remove the entries whose time has passed.
local function prune_index(index, now)
  return redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
end

-- Let the index expire with its last entry (an empty one is gone already).
local function expire_index(index, now)
  local last = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  if #last > 0 then
    redis.call('EXPIRE', index, math.max(1, math.floor(tonumber(last[2]) - now + 1)))
  end
end

-- Add or move one entry (score ~= ''), or remove it (score == '').
local function set_index_entry(index, now, member, score)
  prune_index(index, now)
  if score == '' then
    redis.call('ZREM', index, member)
  else
    redis.call('ZADD', index, score, member)
  end
  expire_index(index, now)
end
