/**
 * The latent-diffusion samplers: DDIM with eta (Song et al. 2021, eq. 12) and
 * ancestral DDPM (Ho et al. 2020, eq. 11 with the posterior variance β̃), both
 * with classifier-free guidance and with inpainting by latent blending.
 *
 * Everything here works in the diffusion model's own latent space (z·scale_factor)
 * on host float32 arrays [N, C, h, w]. The U-Net runs on the GPU behind an
 * `EpsFunction`. The step arithmetic is a few multiply-adds per element, so it
 * runs on the host in float32, in the reference's order of operations (each
 * `f32(…)` is one PyTorch float32 operation), at the cost of one read-back per step.
 *
 * Masks are in cheff's convention: 1 = synthesise, 0 = keep, shape [N or 1, 1, h, w],
 * broadcast over channels. The kept region is blended in as the reference does:
 * DDIM before each model call, DDPM after each step. After the last step it is
 * set to the original latent unless `finalBlend` is false.
 *
 * @example
 * ```ts
 * const schedule = latentSchedule();
 * const eps = unetEps(unet, { gpu, shape: [1, 3, 64, 64] });
 * const z = await sampleLatent(schedule, eps, { shape: [1, 3, 64, 64], noise: philoxNoise(7) });
 * ```
 */
import type { Gpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { CheffError } from "../../io/errors.ts";
import type { NoiseNeeds, NoiseSource } from "../noise/source.ts";
import type { LatentSchedule } from "../schedules/latent.ts";
import { ddimGrid, latentDdimParameters, type Spacing } from "../schedules/spacing.ts";

const f32 = Math.fround;

export type SamplerName = "ddim" | "ddpm";

/**
 * The model's noise prediction ε(x, t) for a whole batch: `x` [N, C, h, w] in the
 * model's latent space, the same timestep `t` for every image. `step` is the
 * sampling step's index in sampling order.
 */
export type EpsFunction = (x: Float32Array, t: number, step: number) => Promise<Float32Array>;

/** The kept original for inpainting and outpainting. */
export interface Inpainting {
  /** The original latent [N, C, h, w] in the model's latent space (already multiplied by scale_factor). */
  x0: Float32Array;
  /** [N or 1, 1, h, w]: 1 = synthesise, 0 = keep. */
  mask: Float32Array;
  /** Set the kept region to x0 after the last step (default true). */
  finalBlend?: boolean;
}

export interface SampleOptions {
  /** [N, C, h, w]. */
  shape: readonly number[];
  noise: NoiseSource;
  /** Default "ddim". */
  sampler?: SamplerName;
  /** Default 100 for DDIM and the schedule length (every timestep) for DDPM. */
  steps?: number;
  /** Default "exact". */
  spacing?: Spacing;
  /** DDIM's η (0 = deterministic DDIM, 1 = the DDPM-like variance); default 1. DDPM ignores it. */
  eta?: number;
  inpainting?: Inpainting;
  /** Called after each step with the number of steps done. */
  progress?: (done: number, total: number) => void;
}

export const DEFAULT_DDIM_STEPS = 100;
export const DEFAULT_ETA = 1;

/** Returns the timesteps a sampler visits, in sampling order (largest first). */
export function samplingTimesteps(schedule: LatentSchedule, sampler: SamplerName, steps?: number, spacing: Spacing = "exact"): number[] {
  const count = steps ?? (sampler === "ddim" ? DEFAULT_DDIM_STEPS : schedule.timesteps);
  return [...ddimGrid("latent", count, spacing, schedule.timesteps)].reverse();
}

/**
 * Samples latents: from x_T through every step of the chosen sampler, with the
 * kept region blended in when `inpainting` is given. Returns [N, C, h, w] in the
 * model's latent space.
 */
export async function sampleLatent(schedule: LatentSchedule, eps: EpsFunction, options: SampleOptions): Promise<Float32Array> {
  const shape = checkShape(options.shape);
  const sampler = options.sampler ?? "ddim";
  const spacing = options.spacing ?? "exact";
  const eta = options.eta ?? DEFAULT_ETA;
  const grid = ddimGrid("latent", options.steps ?? (sampler === "ddim" ? DEFAULT_DDIM_STEPS : schedule.timesteps), spacing, schedule.timesteps);
  const inpainting = options.inpainting;
  if (inpainting) checkInpainting(inpainting, shape);

  if (sampler === "ddim") {
    const parameters = latentDdimParameters(schedule.alphasCumprod, grid, eta);
    const stepNoise = parameters.sigmas.some((s) => s !== 0);
    options.noise.check(needs(shape, grid.length, stepNoise, inpainting !== undefined));
    return await sampleDdim(schedule, grid, parameters, eps, { ...options, shape, stepNoise });
  }
  if (sampler === "ddpm") {
    const tables = ddpmTables(schedule, grid);
    // The last step (index 0) adds no noise; a one-step run adds none at all.
    options.noise.check(needs(shape, grid.length, grid.length > 1, inpainting !== undefined && grid.length > 1));
    return await sampleDdpm(schedule, grid, tables, eps, { ...options, shape });
  }
  throw new CheffError(`sampler '${sampler}' is unknown; expected ddim or ddpm`);
}

function needs(shape: number[], steps: number, stepNoise: boolean, qNoise: boolean): NoiseNeeds {
  return { shape, steps, stepNoise, qNoise };
}

function checkShape(shape: readonly number[]): number[] {
  if (shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new CheffError(`latent shape [${shape}]: expected [N, C, h, w] with positive sizes`);
  }
  return [...shape];
}

function checkInpainting(inpainting: Inpainting, shape: number[]): void {
  const [n, c, h, w] = shape;
  if (inpainting.x0.length !== n * c * h * w) {
    throw new CheffError(`inpainting: the original latent has ${inpainting.x0.length} values, expected [${shape}]`);
  }
  const masks = inpainting.mask.length / (h * w);
  if (masks !== 1 && masks !== n) {
    throw new CheffError(`inpainting: the mask has ${inpainting.mask.length} values, expected [1 or ${n}, 1, ${h}, ${w}]`);
  }
}

// ---------------------------------------------------------------- DDIM

interface RunOptions extends SampleOptions {
  shape: number[];
}

async function sampleDdim(
  schedule: LatentSchedule,
  grid: Int32Array,
  parameters: ReturnType<typeof latentDdimParameters>,
  eps: EpsFunction,
  options: RunOptions & { stepNoise: boolean },
): Promise<Float32Array> {
  const { shape, noise, inpainting } = options;
  const total = grid.length;
  let x = noise.xT(shape);
  for (let k = 0; k < total; k++) {
    const index = total - 1 - k;
    const t = grid[index];
    if (inpainting) {
      const noised = qSample(schedule, inpainting.x0, t, noise.qNoise(k, shape));
      x = blendKept(x, noised, inpainting.mask, shape);
    }
    const e = await eps(x, t, k);
    const z = options.stepNoise ? noise.step(k, shape) : undefined;
    x = ddimStep(x, e, z, {
      alpha: parameters.alphas[index],
      alphaPrev: parameters.alphasPrev[index],
      sigma: parameters.sigmas[index],
      sqrtOneMinusAlpha: parameters.sqrtOneMinusAlphas[index],
    });
    options.progress?.(k + 1, total);
  }
  if (inpainting && (inpainting.finalBlend ?? true)) x = blendKept(x, inpainting.x0, inpainting.mask, shape);
  return x;
}

/** One DDIM step's coefficients (float32, as the reference's sampler tables hold them). */
export interface DdimCoefficients {
  /** ᾱ_t. */
  alpha: number;
  /** ᾱ of the next timestep visited (ᾱ[0] after the last step). */
  alphaPrev: number;
  sigma: number;
  /** √(1 − ᾱ_t). */
  sqrtOneMinusAlpha: number;
}

/**
 * One DDIM step: x̂0 = (x − √(1−ᾱ_t)·ε)/√ᾱ_t, unclipped, then
 * x_prev = √ᾱ_prev·x̂0 + √(1−ᾱ_prev−σ²)·ε + σ·z. `z` may be omitted when σ = 0.
 */
export function ddimStep(x: Float32Array, eps: Float32Array, z: Float32Array | undefined, c: DdimCoefficients): Float32Array {
  if (z === undefined && c.sigma !== 0) throw new Error("ddimStep: σ ≠ 0 needs noise");
  const sqrtAlpha = f32(Math.sqrt(c.alpha));
  const sqrtAlphaPrev = f32(Math.sqrt(c.alphaPrev));
  const direction = f32(Math.sqrt(f32(f32(1 - c.alphaPrev) - f32(c.sigma * c.sigma))));
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0 = f32(f32(x[i] - f32(c.sqrtOneMinusAlpha * eps[i])) / sqrtAlpha);
    const mean = f32(f32(sqrtAlphaPrev * x0) + f32(direction * eps[i]));
    out[i] = z === undefined ? mean : f32(mean + f32(c.sigma * z[i]));
  }
  return out;
}

// ---------------------------------------------------------------- ancestral DDPM

/**
 * Per-step tables of the ancestral sampler, indexed like the grid (index 0 =
 * the last step taken). On the full grid (every timestep) they are the
 * schedule's own float32 buffers; on a shorter grid the schedule is respaced
 * (Nichol & Dhariwal 2021, section 4): β'_i = 1 − ᾱ_{t_i}/ᾱ_{t_{i−1}}, with ᾱ = 1
 * before the first entry, and the tables are recomputed from it in float64 and
 * cast to float32.
 */
export interface DdpmTables {
  sqrtRecipAlphasCumprod: Float32Array;
  sqrtRecipm1AlphasCumprod: Float32Array;
  posteriorMeanCoef1: Float32Array;
  posteriorMeanCoef2: Float32Array;
  posteriorLogVarianceClipped: Float32Array;
}

/** The ancestral sampler's tables for `grid` (increasing timesteps). */
export function ddpmTables(schedule: LatentSchedule, grid: Int32Array): DdpmTables {
  const full = grid.length === schedule.timesteps && grid.every((t, i) => t === i);
  if (full) {
    return {
      sqrtRecipAlphasCumprod: schedule.sqrtRecipAlphasCumprod,
      sqrtRecipm1AlphasCumprod: schedule.sqrtRecipm1AlphasCumprod,
      posteriorMeanCoef1: schedule.posteriorMeanCoef1,
      posteriorMeanCoef2: schedule.posteriorMeanCoef2,
      posteriorLogVarianceClipped: schedule.posteriorLogVarianceClipped,
    };
  }
  const n = grid.length;
  const tables: DdpmTables = {
    sqrtRecipAlphasCumprod: new Float32Array(n),
    sqrtRecipm1AlphasCumprod: new Float32Array(n),
    posteriorMeanCoef1: new Float32Array(n),
    posteriorMeanCoef2: new Float32Array(n),
    posteriorLogVarianceClipped: new Float32Array(n),
  };
  const abar = schedule.float64.alphasCumprod;
  for (let i = 0; i < n; i++) {
    const a = abar[grid[i]];
    const aPrev = i === 0 ? 1 : abar[grid[i - 1]];
    const beta = 1 - a / aPrev;
    const variance = (beta * (1 - aPrev)) / (1 - a);
    tables.sqrtRecipAlphasCumprod[i] = Math.sqrt(1 / a);
    tables.sqrtRecipm1AlphasCumprod[i] = Math.sqrt(1 / a - 1);
    tables.posteriorMeanCoef1[i] = (beta * Math.sqrt(aPrev)) / (1 - a);
    tables.posteriorMeanCoef2[i] = ((1 - aPrev) * Math.sqrt(1 - beta)) / (1 - a);
    tables.posteriorLogVarianceClipped[i] = Math.log(Math.max(variance, 1e-20));
  }
  return tables;
}

/**
 * One ancestral step with a table index per image (as the reference's p_sample
 * takes a timestep per image): x̂0 = √(1/ᾱ)·x − √(1/ᾱ − 1)·ε, not clamped;
 * mean = coef1·x̂0 + coef2·x; x_prev = mean + [index ≠ 0]·exp(½·log β̃)·z.
 * `x`, `eps` and `z` are [N, …]; `indices` has N entries.
 */
export function ddpmStep(
  tables: DdpmTables,
  x: Float32Array,
  eps: Float32Array,
  indices: readonly number[],
  z: Float32Array | undefined,
): Float32Array {
  const n = indices.length;
  const item = x.length / n;
  if (!Number.isInteger(item) || eps.length !== x.length || (z !== undefined && z.length !== x.length)) {
    throw new Error(`ddpmStep: ${x.length} values do not split into ${n} images`);
  }
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    const i = indices[b];
    const sqrtRecip = tables.sqrtRecipAlphasCumprod[i];
    const sqrtRecipm1 = tables.sqrtRecipm1AlphasCumprod[i];
    const coef1 = tables.posteriorMeanCoef1[i];
    const coef2 = tables.posteriorMeanCoef2[i];
    const std = i === 0 ? 0 : f32(Math.exp(f32(0.5 * tables.posteriorLogVarianceClipped[i])));
    if (std !== 0 && z === undefined) throw new Error("ddpmStep: a step with index ≠ 0 needs noise");
    for (let j = b * item; j < (b + 1) * item; j++) {
      const x0 = f32(f32(sqrtRecip * x[j]) - f32(sqrtRecipm1 * eps[j]));
      const mean = f32(f32(coef1 * x0) + f32(coef2 * x[j]));
      out[j] = std === 0 ? mean : f32(mean + f32(std * z![j]));
    }
  }
  return out;
}

async function sampleDdpm(
  schedule: LatentSchedule,
  grid: Int32Array,
  tables: DdpmTables,
  eps: EpsFunction,
  options: RunOptions,
): Promise<Float32Array> {
  const { shape, noise, inpainting } = options;
  const total = grid.length;
  const n = shape[0];
  let x = noise.xT(shape);
  for (let k = 0; k < total; k++) {
    const index = total - 1 - k;
    const e = await eps(x, grid[index], k);
    const z = index === 0 ? undefined : noise.step(k, shape);
    x = ddpmStep(tables, x, e, new Array(n).fill(index), z);
    // Between steps the kept region is the original at the noise level x has
    // just reached, the next timestep visited (the reference noises it to the
    // current one, a step behind).
    if (inpainting && index > 0) {
      const noised = qSample(schedule, inpainting.x0, grid[index - 1], noise.qNoise(k, shape));
      x = blendKept(x, noised, inpainting.mask, shape);
    }
    options.progress?.(k + 1, total);
  }
  if (inpainting && (inpainting.finalBlend ?? true)) x = blendKept(x, inpainting.x0, inpainting.mask, shape);
  return x;
}

// ---------------------------------------------------------------- inpainting

/** The forward process q(x_t | x0): √ᾱ_t·x0 + √(1−ᾱ_t)·q, with the schedule's float32 buffers. */
export function qSample(schedule: LatentSchedule, x0: Float32Array, t: number, q: Float32Array): Float32Array {
  const a = schedule.sqrtAlphasCumprod[t];
  const b = schedule.sqrtOneMinusAlphasCumprod[t];
  const out = new Float32Array(x0.length);
  for (let i = 0; i < x0.length; i++) out[i] = f32(f32(a * x0[i]) + f32(b * q[i]));
  return out;
}

/**
 * x where the mask is 1 (synthesise) and `kept` where it is 0. The mask is
 * [N or 1, 1, h, w] and broadcasts over channels.
 */
export function blendKept(x: Float32Array, kept: Float32Array, mask: Float32Array, shape: readonly number[]): Float32Array {
  const [n, c, h, w] = shape;
  const plane = h * w;
  const perImage = mask.length === plane ? 0 : plane;
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const base = (b * c + ch) * plane;
      for (let p = 0; p < plane; p++) {
        out[base + p] = mask[b * perImage + p] === 0 ? kept[base + p] : x[base + p];
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- the model

/** Anything with the U-Net's eps(x, t, context) interface. */
export interface EpsModel {
  eps(x: Tensor, t: number[], context?: Tensor): Tensor;
}

export interface UNetEpsOptions {
  /** The device the model's weights live on; undefined for the host reference path. */
  gpu: Gpu | undefined;
  /** [N, C, h, w], the batch the sampler runs. */
  shape: readonly number[];
  /** [N, L, D] report context (host values), or undefined for an unconditional model. */
  context?: { shape: readonly number[]; data: Float32Array };
  /** The empty report's context [1, L, D] (or [N, L, D]), needed when guidance ≠ 1. */
  unconditional?: { shape: readonly number[]; data: Float32Array };
  /** Classifier-free guidance scale g: ε = ε_u + g·(ε_c − ε_u). 1 (the default) runs the conditional model alone. */
  guidance?: number;
}

/**
 * Wraps a U-Net as an EpsFunction: uploads x, runs the network on the device the
 * model lives on, reads ε back once per step. With guidance ≠ 1 the unconditional
 * and conditional branches run as one batch of 2N and are combined on the host.
 */
export function unetEps(model: EpsModel, options: UNetEpsOptions): EpsFunction & { release(): void } {
  const gpu = options.gpu;
  const shape = checkShape(options.shape);
  const [n, c, h, w] = shape;
  const guidance = options.guidance ?? 1;
  if (!Number.isFinite(guidance)) throw new CheffError(`guidance ${guidance}: expected a finite number`);
  const guided = guidance !== 1;
  if (guided && (!options.context || !options.unconditional)) {
    throw new CheffError("classifier-free guidance needs a report-conditioned model and a report");
  }
  const context = options.context ? repeatBatch(options.context, n, "context") : undefined;
  const contextTensor = context ? Tensor.from(gpu, context.shape, context.data) : undefined;
  let pairedContext: Tensor | undefined;
  if (guided) {
    const unconditional = repeatBatch(options.unconditional!, n, "unconditional context");
    const data = new Float32Array(2 * context!.data.length);
    data.set(unconditional.data, 0);
    data.set(context!.data, unconditional.data.length);
    pairedContext = Tensor.from(gpu, [2 * n, ...context!.shape.slice(1)], data);
  }

  const eps = async (x: Float32Array, t: number) => {
    if (!guided) {
      const input = Tensor.from(gpu, shape, x);
      const output = model.eps(input, new Array(n).fill(t), contextTensor);
      input.release();
      const e = await output.read();
      output.release();
      return e;
    }
    const doubled = new Float32Array(2 * x.length);
    doubled.set(x, 0);
    doubled.set(x, x.length);
    const input = Tensor.from(gpu, [2 * n, c, h, w], doubled);
    const output = model.eps(input, new Array(2 * n).fill(t), pairedContext);
    input.release();
    const both = await output.read();
    output.release();
    return guide(both.subarray(0, x.length), both.subarray(x.length), guidance);
  };
  const release = () => {
    contextTensor?.release();
    pairedContext?.release();
  };
  return Object.assign(eps, { release });
}

/** Classifier-free guidance: ε_u + g·(ε_c − ε_u), in float32. */
export function guide(epsUnconditional: Float32Array, epsConditional: Float32Array, guidance: number): Float32Array {
  const g = f32(guidance);
  const out = new Float32Array(epsConditional.length);
  for (let i = 0; i < out.length; i++) {
    out[i] = f32(epsUnconditional[i] + f32(g * f32(epsConditional[i] - epsUnconditional[i])));
  }
  return out;
}

/** A [1, L, D] or [N, L, D] context as [N, L, D]. */
function repeatBatch(context: { shape: readonly number[]; data: Float32Array }, n: number, what: string) {
  const [count, ...rest] = context.shape;
  if (count === n) return { shape: [...context.shape], data: context.data };
  if (count !== 1) throw new CheffError(`${what} has ${count} entries, expected 1 or ${n} (one per image)`);
  const data = new Float32Array(n * context.data.length);
  for (let i = 0; i < n; i++) data.set(context.data, i * context.data.length);
  return { shape: [n, ...rest], data };
}
