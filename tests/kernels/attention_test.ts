import assert from "node:assert/strict";
import { Tensor } from "../../gpu/tensor.ts";
import { attention } from "../../kernels/attention.ts";
import { matmul } from "../../kernels/matmul.ts";
import { softmax } from "../../kernels/softmax.ts";
import { assertClose, randomPair } from "./helpers.ts";

Deno.test("attention reference equals composed ops", async () => {
  const [q] = await randomPair([2, 9, 6], 60);
  const [k] = await randomPair([2, 11, 6], 61);
  const [v] = await randomPair([2, 11, 5], 62);
  const composed = matmul(softmax(matmul(q, k, { transposeB: true }), { scale: 0.4 }), v);
  const out = attention(q, k, v, 0.4);
  assert.deepEqual(out.shape, [2, 9, 5]);
  assertClose(out.data, composed.data, 1e-6, "attention reference");
});

Deno.test("self-attention GPU matches reference", async () => {
  // Lk = 76 and d = 16 take the vec4 kernels, so the value product applies the softmax itself.
  // Lq = 76 ends inside an 8 × 8 block.
  const [q, gq] = await randomPair([3, 76, 16], 63);
  const [k, gk] = await randomPair([3, 76, 16], 64);
  const [v, gv] = await randomPair([3, 76, 20], 65);
  const scale = 1 / Math.sqrt(16);
  const expected = attention(q, k, v, scale).data;
  assertClose(await attention(gq, gk, gv, scale).read(), expected, 1e-5, "self-attention");
});

Deno.test("cross-attention GPU matches reference, 150 keys", async () => {
  // 150 context tokens and 28-channel heads, as in the text-conditioned U-Net.
  // Lk = 150 is not a multiple of 4, so the softmax runs as a separate pass.
  const [q, gq] = await randomPair([2, 50, 28], 66);
  const [k, gk] = await randomPair([2, 150, 28], 67);
  const [v, gv] = await randomPair([2, 150, 28], 68);
  const scale = 1 / Math.sqrt(28);
  const expected = attention(q, k, v, scale).data;
  assertClose(await attention(gq, gk, gv, scale).read(), expected, 1e-5, "cross-attention");
});

Deno.test("attention GPU matches reference in chunks", async () => {
  const [q, gq] = await randomPair([3, 41, 8], 69);
  const [k, gk] = await randomPair([3, 36, 8], 70);
  const [v, gv] = await randomPair([3, 36, 12], 71);
  const expected = attention(q, k, v, 0.3).data;
  // 36 keys · 4 bytes · 10 rows: each batch item runs in 5 chunks of at most 10 query rows.
  const chunked = await attention(gq, gk, gv, 0.3, { maxScoreBytes: 36 * 4 * 10 }).read();
  assertClose(chunked, expected, 1e-5, "chunked attention");
  // Two whole batch items per chunk.
  const paired = await attention(gq, gk, gv, 0.3, { maxScoreBytes: 41 * 36 * 4 * 2 }).read();
  assertClose(paired, expected, 1e-5, "attention over batch pairs");
});

Deno.test("attention rejects mismatched key lengths", () => {
  const q = Tensor.host([1, 4, 8]);
  const k = Tensor.host([1, 5, 8]);
  const v = Tensor.host([1, 6, 8]);
  assert.throws(() => attention(q, k, v, 1), /do not fit/);
});
