import assert from "node:assert/strict";
import { getGpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { dispatchMatmul, linear, matmul, type MatmulPlan, vectorLayout } from "../../kernels/matmul.ts";
import { assertClose, randomPair } from "./helpers.ts";

Deno.test("matmul reference computes a known product", () => {
  // [[1, 2, 3], [4, 5, 6]] · [[1, 0], [0, 1], [1, 1]] = [[4, 5], [10, 11]], times 2.
  const a = Tensor.host([2, 3], new Float32Array([1, 2, 3, 4, 5, 6]));
  const b = Tensor.host([3, 2], new Float32Array([1, 0, 0, 1, 1, 1]));
  const c = matmul(a, b, { alpha: 2 });
  assert.deepEqual(c.shape, [2, 2]);
  assert.deepEqual(Array.from(c.data), [8, 10, 20, 22]);
});

Deno.test("matmul reference transposes both operands", () => {
  const a = Tensor.host([3, 2], new Float32Array([1, 4, 2, 5, 3, 6])); // [[1, 2, 3], [4, 5, 6]]ᵀ
  const b = Tensor.host([2, 3], new Float32Array([1, 0, 1, 0, 1, 1])); // [[1, 0], [0, 1], [1, 1]]ᵀ
  const c = matmul(a, b, { transposeA: true, transposeB: true });
  assert.deepEqual(Array.from(c.data), [4, 5, 10, 11]);
});

Deno.test("matmul GPU matches reference, ragged shapes", async () => {
  // K = 29 is not a multiple of 4, so the scalar kernel runs; M = 37 and N = 45 end inside an 8 × 8 block.
  const [a, ga] = await randomPair([3, 37, 29], 10);
  const [b, gb] = await randomPair([3, 29, 45], 11);
  assert.deepEqual(matmul(ga, gb).shape, [3, 37, 45]);
  assertClose(await matmul(ga, gb, { alpha: 0.5 }).read(), matmul(a, b, { alpha: 0.5 }).data, 1e-5, "matmul");
});

Deno.test("matmul GPU matches reference, vec4 kernel", async () => {
  // K and N multiples of 4 select the vec4 kernel; M = 70 and N = 68 end inside a block.
  const [a, ga] = await randomPair([2, 70, 36], 12);
  const [b, gb] = await randomPair([2, 36, 68], 13);
  assertClose(await matmul(ga, gb).read(), matmul(a, b).data, 1e-5, "matmul vec4");
});

Deno.test("matmul GPU transposes and broadcasts", async () => {
  const [a, ga] = await randomPair([2, 19, 33], 14); // [B, K, M] with K = 19, M = 33
  const [b, gb] = await randomPair([9, 19], 15); // [N, K], shared over the batch
  const options = { transposeA: true, transposeB: true, alpha: -1.5 };
  const expected = matmul(a, b, options);
  assert.deepEqual(expected.shape, [2, 33, 9]);
  assertClose(await matmul(ga, gb, options).read(), expected.data, 1e-5, "transposed a and b");

  const [c, gc] = await randomPair([2, 33, 19], 16); // [B, M, K]
  const [d, gd] = await randomPair([2, 9, 19], 17); // [B, N, K]
  assertClose(
    await matmul(gc, gd, { transposeB: true }).read(),
    matmul(c, d, { transposeB: true }).data,
    1e-5,
    "transposed b",
  );
});

Deno.test("matmul rejects mismatched inner dimensions", () => {
  const a = Tensor.host([2, 3]);
  const b = Tensor.host([4, 2]);
  assert.throws(() => matmul(a, b), /inner dimensions 3 and 4 differ/);
});

Deno.test("linear reference adds bias", () => {
  const x = Tensor.host([1, 2], new Float32Array([1, 2]));
  const w = Tensor.host([3, 2], new Float32Array([1, 0, 0, 1, 1, 1]));
  const b = Tensor.host([3], new Float32Array([0.5, 0, -1]));
  assert.deepEqual(Array.from(linear(x, w, b).data), [1.5, 2, 2]);
});

Deno.test("linear GPU matches reference", async () => {
  // K = 40 takes the "nt" vec4 kernels, which allow O = 38 (not a multiple of 4); K = 21 the scalar one.
  for (const [rows, k, o, seed] of [[13, 40, 38, 20], [21, 21, 19, 30]]) {
    const [x, gx] = await randomPair([2, rows, k], seed);
    const [w, gw] = await randomPair([o, k], seed + 1);
    const [b, gb] = await randomPair([o], seed + 2);
    const y = await linear(gx, gw, gb).read();
    assertClose(y, linear(x, w, b).data, 1e-5, `linear ${k} → ${o} with bias`);
    assertClose(await linear(gx, gw).read(), linear(x, w).data, 1e-5, `linear ${k} → ${o}`);
  }
});

Deno.test("matmul vec4 kernels agree in every layout", async () => {
  // The 8 × 8 kernels serve GPUs and the 32 × 32 ones CPU adapters; run both here whatever the adapter.
  const gpu = await getGpu();
  const [a, ga] = await randomPair([2, 45, 28], 90);
  const [b, gb] = await randomPair([2, 28, 76], 91);
  const [bias, gbias] = await randomPair([76], 92);
  const expected = new Float32Array(2 * 45 * 76);
  const sums = matmul(a, b, { alpha: 0.75 }).data;
  for (let i = 0; i < expected.length; i++) expected[i] = sums[i] + bias.data[i % 76];
  const plan: MatmulPlan = {
    batch: 2, m: 45, n: 76, k: 28,
    aOffset: 0, aBatch: 45 * 28, aRow: 28, aCol: 1,
    bOffset: 0, bBatch: 28 * 76, bRow: 76, bCol: 1,
    cOffset: 0, cBatch: 45 * 76, cRow: 76,
    alpha: 0.75,
  };
  assert.equal(vectorLayout(plan), "nn");
  for (const wide of [false, true]) {
    const c = Tensor.empty(gpu, [2, 45, 76]);
    dispatchMatmul(gpu, ga, gb, c, plan, { bias: gbias, wide });
    assertClose(await c.read(), expected, 1e-5, wide ? "nn, 32 × 32 blocks" : "nn, 8 × 8 blocks");
    c.release();
  }

  // The same product with B stored as [B, N, K] takes the "nt" kernels.
  const bt = new Float32Array(2 * 76 * 28);
  for (let t = 0; t < 2; t++) {
    for (let kk = 0; kk < 28; kk++) {
      for (let n = 0; n < 76; n++) bt[(t * 76 + n) * 28 + kk] = b.data[(t * 28 + kk) * 76 + n];
    }
  }
  const gbt = Tensor.from(gpu, [2, 76, 28], bt);
  const ntPlan: MatmulPlan = { ...plan, bBatch: 76 * 28, bRow: 1, bCol: 28 };
  assert.equal(vectorLayout(ntPlan), "nt");
  for (const wide of [false, true]) {
    const c = Tensor.empty(gpu, [2, 45, 76]);
    dispatchMatmul(gpu, ga, gbt, c, ntPlan, { bias: gbias, wide });
    assertClose(await c.read(), expected, 1e-5, wide ? "nt, 32 × 32 blocks" : "nt, 8 × 8 blocks");
    c.release();
  }
});
