/**
 * The `kiln` global of Kiln storage functions, declared for editors and
 * type checkers. Nothing here runs: the server defines `kiln` (see
 * isolates/js/bootstrap.js and isolates/src/api.rs).
 *
 * Use it from a library file with a reference comment after the metadata
 * line:
 *
 * ```js
 * #!js name=counter
 * /// <reference path="../../functions/kiln.d.ts" />
 * kiln.registerFunction('hit', (keys, args) => kiln.incr(keys[0], Number(args[0] ?? 1)));
 * ```
 *
 * or list this file in a `jsconfig.json` / `tsconfig.json` (`"files"`), with
 * `"checkJs": true` to have plain `.js` libraries checked against it.
 *
 * Every call acts on the calling tenant's keys, on the core that runs the
 * function: a key another core owns throws a `CROSSSLOT` error, so keep a
 * function's keys in one slot with a `{hash tag}`. A call that fails throws
 * an `Error` whose message starts with the Redis error code (`ERR ...`,
 * `WRONGTYPE ...`, `OOM ...`).
 *
 * Limits (see `Limits` in isolates/src/limits.rs): a key, value or `call`
 * argument is at most `max_arg_bytes` (512 MiB) and the arguments of one
 * call together at most the isolate's heap cap (64 MiB); a reply is at most
 * `reply_bytes` (64 MiB, each element counting at least a few dozen bytes)
 * and 64 levels deep. An over-size argument is refused before it is copied;
 * an over-size reply becomes `ERR Function reply exceeds the 64 MiB reply
 * limit`. `WebAssembly` is not defined, and `Atomics.wait` throws. A thrown
 * value becomes its message without running its code: a string as itself,
 * an `Error`'s `message` data property, anything else as V8 describes it
 * (`[object Object]`), never through `toString` or getters.
 *
 * Long walks: V8's built-ins that loop up to a `length` (Array.prototype's
 * indexOf, forEach, join, sort, splice, shift... on `{ length: 2 ** 40 }` or
 * a sparse array) never check for termination, so Kiln replaces them (see
 * isolates/js/bootstrap.js): V8 walks at most 2^22 indices of an Array and
 * 2^16 of anything else, and a longer walk runs as JavaScript that the CPU
 * budget stops, with the spec's result when the budget allows (a length
 * over 2^32 - 1 where an array must be made throws `RangeError: Invalid
 * array length` at once, as before). flat, flatMap, sort and toSorted
 * always run so (sort copies the elements present into a list V8 sorts), as
 * do toLocaleString past 64 elements and split or match of a string over
 * 2^20 characters. A `length` getter or `valueOf` runs once a call.
 */
declare namespace kiln {
  /** A key: a string (UTF-8), its bytes, or a number (as its decimal text). */
  type Key = string | number | Uint8Array;

  /** A value to store: a string (UTF-8), its bytes, or a number (as text). */
  type Value = string | number | Uint8Array;

  /**
   * The flags a function may declare, as in Redis 7 functions. Kiln acts on
   * `no-writes` and records the others, which FUNCTION LIST shows.
   */
  type Flag =
    /** Never writes: callable with FCALL_RO. */
    | 'no-writes'
    /** In Redis: may run while the server is over `maxmemory`. */
    | 'allow-oom'
    /** In Redis: may run on a replica with stale data. */
    | 'allow-stale'
    /** In Redis: refuses to run in cluster mode. */
    | 'no-cluster'
    /** In Redis: its keys need not share a slot. */
    | 'allow-cross-slot-keys';

  /** Options of {@link registerFunction}. */
  interface FunctionOptions {
    /** What the function may do; none means it may write. An array (of at
     * most 16 flag strings), not any other iterable. */
    flags?: Flag[];
    /** Shown by FUNCTION LIST: a string of at most 65536 characters. */
    description?: string;
  }

  /**
   * What a function may return, converted the way Redis converts Lua
   * values:
   * - `string` → bulk string;
   * - an integral `number` → integer, any other `number` → double (a bulk
   *   string in RESP2); a `bigint` within 64 bits → integer;
   * - `true` → integer 1; `false`, `null`, `undefined` → nil;
   * - `Uint8Array` → bulk string of its bytes;
   * - array → array;
   * - `Map` or plain object → map in RESP3, flat `[field, value, ...]`
   *   array in RESP2;
   * - an `Error` (returned or thrown) → error reply: its message when it
   *   starts with an UPPER-CASE word (`'NOTFOUND no such user'`), else
   *   `ERR message`.
   */
  type Reply =
    | string
    | number
    | bigint
    | boolean
    | null
    | undefined
    | Uint8Array
    | Error
    | Reply[]
    | Map<Reply, Reply>
    | { [field: string]: Reply };

  /**
   * A function: called by `FCALL name numkeys key... arg...` with the keys
   * and arguments as strings (UTF-8; {@link rawKeys} / {@link rawArgs} give
   * their exact bytes).
   */
  type Handler = (keys: string[], args: string[]) => Reply;

  /**
   * A command's reply as {@link call} returns it: status and bulk strings
   * → `string`, integers → `number` (`bigint` beyond 2^53), doubles →
   * `number`, booleans → `boolean`, nil → `null`, arrays → arrays, maps →
   * plain objects. An error reply is thrown as an `Error`.
   */
  type CallReply =
    | string
    | number
    | bigint
    | boolean
    | null
    | CallReply[]
    | { [field: string]: CallReply };

  /** Options of {@link put}. */
  interface PutOptions {
    /** Time to live in milliseconds (a positive integer). */
    ttlMs?: number;
  }

  /**
   * Registers a function. Only while the library loads (FUNCTION LOAD), at
   * its top level. Names are string primitives of 1 to 256 ASCII letters,
   * digits and `_`; a name already used by this library or another of the
   * tenant's fails the load. The host checks the arguments itself, so a
   * library that replaced built-ins (`Array.from`, iterators...) registers
   * the same way.
   */
  function registerFunction(name: string, fn: Handler, options?: FunctionOptions): void;

  /** Options of {@link onKeyEvent}. */
  interface KeyEventOptions {
    /** Fire for keys that start with this (a string of at most 1024
     * characters); none: every key of the tenant. */
    prefix?: string;
    /** Fire for these events (Redis's keyspace event names: `set`, `del`,
     * `expired`, `expire`, `rename_from`, `lpush`, `hset`, `zadd`,
     * `incrby`, `new`, `keymiss`...; at most 32). None: every change —
     * not `new` or `keymiss`, which fire only a trigger that names them. */
    events?: string[];
  }

  /**
   * A key trigger: called with the changed key and the event's name.
   * Its reply is dropped; a throw or a budget overrun is counted
   * (`INFO functions`: `functions_trigger_failures`) and logged, never
   * sent to the client whose command made the change.
   */
  type KeyEventHandler = (key: string, event: string) => void;

  /**
   * Registers a key trigger, only while the library loads. After a change
   * to one of the tenant's keys that matches `options` — by any client,
   * function or expiry, on the key's core — `fn(key, event)` runs there
   * once the command that made the change is done, as its own call with
   * its own CPU budget and the tenant's rights (writes allowed, keys of
   * that core only). Its own writes may fire triggers again, down to a
   * depth of 8 (`functions_triggers_dropped` counts what was cut off).
   * A library may register at most 64 triggers; they are saved and come
   * back with it after a restart.
   */
  function onKeyEvent(options: KeyEventOptions, fn: KeyEventHandler): void;

  /**
   * The value of `key`, `null` when it does not exist: a read-only view of
   * the stored bytes (no copy), valid for the whole call.
   */
  function get(key: Key): Uint8Array | null;

  /** The value of `key` decoded as UTF-8, `null` when it does not exist. */
  function getString(key: Key): string | null;

  /**
   * Stores `value` at `key` as SET does: without `options.ttlMs` the key
   * keeps no time to live. Throws in a read-only (FCALL_RO) call.
   */
  function put(key: Key, value: Value, options?: PutOptions): void;

  /** Deletes `key`; whether it existed. */
  function del(key: Key): boolean;

  /** Whether `key` exists. */
  function exists(key: Key): boolean;

  /**
   * Adds `by` (default 1) to the integer at `key` (0 when absent), as
   * INCRBY does; the new value, a `bigint` beyond 2^53.
   */
  function incr(key: Key, by?: number | bigint): number | bigint;

  /**
   * The values of several keys (UTF-8), `null` for each missing one. At
   * most 2^20 keys; an array is read element by element, whatever its
   * `length` claims.
   */
  function mget(...keys: Key[]): (string | null)[];
  function mget(keys: Key[]): (string | null)[];

  /**
   * Runs a keyed data command (`kiln.call('HSET', key, ...)`-style) on this
   * core and returns its reply; an error reply is thrown.
   */
  function call(command: string, ...args: Value[]): CallReply;

  /**
   * Publishes `message` to `channel` for the tenant's subscribers on every
   * core. It is sent once the function's command is done, after its writes
   * (a subscriber that reads a key on the message sees the function's
   * write). At most 64 MiB of messages per call.
   */
  function publish(channel: Value, message: Value): void;

  /**
   * The call's keys as bytes (binary-safe; copies the function may keep).
   * The copies count against the heap cap: throws once they would pass it.
   */
  function rawKeys(): Uint8Array[];

  /** The call's arguments as bytes (binary-safe; copies). */
  function rawArgs(): Uint8Array[];
}
