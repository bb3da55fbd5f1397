'use strict';
// The `kiln` API scaffolding. This script runs once, when the startup
// snapshot is built; every tenant context starts with its result already on
// the heap. The native half of the API is bound per context by the host,
// which calls `__kilnInstall(native)` once and keeps the hooks it returns.
(function () {
  const FLAGS = new Set([
    'no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys',
  ]);
  const NAME = /^[A-Za-z0-9_]+$/;
  let native = null;
  let registering = null;

  function registerFunction(name, fn, options) {
    if (registering === null) {
      throw new Error('kiln.registerFunction can only be called on FUNCTION LOAD command');
    }
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new Error('Function names can only contain letters, numbers, or underscores(_) and must be at least one character long');
    }
    if (typeof fn !== 'function') {
      throw new Error('kiln.registerFunction: the second argument must be a function');
    }
    if (registering.has(name)) {
      throw new Error('Function already exists in the library');
    }
    const flags = [];
    let description = null;
    if (options !== undefined && options !== null) {
      if (typeof options !== 'object') {
        throw new Error('kiln.registerFunction: options must be an object');
      }
      for (const flag of options.flags ?? []) {
        if (!FLAGS.has(flag)) throw new Error('Unknown flag given: ' + flag);
        flags.push(flag);
      }
      if (options.description !== undefined && options.description !== null) {
        description = String(options.description);
      }
    }
    registering.set(name, [name, fn, flags, description]);
  }

  const kiln = {
    registerFunction,
    get(key) {
      const buffer = native.get(key);
      return buffer === null ? null : new Uint8Array(buffer.transferToImmutable());
    },
    getString(key) { return native.getString(key); },
    put(key, value, options) {
      const ttlMs = options?.ttlMs;
      return ttlMs === undefined ? native.put(key, value) : native.putTtl(key, value, ttlMs);
    },
    del(key) { return native.del(key); },
    exists(key) { return native.exists(key); },
    incr(key, by) { return native.incr(key, by ?? 1); },
    mget(...keys) { return native.mget(keys.length === 1 && Array.isArray(keys[0]) ? keys[0] : keys); },
    call(command, ...args) { return native.call(command, ...args); },
    rawKeys() { return native.rawKeys(); },
    rawArgs() { return native.rawArgs(); },
  };

  Object.defineProperty(globalThis, 'kiln', { value: kiln, enumerable: true });
  Object.defineProperty(globalThis, '__kilnInstall', {
    configurable: true,
    value(bindings) {
      native = bindings;
      Object.freeze(kiln);
      delete globalThis.__kilnInstall;
      return {
        begin() { registering = new Map(); },
        end() {
          const registered = registering;
          registering = null;
          return Array.from(registered.values());
        },
      };
    },
  });
})();
