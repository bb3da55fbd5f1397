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
  const Uint8ArrayCtor = Uint8Array;
  const ArrayCtor = Array;
  const ArrayPrototype = ArrayCtor.prototype;
  const ArrayIsArray = ArrayCtor.isArray;
  const arrayFrom = ArrayCtor.from;
  const ObjectCtor = Object;
  const ObjectDefineProperty = ObjectCtor.defineProperty;
  const ObjectGetOwnPropertyDescriptor = ObjectCtor.getOwnPropertyDescriptor;
  const ObjectGetPrototypeOf = ObjectCtor.getPrototypeOf;
  const ObjectSetPrototypeOf = ObjectCtor.setPrototypeOf;
  const ObjectHasOwn = ObjectCtor.hasOwn;
  const ObjectFreeze = ObjectCtor.freeze;
  const ProxyCtor = Proxy;
  const RegExpCtor = RegExp;
  const StringPrototype = String.prototype;
  const TypeErrorCtor = TypeError;
  const RangeErrorCtor = RangeError;
  const ReflectApply = Reflect.apply;
  const ReflectGet = Reflect.get;
  const WeakMapCtor = WeakMap;
  const weakMapGet = uncurryThis(WeakMapCtor.prototype.get);
  const weakMapSet = uncurryThis(WeakMapCtor.prototype.set);
  const SymbolIterator = Symbol.iterator;
  const SymbolSpecies = Symbol.species;
  const SymbolIsConcatSpreadable = Symbol.isConcatSpreadable;
  const SymbolSplit = Symbol.split;
  const SymbolMatch = Symbol.match;
  const MathMin = Math.min;
  const MathMax = Math.max;
  const MathTrunc = Math.trunc;
  const MathFloor = Math.floor;
  const stringIndexOf = uncurryThis(StringPrototype.indexOf);
  const stringSlice = uncurryThis(StringPrototype.slice);
  const stringCharCodeAt = uncurryThis(StringPrototype.charCodeAt);
  const regExpBuiltinExec = uncurryThis(RegExpCtor.prototype.exec);
  const TypedArrayPrototype = ObjectGetPrototypeOf(Uint8ArrayCtor.prototype);
  const typedArrayLengthGetter = ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, 'length').get;
  const typedArrayLength = uncurryThis(typedArrayLengthGetter);
  // The tag getter answers a typed array's type, and `undefined` for any
  // other value (a Proxy included), without running tenant code.
  const typedArrayTag = uncurryThis(
    ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, Symbol.toStringTag).get,
  );
  // `at` validates a typed array (not detached, not out of bounds) as every
  // %TypedArray%.prototype method does, and throws the same TypeError.
  const typedArrayValidate = uncurryThis(TypedArrayPrototype.at);
  const typedArrayPrototypes = { __proto__: null };
  for (const TypedArrayCtor of [
    Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
    Float32Array, Float64Array, BigInt64Array, BigUint64Array,
    ...(typeof Float16Array === 'function' ? [Float16Array] : []),
  ]) {
    typedArrayPrototypes[TypedArrayCtor.name] = TypedArrayCtor.prototype;
  }
  // The built-ins replaced below, as they were.
  const builtin = { __proto__: null };
  for (const name of [
    'indexOf', 'lastIndexOf', 'includes', 'join', 'toLocaleString', 'reverse', 'copyWithin',
    'slice', 'splice', 'concat', 'sort', 'toSpliced', 'every', 'some', 'forEach', 'map',
    'filter', 'reduce', 'reduceRight', 'shift', 'unshift', 'fill', 'toReversed', 'with',
  ]) {
    builtin[name] = ArrayPrototype[name];
  }
  const arrayFill = uncurryThis(builtin.fill);
  const arraySort = uncurryThis(builtin.sort);
  const typedArrayJoin = TypedArrayPrototype.join;
  const typedArrayToLocaleString = TypedArrayPrototype.toLocaleString;
  const stringSplit = StringPrototype.split;
  const regExpSplit = RegExpCtor.prototype[SymbolSplit];
  const regExpMatch = RegExpCtor.prototype[SymbolMatch];

  const MAX_SAFE_LENGTH = 2 ** 53 - 1;
  const MAX_ARRAY_LENGTH = 2 ** 32 - 1;
  // Array.prototype.fill walks its range in C++ without ever checking for
  // termination: `new Array(1.5e8).fill(0)` ran for seconds past its CPU
  // budget and grew the heap to 1.2 GB after the call had been terminated.
  // This version hands the built-in at most FILL_CHUNK elements at a time;
  // the loop between chunks is JavaScript, where a termination lands.
  const FILL_CHUNK = 1 << 16;

  // ---- Built-ins that walk a length without checking for termination ----
  //
  // V8's C++ and Torque built-ins that loop up to a receiver's `length`
  // (Array.prototype.indexOf, forEach, join, reverse, shift, unshift,
  // splice, sort...) never check for termination, so the CPU watchdog
  // cannot stop them: `Array.prototype.indexOf.call({ length: 2 ** 40 }, 1)`
  // ran for more than 10 minutes (release build), holding its core and every
  // tenant on it; a callback is not called for a hole, so
  // `forEach.call({ length: 2 ** 40 }, f)` never ran one line of JavaScript
  // either; `sort.call({ length: 2 ** 28 })` aborted the whole process
  // ("Fatal JavaScript out of memory: invalid array length"). Each one is
  // replaced by a guard: it reads `length` once, as the built-in would
  // (ToObject(this), then ToLength of `length`), and hands the built-in
  // only a walk it finishes quickly; a longer one runs here, as a
  // JavaScript loop implementing the method, which a termination stops.
  //
  // Bounds on the built-in's walk. A dense Array of ARRAY_SCAN elements is
  // 32 MiB, half the default heap cap, so no array a function can hold
  // densely with the default cap goes past it (a longer one, under a larger
  // cap, takes the slower loop here). A sparse (dictionary-mode) Array is
  // walked at ~60 ns an index by the slowest built-ins (splice, shift,
  // unshift, copyWithin), so 2^22 keeps the time past a budget under ~0.25 s
  // (2^25 would have allowed 2 s). Anything that is not an Array (an
  // array-like object, a string, a typed array, arguments) gets LIKE_SCAN
  // indices, ~5 ms at most.
  //
  // Not guarded: push, pop and at are O(1) in the length; keys, values and
  // entries are lazy; find, findIndex, findLast and findLastIndex call
  // their callback at every index, holes included, which checks for
  // termination (a built-in callback too: `find.call({ length: 2 ** 40 },
  // Boolean)` stops at its budget).
  const ARRAY_SCAN = 1 << 22;
  const LIKE_SCAN = FILL_CHUNK;
  // toLocaleString formats each number with ICU, ~10 us apiece.
  const LOCALE_SCAN = 64;
  // Strings longer than this are split and matched here.
  const STRING_SCAN = 1 << 20;

  function toIntegerOrInfinity(value) {
    return MathTrunc(+value) || 0;
  }
  function toLength(value) {
    return MathMin(MathMax(toIntegerOrInfinity(value), 0), MAX_SAFE_LENGTH);
  }
  function relativeIndex(value, length, fallback) {
    if (value === undefined) return fallback;
    const n = toIntegerOrInfinity(value);
    return n < 0 ? MathMax(length + n, 0) : MathMin(n, length);
  }
  function isObject(value) {
    return (typeof value === 'object' && value !== null) || typeof value === 'function';
  }
  function receiver(value, name) {
    if (value === null || value === undefined) {
      throw new TypeErrorCtor('Array.prototype.' + name + ' called on null or undefined');
    }
    return ObjectCtor(value);
  }
  function defineElement(array, index, value) {
    ObjectDefineProperty(array, index, {
      __proto__: null, value, writable: true, enumerable: true, configurable: true,
    });
  }
  function newArray(length) {
    if (length > MAX_ARRAY_LENGTH) throw new RangeErrorCtor('Invalid array length');
    return new ArrayCtor(length);
  }
  // A list this script fills by assignment: with no prototype, no setter a
  // tenant put on Array.prototype (or an index on Object.prototype) sees it.
  // `toArray` gives it Array.prototype when it is handed out, which is then
  // exactly what CreateArrayFromList makes.
  function newList() {
    return ObjectSetPrototypeOf([], null);
  }
  function toArray(list) {
    return ObjectSetPrototypeOf(list, ArrayPrototype);
  }
  const notConstructor = { __proto__: null, construct: () => notConstructor };
  // IsConstructor, without touching `value`: a Proxy has [[Construct]]
  // exactly when its target does, and this one's trap runs instead of it.
  function isConstructor(value) {
    if (typeof value !== 'function') return false;
    try {
      new (new ProxyCtor(value, notConstructor))();
      return true;
    } catch {
      return false;
    }
  }
  // ArraySpeciesCreate. `speciesIsArray` tells the caller the result is a
  // plain Array of this realm, which it may fill as a list (no code can see
  // it before it is returned).
  let speciesIsArray = false;
  function arraySpeciesCreate(original, length) {
    speciesIsArray = true;
    if (!ArrayIsArray(original)) return newArray(length);
    let C = original.constructor;
    if (isObject(C)) {
      C = C[SymbolSpecies];
      if (C === null) C = undefined;
    }
    if (C === undefined || C === ArrayCtor) return newArray(length);
    if (!isConstructor(C)) throw new TypeErrorCtor('object.constructor[Symbol.species] is not a constructor');
    speciesIsArray = false;
    return new C(length);
  }
  // Puts `value` at `index` of a result: by assignment into a plain Array
  // that has no prototype while it is filled, else CreateDataPropertyOrThrow.
  function put(array, plain, index, value) {
    if (plain) array[index] = value;
    else defineElement(array, index, value);
  }
  function startFill(array, plain) {
    if (plain) ObjectSetPrototypeOf(array, null);
  }
  function endFill(array, plain) {
    if (plain) ObjectSetPrototypeOf(array, ArrayPrototype);
  }

  // What a [[Get]] of `key` on `value` finds when every property on the way
  // is a data property (a lookup that runs no code), `undefined` when there
  // is none, NOT_PLAIN at a getter. Proxies on the way answer through their
  // traps; a built-in's walk over anything a Proxy answers for checks for
  // termination at each step, so what they answer cannot hold a core.
  const NOT_PLAIN = ObjectFreeze({ __proto__: null });
  function plainGet(value, key) {
    let object = value;
    for (;;) {
      const own = ObjectGetOwnPropertyDescriptor(object, key);
      if (own !== undefined) return ObjectHasOwn(own, 'value') ? own.value : NOT_PLAIN;
      object = ObjectGetPrototypeOf(object);
      if (object === null) return undefined;
    }
  }
  // Whether the `length` of `object`, not an Array, is its own data
  // property or a typed array's intrinsic getter on an untouched prototype
  // chain: read again, it gives the same value and runs no code.
  function lengthIsData(object) {
    const own = ObjectGetOwnPropertyDescriptor(object, 'length');
    if (own !== undefined) return ObjectHasOwn(own, 'value');
    const tag = typedArrayTag(object);
    if (tag === undefined) return false;
    const prototype = ObjectGetPrototypeOf(object);
    if (prototype !== typedArrayPrototypes[tag] || ObjectGetPrototypeOf(prototype) !== TypedArrayPrototype
        || ObjectGetOwnPropertyDescriptor(prototype, 'length') !== undefined) {
      return false;
    }
    const intrinsic = ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, 'length');
    return intrinsic !== undefined && ObjectHasOwn(intrinsic, 'get') && intrinsic.get === typedArrayLengthGetter;
  }
  // Whether a built-in handed `object`, whose `length` this guard read as
  // `raw` (ToLength: `length`), may run: it reads `length` again, and only
  // when that runs no code (no getter, no `valueOf`: code that could answer
  // 1 to the guard and 2^40 to the built-in) does it walk what was measured.
  // An Array's length is its own data property (a Proxy of one answers
  // through its traps, see plainGet).
  function builtinMayWalk(object, raw, length) {
    if (typeof raw === 'object' || typeof raw === 'function') return false;
    if (ArrayIsArray(object)) return length <= ARRAY_SCAN;
    return length <= LIKE_SCAN && lengthIsData(object);
  }
  // What a tenant can still tell apart from V8's own methods: a Proxy
  // receiver's `get` trap for `length` runs twice on the built-in's path
  // (the guard's read, then the built-in's; fill's, once a chunk), and its
  // getOwnPropertyDescriptor trap once for `length` when it is not a Proxy
  // of an Array; the JavaScript versions' TypeErrors have other messages; a
  // method's Function.prototype.toString is this source. A getter or
  // `valueOf` of a length runs once, as the spec has it (this script's
  // earlier fill, from, toReversed and with ran it twice).
  function lengthIsStable(object, raw) {
    if (typeof raw === 'object' || typeof raw === 'function') return false;
    return ArrayIsArray(object) || lengthIsData(object);
  }

  // Replaces `target[key]` with `wrapper`, keeping the built-in's `length`
  // (its `name` comes from the method's key) and its attributes.
  function install(target, key, wrapper, length) {
    ObjectDefineProperty(wrapper, 'length', { value: length });
    ObjectDefineProperty(target, key, {
      value: wrapper, writable: true, enumerable: false, configurable: true,
    });
  }

  // Interruptible versions, each the spec's algorithm, called with the
  // receiver already made an object, its length read, the first three
  // arguments and the count of arguments.
  const slow = {
    __proto__: null,
    indexOf(O, len, searchElement, fromIndex) {
      if (len === 0) return -1;
      for (let k = relativeIndex(fromIndex, len, 0); k < len; k++) {
        if (k in O && O[k] === searchElement) return k;
      }
      return -1;
    },
    lastIndexOf(O, len, searchElement, fromIndex, unused, argc) {
      if (len === 0) return -1;
      const n = argc > 1 ? toIntegerOrInfinity(fromIndex) : len - 1;
      for (let k = n >= 0 ? MathMin(n, len - 1) : len + n; k >= 0; k--) {
        if (k in O && O[k] === searchElement) return k;
      }
      return -1;
    },
    includes(O, len, searchElement, fromIndex) {
      if (len === 0) return false;
      const nan = searchElement !== searchElement;
      for (let k = relativeIndex(fromIndex, len, 0); k < len; k++) {
        const element = O[k];
        if (element === searchElement || (nan && element !== element)) return true;
      }
      return false;
    },
    reverse(O, len) {
      const middle = MathFloor(len / 2);
      for (let lower = 0; lower !== middle; lower++) {
        const upper = len - lower - 1;
        const lowerExists = lower in O;
        const lowerValue = lowerExists ? O[lower] : undefined;
        const upperExists = upper in O;
        const upperValue = upperExists ? O[upper] : undefined;
        if (lowerExists && upperExists) {
          O[lower] = upperValue;
          O[upper] = lowerValue;
        } else if (upperExists) {
          O[lower] = upperValue;
          delete O[upper];
        } else if (lowerExists) {
          delete O[lower];
          O[upper] = lowerValue;
        }
      }
      return O;
    },
    copyWithin(O, len, target, start, end) {
      let to = relativeIndex(target, len, 0);
      let from = relativeIndex(start, len, 0);
      const final = relativeIndex(end, len, len);
      let count = MathMin(final - from, len - to);
      let direction = 1;
      if (from < to && to < from + count) {
        direction = -1;
        from += count - 1;
        to += count - 1;
      }
      for (; count > 0; count--, from += direction, to += direction) {
        if (from in O) O[to] = O[from];
        else delete O[to];
      }
      return O;
    },
    slice(O, len, start, end) {
      let k = relativeIndex(start, len, 0);
      const final = relativeIndex(end, len, len);
      const A = arraySpeciesCreate(O, MathMax(final - k, 0));
      const plain = speciesIsArray;
      startFill(A, plain);
      let n = 0;
      for (; k < final; k++, n++) if (k in O) put(A, plain, n, O[k]);
      endFill(A, plain);
      A.length = n;
      return A;
    },
    every(O, len, callback, thisArg) {
      if (typeof callback !== 'function') throw new TypeErrorCtor('Array.prototype.every: the callback is not a function');
      for (let k = 0; k < len; k++) {
        if (k in O && !ReflectApply(callback, thisArg, [O[k], k, O])) return false;
      }
      return true;
    },
    some(O, len, callback, thisArg) {
      if (typeof callback !== 'function') throw new TypeErrorCtor('Array.prototype.some: the callback is not a function');
      for (let k = 0; k < len; k++) {
        if (k in O && ReflectApply(callback, thisArg, [O[k], k, O])) return true;
      }
      return false;
    },
    forEach(O, len, callback, thisArg) {
      if (typeof callback !== 'function') throw new TypeErrorCtor('Array.prototype.forEach: the callback is not a function');
      for (let k = 0; k < len; k++) {
        if (k in O) ReflectApply(callback, thisArg, [O[k], k, O]);
      }
    },
    map(O, len, callback, thisArg) {
      if (typeof callback !== 'function') throw new TypeErrorCtor('Array.prototype.map: the callback is not a function');
      const A = arraySpeciesCreate(O, len);
      const plain = speciesIsArray;
      startFill(A, plain);
      for (let k = 0; k < len; k++) {
        if (k in O) put(A, plain, k, ReflectApply(callback, thisArg, [O[k], k, O]));
      }
      endFill(A, plain);
      return A;
    },
    filter(O, len, callback, thisArg) {
      if (typeof callback !== 'function') throw new TypeErrorCtor('Array.prototype.filter: the callback is not a function');
      const A = arraySpeciesCreate(O, 0);
      const plain = speciesIsArray;
      startFill(A, plain);
      let to = 0;
      for (let k = 0; k < len; k++) {
        if (k in O) {
          const value = O[k];
          if (ReflectApply(callback, thisArg, [value, k, O])) put(A, plain, to++, value);
        }
      }
      endFill(A, plain);
      return A;
    },
    reduce(O, len, callback, initialValue, unused, argc) {
      if (typeof callback !== 'function') throw new TypeErrorCtor('Array.prototype.reduce: the callback is not a function');
      let k = 0;
      let accumulator = initialValue;
      if (argc < 2) {
        for (; ; k++) {
          if (k >= len) throw new TypeErrorCtor('Reduce of empty array with no initial value');
          if (k in O) {
            accumulator = O[k++];
            break;
          }
        }
      }
      for (; k < len; k++) {
        if (k in O) accumulator = ReflectApply(callback, undefined, [accumulator, O[k], k, O]);
      }
      return accumulator;
    },
    reduceRight(O, len, callback, initialValue, unused, argc) {
      if (typeof callback !== 'function') throw new TypeErrorCtor('Array.prototype.reduceRight: the callback is not a function');
      let k = len - 1;
      let accumulator = initialValue;
      if (argc < 2) {
        for (; ; k--) {
          if (k < 0) throw new TypeErrorCtor('Reduce of empty array with no initial value');
          if (k in O) {
            accumulator = O[k--];
            break;
          }
        }
      }
      for (; k >= 0; k--) {
        if (k in O) accumulator = ReflectApply(callback, undefined, [accumulator, O[k], k, O]);
      }
      return accumulator;
    },
    shift(O, len) {
      if (len === 0) {
        O.length = 0;
        return undefined;
      }
      const first = O[0];
      for (let k = 1; k < len; k++) {
        if (k in O) O[k - 1] = O[k];
        else delete O[k - 1];
      }
      delete O[len - 1];
      O.length = len - 1;
      return first;
    },
  };

  // The guard: the built-in for a walk it finishes quickly, else the
  // version above.
  for (const name of [
    'indexOf', 'lastIndexOf', 'includes', 'reverse', 'copyWithin', 'slice', 'every', 'some',
    'forEach', 'map', 'filter', 'reduce', 'reduceRight', 'shift',
  ]) {
    const original = builtin[name];
    const slowVersion = slow[name];
    const wrapper = {
      [name](a, b, c) {
        const O = receiver(this, name);
        const raw = O.length;
        const len = toLength(raw);
        if (builtinMayWalk(O, raw, len)) return ReflectApply(original, O, arguments);
        return slowVersion(O, len, a, b, c, arguments.length);
      },
    }[name];
    install(ArrayPrototype, name, wrapper, original.length);
  }

  // unshift, splice and toSpliced take any number of arguments; `args` is
  // the wrapper's own arguments object, read below its length only.
  const variadic = {
    __proto__: null,
    unshift(O, len, args) {
      const argCount = args.length;
      if (argCount > 0) {
        if (len + argCount > MAX_SAFE_LENGTH) throw new TypeErrorCtor('Array.prototype.unshift: the result is longer than 2^53 - 1');
        for (let k = len; k > 0; k--) {
          const to = k + argCount - 1;
          if (k - 1 in O) O[to] = O[k - 1];
          else delete O[to];
        }
        for (let j = 0; j < argCount; j++) O[j] = args[j];
      }
      O.length = len + argCount;
      return len + argCount;
    },
    splice(O, len, args) {
      const argc = args.length;
      const actualStart = relativeIndex(argc > 0 ? args[0] : undefined, len, 0);
      const itemCount = MathMax(argc - 2, 0);
      let skip = 0;
      if (argc === 1) skip = len - actualStart;
      else if (argc > 1) skip = MathMin(MathMax(toIntegerOrInfinity(args[1]), 0), len - actualStart);
      if (len + itemCount - skip > MAX_SAFE_LENGTH) throw new TypeErrorCtor('Array.prototype.splice: the result is longer than 2^53 - 1');
      const A = arraySpeciesCreate(O, skip);
      const plain = speciesIsArray;
      startFill(A, plain);
      for (let k = 0; k < skip; k++) {
        const from = actualStart + k;
        if (from in O) put(A, plain, k, O[from]);
      }
      endFill(A, plain);
      A.length = skip;
      if (itemCount < skip) {
        for (let k = actualStart; k < len - skip; k++) {
          const from = k + skip;
          const to = k + itemCount;
          if (from in O) O[to] = O[from];
          else delete O[to];
        }
        for (let k = len; k > len - skip + itemCount; k--) delete O[k - 1];
      } else if (itemCount > skip) {
        for (let k = len - skip; k > actualStart; k--) {
          const from = k + skip - 1;
          const to = k + itemCount - 1;
          if (from in O) O[to] = O[from];
          else delete O[to];
        }
      }
      for (let i = 0; i < itemCount; i++) O[actualStart + i] = args[i + 2];
      O.length = len - skip + itemCount;
      return A;
    },
    toSpliced(O, len, args) {
      const argc = args.length;
      const actualStart = relativeIndex(argc > 0 ? args[0] : undefined, len, 0);
      const insertCount = MathMax(argc - 2, 0);
      let skip = 0;
      if (argc === 1) skip = len - actualStart;
      else if (argc > 1) skip = MathMin(MathMax(toIntegerOrInfinity(args[1]), 0), len - actualStart);
      const newLen = len + insertCount - skip;
      if (newLen > MAX_SAFE_LENGTH) throw new TypeErrorCtor('Array.prototype.toSpliced: the result is longer than 2^53 - 1');
      if (newLen > MAX_ARRAY_LENGTH) throw new RangeErrorCtor('Invalid array length');
      const list = newList();
      let i = 0;
      for (; i < actualStart; i++) list[i] = O[i];
      for (let j = 0; j < insertCount; j++) list[i++] = args[j + 2];
      for (let r = actualStart + skip; i < newLen; i++, r++) list[i] = O[r];
      return toArray(list);
    },
  };
  for (const name of ['unshift', 'splice']) {
    const original = builtin[name];
    const slowVersion = variadic[name];
    const wrapper = {
      [name]() {
        const O = receiver(this, name);
        const raw = O.length;
        const len = toLength(raw);
        if (builtinMayWalk(O, raw, len)) return ReflectApply(original, O, arguments);
        return slowVersion(O, len, arguments);
      },
    }[name];
    install(ArrayPrototype, name, wrapper, original.length);
  }

  // join and toLocaleString keep V8's own cycle check (a receiver already
  // being joined joins to ''), which lives in the built-in: a long or
  // unstable receiver is joined by the built-in through a Proxy that pins
  // its length, one Proxy per receiver (so a cycle meets the same one). A
  // built-in's walk over a Proxy checks for termination at each element.
  // Every element is read from the receiver itself, with the receiver as
  // `this` for its getters.
  const pins = new WeakMapCtor();
  function pinnedGet(target, key) {
    return key === 'length' ? this.length : ReflectGet(target, key, target);
  }
  function pinned(object, length) {
    let pin = weakMapGet(pins, object);
    if (pin === undefined) {
      const handler = { __proto__: null, length: 0, get: pinnedGet };
      pin = { __proto__: null, handler, proxy: new ProxyCtor(object, handler) };
      weakMapSet(pins, object, pin);
    }
    pin.handler.length = length;
    return pin.proxy;
  }
  // The length a pinned Proxy answers: what the guard read when that runs
  // no code when the built-in reads it (a frozen `length` must be answered
  // as it is), else its ToLength.
  function pinValue(raw, len) {
    return typeof raw === 'object' || typeof raw === 'function' ? len : raw;
  }
  const joins = {
    join(separator) {
      const O = receiver(this, 'join');
      const raw = O.length;
      const len = toLength(raw);
      if (builtinMayWalk(O, raw, len)) return ReflectApply(builtin.join, O, [separator]);
      return ReflectApply(builtin.join, pinned(O, pinValue(raw, len)), [separator]);
    },
    // V8 calls each element's toLocaleString from C++ (~10 us a number,
    // with ICU), so even a dense array of 2^21 numbers held its core for
    // more than 20 s: past LOCALE_SCAN elements, the receiver goes through
    // the pinned Proxy, whose `get` trap lets a termination land between
    // elements.
    toLocaleString(locales, options) {
      const O = receiver(this, 'toLocaleString');
      const raw = O.length;
      const len = toLength(raw);
      if (len <= LOCALE_SCAN && builtinMayWalk(O, raw, len)) {
        return ReflectApply(builtin.toLocaleString, O, [locales, options]);
      }
      return ReflectApply(builtin.toLocaleString, pinned(O, pinValue(raw, len)), [locales, options]);
    },
  };
  install(ArrayPrototype, 'join', joins.join, 1);
  install(ArrayPrototype, 'toLocaleString', joins.toLocaleString, 0);
  // Typed arrays' lengths are held to the ArrayBuffer budget, but
  // `new Uint8Array(2 ** 24).toLocaleString()` still ran for more than 30 s
  // (one ICU call an element), and join spends ~14 ns an element (0.9 s for
  // the default 64 MiB budget, and proportionally more for a larger one).
  // Array.prototype's join and toLocaleString, given a typed array through
  // a pinned Proxy, read the same elements and join them the same way. The
  // other %TypedArray% methods walk at C++ speed, at most ~0.1 s over the
  // default budget (64 MiB of Uint8Array: sort 0.09 s, reverse 0.08 s,
  // indexOf 0.03 s), longer in proportion for a larger one.
  const typedJoins = {
    join(separator) {
      typedArrayValidate(this, 0);
      const len = typedArrayLength(this);
      if (len <= ARRAY_SCAN) return ReflectApply(typedArrayJoin, this, [separator]);
      return ReflectApply(builtin.join, pinned(this, len), [separator]);
    },
    toLocaleString(locales, options) {
      typedArrayValidate(this, 0);
      const len = typedArrayLength(this);
      if (len <= LOCALE_SCAN) return ReflectApply(typedArrayToLocaleString, this, [locales, options]);
      return ReflectApply(builtin.toLocaleString, pinned(this, len), [locales, options]);
    },
  };
  install(TypedArrayPrototype, 'join', typedJoins.join, 1);
  install(TypedArrayPrototype, 'toLocaleString', typedJoins.toLocaleString, 0);

  // sort and toSorted: V8 copies the receiver into a work array of its
  // whole `length` before the first comparison (2^28 aborted the process),
  // so no guard on a length read beforehand would do (a Proxy can answer a
  // larger one to the built-in). The elements present are copied here into
  // a list of this script's own, sorted there by the built-in (the same
  // comparisons, in the same order: V8 sorts its own copy too), and written
  // back, holes last, as the spec does.
  const sorts = {
    sort(comparefn) {
      if (comparefn !== undefined && typeof comparefn !== 'function') {
        throw new TypeErrorCtor('The comparison function must be either a function or undefined');
      }
      const O = receiver(this, 'sort');
      const len = toLength(O.length);
      const list = newList();
      let n = 0;
      for (let k = 0; k < len; k++) if (k in O) list[n++] = O[k];
      // Packed, so the sort's reads and writes never reach a prototype; and
      // V8 sorts an Array (of Array.prototype) faster.
      arraySort(toArray(list), comparefn);
      let j = 0;
      for (; j < n; j++) O[j] = list[j];
      for (; j < len; j++) delete O[j];
      return O;
    },
    toSorted(comparefn) {
      if (comparefn !== undefined && typeof comparefn !== 'function') {
        throw new TypeErrorCtor('The comparison function must be either a function or undefined');
      }
      const O = receiver(this, 'toSorted');
      const len = toLength(O.length);
      if (len > MAX_ARRAY_LENGTH) throw new RangeErrorCtor('Invalid array length');
      const list = newList();
      for (let k = 0; k < len; k++) list[k] = O[k];
      return arraySort(toArray(list), comparefn);
    },
  };
  install(ArrayPrototype, 'sort', sorts.sort, 1);
  install(ArrayPrototype, 'toSorted', sorts.toSorted, 1);

  // concat: the built-in walks each spreadable argument's `length`, and is
  // fast over a real Array however long (V8 visits a sparse one's elements
  // only). So the built-in runs unless a non-Array may be spread: its
  // Symbol.isConcatSpreadable is set, or is a getter.
  function concatSpreadsOnlyArrays(O, args, argc) {
    for (let i = -1; i < argc; i++) {
      const E = i < 0 ? O : args[i];
      if (!isObject(E) || ArrayIsArray(E)) continue;
      const spreadable = plainGet(E, SymbolIsConcatSpreadable);
      if (spreadable === NOT_PLAIN || spreadable) return false;
    }
    return true;
  }
  function isConcatSpreadable(E) {
    if (!isObject(E)) return false;
    const spreadable = E[SymbolIsConcatSpreadable];
    return spreadable !== undefined ? !!spreadable : ArrayIsArray(E);
  }
  const concat = {
    concat(item) {
      const O = receiver(this, 'concat');
      const argc = arguments.length;
      if (concatSpreadsOnlyArrays(O, arguments, argc)) return ReflectApply(builtin.concat, O, arguments);
      const A = arraySpeciesCreate(O, 0);
      const plain = speciesIsArray;
      startFill(A, plain);
      let n = 0;
      for (let i = -1; i < argc; i++) {
        const E = i < 0 ? O : arguments[i];
        if (isConcatSpreadable(E)) {
          const len = toLength(E.length);
          if (n + len > MAX_SAFE_LENGTH) throw new TypeErrorCtor('Array.prototype.concat: the result is longer than 2^53 - 1');
          for (let k = 0; k < len; k++, n++) if (k in E) put(A, plain, n, E[k]);
        } else {
          if (n >= MAX_SAFE_LENGTH) throw new TypeErrorCtor('Array.prototype.concat: the result is longer than 2^53 - 1');
          put(A, plain, n++, E);
        }
      }
      endFill(A, plain);
      A.length = n;
      return A;
    },
  }.concat;
  install(ArrayPrototype, 'concat', concat, 1);

  // flat and flatMap walk every nested array's `length` as well, which no
  // guard on the receiver bounds (`[hugeSparse].flat()`): always here.
  function flattenIntoArray(target, plain, source, sourceLen, start, depth, mapper, thisArg) {
    let targetIndex = start;
    for (let k = 0; k < sourceLen; k++) {
      if (!(k in source)) continue;
      let element = source[k];
      if (mapper !== undefined) element = ReflectApply(mapper, thisArg, [element, k, source]);
      if (depth > 0 && ArrayIsArray(element)) {
        const elementLen = toLength(element.length);
        if (depth > 1) {
          targetIndex = flattenIntoArray(target, plain, element, elementLen, targetIndex, depth - 1);
          continue;
        }
        // The last level, inline: its elements are not flattened.
        for (let j = 0; j < elementLen; j++) {
          if (!(j in element)) continue;
          if (targetIndex >= MAX_SAFE_LENGTH) throw new TypeErrorCtor('Array.prototype.flat: the result is longer than 2^53 - 1');
          put(target, plain, targetIndex++, element[j]);
        }
      } else {
        if (targetIndex >= MAX_SAFE_LENGTH) throw new TypeErrorCtor('Array.prototype.flat: the result is longer than 2^53 - 1');
        put(target, plain, targetIndex++, element);
      }
    }
    return targetIndex;
  }
  const flats = {
    flat(depth) {
      const O = receiver(this, 'flat');
      const sourceLen = toLength(O.length);
      let depthNum = 1;
      if (depth !== undefined) depthNum = MathMax(toIntegerOrInfinity(depth), 0);
      const A = arraySpeciesCreate(O, 0);
      const plain = speciesIsArray;
      startFill(A, plain);
      flattenIntoArray(A, plain, O, sourceLen, 0, depthNum);
      endFill(A, plain);
      return A;
    },
    flatMap(mapper, thisArg) {
      const O = receiver(this, 'flatMap');
      const sourceLen = toLength(O.length);
      if (typeof mapper !== 'function') throw new TypeErrorCtor('flatMap mapper function is not callable');
      const A = arraySpeciesCreate(O, 0);
      const plain = speciesIsArray;
      startFill(A, plain);
      flattenIntoArray(A, plain, O, sourceLen, 0, 1, mapper, thisArg);
      endFill(A, plain);
      return A;
    },
  };
  install(ArrayPrototype, 'flat', flats.flat, 0);
  install(ArrayPrototype, 'flatMap', flats.flatMap, 1);

  // Each chunk reads `length` again: a length that runs code to read is
  // filled here, one Set at a time.
  const fill = {
    fill(value, start, end) {
      const object = receiver(this, 'fill');
      const raw = object.length;
      const length = toLength(raw);
      let k = relativeIndex(start, length, 0);
      const final = relativeIndex(end, length, length);
      if (!lengthIsStable(object, raw)) {
        for (; k < final; k++) object[k] = value;
        return object;
      }
      while (k < final) {
        const next = MathMin(k + FILL_CHUNK, final);
        arrayFill(object, value, k, next);
        k = next;
      }
      return object;
    },
  }.fill;
  install(ArrayPrototype, 'fill', fill, 1);

  // Array.from over an array-like, toReversed, with and toSpliced make a
  // new array of the source's `length` element by element, in Torque,
  // without checking for termination either: `Array.from({ length: 2 ** 32
  // - 1 })` held its core for 13 s and 1.2 GB, `toReversed` of such an
  // array for 12 s and 1.5 GB. Up to FILL_CHUNK elements (of a length read
  // again without running code) the built-in still does the work; a longer
  // one is built here, where the loop can be stopped. Elements are defined,
  // not assigned, as the spec's CreateDataPropertyOrThrow does (no setter on
  // Array.prototype runs).
  function fromArrayLike(C, arrayLike, length, mapFn, thisArg) {
    const result = isConstructor(C) ? new C(length) : newArray(length);
    for (let k = 0; k < length; k++) {
      const value = arrayLike[k];
      defineElement(result, k, mapFn === undefined ? value : ReflectApply(mapFn, thisArg, [value, k]));
    }
    result.length = length;
    return result;
  }
  function closeIterator(iterator) {
    try {
      const close = iterator.return;
      if (close !== undefined && close !== null) ReflectApply(close, iterator, []);
    } catch {
      // The error that closes the iterator is the one thrown.
    }
  }
  // Array.from when its Symbol.iterator lookup runs code: read once, here.
  function fromUnplain(C, items, mapFn, thisArg) {
    const usingIterator = items[SymbolIterator];
    if (usingIterator === undefined || usingIterator === null) {
      const arrayLike = ObjectCtor(items);
      return fromArrayLike(C, arrayLike, toLength(arrayLike.length), mapFn, thisArg);
    }
    if (typeof usingIterator !== 'function') throw new TypeErrorCtor('Symbol.iterator is not a function');
    const result = isConstructor(C) ? new C() : newArray(0);
    const iterator = ReflectApply(usingIterator, items, []);
    if (!isObject(iterator)) throw new TypeErrorCtor('Result of the Symbol.iterator method is not an object');
    const next = iterator.next;
    for (let k = 0; ; k++) {
      const step = ReflectApply(next, iterator, []);
      if (!isObject(step)) throw new TypeErrorCtor('Iterator result ' + typeof step + ' is not an object');
      if (step.done) {
        result.length = k;
        return result;
      }
      const value = step.value;
      try {
        defineElement(result, k, mapFn === undefined ? value : ReflectApply(mapFn, thisArg, [value, k]));
      } catch (error) {
        closeIterator(iterator);
        throw error;
      }
    }
  }
  const from = {
    from(items, mapFn, thisArg) {
      const C = this;
      // A bad mapFn or items: the built-in's own TypeError.
      if (items === null || items === undefined || (mapFn !== undefined && typeof mapFn !== 'function')) {
        return ReflectApply(arrayFrom, C, arguments);
      }
      const usingIterator = plainGet(items, SymbolIterator);
      if (usingIterator === NOT_PLAIN) return fromUnplain(C, items, mapFn, thisArg);
      // An iterable: the built-in's loop calls `next` (and checks for
      // termination) at each element.
      if (usingIterator !== undefined && usingIterator !== null) return ReflectApply(arrayFrom, C, arguments);
      const arrayLike = ObjectCtor(items);
      const raw = arrayLike.length;
      const length = toLength(raw);
      if (C === ArrayCtor && length <= FILL_CHUNK && builtinMayWalk(arrayLike, raw, length)) {
        return ReflectApply(arrayFrom, C, arguments);
      }
      return fromArrayLike(C, arrayLike, length, mapFn, thisArg);
    },
  }.from;
  install(ArrayCtor, 'from', from, 1);
  const changeByCopy = {
    toReversed() {
      const object = receiver(this, 'toReversed');
      const raw = object.length;
      const length = toLength(raw);
      if (length <= FILL_CHUNK && builtinMayWalk(object, raw, length)) {
        return ReflectApply(builtin.toReversed, object, []);
      }
      const result = newArray(length);
      for (let k = 0; k < length; k++) defineElement(result, k, object[length - k - 1]);
      return result;
    },
    with(index, value) {
      const object = receiver(this, 'with');
      const raw = object.length;
      const length = toLength(raw);
      if (length <= FILL_CHUNK && builtinMayWalk(object, raw, length)) {
        return ReflectApply(builtin.with, object, [index, value]);
      }
      const relative = toIntegerOrInfinity(index);
      const actual = relative >= 0 ? relative : length + relative;
      if (actual >= length || actual < 0) throw new RangeErrorCtor('Invalid index : ' + relative);
      const result = newArray(length);
      for (let k = 0; k < length; k++) defineElement(result, k, k === actual ? value : object[k]);
      return result;
    },
    toSpliced(start, skipCount) {
      const object = receiver(this, 'toSpliced');
      const raw = object.length;
      const length = toLength(raw);
      if (length <= FILL_CHUNK && builtinMayWalk(object, raw, length)) {
        return ReflectApply(builtin.toSpliced, object, arguments);
      }
      return variadic.toSpliced(object, length, arguments);
    },
  };
  install(ArrayPrototype, 'toReversed', changeByCopy.toReversed, 0);
  install(ArrayPrototype, 'with', changeByCopy.with, 2);
  install(ArrayPrototype, 'toSpliced', changeByCopy.toSpliced, 2);

  // ---- Splitting and matching long strings ---------------------------------
  //
  // A string is at most 2^29 - 24 characters, and searching one is fast
  // (`'x'.repeat(2 ** 29 - 24).indexOf('y')` takes 0.4 s, rope flattening
  // included), but splitting or matching it makes an array element by
  // element in C++: `split('')` of 2^28 characters, `split('x')` of 2^27 and
  // `match(/x/g)` of 2^29 aborted the process ("invalid size error"); a
  // regular-expression split of 2^25 ran 3.5 s. A string longer than
  // STRING_SCAN is split or matched here, in the spec's steps.
  function advanceStringIndex(S, index, unicode) {
    if (!unicode || index + 1 >= S.length) return index + 1;
    const lead = stringCharCodeAt(S, index);
    if (lead < 0xd800 || lead > 0xdbff) return index + 1;
    const trail = stringCharCodeAt(S, index + 1);
    return trail >= 0xdc00 && trail <= 0xdfff ? index + 2 : index + 1;
  }
  function regExpExec(R, S) {
    const exec = R.exec;
    if (typeof exec === 'function') {
      const result = ReflectApply(exec, R, [S]);
      if (result !== null && !isObject(result)) throw new TypeErrorCtor('exec returned neither an object nor null');
      return result;
    }
    return regExpBuiltinExec(R, S);
  }
  function speciesConstructor(O, defaultConstructor) {
    const C = O.constructor;
    if (C === undefined) return defaultConstructor;
    if (!isObject(C)) throw new TypeErrorCtor('object.constructor is not an object');
    const S = C[SymbolSpecies];
    if (S === undefined || S === null) return defaultConstructor;
    if (isConstructor(S)) return S;
    throw new TypeErrorCtor('object.constructor[Symbol.species] is not a constructor');
  }
  function hasFlag(flags, flag) {
    return stringIndexOf(flags, flag) !== -1;
  }
  const strings = {
    split(separator, limit) {
      if (typeof this === 'string' && this.length <= STRING_SCAN) {
        return ReflectApply(stringSplit, this, arguments);
      }
      if (this === null || this === undefined) {
        throw new TypeErrorCtor('String.prototype.split called on null or undefined');
      }
      if (separator !== undefined && separator !== null) {
        const splitter = separator[SymbolSplit];
        if (splitter !== undefined && splitter !== null) return ReflectApply(splitter, separator, [this, limit]);
      }
      const S = `${this}`;
      const lim = limit === undefined ? MAX_ARRAY_LENGTH : limit >>> 0;
      const R = `${separator}`;
      if (lim === 0) return [];
      if (separator === undefined) return [S];
      const list = newList();
      const separatorLength = R.length;
      if (separatorLength === 0) {
        const n = MathMin(lim, S.length);
        for (let i = 0; i < n; i++) list[i] = S[i];
        return toArray(list);
      }
      if (S.length === 0) return [S];
      let n = 0;
      let i = 0;
      for (let j = stringIndexOf(S, R, 0); j !== -1; j = stringIndexOf(S, R, i)) {
        list[n++] = stringSlice(S, i, j);
        if (n === lim) return toArray(list);
        i = j + separatorLength;
      }
      list[n] = stringSlice(S, i);
      return toArray(list);
    },
  };
  install(StringPrototype, 'split', strings.split, 2);
  const regExps = {
    [SymbolSplit](string, limit) {
      const rx = this;
      if (!isObject(rx)) throw new TypeErrorCtor('RegExp.prototype[Symbol.split] called on a non-object');
      const S = `${string}`;
      if (S.length <= STRING_SCAN) return ReflectApply(regExpSplit, rx, [S, limit]);
      const C = speciesConstructor(rx, RegExpCtor);
      const flags = `${rx.flags}`;
      const unicodeMatching = hasFlag(flags, 'u') || hasFlag(flags, 'v');
      const splitter = new C(rx, hasFlag(flags, 'y') ? flags : flags + 'y');
      const list = newList();
      let lengthA = 0;
      const lim = limit === undefined ? MAX_ARRAY_LENGTH : limit >>> 0;
      if (lim === 0) return toArray(list);
      const size = S.length;
      if (size === 0) {
        if (regExpExec(splitter, S) === null) list[0] = S;
        return toArray(list);
      }
      let p = 0;
      let q = 0;
      while (q < size) {
        splitter.lastIndex = q;
        const z = regExpExec(splitter, S);
        if (z === null) {
          q = advanceStringIndex(S, q, unicodeMatching);
          continue;
        }
        const e = MathMin(toLength(splitter.lastIndex), size);
        if (e === p) {
          q = advanceStringIndex(S, q, unicodeMatching);
          continue;
        }
        list[lengthA++] = stringSlice(S, p, q);
        if (lengthA === lim) return toArray(list);
        p = e;
        const captures = MathMax(toLength(z.length) - 1, 0);
        for (let i = 1; i <= captures; i++) {
          list[lengthA++] = z[i];
          if (lengthA === lim) return toArray(list);
        }
        q = p;
      }
      list[lengthA] = stringSlice(S, p, size);
      return toArray(list);
    },
    [SymbolMatch](string) {
      const rx = this;
      if (!isObject(rx)) throw new TypeErrorCtor('RegExp.prototype[Symbol.match] called on a non-object');
      const S = `${string}`;
      if (S.length <= STRING_SCAN) return ReflectApply(regExpMatch, rx, [S]);
      const flags = `${rx.flags}`;
      if (!hasFlag(flags, 'g')) return regExpExec(rx, S);
      const fullUnicode = hasFlag(flags, 'u') || hasFlag(flags, 'v');
      rx.lastIndex = 0;
      const list = newList();
      for (let n = 0; ; n++) {
        const result = regExpExec(rx, S);
        if (result === null) return n === 0 ? null : toArray(list);
        const matched = `${result[0]}`;
        list[n] = matched;
        if (matched === '') rx.lastIndex = advanceStringIndex(S, toLength(rx.lastIndex), fullUnicode);
      }
    },
  };
  install(RegExpCtor.prototype, SymbolSplit, regExps[SymbolSplit], 2);
  install(RegExpCtor.prototype, SymbolMatch, regExps[SymbolMatch], 1);

  let native = null;

  const kiln = {
    registerFunction: null,
    onKeyEvent: null,
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
    publish(channel, message) {
      native.call('PUBLISH', channel, message);
    },
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
      kiln.onKeyEvent = bindings.onKeyEvent;
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
