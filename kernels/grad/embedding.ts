/**
 * Backward of the embedding lookup: row v of the table's gradient is the sum of
 * the output-gradient rows at the positions holding id v (zero for ids that do
 * not occur). Host tensors run a plain scatter-add; GPU tensors run
 * kernels/wgsl/embedding_grad.wgsl once per table chunk.
 */
import type { ParamLayout } from "../../gpu/device.ts";
import { shapeString, Tensor } from "../../gpu/tensor.ts";
import { wgsl, WORKGROUP } from "../wgsl_source.ts";

const LAYOUT: ParamLayout = [["width", "u32"], ["first_row", "u32"], ["rows", "u32"]];

/**
 * Computes the gradient of each table chunk (one chunk for a plain [V, D] table), in the
 * chunks' order, from dy [ids.length, D]. `chunkRows` are the chunks' row counts.
 */
export function embeddingBackward(
  ids: ArrayLike<number>,
  dy: Tensor,
  chunkRows: readonly number[],
): Tensor[] {
  const count = ids.length;
  const width = count === 0 ? 0 : dy.size / count;
  if (!Number.isInteger(width)) {
    throw new Error(`embeddingBackward: ${shapeString(dy.shape)} does not split into ${count} rows`);
  }
  const vocabulary = chunkRows.reduce((a, r) => a + r, 0);

  if (!dy.gpu) {
    const grads = chunkRows.map((rows) => Tensor.host([rows, width]));
    const firsts = chunkRows.map((_, c) => chunkRows.slice(0, c).reduce((a, r) => a + r, 0));
    const sums = chunkRows.map((rows) => new Float64Array(rows * width));
    for (let i = 0; i < count; i++) {
      const chunk = firsts.findLastIndex((first) => first <= ids[i]);
      const row = ids[i] - firsts[chunk];
      for (let j = 0; j < width; j++) sums[chunk][row * width + j] += dy.data[i * width + j];
    }
    for (const [c, g] of grads.entries()) g.data.set(sums[c]);
    return grads;
  }

  // Counting sort of the positions by id: starts[v] is where id v's positions begin.
  const starts = new Uint32Array(vocabulary + 1);
  for (let i = 0; i < count; i++) starts[ids[i] + 1]++;
  for (let v = 0; v < vocabulary; v++) starts[v + 1] += starts[v];
  const next = starts.slice(0, vocabulary);
  const positions = new Uint32Array(Math.max(count, 1));
  for (let i = 0; i < count; i++) positions[next[ids[i]]++] = i;

  const gpu = dy.gpu;
  const startsTensor = Tensor.from(gpu, [starts.length], new Float32Array(starts.buffer));
  const positionsTensor = Tensor.from(gpu, [positions.length], new Float32Array(positions.buffer));
  const grads: Tensor[] = [];
  let first = 0;
  for (const rows of chunkRows) {
    const g = Tensor.empty(gpu, [rows, width]);
    gpu.dispatch(
      "embedding_grad.scatter_rows",
      gpu.pipeline("embedding_grad", wgsl("embedding_grad"), "scatter_rows"),
      LAYOUT,
      { width, first_row: first, rows },
      [startsTensor.binding(), positionsTensor.binding(), dy.binding(), g.binding()],
      gpu.grid(Math.ceil((rows * width) / WORKGROUP)),
    );
    grads.push(g);
    first += rows;
  }
  startsTensor.release();
  positionsTensor.release();
  return grads;
}
