/**
 * 2-D convolution and transposed convolution on NCHW tensors, with plain
 * TypeScript references used for host tensors.
 *
 * The GPU kernels read a copy of the weights transposed once to [C][kh][kw][O]
 * (O padded to 16) and kept in the weight tensor's `derived` map, so a network's
 * weights are transposed on first use and released with them. Their entry points are
 * generated here, fully unrolled for the block of outputs one invocation computes
 * (`conv3x3Entry` and its siblings at the end of this file), and appended to the shared
 * declarations in wgsl/conv2d.wgsl and wgsl/conv_transpose2d.wgsl.
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

/** Padding unit of the transposed weights' output channels: the widest channel block. */
const CHANNEL_PAD = 16;
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
  ["tiles", "u32"],
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

export function pair(
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

export function conv2dPadding(value: Conv2dOptions["padding"]): [number, number, number, number] {
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

/**
 * Checks a convolution's input [N, C, H, W], weight (conv2d: [O, C, kh, kw];
 * transposed: [C, O, kh, kw]) and bias [O], and returns their sizes.
 */
function convOperands(op: string, x: Tensor, w: Tensor, b: Tensor | undefined, transposed: boolean) {
  for (const [name, t] of [["input", x], ["weight", w]] as const) {
    if (t.shape.length !== 4) throw new Error(`${op}: ${name} must have rank 4, got ${shapeString(t.shape)}`);
  }
  const [N, C, H, W] = x.shape;
  const [wc, O] = transposed ? [w.shape[0], w.shape[1]] : [w.shape[1], w.shape[0]];
  const [KH, KW] = [w.shape[2], w.shape[3]];
  if (wc !== C) {
    throw new Error(
      `${op}: weight ${shapeString(w.shape)} expects ${wc} input channels, input ${
        shapeString(x.shape)
      } has ${C}`,
    );
  }
  if (b && (b.shape.length !== 1 || b.shape[0] !== O)) {
    throw new Error(`${op}: bias must have shape [${O}], got ${shapeString(b.shape)}`);
  }
  return { N, C, H, W, O, KH, KW };
}

/**
 * Convolves x [N, C, H, W] with w [O, C, kh, kw] (PyTorch's Conv2d: cross-correlation,
 * zero padding), adds the bias [O] and the optional residual, and returns
 * [N, O, OH, OW] with OH = ⌊(H + top + bottom − kh) / stride⌋ + 1 (likewise OW).
 */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | undefined, options: Conv2dOptions = {}): Tensor {
  const { N, C, H, W, O, KH, KW } = convOperands("conv2d", x, w, b, false);
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
  const wt = transposedWeights("conv2d", w, () => {
    const rows = w.reshape([O, C * KH * KW]);
    const t = permute(rows, [1, 0]);
    rows.release();
    return t;
  });
  const y = Tensor.empty(gpu, outShape);
  const plan = conv2dPlan([KH, KW], [SH, SW], PT + PB + PL + PR > 0, O, [OH, OW]);
  // Workgroups of 8 (one SIMD group on lavapipe) when an image has few pixel blocks;
  // on 128×128 images, 8 and 64 ran at the same speed.
  const workgroup = plan.tiles >= WORKGROUP ? WORKGROUP : 8;
  const pipeline = gpu.pipeline(`conv2d.${plan.entry}`, conv2dSource(plan), plan.entry, { WG: workgroup });
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
    tiles_x: plan.tilesX,
    tiles: plan.tiles,
    has_bias: b ? 1 : 0,
    has_residual: residual ? 1 : 0,
  };
  const groupsX = Math.ceil(plan.tiles / workgroup);
  const groupsY = Math.ceil(O / (4 * plan.block.vec4s));
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
    gpu.dispatch(`conv2d.${plan.entry}`, pipeline, CONV_LAYOUT, windowParams, storage, [
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
  const { N, C, H, W, O, KH, KW } = convOperands("convTranspose2d", x, w, b, true);
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
    () => {
      const channelsLast = permute(w, [0, 2, 3, 1]);
      const t = channelsLast.reshape([C * KH * KW, O]);
      channelsLast.release();
      return t;
    },
  );
  const y = Tensor.empty(gpu, [N, O, OH, OW]);
  const QH = Math.ceil(OH / SH);
  const QW = Math.ceil(OW / SW);
  const block = { rows: 1, pixels: 8, vec4s: Math.min(4, Math.ceil(O / 4)) };
  const tilesX = Math.ceil(QW / block.pixels);
  const tiles = QH * tilesX;
  const workgroup = tiles >= WORKGROUP ? WORKGROUP : 8;
  const entry = `conv_transpose_${block.pixels}x${block.vec4s}`;
  let source = convTransposeSources.get(entry);
  if (source === undefined) {
    source = `${wgsl("conv_transpose2d")}\n${convTransposeEntry(entry, block)}\n`;
    convTransposeSources.set(entry, source);
  }
  const pipeline = gpu.pipeline(`conv_transpose2d.${entry}`, source, entry, { WG: workgroup });
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
  const groupsX = Math.ceil(tiles / workgroup);
  const groupsY = Math.ceil(O / (4 * block.vec4s));
  for (const win of imageWindows(gpu, N, C * H * W, O * OH * OW)) {
    gpu.dispatch(
      `conv_transpose2d.${entry}`,
      pipeline,
      CONV_TRANSPOSE_LAYOUT,
      { ...params, x_offset: win.xOffset, y_offset: win.yOffset },
      [win.bindX(x), wt.binding(), (b ?? wt).binding(), win.bindY(y)],
      [groupsX, groupsY, win.count * SH * SW],
    );
  }
  return y;
}

interface ConvPlan {
  entry: string;
  kind: "conv3x3" | "conv1x1" | "conv_taps";
  block: Block;
  /** Pixel blocks per output row (per image for conv1x1) and per image. */
  tilesX: number;
  tiles: number;
}

/**
 * Chooses the entry point and block for a convolution's shape. Blocks were chosen by process
 * CPU time on lavapipe (LLVM 15, 256-bit, 2 shared cores); see BENCHMARKS.md.
 */
function conv2dPlan(
  [KH, KW]: [number, number],
  [SH, SW]: [number, number],
  padded: boolean,
  O: number,
  [OH, OW]: [number, number],
): ConvPlan {
  // Fewer channel vec4s when there are few output channels, so padding channels cost less.
  const vec4s = (widest: number) => Math.min(widest, Math.ceil(O / 4));
  if (KH === 1 && KW === 1 && SH === 1 && SW === 1 && !padded) {
    const block = { rows: 1, pixels: 16, vec4s: vec4s(4) };
    const tiles = Math.ceil((OH * OW) / block.pixels);
    return { entry: `conv1x1_${block.pixels}x${block.vec4s}`, kind: "conv1x1", block, tilesX: tiles, tiles };
  }
  if (KH === 3 && KW === 3 && SH === 1 && SW === 1) {
    // Images of 16×16 or less get one row per block, so that there are enough blocks to fill
    // the 8 SIMD lanes, and 16 channels per block to make up for the shorter rows.
    const small = OH * OW <= 256;
    const block = { rows: small ? 1 : 4, pixels: 8, vec4s: vec4s(small ? 4 : 2) };
    const tilesX = Math.ceil(OW / block.pixels);
    const tiles = Math.ceil(OH / block.rows) * tilesX;
    return {
      entry: `conv3x3_${block.rows}x${block.pixels}x${block.vec4s}`,
      kind: "conv3x3",
      block,
      tilesX,
      tiles,
    };
  }
  const block = { rows: 1, pixels: 8, vec4s: vec4s(4) };
  const tilesX = Math.ceil(OW / block.pixels);
  return {
    entry: `conv_taps_${block.pixels}x${block.vec4s}`,
    kind: "conv_taps",
    block,
    tilesX,
    tiles: OH * tilesX,
  };
}

const conv2dSources = new Map<string, string>();
const convTransposeSources = new Map<string, string>();

/** conv2d.wgsl with the plan's generated entry point appended (built once per entry). */
function conv2dSource(plan: ConvPlan): string {
  let source = conv2dSources.get(plan.entry);
  if (source === undefined) {
    const make = { conv3x3: conv3x3Entry, conv1x1: conv1x1Entry, conv_taps: convTapsEntry }[plan.kind];
    source = `${wgsl("conv2d")}\n${make(plan.entry, plan.block)}\n`;
    conv2dSources.set(plan.entry, source);
  }
  return source;
}

/**
 * Returns (creating once) the weights as [C·kh·kw, O'] with O' = O rounded up to a
 * multiple of 16 and the extra columns zero, cached in `w.derived` under `op`.
 * `transpose` gives the [C·kh·kw, O] copy.
 */
function transposedWeights(op: string, w: Tensor, transpose: () => Tensor): Tensor {
  const key = `${op}.weights`;
  const cached = w.derived.get(key);
  if (cached && !cached.released) return cached;
  const t = transpose();
  const [rows, O] = t.shape;
  const opad = Math.ceil(O / CHANNEL_PAD) * CHANNEL_PAD;
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

/**
 * Sizes of one convolution: input [N, C, H, W], output [N, O, OH, OW], a KH × KW
 * kernel, stride SH × SW, and the top and left padding PT, PL.
 */
export interface ConvDims {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  OH: number;
  OW: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  PT: number;
  PL: number;
}

/**
 * Visits every tap of a convolution as the flat indices (x, y, w) of the input
 * pixel, the output pixel and the weight it pairs. conv2d: y[n, o, oy, ox] reads
 * x[n, c, oy·SH − PT + ky, ox·SW − PL + kx] through w[o, c, ky, kx]. Transposed:
 * x[n, c, iy, ix] adds into y[n, o, iy·SH − PT + ky, ix·SW − PL + kx] through
 * w[c, o, ky, kx]. Taps that fall outside the image are skipped. The host
 * references and the host weight gradients are all sums over these taps.
 */
export function forEachTap(
  d: ConvDims,
  transposed: boolean,
  visit: (xi: number, yi: number, wi: number) => void,
): void {
  const { N, C, H, W, O, OH, OW, KH, KW, SH, SW, PT, PL } = d;
  if (!transposed) {
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < O; o++) {
        for (let oy = 0; oy < OH; oy++) {
          for (let ox = 0; ox < OW; ox++) {
            const yi = ((n * O + o) * OH + oy) * OW + ox;
            for (let c = 0; c < C; c++) {
              for (let ky = 0; ky < KH; ky++) {
                const iy = oy * SH - PT + ky;
                if (iy < 0 || iy >= H) continue;
                for (let kx = 0; kx < KW; kx++) {
                  const ix = ox * SW - PL + kx;
                  if (ix < 0 || ix >= W) continue;
                  visit(((n * C + c) * H + iy) * W + ix, yi, ((o * C + c) * KH + ky) * KW + kx);
                }
              }
            }
          }
        }
      }
    }
    return;
  }
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let iy = 0; iy < H; iy++) {
        for (let ix = 0; ix < W; ix++) {
          const xi = ((n * C + c) * H + iy) * W + ix;
          for (let o = 0; o < O; o++) {
            for (let ky = 0; ky < KH; ky++) {
              const oy = iy * SH - PT + ky;
              if (oy < 0 || oy >= OH) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ox = ix * SW - PL + kx;
                if (ox < 0 || ox >= OW) continue;
                visit(xi, ((n * O + o) * OH + oy) * OW + ox, ((c * O + o) * KH + ky) * KW + kx);
              }
            }
          }
        }
      }
    }
  }
}

/** Plain sums over conv2d's taps, in float64. */
export function conv2dReference(
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  stride: [number, number],
  padding: [number, number],
  outSize: [number, number],
  residual?: Tensor,
): Tensor {
  return referenceConvolution(x, w, b, stride, padding, outSize, false, residual);
}

/** Scatter form of the definition: each input pixel adds its weighted kernel into the output. */
export function convTranspose2dReference(
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  stride: [number, number],
  padding: [number, number],
  outSize: [number, number],
): Tensor {
  return referenceConvolution(x, w, b, stride, padding, outSize, true);
}

/**
 * Computes either convolution on the host: the float64 sum over its taps, plus
 * each channel's bias and the residual, as [N, O, OH, OW].
 */
function referenceConvolution(
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  [SH, SW]: [number, number],
  [PT, PL]: [number, number],
  [OH, OW]: [number, number],
  transposed: boolean,
  residual?: Tensor,
): Tensor {
  const [N, C, H, W] = x.shape;
  const O = transposed ? w.shape[1] : w.shape[0];
  const [KH, KW] = [w.shape[2], w.shape[3]];
  const sums = new Float64Array(N * O * OH * OW);
  const xv = x.data, wv = w.data;
  forEachTap({ N, C, H, W, O, OH, OW, KH, KW, SH, SW, PT, PL }, transposed, (xi, yi, wi) => {
    sums[yi] += xv[xi] * wv[wi];
  });
  const y = Tensor.host([N, O, OH, OW]);
  for (let i = 0; i < sums.length; i++) {
    const o = Math.floor(i / (OH * OW)) % O;
    y.data[i] = sums[i] + (b ? b.data[o] : 0) + (residual ? residual.data[i] : 0);
  }
  return y;
}

/**
 * Shape of the output block one invocation computes: `rows` × `pixels` output pixels (for
 * the 1×1 entry, `pixels` consecutive pixels of the flattened image) × 4·`vec4s` channels.
 */
interface Block {
  rows: number;
  pixels: number;
  vec4s: number;
}

/** Repeats `line(i)` for i = 0 … count − 1. */
function lines(count: number, line: (i: number) => string): string[] {
  return Array.from({ length: count }, (_, i) => line(i));
}

/** Declarations of the accumulators a{row}_{pixel}_{vec4}, all zero. */
function accumulators({ rows, pixels, vec4s }: Block): string[] {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < pixels; j++) {
      for (let q = 0; q < vec4s; q++) out.push(`  var a${r}_${j}_${q} = vec4<f32>(0.0);`);
    }
  }
  return out;
}

/** The prologue every entry shares: which block this invocation computes, and whether it is real. */
function blockPrologue(block: Block, flat: boolean): string[] {
  return [
    "  let live = gid.x < p.tiles;",
    "  let tile = min(gid.x, p.tiles - 1u);",
    ...(flat ? [`  let pix0 = tile * ${block.pixels}u;`] : [
      `  let oy0 = (tile / p.tiles_x) * ${block.rows}u;`,
      `  let ox0 = (tile % p.tiles_x) * ${block.pixels}u;`,
    ]),
    `  let ob4 = wid.y * ${block.vec4s}u;`,
    "  let o4 = p.OPAD / 4u;",
    "  let plane = p.H * p.W;",
  ];
}

/** Stores every accumulator of a block whose pixel (row r, column j) is at oy0 + r, ox0 + j·step. */
function blockEpilogue(block: Block, flat: boolean, columnStep = "1u"): string[] {
  const out = ["  if (!live) { return; }"];
  for (let r = 0; r < block.rows; r++) {
    for (let j = 0; j < block.pixels; j++) {
      const where = flat ? { ok: `pix0 + ${j}u < p.OH * p.OW`, pix: `pix0 + ${j}u` } : {
        ok: `oy0 + ${r}u < p.OH && ox0 + ${j}u * ${columnStep} < p.OW`,
        pix: `(oy0 + ${r}u) * p.OW + ox0 + ${j}u * ${columnStep}`,
      };
      const stores = lines(block.vec4s, (q) => `store4(wid.z, ob4 + ${q}u, ${where.pix}, a${r}_${j}_${q});`);
      out.push(`  if (${where.ok}) { ${stores.join(" ")} }`);
    }
  }
  return out;
}

/** `a{r}_{j}_{q} += v{j} · w{q}` for every pixel j and channel vec4 q of row r. */
function fmaRow(block: Block, r: number, v: (j: number) => string, w: (q: number) => string): string[] {
  const out: string[] = [];
  for (let j = 0; j < block.pixels; j++) {
    for (let q = 0; q < block.vec4s; q++) {
      out.push(`a${r}_${j}_${q} = fma(vec4<f32>(${v(j)}), ${w(q)}, a${r}_${j}_${q});`);
    }
  }
  return out;
}

/**
 * WGSL of the 3×3 stride-1 entry for `block`: per input channel, the block's (rows + 2)
 * input rows of (pixels + 2) values each are loaded once and serve every output row and
 * kx tap that reads them.
 */
export function conv3x3Entry(name: string, block: Block): string {
  const { rows, pixels, vec4s } = block;
  const body: string[] = [];
  for (let ky = 0; ky < 3; ky++) {
    for (let kx = 0; kx < 3; kx++) {
      for (let q = 0; q < vec4s; q++) {
        body.push(`    let w${ky}${kx}_${q} = wt[wbase + ${ky * 3 + kx}u * o4 + ${q}u];`);
      }
    }
  }
  for (let ir = 0; ir < rows + 2; ir++) {
    body.push("    {");
    for (let j = 0; j < pixels + 2; j++) {
      body.push(`      let v${j} = select(0.0, x[xc + row${ir} + col${j}], row_ok${ir} && col_ok${j});`);
    }
    for (let r = 0; r < rows; r++) {
      const ky = ir - r;
      if (ky < 0 || ky > 2) continue;
      const fmas: string[] = [];
      for (let j = 0; j < pixels; j++) {
        for (let q = 0; q < vec4s; q++) {
          const acc = `a${r}_${j}_${q}`;
          fmas.push(
            `${acc} = fma(vec4<f32>(v${j + 2}), w${ky}2_${q}, fma(vec4<f32>(v${j + 1}), w${ky}1_${q}, ` +
              `fma(vec4<f32>(v${j}), w${ky}0_${q}, ${acc})));`,
          );
        }
      }
      body.push(...fmas.map((f) => `      ${f}`));
    }
    body.push("    }");
  }
  return [
    "@compute @workgroup_size(WG)",
    `fn ${name}(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {`,
    ...blockPrologue(block, false),
    "  let ix = i32(ox0) - i32(p.PL);",
    ...lines(pixels + 2, (j) =>
      `  let col_ok${j} = ix + ${j} >= 0 && ix + ${j} < i32(p.W); ` +
      `let col${j} = u32(clamp(ix + ${j}, 0, i32(p.W) - 1));`),
    "  let iy = i32(oy0) - i32(p.PT);",
    ...lines(rows + 2, (r) =>
      `  let row_ok${r} = iy + ${r} >= 0 && iy + ${r} < i32(p.H); ` +
      `let row${r} = u32(clamp(iy + ${r}, 0, i32(p.H) - 1)) * p.W;`),
    ...accumulators(block),
    "  for (var c = 0u; c < p.C; c++) {",
    "    let xc = p.x_offset + (wid.z * p.C + c) * plane;",
    "    let wbase = c * 9u * o4 + ob4;",
    ...body,
    "  }",
    ...blockEpilogue(block, false),
    "}",
  ].join("\n");
}

/** WGSL of the 1×1 stride-1 unpadded entry: a matrix product over the flattened pixels. */
export function conv1x1Entry(name: string, block: Block): string {
  const { pixels, vec4s } = block;
  return [
    "@compute @workgroup_size(WG)",
    `fn ${name}(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {`,
    ...blockPrologue(block, true),
    ...lines(pixels, (j) => `  let at${j} = min(pix0 + ${j}u, plane - 1u);`),
    ...accumulators(block),
    "  for (var c = 0u; c < p.C; c++) {",
    "    let xc = p.x_offset + (wid.z * p.C + c) * plane;",
    "    let wbase = c * o4 + ob4;",
    ...lines(vec4s, (q) => `    let w${q} = wt[wbase + ${q}u];`),
    ...lines(pixels, (j) => `    let v${j} = x[xc + at${j}];`),
    ...fmaRow(block, 0, (j) => `v${j}`, (q) => `w${q}`).map((f) => `    ${f}`),
    "  }",
    ...blockEpilogue(block, true),
    "}",
  ].join("\n");
}

/** WGSL of the entry for any kernel size and stride: one output row, taps looped at run time. */
export function convTapsEntry(name: string, block: Block): string {
  const { pixels, vec4s } = block;
  return [
    "@compute @workgroup_size(WG)",
    `fn ${name}(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {`,
    ...blockPrologue(block, false),
    ...accumulators(block),
    "  let ix = i32(ox0 * p.SW) - i32(p.PL);",
    "  for (var c = 0u; c < p.C; c++) {",
    "    let xc = p.x_offset + (wid.z * p.C + c) * plane;",
    "    for (var ky = 0u; ky < p.KH; ky++) {",
    "      let iy = i32(oy0 * p.SH + ky) - i32(p.PT);",
    "      let row_ok = iy >= 0 && iy < i32(p.H);",
    "      let xrow = xc + u32(clamp(iy, 0, i32(p.H) - 1)) * p.W;",
    "      for (var kx = 0u; kx < p.KW; kx++) {",
    "        let wbase = ((c * p.KH + ky) * p.KW + kx) * o4 + ob4;",
    ...lines(vec4s, (q) => `        let w${q} = wt[wbase + ${q}u];`),
    ...lines(pixels, (j) =>
      `        let ix${j} = ix + i32(${j}u * p.SW + kx); ` +
      `let v${j} = select(0.0, x[xrow + u32(clamp(ix${j}, 0, i32(p.W) - 1))], row_ok && ix${j} >= 0 && ix${j} < i32(p.W));`),
    ...fmaRow(block, 0, (j) => `v${j}`, (q) => `w${q}`).map((f) => `        ${f}`),
    "      }",
    "    }",
    "  }",
    ...blockEpilogue(block, false),
    "}",
  ].join("\n");
}

/** WGSL of the transposed convolution's entry: one phase row of `block.pixels` pixels. */
export function convTransposeEntry(name: string, block: Block): string {
  const { pixels, vec4s } = block;
  return [
    "@compute @workgroup_size(WG)",
    `fn ${name}(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {`,
    "  let tiles = p.QH * p.tiles_x;",
    "  let live = gid.x < tiles;",
    "  let tile = min(gid.x, tiles - 1u);",
    "  let phases = p.SH * p.SW;",
    "  let n = wid.z / phases;",
    "  let ry = (wid.z % phases) / p.SW;",
    "  let rx = wid.z % p.SW;",
    "  let qy = tile / p.tiles_x;",
    `  let q0 = (tile % p.tiles_x) * ${pixels}u;`,
    `  let ob4 = wid.y * ${vec4s}u;`,
    "  let o4 = p.OPAD / 4u;",
    "  let plane = p.H * p.W;",
    "  // First tap of this phase in each direction; later taps step by the stride.",
    "  let ky0 = (ry + p.PT) % p.SH;",
    "  let kx0 = (rx + p.PL) % p.SW;",
    ...accumulators(block),
    "  for (var c = 0u; c < p.C; c++) {",
    "    let xc = p.x_offset + (n * p.C + c) * plane;",
    "    for (var ky = ky0; ky < p.KH; ky += p.SH) {",
    "      // (ry + PT − ky) is a multiple of SH by the choice of ky0.",
    "      let iy = i32(qy) + (i32(ry + p.PT) - i32(ky)) / i32(p.SH);",
    "      let row_ok = iy >= 0 && iy < i32(p.H);",
    "      let xrow = xc + u32(clamp(iy, 0, i32(p.H) - 1)) * p.W;",
    "      for (var kx = kx0; kx < p.KW; kx += p.SW) {",
    "        let ix = i32(q0) + (i32(rx + p.PL) - i32(kx)) / i32(p.SW);",
    "        let wbase = ((c * p.KH + ky) * p.KW + kx) * o4 + ob4;",
    ...lines(vec4s, (q) => `        let w${q} = wt[wbase + ${q}u];`),
    ...lines(
      pixels,
      (j) =>
        `        let v${j} = select(0.0, x[xrow + u32(clamp(ix + ${j}, 0, i32(p.W) - 1))], ` +
        `row_ok && ix + ${j} >= 0 && ix + ${j} < i32(p.W));`,
    ),
    ...fmaRow(block, 0, (j) => `v${j}`, (q) => `w${q}`).map((f) => `        ${f}`),
    "      }",
    "    }",
    "  }",
    "  if (!live) { return; }",
    "  let oy = ry + qy * p.SH;",
    ...lines(
      pixels,
      (j) =>
        `  ${
          lines(vec4s, (q) => `store4(n, ob4 + ${q}u, oy, rx + (q0 + ${j}u) * p.SW, a0_${j}_${q});`).join(" ")
        }`,
    ),
    "}",
  ].join("\n");
}
