/**
 * Parameters of a network: the list of names and shapes a config implies (so a
 * checkpoint can be checked against it before anything is uploaded), and the
 * uploaded tensors a network reads by name.
 */
import type { Gpu } from "../gpu/device.ts";
import { shapeString, Tensor } from "../gpu/tensor.ts";
import type { HostTensor } from "../io/safetensors.ts";

/** Expected parameter names and shapes, in module order. */
export class ParameterList {
  readonly shapes = new Map<string, number[]>();

  add(name: string, shape: number[]): void {
    if (this.shapes.has(name)) throw new Error(`ParameterList: duplicate parameter ${name}`);
    this.shapes.set(name, shape);
  }

  /** A 2-D convolution's weight [out, in, k, k] and bias [out]. */
  conv(name: string, inChannels: number, outChannels: number, kernel: number, bias = true): void {
    this.add(`${name}.weight`, [outChannels, inChannels, kernel, kernel]);
    if (bias) this.add(`${name}.bias`, [outChannels]);
  }

  /** A 1-D convolution of kernel size 1 (weight [out, in, 1]) and bias. */
  conv1d(name: string, inChannels: number, outChannels: number): void {
    this.add(`${name}.weight`, [outChannels, inChannels, 1]);
    this.add(`${name}.bias`, [outChannels]);
  }

  /** A GroupNorm or LayerNorm's weight and bias. */
  norm(name: string, channels: number): void {
    this.add(`${name}.weight`, [channels]);
    this.add(`${name}.bias`, [channels]);
  }

  /** An nn.Linear's weight [out, in] and optional bias. */
  linear(name: string, inFeatures: number, outFeatures: number, bias = true): void {
    this.add(`${name}.weight`, [outFeatures, inFeatures]);
    if (bias) this.add(`${name}.bias`, [outFeatures]);
  }

  /** The list with `prefix` prepended to every name. */
  prefixed(prefix: string): Map<string, number[]> {
    return new Map([...this.shapes].map(([name, shape]) => [prefix + name, shape]));
  }
}

/** Uploaded parameters, read by name. */
export class Weights {
  constructor(readonly tensors: Map<string, Tensor>, readonly gpu: Gpu | undefined) {}

  /** Uploads host tensors (float data) to `gpu`, or keeps them on the host when `gpu` is undefined. */
  static upload(gpu: Gpu | undefined, host: Map<string, HostTensor>): Weights {
    const tensors = new Map<string, Tensor>();
    for (const [name, t] of host) {
      const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>, Number);
      tensors.set(name, Tensor.from(gpu, t.shape, data));
    }
    return new Weights(tensors, gpu);
  }

  get(name: string): Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`missing parameter ${name}`);
    return t;
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** A 1-D conv weight [out, in, 1] seen as a 2-D 1×1 conv weight [out, in, 1, 1]. */
  conv1x1(name: string): Tensor {
    const key = `${name}#as-conv2d`;
    let t = this.tensors.get(key);
    if (!t) {
      const w = this.get(name);
      t = w.reshape([w.shape[0], w.shape[1], 1, 1]);
      this.tensors.set(key, t);
    }
    return t;
  }

  release(): void {
    for (const t of this.tensors.values()) if (!t.released) t.release();
    this.tensors.clear();
  }

  describe(name: string): string {
    const t = this.tensors.get(name);
    return t ? `${name} ${shapeString(t.shape)}` : `${name} (missing)`;
  }
}
