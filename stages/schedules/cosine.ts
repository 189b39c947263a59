/**
 * The super-resolution stage's cosine schedule (Nichol & Dhariwal, "Improved
 * Denoising Diffusion Probabilistic Models", 2021) as the reference
 * `CosineSchedule` codes it: T = 2000, s = 0.008, every operation in float32,
 * betas clipped to [1e-4, 0.9999] and ᾱ recomputed as the running product of 1 − β. Each step below rounds to float32 (`Math.fround`) where torch would.
 *
 * The result cannot match the reference bits everywhere: torch's float32 cos is
 * not correctly rounded, so about 100 of the 2001 unnormalised ᾱ differ by one
 * unit in the last place, which moves two neighbouring betas by up to 0.12 %
 * (worst at t = 68) and ᾱ by up to 2e-6 absolute. From stored betas,
 * `srScheduleFromBetas` reproduces every derived table of the reference.
 *
 * @example
 * ```ts
 * const schedule = srCosineSchedule();
 * schedule.alphasCumprod[0]; // 0.9999 (β_0 is clipped up to 1e-4)
 * ```
 */
import { CheffError } from "../../io/errors.ts";
import type { ScheduleTables } from "./latent.ts";

const f32 = Math.fround;

/** Settings of the cosine schedule. */
export interface CosineScheduleConfig {
  timesteps: number;
  s: number;
  /** Lower and upper clip of the betas. */
  betaClip: [number, number];
}

/** The schedule of the released super-resolution models. */
export const CHEFF_SR_SCHEDULE: CosineScheduleConfig = {
  timesteps: 2000,
  s: 0.008,
  betaClip: [0.0001, 0.9999],
};

export interface CosineSchedule extends ScheduleTables<Float32Array> {
  timesteps: number;
  /** 1 − β_t in float32. */
  alphas: Float32Array;
}

/** Builds the cosine schedule in float32, as the reference computes it. */
export function srCosineSchedule(config: CosineScheduleConfig = CHEFF_SR_SCHEDULE): CosineSchedule {
  const { timesteps: steps, s } = config;
  if (!Number.isInteger(steps) || steps < 2) {
    throw new CheffError(`cosine schedule: timesteps must be an integer ≥ 2, got ${steps}`);
  }
  if (!(s >= 0 && s < 1)) throw new CheffError(`cosine schedule: s must be a number in [0, 1), got ${s}`);
  const [low, high] = config.betaClip;
  if (!(low >= 0 && low <= high && high < 1)) {
    throw new CheffError(`cosine schedule: betaClip must satisfy 0 ≤ low ≤ high < 1, got [${low}, ${high}]`);
  }

  // ᾱ(x) = cos(((x/T) + s)/(1 + s) · π · 0.5)², x = 0 … T (torch.linspace gives exact integers here).
  const cumulative = new Float32Array(steps + 1);
  const sF = f32(s);
  const onePlusS = f32(1 + s);
  const pi = f32(Math.PI);
  for (let x = 0; x <= steps; x++) {
    const angle = f32(f32(f32(f32(f32(x / steps) + sF) / onePlusS) * pi) * 0.5);
    const c = f32(Math.cos(angle));
    cumulative[x] = f32(c * c);
  }
  const first = cumulative[0];
  for (let x = 0; x <= steps; x++) cumulative[x] = f32(cumulative[x] / first);

  const betas = new Float32Array(steps);
  const lowF = f32(low);
  const highF = f32(high);
  for (let t = 0; t < steps; t++) {
    const beta = f32(1 - f32(cumulative[t + 1] / cumulative[t]));
    betas[t] = Math.min(Math.max(beta, lowF), highF);
  }
  return srScheduleFromBetas(betas);
}

/**
 * Derives the super-resolution tables from float32 betas, in the reference's
 * order of operations. The running product is kept in float64 and rounded to
 * float32 at each prefix, as `torch.cumprod` does on the CPU. From the reference
 * betas this gives its tables bit for bit, except that torch's float32 log differs
 * from a correctly rounded one by one unit in the last place in two entries of
 * the posterior log variance.
 */
export function srScheduleFromBetas(betas: Float32Array): CosineSchedule {
  const n = betas.length;
  const table = () => new Float32Array(n);
  const alphas = table();
  const t = {
    betas,
    alphasCumprod: table(),
    alphasCumprodPrev: table(),
    sqrtAlphasCumprod: table(),
    sqrtOneMinusAlphasCumprod: table(),
    logOneMinusAlphasCumprod: table(),
    sqrtRecipAlphasCumprod: table(),
    sqrtRecipm1AlphasCumprod: table(),
    posteriorVariance: table(),
    posteriorLogVarianceClipped: table(),
    posteriorMeanCoef1: table(),
    posteriorMeanCoef2: table(),
  };

  let product = 1;
  for (let i = 0; i < n; i++) {
    alphas[i] = f32(1 - betas[i]);
    t.alphasCumprodPrev[i] = i === 0 ? 1 : t.alphasCumprod[i - 1];
    product *= alphas[i];
    t.alphasCumprod[i] = f32(product);
  }

  const floor = f32(1e-20);
  for (let i = 0; i < n; i++) {
    const beta = betas[i];
    const abar = t.alphasCumprod[i];
    const abarPrev = t.alphasCumprodPrev[i];
    const oneMinusAbar = f32(1 - abar);
    const oneMinusAbarPrev = f32(1 - abarPrev);
    t.sqrtAlphasCumprod[i] = f32(Math.sqrt(abar));
    t.sqrtOneMinusAlphasCumprod[i] = f32(Math.sqrt(oneMinusAbar));
    t.logOneMinusAlphasCumprod[i] = f32(Math.log(oneMinusAbar));
    t.sqrtRecipAlphasCumprod[i] = f32(Math.sqrt(f32(1 / abar)));
    t.sqrtRecipm1AlphasCumprod[i] = f32(Math.sqrt(f32(f32(1 / abar) - 1)));
    const variance = f32(f32(beta * oneMinusAbarPrev) / oneMinusAbar);
    t.posteriorVariance[i] = variance;
    t.posteriorLogVarianceClipped[i] = f32(Math.log(Math.max(variance, floor)));
    t.posteriorMeanCoef1[i] = f32(f32(beta * f32(Math.sqrt(abarPrev))) / oneMinusAbar);
    t.posteriorMeanCoef2[i] = f32(f32(oneMinusAbarPrev * f32(Math.sqrt(alphas[i]))) / oneMinusAbar);
  }
  return { ...t, timesteps: n, alphas };
}
