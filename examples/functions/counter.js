#!js name=counter
// A counter that can expire: `FCALL hit 1 <key> [by] [ttlMs]` adds `by`
// (default 1) and, when the key is new, gives it a time to live.
// `FCALL_RO count 1 <key>` reads it.

kiln.registerFunction('hit', (keys, args) => {
  const [key] = keys;
  const by = Number(args[0] ?? 1);
  const ttlMs = args[1] === undefined ? undefined : Number(args[1]);
  const isNew = !kiln.exists(key);
  const value = kiln.incr(key, by);
  if (isNew && ttlMs !== undefined) {
    kiln.put(key, String(value), { ttlMs });
  }
  return value;
});

kiln.registerFunction('count', (keys) => Number(kiln.getString(keys[0]) ?? 0), {
  flags: ['no-writes'],
  description: 'The current count (0 when absent)',
});
