/**
 * 2-D convolution and transposed convolution on NCHW tensors, with plain
 * TypeScript references used for host tensors.
 *
 * The GPU kernels read a copy of the weights transposed once to [C][kh][kw][O]
 * (O padded to 8) and kept in the weight tensor's `derived` map, so a network's
 * weights are transposed on first use and released with them.
 *
 * @example
 * ```ts
 * const h = conv2d(x, w, b, { padding: 1 });                       // 3×3, same size
 * const down = conv2d(x, w, b, { stride: 2, padding: [0, 1, 0, 1] }); // KL encoder downsample
 * const up = convTranspose2d(x, wt, bt, { stride: 2, padding: 1 });  // 4×4, doubles H and W
 * ```
 */
import type { Binding, Gpu, ParamLayout } from "../gpu/device.ts";
import { shapeString, Tensor } from "../gpu/tensor.ts";
import { concat, permute } from "./layout.ts";
import { wgsl } from "./wgsl_source.ts";

export interface Conv2dOptions {
  stride?: number | [number, number];
  /** Zero padding: one number for all sides, or [top, bottom, left, right]. */
  padding?: number | [number, number, number, number];
  /** A tensor of the output's shape added to the result (a residual connection). */
  residual?: Tensor;
}

export interface ConvTranspose2dOptions {
  stride?: number | [number, number];
  /** PyTorch's padding, removed from both sides of each axis: one number or [height, width]. */
  padding?: number | [number, number];
}

/** Output channels per invocation and the padding unit of the transposed weights (4 · CB4 in conv2d.wgsl). */
const CHANNEL_BLOCK = 8;
/** Output pixels per invocation, along one row (PX in both WGSL files). */
const PIXEL_BLOCK = 8;
const WORKGROUP = 64;

const CONV_LAYOUT: ParamLayout = [
  ["C", "u32"],
  ["H", "u32"],
  ["W", "u32"],
  ["O", "u32"],
  ["OH", "u32"],
  ["OW", "u32"],
  ["OPAD", "u32"],
  ["KH", "u32"],
  ["KW", "u32"],
  ["SH", "u32"],
  ["SW", "u32"],
  ["PT", "u32"],
  ["PL", "u32"],
  ["tiles_x", "u32"],
  ["has_bias", "u32"],
  ["has_residual", "u32"],
  ["x_offset", "u32"],
  ["y_offset", "u32"],
];

const CONV_TRANSPOSE_LAYOUT: ParamLayout = [
  ["C", "u32"],
  ["H", "u32"],
  ["W", "u32"],
  ["O", "u32"],
  ["OH", "u32"],
  ["OW", "u32"],
  ["OPAD", "u32"],
  ["KH", "u32"],
  ["KW", "u32"],
  ["SH", "u32"],
  ["SW", "u32"],
  ["PT", "u32"],
  ["PL", "u32"],
  ["QH", "u32"],
  ["QW", "u32"],
  ["tiles_x", "u32"],
  ["has_bias", "u32"],
  ["x_offset", "u32"],
  ["y_offset", "u32"],
];

function pair(
  op: string,
  name: string,
  value: number | [number, number] | undefined,
  fallback: number,
): [number, number] {
  const v: [number, number] = value === undefined
    ? [fallback, fallback]
    : typeof value === "number"
    ? [value, value]
    : value;
  if (v.length !== 2 || !v.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(
      `${op}: ${name} must be a non-negative integer or a pair of them, got ${JSON.stringify(value)}`,
    );
  }
  return v;
}

function conv2dPadding(value: Conv2dOptions["padding"]): [number, number, number, number] {
  const v = value === undefined
    ? [0, 0, 0, 0]
    : typeof value === "number"
    ? [value, value, value, value]
    : value;
  if (v.length !== 4 || !v.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(
      `conv2d: padding must be a non-negative integer or [top, bottom, left, right], got ${
        JSON.stringify(value)
      }`,
    );
  }
  return v as [number, number, number, number];
}

function checkRank4(op: string, name: string, t: Tensor): void {
  if (t.shape.length !== 4) throw new Error(`${op}: ${name} must have rank 4, got ${shapeString(t.shape)}`);
}

function checkBias(op: string, b: Tensor | undefined, channels: number): void {
  if (b && (b.shape.length !== 1 || b.shape[0] !== channels)) {
    throw new Error(`${op}: bias must have shape [${channels}], got ${shapeString(b.shape)}`);
  }
}

/**
 * Convolves x [N, C, H, W] with w [O, C, kh, kw] (PyTorch's Conv2d: cross-correlation,
 * zero padding), adds the bias [O] and the optional residual, and returns
 * [N, O, OH, OW] with OH = ⌊(H + top + bottom − kh) / stride⌋ + 1 (likewise OW).
 */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | undefined, options: Conv2dOptions = {}): Tensor {
  checkRank4("conv2d", "input", x);
  checkRank4("conv2d", "weight", w);
  const [N, C, H, W] = x.shape;
  const [O, wc, KH, KW] = w.shape;
  if (wc !== C) {
    throw new Error(
      `conv2d: weight ${shapeString(w.shape)} expects ${wc} input channels, input ${
        shapeString(x.shape)
      } has ${C}`,
    );
  }
  checkBias("conv2d", b, O);
  const [SH, SW] = pair("conv2d", "stride", options.stride, 1);
  if (SH === 0 || SW === 0) throw new Error("conv2d: stride must be at least 1");
  const [PT, PB, PL, PR] = conv2dPadding(options.padding);
  const OH = Math.floor((H + PT + PB - KH) / SH) + 1;
  const OW = Math.floor((W + PL + PR - KW) / SW) + 1;
  if (OH <= 0 || OW <= 0) {
    throw new Error(`conv2d: a ${KH}×${KW} kernel does not fit the padded input ${shapeString(x.shape)}`);
  }
  const outShape = [N, O, OH, OW];
  const residual = options.residual;
  if (residual && !sameShape(residual.shape, outShape)) {
    throw new Error(
      `conv2d: residual ${shapeString(residual.shape)} does not match the output ${shapeString(outShape)}`,
    );
  }

  if (!x.gpu) return conv2dReference(x, w, b, [SH, SW], [PT, PL], [OH, OW], residual);

  const gpu = x.gpu;
  const wt = transposedWeights("conv2d", w, () => permute(w.reshape([O, C * KH * KW]), [1, 0]));
  const y = Tensor.empty(gpu, outShape);
  const opad = wt.shape[1];
  const tilesX = Math.ceil(OW / PIXEL_BLOCK);
  const entry = KH === 3 && KW === 3 && SH === 1 && SW === 1 ? "conv3x3" : "conv_generic";
  const pipeline = gpu.pipeline("conv2d", wgsl("conv2d"), entry);
  const params = {
    C,
    H,
    W,
    O,
    OH,
    OW,
    OPAD: opad,
    KH,
    KW,
    SH,
    SW,
    PT,
    PL,
    tiles_x: tilesX,
    has_bias: b ? 1 : 0,
    has_residual: residual ? 1 : 0,
  };
  const groupsX = Math.ceil((OH * tilesX) / WORKGROUP);
  const groupsY = opad / CHANNEL_BLOCK;
  for (const win of imageWindows(gpu, N, C * H * W, O * OH * OW)) {
    // Every binding needs a buffer: the weights stand in for a missing bias or residual.
    const storage = [
      win.bindX(x),
      wt.binding(),
      (b ?? wt).binding(),
      residual ? win.bindY(residual) : wt.binding(),
      win.bindY(y),
    ];
    const windowParams = { ...params, x_offset: win.xOffset, y_offset: win.yOffset };
    gpu.dispatch(`conv2d.${entry}`, pipeline, CONV_LAYOUT, windowParams, storage, [
      groupsX,
      groupsY,
      win.count,
    ]);
  }
  return y;
}

/**
 * Transposed convolution of x [N, C, H, W] with w [C, O, kh, kw] (PyTorch's
 * ConvTranspose2d layout), plus the bias [O]. Returns [N, O, OH, OW] with
 * OH = (H − 1)·stride − 2·padding + kh (likewise OW).
 */
export function convTranspose2d(
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  options: ConvTranspose2dOptions = {},
): Tensor {
  checkRank4("convTranspose2d", "input", x);
  checkRank4("convTranspose2d", "weight", w);
  const [N, C, H, W] = x.shape;
  const [wc, O, KH, KW] = w.shape;
  if (wc !== C) {
    throw new Error(
      `convTranspose2d: weight ${shapeString(w.shape)} expects ${wc} input channels, input ${
        shapeString(x.shape)
      } has ${C}`,
    );
  }
  checkBias("convTranspose2d", b, O);
  const [SH, SW] = pair("convTranspose2d", "stride", options.stride, 1);
  if (SH === 0 || SW === 0) throw new Error("convTranspose2d: stride must be at least 1");
  const [PT, PL] = pair("convTranspose2d", "padding", options.padding, 0);
  const OH = (H - 1) * SH - 2 * PT + KH;
  const OW = (W - 1) * SW - 2 * PL + KW;
  if (OH <= 0 || OW <= 0) {
    throw new Error(
      `convTranspose2d: padding ${PT}, ${PL} leaves no output for input ${shapeString(x.shape)}`,
    );
  }

  if (!x.gpu) return convTranspose2dReference(x, w, b, [SH, SW], [PT, PL], [OH, OW]);

  const gpu = x.gpu;
  const wt = transposedWeights(
    "convTranspose2d",
    w,
    () => permute(w, [0, 2, 3, 1]).reshape([C * KH * KW, O]),
  );
  const y = Tensor.empty(gpu, [N, O, OH, OW]);
  const QH = Math.ceil(OH / SH);
  const QW = Math.ceil(OW / SW);
  const tilesX = Math.ceil(QW / PIXEL_BLOCK);
  const pipeline = gpu.pipeline("conv_transpose2d", wgsl("conv_transpose2d"), "main");
  const params = {
    C,
    H,
    W,
    O,
    OH,
    OW,
    OPAD: wt.shape[1],
    KH,
    KW,
    SH,
    SW,
    PT,
    PL,
    QH,
    QW,
    tiles_x: tilesX,
    has_bias: b ? 1 : 0,
  };
  const groupsX = Math.ceil((QH * tilesX) / WORKGROUP);
  const groupsY = wt.shape[1] / CHANNEL_BLOCK;
  for (const win of imageWindows(gpu, N, C * H * W, O * OH * OW)) {
    gpu.dispatch(
      "conv_transpose2d",
      pipeline,
      CONV_TRANSPOSE_LAYOUT,
      { ...params, x_offset: win.xOffset, y_offset: win.yOffset },
      [win.bindX(x), wt.binding(), (b ?? wt).binding(), win.bindY(y)],
      [groupsX, groupsY, win.count * SH * SW],
    );
  }
  return y;
}

/**
 * Returns (creating once) the weights as [C·kh·kw, O'] with O' = O rounded up to a
 * multiple of 8 and the extra columns zero, cached in `w.derived` under `op`.
 * `transpose` gives the [C·kh·kw, O] copy.
 */
function transposedWeights(op: string, w: Tensor, transpose: () => Tensor): Tensor {
  const key = `${op}.weights`;
  const cached = w.derived.get(key);
  if (cached && !cached.released) return cached;
  const t = transpose();
  const [rows, O] = t.shape;
  const opad = Math.ceil(O / CHANNEL_BLOCK) * CHANNEL_BLOCK;
  let padded = t;
  if (opad !== O) {
    const zeros = Tensor.from(w.gpu, [rows, opad - O], new Float32Array(rows * (opad - O)));
    padded = concat([t, zeros], 1);
    zeros.release();
    t.release();
  }
  w.derived.set(key, padded);
  return padded;
}

/** One dispatch's share of a batch: bindings over its images and where its first image starts in them. */
interface ImageWindow {
  count: number;
  /** Element offsets of the first image inside the input and output bindings. */
  xOffset: number;
  yOffset: number;
  bindX: (t: Tensor) => Binding;
  bindY: (t: Tensor) => Binding;
}

/**
 * Splits a batch into dispatches: one for the whole batch when input and output fit in
 * one storage binding, otherwise one per image, with bindings that start at that
 * image's data (rounded down to the storage offset alignment).
 */
function imageWindows(gpu: Gpu, N: number, xImage: number, yImage: number): ImageWindow[] {
  if (Math.max(N * xImage, N * yImage) * 4 <= gpu.maxBinding) {
    return [{ count: N, xOffset: 0, yOffset: 0, bindX: (t) => t.binding(), bindY: (t) => t.binding() }];
  }
  const alignment = gpu.device.limits.minStorageBufferOffsetAlignment;
  const windows: ImageWindow[] = [];
  for (let n = 0; n < N; n++) {
    const xStart = n * xImage * 4, yStart = n * yImage * 4;
    const xAligned = xStart - (xStart % alignment), yAligned = yStart - (yStart % alignment);
    windows.push({
      count: 1,
      xOffset: (xStart - xAligned) / 4,
      yOffset: (yStart - yAligned) / 4,
      bindX: (t) => ({ buffer: t.buffer, offset: xAligned, size: xStart - xAligned + xImage * 4 }),
      bindY: (t) => ({ buffer: t.buffer, offset: yAligned, size: yStart - yAligned + yImage * 4 }),
    });
  }
  return windows;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Plain loops over output, input channel and kernel taps, in float64. */
export function conv2dReference(
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  [SH, SW]: [number, number],
  [PT, PL]: [number, number],
  [OH, OW]: [number, number],
  residual?: Tensor,
): Tensor {
  const [N, C, H, W] = x.shape;
  const [O, , KH, KW] = w.shape;
  const y = Tensor.host([N, O, OH, OW]);
  const xv = x.data, wv = w.data, yv = y.data;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          let sum = b ? b.data[o] : 0;
          for (let c = 0; c < C; c++) {
            for (let ky = 0; ky < KH; ky++) {
              const iy = oy * SH - PT + ky;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ix = ox * SW - PL + kx;
                if (ix < 0 || ix >= W) continue;
                sum += xv[((n * C + c) * H + iy) * W + ix] * wv[((o * C + c) * KH + ky) * KW + kx];
              }
            }
          }
          const i = ((n * O + o) * OH + oy) * OW + ox;
          yv[i] = sum + (residual ? residual.data[i] : 0);
        }
      }
    }
  }
  return y;
}

/** Scatter form of the definition: each input pixel adds its weighted kernel into the output. */
export function convTranspose2dReference(
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  [SH, SW]: [number, number],
  [PT, PL]: [number, number],
  [OH, OW]: [number, number],
): Tensor {
  const [N, C, H, W] = x.shape;
  const [, O, KH, KW] = w.shape;
  const sums = new Float64Array(N * O * OH * OW);
  const xv = x.data, wv = w.data;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let iy = 0; iy < H; iy++) {
        for (let ix = 0; ix < W; ix++) {
          const v = xv[((n * C + c) * H + iy) * W + ix];
          for (let o = 0; o < O; o++) {
            for (let ky = 0; ky < KH; ky++) {
              const oy = iy * SH - PT + ky;
              if (oy < 0 || oy >= OH) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ox = ix * SW - PL + kx;
                if (ox < 0 || ox >= OW) continue;
                sums[((n * O + o) * OH + oy) * OW + ox] += v * wv[((c * O + o) * KH + ky) * KW + kx];
              }
            }
          }
        }
      }
    }
  }
  const y = Tensor.host([N, O, OH, OW]);
  for (let i = 0; i < sums.length; i++) {
    const o = Math.floor(i / (OH * OW)) % O;
    y.data[i] = sums[i] + (b ? b.data[o] : 0);
  }
  return y;
}
