/**
 * Recorded random draws for latent-diffusion training (`cheff train --draws
 * FILE`), used in place of the seeded Philox draws so that a step can be checked
 * against another implementation that recorded its own: a safetensors file with
 *
 *   t                [S, N]           timesteps (integers, any numeric dtype)
 *   noise            [S, N, C, h, w]  the eps the U-Net regresses on
 *   posterior_noise  [S, N, C, h, w]  the normals of the posterior sample
 *
 * for S steps of N images each, in the order the run visits its batches.
 */
import { CheffError } from "../io/errors.ts";
import { readInput } from "../io/files.ts";
import { parseSafetensors } from "../io/safetensors.ts";
import type { LatentDraws } from "./recipes/latent.ts";

export class RecordedDraws {
  private constructor(
    readonly path: string,
    readonly steps: number,
    readonly batch: number,
    /** The shape of one latent, [C, h, w]. */
    readonly latentShape: readonly number[],
    private readonly t: number[],
    private readonly noise: Float32Array,
    private readonly posteriorNoise: Float32Array,
  ) {}

  /** Reads and checks a draws file. */
  static async load(path: string): Promise<RecordedDraws> {
    const file = parseSafetensors(await readInput(path), path);
    const get = (name: string, rank: number) => {
      const t = file.tensors.get(name);
      if (!t) throw new CheffError(`${path}: no '${name}' tensor; expected t, noise and posterior_noise`);
      if (t.shape.length !== rank) {
        throw new CheffError(`${path}: '${name}' has shape [${t.shape}], expected ${rank} axes`);
      }
      return t;
    };
    const t = get("t", 2), noise = get("noise", 5), posterior = get("posterior_noise", 5);
    const [steps, batch] = t.shape;
    for (const [name, other] of [["noise", noise], ["posterior_noise", posterior]] as const) {
      if (other.shape[0] !== steps || other.shape[1] !== batch || other.shape.join() !== noise.shape.join()) {
        throw new CheffError(
          `${path}: '${name}' has shape [${other.shape}], expected [${steps}, ${batch}, C, h, w] like t and noise`,
        );
      }
    }
    const timesteps = Array.from(t.data as ArrayLike<number | bigint>, Number);
    if (!timesteps.every((v) => Number.isInteger(v) && v >= 0)) {
      throw new CheffError(`${path}: 't' contains a value that is not a timestep; expected integers ≥ 0`);
    }
    const floats = (name: string, data: ArrayLike<number | bigint>) => {
      const values = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>, Number);
      if (!values.every(Number.isFinite)) {
        throw new CheffError(`${path}: '${name}' contains a NaN or infinite value`);
      }
      return values;
    };
    return new RecordedDraws(
      path,
      steps,
      batch,
      noise.shape.slice(2),
      timesteps,
      floats("noise", noise.data as ArrayLike<number>),
      floats("posterior_noise", posterior.data as ArrayLike<number>),
    );
  }

  /** Rejects a run of steps `first` … `last` − 1 (0-based) that goes past the recorded steps, before any training. */
  checkSteps(first: number, last: number): void {
    if (last > this.steps) {
      throw new CheffError(
        `${this.path}: contains draws for ${this.steps} step(s), but the run needs steps ${first + 1} to ${last}`,
      );
    }
  }

  /** Returns the draws of training step `step` (0-based) for a batch of `n` latents of shape [C, h, w]. */
  forStep(step: number, n: number, latentShape: readonly number[], timesteps: number): LatentDraws {
    if (step >= this.steps) {
      throw new CheffError(`${this.path}: contains draws for ${this.steps} step(s), so step ${step + 1} has none`);
    }
    if (n !== this.batch || latentShape.join() !== this.latentShape.join()) {
      throw new CheffError(
        `${this.path}: contains draws for batches of ${this.batch} latents of shape [${this.latentShape.join(", ")}], ` +
          `but the run has ${n} of [${latentShape.join(", ")}]`,
      );
    }
    const t = this.t.slice(step * n, (step + 1) * n);
    const late = t.find((v) => v >= timesteps);
    if (late !== undefined) {
      throw new CheffError(
        `${this.path}: timestep ${late} at step ${step + 1}; expected one below the schedule's ${timesteps} steps`,
      );
    }
    const span = n * latentShape.reduce((a, d) => a * d, 1);
    return {
      t,
      noise: this.noise.slice(step * span, (step + 1) * span),
      posteriorNoise: this.posteriorNoise.slice(step * span, (step + 1) * span),
    };
  }
}
