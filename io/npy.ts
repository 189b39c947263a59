/**
 * NumPy `.npy` reading (format versions 1–3): a magic string, a Python-literal
 * header `{'descr': '<f4', 'fortran_order': False, 'shape': (N, C, H, W)}`, then
 * the raw C-ordered data. Float32, float64 and float16 arrays are read as float32.
 */
import { CheffError } from "./errors.ts";
import { halfToFloat } from "./safetensors.ts";

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

export function isNpy(bytes: Uint8Array): boolean {
  return MAGIC.every((b, i) => bytes[i] === b);
}

export function parseNpy(bytes: Uint8Array, source: string): NpyArray {
  if (!isNpy(bytes) || bytes.length < 10) throw new CheffError(`${source}: not a NumPy .npy file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) throw new CheffError(`${source}: truncated .npy header`);
  const header = new TextDecoder().decode(bytes.subarray(headerStart, dataStart));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new CheffError(`${source}: unreadable .npy header`);
  if (fortran === "True") throw new CheffError(`${source}: Fortran-ordered arrays are not supported; save with C order`);
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const sizes: Record<string, number> = { "<f4": 4, "<f8": 8, "<f2": 2, "|f4": 4 };
  const size = sizes[descr];
  if (!size) throw new CheffError(`${source}: array dtype ${descr} is not supported, expected little-endian float16/32/64`);
  if (dataStart + count * size > bytes.length) throw new CheffError(`${source}: truncated .npy data`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const at = dataStart + i * size;
    data[i] = size === 4 ? view.getFloat32(at, true) : size === 8 ? view.getFloat64(at, true) : halfToFloat(view.getUint16(at, true));
  }
  return { shape, data };
}
