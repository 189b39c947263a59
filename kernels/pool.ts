/**
 * 2-D pooling on NCHW tensors: `maxPool2d`, `avgPool2d` (with PyTorch's
 * `count_include_pad` choice) and `adaptiveAvgPool2d`, each with a plain
 * TypeScript reference used for host tensors. Output sizes follow PyTorch's
 * floor mode: OH = ⌊(H + 2·PH − KH) / SH⌋ + 1.
 *
 * @example
 * ```ts
 * const down = maxPool2d(x, { kernel: 3, stride: 2 });                                  // InceptionV3 stem
 * const smooth = avgPool2d(x, { kernel: 3, stride: 1, padding: 1, countIncludePad: false });
 * const pooled = adaptiveAvgPool2d(x, 1, 1);                                            // global average
 * ```
 */
import type { Gpu, ParamLayout } from "../gpu/device.ts";
import { shapeString, Tensor } from "../gpu/tensor.ts";
import { wgsl, WORKGROUP } from "./wgsl_source.ts";

export interface Pool2dOptions {
  /** Window size: one number or [height, width]. */
  kernel: number | [number, number];
  /** Default: the kernel size, as PyTorch's default. */
  stride?: number | [number, number];
  /** Implicit padding on each side: one number or [height, width]; default 0. */
  padding?: number | [number, number];
}

export interface AvgPool2dOptions extends Pool2dOptions {
  /** Whether padded positions count in the divisor (PyTorch's default true). */
  countIncludePad?: boolean;
}

export const POOL_LAYOUT: ParamLayout = [
  ["n", "u32"],
  ["H", "u32"],
  ["W", "u32"],
  ["OH", "u32"],
  ["OW", "u32"],
  ["KH", "u32"],
  ["KW", "u32"],
  ["SH", "u32"],
  ["SW", "u32"],
  ["PH", "u32"],
  ["PW", "u32"],
  ["include_pad", "u32"],
];

/** A pooling call's sizes: planes (N·C), input, output, window, stride and padding. */
export interface PoolGeometry {
  planes: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  PH: number;
  PW: number;
}

function pair(op: string, name: string, value: number | [number, number], minimum: number): [number, number] {
  const v: [number, number] = typeof value === "number" ? [value, value] : value;
  if (v.length !== 2 || !v.every((d) => Number.isInteger(d) && d >= minimum)) {
    throw new Error(
      `${op}: ${name} must be an integer ≥ ${minimum} or a pair of them, got ${JSON.stringify(value)}`,
    );
  }
  return v;
}

export function poolGeometry(op: string, x: Tensor, options: Pool2dOptions): PoolGeometry {
  if (x.shape.length !== 4) {
    throw new Error(`${op}: input must have rank 4 (NCHW), got ${shapeString(x.shape)}`);
  }
  const [N, C, H, W] = x.shape;
  const [KH, KW] = pair(op, "kernel", options.kernel, 1);
  const [SH, SW] = pair(op, "stride", options.stride ?? options.kernel, 1);
  const [PH, PW] = pair(op, "padding", options.padding ?? 0, 0);
  if (2 * PH > KH || 2 * PW > KW) {
    throw new Error(`${op}: padding [${PH}, ${PW}] must be at most half the kernel [${KH}, ${KW}]`);
  }
  const OH = Math.floor((H + 2 * PH - KH) / SH) + 1;
  const OW = Math.floor((W + 2 * PW - KW) / SW) + 1;
  if (OH < 1 || OW < 1) {
    throw new Error(
      `${op}: a ${KH}×${KW} window does not fit the ${H}×${W} input with padding [${PH}, ${PW}]`,
    );
  }
  return { planes: N * C, H, W, OH, OW, KH, KW, SH, SW, PH, PW };
}

/** Returns the uniform values of POOL_LAYOUT for `g`, with `n` invocations. */
export function poolParams(g: PoolGeometry, n: number, includePad: boolean): Record<string, number> {
  const { H, W, OH, OW, KH, KW, SH, SW, PH, PW } = g;
  return { n, H, W, OH, OW, KH, KW, SH, SW, PH, PW, include_pad: includePad ? 1 : 0 };
}

function dispatch(entry: string, x: Tensor, g: PoolGeometry, includePad: boolean): Tensor {
  const gpu = x.gpu as Gpu;
  const y = Tensor.empty(gpu, [x.shape[0], x.shape[1], g.OH, g.OW]);
  gpu.dispatch(
    `pool.${entry}`,
    gpu.pipeline("pool", wgsl("pool"), entry),
    POOL_LAYOUT,
    poolParams(g, y.size, includePad),
    [x.binding(), y.binding()],
    gpu.grid(Math.ceil(y.size / WORKGROUP)),
  );
  return y;
}

/** Max pooling (PyTorch's `max_pool2d`, floor mode): padded positions never win. */
export function maxPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  const g = poolGeometry("maxPool2d", x, options);
  if (x.gpu) return dispatch("max_pool", x, g, false);
  return referencePool(x, g, (values) => Math.max(...values));
}

/** Average pooling (PyTorch's `avg_pool2d`, floor mode). */
export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor {
  const g = poolGeometry("avgPool2d", x, options);
  const includePad = options.countIncludePad ?? true;
  if (x.gpu) return dispatch("avg_pool", x, g, includePad);
  return referencePool(x, g, (values, h0, w0) => {
    const sum = values.reduce((a, b) => a + b, 0);
    if (!includePad) return sum / values.length;
    const h1 = Math.min(h0 + g.KH, g.H + g.PH);
    const w1 = Math.min(w0 + g.KW, g.W + g.PW);
    return sum / ((h1 - h0) * (w1 - w0));
  });
}

/**
 * Adaptive average pooling to outHeight × outWidth (PyTorch's `adaptive_avg_pool2d`):
 * output row i averages input rows ⌊i·H/OH⌋ to ⌈(i+1)·H/OH⌉ − 1, and likewise for columns.
 */
export function adaptiveAvgPool2d(x: Tensor, outHeight: number, outWidth: number): Tensor {
  if (x.shape.length !== 4) {
    throw new Error(`adaptiveAvgPool2d: input must have rank 4 (NCHW), got ${shapeString(x.shape)}`);
  }
  const [N, C, H, W] = x.shape;
  for (const [name, size] of [["outHeight", outHeight], ["outWidth", outWidth]] as const) {
    if (!Number.isInteger(size) || size < 1) {
      throw new Error(`adaptiveAvgPool2d: ${name} must be a positive integer, got ${size}`);
    }
  }
  const g: PoolGeometry = {
    planes: N * C,
    H,
    W,
    OH: outHeight,
    OW: outWidth,
    KH: 1,
    KW: 1,
    SH: 1,
    SW: 1,
    PH: 0,
    PW: 0,
  };
  if (x.gpu) return dispatch("adaptive_avg_pool", x, g, false);

  const y = Tensor.host([N, C, outHeight, outWidth]);
  const xv = x.data, yv = y.data;
  for (let plane = 0; plane < g.planes; plane++) {
    for (let i = 0; i < outHeight; i++) {
      const h0 = Math.floor((i * H) / outHeight), h1 = Math.ceil(((i + 1) * H) / outHeight);
      for (let j = 0; j < outWidth; j++) {
        const w0 = Math.floor((j * W) / outWidth), w1 = Math.ceil(((j + 1) * W) / outWidth);
        let sum = 0;
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) sum += xv[plane * H * W + h * W + w];
        yv[(plane * outHeight + i) * outWidth + j] = sum / ((h1 - h0) * (w1 - w0));
      }
    }
  }
  return y;
}

/** Plain loop over output positions; `reduce` gets the in-image values and the window's padded origin. */
function referencePool(
  x: Tensor,
  g: PoolGeometry,
  reduce: (values: number[], h0: number, w0: number) => number,
): Tensor {
  const y = Tensor.host([x.shape[0], x.shape[1], g.OH, g.OW]);
  const xv = x.data, yv = y.data;
  let out = 0;
  for (let plane = 0; plane < g.planes; plane++) {
    for (let oh = 0; oh < g.OH; oh++) {
      for (let ow = 0; ow < g.OW; ow++) {
        const h0 = oh * g.SH - g.PH, w0 = ow * g.SW - g.PW;
        const values: number[] = [];
        for (let h = Math.max(h0, 0); h < Math.min(h0 + g.KH, g.H); h++) {
          for (let w = Math.max(w0, 0); w < Math.min(w0 + g.KW, g.W); w++) {
            values.push(xv[(plane * g.H + h) * g.W + w]);
          }
        }
        yv[out++] = reduce(values, h0, w0);
      }
    }
  }
  return y;
}
