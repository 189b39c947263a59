import assert from "node:assert/strict";
import { Tensor } from "../../gpu/tensor.ts";
import { adaptiveAvgPool2d, avgPool2d, maxPool2d } from "../../kernels/pool.ts";
import { assertClose, randomPair } from "./helpers.ts";

Deno.test("max pool matches the reference on the GPU", async () => {
  // 2·3 planes of 37×29: the output sizes are not multiples of the workgroup size.
  const [x, gx] = await randomPair([2, 3, 37, 29], 1);
  for (
    const options of [{ kernel: 3, stride: 2 }, { kernel: 3, stride: 1, padding: 1 }, {
      kernel: [2, 3] as [number, number],
    }]
  ) {
    const expected = maxPool2d(x, options);
    const actual = maxPool2d(gx, options);
    assert.deepEqual(actual.shape, expected.shape);
    assertClose(await actual.read(), expected.data, 0, `maxPool2d ${JSON.stringify(options)}`);
  }
});

Deno.test("avg pool matches the reference with and without padding counted", async () => {
  const [x, gx] = await randomPair([1, 5, 23, 19], 2);
  for (const countIncludePad of [false, true]) {
    const options = { kernel: 3, stride: 1, padding: 1, countIncludePad };
    assertClose(
      await avgPool2d(gx, options).read(),
      avgPool2d(x, options).data,
      1e-6,
      `avgPool2d ${countIncludePad}`,
    );
  }
  const strided = { kernel: 3, stride: 2 };
  assertClose(await avgPool2d(gx, strided).read(), avgPool2d(x, strided).data, 1e-6, "avgPool2d stride 2");
});

Deno.test("adaptive avg pool matches the reference on uneven bins", async () => {
  const [x, gx] = await randomPair([2, 3, 17, 13], 3);
  for (const [oh, ow] of [[1, 1], [8, 8], [5, 4]]) {
    const expected = adaptiveAvgPool2d(x, oh, ow);
    assert.deepEqual(expected.shape, [2, 3, oh, ow]);
    assertClose(
      await adaptiveAvgPool2d(gx, oh, ow).read(),
      expected.data,
      1e-6,
      `adaptiveAvgPool2d ${oh}×${ow}`,
    );
  }
});

Deno.test("pool references give known values on a 4×4 ramp", () => {
  const x = Tensor.host([1, 1, 4, 4], Float32Array.from({ length: 16 }, (_, i) => i));
  assert.deepEqual(Array.from(maxPool2d(x, { kernel: 2 }).data), [5, 7, 13, 15]);
  assert.deepEqual(Array.from(avgPool2d(x, { kernel: 2 }).data), [2.5, 4.5, 10.5, 12.5]);
  // Corner window with padding 1 covers 4 image pixels (0, 1, 4, 5) of 9 positions.
  const excluded = avgPool2d(x, { kernel: 3, stride: 1, padding: 1, countIncludePad: false }).data;
  const included = avgPool2d(x, { kernel: 3, stride: 1, padding: 1, countIncludePad: true }).data;
  assert.equal(excluded[0], 10 / 4);
  assert.equal(included[0], Math.fround(10 / 9));
  assert.deepEqual(Array.from(adaptiveAvgPool2d(x, 1, 1).data), [7.5]);
  // 3 bins over 4 rows overlap: rows 0–1, 1–2, 2–3.
  assert.deepEqual(Array.from(adaptiveAvgPool2d(x, 3, 1).data), [3.5, 7.5, 11.5]);
});

Deno.test("pool rejects windows that do not fit", () => {
  const x = Tensor.host([1, 1, 2, 2]);
  assert.throws(() => maxPool2d(x, { kernel: 3 }), /does not fit/);
  assert.throws(() => avgPool2d(x, { kernel: 2, padding: 2 }), /at most half the kernel/);
  assert.throws(() => adaptiveAvgPool2d(x, 0, 1), /positive integer/);
});
