/**
 * Backward of 2-D convolution and transposed convolution (NCHW, PyTorch's weight
 * layouts). The input gradient of each is the other operation run on the output
 * gradient, so it reuses the forward kernels. For stride-1 conv2d that other
 * operation is itself a conv2d with flipped weights. Weight gradients run as matrix
 * products of an im2col workspace (kernels/wgsl/conv_grad.wgsl and the matmul kernel),
 * with plain loop references for host tensors. Bias gradients are sums over batch
 * and positions.
 */
import type { Gpu, ParamLayout } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import {
  conv2d,
  type Conv2dOptions,
  conv2dPadding,
  type ConvDims,
  convTranspose2d,
  type ConvTranspose2dOptions,
  forEachTap,
  pair,
} from "../conv.ts";
import { concat, permute, slice } from "../layout.ts";
import { dispatchMatmul, type MatmulPlan } from "../matmul.ts";
import { wgsl, WORKGROUP } from "../wgsl_source.ts";
import { sumToShape } from "./elementwise.ts";

const LAYOUT: ParamLayout = [
  ["N", "u32"],
  ["C", "u32"],
  ["H", "u32"],
  ["W", "u32"],
  ["O", "u32"],
  ["OH", "u32"],
  ["OW", "u32"],
  ["KH", "u32"],
  ["KW", "u32"],
  ["SH", "u32"],
  ["SW", "u32"],
  ["PT", "u32"],
  ["PL", "u32"],
  ["K", "u32"],
  ["n0", "u32"],
  ["count", "u32"],
  ["transposed", "u32"],
];

/** Stride, padding and sizes of one convolution, resolved from its options. */
export interface ConvGeometry {
  stride: [number, number];
  /** Top and left padding (the only padding that shifts positions). */
  padding: [number, number];
}

export function conv2dGeometry(options: Conv2dOptions): ConvGeometry {
  const [top, , left] = conv2dPadding(options.padding);
  return { stride: pair("conv2d", "stride", options.stride, 1), padding: [top, left] };
}

export function convTranspose2dGeometry(options: ConvTranspose2dOptions): ConvGeometry {
  return {
    stride: pair("convTranspose2d", "stride", options.stride, 1),
    padding: pair("convTranspose2d", "padding", options.padding, 0),
  };
}

/** Sums dy [N, O, OH, OW] per channel over batch and positions: the bias gradient [O]. */
export function convBiasGrad(dy: Tensor): Tensor {
  const O = dy.shape[1];
  const sums = sumToShape(dy, [1, O, 1, 1]);
  const out = sums.reshape([O]);
  sums.release();
  return out;
}

/** Copies elements `start`…`start + length` − 1 of axis `axis` of x (zero past x's end) and releases x. */
function window(x: Tensor, axis: number, start: number, length: number): Tensor {
  const available = Math.min(length, x.shape[axis] - start);
  let out = available === x.shape[axis] ? x : slice(x, axis, start, start + available);
  if (available < length) {
    const padShape = out.shape.map((d, i) => (i === axis ? length - available : d));
    const zeros = Tensor.from(x.gpu, padShape, new Float32Array(padShape.reduce((a, b) => a * b, 1)));
    const padded = concat([out, zeros], axis);
    zeros.release();
    if (out !== x) out.release();
    out = padded;
  }
  if (out !== x) x.release();
  return out;
}

/**
 * Computes the input gradient of conv2d. dy [N, O, OH, OW] runs through the
 * transposed convolution with the same weight and stride and no padding, which
 * gives the gradient of the padded input. The result is the window the real
 * input occupies in it (zero for rows and columns the forward pass never read).
 */
export function conv2dInputGrad(
  dy: Tensor,
  w: Tensor,
  inputShape: readonly number[],
  geometry: ConvGeometry,
): Tensor {
  const { stride, padding } = geometry;
  const [, , H, W] = inputShape;
  const [, , KH, KW] = w.shape;
  const [OH, OW] = [dy.shape[2], dy.shape[3]];
  // For stride 1, dx is a stride-1 convolution of dy with the flipped, channel-swapped
  // weight, which runs on conv2d's unrolled 3×3 and 1×1 kernels. Its padding puts
  // every tap that read padding outside dx: KH − 1 − top above, and below whatever
  // makes the output H rows tall (likewise for columns).
  const top = KH - 1 - padding[0], left = KW - 1 - padding[1];
  const bottom = H - OH + KH - 1 - top, right = W - OW + KW - 1 - left;
  if (w.gpu && stride[0] === 1 && stride[1] === 1 && Math.min(top, left, bottom, right) >= 0) {
    return conv2d(dy, flippedWeights(w), undefined, { padding: [top, bottom, left, right] });
  }
  let dx = convTranspose2d(dy, w, undefined, { stride, padding: 0 });
  dx = window(dx, 2, padding[0], H);
  dx = window(dx, 3, padding[1], W);
  return dx;
}

/**
 * Returns (creating once, cached in `w.derived`) the conv2d weight [O, C, KH, KW]
 * with its channel axes swapped and its taps reversed: [C, O, KH, KW] with
 * value w[o, c, KH − 1 − ky, KW − 1 − kx]. The optimizer clears `derived` when
 * it writes new values, so the copy never outlives the values it was made from.
 */
function flippedWeights(w: Tensor): Tensor {
  const key = "conv2dInputGrad.weights";
  const cached = w.derived.get(key);
  if (cached && !cached.released) return cached;
  let flipped = permute(w, [1, 0, 2, 3]);
  for (const axis of [2, 3]) {
    const length = flipped.shape[axis];
    if (length === 1) continue;
    const pieces = Array.from({ length }, (_, i) => slice(flipped, axis, length - 1 - i, length - i));
    const reversed = concat(pieces, axis);
    for (const piece of pieces) piece.release();
    flipped.release();
    flipped = reversed;
  }
  w.derived.set(key, flipped);
  return flipped;
}

/** Computes the weight gradient of conv2d, [O, C, KH, KW]. */
export function conv2dWeightGrad(
  x: Tensor,
  dy: Tensor,
  weightShape: readonly number[],
  geometry: ConvGeometry,
): Tensor {
  return weightGrad(x, dy, weightShape, geometry, false);
}

/** Computes the input gradient of convTranspose2d: a convolution of dy with the same weight, stride and padding. */
export function convTranspose2dInputGrad(dy: Tensor, w: Tensor, geometry: ConvGeometry): Tensor {
  const [PT, PL] = geometry.padding;
  return conv2d(dy, w, undefined, { stride: geometry.stride, padding: [PT, PT, PL, PL] });
}

/** Computes the weight gradient of convTranspose2d, [C, O, KH, KW]. */
export function convTranspose2dWeightGrad(
  x: Tensor,
  dy: Tensor,
  weightShape: readonly number[],
  geometry: ConvGeometry,
): Tensor {
  return weightGrad(x, dy, weightShape, geometry, true);
}

/**
 * Computes the weight gradient of either convolution: for each weight, the sum
 * over its taps of the output gradient times the input it read.
 */
function weightGrad(
  x: Tensor,
  dy: Tensor,
  weightShape: readonly number[],
  geometry: ConvGeometry,
  transposed: boolean,
): Tensor {
  const [N, C, H, W] = x.shape;
  const [, , KH, KW] = weightShape;
  const dims: ConvDims = {
    N,
    C,
    H,
    W,
    O: dy.shape[1],
    OH: dy.shape[2],
    OW: dy.shape[3],
    KH,
    KW,
    SH: geometry.stride[0],
    SW: geometry.stride[1],
    PT: geometry.padding[0],
    PL: geometry.padding[1],
  };
  const shape = [...weightShape];
  if (x.gpu) {
    const entry = transposed ? "conv_transpose2d_weight_grad" : "conv2d_weight_grad";
    return dispatchWeightGrad(x.gpu, entry, x, dy, shape, { ...dims });
  }
  const sums = new Float64Array(shape.reduce((a, b) => a * b, 1));
  const xv = x.data, dyv = dy.data;
  forEachTap(dims, transposed, (xi, yi, wi) => {
    sums[wi] += dyv[yi] * xv[xi];
  });
  return Tensor.host(shape, Float32Array.from(sums));
}

function dispatchWeightGrad(
  gpu: Gpu,
  entry: string,
  x: Tensor,
  dy: Tensor,
  shape: number[],
  params: Record<string, number>,
): Tensor {
  const viaProduct = weightGradByProduct(gpu, x, dy, shape, params, entry === "conv_transpose2d_weight_grad");
  if (viaProduct) return viaProduct;
  // NOTE: x and dy are bound whole, so each must fit one storage binding (no per-image windows as in the forward kernels).
  const dw = Tensor.empty(gpu, shape);
  gpu.dispatch(
    `conv_grad.${entry}`,
    gpu.pipeline("conv_grad", wgsl("conv_grad"), entry),
    LAYOUT,
    params,
    [x.binding(), dy.binding(), dw.binding()],
    gpu.grid(Math.ceil(dw.size / WORKGROUP)),
  );
  return dw;
}

/** Largest workspace, in bytes, that one chunk of images of the matrix-product weight gradient fills. */
const WORKSPACE_BYTES = 64 * 2 ** 20;

/** Minimum length of each split of the summed index, so a split's block of outputs has work to amortise its stores. */
const SPLIT_LENGTH = 4096;
const MAX_SPLITS = 8;

/**
 * Computes a weight gradient as a matrix product on the matmul kernel: the
 * `columns` entry of conv_grad.wgsl writes A (the gradient rows for conv2d, the input
 * rows for the transposed convolution) and B (the patches each weight tap multiplies)
 * with one column per (image, position), and dw = A Bᵀ. The summed index is cut into
 * splits that run as the matmul's batch, so that small weights still give both CPU
 * cores work, and into chunks of images when the workspace would exceed WORKSPACE_BYTES.
 * The partial products are summed by one more product with a row of ones.
 * Returns undefined when even one image does not fit the workspace (the caller then
 * uses the direct kernels).
 */
function weightGradByProduct(
  gpu: Gpu,
  x: Tensor,
  dy: Tensor,
  shape: number[],
  params: Record<string, number>,
  transposed: boolean,
): Tensor | undefined {
  const { N, C, H, W, O, OH, OW, KH, KW } = params;
  const aRows = transposed ? C : O;
  const bRows = (transposed ? O : C) * KH * KW;
  const positions = transposed ? H * W : OH * OW;
  const budget = Math.min(WORKSPACE_BYTES, gpu.maxBinding);
  const rowBytes = (aRows + bRows) * 4;
  const perChunk = Math.min(N, Math.floor(budget / (rowBytes * (positions + 4 * MAX_SPLITS))));
  if (perChunk < 1) return undefined;
  const chunks = Math.ceil(N / perChunk);
  const columns = perChunk * positions;
  const splits = Math.max(1, Math.min(MAX_SPLITS, Math.floor(columns / SPLIT_LENGTH)));
  const K = Math.ceil(columns / (4 * splits)) * 4 * splits;
  const outputs = aRows * bRows;
  const partialCount = chunks * splits;

  const workspace = Tensor.empty(gpu, [aRows + bRows, K]);
  const dw = Tensor.empty(gpu, shape);
  const partials = partialCount === 1 ? dw : Tensor.empty(gpu, [partialCount, outputs]);
  const pipeline = gpu.pipeline("conv_grad", wgsl("conv_grad"), "columns");
  for (let chunk = 0; chunk < chunks; chunk++) {
    const n0 = chunk * perChunk;
    gpu.dispatch(
      "conv_grad.columns",
      pipeline,
      LAYOUT,
      { ...params, K, n0, count: Math.min(perChunk, N - n0), transposed: transposed ? 1 : 0 },
      [x.binding(), dy.binding(), workspace.binding()],
      gpu.grid(Math.ceil(((aRows + bRows) * (perChunk * (transposed ? H : OH) + 1)) / WORKGROUP)),
    );
    // Workspace rows 0 … aRows − 1 are A and the rest are B. Split t covers K / splits columns.
    const plan: MatmulPlan = {
      batch: splits,
      m: aRows,
      n: bRows,
      k: K / splits,
      aOffset: 0,
      aBatch: K / splits,
      aRow: K,
      aCol: 1,
      bOffset: aRows * K,
      bBatch: K / splits,
      bRow: 1,
      bCol: K,
      cOffset: chunk * splits * outputs,
      cBatch: outputs,
      cRow: bRows,
      alpha: 1,
    };
    dispatchMatmul(gpu, workspace, workspace, partials, plan);
  }
  workspace.release();
  if (partials !== dw) {
    const ones = Tensor.from(gpu, [1, partialCount], new Float32Array(partialCount).fill(1));
    const plan: MatmulPlan = {
      batch: 1,
      m: 1,
      n: outputs,
      k: partialCount,
      aOffset: 0,
      aBatch: 0,
      aRow: partialCount,
      aCol: 1,
      bOffset: 0,
      bBatch: 0,
      bRow: outputs,
      bCol: 1,
      cOffset: 0,
      cBatch: 0,
      cRow: outputs,
      alpha: 1,
    };
    dispatchMatmul(gpu, ones, partials, dw, plan);
    ones.release();
    partials.release();
  }
  return dw;
}
