-- Correct a reservation: add `delta` (actual - reserved) to its window, never below zero,
-- and never resurrect a window that has already expired.
-- KEYS[1]: the reservation's window counter; ARGV[1]: delta
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if value < 0 then
  redis.call('SET', KEYS[1], 0, 'KEEPTTL')
end
return 1
