/**
 * safetensors reading and writing: an 8-byte little-endian header length, a JSON
 * header mapping tensor names to `{dtype, shape, data_offsets}` (plus an optional
 * `__metadata__` of string values), then the raw little-endian tensor bytes.
 */
import { CheffError } from "./errors.ts";

export type DType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/** One tensor's contents: float dtypes are widened to float32 or float64, integers to int32 or bigint64. */
export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<DType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Maximum JSON header size accepted (the format's own reference reader uses 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Converts IEEE half-precision bits to a number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * Decodes `count` little-endian elements of `dtype` from `bytes` (at any alignment)
 * into the widened typed array described on HostTensor.
 */
export function decodeElements(bytes: Uint8Array, dtype: DType, count: number): HostTensor["data"] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "F32": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case "F64": {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    }
    case "F16": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    }
    case "BF16": {
      const out = new Float32Array(count);
      const word = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) word[i] = view.getUint16(2 * i, true) << 16;
      return out;
    }
    case "I64": {
      const out = new BigInt64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getBigInt64(8 * i, true);
      return out;
    }
    case "I32": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, true);
      return out;
    }
    case "I16": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, true);
      return out;
    }
    case "I8": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      return out;
    }
    case "U8":
    case "BOOL":
      return bytes.slice(0, count);
  }
}

/** Parses a safetensors document. `source` names the file in error messages. */
export function parseSafetensors(bytes: Uint8Array, source = "input"): SafetensorsFile {
  if (bytes.byteLength < 8) {
    throw new CheffError(`${source}: not a safetensors file (${bytes.byteLength} bytes, expected an 8-byte header length)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > bytes.byteLength) {
    throw new CheffError(`${source}: not a safetensors file (header length ${headerLength} does not fit in ${bytes.byteLength} bytes)`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw new CheffError(`${source}: not a safetensors file (its header is not valid JSON)`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new CheffError(`${source}: not a safetensors file (its header is not a JSON object)`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const tensors = new Map<string, HostTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: string; shape?: unknown; data_offsets?: unknown };
    const dtype = e?.dtype as DType;
    if (!(dtype in BYTES)) throw new CheffError(`${source}: tensor '${name}' has unsupported dtype ${e?.dtype}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new CheffError(`${source}: tensor '${name}' has an invalid shape`);
    }
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2) {
      throw new CheffError(`${source}: tensor '${name}' has invalid data_offsets`);
    }
    const [begin, end] = offsets as number[];
    const shape = e.shape as number[];
    const count = elementCount(shape);
    if (!(begin >= 0 && end <= dataLength && end - begin === count * BYTES[dtype])) {
      throw new CheffError(
        `${source}: tensor '${name}' data_offsets [${begin}, ${end}] do not match shape [${shape}] ${dtype} or the file is truncated`,
      );
    }
    const raw = bytes.subarray(dataStart + begin, dataStart + end);
    tensors.set(name, { dtype, shape, data: decodeElements(raw, dtype, count) });
  }
  return { tensors, metadata };
}

/** A tensor to write: float32, float64, int64 or uint8 data with its shape. */
export interface TensorToWrite {
  shape: readonly number[];
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
  /** Defaults from the array type (Int32Array is written as I32). */
  dtype?: DType;
}

function dtypeOf(t: TensorToWrite): DType {
  if (t.dtype) return t.dtype;
  if (t.data instanceof Float32Array) return "F32";
  if (t.data instanceof Float64Array) return "F64";
  if (t.data instanceof BigInt64Array) return "I64";
  if (t.data instanceof Int32Array) return "I32";
  return "U8";
}

/** Serialises tensors (in insertion order) and string metadata to safetensors bytes. */
export function serializeSafetensors(
  tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const dtype = dtypeOf(t);
    const count = elementCount(t.shape);
    if (t.data.length !== count) {
      throw new Error(`serializeSafetensors: tensor '${name}' has ${t.data.length} elements for shape [${t.shape}]`);
    }
    const length = count * BYTES[dtype];
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + length] };
    offset += length;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  while ((8 + new TextEncoder().encode(json).length) % 8 !== 0) json += " ";
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const [, t] of entries) {
    const dtype = dtypeOf(t);
    position += writeElements(view, position, t.data, dtype);
  }
  return out;
}

function writeElements(view: DataView, at: number, data: TensorToWrite["data"], dtype: DType): number {
  const n = data.length;
  switch (dtype) {
    case "F32":
      for (let i = 0; i < n; i++) view.setFloat32(at + 4 * i, Number(data[i]), true);
      return 4 * n;
    case "F64":
      for (let i = 0; i < n; i++) view.setFloat64(at + 8 * i, Number(data[i]), true);
      return 8 * n;
    case "I64":
      for (let i = 0; i < n; i++) view.setBigInt64(at + 8 * i, BigInt(data[i]), true);
      return 8 * n;
    case "I32":
      for (let i = 0; i < n; i++) view.setInt32(at + 4 * i, Number(data[i]), true);
      return 4 * n;
    case "U8":
    case "BOOL":
      for (let i = 0; i < n; i++) view.setUint8(at + i, Number(data[i]));
      return n;
    default:
      throw new Error(`serializeSafetensors: writing ${dtype} is not supported`);
  }
}
