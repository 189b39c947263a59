/** Tensor read-back: several tensors in one read give each tensor's own values, in order. */
import assert from "node:assert/strict";
import { getGpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { randomValues } from "../kernels/helpers.ts";

Deno.test("Tensor.readAll returns GPU, host and view values in order", async () => {
  const gpu = await getGpu();
  const sizes = [1, 7, 64, 3, 1000];
  const values = sizes.map((n, i) => randomValues(n, 11 + i));
  const tensors = values.map((v, i) => i === 2 ? Tensor.host([v.length], v) : Tensor.from(gpu, [v.length], v));
  const view = tensors[4].reshape([10, 100]);
  const read = await Tensor.readAll([...tensors, view]);
  assert.deepEqual(read.length, sizes.length + 1);
  values.forEach((v, i) => assert.deepEqual(Array.from(read[i]), Array.from(v), `tensor ${i}`));
  assert.deepEqual(Array.from(read[sizes.length]), Array.from(values[4]));
  // The host copy is a copy: changing it leaves the tensor alone.
  read[2][0] = 42;
  assert.deepEqual(tensors[2].data[0], values[2][0]);
  for (const t of [...tensors, view]) t.release();
});

Deno.test("Tensor.readAll of nothing is empty", async () => {
  assert.deepEqual(await Tensor.readAll([]), []);
});
