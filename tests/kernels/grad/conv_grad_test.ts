/**
 * The GPU convolution gradients against the host references, on shapes that are not
 * multiples of the kernels' blocks. The cases cover the weight gradient's
 * matrix-product path (one split, several splits, several chunks of images) and the
 * stride-1 input gradient that runs as a convolution with flipped weights.
 */
import assert from "node:assert/strict";
import { getGpu } from "../../../gpu/device.ts";
import { Tensor } from "../../../gpu/tensor.ts";
import {
  conv2dInputGrad,
  conv2dWeightGrad,
  convTranspose2dWeightGrad,
  type ConvGeometry,
} from "../../../kernels/grad/conv.ts";
import { randomValues, relativeError } from "../helpers.ts";

const gpu = await getGpu();

function pair(shape: number[], seed: number): [Tensor, Tensor] {
  const host = Tensor.host(shape, randomValues(shape.reduce((a, d) => a * d, 1), seed));
  return [host, Tensor.from(gpu, shape, host.data)];
}

async function assertClose(name: string, gpuResult: Tensor, hostResult: Tensor): Promise<void> {
  assert.deepEqual(gpuResult.shape, hostResult.shape, `${name}: shape`);
  const error = relativeError(await gpuResult.read(), hostResult.data);
  assert.ok(error <= 1e-5, `${name}: differs from the host reference by ${error.toExponential(2)} of scale`);
}

interface WeightCase {
  name: string;
  x: number[];
  weight: number[];
  geometry: ConvGeometry;
}

// Output sizes follow from the geometry: ⌊(H + 2·pad − KH) / stride⌋ + 1.
const WEIGHT_CASES: WeightCase[] = [
  { name: "3×3 one split", x: [2, 5, 13, 11], weight: [7, 5, 3, 3], geometry: { stride: [1, 1], padding: [1, 1] } },
  { name: "3×3 two splits", x: [3, 5, 61, 53], weight: [7, 5, 3, 3], geometry: { stride: [1, 1], padding: [1, 1] } },
  { name: "1×1", x: [3, 6, 9, 7], weight: [5, 6, 1, 1], geometry: { stride: [1, 1], padding: [0, 0] } },
  { name: "3×3 stride 2", x: [2, 3, 9, 8], weight: [5, 3, 3, 3], geometry: { stride: [2, 2], padding: [0, 0] } },
  { name: "3×3 chunks of one image", x: [3, 64, 130, 131], weight: [3, 64, 3, 3], geometry: { stride: [1, 1], padding: [1, 1] } },
];

function outputShape(c: WeightCase): number[] {
  const [N, , H, W] = c.x;
  const [O, , KH, KW] = c.weight;
  const [SH, SW] = c.geometry.stride;
  const [PT, PL] = c.geometry.padding;
  return [N, O, Math.floor((H + 2 * PT - KH) / SH) + 1, Math.floor((W + 2 * PL - KW) / SW) + 1];
}

for (const c of WEIGHT_CASES) {
  Deno.test(`conv2d weight gradient, ${c.name}`, async () => {
    const [xHost, xGpu] = pair(c.x, 3);
    const [dyHost, dyGpu] = pair(outputShape(c), 5);
    const expected = conv2dWeightGrad(xHost, dyHost, c.weight, c.geometry);
    const actual = conv2dWeightGrad(xGpu, dyGpu, c.weight, c.geometry);
    await assertClose(c.name, actual, expected);
    for (const t of [xGpu, dyGpu, actual]) t.release();
  });
}

Deno.test("convTranspose2d weight gradient, stride 2", async () => {
  // x [2, 5, 7, 9] through a [5, 3, 4, 4] weight, stride 2, padding 1: output 14 × 18.
  const geometry: ConvGeometry = { stride: [2, 2], padding: [1, 1] };
  const [xHost, xGpu] = pair([2, 5, 7, 9], 7);
  const [dyHost, dyGpu] = pair([2, 3, 14, 18], 9);
  const expected = convTranspose2dWeightGrad(xHost, dyHost, [5, 3, 4, 4], geometry);
  const actual = convTranspose2dWeightGrad(xGpu, dyGpu, [5, 3, 4, 4], geometry);
  await assertClose("convTranspose2d", actual, expected);
  for (const t of [xGpu, dyGpu, actual]) t.release();
});

const INPUT_CASES: WeightCase[] = [
  { name: "3×3 padding 1", x: [2, 5, 13, 11], weight: [7, 5, 3, 3], geometry: { stride: [1, 1], padding: [1, 1] } },
  { name: "3×3 no padding", x: [2, 5, 10, 9], weight: [6, 5, 3, 3], geometry: { stride: [1, 1], padding: [0, 0] } },
  { name: "1×1", x: [3, 6, 9, 7], weight: [5, 6, 1, 1], geometry: { stride: [1, 1], padding: [0, 0] } },
  { name: "5×3 padding 2, 1", x: [2, 3, 8, 7], weight: [4, 3, 5, 3], geometry: { stride: [1, 1], padding: [2, 1] } },
];

for (const c of INPUT_CASES) {
  Deno.test(`conv2d input gradient, ${c.name}`, async () => {
    const [wHost, wGpu] = pair(c.weight, 11);
    const [dyHost, dyGpu] = pair(outputShape(c), 13);
    const expected = conv2dInputGrad(dyHost, wHost, c.x, c.geometry);
    const actual = conv2dInputGrad(dyGpu, wGpu, c.x, c.geometry);
    await assertClose(c.name, actual, expected);
    for (const t of [wGpu, dyGpu, actual]) t.release();
  });
}
