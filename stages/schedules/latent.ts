/**
 * The latent-diffusion noise schedule: betas linear in √β from `linear_start` to
 * `linear_end` over T steps, every derived table computed in float64 and then cast
 * to float32, as the reference `LatentDiffusion.register_schedule` does. The
 * float32 tables are the buffers a checkpoint stores and the sampler uses.
 *
 * @example
 * ```ts
 * const schedule = latentSchedule(CHEFF_LATENT_SCHEDULE);
 * schedule.alphasCumprod[999]; // 3.1514e-6 (float32)
 * ```
 */
import { CheffError } from "../../io/errors.ts";

/** The tables of a discrete diffusion schedule, one entry per training timestep t = 0 … T−1. */
export interface ScheduleTables<T extends Float32Array | Float64Array> {
  betas: T;
  alphasCumprod: T;
  /** ᾱ_{t−1}, with 1 at t = 0. */
  alphasCumprodPrev: T;
  sqrtAlphasCumprod: T;
  sqrtOneMinusAlphasCumprod: T;
  logOneMinusAlphasCumprod: T;
  sqrtRecipAlphasCumprod: T;
  sqrtRecipm1AlphasCumprod: T;
  /** β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t), 0 at t = 0. */
  posteriorVariance: T;
  /** log(max(β̃_t, 1e-20)). */
  posteriorLogVarianceClipped: T;
  posteriorMeanCoef1: T;
  posteriorMeanCoef2: T;
}

/** The reference's buffer name (as checkpoints store it) for each table. */
export const TABLE_NAMES: Record<keyof ScheduleTables<Float32Array>, string> = {
  betas: "betas",
  alphasCumprod: "alphas_cumprod",
  alphasCumprodPrev: "alphas_cumprod_prev",
  sqrtAlphasCumprod: "sqrt_alphas_cumprod",
  sqrtOneMinusAlphasCumprod: "sqrt_one_minus_alphas_cumprod",
  logOneMinusAlphasCumprod: "log_one_minus_alphas_cumprod",
  sqrtRecipAlphasCumprod: "sqrt_recip_alphas_cumprod",
  sqrtRecipm1AlphasCumprod: "sqrt_recipm1_alphas_cumprod",
  posteriorVariance: "posterior_variance",
  posteriorLogVarianceClipped: "posterior_log_variance_clipped",
  posteriorMeanCoef1: "posterior_mean_coef1",
  posteriorMeanCoef2: "posterior_mean_coef2",
};

/** Settings of the linear-in-√β schedule, with the reference's field names. */
export interface LatentScheduleConfig {
  timesteps: number;
  linear_start: number;
  linear_end: number;
}

/** The schedule every released Cheff latent-diffusion model was trained with. */
export const CHEFF_LATENT_SCHEDULE: LatentScheduleConfig = {
  timesteps: 1000,
  linear_start: 0.0015,
  linear_end: 0.0295,
};

/** The float32 buffers the sampler uses, plus the float64 values they were cast from. */
export interface LatentSchedule extends ScheduleTables<Float32Array> {
  config: LatentScheduleConfig;
  timesteps: number;
  /** 1 − β_t, float64 (the reference registers no float32 buffer for it). */
  alphas: Float64Array;
  float64: ScheduleTables<Float64Array>;
}

/** Describes a linear schedule in one line, for messages. */
export function describeLatentSchedule(config: LatentScheduleConfig): string {
  return `linear schedule, ${config.timesteps} steps, linear_start ${config.linear_start}, linear_end ${config.linear_end}`;
}

/**
 * Builds the latent-diffusion schedule. Throws a CheffError on settings that
 * give no valid schedule (fewer than 2 steps, betas outside (0, 1)).
 */
export function latentSchedule(config: LatentScheduleConfig = CHEFF_LATENT_SCHEDULE): LatentSchedule {
  const { timesteps: steps, linear_start: start, linear_end: end } = config;
  if (!Number.isInteger(steps) || steps < 2) {
    throw new CheffError(`latent schedule: timesteps must be an integer ≥ 2, got ${steps}`);
  }
  for (const [name, value] of [["linear_start", start], ["linear_end", end]] as const) {
    if (!(value > 0 && value < 1)) {
      throw new CheffError(`latent schedule: ${name} must be a number in (0, 1), got ${value}`);
    }
  }

  const roots = torchLinspaceFloat64(Math.sqrt(start), Math.sqrt(end), steps);
  const betas = roots.map((r) => r * r);
  const float64 = tablesFromBetas64(betas);
  const alphas = betas.map((b) => 1 - b);

  const float32 = {} as ScheduleTables<Float32Array>;
  for (const key of Object.keys(TABLE_NAMES) as (keyof ScheduleTables<Float32Array>)[]) {
    float32[key] = Float32Array.from(float64[key]);
  }
  return { ...float32, config: { ...config }, timesteps: steps, alphas, float64 };
}

/**
 * Derives every table from betas in float64, in the reference's order of
 * operations (numpy on float64 arrays), so each entry matches it bit for bit.
 */
function tablesFromBetas64(betas: Float64Array): ScheduleTables<Float64Array> {
  const n = betas.length;
  const table = () => new Float64Array(n);
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

  // numpy's cumprod multiplies left to right.
  let product = 1;
  for (let i = 0; i < n; i++) {
    const alpha = 1 - betas[i];
    t.alphasCumprodPrev[i] = product;
    product *= alpha;
    t.alphasCumprod[i] = product;
  }

  for (let i = 0; i < n; i++) {
    const beta = betas[i];
    const alpha = 1 - beta;
    const abar = t.alphasCumprod[i];
    const abarPrev = t.alphasCumprodPrev[i];
    t.sqrtAlphasCumprod[i] = Math.sqrt(abar);
    t.sqrtOneMinusAlphasCumprod[i] = Math.sqrt(1 - abar);
    t.logOneMinusAlphasCumprod[i] = Math.log(1 - abar);
    t.sqrtRecipAlphasCumprod[i] = Math.sqrt(1 / abar);
    t.sqrtRecipm1AlphasCumprod[i] = Math.sqrt(1 / abar - 1);
    // (1 − v_posterior)·β·(1 − ᾱ_prev)/(1 − ᾱ) + v_posterior·β with v_posterior = 0.
    const variance = (beta * (1 - abarPrev)) / (1 - abar);
    t.posteriorVariance[i] = variance;
    t.posteriorLogVarianceClipped[i] = Math.log(Math.max(variance, 1e-20));
    t.posteriorMeanCoef1[i] = (beta * Math.sqrt(abarPrev)) / (1 - abar);
    t.posteriorMeanCoef2[i] = ((1 - abarPrev) * Math.sqrt(alpha)) / (1 - abar);
  }
  return t;
}

/**
 * Computes `torch.linspace(start, end, steps, dtype=float64)` as the reference's
 * CPU run did. The first half counts up from `start` and the second half down from
 * `end`, in vectors of four doubles (AVX2). Each vector's first value is a fused
 * multiply-add (`start + step·i`), and the other three add `j·step` to it. This
 * reproduces the reference betas bit for bit. Without the fused multiply-add and
 * the groups of four, 274 of the 1000 Cheff betas differ by one unit in the last
 * place, which changes neither the float32 betas nor the float32 alphas_cumprod.
 */
function torchLinspaceFloat64(start: number, end: number, steps: number): Float64Array {
  const out = new Float64Array(steps);
  const step = (end - start) / (steps - 1);
  const halfway = Math.floor(steps / 2);
  const group = 4;
  for (let first = 0; first < steps; first += group) {
    const base = first < halfway
      ? fusedMultiplyAdd(step, first, start)
      : fusedMultiplyAdd(-step, steps - first - 1, end);
    for (let j = 0; j < group && first + j < steps; j++) {
      out[first + j] = j === 0 ? base : base + j * step;
    }
  }
  return out;
}

/** Splits a finite double into an integer mantissa and a power of two: x = m · 2^e. */
function splitDouble(x: number): [bigint, number] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const negative = bits >> 63n === 1n;
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & ((1n << 52n) - 1n);
  let exponent = -1074;
  if (biased !== 0) {
    mantissa |= 1n << 52n;
    exponent = biased - 1075;
  }
  return [negative ? -mantissa : mantissa, exponent];
}

/**
 * Rounds m · 2^e to the nearest double (ties to even). Handles results in the
 * normal and subnormal range; overflow gives ±Infinity through Number().
 */
function roundToDouble(m: bigint, e: number): number {
  if (m === 0n) return 0;
  const negative = m < 0n;
  let magnitude = negative ? -m : m;
  const length = magnitude.toString(2).length;
  // Keep 53 significant bits, or fewer where the result is subnormal.
  const shift = Math.max(length - 53, -1074 - e);
  if (shift > 0) {
    const s = BigInt(shift);
    const kept = magnitude >> s;
    const rest = magnitude - (kept << s);
    const half = 1n << (s - 1n);
    magnitude = rest > half || (rest === half && (kept & 1n) === 1n) ? kept + 1n : kept;
    e += shift;
  }
  const value = Number(magnitude) * 2 ** e;
  return negative ? -value : value;
}

/** Computes a·b + c with a single rounding, computed exactly with BigInt (a few hundred calls per schedule). */
export function fusedMultiplyAdd(a: number, b: number, c: number): number {
  const [ma, ea] = splitDouble(a);
  const [mb, eb] = splitDouble(b);
  const [mc, ec] = splitDouble(c);
  const product = ma * mb;
  const productExponent = ea + eb;
  const e = Math.min(productExponent, ec);
  const sum = (product << BigInt(productExponent - e)) + (mc << BigInt(ec - e));
  return roundToDouble(sum, e);
}

/**
 * Checks a checkpoint's stored `betas` buffer against the configured schedule
 * and throws a CheffError naming the first mismatch and the linear_start /
 * linear_end the stored betas imply. Entries may differ by 1e-6 relative
 * (another framework's float32 cast); anything more is a different schedule.
 */
export function checkStoredBetas(
  stored: ArrayLike<number>,
  schedule: LatentSchedule,
  source: string,
): void {
  const expected = schedule.betas;
  const configured = describeLatentSchedule(schedule.config);
  if (stored.length !== expected.length) {
    throw new CheffError(
      `${source}: betas has ${stored.length} entries but the configured ${configured} has ${expected.length}; ` +
        `pass --config with the checkpoint's schedule`,
    );
  }
  for (let t = 0; t < expected.length; t++) {
    const difference = Math.abs(stored[t] - expected[t]);
    if (!(difference <= 1e-6 * Math.abs(expected[t]))) {
      const impliedStart = roundForMessage(stored[0]);
      const impliedEnd = roundForMessage(stored[stored.length - 1]);
      throw new CheffError(
        `${source}: betas[${t}] is ${stored[t]} but the configured ${configured} gives ${expected[t]}; ` +
          `the stored betas run from ${impliedStart} to ${impliedEnd}, so pass --config with that schedule`,
      );
    }
  }
}

function roundForMessage(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(6))) : String(x);
}
