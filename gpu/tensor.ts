/**
 * Float32 tensors in row-major (C-contiguous) layout, living either on the GPU
 * (a pooled storage buffer) or on the host (a Float32Array). Kernels dispatch on
 * where their inputs live: GPU tensors run the WGSL kernel, host tensors run the
 * plain TypeScript reference, so every network can be run both ways and compared.
 *
 * A GPU tensor's memory goes back to the pool on `release()`; networks release
 * activations as soon as they are dead, which keeps peak memory near the largest
 * layer rather than the sum of all layers.
 */
import type { Binding, Gpu } from "./device.ts";

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeString(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/** Shared storage of a tensor and its reshaped views. */
interface Storage {
  buffer?: GPUBuffer;
  data?: Float32Array;
  references: number;
}

export class Tensor {
  readonly shape: Shape;
  readonly size: number;
  /** The device a GPU tensor lives on; undefined for a host tensor. */
  readonly gpu: Gpu | undefined;
  /** Forms of this tensor prepared once for a kernel (a transposed weight, say), released with it. */
  readonly derived = new Map<string, Tensor>();
  #storage: Storage;
  #released = false;

  private constructor(shape: Shape, gpu: Gpu | undefined, storage: Storage) {
    this.shape = [...shape];
    this.size = sizeOf(shape);
    this.gpu = gpu;
    this.#storage = storage;
  }

  /** A host tensor over `data` (not copied). */
  static host(shape: Shape, data?: Float32Array): Tensor {
    const size = sizeOf(shape);
    const values = data ?? new Float32Array(size);
    if (values.length !== size) {
      throw new Error(`Tensor.host: ${values.length} values for shape ${shapeString(shape)}`);
    }
    return new Tensor(shape, undefined, { data: values, references: 1 });
  }

  /** An uninitialised GPU tensor from the pool. */
  static empty(gpu: Gpu, shape: Shape): Tensor {
    const bytes = Math.max(4, sizeOf(shape) * 4);
    return new Tensor(shape, gpu, { buffer: gpu.pool.acquire(bytes), references: 1 });
  }

  /** A tensor on `gpu` (or the host when undefined) holding a copy of `data`. */
  static from(gpu: Gpu | undefined, shape: Shape, data: Float32Array): Tensor {
    if (!gpu) return Tensor.host(shape, data.slice());
    const t = Tensor.empty(gpu, shape);
    if (data.length !== t.size) throw new Error(`Tensor.from: ${data.length} values for shape ${shapeString(shape)}`);
    gpu.write(t.buffer, 0, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return t;
  }

  /** A tensor like `like` (same device) with the given shape, uninitialised on the GPU and zero on the host. */
  static like(like: Tensor, shape: Shape): Tensor {
    return like.gpu ? Tensor.empty(like.gpu, shape) : Tensor.host(shape);
  }

  get isGpu(): boolean {
    return this.gpu !== undefined;
  }

  get released(): boolean {
    return this.#released;
  }

  /** The host values (host tensors only). */
  get data(): Float32Array {
    this.assertLive();
    if (!this.#storage.data) throw new Error("Tensor.data: this tensor lives on the GPU; use read()");
    return this.#storage.data;
  }

  /** The GPU buffer (GPU tensors only); it may be larger than the tensor. */
  get buffer(): GPUBuffer {
    this.assertLive();
    if (!this.#storage.buffer) throw new Error("Tensor.buffer: this tensor lives on the host");
    return this.#storage.buffer;
  }

  /** The whole tensor as a storage binding. */
  binding(): Binding {
    return { buffer: this.buffer, offset: 0, size: Math.max(4, this.size * 4) };
  }

  /** A view with another shape of the same number of elements, sharing storage. */
  reshape(shape: Shape): Tensor {
    this.assertLive();
    const resolved = resolveShape(shape, this.size);
    this.#storage.references++;
    return new Tensor(resolved, this.gpu, this.#storage);
  }

  /** Copies the values to the host (a copy for host tensors too). */
  async read(): Promise<Float32Array> {
    this.assertLive();
    if (!this.gpu) return this.data.slice();
    const bytes = await this.gpu.read(this.buffer, 0, this.size * 4);
    return new Float32Array(bytes.buffer, bytes.byteOffset, this.size);
  }

  /** Copies the values of several tensors to the host, GPU tensors in one read-back (see Gpu.readMany). */
  static async readAll(tensors: Tensor[]): Promise<Float32Array[]> {
    const out: Float32Array[] = tensors.map((t) => {
      t.assertLive();
      return t.gpu ? new Float32Array(0) : t.data.slice();
    });
    const onGpu = tensors.map((t, i) => [t, i] as const).filter(([t]) => t.gpu);
    const byDevice = new Map<Gpu, (readonly [Tensor, number])[]>();
    for (const entry of onGpu) {
      const list = byDevice.get(entry[0].gpu!) ?? [];
      list.push(entry);
      byDevice.set(entry[0].gpu!, list);
    }
    for (const [gpu, entries] of byDevice) {
      const bytes = await gpu.readMany(entries.map(([t]) => ({ buffer: t.buffer, offset: 0, size: t.size * 4 })));
      entries.forEach(([t, i], k) => {
        out[i] = new Float32Array(bytes[k].buffer, bytes[k].byteOffset, t.size);
      });
    }
    return out;
  }

  /** Returns the memory to the pool once no view uses it. Releasing twice is an error. */
  release(): void {
    this.assertLive();
    this.#released = true;
    for (const d of this.derived.values()) if (!d.released) d.release();
    this.derived.clear();
    const storage = this.#storage;
    storage.references--;
    if (storage.references === 0 && storage.buffer) {
      this.gpu!.pool.release(storage.buffer);
      storage.buffer = undefined;
    }
  }

  private assertLive(): void {
    if (this.#released) throw new Error(`use of a released tensor of shape ${shapeString(this.shape)}`);
  }
}

/** Resolves one -1 entry of `shape` against `size`, checking the element count. */
function resolveShape(shape: Shape, size: number): number[] {
  const out = [...shape];
  const unknown = out.indexOf(-1);
  if (unknown >= 0) {
    const known = out.reduce((a, d, i) => (i === unknown ? a : a * d), 1);
    out[unknown] = size / known;
  }
  if (sizeOf(out) !== size || !out.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`reshape: cannot view ${size} elements as ${shapeString(shape)}`);
  }
  return out;
}

/** Releases every tensor given, skipping undefined ones. */
export function release(...tensors: (Tensor | undefined)[]): void {
  for (const t of tensors) t?.release();
}
