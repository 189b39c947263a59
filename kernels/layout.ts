/**
 * Layout copies: `concat` along an axis, `slice` (a copy of a range along an axis)
 * and `permute` (axes reordered, rank ≤ 5), each with a plain TypeScript reference
 * used for host tensors.
 *
 * @example
 * ```ts
 * const flat = x.reshape([n, c, h * w]);
 * const tokens = permute(flat, [0, 2, 1]); // [N, C, HW] → [N, HW, C]
 * flat.release();
 * ```
 *
 * NOTE: inputs and outputs must fit in one storage binding (`Gpu.maxBinding`, 128 MiB on
 * lavapipe); larger ones fail at dispatch.
 */
import type { Gpu, ParamLayout } from "../gpu/device.ts";
import { type Shape, shapeString, Tensor } from "../gpu/tensor.ts";
import { wgsl, WORKGROUP } from "./wgsl_source.ts";

const LAYOUT: ParamLayout = [
  ["n", "u32"],
  ["row_len", "u32"],
  ["src_stride", "u32"],
  ["src_offset", "u32"],
  ["dst_stride", "u32"],
  ["dst_offset", "u32"],
  ["d1", "u32"],
  ["d2", "u32"],
  ["d3", "u32"],
  ["d4", "u32"],
  ["s0", "u32"],
  ["s1", "u32"],
  ["s2", "u32"],
  ["s3", "u32"],
  ["s4", "u32"],
];

const NO_PERMUTE = { d1: 1, d2: 1, d3: 1, d4: 1, s0: 0, s1: 0, s2: 0, s3: 0, s4: 0 };

/** Resolves a possibly negative axis against `rank`, naming the operation in the error. */
function resolveAxis(op: string, axis: number, rank: number): number {
  const resolved = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || resolved < 0 || resolved >= rank) {
    throw new Error(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return resolved;
}

/** Elements before `axis` (rows) and after it (the inner block). */
function outerInner(shape: Shape, axis: number): [number, number] {
  let outer = 1, inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  return [outer, inner];
}

/**
 * Copies `rows` rows of `rowLen` elements from `src` (row stride `srcStride`, start
 * `srcOffset`) to `dst` (row stride `dstStride`, start `dstOffset`).
 */
function copyBlock(
  src: Tensor,
  dst: Tensor,
  rows: number,
  rowLen: number,
  srcStride: number,
  srcOffset: number,
  dstStride: number,
  dstOffset: number,
): void {
  const n = rows * rowLen;
  if (n === 0) return;
  if (!dst.gpu) {
    const s = src.data, d = dst.data;
    for (let row = 0; row < rows; row++) {
      const from = srcOffset + row * srcStride;
      d.set(s.subarray(from, from + rowLen), dstOffset + row * dstStride);
    }
    return;
  }
  const gpu = dst.gpu as Gpu;
  gpu.dispatch(
    "layout.copy_block",
    gpu.pipeline("layout", wgsl("layout"), "copy_block"),
    LAYOUT,
    {
      n,
      row_len: rowLen,
      src_stride: srcStride,
      src_offset: srcOffset,
      dst_stride: dstStride,
      dst_offset: dstOffset,
      ...NO_PERMUTE,
    },
    [src.binding(), dst.binding()],
    gpu.grid(Math.ceil(n / WORKGROUP)),
  );
}

/** Joins tensors along `axis`; every other axis must match. All inputs live on one device. */
export function concat(tensors: Tensor[], axis: number): Tensor {
  if (tensors.length === 0) throw new Error("concat: no tensors given");
  const first = tensors[0];
  const rank = first.shape.length;
  const a = resolveAxis("concat", axis, rank);
  for (const t of tensors) {
    const same = t.shape.length === rank && t.shape.every((d, i) => i === a || d === first.shape[i]);
    if (!same) {
      throw new Error(
        `concat: shapes ${shapeString(first.shape)} and ${shapeString(t.shape)} differ outside axis ${a}`,
      );
    }
    if (t.gpu !== first.gpu) throw new Error("concat: inputs live on different devices (GPU and host)");
  }
  const total = tensors.reduce((sum, t) => sum + t.shape[a], 0);
  const outShape = first.shape.map((d, i) => (i === a ? total : d));
  const y = Tensor.like(first, outShape);
  const [outer, inner] = outerInner(outShape, a);
  let offset = 0;
  for (const t of tensors) {
    const rowLen = t.shape[a] * inner;
    copyBlock(t, y, outer, rowLen, rowLen, 0, total * inner, offset * inner);
    offset += t.shape[a];
  }
  return y;
}

/** Copies elements start…end−1 along `axis` into a new tensor. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = resolveAxis("slice", axis, x.shape.length);
  const length = x.shape[a];
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= length)) {
    throw new Error(`slice: range ${start}…${end} is invalid for axis ${a} of length ${length}`);
  }
  const outShape = x.shape.map((d, i) => (i === a ? end - start : d));
  const y = Tensor.like(x, outShape);
  const [outer, inner] = outerInner(x.shape, a);
  copyBlock(x, y, outer, (end - start) * inner, length * inner, start * inner, (end - start) * inner, 0);
  return y;
}

/**
 * Reorders axes: output axis i is input axis `perm[i]` (as `torch.permute`), so
 * `permute(x, [0, 2, 1, 3])` turns [B, L, H, d] into [B, H, L, d]. Rank ≤ 5.
 */
export function permute(x: Tensor, perm: number[]): Tensor {
  const rank = x.shape.length;
  const sorted = [...perm].sort((p, q) => p - q);
  if (perm.length !== rank || !sorted.every((v, i) => v === i)) {
    throw new Error(
      `permute: [${perm.join(", ")}] is not a permutation of the ${rank} axes of ${shapeString(x.shape)}`,
    );
  }
  if (rank > 5) throw new Error(`permute: rank ${rank} is not supported (at most 5)`);
  const inStrides = new Array(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1] * x.shape[i + 1];
  const outShape = perm.map((axis) => x.shape[axis]);
  const strides = perm.map((axis) => inStrides[axis]);
  const y = Tensor.like(x, outShape);
  if (y.size === 0) return y;

  if (!x.gpu) {
    permuteReference(x.data, y.data, outShape, strides);
    return y;
  }
  const dims = [...new Array(5 - rank).fill(1), ...outShape];
  const s = [...new Array(5 - rank).fill(0), ...strides];
  const gpu = x.gpu;
  gpu.dispatch(
    "layout.permute",
    gpu.pipeline("layout", wgsl("layout"), "permute"),
    LAYOUT,
    {
      n: y.size,
      row_len: 1,
      src_stride: 0,
      src_offset: 0,
      dst_stride: 0,
      dst_offset: 0,
      d1: dims[1],
      d2: dims[2],
      d3: dims[3],
      d4: dims[4],
      s0: s[0],
      s1: s[1],
      s2: s[2],
      s3: s[3],
      s4: s[4],
    },
    [x.binding(), y.binding()],
    gpu.grid(Math.ceil(y.size / WORKGROUP)),
  );
  return y;
}

/** Plain loop over the output's coordinates, reading the source through `strides`. */
function permuteReference(src: Float32Array, dst: Float32Array, shape: number[], strides: number[]): void {
  const index = new Array(shape.length).fill(0);
  for (let i = 0; i < dst.length; i++) {
    let from = 0;
    for (let k = 0; k < shape.length; k++) from += index[k] * strides[k];
    dst[i] = src[from];
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++index[k] < shape[k]) break;
      index[k] = 0;
    }
  }
}
