/**
 * Where a sampler's Gaussian draws come from: cheff's seeded Philox stream, or
 * tensors recorded by another run (`--noise FILE`). A sampler asks for three
 * kinds of draws, each for the whole batch [N, C, h, w]:
 * - `xT`: the starting noise;
 * - `step(k)`: the noise that sampling step k adds (k counts in sampling order,
 *   0 = the first step, at the largest timestep);
 * - `qNoise(k)`: the forward noise that takes a kept original to step k's noise
 *   level when inpainting.
 *
 * @example
 * ```ts
 * const noise = philoxNoise(42);
 * const xT = noise.xT([2, 3, 64, 64]); // images 0 and 1 use seeds 42 and 43
 * ```
 */
import { CheffError } from "../../io/errors.ts";
import { readInput } from "../../io/files.ts";
import { type HostTensor, parseSafetensors } from "../../io/safetensors.ts";
import { normals, STAGE, STREAM } from "./philox.ts";

/** A run's requirements of a noise source, so a recorded file can be checked before any work starts. */
export interface NoiseNeeds {
  /** The batch shape [N, C, h, w]. */
  shape: readonly number[];
  /** Number of sampling steps. */
  steps: number;
  /** Whether any step adds noise (false for DDIM with eta 0). */
  stepNoise: boolean;
  /** Whether the run forward-noises a kept original (inpainting). */
  qNoise: boolean;
}

export interface NoiseSource {
  /** Throws a CheffError when the source cannot serve a run with these needs. */
  check(needs: NoiseNeeds): void;
  xT(shape: readonly number[]): Float32Array;
  step(k: number, shape: readonly number[]): Float32Array;
  qNoise(k: number, shape: readonly number[]): Float32Array;
  /** Settings for the stream's history: the seed, or the noise file's name. */
  describe(): Record<string, unknown>;
}

const MAX_SEED = (1n << 64n) - 1n;

/**
 * Seeded draws from Philox4x32-10. Image i of the batch uses seed
 * `seed + firstImage + i`, its index in the whole run, so splitting a run into
 * batches or shards gives every image the same noise. Draws are computed on the
 * host: a 3×64×64 latent needs about 12,000 normals per step, far less work than
 * one U-Net call.
 */
export class PhiloxNoise implements NoiseSource {
  readonly seed: bigint;
  readonly firstImage: number;
  readonly stage: number;

  constructor(seed: number | bigint, firstImage = 0, stage: number = STAGE.latent) {
    if (typeof seed === "number" && !Number.isSafeInteger(seed)) {
      throw new CheffError(`seed ${seed}: expected an integer from 0 to 2^64 − 1`);
    }
    const value = BigInt(seed);
    if (value < 0n || value > MAX_SEED) throw new CheffError(`seed ${seed}: expected an integer from 0 to 2^64 − 1`);
    if (!Number.isSafeInteger(firstImage) || firstImage < 0) {
      throw new CheffError(`first image index ${firstImage}: expected an integer ≥ 0`);
    }
    this.seed = value;
    this.firstImage = firstImage;
    this.stage = stage;
  }

  check(needs: NoiseNeeds): void {
    const last = this.seed + BigInt(this.firstImage + needs.shape[0] - 1);
    if (last > MAX_SEED) {
      throw new CheffError(`seed ${this.seed}: seed + image index reaches ${last}, above 2^64 − 1; choose a smaller --seed`);
    }
  }

  xT(shape: readonly number[]): Float32Array {
    return this.draw(shape, 0, STREAM.xT);
  }

  step(k: number, shape: readonly number[]): Float32Array {
    return this.draw(shape, k, STREAM.step);
  }

  qNoise(k: number, shape: readonly number[]): Float32Array {
    return this.draw(shape, k, STREAM.qNoise);
  }

  describe(): Record<string, unknown> {
    // A seed above 2^53 would lose digits as a JSON number.
    const seed = this.seed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(this.seed) : this.seed.toString();
    return this.firstImage === 0 ? { seed } : { seed, firstImage: this.firstImage };
  }

  private draw(shape: readonly number[], slot: number, stream: number): Float32Array {
    const [n] = shape;
    const item = shape.slice(1).reduce((a, d) => a * d, 1);
    const out = new Float32Array(n * item);
    for (let i = 0; i < n; i++) {
      const seed = this.seed + BigInt(this.firstImage + i);
      out.set(normals(seed, item, { slot, stream, stage: this.stage }), i * item);
    }
    return out;
  }
}

/** Shorthand for `new PhiloxNoise(seed, firstImage)` at the latent stage. */
export function philoxNoise(seed: number | bigint, firstImage = 0): PhiloxNoise {
  return new PhiloxNoise(seed, firstImage);
}

/**
 * Draws replayed from recorded tensors: `x_T` [N, C, h, w], `noise` and
 * `q_noise` [S, N, C, h, w], each in sampling order (index 0 = the first step).
 * A step that draws noise it does not use still has its slot. The values are in
 * the diffusion model's own latent space, the space the sampler draws in (for a
 * model with scale_factor s, z·s).
 */
export class RecordedNoise implements NoiseSource {
  constructor(private tensors: Map<string, HostTensor>, readonly source: string) {}

  check(needs: NoiseNeeds): void {
    const shape = [...needs.shape];
    const perStep = [needs.steps, ...shape];
    this.require("x_T", shape, "the starting noise");
    if (needs.stepNoise) this.require("noise", perStep, "one draw per sampling step");
    if (needs.qNoise) this.require("q_noise", perStep, "one forward-noise draw per sampling step, for inpainting");
  }

  xT(shape: readonly number[]): Float32Array {
    return this.slice("x_T", shape, undefined);
  }

  step(k: number, shape: readonly number[]): Float32Array {
    return this.slice("noise", shape, k);
  }

  qNoise(k: number, shape: readonly number[]): Float32Array {
    return this.slice("q_noise", shape, k);
  }

  describe(): Record<string, unknown> {
    return { noise: this.source.split(/[\\/]/).pop() };
  }

  /** The batch size the recording was made for (x_T's first axis), if it has an x_T. */
  batchSize(): number | undefined {
    const xT = this.tensors.get("x_T");
    return xT && xT.shape.length === 4 ? xT.shape[0] : undefined;
  }

  private require(name: string, shape: number[], what: string): void {
    const tensor = this.tensors.get(name);
    if (!tensor) {
      const present = [...this.tensors.keys()].join(", ") || "none";
      throw new CheffError(`${this.source}: missing noise tensor '${name}' [${shape}] (${what}); the file has: ${present}`);
    }
    if (!(tensor.data instanceof Float32Array)) {
      throw new CheffError(`${this.source}: noise tensor '${name}' is ${tensor.dtype}, expected F32`);
    }
    if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
      throw new CheffError(`${this.source}: noise tensor '${name}' has shape [${tensor.shape}], expected [${shape}] (${what})`);
    }
  }

  private slice(name: string, shape: readonly number[], k: number | undefined): Float32Array {
    const tensor = this.tensors.get(name);
    const size = shape.reduce((a, d) => a * d, 1);
    const offset = (k ?? 0) * size;
    if (!tensor || !(tensor.data instanceof Float32Array) || offset + size > tensor.data.length) {
      // check() rejects such files first; reaching this means a caller skipped it.
      throw new CheffError(`${this.source}: noise tensor '${name}' has no draw for ${k === undefined ? "the start" : `step ${k}`}`);
    }
    return tensor.data.slice(offset, offset + size);
  }
}

/** Reads a `--noise` file (safetensors holding `x_T`, and `noise` / `q_noise` where the run needs them). */
export async function readNoiseFile(path: string): Promise<RecordedNoise> {
  const bytes = await readInput(path);
  const file = parseSafetensors(bytes, path);
  return new RecordedNoise(file.tensors, path);
}
