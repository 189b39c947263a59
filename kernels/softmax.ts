/**
 * Softmax over the last axis, y = softmax(scale · x), computed stably by
 * subtracting each row's maximum first; with a plain TypeScript reference.
 */
import type { Gpu, ParamLayout } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { WORKGROUP, wgsl } from "./wgsl_source.ts";

export interface SoftmaxOptions {
  /** Factor applied to x before the softmax (1 / √d in attention). */
  scale?: number;
}

const LAYOUT: ParamLayout = [["rows", "u32"], ["length", "u32"], ["scale", "f32"]];

/** Computes the softmax with plain loops, one row at a time. */
function referenceSoftmax(x: Float32Array, y: Float32Array, length: number, scale: number): void {
  for (let start = 0; start < x.length; start += length) {
    let max = -Infinity;
    for (let i = 0; i < length; i++) max = Math.max(max, scale * x[start + i]);
    let sum = 0;
    for (let i = 0; i < length; i++) {
      const e = Math.exp(scale * x[start + i] - max);
      y[start + i] = e;
      sum += e;
    }
    for (let i = 0; i < length; i++) y[start + i] /= sum;
  }
}

/**
 * Records a softmax over the first `rows` rows of `length` values on the GPU. With
 * `y` undefined the rows of `x` are overwritten in place (attention does this to
 * its scores).
 */
export function dispatchSoftmax(
  gpu: Gpu,
  x: Tensor,
  y: Tensor | undefined,
  rows: number,
  length: number,
  scale: number,
): void {
  if (rows === 0 || length === 0) return;
  const entry = y ? "softmax" : "softmax_in_place";
  gpu.dispatch(
    `softmax.${entry}`,
    gpu.pipeline("softmax", wgsl("softmax"), entry),
    LAYOUT,
    { rows, length, scale },
    y ? [x.binding(), y.binding()] : [x.binding()],
    gpu.grid(Math.ceil(rows / WORKGROUP)),
  );
}

/**
 * Records a pass that writes, for each of the first `rows` rows of `length` values
 * in x, the row's max of scale·x and 1 / Σ exp(scale·x − max) into `stats` as
 * [rows, 2]. A later kernel then applies the softmax as it reads x (attention's
 * value product does).
 */
export function dispatchRowStats(
  gpu: Gpu,
  x: Tensor,
  stats: Tensor,
  rows: number,
  length: number,
  scale: number,
): void {
  if (rows === 0 || length === 0) return;
  gpu.dispatch(
    "softmax.row_stats",
    gpu.pipeline("softmax", wgsl("softmax"), "row_stats"),
    LAYOUT,
    { rows, length, scale },
    [x.binding(), stats.binding()],
    gpu.grid(Math.ceil(rows / WORKGROUP)),
  );
}

/**
 * Computes the softmax over the last axis of x: y = exp(scale·x − max) / Σ exp(scale·x − max),
 * row by row. Returns a new tensor of x's shape.
 *
 * @example
 * const weights = softmax(scores, { scale: 1 / Math.sqrt(64) });
 */
export function softmax(x: Tensor, options: SoftmaxOptions = {}): Tensor {
  const { scale = 1 } = options;
  if (x.shape.length === 0) throw new Error("softmax: x must have at least one axis");
  const length = x.shape[x.shape.length - 1];
  const y = Tensor.like(x, x.shape);
  if (!x.gpu) {
    if (length > 0) referenceSoftmax(x.data, y.data, length, scale);
    return y;
  }
  dispatchSoftmax(x.gpu, x, y, length === 0 ? 0 : x.size / length, length, scale);
  return y;
}
