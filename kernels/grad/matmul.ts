/**
 * Backward of the matrix products, composed from the forward matmul kernel:
 * for C = α·op(A)·op(B), dop(A) = α·dC·op(B)ᵀ and dop(B) = α·op(A)ᵀ·dC; an
 * operand repeated over the batch (rank 2 against rank 3) gets the sum over the
 * batch. `linear` (y = x wᵀ + b) gets dx = dy·w, dw = dyᵀ·x and db = Σ dy.
 */
import { Tensor } from "../../gpu/tensor.ts";
import { matmul, type MatmulOptions } from "../matmul.ts";
import { sumRows, sumToShape } from "./elementwise.ts";

/** Sums a [B, R, C] gradient over its batch when the operand was [R, C]; releases the input when it reduces. */
function reduceBatch(g: Tensor, operandShape: readonly number[]): Tensor {
  if (operandShape.length === g.shape.length) return g;
  const out = sumToShape(g, operandShape);
  g.release();
  return out;
}

/** Gradient of `a` in matmul(a, b, options), from dc. */
export function matmulGradA(dc: Tensor, a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const { transposeA = false, transposeB = false, alpha = 1 } = options;
  const g = transposeA
    ? matmul(b, dc, { transposeA: transposeB, transposeB: true, alpha })
    : matmul(dc, b, { transposeB: !transposeB, alpha });
  return reduceBatch(g, a.shape);
}

/** Gradient of `b` in matmul(a, b, options), from dc. */
export function matmulGradB(dc: Tensor, a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const { transposeA = false, transposeB = false, alpha = 1 } = options;
  const g = transposeB
    ? matmul(dc, a, { transposeA: true, transposeB: transposeA, alpha })
    : matmul(a, dc, { transposeA: !transposeA, alpha });
  return reduceBatch(g, b.shape);
}

/** Gradient of x [..., K] in linear(x, w, b), from dy [..., O]. */
export function linearInputGrad(dy: Tensor, w: Tensor, inputShape: readonly number[]): Tensor {
  const [o, k] = w.shape;
  const rows = dy.size / o;
  const dy2d = dy.reshape([rows, o]);
  const dx = matmul(dy2d, w);
  dy2d.release();
  const out = dx.reshape(inputShape.length ? inputShape : [rows, k]);
  dx.release();
  return out;
}

/** Gradient of w [O, K] in linear(x, w, b): dyᵀ x over all rows. */
export function linearWeightGrad(dy: Tensor, x: Tensor): Tensor {
  const o = dy.shape[dy.shape.length - 1];
  const k = x.shape[x.shape.length - 1];
  const rows = dy.size / o;
  const dy2d = dy.reshape([rows, o]);
  const x2d = x.reshape([rows, k]);
  const dw = matmul(dy2d, x2d, { transposeA: true });
  dy2d.release();
  x2d.release();
  return dw;
}

/** Gradient of the bias [O] in linear(x, w, b): the sum of dy over all rows. */
export function linearBiasGrad(dy: Tensor): Tensor {
  const o = dy.shape[dy.shape.length - 1];
  return sumRows(dy, dy.size / o, o);
}
