/**
 * Backward of the elementwise operations: broadcast reduction (`sumToShape`),
 * and the derivatives of SiLU, exact GELU, clamp and leaky ReLU. Host tensors run plain
 * loops; GPU tensors run kernels/wgsl/elementwise_grad.wgsl, and reductions run
 * as products with a vector of ones on the matmul kernel.
 */
import type { Gpu, ParamLayout } from "../../gpu/device.ts";
import { type Shape, shapeString, sizeOf, Tensor } from "../../gpu/tensor.ts";
import { copy, erf } from "../elementwise.ts";
import { permute } from "../layout.ts";
import { matmul } from "../matmul.ts";
import { wgsl, WORKGROUP } from "../wgsl_source.ts";

const LAYOUT: ParamLayout = [["n", "u32"], ["low", "f32"], ["high", "f32"]];

/** Returns a [size, 1] tensor of ones on `like`'s device. */
export function onesColumn(like: Tensor, size: number): Tensor {
  return Tensor.from(like.gpu, [size, 1], new Float32Array(size).fill(1));
}

/**
 * Sums x viewed as [rows, columns] over its columns, returning [rows]. On the GPU
 * this is a product with a column of ones.
 */
export function sumColumns(x: Tensor, rows: number, columns: number): Tensor {
  if (rows * columns !== x.size) {
    throw new Error(`sumColumns: ${shapeString(x.shape)} is not ${rows} × ${columns}`);
  }
  if (!x.gpu) {
    const out = Tensor.host([rows]);
    const v = x.data;
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let c = 0; c < columns; c++) sum += v[r * columns + c];
      out.data[r] = sum;
    }
    return out;
  }
  const ones = onesColumn(x, columns);
  const view = x.reshape([rows, columns]);
  const product = matmul(view, ones);
  view.release();
  ones.release();
  const out = product.reshape([rows]);
  product.release();
  return out;
}

/**
 * Sums x viewed as [rows, columns] over its rows, returning [columns] (a bias
 * gradient from [N·L, O] output gradients, say).
 */
export function sumRows(x: Tensor, rows: number, columns: number): Tensor {
  if (rows * columns !== x.size) {
    throw new Error(`sumRows: ${shapeString(x.shape)} is not ${rows} × ${columns}`);
  }
  if (!x.gpu) {
    const sums = new Float64Array(columns);
    const v = x.data;
    for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) sums[c] += v[r * columns + c];
    return Tensor.host([columns], Float32Array.from(sums));
  }
  const ones = onesColumn(x, rows);
  const view = x.reshape([rows, columns]);
  const product = matmul(view, ones, { transposeA: true });
  view.release();
  ones.release();
  const out = product.reshape([columns]);
  product.release();
  return out;
}

/**
 * Reduces a gradient of the broadcast shape `dy.shape` to `shape` (the shape of
 * an operand that was broadcast), summing over the axes the broadcast repeated.
 * Returns a new tensor of `shape`.
 */
export function sumToShape(dy: Tensor, shape: Shape): Tensor {
  const rank = dy.shape.length;
  if (shape.length > rank) {
    throw new Error(`sumToShape: ${shapeString(shape)} has more axes than ${shapeString(dy.shape)}`);
  }
  const padded = [...new Array(rank - shape.length).fill(1), ...shape];
  const reduced: number[] = [];
  const kept: number[] = [];
  for (let i = 0; i < rank; i++) {
    if (padded[i] === dy.shape[i]) kept.push(i);
    else if (padded[i] === 1) reduced.push(i);
    else throw new Error(`sumToShape: ${shapeString(shape)} does not broadcast to ${shapeString(dy.shape)}`);
  }
  const keptSize = sizeOf(kept.map((i) => dy.shape[i]));
  const reducedSize = sizeOf(reduced.map((i) => dy.shape[i]));
  if (reduced.length === 0 || reducedSize === 1) {
    const same = copy(dy);
    const view = same.reshape(shape);
    same.release();
    return view;
  }

  // Move the kept axes first (a no-op when the reduced axes already trail), then sum the columns.
  const perm = [...kept, ...reduced];
  const inOrder = perm.every((axis, i) => axis === i);
  const ordered = inOrder ? dy.reshape(dy.shape) : permute(dy, perm);
  const sums = sumColumns(ordered, keptSize, reducedSize);
  ordered.release();
  const out = sums.reshape(shape);
  sums.release();
  return out;
}

function referenceUnaryGrad(x: Tensor, dy: Tensor, derivative: (v: number) => number): Tensor {
  const dx = Tensor.host(x.shape);
  const xv = x.data, dyv = dy.data, dxv = dx.data;
  for (let i = 0; i < x.size; i++) dxv[i] = dyv[i] * derivative(xv[i]);
  return dx;
}

function dispatchUnaryGrad(entry: string, x: Tensor, dy: Tensor, low = 0, high = 0): Tensor {
  const gpu = x.gpu as Gpu;
  const dx = Tensor.empty(gpu, x.shape);
  gpu.dispatch(
    `elementwise_grad.${entry}`,
    gpu.pipeline("elementwise_grad", wgsl("elementwise_grad"), entry),
    LAYOUT,
    { n: x.size, low, high },
    [x.binding(), dy.binding(), dx.binding()],
    gpu.grid(Math.ceil(x.size / WORKGROUP)),
  );
  return dx;
}

function checkSameSize(op: string, x: Tensor, dy: Tensor): void {
  if (x.size !== dy.size) {
    throw new Error(`${op}: gradient ${shapeString(dy.shape)} does not match input ${shapeString(x.shape)}`);
  }
}

/** dx = dy · d/dx SiLU(x) = dy · σ(x)(1 + x(1 − σ(x))). */
export function siluBackward(x: Tensor, dy: Tensor): Tensor {
  checkSameSize("siluBackward", x, dy);
  if (!x.gpu) {
    return referenceUnaryGrad(x, dy, (v) => {
      const s = 1 / (1 + Math.exp(-v));
      return s * (1 + v * (1 - s));
    });
  }
  return dispatchUnaryGrad("silu_grad", x, dy);
}

/** dx = dy · (Φ(x) + x·φ(x)), the derivative of exact GELU. */
export function geluBackward(x: Tensor, dy: Tensor): Tensor {
  checkSameSize("geluBackward", x, dy);
  if (!x.gpu) {
    return referenceUnaryGrad(
      x,
      dy,
      (v) => 0.5 * (1 + erf(v / Math.SQRT2)) + v * Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI),
    );
  }
  return dispatchUnaryGrad("gelu_grad", x, dy);
}

/** dx = dy where low ≤ x ≤ high, else 0 (PyTorch's clamp backward). */
export function clampBackward(x: Tensor, dy: Tensor, low: number, high: number): Tensor {
  checkSameSize("clampBackward", x, dy);
  if (!x.gpu) return referenceUnaryGrad(x, dy, (v) => (v >= low && v <= high ? 1 : 0));
  return dispatchUnaryGrad("clamp_grad", x, dy, low, high);
}

/** dx = dy where x > 0, else slope · dy (PyTorch's leaky_relu and relu backward). */
export function leakyReluBackward(x: Tensor, dy: Tensor, slope: number): Tensor {
  checkSameSize("leakyReluBackward", x, dy);
  if (!x.gpu) return referenceUnaryGrad(x, dy, (v) => (v > 0 ? 1 : slope));
  return dispatchUnaryGrad("leaky_relu_grad", x, dy, slope);
}
