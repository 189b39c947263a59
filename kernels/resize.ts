/**
 * Resizing of NCHW tensors: `upsampleNearest2x` and `resizeBicubic`, the latter
 * matching PyTorch's `F.interpolate(mode="bicubic", align_corners=False)` without
 * antialiasing (Keys' cubic with A = −0.75, half-pixel centres, taps clamped to the
 * edge). Each has a plain TypeScript reference used for host tensors.
 *
 * @example
 * ```ts
 * const conditioning = resizeBicubic(low, 1024, 1024); // the super-resolution stage's input
 * ```
 */
import type { ParamLayout } from "../gpu/device.ts";
import { shapeString, Tensor } from "../gpu/tensor.ts";
import { wgsl, WORKGROUP } from "./wgsl_source.ts";

const LAYOUT: ParamLayout = [
  ["total", "u32"],
  ["H", "u32"],
  ["W", "u32"],
  ["OH", "u32"],
  ["OW", "u32"],
  ["scale_y", "f32"],
  ["scale_x", "f32"],
];

/** Keys' cubic convolution coefficient, as PyTorch's bicubic uses. */
const A = -0.75;

function checkNchw(op: string, x: Tensor): void {
  if (x.shape.length !== 4) throw new Error(`${op}: input must be [N, C, H, W], got ${shapeString(x.shape)}`);
}

function dispatch(entry: string, x: Tensor, OH: number, OW: number): Tensor {
  const gpu = x.gpu!;
  const [N, C, H, W] = x.shape;
  const y = Tensor.empty(gpu, [N, C, OH, OW]);
  if (y.size === 0) return y;
  gpu.dispatch(
    `resize.${entry}`,
    gpu.pipeline("resize", wgsl("resize"), entry),
    LAYOUT,
    { total: y.size, H, W, OH, OW, scale_y: Math.fround(H / OH), scale_x: Math.fround(W / OW) },
    [x.binding(), y.binding()],
    gpu.grid(Math.ceil(y.size / WORKGROUP)),
  );
  return y;
}

/** Repeats every pixel of x [N, C, H, W] 2×2 times, giving [N, C, 2H, 2W]. */
export function upsampleNearest2x(x: Tensor): Tensor {
  checkNchw("upsampleNearest2x", x);
  const [N, C, H, W] = x.shape;
  if (x.gpu) return dispatch("upsample_nearest2x", x, 2 * H, 2 * W);
  const y = Tensor.host([N, C, 2 * H, 2 * W]);
  for (let plane = 0; plane < N * C; plane++) {
    for (let oy = 0; oy < 2 * H; oy++) {
      for (let ox = 0; ox < 2 * W; ox++) {
        y.data[(plane * 2 * H + oy) * 2 * W + ox] = x.data[(plane * H + (oy >> 1)) * W + (ox >> 1)];
      }
    }
  }
  return y;
}

/** Computes the four tap weights for fractional offset t, for the taps at ⌊src⌋ − 1 … ⌊src⌋ + 2. */
export function cubicWeights(t: number): [number, number, number, number] {
  const near = (d: number) => ((A + 2) * d - (A + 3)) * d * d + 1; // |d| ≤ 1
  const far = (d: number) => ((A * d - 5 * A) * d + 8 * A) * d - 4 * A; // 1 < |d| < 2
  return [far(t + 1), near(t), near(1 - t), far(2 - t)];
}

/**
 * Resizes x [N, C, H, W] to [N, C, outHeight, outWidth] by bicubic interpolation, as
 * PyTorch's `F.interpolate(mode="bicubic", align_corners=False, antialias=False)`:
 * source coordinate (o + 0.5) · in/out − 0.5 (not clamped), tap indices clamped to the
 * edge. The result is not clamped, so it may overshoot the input's range.
 */
export function resizeBicubic(x: Tensor, outHeight: number, outWidth: number): Tensor {
  checkNchw("resizeBicubic", x);
  if (!(Number.isInteger(outHeight) && Number.isInteger(outWidth) && outHeight > 0 && outWidth > 0)) {
    throw new Error(`resizeBicubic: output size must be positive integers, got ${outHeight}×${outWidth}`);
  }
  const [N, C, H, W] = x.shape;
  if (x.gpu) return dispatch("bicubic", x, outHeight, outWidth);

  // Source coordinates in float32 arithmetic, as PyTorch computes them for float tensors.
  const taps = (inSize: number, outSize: number) => {
    const scale = Math.fround(inSize / outSize);
    return Array.from({ length: outSize }, (_, o) => {
      const src = Math.fround(Math.fround(Math.fround(o + 0.5) * scale) - 0.5);
      const floor = Math.floor(src);
      const index = [-1, 0, 1, 2].map((k) => Math.min(Math.max(floor + k, 0), inSize - 1));
      return { index, weights: cubicWeights(Math.fround(src - floor)) };
    });
  };
  const rows = taps(H, outHeight);
  const cols = taps(W, outWidth);
  const y = Tensor.host([N, C, outHeight, outWidth]);
  for (let plane = 0; plane < N * C; plane++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        let sum = 0;
        for (let k = 0; k < 4; k++) {
          const row = (plane * H + rows[oy].index[k]) * W;
          let h = 0;
          for (let j = 0; j < 4; j++) h += x.data[row + cols[ox].index[j]] * cols[ox].weights[j];
          sum += h * rows[oy].weights[k];
        }
        y.data[(plane * outHeight + oy) * outWidth + ox] = sum;
      }
    }
  }
  return y;
}
