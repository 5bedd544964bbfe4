-- The absolute lifetime of a session, shared by the scripts that extend one.

-- The TTL to give the live session at key: ttl, cut so that it ends no later
-- than its created time (#c) plus lifetime seconds (lifetime 0: not cut). nil
-- when the session is past that bound, or has no created time that reads as a
-- number; a session past its bound is deleted here, as its expiry would.
local function capped_ttl(key, ttl, now, lifetime)
  if lifetime <= 0 then
    return ttl
  end
  local created = tonumber(redis.call('HGET', key, '#c'))
  if not created then
    return nil
  end
  local left = created + lifetime - now
  if left <= 0 then
    redis.call('DEL', key)
    return nil
  end
  return math.min(ttl, left)
end
