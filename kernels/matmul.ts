/**
 * Matrix products: `matmul` (batched, either operand transposed, scaled by
 * alpha) and `linear` (PyTorch's nn.Linear, y = x wᵀ + b), each with a plain
 * TypeScript reference. Each WGSL invocation computes a block of outputs in
 * registers: 32 × 32 on CPU adapters such as lavapipe, 8 × 8 elsewhere. See
 * kernels/wgsl/matmul.wgsl for the layouts it accepts and the measured speeds.
 *
 * NOTE: each operand and the result must fit one storage binding (gpu.maxBinding,
 * 128 MiB on lavapipe). A larger product throws, because it does not yet run in pieces.
 */
import type { Gpu, ParamLayout } from "../gpu/device.ts";
import { shapeString, Tensor } from "../gpu/tensor.ts";
import { matmulSource } from "./matmul_source.ts";

export interface MatmulOptions {
  /** a is [B, K, M] (or [K, M]) instead of [B, M, K]. */
  transposeA?: boolean;
  /** b is [B, N, K] (or [N, K]) instead of [B, K, N]. */
  transposeB?: boolean;
  /** Factor applied to the product. */
  alpha?: number;
}

/**
 * Element strides of one batched product C[bt] = alpha · A[bt] B[bt]: A's element
 * (bt, m, k) sits at aOffset + bt·aBatch + m·aRow + k·aCol, and likewise for B
 * (k, n) and C (m, n). A batch stride of 0 repeats the operand over the batch.
 */
export interface MatmulPlan {
  batch: number;
  m: number;
  n: number;
  k: number;
  aOffset: number;
  aBatch: number;
  aRow: number;
  aCol: number;
  bOffset: number;
  bBatch: number;
  bRow: number;
  bCol: number;
  cOffset: number;
  cBatch: number;
  cRow: number;
  alpha: number;
}

const LAYOUT: ParamLayout = [
  ["m", "u32"], ["n", "u32"], ["k", "u32"], ["batch", "u32"],
  ["a_offset", "u32"], ["a_batch", "u32"], ["a_row", "u32"], ["a_col", "u32"],
  ["b_offset", "u32"], ["b_batch", "u32"], ["b_row", "u32"], ["b_col", "u32"],
  ["c_offset", "u32"], ["c_batch", "u32"], ["c_row", "u32"], ["has_bias", "u32"],
  ["alpha", "f32"],
];

/** Invocations (one block of C each) per workgroup. */
const BLOCKS_PER_WORKGROUP = 64;

/** Works out the product's shape and strides from the operands' shapes, checking they agree. */
function planMatmul(a: Tensor, b: Tensor, options: MatmulOptions): { plan: MatmulPlan; shape: number[] } {
  const { transposeA = false, transposeB = false, alpha = 1 } = options;
  const describe = () =>
    `matmul: cannot multiply a ${shapeString(a.shape)}${transposeA ? " (transposed)" : ""} by b ` +
    `${shapeString(b.shape)}${transposeB ? " (transposed)" : ""}`;
  if (a.shape.length < 2 || a.shape.length > 3 || b.shape.length < 2 || b.shape.length > 3) {
    throw new Error(`${describe()}: operands must have rank 2 or 3`);
  }

  const aBatches = a.shape.length === 3 ? a.shape[0] : 1;
  const bBatches = b.shape.length === 3 ? b.shape[0] : 1;
  const [aRows, aCols] = a.shape.slice(-2);
  const [bRows, bCols] = b.shape.slice(-2);
  const [m, k] = transposeA ? [aCols, aRows] : [aRows, aCols];
  const [kb, n] = transposeB ? [bCols, bRows] : [bRows, bCols];
  if (k !== kb) throw new Error(`${describe()}: inner dimensions ${k} and ${kb} differ`);
  if (aBatches !== bBatches && a.shape.length === 3 && b.shape.length === 3) {
    throw new Error(`${describe()}: batch sizes ${aBatches} and ${bBatches} differ`);
  }

  const batch = Math.max(aBatches, bBatches);
  const plan: MatmulPlan = {
    batch, m, n, k,
    aOffset: 0,
    aBatch: a.shape.length === 3 ? m * k : 0,
    aRow: transposeA ? 1 : k,
    aCol: transposeA ? m : 1,
    bOffset: 0,
    bBatch: b.shape.length === 3 ? k * n : 0,
    bRow: transposeB ? 1 : n,
    bCol: transposeB ? k : 1,
    cOffset: 0,
    cBatch: m * n,
    cRow: n,
    alpha,
  };
  const shape = a.shape.length === 2 && b.shape.length === 2 ? [m, n] : [batch, m, n];
  return { plan, shape };
}

/** Computes C[bt, m, n] = alpha · Σ_k A[bt, m, k] · B[bt, k, n] (+ bias[n]) with plain float64 loops. */
function referenceProduct(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  p: MatmulPlan,
  bias?: Float32Array,
): void {
  if (p.aCol === 1 && p.bRow === 1) {
    referenceDotProducts(a, b, c, p, bias);
    return;
  }
  const row = new Float64Array(p.n);
  for (let bt = 0; bt < p.batch; bt++) {
    for (let m = 0; m < p.m; m++) {
      row.fill(0);
      for (let k = 0; k < p.k; k++) {
        const av = a[p.aOffset + bt * p.aBatch + m * p.aRow + k * p.aCol];
        const bk = p.bOffset + bt * p.bBatch + k * p.bRow;
        for (let n = 0; n < p.n; n++) row[n] += av * b[bk + n * p.bCol];
      }
      const cm = p.cOffset + bt * p.cBatch + m * p.cRow;
      for (let n = 0; n < p.n; n++) c[cm + n] = p.alpha * row[n] + (bias ? bias[n] : 0);
    }
  }
}

/** Computes the same sum as one dot product per output, for operands contiguous along k (as in linear). */
function referenceDotProducts(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  p: MatmulPlan,
  bias?: Float32Array,
): void {
  for (let bt = 0; bt < p.batch; bt++) {
    for (let m = 0; m < p.m; m++) {
      const am = p.aOffset + bt * p.aBatch + m * p.aRow;
      const cm = p.cOffset + bt * p.cBatch + m * p.cRow;
      for (let n = 0; n < p.n; n++) {
        const bn = p.bOffset + bt * p.bBatch + n * p.bCol;
        let sum = 0;
        for (let k = 0; k < p.k; k++) sum += a[am + k] * b[bn + k];
        c[cm + n] = p.alpha * sum + (bias ? bias[n] : 0);
      }
    }
  }
}

export interface DispatchOptions {
  /** [N] values added to every row of C. */
  bias?: Tensor;
  /** Row statistics of A's softmax; see `dispatchMatmul`. */
  softmaxStats?: Tensor;
  /** Whether a plan with a vector layout runs in 32 × 32 blocks, not 8 × 8 (default: on CPU adapters). */
  wide?: boolean;
}

/**
 * Tells whether the adapter is a CPU rasteriser such as Mesa's lavapipe, where
 * 32 × 32 blocks per invocation are fastest.
 * NOTE: 8 × 8 blocks for GPUs is a guess, not a measurement: 1,024 accumulators per
 * invocation would spill a GPU's registers, but no GPU has been timed.
 */
function isCpuAdapter(gpu: Gpu): boolean {
  return gpu.isFallback || /llvmpipe|lavapipe|swiftshader|softpipe/i.test(gpu.adapterDescription);
}

/**
 * Returns which vec4 kernel can run a plan, if any. Both load 4 consecutive k of A
 * at once, so A must be contiguous along k. "nn" also loads 4 consecutive n of B
 * (B contiguous along n, N a multiple of 4). "nt" loads 4 consecutive k of each
 * column of B (B contiguous along k, as linear's [O, K] weight and attention's keys
 * are). K and every offset and stride read that way must be multiples of 4.
 */
export function vectorLayout(p: MatmulPlan): "nn" | "nt" | undefined {
  if (p.aCol !== 1 || ![p.k, p.aOffset, p.aBatch, p.aRow, p.bOffset, p.bBatch].every((v) => v % 4 === 0)) {
    return undefined;
  }
  if (p.bCol === 1 && p.n % 4 === 0 && p.bRow % 4 === 0) return "nn";
  if (p.bRow === 1 && p.bCol % 4 === 0) return "nt";
  return undefined;
}

/**
 * Records the product described by `plan` into `c` on the GPU. Offsets and strides
 * are in elements, so a caller can run the product over part of larger tensors
 * (attention does, one chunk of query rows at a time).
 *
 * `options.softmaxStats` is [batch · M, 2], each row's max and 1 / sum from
 * softmax's `dispatchRowStats`. With it the product uses softmax(A) in place of A,
 * which needs a plan with a vector layout and excludes a bias.
 */
export function dispatchMatmul(
  gpu: Gpu,
  a: Tensor,
  b: Tensor,
  c: Tensor,
  plan: MatmulPlan,
  options: DispatchOptions = {},
): void {
  const p = plan;
  const { bias, softmaxStats } = options;
  if (p.batch === 0 || p.m === 0 || p.n === 0) return;
  const layout = vectorLayout(p);
  if (softmaxStats && (!layout || bias)) {
    throw new Error("dispatchMatmul: a softmax of A needs a plan with a vector layout and no bias");
  }
  const wide = layout !== undefined && (options.wide ?? isCpuAdapter(gpu));
  let entry = "matmul";
  if (layout) entry = `matmul_vec4${layout === "nt" ? "_nt" : ""}${wide ? "_wide" : ""}`;
  const block = wide ? 32 : 8;
  const blocks = Math.ceil(p.m / block) * Math.ceil(p.n / block);
  const constants = layout ? { SOFTMAX_A: softmaxStats ? 1 : 0 } : undefined;
  gpu.dispatch(
    `matmul.${entry}`,
    gpu.pipeline("matmul", matmulSource(), entry, constants),
    LAYOUT,
    {
      m: p.m, n: p.n, k: p.k, batch: p.batch,
      a_offset: p.aOffset, a_batch: p.aBatch, a_row: p.aRow, a_col: p.aCol,
      b_offset: p.bOffset, b_batch: p.bBatch, b_row: p.bRow, b_col: p.bCol,
      c_offset: p.cOffset, c_batch: p.cBatch, c_row: p.cRow, has_bias: bias ? 1 : 0,
      alpha: p.alpha,
    },
    [a.binding(), b.binding(), (bias ?? softmaxStats ?? a).binding(), c.binding()],
    [...gpu.grid(Math.ceil(blocks / BLOCKS_PER_WORKGROUP)), p.batch],
  );
}

/**
 * Multiplies batched matrices: alpha · op(a) op(b). a is [B, M, K] or [M, K], or
 * [B, K, M] / [K, M] with transposeA. b is [B, K, N] or [K, N], or [B, N, K] /
 * [N, K] with transposeB. An operand of rank 2 repeats over the other's batch.
 * Returns [B, M, N], or [M, N] when both operands have rank 2.
 *
 * @example
 * const scores = matmul(q, k, { transposeB: true, alpha: 1 / Math.sqrt(d) }); // [B, Lq, Lk]
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  if (a.isGpu !== b.isGpu) throw new Error("matmul: a and b must both live on the GPU or both on the host");
  const { plan, shape } = planMatmul(a, b, options);
  const c = Tensor.like(a, shape);
  if (!a.gpu) {
    referenceProduct(a.data, b.data, c.data, plan);
    return c;
  }
  dispatchMatmul(a.gpu, a, b, c, plan);
  return c;
}

/**
 * Applies PyTorch's nn.Linear: y = x wᵀ + b for x [..., K], w [O, K] and b [O]; returns [..., O].
 * The kernel reads w in its stored layout (the "nt" vector layout when K is a
 * multiple of 4), so no transposed copy of the weight is kept.
 *
 * @example
 * const h = linear(x, weights["fc1.weight"], weights["fc1.bias"]); // [L, 5120] from [L, 1280]
 */
export function linear(x: Tensor, w: Tensor, b?: Tensor): Tensor {
  const k = x.shape[x.shape.length - 1];
  if (w.shape.length !== 2 || w.shape[1] !== k) {
    throw new Error(
      `linear: weight ${shapeString(w.shape)} does not fit input ${shapeString(x.shape)}; expected [O, ${k}]`,
    );
  }
  const o = w.shape[0];
  if (b && (b.shape.length !== 1 || b.shape[0] !== o)) {
    throw new Error(
      `linear: bias ${shapeString(b.shape)} does not fit weight ${shapeString(w.shape)}; expected [${o}]`,
    );
  }
  if (x.isGpu !== w.isGpu || (b && b.isGpu !== x.isGpu)) {
    throw new Error("linear: input, weight and bias must all live on the GPU or all on the host");
  }

  const rows = k === 0 ? 0 : x.size / k;
  const y = Tensor.like(x, [...x.shape.slice(0, -1), o]);
  const plan: MatmulPlan = {
    batch: 1, m: rows, n: o, k,
    aOffset: 0, aBatch: 0, aRow: k, aCol: 1,
    bOffset: 0, bBatch: 0, bRow: 1, bCol: k,
    cOffset: 0, cBatch: 0, cRow: o,
    alpha: 1,
  };
  if (!x.gpu) {
    referenceProduct(x.data, w.data, y.data, plan, b?.data);
    return y;
  }
  dispatchMatmul(x.gpu, x, w, y, plan, { bias: b });
  return y;
}
