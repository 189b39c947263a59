/**
 * Backward of softmax and of scaled dot-product attention, composed from the
 * forward kernels (matmul, softmax, elementwise), so the same code runs on host
 * and GPU tensors. Attention recomputes its probabilities P = softmax(scale·q kᵀ)
 * from the saved q and k instead of keeping them from the forward pass, as the
 * reference's gradient checkpointing does; this holds the whole [B, Lq, Lk]
 * matrix at once.
 */
import { shapeString, Tensor } from "../../gpu/tensor.ts";
import { mul, sub } from "../elementwise.ts";
import { matmul } from "../matmul.ts";
import { softmax } from "../softmax.ts";
import { sumColumns } from "./elementwise.ts";

/**
 * Given y = softmax(scale·x) over the last axis and dy, returns
 * dx = scale · y ⊙ (dy − Σ_row dy ⊙ y).
 */
export function softmaxBackward(y: Tensor, dy: Tensor, scale = 1): Tensor {
  if (y.size !== dy.size) {
    throw new Error(
      `softmaxBackward: gradient ${shapeString(dy.shape)} does not match ${shapeString(y.shape)}`,
    );
  }
  const length = y.shape[y.shape.length - 1];
  const rows = y.size / length;
  const product = mul(dy, y);
  const sums = sumColumns(product, rows, length);
  product.release();
  const sums2d = sums.reshape([rows, 1]);
  sums.release();
  const dy2d = dy.reshape([rows, length]);
  const centred = sub(dy2d, sums2d);
  dy2d.release();
  sums2d.release();
  const y2d = y.reshape([rows, length]);
  const dx = mul(centred, y2d, scale);
  y2d.release();
  centred.release();
  const out = dx.reshape(y.shape);
  dx.release();
  return out;
}

export interface AttentionGrads {
  dq?: Tensor;
  dk?: Tensor;
  dv?: Tensor;
}

/**
 * Gradients of q [B, Lq, d], k [B, Lk, d] and v [B, Lk, dv] in
 * out = softmax(scale · q kᵀ) v, from dout [B, Lq, dv]. Only the gradients whose
 * `needs` entry is true are computed.
 */
export function attentionBackward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  scale: number,
  dout: Tensor,
  needs: { q: boolean; k: boolean; v: boolean } = { q: true, k: true, v: true },
): AttentionGrads {
  const scores = matmul(q, k, { transposeB: true, alpha: scale });
  const p = softmax(scores);
  scores.release();
  const grads: AttentionGrads = {};
  if (needs.v) grads.dv = matmul(p, dout, { transposeA: true });
  if (needs.q || needs.k) {
    const dp = matmul(dout, v, { transposeB: true });
    const ds = softmaxBackward(p, dp, 1);
    dp.release();
    if (needs.q) grads.dq = matmul(ds, k, { alpha: scale });
    if (needs.k) grads.dk = matmul(ds, q, { transposeA: true, alpha: scale });
    ds.release();
  }
  p.release();
  return grads;
}
