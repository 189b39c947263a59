/**
 * Elementwise and broadcast operations: `add` (y = α·a + β·b), `mul`, `affine`
 * (y = α·x + β), `clamp`, `silu`, exact `gelu` and `leakyRelu`, each with a plain
 * TypeScript reference.
 * Broadcasting follows NumPy: shapes are aligned on the right and an axis of
 * size 1 repeats.
 */
import type { Gpu, ParamLayout } from "../gpu/device.ts";
import { type Shape, shapeString, Tensor } from "../gpu/tensor.ts";
import { WORKGROUP, wgsl } from "./wgsl_source.ts";

const LAYOUT: ParamLayout = [
  ["n", "u32"], ["d1", "u32"], ["d2", "u32"], ["d3", "u32"],
  ["a0", "u32"], ["a1", "u32"], ["a2", "u32"], ["a3", "u32"],
  ["b0", "u32"], ["b1", "u32"], ["b2", "u32"], ["b3", "u32"],
  ["alpha", "f32"], ["beta", "f32"],
];

/** The broadcast shape of a and b. */
export function broadcastShape(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`broadcast: shapes ${shapeString(a)} and ${shapeString(b)} do not broadcast`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides (in elements) of `shape` read as `out`-shaped, 0 on broadcast axes, padded to rank 4. */
function broadcastStrides(shape: Shape, out: Shape): number[] {
  const rank = out.length;
  const strides = new Array(rank).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const axis = rank - shape.length + i;
    strides[axis] = shape[i] === 1 && out[axis] !== 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

/** Collapses an output shape of any rank to rank 4 when possible (merging leading axes). */
function padTo4(out: Shape, sa: number[], sb: number[]): { dims: number[]; sa: number[]; sb: number[] } {
  let dims = [...out];
  let a = [...sa];
  let b = [...sb];
  while (dims.length < 4) {
    dims = [1, ...dims];
    a = [0, ...a];
    b = [0, ...b];
  }
  while (dims.length > 4) {
    // Merge axes 0 and 1 when both operands step through them contiguously.
    const mergeable = (s: number[]) => s[0] === s[1] * dims[1];
    if (!(mergeable(a) && mergeable(b))) throw new Error(`elementwise: rank ${out.length} broadcast is not supported`);
    dims = [dims[0] * dims[1], ...dims.slice(2)];
    a = [a[1], ...a.slice(2)];
    b = [b[1], ...b.slice(2)];
  }
  return { dims, sa: a, sb: b };
}

function dispatch(entry: string, a: Tensor, b: Tensor, alpha: number, beta: number): Tensor {
  const gpu = a.gpu as Gpu;
  const out = broadcastShape(a.shape, b.shape);
  const y = Tensor.empty(gpu, out);
  const { dims, sa, sb } = padTo4(out, broadcastStrides(a.shape, out), broadcastStrides(b.shape, out));
  gpu.dispatch(
    `elementwise.${entry}`,
    gpu.pipeline("elementwise", wgsl("elementwise"), entry),
    LAYOUT,
    {
      n: y.size, d1: dims[1], d2: dims[2], d3: dims[3],
      a0: sa[0], a1: sa[1], a2: sa[2], a3: sa[3],
      b0: sb[0], b1: sb[1], b2: sb[2], b3: sb[3],
      alpha, beta,
    },
    [a.binding(), b.binding(), y.binding()],
    gpu.grid(Math.ceil(y.size / WORKGROUP)),
  );
  return y;
}

/** Plain loop over the broadcast output, applying `f` to the two operand values. */
function referenceBinary(a: Tensor, b: Tensor, f: (x: number, y: number) => number): Tensor {
  const out = broadcastShape(a.shape, b.shape);
  const y = Tensor.host(out);
  const sa = broadcastStrides(a.shape, out);
  const sb = broadcastStrides(b.shape, out);
  const index = new Array(out.length).fill(0);
  const av = a.data, bv = b.data, yv = y.data;
  for (let i = 0; i < y.size; i++) {
    let ia = 0, ib = 0;
    for (let k = 0; k < out.length; k++) {
      ia += index[k] * sa[k];
      ib += index[k] * sb[k];
    }
    yv[i] = f(av[ia], bv[ib]);
    for (let k = out.length - 1; k >= 0; k--) {
      if (++index[k] < out[k]) break;
      index[k] = 0;
    }
  }
  return y;
}

function referenceUnary(x: Tensor, f: (v: number) => number): Tensor {
  const y = Tensor.host(x.shape);
  const xv = x.data, yv = y.data;
  for (let i = 0; i < x.size; i++) yv[i] = f(xv[i]);
  return y;
}

/** y = alpha·a + beta·b, broadcasting. */
export function add(a: Tensor, b: Tensor, alpha = 1, beta = 1): Tensor {
  if (!a.gpu) return referenceBinary(a, b, (x, y) => alpha * x + beta * y);
  return dispatch("add", a, b, alpha, beta);
}

/** y = a − b, broadcasting. */
export function sub(a: Tensor, b: Tensor): Tensor {
  return add(a, b, 1, -1);
}

/** y = alpha·a·b, broadcasting. */
export function mul(a: Tensor, b: Tensor, alpha = 1): Tensor {
  if (!a.gpu) return referenceBinary(a, b, (x, y) => alpha * x * y);
  return dispatch("mul", a, b, alpha, 0);
}

/** y = alpha·x + beta. */
export function affine(x: Tensor, alpha: number, beta = 0): Tensor {
  if (!x.gpu) return referenceUnary(x, (v) => alpha * v + beta);
  return dispatch("affine", x, x, alpha, beta);
}

/** A copy of x (same device). */
export function copy(x: Tensor): Tensor {
  return affine(x, 1, 0);
}

/** SiLU (swish): x · sigmoid(x). */
export function silu(x: Tensor): Tensor {
  if (!x.gpu) return referenceUnary(x, (v) => v / (1 + Math.exp(-v)));
  return dispatch("silu", x, x, 1, 0);
}

/** erf by Numerical Recipes' erfcc (fractional error < 1.2e-7), the same formula the WGSL kernel evaluates. */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const r = 1 - t * Math.exp(poly);
  return x < 0 ? -r : r;
}

/** Exact GELU, x · Φ(x) (not the tanh approximation). */
export function gelu(x: Tensor): Tensor {
  if (!x.gpu) return referenceUnary(x, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
  return dispatch("gelu", x, x, 1, 0);
}

/** y = min(max(x, low), high). */
export function clamp(x: Tensor, low: number, high: number): Tensor {
  if (!x.gpu) return referenceUnary(x, (v) => Math.min(high, Math.max(low, v)));
  return dispatch("clamp_range", x, x, low, high);
}

/** Leaky ReLU: x where x ≥ 0, else slope · x; slope 0 gives ReLU. */
export function leakyRelu(x: Tensor, slope: number): Tensor {
  if (!x.gpu) return referenceUnary(x, (v) => (v >= 0 ? v : Math.fround(slope * v)));
  return dispatch("leaky_relu", x, x, slope, 0);
}
