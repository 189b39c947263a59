/**
 * Backward of GroupNorm and LayerNorm, each with an optional SiLU after the
 * affine step (the fused `groupNorm(..., { silu: true })` of the networks).
 * With x̂ = (x − mean) / σ over a normalised row, z = γ x̂ + β and dz the gradient
 * reaching z: dβ = Σ dz, dγ = Σ dz·x̂, and with g = dz·γ,
 * dx = (1/σ)·(g − mean(g) − x̂·mean(g·x̂)).
 * Host tensors run plain float64 loops; GPU tensors run kernels/wgsl/norm_grad.wgsl.
 * The forward references here are for tests and finite differences.
 */
import type { Gpu, ParamLayout } from "../../gpu/device.ts";
import { shapeString, Tensor } from "../../gpu/tensor.ts";
import { slice } from "../layout.ts";
import { wgsl, WORKGROUP } from "../wgsl_source.ts";

const LAYOUT: ParamLayout = [
  ["rows", "u32"],
  ["row_len", "u32"],
  ["groups", "u32"],
  ["channels_per_row", "u32"],
  ["span", "u32"],
  ["silu", "u32"],
  ["eps", "f32"],
];

/** The split of a tensor into normalised rows, and the affine channel of each element. */
interface RowPlan {
  rows: number;
  rowLength: number;
  groups: number;
  channelsPerRow: number;
  span: number;
}

function groupNormPlan(shape: readonly number[], groups: number): RowPlan {
  const [n, c] = shape;
  if (shape.length < 2 || c % groups !== 0) {
    throw new Error(`groupNorm: ${shapeString(shape)} cannot be split into ${groups} groups of channels`);
  }
  const span = shape.slice(2).reduce((a, d) => a * d, 1);
  return { rows: n * groups, rowLength: (c / groups) * span, groups, channelsPerRow: c / groups, span };
}

function layerNormPlan(shape: readonly number[]): RowPlan {
  const d = shape[shape.length - 1];
  const size = shape.reduce((a, v) => a * v, 1);
  return { rows: size / d, rowLength: d, groups: 1, channelsPerRow: d, span: 1 };
}

function channelOf(plan: RowPlan, r: number, j: number): number {
  return (r % plan.groups) * plan.channelsPerRow + Math.floor(j / plan.span);
}

/** Plain normalisation (two-pass biased variance), affine, optional SiLU; float64 sums. */
function referenceForward(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  eps: number,
  silu: boolean,
  plan: RowPlan,
): Tensor {
  const y = Tensor.host(x.shape);
  const xv = x.data, yv = y.data, gv = gamma.data, bv = beta.data;
  for (let r = 0; r < plan.rows; r++) {
    const base = r * plan.rowLength;
    let sum = 0;
    for (let j = 0; j < plan.rowLength; j++) sum += xv[base + j];
    const mean = sum / plan.rowLength;
    let squares = 0;
    for (let j = 0; j < plan.rowLength; j++) squares += (xv[base + j] - mean) ** 2;
    const rstd = 1 / Math.sqrt(squares / plan.rowLength + eps);
    for (let j = 0; j < plan.rowLength; j++) {
      const c = channelOf(plan, r, j);
      const z = gv[c] * (xv[base + j] - mean) * rstd + bv[c];
      yv[base + j] = silu ? z / (1 + Math.exp(-z)) : z;
    }
  }
  return y;
}

/** GroupNorm over `groups` channel groups of x [N, C, ...] (host tensors), optionally followed by SiLU. */
export function groupNormReference(
  x: Tensor,
  groups: number,
  gamma: Tensor,
  beta: Tensor,
  eps: number,
  silu = false,
): Tensor {
  return referenceForward(x, gamma, beta, eps, silu, groupNormPlan(x.shape, groups));
}

/** LayerNorm over the last axis of x (host tensors). */
export function layerNormReference(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
  return referenceForward(x, gamma, beta, eps, false, layerNormPlan(x.shape));
}

export interface NormGrads {
  dx: Tensor;
  dgamma: Tensor;
  dbeta: Tensor;
}

function referenceBackward(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  eps: number,
  silu: boolean,
  dy: Tensor,
  plan: RowPlan,
): NormGrads {
  const channels = plan.groups * plan.channelsPerRow;
  const dx = Tensor.host(x.shape);
  const dgamma = new Float64Array(channels);
  const dbeta = new Float64Array(channels);
  const xv = x.data, dyv = dy.data, gv = gamma.data, bv = beta.data, dxv = dx.data;
  const xh = new Float64Array(plan.rowLength);
  const g = new Float64Array(plan.rowLength);
  for (let r = 0; r < plan.rows; r++) {
    const base = r * plan.rowLength;
    let sum = 0;
    for (let j = 0; j < plan.rowLength; j++) sum += xv[base + j];
    const mean = sum / plan.rowLength;
    let squares = 0;
    for (let j = 0; j < plan.rowLength; j++) squares += (xv[base + j] - mean) ** 2;
    const rstd = 1 / Math.sqrt(squares / plan.rowLength + eps);
    let sumG = 0, sumGx = 0;
    for (let j = 0; j < plan.rowLength; j++) {
      const c = channelOf(plan, r, j);
      xh[j] = (xv[base + j] - mean) * rstd;
      let dz = dyv[base + j];
      if (silu) {
        const z = gv[c] * xh[j] + bv[c];
        const s = 1 / (1 + Math.exp(-z));
        dz *= s * (1 + z * (1 - s));
      }
      dgamma[c] += dz * xh[j];
      dbeta[c] += dz;
      g[j] = dz * gv[c];
      sumG += g[j];
      sumGx += g[j] * xh[j];
    }
    const meanG = sumG / plan.rowLength, meanGx = sumGx / plan.rowLength;
    for (let j = 0; j < plan.rowLength; j++) dxv[base + j] = rstd * (g[j] - meanG - xh[j] * meanGx);
  }
  return {
    dx,
    dgamma: Tensor.host([channels], Float32Array.from(dgamma)),
    dbeta: Tensor.host([channels], Float32Array.from(dbeta)),
  };
}

function dispatchBackward(
  gpu: Gpu,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  eps: number,
  silu: boolean,
  dy: Tensor,
  plan: RowPlan,
): NormGrads {
  const channels = plan.groups * plan.channelsPerRow;
  const stats = Tensor.empty(gpu, [plan.rows, 2]);
  const dx = Tensor.empty(gpu, x.shape);
  const params = Tensor.empty(gpu, [2 * channels]);
  const values = {
    rows: plan.rows,
    row_len: plan.rowLength,
    groups: plan.groups,
    channels_per_row: plan.channelsPerRow,
    span: plan.span,
    silu: silu ? 1 : 0,
    eps,
  };

  const pipeline = (entry: string) => gpu.pipeline("norm_grad", wgsl("norm_grad"), entry);
  const bindings = [x.binding(), dy.binding(), gamma.binding(), beta.binding(), stats.binding()];

  // param_grad reads the statistics that input_grad writes, and dispatches in one pass run in order.
  const rowGroups = gpu.grid(Math.ceil(plan.rows / WORKGROUP));
  gpu.dispatch(
    "norm_grad.input_grad",
    pipeline("input_grad"),
    LAYOUT,
    values,
    [...bindings, dx.binding()],
    rowGroups,
  );
  const channelGroups = gpu.grid(Math.ceil(channels / WORKGROUP));
  gpu.dispatch("norm_grad.param_grad", pipeline("param_grad"), LAYOUT, values, [
    ...bindings,
    params.binding(),
  ], channelGroups);
  stats.release();
  const dgamma = slice(params, 0, 0, channels);
  const dbeta = slice(params, 0, channels, 2 * channels);
  params.release();
  return { dx, dgamma, dbeta };
}

function checkGradShape(op: string, x: Tensor, dy: Tensor): void {
  if (x.size !== dy.size) {
    throw new Error(`${op}: gradient ${shapeString(dy.shape)} does not match input ${shapeString(x.shape)}`);
  }
}

/** Gradients of x [N, C, ...], γ [C] and β [C] in GroupNorm(groups, eps) (then SiLU when `silu`), from dy. */
export function groupNormBackward(
  x: Tensor,
  groups: number,
  gamma: Tensor,
  beta: Tensor,
  eps: number,
  silu: boolean,
  dy: Tensor,
): NormGrads {
  checkGradShape("groupNormBackward", x, dy);
  const plan = groupNormPlan(x.shape, groups);
  if (x.gpu) return dispatchBackward(x.gpu, x, gamma, beta, eps, silu, dy, plan);
  return referenceBackward(x, gamma, beta, eps, silu, dy, plan);
}

/** Gradients of x [..., D], γ [D] and β [D] in LayerNorm(eps) over the last axis, from dy. */
export function layerNormBackward(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  eps: number,
  dy: Tensor,
): NormGrads {
  checkGradShape("layerNormBackward", x, dy);
  const plan = layerNormPlan(x.shape);
  if (x.gpu) return dispatchBackward(x.gpu, x, gamma, beta, eps, false, dy, plan);
  return referenceBackward(x, gamma, beta, eps, false, dy, plan);
}
