/**
 * Backward of the layout copies: concat's gradient is a slice per input,
 * slice's gradient is the output gradient placed in zeros, and permute's is the
 * inverse permutation. All are compositions of the forward layout kernels.
 */
import { Tensor } from "../../gpu/tensor.ts";
import { concat, permute, slice } from "../layout.ts";

/** Returns the gradients of concat's inputs (their sizes along `axis` in `lengths`), as slices of dy. */
export function concatBackward(dy: Tensor, axis: number, lengths: readonly number[]): Tensor[] {
  const a = axis < 0 ? axis + dy.shape.length : axis;
  const out: Tensor[] = [];
  let start = 0;
  for (const length of lengths) {
    out.push(slice(dy, a, start, start + length));
    start += length;
  }
  return out;
}

/** Returns the gradient of slice(x, axis, start, end): dy placed at start…end−1 of zeros shaped like x. */
export function sliceBackward(
  dy: Tensor,
  inputShape: readonly number[],
  axis: number,
  start: number,
  end: number,
): Tensor {
  const a = axis < 0 ? axis + inputShape.length : axis;
  const parts: Tensor[] = [];
  const zeros = (length: number) => {
    const shape = inputShape.map((d, i) => (i === a ? length : d));
    return Tensor.from(dy.gpu, shape, new Float32Array(shape.reduce((p, d) => p * d, 1)));
  };
  if (start > 0) parts.push(zeros(start));
  parts.push(dy);
  if (end < inputShape[a]) parts.push(zeros(inputShape[a] - end));
  const out = concat(parts, a);
  for (const part of parts) if (part !== dy) part.release();
  return out;
}

/** Returns the gradient of permute(x, perm): dy permuted back by the inverse permutation. */
export function permuteBackward(dy: Tensor, perm: readonly number[]): Tensor {
  const inverse = new Array(perm.length);
  for (const [i, axis] of perm.entries()) inverse[axis] = i;
  return permute(dy, inverse);
}
