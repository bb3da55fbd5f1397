#!lua name=benchlib
-- The Lua twin of bench.js, for Redis 7: a trivial function and a
-- read-modify-write of one key (benches/vs-redis.sh loads it).
redis.register_function('trivial', function(keys, args) return 1 end)
redis.register_function('rmw', function(keys, args)
  local v = tonumber(redis.call('GET', keys[1]) or '0') + 1
  redis.call('SET', keys[1], tostring(v))
  return v
end)
