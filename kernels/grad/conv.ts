/**
 * Backward of 2-D convolution and transposed convolution (NCHW, PyTorch's weight
 * layouts). The input gradient of each is the other operation run on the output
 * gradient, so it reuses the forward kernels. Weight gradients have their own
 * kernels (kernels/wgsl/conv_grad.wgsl) and plain loop references for host
 * tensors. Bias gradients are sums over batch and positions.
 */
import type { Gpu, ParamLayout } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { conv2d, type Conv2dOptions, convTranspose2d, type ConvTranspose2dOptions } from "../conv.ts";
import { concat, slice } from "../layout.ts";
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
];

/** Stride, padding and sizes of one convolution, resolved from its options. */
export interface ConvGeometry {
  stride: [number, number];
  /** Top and left padding (the only padding that shifts positions). */
  padding: [number, number];
}

export function conv2dGeometry(options: Conv2dOptions): ConvGeometry {
  const s = options.stride ?? 1;
  const p = options.padding ?? 0;
  const stride: [number, number] = typeof s === "number" ? [s, s] : s;
  const padding: [number, number] = typeof p === "number" ? [p, p] : [p[0], p[2]];
  return { stride, padding };
}

export function convTranspose2dGeometry(options: ConvTranspose2dOptions): ConvGeometry {
  const s = options.stride ?? 1;
  const p = options.padding ?? 0;
  return {
    stride: typeof s === "number" ? [s, s] : s,
    padding: typeof p === "number" ? [p, p] : p,
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
  let dx = convTranspose2d(dy, w, undefined, { stride, padding: 0 });
  dx = window(dx, 2, padding[0], H);
  dx = window(dx, 3, padding[1], W);
  return dx;
}

/** Computes the weight gradient of conv2d, [O, C, KH, KW]. */
export function conv2dWeightGrad(
  x: Tensor,
  dy: Tensor,
  weightShape: readonly number[],
  geometry: ConvGeometry,
): Tensor {
  const [N, C, H, W] = x.shape;
  const [O, , KH, KW] = weightShape;
  const [OH, OW] = [dy.shape[2], dy.shape[3]];
  const [SH, SW] = geometry.stride;
  const [PT, PL] = geometry.padding;
  if (x.gpu) {
    return dispatchWeightGrad(x.gpu, "conv2d_weight_grad", x, dy, [O, C, KH, KW], {
      N,
      C,
      H,
      W,
      O,
      OH,
      OW,
      KH,
      KW,
      SH,
      SW,
      PT,
      PL,
    });
  }
  const sums = new Float64Array(O * C * KH * KW);
  const xv = x.data, dyv = dy.data;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          const g = dyv[((n * O + o) * OH + oy) * OW + ox];
          if (g === 0) continue;
          for (let c = 0; c < C; c++) {
            for (let ky = 0; ky < KH; ky++) {
              const iy = oy * SH - PT + ky;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ix = ox * SW - PL + kx;
                if (ix < 0 || ix >= W) continue;
                sums[((o * C + c) * KH + ky) * KW + kx] += g * xv[((n * C + c) * H + iy) * W + ix];
              }
            }
          }
        }
      }
    }
  }
  return Tensor.host([O, C, KH, KW], Float32Array.from(sums));
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
  const [N, C, H, W] = x.shape;
  const [, O, KH, KW] = weightShape;
  const [OH, OW] = [dy.shape[2], dy.shape[3]];
  const [SH, SW] = geometry.stride;
  const [PT, PL] = geometry.padding;
  if (x.gpu) {
    return dispatchWeightGrad(x.gpu, "conv_transpose2d_weight_grad", x, dy, [C, O, KH, KW], {
      N,
      C,
      H,
      W,
      O,
      OH,
      OW,
      KH,
      KW,
      SH,
      SW,
      PT,
      PL,
    });
  }
  const sums = new Float64Array(C * O * KH * KW);
  const xv = x.data, dyv = dy.data;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let iy = 0; iy < H; iy++) {
        for (let ix = 0; ix < W; ix++) {
          const v = xv[((n * C + c) * H + iy) * W + ix];
          if (v === 0) continue;
          for (let o = 0; o < O; o++) {
            for (let ky = 0; ky < KH; ky++) {
              const oy = iy * SH - PT + ky;
              if (oy < 0 || oy >= OH) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ox = ix * SW - PL + kx;
                if (ox < 0 || ox >= OW) continue;
                sums[((c * O + o) * KH + ky) * KW + kx] += v * dyv[((n * O + o) * OH + oy) * OW + ox];
              }
            }
          }
        }
      }
    }
  }
  return Tensor.host([C, O, KH, KW], Float32Array.from(sums));
}

function dispatchWeightGrad(
  gpu: Gpu,
  entry: string,
  x: Tensor,
  dy: Tensor,
  shape: number[],
  params: Record<string, number>,
): Tensor {
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
