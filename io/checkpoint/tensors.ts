/**
 * Turning a torch storage's raw bytes into a HostTensor, shared by the zip and
 * legacy readers, and walking an unpickled tree for its tensors.
 *
 * A torch tensor is a view of a storage: an element offset, a shape and strides.
 * cheff materialises every view as its own contiguous array in the widened
 * types HostTensor describes (float16 and bfloat16 become float32, int8 and
 * int16 become int32), keeping the stored dtype in `dtype`. Contiguous views
 * are typed-array copies; only strided views are gathered element by element.
 */
import { CheffError } from "../errors.ts";
import type { DType, HostTensor } from "../safetensors.ts";
import { isPickleDict, PickleObject } from "./pickle.ts";

export const ELEMENT_BYTES: Record<DType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** The largest tensor cheff materialises, in elements (a stride-0 view may claim far more than its storage). */
export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("cheff's checkpoint reader assumes a little-endian machine");
}

/** A tensor read from a checkpoint. A class, so a tree walker never mistakes it for a dict. */
export class LoadedTensor implements HostTensor {
  constructor(
    public dtype: DType,
    public shape: number[],
    public data: HostTensor["data"],
  ) {}
}

/** True for anything shaped like a HostTensor (from a checkpoint or a safetensors file). */
export function isHostTensor(value: unknown): value is HostTensor {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Partial<HostTensor>;
  return typeof v.dtype === "string" && Array.isArray(v.shape) && ArrayBuffer.isView(v.data);
}

export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const d of shape) count *= d;
  return count;
}

let halfTable: Float32Array | undefined;

/** float16 bits → float32, for all 65,536 patterns. */
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    table[h] = exponent === 0
      ? sign * fraction * 2 ** -24
      : exponent === 31
      ? (fraction ? NaN : sign * Infinity)
      : sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }
  halfTable = table;
  return table;
}

/** A typed view of `count` elements of `bytes` starting at `byteStart`, copying only if unaligned. */
function typedView<T>(
  make: new (buffer: ArrayBuffer, offset: number, length: number) => T,
  width: number,
  bytes: Uint8Array,
  byteStart: number,
  count: number,
): T {
  const start = bytes.byteOffset + byteStart;
  if (start % width === 0) return new make(bytes.buffer as ArrayBuffer, start, count);
  const copy = bytes.slice(byteStart, byteStart + count * width);
  return new make(copy.buffer, 0, count);
}

/**
 * Decodes `count` elements of `dtype` starting at element `first` of `bytes` into a new
 * widened array. With `adopt`, an aligned float32/float64/int32/int64/uint8 range is
 * wrapped without a copy (the caller promises nobody else holds `bytes`).
 */
export function decodeRange(
  bytes: Uint8Array,
  dtype: DType,
  first: number,
  count: number,
  adopt = false,
): HostTensor["data"] {
  const width = ELEMENT_BYTES[dtype];
  const at = first * width;
  switch (dtype) {
    case "F32": {
      const v = typedView(Float32Array, 4, bytes, at, count);
      return adopt && v.buffer === bytes.buffer ? v : v.slice();
    }
    case "F64": {
      const v = typedView(Float64Array, 8, bytes, at, count);
      return adopt && v.buffer === bytes.buffer ? v : v.slice();
    }
    case "I64": {
      const v = typedView(BigInt64Array, 8, bytes, at, count);
      return adopt && v.buffer === bytes.buffer ? v : v.slice();
    }
    case "I32": {
      const v = typedView(Int32Array, 4, bytes, at, count);
      return adopt && v.buffer === bytes.buffer ? v : v.slice();
    }
    case "F16": {
      const bits = typedView(Uint16Array, 2, bytes, at, count);
      const table = halfToFloatTable();
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = table[bits[i]];
      return out;
    }
    case "BF16": {
      const bits = typedView(Uint16Array, 2, bytes, at, count);
      const out = new Float32Array(count);
      const words = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) words[i] = bits[i] << 16;
      return out;
    }
    case "I16":
      return Int32Array.from(typedView(Int16Array, 2, bytes, at, count));
    case "I8":
      return Int32Array.from(new Int8Array(bytes.buffer, bytes.byteOffset + at, count));
    case "U8":
      return adopt ? bytes.subarray(at, at + count) : bytes.slice(at, at + count);
    case "BOOL": {
      const out = bytes.slice(at, at + count);
      for (let i = 0; i < count; i++) out[i] = out[i] ? 1 : 0;
      return out;
    }
  }
}

/**
 * Materialises one view of a storage as a contiguous tensor. `bytes` holds the
 * storage (at least `storageNumel` elements of `dtype`); `offset` and `stride` are
 * in elements. `label` names the tensor in error messages.
 */
export function materialise(
  bytes: Uint8Array,
  dtype: DType,
  storageNumel: number,
  offset: number,
  shape: number[],
  stride: number[],
  label: string,
  adopt = false,
): HostTensor["data"] {
  if (shape.length !== stride.length) {
    throw new CheffError(`${label}: tensor has ${shape.length} sizes but ${stride.length} strides`);
  }
  if (shape.some((d) => d < 0) || stride.some((s) => s < 0) || offset < 0) {
    throw new CheffError(`${label}: tensor has a negative size, stride or offset`);
  }
  const count = elementCount(shape);
  if (count > MAX_TENSOR_ELEMENTS) {
    throw new CheffError(`${label}: tensor of shape [${shape}] is too large (${count} elements)`);
  }
  if (count === 0) return decodeRange(new Uint8Array(0), dtype, 0, 0);
  let last = offset;
  for (let d = 0; d < shape.length; d++) last += (shape[d] - 1) * stride[d];
  if (last >= storageNumel || storageNumel * ELEMENT_BYTES[dtype] > bytes.byteLength) {
    throw new CheffError(
      `${label}: tensor [${shape}] at offset ${offset} reaches past its storage of ${storageNumel} elements (damaged file)`,
    );
  }

  // Contiguous (row-major) views copy one range.
  let contiguous = true;
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) contiguous = false;
    expected *= shape[d];
  }
  if (contiguous) {
    return decodeRange(bytes, dtype, offset, count, adopt && offset === 0 && count === storageNumel);
  }

  // Strided views: decode the span they touch, then gather.
  const span = decodeRange(bytes, dtype, offset, last - offset + 1);
  const out = new (span.constructor as new (n: number) => typeof span)(count);
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let source = 0;
  for (let i = 0; i < count; i++) {
    (out as Float32Array)[i] = (span as Float32Array)[source];
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      source += stride[d];
      if (index[d] < shape[d]) break;
      source -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

/** Deeper nesting than this is refused (a real checkpoint nests a handful of levels). */
export const MAX_NESTING = 1000;

/**
 * Every tensor in an unpickled tree, by dotted path (`state_dict.encoder.conv_in.weight`,
 * `optimizer_states.0.state.3.exp_avg`). Dicts, lists and the state of placeholder
 * objects are walked; each object is visited once (trees may share or cycle).
 */
export function collectTensors(tree: unknown, label = "checkpoint"): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  const seen = new Set<object>();
  const join = (path: string, key: string) => (path === "" ? key : `${path}.${key}`);
  const walk = (value: unknown, path: string, depth = 0) => {
    if (typeof value !== "object" || value === null) return;
    if (depth > MAX_NESTING) {
      throw new CheffError(`${label}: holds containers nested more than ${MAX_NESTING} deep; refusing it`);
    }
    if (isHostTensor(value)) {
      if (!out.has(path)) out.set(path, value);
      return;
    }
    if (seen.has(value)) return;
    seen.add(value);
    if (Array.isArray(value)) value.forEach((item, i) => walk(item, join(path, String(i)), depth + 1));
    else if (isPickleDict(value)) {
      for (const key of Object.keys(value)) walk(value[key], join(path, key), depth + 1);
    } else if (value instanceof PickleObject) {
      walk(value.state, path, depth + 1);
      walk(value.dictItems, path, depth + 1);
      walk(value.listItems, path, depth + 1);
    }
  };
  walk(tree, "");
  return out;
}
