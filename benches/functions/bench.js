#!js name=benchlib
// A trivial function and a read-modify-write of one key, the same work
// as bench.lua does in Redis (benches/vs-redis.sh loads both).
kiln.registerFunction('trivial', () => 1);
kiln.registerFunction('rmw', (keys) => {
  const v = Number(kiln.getString(keys[0]) ?? 0) + 1;
  kiln.put(keys[0], String(v));
  return v;
});
