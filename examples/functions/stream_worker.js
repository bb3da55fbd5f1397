#!js name=stream_worker
// A consumer-group worker that runs next to its stream:
// `FCALL work 2 <stream> <total> <group> <consumer> [count]` reads up to
// `count` (default 10) new entries for `consumer` of `group`
// (XREADGROUP ... >), adds each entry's `amount` field to the counter at
// <total>, acknowledges exactly the entries it processed (XACK) and
// returns how many. Put both keys under one hash tag (`{orders}` and
// `{orders}:total`) so they live on one core.

kiln.registerFunction('work', (keys, args) => {
  const [stream, total] = keys;
  const [group, consumer, count = '10'] = args;
  const read = kiln.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count,
    'STREAMS', stream, '>');
  if (read === null) {
    return 0;
  }
  // RESP3-shaped: { <stream>: [[id, [field, value, ...]], ...] }.
  const entries = Object.values(read)[0] ?? [];
  const done = [];
  for (const [id, fields] of entries) {
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (String(fields[i]) === 'amount') {
        kiln.incr(total, Number(String(fields[i + 1])));
      }
    }
    done.push(id);
  }
  if (done.length > 0) {
    kiln.call('XACK', stream, group, ...done);
  }
  return done.length;
});
