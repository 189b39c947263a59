/**
 * A pickle reader that executes nothing. Python's pickle format is a small
 * stack machine whose GLOBAL and REDUCE opcodes normally import any module and
 * call any function, which is why loading an untrusted `.pt` file with
 * `torch.load` can run code. Here a global is only ever looked up in a fixed
 * table of things that are pure data constructors:
 *
 * - `torch._utils._rebuild_tensor_v2`, `_rebuild_tensor`, `_rebuild_tensor_v3`,
 *   `_rebuild_parameter` and `_rebuild_parameter_with_state`: become calls to the
 *   caller's `rebuildTensor` hook;
 * - the `torch.*Storage` classes of every dtype and the `torch.<dtype>` objects:
 *   become StorageType / TorchDType markers that the caller's `persistentLoad`
 *   hook receives;
 * - `collections.OrderedDict` and `defaultdict`, and the harmless builtins
 *   (`dict`, `list`, `tuple`, `set`, `frozenset`, `int`/`long`, `float`, `str`,
 *   `bytes`, `bytearray`, `bool`, under both `builtins` and `__builtin__`),
 *   `_codecs.encode` (how protocol 2 writes bytes), and `torch.Size`.
 *
 * Every other global (omegaconf's DictConfig, `typing.Any`, `os.system`,
 * `builtins.eval`, anything) becomes an inert PickleGlobal; calling or
 * instantiating one gives a PickleObject that records the name, the arguments
 * and the state as plain data. Nothing is imported and nothing is run.
 *
 * Python values map to: None → null, bool → boolean, int → number (bigint
 * beyond 2^53), float → number, str → string, bytes → Uint8Array, list, tuple,
 * set → array, dict → a plain object (keys as strings; see dictKey).
 *
 * @example
 * ```ts
 * const { value } = unpickle(bytes, { source: "data.pkl" });
 * ```
 */
import { CheffError } from "../errors.ts";
import type { DType } from "../safetensors.ts";

/** A reference to a global that cheff does not interpret. It is never imported or called. */
export class PickleGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
  toJSON(): unknown {
    return { __global__: this.qualifiedName };
  }
}

/**
 * An instance of, or the result of calling, a global cheff does not interpret:
 * its name, the arguments it was given, and the state set on it, as plain data.
 */
export class PickleObject {
  /** Set by BUILD (Python's __setstate__); undefined if never set. */
  state: unknown = undefined;
  /** Items appended (a list subclass). */
  listItems: unknown[] | undefined;
  /** Items set (a dict subclass). */
  dictItems: Record<string, unknown> | undefined;
  constructor(
    readonly type: string,
    readonly args: unknown[],
    readonly kwargs?: Record<string, unknown>,
  ) {}
  toJSON(): unknown {
    const out: Record<string, unknown> = { __object__: this.type, args: this.args };
    if (this.kwargs) out.kwargs = this.kwargs;
    if (this.state !== undefined) out.state = this.state;
    if (this.listItems) out.listItems = this.listItems;
    if (this.dictItems) out.dictItems = this.dictItems;
    return out;
  }
}

/** The dtype of a torch storage class, by class name. */
export const STORAGE_DTYPES: Record<string, DType | undefined> = {
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  DoubleStorage: "F64",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
  UntypedStorage: "U8",
  // Known to torch, not readable by cheff: ComplexFloatStorage, ComplexDoubleStorage, QInt8Storage, …
};

/** `torch.<name>` dtype objects (used by _rebuild_tensor_v3). */
const TORCH_DTYPES: Record<string, DType> = {
  float32: "F32",
  float: "F32",
  float16: "F16",
  half: "F16",
  bfloat16: "BF16",
  float64: "F64",
  double: "F64",
  int64: "I64",
  long: "I64",
  int32: "I32",
  int: "I32",
  int16: "I16",
  short: "I16",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
};

/** A torch storage class (`torch.FloatStorage`, …). `dtype` is undefined for kinds cheff cannot read. */
export class StorageType {
  constructor(readonly name: string, readonly dtype: DType | undefined) {}
  toJSON(): unknown {
    return { __global__: `torch.${this.name}` };
  }
}

/** A torch dtype object (`torch.float16`, …). */
export class TorchDType {
  constructor(readonly name: string, readonly dtype: DType) {}
  toJSON(): unknown {
    return { __global__: `torch.${this.name}` };
  }
}

/** What `_rebuild_tensor*` was asked to build. */
export class TensorRequest {
  constructor(
    /** Whatever persistentLoad returned for the storage. */
    readonly storage: unknown,
    /** In elements of the storage's dtype. */
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
    /** Set by _rebuild_tensor_v3, whose storage is untyped. */
    readonly dtype?: DType,
  ) {}
}

export interface UnpickleOptions {
  /** Names the pickle in error messages. */
  source: string;
  /** Resolves a persistent id (BINPERSID). Without it, persistent ids are an error. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Builds a tensor. Without it, tensors stay as TensorRequest objects. */
  rebuildTensor?: (request: TensorRequest) => unknown;
}

export interface UnpickleResult {
  value: unknown;
  /** Offset just past the STOP opcode. */
  end: number;
}

/** A callable cheff interprets (it only builds data). */
class SafeCallable {
  constructor(
    readonly qualifiedName: string,
    readonly call: (args: unknown[], kwargs?: Record<string, unknown>) => unknown,
  ) {}
}

/** State set on dicts by BUILD (attributes, e.g. a state_dict's `_metadata`), kept out of their items. */
const attributes = new WeakMap<object, unknown>();

/** The attributes a BUILD opcode set on a dict or list (not its items), if any. */
export function pickleAttributesOf(value: object): unknown {
  return attributes.get(value);
}

/** True for a dict as the reader builds them (a plain object, not an array or placeholder). */
export function isPickleDict(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/** The string a Python dict key becomes (str keys unchanged, int keys in decimal, others as Python would print them). */
export function dictKey(key: unknown, depth = 0): string {
  if (typeof key === "string") return key;
  if (typeof key === "number" || typeof key === "bigint") return String(key);
  if (key === null) return "None";
  if (key === true) return "True";
  if (key === false) return "False";
  if (Array.isArray(key)) {
    if (depth > 8) return "(…)";
    return `(${key.map((k) => dictKey(k, depth + 1)).join(", ")}${key.length === 1 ? "," : ""})`;
  }
  if (key instanceof PickleGlobal) return key.qualifiedName;
  if (key instanceof PickleObject) return `<${key.type}>`;
  return String(key);
}

/** Sets `dict[key] = value` without ever invoking a setter (a key named "__proto__" is just a key). */
export function setDictItem(dict: Record<string, unknown>, key: unknown, value: unknown): void {
  Object.defineProperty(dict, dictKey(key), { value, enumerable: true, writable: true, configurable: true });
}

function newDict(): Record<string, unknown> {
  return {};
}

function toNumberIfSafe(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}

function iterableItems(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === "string") return [...value];
  if (value instanceof Uint8Array) return [...value];
  if (isPickleDict(value)) return Object.keys(value);
  return [];
}

function toInt(value: unknown, base?: unknown): unknown {
  if (typeof value === "number") return Math.trunc(value);
  if (typeof value === "bigint" || typeof value === "boolean") {
    return typeof value === "boolean" ? Number(value) : value;
  }
  if (typeof value === "string") {
    const radix = typeof base === "number" ? base : 10;
    const text = value.trim().replace(/_/g, "");
    if (radix === 10 && /^[+-]?\d+$/.test(text)) return toNumberIfSafe(BigInt(text));
    const parsed = parseInt(text, radix);
    if (Number.isFinite(parsed)) return parsed;
  }
  return new PickleObject("builtins.int", base === undefined ? [value] : [value, base]);
}

function dictFrom(args: unknown[]): Record<string, unknown> {
  const dict = newDict();
  const source = args[0];
  if (isPickleDict(source)) {
    for (const key of Object.keys(source)) setDictItem(dict, key, source[key]);
  } else if (Array.isArray(source)) {
    for (const pair of source) {
      if (Array.isArray(pair) && pair.length === 2) setDictItem(dict, pair[0], pair[1]);
    }
  }
  return dict;
}

function latin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

function safeBuiltins(module: string): Record<string, SafeCallable> {
  const q = (name: string) => `${module}.${name}`;
  const sequence = (name: string) => new SafeCallable(q(name), (args) => [...iterableItems(args[0])]);
  return {
    dict: new SafeCallable(q("dict"), (args, kwargs) => {
      const dict = dictFrom(args);
      for (const [k, v] of Object.entries(kwargs ?? {})) setDictItem(dict, k, v);
      return dict;
    }),
    list: sequence("list"),
    tuple: sequence("tuple"),
    set: sequence("set"),
    frozenset: sequence("frozenset"),
    int: new SafeCallable(q("int"), (args) => (args.length === 0 ? 0 : toInt(args[0], args[1]))),
    long: new SafeCallable(q("long"), (args) => (args.length === 0 ? 0 : toInt(args[0], args[1]))),
    float: new SafeCallable(q("float"), (args) => {
      if (args.length === 0) return 0;
      const v = args[0];
      if (typeof v === "number") return v;
      if (typeof v === "bigint") return Number(v);
      if (typeof v === "string") {
        const t = v.trim().toLowerCase();
        if (t === "nan") return NaN;
        if (t === "inf" || t === "+inf" || t === "infinity") return Infinity;
        if (t === "-inf" || t === "-infinity") return -Infinity;
        const n = Number(t);
        if (!Number.isNaN(n)) return n;
      }
      return new PickleObject(q("float"), args);
    }),
    str: new SafeCallable(
      q("str"),
      (
        args,
      ) => (typeof args[0] === "string"
        ? args[0]
        : args.length === 0
        ? ""
        : new PickleObject(q("str"), args)),
    ),
    unicode: new SafeCallable(
      q("unicode"),
      (args) => (typeof args[0] === "string" ? args[0] : new PickleObject(q("unicode"), args)),
    ),
    bool: new SafeCallable(q("bool"), (args) => Boolean(args[0])),
    bytes: new SafeCallable(q("bytes"), (args) => bytesFrom(args, q("bytes"))),
    bytearray: new SafeCallable(q("bytearray"), (args) => bytesFrom(args, q("bytearray"))),
  };
}

function bytesFrom(args: unknown[], name: string): unknown {
  const v = args[0];
  if (args.length === 0) return new Uint8Array(0);
  if (v instanceof Uint8Array) return v.slice();
  if (Array.isArray(v) && v.every((x) => typeof x === "number")) return Uint8Array.from(v as number[]);
  if (typeof v === "string" && (args[1] === "latin1" || args[1] === "latin-1")) return latin1(v);
  if (typeof v === "string" && (args[1] === "utf-8" || args[1] === "utf8")) {
    return new TextEncoder().encode(v);
  }
  return new PickleObject(name, args);
}

function checkInts(values: unknown, what: string, source: string): number[] {
  if (!Array.isArray(values)) throw new CheffError(`${source}: tensor ${what} is not a tuple`);
  return values.map((v) => {
    const n = typeof v === "bigint" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isSafeInteger(n)) {
      throw new CheffError(`${source}: tensor ${what} holds a non-integer`);
    }
    return n;
  });
}

function tensorRebuilders(options: UnpickleOptions): Record<string, SafeCallable> {
  const { source } = options;
  const build = (storage: unknown, offset: unknown, size: unknown, stride: unknown, dtype?: DType) => {
    const request = new TensorRequest(
      storage,
      checkInts([offset], "storage offset", source)[0],
      checkInts(size, "size", source),
      checkInts(stride, "stride", source),
      dtype,
    );
    return options.rebuildTensor ? options.rebuildTensor(request) : request;
  };
  const q = (name: string) => `torch._utils.${name}`;
  return {
    _rebuild_tensor: new SafeCallable(q("_rebuild_tensor"), (a) => build(a[0], a[1], a[2], a[3])),
    _rebuild_tensor_v2: new SafeCallable(q("_rebuild_tensor_v2"), (a) => build(a[0], a[1], a[2], a[3])),
    _rebuild_tensor_v3: new SafeCallable(q("_rebuild_tensor_v3"), (a) => {
      const dtype = a[6] instanceof TorchDType ? a[6].dtype : undefined;
      if (!dtype) throw new CheffError(`${source}: tensor has a dtype cheff cannot read (${dictKey(a[6])})`);
      return build(a[0], a[1], a[2], a[3], dtype);
    }),
    _rebuild_parameter: new SafeCallable(q("_rebuild_parameter"), (a) => a[0]),
    _rebuild_parameter_with_state: new SafeCallable(q("_rebuild_parameter_with_state"), (a) => a[0]),
  };
}

/** Looks a global up in the fixed table; anything else is an inert PickleGlobal. */
function resolveGlobal(module: string, name: string, options: UnpickleOptions): unknown {
  if (module === "torch._utils") {
    const rebuilders = tensorRebuilders(options);
    if (Object.hasOwn(rebuilders, name)) return rebuilders[name];
  } else if (module === "torch" || module === "torch.cuda") {
    if (name.endsWith("Storage")) {
      return new StorageType(name, Object.hasOwn(STORAGE_DTYPES, name) ? STORAGE_DTYPES[name] : undefined);
    }
    if (module === "torch" && Object.hasOwn(TORCH_DTYPES, name)) {
      return new TorchDType(name, TORCH_DTYPES[name]);
    }
    if (module === "torch" && name === "Size") {
      return new SafeCallable("torch.Size", (a) => [...iterableItems(a[0])]);
    }
  } else if (module === "collections") {
    if (name === "OrderedDict") return new SafeCallable("collections.OrderedDict", (a) => dictFrom(a));
    if (name === "defaultdict") {
      return new SafeCallable("collections.defaultdict", (a) => dictFrom(a.slice(1)));
    }
  } else if (module === "builtins" || module === "__builtin__") {
    const builtins = safeBuiltins(module);
    if (Object.hasOwn(builtins, name)) return builtins[name];
  } else if (module === "_codecs" && name === "encode") {
    return new SafeCallable(
      "_codecs.encode",
      (a) =>
        typeof a[0] === "string"
          ? bytesFrom([a[0], a[1] ?? "utf-8"], "_codecs.encode")
          : new PickleObject("_codecs.encode", a),
    );
  }
  return new PickleGlobal(module, name);
}

/** Calls (REDUCE) or instantiates (NEWOBJ) `callable`: a SafeCallable runs, anything else becomes a PickleObject. */
function invoke(callable: unknown, args: unknown, kwargs?: Record<string, unknown>): unknown {
  const list = Array.isArray(args) ? args : [args];
  if (callable instanceof SafeCallable) return callable.call(list, kwargs);
  if (callable instanceof PickleGlobal) {
    // copyreg's reconstructors name the real class in their first argument.
    if (
      (callable.module === "copyreg" || callable.module === "copy_reg") && callable.name === "_reconstructor"
    ) {
      const cls = list[0];
      if (cls instanceof SafeCallable) return cls.call([]);
      if (cls instanceof PickleGlobal) {
        return new PickleObject(
          cls.qualifiedName,
          list.slice(2).filter((x) => x !== null),
        );
      }
    }
    if ((callable.module === "copyreg" || callable.module === "copy_reg") && callable.name === "__newobj__") {
      return invoke(list[0], list.slice(1));
    }
    return new PickleObject(callable.qualifiedName, list, kwargs);
  }
  if (callable instanceof StorageType) return new PickleObject(`torch.${callable.name}`, list, kwargs);
  return new PickleObject(
    `<call of ${
      typeof callable === "object" && callable !== null
        ? (callable.constructor?.name ?? "object")
        : typeof callable
    }>`,
    list,
    kwargs,
  );
}

/** Decodes a Python string literal as protocol 0 writes it (STRING: repr() of a str). */
function pythonStringLiteral(text: string, source: string): string {
  const quote = text[0];
  if (text.length < 2 || (quote !== "'" && quote !== '"') || text[text.length - 1] !== quote) {
    throw new CheffError(`${source}: damaged pickle (bad string literal)`);
  }
  return unescape(text.slice(1, -1), false);
}

/** Undoes Python's backslash escapes (raw-unicode-escape: only \\u and \\U when `rawUnicode`). */
function unescape(body: string, rawUnicode: boolean): string {
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch !== "\\" || i + 1 >= body.length) {
      out += ch;
      continue;
    }
    const next = body[i + 1];
    if (next === "u" || next === "U") {
      const width = next === "u" ? 4 : 8;
      const hex = body.slice(i + 2, i + 2 + width);
      if (/^[0-9a-fA-F]+$/.test(hex) && hex.length === width) {
        out += String.fromCodePoint(parseInt(hex, 16));
        i += 1 + width;
        continue;
      }
    }
    if (rawUnicode) {
      out += ch;
      continue;
    }
    const simple: Record<string, string> = {
      n: "\n",
      t: "\t",
      r: "\r",
      "\\": "\\",
      "'": "'",
      '"': '"',
      a: "\x07",
      b: "\b",
      f: "\f",
      v: "\v",
      "0": "\0",
    };
    if (next === "x") {
      out += String.fromCharCode(parseInt(body.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (Object.hasOwn(simple, next)) {
      out += simple[next];
      i += 1;
    } else {
      out += ch;
    }
  }
  return out;
}

/**
 * Runs the pickle in `bytes` from `start` to its STOP opcode and returns the
 * value it built. Throws a one-line CheffError for a truncated or damaged pickle,
 * or one that uses features cheff does not read (extension codes, out-of-band buffers).
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions, start = 0): UnpickleResult {
  const { source } = options;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder("utf-8");
  const n = bytes.length;
  let pos = start;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const damaged = (why: string): never => {
    throw new CheffError(`${source}: damaged pickle (${why} at byte ${pos})`);
  };
  const need = (count: number) => {
    if (count < 0 || pos + count > n) {
      throw new CheffError(
        `${source}: truncated (the pickle ends early at byte ${n}; the file is incomplete or damaged)`,
      );
    }
  };
  const readLine = (): string => {
    let end = pos;
    while (end < n && bytes[end] !== 0x0a) end++;
    if (end >= n) need(end - pos + 1);
    const line = new TextDecoder("latin1").decode(bytes.subarray(pos, end));
    pos = end + 1;
    return line;
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(n)) need(n + 1); // longer than the whole pickle: truncated or damaged
    return Number(v);
  };
  const take = (count: number) => {
    need(count);
    pos += count;
    return bytes.subarray(pos - count, pos);
  };
  const pop = (): unknown => {
    if (stack.length === 0) damaged("stack underflow");
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) damaged("stack underflow");
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const previous = marks.pop();
    if (!previous) damaged("no MARK");
    stack = previous!;
    return items;
  };
  const memoGet = (index: number) => {
    if (!memo.has(index)) damaged(`memo entry ${index} is missing`);
    return memo.get(index);
  };
  const decodeLong = (raw: Uint8Array): number | bigint => {
    if (raw.length === 0) return 0;
    let value = 0n;
    for (let i = raw.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(raw[i]);
    if (raw[raw.length - 1] & 0x80) value -= 1n << BigInt(8 * raw.length);
    return toNumberIfSafe(value);
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (items.length % 2 !== 0) damaged("odd number of dict items");
    if (isPickleDict(target)) {
      for (let i = 0; i < items.length; i += 2) setDictItem(target, items[i], items[i + 1]);
    } else if (target instanceof PickleObject) {
      target.dictItems ??= newDict();
      for (let i = 0; i < items.length; i += 2) setDictItem(target.dictItems, items[i], items[i + 1]);
    } else {
      damaged("SETITEM on something that is not a dict");
    }
  };
  const appendItems = (target: unknown, items: unknown[]) => {
    if (Array.isArray(target)) { for (const item of items) target.push(item); }
    else if (target instanceof PickleObject) {
      const list = target.listItems ??= [];
      for (const item of items) list.push(item);
    } else damaged("APPEND on something that is not a list");
  };
  const build = (target: unknown, state: unknown) => {
    if (target instanceof PickleObject) {
      if (target.state === undefined) target.state = state;
      else if (isPickleDict(target.state) && isPickleDict(state)) {
        for (const key of Object.keys(state)) setDictItem(target.state, key, state[key]);
      } else target.state = [target.state, state];
    } else if (typeof target === "object" && target !== null) {
      // A dict's or list's attributes (e.g. a state_dict's _metadata), never its items.
      attributes.set(target, state);
    }
  };

  if (pos >= n) need(1);
  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const protocol = u8();
        if (protocol > 5) damaged(`unsupported pickle protocol ${protocol}`);
        break;
      }
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: { // STOP
        const value = pop();
        return { value, end: pos };
      }
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length > 0) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;

      // Numbers.
      case 0x49: { // INT (text)
        const line = readLine().trim();
        if (line === "00") stack.push(false);
        else if (line === "01") stack.push(true);
        else stack.push(toInt(line));
        break;
      }
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4c: { // LONG (text)
        const line = readLine().trim().replace(/L$/, "");
        if (!/^[+-]?\d+$/.test(line)) damaged("bad LONG");
        stack.push(toNumberIfSafe(BigInt(line)));
        break;
      }
      case 0x8a: // LONG1
        stack.push(decodeLong(take(u8())));
        break;
      case 0x8b: { // LONG4
        const length = i32();
        if (length < 0 || length > 1 << 16) damaged(`refusing a ${length}-byte integer`);
        stack.push(decodeLong(take(length)));
        break;
      }
      case 0x46: // FLOAT (text)
        stack.push(Number(readLine().trim()));
        break;
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;

      // Strings and bytes.
      case 0x53: // STRING (text repr)
        stack.push(pythonStringLiteral(readLine().trim(), source));
        break;
      case 0x54: { // BINSTRING (Python 2 str: read as text, as torch.load does with encoding latin1/utf-8)
        const length = i32();
        stack.push(decoder.decode(take(length)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(decoder.decode(take(u8())));
        break;
      case 0x56: // UNICODE (raw-unicode-escape line)
        stack.push(unescape(readLine(), true));
        break;
      case 0x58: // BINUNICODE
        stack.push(decoder.decode(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(decoder.decode(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(decoder.decode(take(u64())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;

      // Constants.
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;

      // Containers.
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x61: { // APPEND
        const item = pop();
        appendItems(top(), [item]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x6c: { // LIST
        const items = popMark(); // before reading `stack`: popMark replaces it
        stack.push(items);
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: { // TUPLE
        const items = popMark(); // before reading `stack`: popMark replaces it
        stack.push(items);
        break;
      }
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(newDict());
        break;
      case 0x64: { // DICT
        const items = popMark();
        const dict = newDict();
        setItems(dict, items);
        stack.push(dict);
        break;
      }
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push([]);
        break;
      case 0x90: { // ADDITEMS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x91: { // FROZENSET
        const items = popMark(); // before reading `stack`: popMark replaces it
        stack.push(items);
        break;
      }

      // Globals and objects: looked up in the fixed table, never imported.
      case 0x63: { // GLOBAL
        const module = readLine();
        const name = readLine();
        stack.push(resolveGlobal(module, name, options));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") damaged("STACK_GLOBAL without strings");
        stack.push(resolveGlobal(module as string, name as string, options));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        stack.push(invoke(callable, args));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        build(top(), state);
        break;
      }
      case 0x69: { // INST
        const module = readLine();
        const name = readLine();
        const args = popMark();
        stack.push(invoke(resolveGlobal(module, name, options), args));
        break;
      }
      case 0x6f: { // OBJ
        const items = popMark();
        if (items.length === 0) damaged("OBJ without a class");
        stack.push(invoke(items[0], items.slice(1)));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(invoke(cls, args));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        stack.push(invoke(cls, args, isPickleDict(kwargs) ? kwargs : undefined));
        break;
      }

      // Memo.
      case 0x70: // PUT
        memo.set(Number(readLine()), top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET
        stack.push(memoGet(Number(readLine())));
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;

      // Persistent ids: how torch refers to storages kept outside the pickle.
      case 0x50: // PERSID
      case 0x51: { // BINPERSID
        const pid = op === 0x50 ? readLine() : pop();
        if (!options.persistentLoad) damaged("persistent id in a pickle that should have none");
        stack.push(options.persistentLoad!(pid));
        break;
      }

      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        damaged("uses the copyreg extension registry, which cheff does not read");
        break;
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        damaged("uses out-of-band buffers, which cheff does not read");
        break;
      default:
        pos--;
        damaged(`unknown opcode 0x${op.toString(16).padStart(2, "0")}`);
    }
  }
}
