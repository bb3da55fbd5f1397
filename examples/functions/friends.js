#!js name=friends
// Friends of friends over adjacency lists. Each user's friends are a JSON
// array at `{<graph>}:friends:<user>`; the hash tag keeps one graph on one
// core, so a function can walk it without leaving the core.
// `FCALL befriend 1 {g}:friends:alice bob` links both ways;
// `FCALL_RO friends_of_friends 1 {g}:friends:alice` lists people two hops
// away who are not already friends.

function friendsKey(someKey, user) {
  const tag = someKey.slice(0, someKey.indexOf('}') + 1);
  return `${tag}:friends:${user}`;
}

function userOf(key) {
  return key.slice(key.lastIndexOf(':') + 1);
}

function friends(key) {
  const text = kiln.getString(key);
  return text === null ? [] : JSON.parse(text);
}

kiln.registerFunction('befriend', (keys, args) => {
  const [key] = keys;
  const me = userOf(key);
  for (const other of args) {
    const otherKey = friendsKey(key, other);
    for (const [k, who] of [[key, other], [otherKey, me]]) {
      const list = friends(k);
      if (!list.includes(who)) {
        list.push(who);
        kiln.put(k, JSON.stringify(list));
      }
    }
  }
  return friends(key).length;
});

kiln.registerFunction('friends_of_friends', (keys) => {
  const [key] = keys;
  const me = userOf(key);
  const direct = new Set(friends(key));
  const found = new Set();
  for (const friend of direct) {
    for (const candidate of friends(friendsKey(key, friend))) {
      if (candidate !== me && !direct.has(candidate)) found.add(candidate);
    }
  }
  return [...found].sort();
}, { flags: ['no-writes'] });
