/**
 * Samplers of the super-resolution stage, as the reference's `SR3DDIMDiffusor`
 * and `SR3Diffusor` run them on the cosine schedule:
 *
 * - DDIM (Song et al. 2021, eq. 12) over a grid of S timesteps without offset,
 *   x0 not clamped, ᾱ_prev = ᾱ[0] (not 1) at the last step:
 *   x0 = (x − √(1−ᾱ_t)·eps)/√ᾱ_t,
 *   x ← √ᾱ_prev·x0 + √(1 − ᾱ_prev − σ²)·eps + σ·z.
 *   With `clip` (not the reference's behaviour, off by default) x0 is clamped to
 *   [−1, 1] and eps recomputed from it, eps = (x − √ᾱ_t·x0)/√(1−ᾱ_t), which keeps
 *   a model's eps errors at large t from being multiplied by 1/√ᾱ_t.
 * - Ancestral DDPM over all T steps, x0 clamped to [−1, 1] and the posterior
 *   variance floored at 1e-20: x0 = √(1/ᾱ)·x − √(1/ᾱ − 1)·eps, mean = c1·x0 + c2·x,
 *   x ← mean + exp(½·log β̃)·z, with no noise at t = 0.
 *
 * The network takes [x, upsampled low-resolution image] on the channel axis.
 * Noise comes from Philox (seed + image index, stage 1) or from a recorded file.
 */
import { Tensor } from "../../gpu/tensor.ts";
import { add, clamp } from "../../kernels/elementwise.ts";
import { concat } from "../../kernels/layout.ts";
import { CheffError } from "../../io/errors.ts";
import type { HostTensor } from "../../io/safetensors.ts";
import { normals, STAGE, STREAM } from "../noise/philox.ts";
import type { CosineSchedule } from "../schedules/cosine.ts";
import { ddimGrid, type Spacing, srDdimParameters } from "../schedules/spacing.ts";
import type { SuperResolutionUnet } from "./network.ts";

export type SuperResolutionSampler = "ddim" | "ddpm";

export interface SamplingSettings {
  sampler: SuperResolutionSampler;
  /** DDIM steps S (ancestral DDPM always takes all T steps). */
  steps: number;
  /** DDIM's η: 0 is deterministic, 1 adds the DDPM amount of noise. */
  eta: number;
  spacing: Spacing;
  /** DDIM only: clamp each step's x0 to [−1, 1] (the reference does not). */
  clip?: boolean;
}

export const DEFAULT_SAMPLING: SamplingSettings = {
  sampler: "ddim",
  steps: 100,
  eta: 0,
  spacing: "exact",
  clip: false,
};

/** One sampling step: the timestep passed to the network and what the update needs. */
export interface PlannedStep {
  t: number;
  /** Whether the step adds noise (σ > 0, or t > 0 for DDPM). */
  noisy: boolean;
  /** DDIM's ᾱ_t, ᾱ_prev and σ; undefined for DDPM. */
  ddim?: { alpha: number; alphaPrev: number; sigma: number };
}

/** Plans the steps a sampler takes, in sampling order (largest t first). */
export function planSampling(schedule: CosineSchedule, settings: SamplingSettings): PlannedStep[] {
  if (settings.sampler === "ddpm") {
    return Array.from({ length: schedule.timesteps }, (_, i) => {
      const t = schedule.timesteps - 1 - i;
      return { t, noisy: t > 0 };
    });
  }
  const grid = ddimGrid("sr", settings.steps, settings.spacing, schedule.timesteps);
  const parameters = srDdimParameters(schedule.alphasCumprod, grid, settings.eta);
  const steps: PlannedStep[] = [];
  for (let i = grid.length - 1; i >= 0; i--) {
    const ddim = {
      alpha: parameters.alphas[i],
      alphaPrev: parameters.alphasPrev[i],
      sigma: parameters.sigmas[i],
    };
    steps.push({ t: grid[i], noisy: ddim.sigma > 0, ddim });
  }
  return steps;
}

/**
 * Computes one DDIM update of x (on any device) from the predicted noise.
 * `noise` is required when σ > 0. With `clip`, x0 is clamped to [−1, 1] and
 * eps recomputed from it.
 */
export function ddimStep(
  x: Tensor,
  eps: Tensor,
  step: { alpha: number; alphaPrev: number; sigma: number },
  noise?: Tensor,
  clip = false,
): Tensor {
  const { alpha, alphaPrev, sigma } = step;
  const sqrtAlpha = Math.sqrt(alpha);
  const sqrtOneMinusAlpha = Math.fround(Math.sqrt(Math.fround(1 - alpha)));
  let x0 = add(x, eps, 1 / sqrtAlpha, -sqrtOneMinusAlpha / sqrtAlpha);
  let direction = eps;
  if (clip) {
    const raw = x0;
    x0 = clamp(raw, -1, 1);
    raw.release();
    direction = add(x, x0, 1 / sqrtOneMinusAlpha, -sqrtAlpha / sqrtOneMinusAlpha);
  }
  const directionScale = Math.sqrt(Math.max(0, 1 - alphaPrev - sigma * sigma));
  const next = add(x0, direction, Math.sqrt(alphaPrev), directionScale);
  x0.release();
  if (direction !== eps) direction.release();
  if (sigma === 0) return next;
  if (!noise) throw new Error("ddimStep: σ > 0 needs noise");
  const noisy = add(next, noise, 1, sigma);
  next.release();
  return noisy;
}

/**
 * Computes one ancestral DDPM update at timestep t, the same for the whole batch
 * (the reference decides from t[0]). `noise` is required when t > 0.
 */
export function ddpmStep(
  x: Tensor,
  eps: Tensor,
  t: number,
  schedule: CosineSchedule,
  noise?: Tensor,
): Tensor {
  if (!Number.isInteger(t) || t < 0 || t >= schedule.timesteps) {
    throw new Error(`ddpmStep: t = ${t} is outside the ${schedule.timesteps}-step schedule`);
  }
  const raw = add(x, eps, schedule.sqrtRecipAlphasCumprod[t], -schedule.sqrtRecipm1AlphasCumprod[t]);
  const x0 = clamp(raw, -1, 1);
  raw.release();
  const mean = add(x0, x, schedule.posteriorMeanCoef1[t], schedule.posteriorMeanCoef2[t]);
  x0.release();
  if (t === 0) return mean;
  if (!noise) throw new Error("ddpmStep: t > 0 needs noise");
  const next = add(mean, noise, 1, Math.exp(0.5 * schedule.posteriorLogVarianceClipped[t]));
  mean.release();
  return next;
}

/** Source of a run's Gaussian draws. */
export interface NoiseSource {
  /** Describes the source for a stream's history. */
  readonly description: string;
  /** x_T of image `index` of the run: `count` values (C·H·W). */
  xT(index: number, count: number): Float32Array;
  /** The noise of sampling step `step` (0 = the first step taken) for image `index`. */
  step(index: number, step: number, count: number): Float32Array;
}

/** Philox noise: image `index` uses seed + index, stage 1 (super-resolution). */
export function philoxNoise(seed: number): NoiseSource {
  const imageSeed = (index: number) => BigInt(seed) + BigInt(index);
  return {
    description: `philox seed ${seed}`,
    xT: (index, count) =>
      normals(imageSeed(index), count, { slot: 0, stream: STREAM.xT, stage: STAGE.superResolution }),
    step: (index, step, count) =>
      normals(imageSeed(index), count, { slot: step, stream: STREAM.step, stage: STAGE.superResolution }),
  };
}

/** Recorded noise: `x_T` [N, C, H, W] and, unless no step adds noise, `noise` [S, N, C, H, W]. */
export interface RecordedNoise extends NoiseSource {
  /** x_T's shape [N, C, H, W]. */
  shape: number[];
  /** Steps recorded in `noise` (0 when it is absent). */
  steps: number;
}

/** Reads recorded noise from a safetensors file's tensors; `source` names the file in errors. */
export function recordedNoise(tensors: Map<string, HostTensor>, source: string): RecordedNoise {
  const xT = tensors.get("x_T");
  if (!xT) {
    throw new CheffError(`${source}: no 'x_T' tensor (expected x_T [N, 1, H, W] and noise [S, N, 1, H, W])`);
  }
  if (xT.shape.length !== 4 || !(xT.data instanceof Float32Array)) {
    throw new CheffError(
      `${source}: 'x_T' must be a float32 tensor [N, C, H, W], got ${xT.dtype} [${xT.shape}]`,
    );
  }
  const noise = tensors.get("noise");
  const [n, c, h, w] = xT.shape;
  const item = c * h * w;
  if (noise) {
    const fits = noise.shape.length === 5 && noise.shape.slice(1).every((d, i) => d === xT.shape[i]);
    if (!fits || !(noise.data instanceof Float32Array)) {
      throw new CheffError(
        `${source}: 'noise' must be a float32 tensor [S, ${n}, ${c}, ${h}, ${w}] to match x_T, got ${noise.dtype} [${noise.shape}]`,
      );
    }
  }
  const xData = xT.data as Float32Array;
  const noiseData = noise?.data as Float32Array | undefined;
  const steps = noise ? noise.shape[0] : 0;
  const checkIndex = (index: number, count: number) => {
    if (index >= n) throw new CheffError(`${source}: x_T contains ${n} images, the run has more`);
    if (count !== item) {
      throw new CheffError(`${source}: x_T images have ${item} values, the run needs ${count}`);
    }
  };
  return {
    description: `recorded noise from ${source}`,
    shape: [...xT.shape],
    steps,
    xT(index, count) {
      checkIndex(index, count);
      return xData.slice(index * item, (index + 1) * item);
    },
    step(index, step, count) {
      checkIndex(index, count);
      if (!noiseData) {
        throw new CheffError(
          `${source}: no 'noise' tensor, but the sampler adds noise (σ > 0); record noise [S, N, C, H, W] or use eta 0`,
        );
      }
      if (step >= steps) {
        throw new CheffError(`${source}: 'noise' records ${steps} steps, the sampler takes more`);
      }
      const start = (step * n + index) * item;
      return noiseData.slice(start, start + item);
    },
  };
}

export interface SampleOptions {
  settings: SamplingSettings;
  noise: NoiseSource;
  /** Index in the whole run of the batch's first image (picks its noise). */
  firstIndex?: number;
  /** Called after each step with (done, total). */
  progress?: (done: number, total: number) => void;
}

/**
 * Samples high-resolution images [N, out_dim, H, W] conditioned on the
 * upsampled low-resolution images [N, C, H, W] (on the model's device). The
 * result is returned raw: not clamped.
 */
export async function sampleSuperResolution(
  model: SuperResolutionUnet,
  schedule: CosineSchedule,
  upsampled: Tensor,
  options: SampleOptions,
): Promise<Tensor> {
  const { settings, noise } = options;
  const firstIndex = options.firstIndex ?? 0;
  const [n, , h, w] = upsampled.shape;
  const item = model.config.outDim * h * w;
  const shape = [n, model.config.outDim, h, w];
  const gpu = model.weights.gpu;
  const plan = planSampling(schedule, settings);

  const draw = (get: (index: number) => Float32Array) => {
    const data = new Float32Array(n * item);
    for (let b = 0; b < n; b++) data.set(get(firstIndex + b), b * item);
    return Tensor.from(gpu, shape, data);
  };

  let x = draw((index) => noise.xT(index, item));
  for (const [i, step] of plan.entries()) {
    const input = concat([x, upsampled], 1);
    const eps = model.forward(input, new Array(n).fill(step.t));
    input.release();
    const z = step.noisy ? draw((index) => noise.step(index, i, item)) : undefined;
    const next = step.ddim
      ? ddimStep(x, eps, step.ddim, z, settings.clip === true)
      : ddpmStep(x, eps, step.t, schedule, z);
    eps.release();
    z?.release();
    x.release();
    x = next;
    // Waiting per step keeps progress honest and surfaces GPU errors where they happen.
    await gpu?.sync();
    options.progress?.(i + 1, plan.length);
  }
  return x;
}
