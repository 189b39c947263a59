/**
 * Writing model weights as a safetensors file, tensor by tensor, through a
 * temporary sibling file renamed into place: a multi-gigabyte model is never
 * assembled in one buffer, and a failed write never leaves a partial file or
 * replaces an existing one unless overwriting was asked for.
 *
 * @example
 * ```ts
 * await writeWeightsFile("ae.safetensors", weightsForFile(stateDict(loaded)), { "cheff.config": "{…}" });
 * ```
 */
import { CheffError } from "../errors.ts";
import { checkWritable, type WriteOptions } from "../files.ts";
import type { DType, HostTensor } from "../safetensors.ts";
import { ELEMENT_BYTES, elementCount } from "./tensors.ts";

export interface WeightToWrite {
  dtype: DType;
  shape: readonly number[];
  /** Little-endian bytes of the tensor as `dtype`. */
  bytes: Uint8Array;
}

function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * How a tensor is stored in a converted file: every floating tensor as F32
 * (float16, bfloat16 and float64 included), I64 kept, I32/I16/I8 as I32
 * (HostTensor holds them widened), U8 and BOOL kept.
 */
export function weightForFile(tensor: HostTensor): WeightToWrite {
  const { dtype, shape, data } = tensor;
  switch (dtype) {
    case "F32":
    case "F16":
    case "BF16":
    case "F64": {
      const f32 = data instanceof Float32Array ? data : Float32Array.from(data as Float64Array);
      return { dtype: "F32", shape, bytes: bytesOf(f32) };
    }
    case "I64":
      return { dtype: "I64", shape, bytes: bytesOf(data) };
    case "I32":
    case "I16":
    case "I8":
      return {
        dtype: "I32",
        shape,
        bytes: bytesOf(data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>)),
      };
    case "U8":
    case "BOOL":
      return { dtype, shape, bytes: bytesOf(data) };
  }
}

/** The safetensors header for `weights`, padded so the data starts 8-byte aligned. */
export function safetensorsHeader(
  weights: Map<string, WeightToWrite>,
  metadata: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, w] of weights) {
    if (name === "__metadata__") {
      throw new CheffError("a tensor named __metadata__ cannot be stored in safetensors");
    }
    const length = elementCount(w.shape) * ELEMENT_BYTES[w.dtype];
    if (w.bytes.byteLength !== length) {
      throw new Error(
        `safetensorsHeader: tensor '${name}' has ${w.bytes.byteLength} bytes for [${w.shape}] ${w.dtype}`,
      );
    }
    Object.defineProperty(header, name, {
      value: { dtype: w.dtype, shape: [...w.shape], data_offsets: [offset, offset + length] },
      enumerable: true,
    });
    offset += length;
  }
  const encoder = new TextEncoder();
  let json = JSON.stringify(header);
  const padding = (8 - ((8 + encoder.encode(json).length) % 8)) % 8;
  json += " ".repeat(padding);
  const body = encoder.encode(json);
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(body.length), true);
  out.set(body, 8);
  return out;
}

/** Writes `weights` (in order) and string `metadata` to `path` as safetensors, atomically. */
export async function writeWeightsFile(
  path: string,
  weights: Map<string, WeightToWrite>,
  metadata: Record<string, string> = {},
  options: WriteOptions = {},
): Promise<void> {
  checkWritable(path, options);
  const header = safetensorsHeader(weights, metadata);
  const temporary = `${path}.partial-${Deno.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(temporary, { write: true, createNew: true });
    const writeAll = async (bytes: Uint8Array) => {
      let written = 0;
      while (written < bytes.length) written += await file!.write(bytes.subarray(written));
    };
    await writeAll(header);
    for (const w of weights.values()) await writeAll(w.bytes);
    file.close();
    file = undefined;
    await Deno.rename(temporary, path);
  } catch (error) {
    file?.close();
    await Deno.remove(temporary).catch(() => {});
    throw new CheffError(`${path}: cannot be written (${(error as Error).message})`);
  }
}
