import assert from "node:assert/strict";
import { getGpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { embedding, splitRows } from "../../kernels/embedding.ts";
import { randomValues } from "./helpers.ts";

const VOCABULARY = 50;
const WIDTH = 12;
const table = randomValues(VOCABULARY * WIDTH, 80);
const ids = [0, 49, 7, 7, 13, 20, 21, 35, 48, 1];

function expectedRows(): Float32Array {
  const out = new Float32Array(ids.length * WIDTH);
  ids.forEach((id, i) => out.set(table.subarray(id * WIDTH, (id + 1) * WIDTH), i * WIDTH));
  return out;
}

Deno.test("embedding reference gathers rows", () => {
  const out = embedding(ids, Tensor.host([VOCABULARY, WIDTH], table));
  assert.deepEqual(out.shape, [ids.length, WIDTH]);
  assert.deepEqual(out.data, expectedRows());
});

Deno.test("embedding GPU gathers rows", async () => {
  const gpu = await getGpu();
  const out = embedding(Int32Array.from(ids), Tensor.from(gpu, [VOCABULARY, WIDTH], table));
  assert.deepEqual(await out.read(), expectedRows());
});

Deno.test("embedding gathers from split table", async () => {
  const gpu = await getGpu();
  // 7 rows per chunk: 8 chunks, the last one with 1 row.
  const split = splitRows(gpu, [VOCABULARY, WIDTH], table, 7 * WIDTH * 4);
  assert.equal(split.chunks.length, 8);
  assert.deepEqual(split.chunks[7].shape, [1, WIDTH]);
  assert.deepEqual(await embedding(ids, split).read(), expectedRows());
  split.release();

  const hostSplit = splitRows(undefined, [VOCABULARY, WIDTH], table, 7 * WIDTH * 4);
  assert.deepEqual(embedding(ids, hostSplit).data, expectedRows());
});

Deno.test("embedding rejects out-of-range ids", () => {
  const host = Tensor.host([VOCABULARY, WIDTH], table);
  assert.throws(() => embedding([3, 50], host), /id 50 at position 1/);
  assert.throws(() => embedding([-1], host), /id -1 at position 0/);
});
