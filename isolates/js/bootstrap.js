'use strict';
// The `kiln` API scaffolding. This script runs once, when the startup
// snapshot is built; every tenant context starts with its result already on
// the heap. The native half of the API is bound per context by the host,
// which calls `__kilnInstall(native)` once, before any tenant code runs.
//
// Tenant code runs in the same realm and may replace any global or
// prototype method (`ArrayBuffer.prototype.transferToImmutable`,
// `Array.prototype[Symbol.iterator]`, `Array.from`...). So everything this
// script needs later is captured now, while the snapshot is made (Node's
// `primordials`), and nothing here looks a built-in up, spreads, or
// iterates at call time. Most of the API is the native bindings
// themselves; only `get` and `put` need JavaScript.
(function () {
  const uncurryThis = Function.prototype.bind.bind(Function.prototype.call);
  // V8 installs flag-gated built-ins such as `transferToImmutable` in each
  // context made from the snapshot, not in the snapshot itself: it is
  // captured in `__kilnInstall`, which also runs before any tenant code.
  let transferToImmutable = null;
  const arrayFill = uncurryThis(Array.prototype.fill);
  const Uint8ArrayCtor = Uint8Array;
  const ArrayCtor = Array;
  const arrayFrom = Array.from;
  const arrayToReversed = Array.prototype.toReversed;
  const arrayWith = Array.prototype.with;
  const ObjectCtor = Object;
  const TypeErrorCtor = TypeError;
  const RangeErrorCtor = RangeError;
  const ReflectApply = Reflect.apply;
  const SymbolIterator = Symbol.iterator;
  const ObjectDefineProperty = Object.defineProperty;
  const ObjectFreeze = Object.freeze;
  const MathMin = Math.min;
  const MathMax = Math.max;
  const MathTrunc = Math.trunc;

  // Array.prototype.fill walks its range in C++ without ever checking for
  // termination: `new Array(1.5e8).fill(0)` ran for seconds past its CPU
  // budget and grew the heap to 1.2 GB after the call had been terminated.
  // This version hands the built-in at most FILL_CHUNK elements at a time;
  // the loop between chunks is JavaScript, where a termination lands.
  const FILL_CHUNK = 1 << 16;
  const MAX_SAFE_LENGTH = 2 ** 53 - 1;
  function toIntegerOrInfinity(value) {
    return MathTrunc(+value) || 0;
  }
  function relativeIndex(value, length, fallback) {
    if (value === undefined) return fallback;
    const n = toIntegerOrInfinity(value);
    return n < 0 ? MathMax(length + n, 0) : MathMin(n, length);
  }
  const fill = {
    fill(value, start, end) {
      if (this === null || this === undefined) {
        throw new TypeErrorCtor('Array.prototype.fill called on null or undefined');
      }
      const object = ObjectCtor(this);
      const length = toLength(object.length);
      let k = relativeIndex(start, length, 0);
      const final = relativeIndex(end, length, length);
      while (k < final) {
        const next = MathMin(k + FILL_CHUNK, final);
        arrayFill(object, value, k, next);
        k = next;
      }
      return object;
    },
  }.fill;
  ObjectDefineProperty(fill, 'length', { value: 1 });
  ObjectDefineProperty(Array.prototype, 'fill', {
    value: fill, writable: true, enumerable: false, configurable: true,
  });

  // Array.from over an array-like, toReversed and with make a new array of
  // the source's `length` element by element, in Torque, without checking
  // for termination either: `Array.from({ length: 2 ** 32 - 1 })` held its
  // core for 13 s and 1.2 GB, `toReversed` of such an array for 12 s and
  // 1.5 GB. Up to FILL_CHUNK elements the built-in still does the work (a
  // `length` getter then runs twice); a longer one is built here, where the
  // loop can be stopped. Elements are defined, not assigned, as the spec's
  // CreateDataPropertyOrThrow does (no setter on Array.prototype runs).
  function toLength(value) {
    return MathMin(MathMax(toIntegerOrInfinity(value), 0), MAX_SAFE_LENGTH);
  }
  function defineElement(array, index, value) {
    ObjectDefineProperty(array, index, {
      __proto__: null, value, writable: true, enumerable: true, configurable: true,
    });
  }
  function newArray(length) {
    if (length > 2 ** 32 - 1) throw new RangeErrorCtor('Invalid array length');
    return new ArrayCtor(length);
  }
  function receiver(value, name) {
    if (value === null || value === undefined) {
      throw new TypeErrorCtor('Array.prototype.' + name + ' called on null or undefined');
    }
    return ObjectCtor(value);
  }
  const from = {
    from(items, mapFn, thisArg) {
      // A subclass, an iterable, a bad mapFn: the built-in's own path.
      if ((typeof this === 'function' && this !== ArrayCtor) || items === null
          || items === undefined || (mapFn !== undefined && typeof mapFn !== 'function')
          || items[SymbolIterator] != null) {
        return ReflectApply(arrayFrom, this, arguments);
      }
      const arrayLike = ObjectCtor(items);
      const length = toLength(arrayLike.length);
      if (length <= FILL_CHUNK) return ReflectApply(arrayFrom, this, arguments);
      const result = newArray(length);
      for (let k = 0; k < length; k++) {
        const value = arrayLike[k];
        defineElement(result, k, mapFn === undefined ? value : ReflectApply(mapFn, thisArg, [value, k]));
      }
      result.length = length;
      return result;
    },
  }.from;
  ObjectDefineProperty(from, 'length', { value: 1 });
  ObjectDefineProperty(ArrayCtor, 'from', {
    value: from, writable: true, enumerable: false, configurable: true,
  });
  const changeByCopy = {
    toReversed() {
      const object = receiver(this, 'toReversed');
      const length = toLength(object.length);
      if (length <= FILL_CHUNK) return ReflectApply(arrayToReversed, object, []);
      const result = newArray(length);
      for (let k = 0; k < length; k++) defineElement(result, k, object[length - k - 1]);
      return result;
    },
    with(index, value) {
      const object = receiver(this, 'with');
      const length = toLength(object.length);
      if (length <= FILL_CHUNK) return ReflectApply(arrayWith, object, [index, value]);
      const relative = toIntegerOrInfinity(index);
      const actual = relative >= 0 ? relative : length + relative;
      if (actual >= length || actual < 0) throw new RangeErrorCtor('Invalid index : ' + relative);
      const result = newArray(length);
      for (let k = 0; k < length; k++) defineElement(result, k, k === actual ? value : object[k]);
      return result;
    },
  };
  ObjectDefineProperty(changeByCopy.with, 'length', { value: 2 });
  for (const name of ['toReversed', 'with']) {
    ObjectDefineProperty(Array.prototype, name, {
      value: changeByCopy[name], writable: true, enumerable: false, configurable: true,
    });
  }

  let native = null;

  const kiln = {
    registerFunction: null,
    get(key) {
      const buffer = native.get(key);
      return buffer === null ? null : new Uint8ArrayCtor(transferToImmutable(buffer));
    },
    getString: null,
    put(key, value, options) {
      const ttlMs = options?.ttlMs;
      return ttlMs === undefined ? native.put(key, value) : native.putTtl(key, value, ttlMs);
    },
    del: null,
    exists: null,
    incr: null,
    mget: null,
    call: null,
    rawKeys: null,
    rawArgs: null,
  };

  ObjectDefineProperty(globalThis, 'kiln', { value: kiln, enumerable: true });
  ObjectDefineProperty(globalThis, '__kilnInstall', {
    configurable: true,
    value(bindings) {
      transferToImmutable = uncurryThis(ArrayBuffer.prototype.transferToImmutable);
      native = ObjectFreeze(bindings);
      kiln.registerFunction = bindings.registerFunction;
      kiln.getString = bindings.getString;
      kiln.del = bindings.del;
      kiln.exists = bindings.exists;
      kiln.incr = bindings.incr;
      kiln.mget = bindings.mget;
      kiln.call = bindings.call;
      kiln.rawKeys = bindings.rawKeys;
      kiln.rawArgs = bindings.rawArgs;
      ObjectFreeze(kiln);
      delete globalThis.__kilnInstall;
    },
  });
})();
