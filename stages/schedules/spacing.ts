/**
 * DDIM step grids (which training timesteps a sampler of S steps visits) and the
 * per-step DDIM parameters ᾱ_t, ᾱ_prev and σ of Song et al., "Denoising Diffusion
 * Implicit Models" (ICLR 2021):
 * σ_i = η · √((1 − ᾱ_prev)/(1 − ᾱ_t) · (1 − ᾱ_t/ᾱ_prev)).
 *
 * Grids are returned in increasing order; a sampler visits them from the last
 * entry to the first. Two spacings exist per stage:
 * - `exact` (cheff's default) gives exactly S steps for every S from 1 to T;
 * - `reference` reproduces the original samplers, which take every ⌊T/S⌋-th step
 *   and so give more than S steps when S does not divide T.
 *
 * @example
 * ```ts
 * latentExactSpacing(100);      // [1, 11, 21, …, 991]
 * latentReferenceSpacing(150);  // 167 steps: [1, 7, 13, …, 997]
 * srExactSpacing(100);          // [0, 20, …, 1980]
 * ```
 */
import { CheffError } from "../../io/errors.ts";

export type Spacing = "exact" | "reference";

export const LATENT_TIMESTEPS = 1000;
export const SR_TIMESTEPS = 2000;

function checkSteps(label: string, steps: number, timesteps: number): void {
  if (!Number.isInteger(timesteps) || timesteps < 1) {
    throw new CheffError(`${label}: the schedule length must be a positive integer, got ${timesteps}`);
  }
  if (!Number.isInteger(steps) || steps < 1 || steps > timesteps) {
    throw new CheffError(`${label}: invalid step count ${steps}, expected an integer from 1 to ${timesteps}`);
  }
}

/**
 * Latent stage, exact spacing: t_i = ⌊i·T/S⌋ + k for i = 0 … S−1, with the
 * reference's offset k = 1 unless the last step would then reach T (only S = T),
 * where k = 0. Equals the reference grid whenever S divides T and S ≤ T/2.
 */
export function latentExactSpacing(steps: number, timesteps = LATENT_TIMESTEPS): Int32Array {
  checkSteps("latent DDIM grid", steps, timesteps);
  const offset = Math.floor(((steps - 1) * timesteps) / steps) + 1 > timesteps - 1 ? 0 : 1;
  const grid = new Int32Array(steps);
  for (let i = 0; i < steps; i++) grid[i] = Math.floor((i * timesteps) / steps) + offset;
  return grid;
}

/**
 * Latent stage, the reference's spacing (`make_ddim_timesteps('uniform')`): every
 * ⌊T/S⌋-th step from 0, plus 1. Throws where the grid would reach t = T, outside
 * the schedule (the reference fails there with an IndexError): every S > T/2, and
 * the S whose stride divides T − 1 (for T = 1000: S = 3, 9, 27, 36, 37, 101–111
 * and 251–333).
 */
export function latentReferenceSpacing(steps: number, timesteps = LATENT_TIMESTEPS): Int32Array {
  checkSteps("latent DDIM grid", steps, timesteps);
  const stride = Math.floor(timesteps / steps);
  const grid = Int32Array.from({ length: Math.ceil(timesteps / stride) }, (_, i) => i * stride + 1);
  const last = grid[grid.length - 1];
  if (last > timesteps - 1) {
    const limit = steps > timesteps / 2 ? ` (it supports at most ${Math.floor(timesteps / 2)} steps)` : "";
    throw new CheffError(
      `latent DDIM grid: --spacing reference cannot take ${steps} steps${limit}: every ${stride}th step plus 1 ` +
        `reaches t = ${last}, outside the ${timesteps}-step schedule; use --spacing exact`,
    );
  }
  return grid;
}

/** Super-resolution stage, exact spacing: t_i = ⌊i·T/S⌋, no offset. */
export function srExactSpacing(steps: number, timesteps = SR_TIMESTEPS): Int32Array {
  checkSteps("super-resolution DDIM grid", steps, timesteps);
  return Int32Array.from({ length: steps }, (_, i) => Math.floor((i * timesteps) / steps));
}

/** Super-resolution stage, the reference's spacing: every ⌊T/S⌋-th step from 0 (`arange(0, T, T // S)`). */
export function srReferenceSpacing(steps: number, timesteps = SR_TIMESTEPS): Int32Array {
  checkSteps("super-resolution DDIM grid", steps, timesteps);
  const stride = Math.floor(timesteps / steps);
  return Int32Array.from({ length: Math.ceil(timesteps / stride) }, (_, i) => i * stride);
}

/** Returns the grid a stage's sampler uses for `steps` steps under `spacing`. */
export function ddimGrid(
  stage: "latent" | "sr",
  steps: number,
  spacing: Spacing,
  timesteps?: number,
): Int32Array {
  if (stage === "latent") {
    return spacing === "exact"
      ? latentExactSpacing(steps, timesteps ?? LATENT_TIMESTEPS)
      : latentReferenceSpacing(steps, timesteps ?? LATENT_TIMESTEPS);
  }
  return spacing === "exact"
    ? srExactSpacing(steps, timesteps ?? SR_TIMESTEPS)
    : srReferenceSpacing(steps, timesteps ?? SR_TIMESTEPS);
}

/** Per-step DDIM parameters, indexed like the grid (index 0 = the smallest t, the last step taken). */
export interface DdimParameters {
  /** ᾱ at each grid timestep. */
  alphas: Float32Array;
  /** ᾱ at the previous grid timestep; ᾱ[0] (not 1) for index 0. */
  alphasPrev: Float32Array;
  /** σ as the sampler uses it (float32). */
  sigmas: Float32Array;
  /** √(1 − ᾱ_t) in float32. */
  sqrtOneMinusAlphas: Float32Array;
}

export interface LatentDdimParameters extends DdimParameters {
  /** σ before the float32 cast (the latent reference computes it in float64). */
  sigmas64: Float64Array;
}

function checkGrid(grid: Int32Array, alphasCumprod: Float32Array, label: string): void {
  if (grid.length === 0) throw new CheffError(`${label}: the grid is empty`);
  for (const t of grid) {
    if (t < 0 || t >= alphasCumprod.length) {
      throw new CheffError(`${label}: timestep ${t} is outside the ${alphasCumprod.length}-step schedule`);
    }
  }
}

function checkEta(eta: number, label: string): void {
  if (!(eta >= 0 && Number.isFinite(eta))) {
    throw new CheffError(`${label}: eta must be a number ≥ 0, got ${eta}`);
  }
}

/**
 * Latent-stage DDIM parameters with the reference's precision
 * (`make_ddim_sampling_parameters` on the float32 ᾱ buffer): σ mostly in float64,
 * then cast to float32 for the step, and √(1 − ᾱ_t) in float32. These match the
 * reference's tables bit for bit.
 */
export function latentDdimParameters(
  alphasCumprod: Float32Array,
  grid: Int32Array,
  eta: number,
): LatentDdimParameters {
  checkGrid(grid, alphasCumprod, "latent DDIM");
  checkEta(eta, "latent DDIM");
  const n = grid.length;
  const alphas = new Float32Array(n);
  const alphasPrev = new Float32Array(n);
  const sigmas64 = new Float64Array(n);
  const sqrtOneMinusAlphas = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = alphasCumprod[grid[i]];
    const prev = i === 0 ? alphasCumprod[0] : alphasCumprod[grid[i - 1]];
    alphas[i] = a;
    alphasPrev[i] = prev;
    const oneMinusA = Math.fround(1 - a);
    // The reference divides a float64 array by a float32 tensor, which torch
    // evaluates as reciprocal(1 − ᾱ_t) in float32 times (1 − ᾱ_prev) in float64.
    const reciprocal = Math.fround(1 / oneMinusA);
    sigmas64[i] = eta * Math.sqrt((1 - prev) * reciprocal * (1 - a / prev));
    sqrtOneMinusAlphas[i] = Math.fround(Math.sqrt(oneMinusA));
  }
  return { alphas, alphasPrev, sigmas: Float32Array.from(sigmas64), sigmas64, sqrtOneMinusAlphas };
}

/**
 * Super-resolution DDIM parameters, every operation in float32 as the reference
 * `SR3DDIMDiffusor` computes them.
 */
export function srDdimParameters(alphasCumprod: Float32Array, grid: Int32Array, eta: number): DdimParameters {
  checkGrid(grid, alphasCumprod, "super-resolution DDIM");
  checkEta(eta, "super-resolution DDIM");
  const f32 = Math.fround;
  const n = grid.length;
  const alphas = new Float32Array(n);
  const alphasPrev = new Float32Array(n);
  const sigmas = new Float32Array(n);
  const sqrtOneMinusAlphas = new Float32Array(n);
  const etaF = f32(eta);
  for (let i = 0; i < n; i++) {
    const a = alphasCumprod[grid[i]];
    const prev = i === 0 ? alphasCumprod[0] : alphasCumprod[grid[i - 1]];
    alphas[i] = a;
    alphasPrev[i] = prev;
    const ratio = f32(f32(1 - prev) / f32(1 - a));
    const inner = f32(ratio * f32(1 - f32(a / prev)));
    sigmas[i] = f32(etaF * f32(Math.sqrt(inner)));
    sqrtOneMinusAlphas[i] = f32(Math.sqrt(f32(1 - a)));
  }
  return { alphas, alphasPrev, sigmas, sqrtOneMinusAlphas };
}
