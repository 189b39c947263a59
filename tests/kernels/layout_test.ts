import assert from "node:assert/strict";
import { getGpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { concat, permute, slice } from "../../kernels/layout.ts";
import { randomPair } from "./helpers.ts";

async function gpuTensor(shape: number[], values: number[]): Promise<Tensor> {
  return Tensor.from(await getGpu(), shape, new Float32Array(values));
}

Deno.test("concat joins along the channel axis", async () => {
  const a = [1, 2, 3, 4]; // [1, 2, 2]
  const b = [5, 6]; //       [1, 1, 2]
  const expected = [1, 2, 3, 4, 5, 6];
  assert.deepEqual([
    ...concat([Tensor.host([1, 2, 2], new Float32Array(a)), Tensor.host([1, 1, 2], new Float32Array(b))], 1)
      .data,
  ], expected);
  const y = concat([await gpuTensor([1, 2, 2], a), await gpuTensor([1, 1, 2], b)], 1);
  assert.deepEqual(y.shape, [1, 3, 2]);
  assert.deepEqual([...(await y.read())], expected);
});

Deno.test("concat matches the reference on every axis", async () => {
  for (const axis of [0, 1, 2, -1]) {
    const shapeA = [2, 3, 4], shapeB = [2, 3, 4];
    const r = axis < 0 ? 3 + axis : axis;
    shapeB[r] = 5;
    const [a, ga] = await randomPair(shapeA, 1);
    const [b, gb] = await randomPair(shapeB, 2);
    const [c, gc] = await randomPair(shapeA, 3);
    const expected = concat([a, b, c], axis);
    const actual = concat([ga, gb, gc], axis);
    assert.deepEqual(actual.shape, expected.shape);
    assert.deepEqual(await actual.read(), expected.data, `axis ${axis}`);
  }
});

Deno.test("concat rejects mismatched shapes", async () => {
  const [, a] = await randomPair([1, 2, 3], 4);
  const [, b] = await randomPair([1, 2, 4], 5);
  assert.throws(() => concat([a, b], 1), /differ outside axis 1/);
});

Deno.test("slice copies a range along an axis", async () => {
  const values = Array.from({ length: 24 }, (_, i) => i); // [2, 3, 4]
  const host = slice(Tensor.host([2, 3, 4], new Float32Array(values)), 1, 1, 3);
  const expected = [4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23];
  assert.deepEqual([...host.data], expected);
  const y = slice(await gpuTensor([2, 3, 4], values), 1, 1, 3);
  assert.deepEqual(y.shape, [2, 2, 4]);
  assert.deepEqual([...(await y.read())], expected);
  assert.deepEqual([...(await slice(await gpuTensor([2, 3, 4], values), -1, 3, 4).read())], [
    3,
    7,
    11,
    15,
    19,
    23,
  ]);
});

Deno.test("slice rejects a range outside the axis", async () => {
  const [, x] = await randomPair([2, 3], 6);
  assert.throws(() => slice(x, 1, 2, 4), /range 2…4 is invalid/);
});

Deno.test("permute swaps the last two axes", async () => {
  const values = [1, 2, 3, 4, 5, 6]; // [1, 2, 3]
  const expected = [1, 4, 2, 5, 3, 6];
  assert.deepEqual([...permute(Tensor.host([1, 2, 3], new Float32Array(values)), [0, 2, 1]).data], expected);
  const y = permute(await gpuTensor([1, 2, 3], values), [0, 2, 1]);
  assert.deepEqual(y.shape, [1, 3, 2]);
  assert.deepEqual([...(await y.read())], expected);
});

Deno.test("permute matches the reference up to rank 5", async () => {
  const cases: [number[], number[]][] = [
    [[2, 5, 3, 4], [0, 2, 1, 3]], // [B, L, H, d] → [B, H, L, d]
    [[2, 6, 35], [0, 2, 1]], //       [N, C, HW] → [N, HW, C]
    [[2, 3, 4, 5, 3], [4, 2, 0, 3, 1]],
    [[7, 9], [1, 0]],
  ];
  for (const [shape, perm] of cases) {
    const [x, gx] = await randomPair(shape, 7);
    const expected = permute(x, perm);
    assert.deepEqual(expected.shape, perm.map((a) => shape[a]));
    assert.deepEqual(await permute(gx, perm).read(), expected.data, `${shape} by ${perm}`);
  }
});

Deno.test("permute reference puts each element at its permuted index", () => {
  const x = Tensor.host([2, 3, 4], new Float32Array(24).map((_, i) => i));
  const y = permute(x, [2, 0, 1]); // y[k, i, j] = x[i, j, k]
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 3; j++) {
      for (let k = 0; k < 4; k++) assert.equal(y.data[(k * 2 + i) * 3 + j], (i * 3 + j) * 4 + k);
    }
  }
});

Deno.test("permute rejects an invalid permutation", async () => {
  const [, x] = await randomPair([2, 3], 8);
  assert.throws(() => permute(x, [0, 0]), /is not a permutation/);
});
