/**
 * Normalisation layers: `groupNorm` (optionally fused with SiLU) and `layerNorm`,
 * each with a plain TypeScript reference used for host tensors. Both use the
 * biased variance, as PyTorch does, computed from deviations about the mean rather
 * than as E[x²] − E[x]².
 *
 * @example
 * ```ts
 * const h = groupNorm(x, 32, gamma, beta, 1e-6, { silu: true }); // GroupNorm(32) then SiLU
 * const t = layerNorm(tokens, gamma, beta, 1e-5);                // over the last axis
 * ```
 *
 * NOTE: inputs must fit in one storage binding (`Gpu.maxBinding`, 128 MiB on lavapipe);
 * larger ones fail at dispatch. conv2d splits such batches by image; these could too.
 */
import type { ParamLayout } from "../gpu/device.ts";
import { shapeString, Tensor } from "../gpu/tensor.ts";
import { wgsl, WORKGROUP } from "./wgsl_source.ts";

export interface GroupNormOptions {
  /** Applies SiLU (x · sigmoid(x)) to the normalised output in the same pass. */
  silu?: boolean;
}

const GROUP_NORM_LAYOUT: ParamLayout = [
  ["M", "u32"],
  ["parts", "u32"],
  ["groups", "u32"],
  ["C", "u32"],
  ["spatial", "u32"],
  ["channels_per_group", "u32"],
  ["total", "u32"],
  ["silu", "u32"],
  ["eps", "f32"],
];

const LAYER_NORM_LAYOUT: ParamLayout = [["rows", "u32"], ["D", "u32"], ["eps", "f32"]];

/** Smallest share of a group worth its own workgroup in the statistics pass. */
const MIN_PART_ELEMENTS = 4096;
/** Workgroups the statistics pass aims for, so that every core has work. */
const TARGET_WORKGROUPS = 32;
/** Elements of one channel per invocation of the normalize pass (RUN in group_norm.wgsl). */
const NORMALIZE_RUN = 16;

function checkAffine(op: string, name: string, t: Tensor, size: number): void {
  if (t.shape.length !== 1 || t.shape[0] !== size) {
    throw new Error(`${op}: ${name} must have shape [${size}], got ${shapeString(t.shape)}`);
  }
}

/**
 * Normalises each of `groups` channel groups of x [N, C, spatial…] by its own mean and
 * biased variance, then applies the per-channel gamma and beta [C] and, with
 * `silu`, SiLU.
 */
export function groupNorm(
  x: Tensor,
  groups: number,
  gamma: Tensor,
  beta: Tensor,
  eps: number,
  options: GroupNormOptions = {},
): Tensor {
  if (x.shape.length < 2) throw new Error(`groupNorm: input must be [N, C, …], got ${shapeString(x.shape)}`);
  const [N, C] = x.shape;
  if (!(Number.isInteger(groups) && groups > 0 && C % groups === 0)) {
    throw new Error(`groupNorm: ${C} channels do not split into ${groups} groups`);
  }
  checkAffine("groupNorm", "gamma", gamma, C);
  checkAffine("groupNorm", "beta", beta, C);
  const spatial = x.size / (N * C);
  const silu = options.silu ?? false;
  if (!x.gpu) return groupNormReference(x, groups, gamma, beta, eps, silu);
  if (x.size === 0) return Tensor.empty(x.gpu, x.shape);

  const gpu = x.gpu;
  const channelsPerGroup = C / groups;
  const M = channelsPerGroup * spatial;
  const totalGroups = N * groups;
  const parts = Math.max(
    1,
    Math.min(Math.ceil(TARGET_WORKGROUPS / totalGroups), Math.floor(M / MIN_PART_ELEMENTS)),
  );
  const params = {
    M,
    parts,
    groups: totalGroups,
    C,
    spatial,
    channels_per_group: channelsPerGroup,
    total: x.size,
    silu: silu ? 1 : 0,
    eps,
  };
  const partial = Tensor.empty(gpu, [totalGroups, parts, 3]);
  const stats = Tensor.empty(gpu, [totalGroups, 2]);
  const y = Tensor.empty(gpu, x.shape);
  const pipeline = (entry: string) => gpu.pipeline("group_norm", wgsl("group_norm"), entry);

  gpu.dispatch("group_norm.partial_stats", pipeline("partial_stats"), GROUP_NORM_LAYOUT, params, [
    x.binding(),
    partial.binding(),
  ], gpu.grid(totalGroups * parts));
  gpu.dispatch("group_norm.finish_stats", pipeline("finish_stats"), GROUP_NORM_LAYOUT, params, [
    partial.binding(),
    stats.binding(),
  ], [Math.ceil(totalGroups / WORKGROUP)]);
  gpu.dispatch("group_norm.normalize", pipeline("normalize"), GROUP_NORM_LAYOUT, params, [
    x.binding(),
    stats.binding(),
    gamma.binding(),
    beta.binding(),
    y.binding(),
  ], gpu.grid(Math.ceil((N * C * Math.ceil(spatial / NORMALIZE_RUN)) / WORKGROUP)));

  partial.release();
  stats.release();
  return y;
}

/** Normalises x [..., D] over its last axis, then applies gamma and beta [D]. */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
  if (x.shape.length < 1) throw new Error("layerNorm: input must have at least one axis");
  const D = x.shape[x.shape.length - 1];
  checkAffine("layerNorm", "gamma", gamma, D);
  checkAffine("layerNorm", "beta", beta, D);
  if (!x.gpu) return layerNormReference(x, gamma, beta, eps);
  const gpu = x.gpu;
  const y = Tensor.empty(gpu, x.shape);
  const rows = D === 0 ? 0 : x.size / D;
  if (rows === 0) return y;
  gpu.dispatch(
    "layer_norm",
    gpu.pipeline("layer_norm", wgsl("layer_norm"), "main"),
    LAYER_NORM_LAYOUT,
    { rows, D, eps },
    [x.binding(), gamma.binding(), beta.binding(), y.binding()],
    gpu.grid(rows),
  );
  return y;
}

/** Two-pass mean and biased variance of `values`, in float64. */
function meanVariance(values: Float32Array): [number, number] {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let m2 = 0;
  for (const v of values) m2 += (v - mean) * (v - mean);
  return [mean, m2 / values.length];
}

function groupNormReference(
  x: Tensor,
  groups: number,
  gamma: Tensor,
  beta: Tensor,
  eps: number,
  silu: boolean,
): Tensor {
  const [N, C] = x.shape;
  const spatial = x.size / (N * C);
  const M = (C / groups) * spatial;
  const y = Tensor.host(x.shape);
  for (let g = 0; g < N * groups; g++) {
    const [mean, variance] = meanVariance(x.data.subarray(g * M, (g + 1) * M));
    const rstd = 1 / Math.sqrt(variance + eps);
    for (let i = g * M; i < (g + 1) * M; i++) {
      const c = Math.floor(i / spatial) % C;
      const v = (x.data[i] - mean) * rstd * gamma.data[c] + beta.data[c];
      y.data[i] = silu ? v / (1 + Math.exp(-v)) : v;
    }
  }
  return y;
}

function layerNormReference(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
  const D = x.shape[x.shape.length - 1];
  const y = Tensor.host(x.shape);
  for (let start = 0; start < x.size; start += D) {
    const [mean, variance] = meanVariance(x.data.subarray(start, start + D));
    const rstd = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < D; i++) {
      y.data[start + i] = (x.data[start + i] - mean) * rstd * gamma.data[i] + beta.data[i];
    }
  }
  return y;
}
