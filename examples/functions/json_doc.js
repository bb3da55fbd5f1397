#!js name=json_doc
// JSON documents stored as strings, updated field by field next to the data:
// `FCALL json_set 1 <key> <path> <json value>` sets `path` (dot-separated,
// created as needed) and returns the new document;
// `FCALL_RO json_get 1 <key> <path>` returns the field as JSON.

function walk(doc, path, create) {
  const parts = path.split('.');
  const last = parts.pop();
  let node = doc;
  for (const part of parts) {
    if (typeof node[part] !== 'object' || node[part] === null) {
      if (!create) return [undefined, last];
      node[part] = {};
    }
    node = node[part];
  }
  return [node, last];
}

function load(key) {
  const text = kiln.getString(key);
  if (text === null) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new Error('WRONGTYPE the value at this key is not a JSON document');
  }
}

kiln.registerFunction('json_set', (keys, args) => {
  if (args.length !== 2) throw new Error('usage: FCALL json_set 1 <key> <path> <json value>');
  const doc = load(keys[0]);
  const [node, field] = walk(doc, args[0], true);
  node[field] = JSON.parse(args[1]);
  const text = JSON.stringify(doc);
  kiln.put(keys[0], text);
  return text;
});

kiln.registerFunction('json_get', (keys, args) => {
  const [node, field] = walk(load(keys[0]), args[0], false);
  const value = node === undefined ? undefined : node[field];
  return value === undefined ? null : JSON.stringify(value);
}, { flags: ['no-writes'] });
