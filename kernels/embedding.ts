/**
 * Embedding lookup: gathers rows of a [V, D] table by token id, with a plain
 * TypeScript reference. A table larger than the adapter's storage binding limit
 * is uploaded as several row chunks with `splitRows`, and the lookup runs once per
 * chunk. The released text encoder's 30522 × 1280 float32 token table (156 MB) is
 * such a table on lavapipe, whose limit is 128 MiB.
 */
import type { Gpu, ParamLayout } from "../gpu/device.ts";
import { shapeString, Tensor } from "../gpu/tensor.ts";
import { WORKGROUP, wgsl } from "./wgsl_source.ts";

/** A [V, D] table stored as consecutive row chunks: chunk c contains rows c·rowsPerChunk onwards. */
export interface SplitTable {
  shape: readonly [number, number];
  rowsPerChunk: number;
  chunks: Tensor[];
  /** Releases every chunk. */
  release(): void;
}

const LAYOUT: ParamLayout = [["count", "u32"], ["width", "u32"], ["first_row", "u32"], ["rows", "u32"]];

/**
 * Uploads a [V, D] table (row-major `data`) as row chunks of at most `maxChunkBytes`
 * each (default: the adapter's storage binding limit). With `gpu` undefined the
 * chunks are host tensors.
 */
export function splitRows(
  gpu: Gpu | undefined,
  shape: readonly [number, number],
  data: Float32Array,
  maxChunkBytes = gpu?.maxBinding ?? 2 ** 27,
): SplitTable {
  const [vocabulary, width] = shape;
  if (data.length !== vocabulary * width) {
    throw new Error(`splitRows: ${data.length} values for a table of shape ${shapeString(shape)}`);
  }
  const rowsPerChunk = Math.floor(maxChunkBytes / (Math.max(width, 1) * 4));
  if (rowsPerChunk < 1) {
    throw new Error(
      `splitRows: one row of ${width} float32 values exceeds the chunk size of ${maxChunkBytes} bytes`,
    );
  }
  const chunks: Tensor[] = [];
  for (let first = 0; first < vocabulary; first += rowsPerChunk) {
    const rows = Math.min(rowsPerChunk, vocabulary - first);
    chunks.push(Tensor.from(gpu, [rows, width], data.subarray(first * width, (first + rows) * width)));
  }
  return {
    shape: [vocabulary, width],
    rowsPerChunk,
    chunks,
    release() {
      for (const chunk of chunks) if (!chunk.released) chunk.release();
    },
  };
}

function isSplit(table: Tensor | SplitTable): table is SplitTable {
  return !(table instanceof Tensor);
}

/**
 * Gathers table rows: out[i] = table[ids[i]]. `table` is a [V, D] tensor or a
 * SplitTable; returns [ids.length, D] on the table's device.
 *
 * @example
 * const tokens = embedding(ids, weights["cond_stage_model.transformer.token_emb.weight"]); // [150, 1280]
 */
export function embedding(ids: Int32Array | number[], table: Tensor | SplitTable): Tensor {
  const shape = isSplit(table) ? table.shape : table.shape;
  if (shape.length !== 2) throw new Error(`embedding: table ${shapeString(shape)} must have rank 2`);
  const [vocabulary, width] = shape;
  for (const [i, id] of Array.from(ids).entries()) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabulary) {
      throw new Error(`embedding: id ${id} at position ${i} is outside the table's ${vocabulary} rows`);
    }
  }
  const chunks = isSplit(table) ? table.chunks : [table];
  const rowsPerChunk = isSplit(table) ? table.rowsPerChunk : vocabulary;
  const count = ids.length;
  const out = Tensor.like(chunks[0], [count, width]);

  if (!out.gpu) {
    const values = out.data;
    for (let i = 0; i < count; i++) {
      const chunk = chunks[Math.floor(ids[i] / rowsPerChunk)];
      const row = ids[i] % rowsPerChunk;
      values.set(chunk.data.subarray(row * width, (row + 1) * width), i * width);
    }
    return out;
  }
  if (out.size === 0) return out;

  // The ids travel as the raw bytes of an int32 array in a float32 tensor; the kernel reads them as i32.
  const gpu = out.gpu;
  const idValues = Int32Array.from(ids);
  const idTensor = Tensor.from(gpu, [count], new Float32Array(idValues.buffer));
  for (const [c, chunk] of chunks.entries()) {
    gpu.dispatch(
      "embedding.gather",
      gpu.pipeline("embedding", wgsl("embedding"), "gather"),
      LAYOUT,
      { count, width, first_row: c * rowsPerChunk, rows: chunk.shape[0] },
      [idTensor.binding(), chunk.binding(), out.binding()],
      gpu.grid(Math.ceil((count * width) / WORKGROUP)),
    );
  }
  idTensor.release();
  return out;
}
