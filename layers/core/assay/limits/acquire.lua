-- Check a windowed limit and take `amount` from it, atomically.
-- KEYS[1]: current window's counter; KEYS[2]: previous window's counter (sliding only)
-- ARGV: amount, limit, weight of the previous window, ttl of the counter in ms
-- Returns {allowed (0/1), current before, previous}. The caller computes the rest.
local amount = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local weight = tonumber(ARGV[3])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = 0
if weight > 0 then
  previous = tonumber(redis.call('GET', KEYS[2]) or '0')
end
if previous * weight + current + amount > limit then
  return {0, current, previous}
end
redis.call('INCRBY', KEYS[1], amount)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, current, previous}
