import assert from "node:assert/strict";
import { getGpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { softmax } from "../../kernels/softmax.ts";
import { assertClose, randomPair } from "./helpers.ts";

Deno.test("softmax reference matches known values", () => {
  const x = Tensor.host([2, 2], new Float32Array([0, Math.log(3), 1, 1]));
  const y = softmax(x).data;
  assert.ok(Math.abs(y[0] - 0.25) < 1e-7, `y[0] = ${y[0]}`);
  assert.ok(Math.abs(y[1] - 0.75) < 1e-7, `y[1] = ${y[1]}`);
  assert.deepEqual(Array.from(y.subarray(2)), [0.5, 0.5]);
});

Deno.test("softmax GPU matches reference, scaled", async () => {
  // 3 × 67 = 201 rows: the last workgroup of 64 invocations is partly idle.
  const [x, gx] = await randomPair([3, 67, 77], 50);
  for (const scale of [1, -0.7, 8]) {
    const expected = softmax(x, { scale }).data;
    assertClose(await softmax(gx, { scale }).read(), expected, 1e-5, `softmax scale ${scale}`);
  }
});

Deno.test("softmax GPU stable for large inputs", async () => {
  const gpu = await getGpu();
  const values = new Float32Array([1000, 999, 998, -1000, -1001, -1002]);
  const x = Tensor.from(gpu, [2, 3], values);
  const y = await softmax(x).read();
  const expected = softmax(Tensor.host([2, 3], values)).data;
  assert.ok(y.every(Number.isFinite), `softmax gave ${Array.from(y)}`);
  assertClose(y, expected, 1e-6, "softmax of large values");
  assert.ok(Math.abs(y[0] + y[1] + y[2] - 1) < 1e-6, "row sums to 1");
});
