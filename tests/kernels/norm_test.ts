import assert from "node:assert/strict";
import { getGpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { groupNorm, layerNorm } from "../../kernels/norm.ts";
import { affine } from "../../kernels/elementwise.ts";
import { assertClose, randomPair } from "./helpers.ts";

const GROUP_CASES = [
  { name: "32 groups at 16×16", shape: [2, 64, 16, 16], groups: 32, eps: 1e-6, silu: false },
  { name: "one group split into parts", shape: [1, 16, 64, 64], groups: 1, eps: 1e-5, silu: false },
  { name: "8 groups with SiLU", shape: [2, 24, 9, 7], groups: 8, eps: 1e-5, silu: true },
  { name: "1-D spatial axis", shape: [3, 12, 50], groups: 4, eps: 1e-6, silu: true },
  // The normalize pass works on runs of 16 elements of one channel, and these channels are shorter.
  { name: "channels of 3 elements", shape: [2, 8, 3], groups: 2, eps: 1e-5, silu: true },
];

for (const c of GROUP_CASES) {
  Deno.test(`groupNorm ${c.name} matches the reference`, async () => {
    const [x, gx] = await randomPair(c.shape, 1);
    const [gamma, ggamma] = await randomPair([c.shape[1]], 2);
    const [beta, gbeta] = await randomPair([c.shape[1]], 3);
    const expected = groupNorm(x, c.groups, gamma, beta, c.eps, { silu: c.silu });
    const actual = groupNorm(gx, c.groups, ggamma, gbeta, c.eps, { silu: c.silu });
    assertClose(await actual.read(), expected.data, 1e-5, c.name);
  });
}

Deno.test("groupNorm keeps precision with a large mean", async () => {
  // Values 1000 + noise of spread 0.006: E[x²] − E[x]² in float32 loses the variance entirely
  // (errors of order 1), while rounding the mean to float32 (ulp 6e-5) alone costs about 3e-3.
  const gpu = await getGpu();
  const [noise] = await randomPair([1, 8, 32, 32], 4);
  const x = affine(noise, 0.01, 1000);
  const gamma = Tensor.host([8], new Float32Array(8).fill(1));
  const beta = Tensor.host([8]);
  const expected = groupNorm(x, 2, gamma, beta, 1e-6);
  const gx = Tensor.from(gpu, x.shape, x.data);
  const actual = groupNorm(gx, 2, Tensor.from(gpu, [8], gamma.data), Tensor.from(gpu, [8], beta.data), 1e-6);
  assertClose(await actual.read(), expected.data, 1e-2, "large-mean groupNorm");
});

Deno.test("layerNorm keeps precision with a large mean", async () => {
  const gpu = await getGpu();
  const [noise] = await randomPair([4, 1280], 10);
  const x = affine(noise, 0.01, 1000);
  const gamma = Tensor.host([1280], new Float32Array(1280).fill(1));
  const beta = Tensor.host([1280]);
  const expected = layerNorm(x, gamma, beta, 1e-6);
  const gx = Tensor.from(gpu, x.shape, x.data);
  const actual = layerNorm(
    gx,
    Tensor.from(gpu, [1280], gamma.data),
    Tensor.from(gpu, [1280], beta.data),
    1e-6,
  );
  assertClose(await actual.read(), expected.data, 1e-2, "large-mean layerNorm");
});

Deno.test("groupNorm reference normalises each group to mean 0 and variance 1", () => {
  const x = Tensor.host([1, 4, 3], new Float32Array([1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60]));
  const gamma = Tensor.host([4], new Float32Array(4).fill(1));
  const beta = Tensor.host([4]);
  const y = groupNorm(x, 2, gamma, beta, 0).data;
  for (const group of [y.subarray(0, 6), y.subarray(6, 12)]) {
    const mean = group.reduce((a, v) => a + v, 0) / 6;
    const variance = group.reduce((a, v) => a + (v - mean) ** 2, 0) / 6;
    assert.ok(Math.abs(mean) < 1e-6, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 1e-5, `variance ${variance}`);
  }
});

Deno.test("groupNorm rejects channels not divisible by groups", async () => {
  const [, gx] = await randomPair([1, 6, 4, 4], 5);
  const [, g] = await randomPair([6], 6);
  assert.throws(() => groupNorm(gx, 4, g, g, 1e-5), /6 channels do not split into 4 groups/);
});

Deno.test("layerNorm matches the reference", async () => {
  for (const shape of [[2, 7, 1280], [5, 33], [300, 64]]) {
    const D = shape[shape.length - 1];
    const [x, gx] = await randomPair(shape, 7);
    const [gamma, ggamma] = await randomPair([D], 8);
    const [beta, gbeta] = await randomPair([D], 9);
    const expected = layerNorm(x, gamma, beta, 1e-5);
    assertClose(await layerNorm(gx, ggamma, gbeta, 1e-5).read(), expected.data, 1e-5, `layerNorm ${shape}`);
  }
});

Deno.test("layerNorm reference gives a known row", () => {
  // Row [1, 2, 3]: mean 2, variance 2/3, so the normalised row is [−√1.5, 0, √1.5].
  const x = Tensor.host([1, 3], new Float32Array([1, 2, 3]));
  const gamma = Tensor.host([3], new Float32Array([1, 1, 2]));
  const beta = Tensor.host([3], new Float32Array([0, 0.5, 0]));
  const y = layerNorm(x, gamma, beta, 0).data;
  const s = Math.sqrt(1.5);
  assert.ok(Math.abs(y[0] + s) < 1e-6, `${y[0]}`);
  assert.ok(Math.abs(y[1] - 0.5) < 1e-6, `${y[1]}`);
  assert.ok(Math.abs(y[2] - 2 * s) < 1e-6, `${y[2]}`);
});
