import assert from "node:assert/strict";
import { getGpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { conv2d, type Conv2dOptions, convTranspose2d } from "../../kernels/conv.ts";
import { assertClose, randomPair } from "./helpers.ts";

interface ConvCase {
  name: string;
  x: number[];
  w: number[];
  bias: boolean;
  options: Conv2dOptions;
}

const CASES: ConvCase[] = [
  { name: "3×3 same padding", x: [2, 5, 19, 21], w: [11, 5, 3, 3], bias: true, options: { padding: 1 } },
  { name: "3×3 no padding", x: [1, 3, 9, 13], w: [8, 3, 3, 3], bias: false, options: {} },
  { name: "1×1", x: [1, 7, 6, 17], w: [3, 7, 1, 1], bias: true, options: {} },
  {
    name: "3×3 stride 2, pad (0,1,0,1)",
    x: [1, 6, 16, 16],
    w: [6, 6, 3, 3],
    bias: true,
    options: { stride: 2, padding: [0, 1, 0, 1] },
  },
  {
    name: "4×4 stride 2 pad 1",
    x: [2, 4, 12, 10],
    w: [9, 4, 4, 4],
    bias: true,
    options: { stride: 2, padding: 1 },
  },
  { name: "7×7 pad 3", x: [1, 2, 11, 23], w: [10, 2, 7, 7], bias: true, options: { padding: 3 } },
  // The cases below reach each generated entry point and block that conv2dPlan chooses, on sizes
  // that are not multiples of the blocks. They cover 3×3 blocks of 4 rows (images over 16×16)
  // and of 1 row, 1×1 blocks of 1 to 4 channel vec4s, and images with more than 64 pixel blocks,
  // which run on workgroups of 64 instead of 8.
  {
    name: "3×3 4-row blocks, 64-wide workgroups",
    x: [2, 3, 41, 67],
    w: [13, 3, 3, 3],
    bias: true,
    options: { padding: 1 },
  },
  {
    name: "3×3 1-row blocks, 3 channels",
    x: [1, 9, 7, 13],
    w: [3, 9, 3, 3],
    bias: true,
    options: { padding: 1 },
  },
  {
    name: "3×3 1-row blocks, 21 channels",
    x: [1, 5, 10, 9],
    w: [21, 5, 3, 3],
    bias: true,
    options: { padding: 1 },
  },
  { name: "1×1 2 channels", x: [1, 5, 9, 11], w: [2, 5, 1, 1], bias: true, options: {} },
  {
    name: "1×1 6 channels, 64-wide workgroups",
    x: [2, 4, 37, 29],
    w: [6, 4, 1, 1],
    bias: false,
    options: {},
  },
  { name: "1×1 21 channels", x: [1, 7, 5, 7], w: [21, 7, 1, 1], bias: true, options: {} },
  { name: "1×1 with padding", x: [1, 3, 5, 6], w: [4, 3, 1, 1], bias: true, options: { padding: 1 } },
  {
    name: "4×4 stride 2, 19 channels",
    x: [1, 3, 18, 35],
    w: [19, 3, 4, 4],
    bias: true,
    options: { stride: 2, padding: 1 },
  },
  {
    name: "3×3 asymmetric stride",
    x: [1, 3, 10, 11],
    w: [5, 3, 3, 3],
    bias: false,
    options: { stride: [1, 2], padding: [2, 0, 1, 3] },
  },
];

for (const c of CASES) {
  Deno.test(`conv2d ${c.name} matches the reference`, async () => {
    const [x, gx] = await randomPair(c.x, 1);
    const [w, gw] = await randomPair(c.w, 2);
    const [b, gb] = await randomPair([c.w[0]], 3);
    const expected = conv2d(x, w, c.bias ? b : undefined, c.options);
    const actual = conv2d(gx, gw, c.bias ? gb : undefined, c.options);
    assert.deepEqual(actual.shape, expected.shape);
    assertClose(await actual.read(), expected.data, 1e-5, c.name);
  });
}

Deno.test("conv2d reference computes a hand-checked 2×2 example", () => {
  // x = [[1, 2], [3, 4]], 2×2 kernel [[1, 0], [0, -1]], bias 0.5, padding 1 on the bottom and right.
  const x = Tensor.host([1, 1, 2, 2], new Float32Array([1, 2, 3, 4]));
  const w = Tensor.host([1, 1, 2, 2], new Float32Array([1, 0, 0, -1]));
  const b = Tensor.host([1], new Float32Array([0.5]));
  const y = conv2d(x, w, b, { padding: [0, 1, 0, 1] });
  assert.deepEqual(y.shape, [1, 1, 2, 2]);
  assert.deepEqual([...y.data], [1 - 4 + 0.5, 2 + 0.5, 3 + 0.5, 4 + 0.5]);
});

Deno.test("conv2d adds a fused residual", async () => {
  const [x, gx] = await randomPair([1, 8, 10, 12], 4);
  const [w, gw] = await randomPair([16, 8, 3, 3], 5);
  const [b, gb] = await randomPair([16], 6);
  const [r, gr] = await randomPair([1, 16, 10, 12], 7);
  const expected = conv2d(x, w, b, { padding: 1, residual: r });
  const plain = conv2d(x, w, b, { padding: 1 });
  assert.notDeepEqual(expected.data, plain.data);
  const actual = conv2d(gx, gw, gb, { padding: 1, residual: gr });
  assertClose(await actual.read(), expected.data, 1e-5, "conv2d + residual");
});

Deno.test("conv2d reuses the transposed weights across calls", async () => {
  const [, gx] = await randomPair([1, 4, 8, 8], 8);
  const [, gw] = await randomPair([4, 4, 3, 3], 9);
  const first = await conv2d(gx, gw, undefined, { padding: 1 }).read();
  assert.equal(gw.derived.size, 1);
  const cached = [...gw.derived.values()][0];
  const second = await conv2d(gx, gw, undefined, { padding: 1 }).read();
  assert.equal([...gw.derived.values()][0], cached);
  assert.deepEqual(second, first);
});

Deno.test("conv2d rejects mismatched channels", async () => {
  const [, gx] = await randomPair([1, 4, 8, 8], 10);
  const [, gw] = await randomPair([4, 3, 3, 3], 11);
  assert.throws(() => conv2d(gx, gw, undefined), /expects 3 input channels/);
});

const TRANSPOSED_CASES = [
  { name: "4×4 stride 2 padding 1", x: [2, 6, 7, 9], w: [6, 10, 4, 4], stride: 2, padding: 1 },
  { name: "3×3 stride 1", x: [1, 3, 5, 6], w: [3, 4, 3, 3], stride: 1, padding: 0 },
  { name: "3×3 stride 3 padding 2", x: [1, 2, 4, 5], w: [2, 3, 3, 3], stride: 3, padding: 2 },
  { name: "4×4 stride 2, 64-wide workgroups", x: [1, 3, 40, 21], w: [3, 18, 4, 4], stride: 2, padding: 1 },
];

for (const c of TRANSPOSED_CASES) {
  Deno.test(`convTranspose2d ${c.name} matches the reference`, async () => {
    const [x, gx] = await randomPair(c.x, 12);
    const [w, gw] = await randomPair(c.w, 13);
    const [b, gb] = await randomPair([c.w[1]], 14);
    const options = { stride: c.stride, padding: c.padding };
    const expected = convTranspose2d(x, w, b, options);
    const actual = convTranspose2d(gx, gw, gb, options);
    assert.deepEqual(actual.shape, expected.shape);
    assertClose(await actual.read(), expected.data, 1e-5, c.name);
  });
}

Deno.test("convTranspose2d 4×4 stride 2 padding 1 doubles the size", () => {
  const x = Tensor.host([1, 1, 3, 5]);
  const w = Tensor.host([1, 2, 4, 4]);
  assert.deepEqual(convTranspose2d(x, w, undefined, { stride: 2, padding: 1 }).shape, [1, 2, 6, 10]);
});

Deno.test("convTranspose2d reference is the adjoint of conv2d", () => {
  // <conv2d(x), y> = <x, convTranspose2d(y)> for the same weights, stride and padding.
  const x = Tensor.host([1, 3, 8, 8], new Float32Array(192).map((_, i) => Math.sin(i)));
  const w = Tensor.host([5, 3, 4, 4], new Float32Array(240).map((_, i) => Math.cos(i * 0.7)));
  const cx = conv2d(x, w, undefined, { stride: 2, padding: 1 });
  const y = Tensor.host(cx.shape, new Float32Array(cx.size).map((_, i) => Math.sin(i * 1.3)));
  const ty = convTranspose2d(y, w, undefined, { stride: 2, padding: 1 });
  let left = 0, right = 0;
  for (let i = 0; i < cx.size; i++) left += cx.data[i] * y.data[i];
  for (let i = 0; i < x.size; i++) right += x.data[i] * ty.data[i];
  assert.ok(Math.abs(left - right) < 1e-3 * Math.abs(left), `${left} vs ${right}`);
});

Deno.test("conv2d splits a batch larger than one binding", async () => {
  const gpu = await getGpu();
  // Three images of a little over half the binding limit each: the batch exceeds the limit,
  // and the second image starts at an offset that is not a multiple of the offset alignment.
  const perImage = Math.ceil(gpu.maxBinding / 4 / 2) + 64;
  const width = 65;
  const height = Math.ceil(perImage / width) | 1; // odd, so each image is an odd number of floats
  assert.notEqual((height * width * 4) % gpu.device.limits.minStorageBufferOffsetAlignment, 0);
  const x = Tensor.from(gpu, [3, 1, height, width], new Float32Array(3 * height * width).fill(1));
  const w = Tensor.from(gpu, [1, 1, 1, 1], new Float32Array([2]));
  const y = conv2d(x, w, undefined);
  const values = await y.read();
  const wrong = values.findIndex((v) => v !== 2);
  assert.equal(wrong, -1, `element ${wrong} is ${values[wrong]}, expected 2`);
  x.release();
  y.release();
});
