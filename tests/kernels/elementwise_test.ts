import assert from "node:assert/strict";
import { Tensor } from "../../gpu/tensor.ts";
import { add, affine, gelu, mul, silu } from "../../kernels/elementwise.ts";
import { assertClose, randomPair } from "./helpers.ts";

Deno.test("elementwise add broadcasts like NumPy on the GPU", async () => {
  const [a, ga] = await randomPair([2, 3, 5, 7], 1);
  const [b, gb] = await randomPair([3, 1, 7], 2);
  assertClose(await add(ga, gb, 0.5, -2).read(), add(a, b, 0.5, -2).data, 1e-6, "add");
  assertClose(await mul(ga, gb, 3).read(), mul(a, b, 3).data, 1e-6, "mul");
});

Deno.test("elementwise unary kernels match the references", async () => {
  const [x, gx] = await randomPair([3, 67, 13], 3);
  const wide = affine(x, 6);
  const gwide = affine(gx, 6);
  assertClose(await gwide.read(), wide.data, 1e-6, "affine");
  assertClose(await silu(gwide).read(), silu(wide).data, 1e-6, "silu");
  assertClose(await gelu(gwide).read(), gelu(wide).data, 1e-6, "gelu");
});

Deno.test("gelu reference matches the normal CDF at known points", () => {
  // Φ(1) = 0.8413447460685429 and Φ(-2) = 0.022750131948179195.
  const x = Tensor.host([2], new Float32Array([1, -2]));
  const y = gelu(x).data;
  assert.ok(Math.abs(y[0] - 0.8413447460685429) < 1e-6, `gelu(1) = ${y[0]}`);
  assert.ok(Math.abs(y[1] - -2 * 0.022750131948179195) < 1e-6, `gelu(-2) = ${y[1]}`);
});
