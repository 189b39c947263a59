/**
 * Super-resolution training on crops: the network receives the crop of x_t and the
 * same crop of the conditioning upsampled from the whole low-resolution image.
 */
import assert from "node:assert/strict";
import { Tensor } from "../../gpu/tensor.ts";
import { resizeBicubic } from "../../kernels/resize.ts";
import { Tape } from "../../train/autograd.ts";
import { drawSuperResolutionNoise, superResolutionStep } from "../../train/recipes/superres.ts";
import { randomValues } from "../kernels/helpers.ts";

const f32 = Math.fround;

Deno.test("crop corners are seeded draws inside the image", () => {
  const a = drawSuperResolutionNoise(3, 7, [0, 1, 2, 50], 16, 100, { size: 4, side: 10 });
  const b = drawSuperResolutionNoise(3, 7, [0, 1, 2, 50], 16, 100, { size: 4, side: 10 });
  assert.deepEqual(a.crops, b.crops);
  assert.equal(a.crops!.length, 4);
  for (const [top, left] of a.crops!) {
    assert.ok(top >= 0, `top ${top}`);
    assert.ok(top <= 6, `top ${top}`);
    assert.ok(left >= 0, `left ${left}`);
    assert.ok(left <= 6, `left ${left}`);
  }
  // Crops add a stream: eps and t are those of a run without crops.
  const whole = drawSuperResolutionNoise(3, 7, [0, 1, 2, 50], 16, 100);
  assert.deepEqual(whole.t, a.t);
  assert.deepEqual(whole.noise, a.noise);
  assert.equal(whole.crops, undefined);
});

Deno.test("the network input is the crop of x_t and of the upsampled conditioning", async () => {
  const [n, side, lowSide, size] = [2, 16, 4, 8];
  const high = Tensor.host([n, 1, side, side], randomValues(n * side * side, 1));
  const low = Tensor.host([n, 1, lowSide, lowSide], randomValues(n * lowSide * lowSide, 2));
  const draws = drawSuperResolutionNoise(0, 3, [5, 9], size * size, 10, { size, side });
  const sqrtA = Float32Array.from({ length: 10 }, (_, t) => f32(1 - t / 20));
  const sqrtB = Float32Array.from({ length: 10 }, (_, t) => f32(t / 20 + 0.1));
  let seen: Float32Array | undefined;
  const network = {
    forward(x: Tensor): Tensor {
      assert.deepEqual(x.shape, [n, 2, size, size]);
      seen = x.data.slice();
      return Tensor.host([n, 1, size, size], new Float32Array(n * size * size));
    },
  };
  const tape = new Tape();
  const { loss, grads } = await superResolutionStep(tape, network, high, low, draws, sqrtA, sqrtB);
  grads.release();
  tape.release();

  const upsampled = resizeBicubic(low, side, side).data;
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const [top, left] = draws.crops![i];
    const t = draws.t[i];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const source = (i * side + top + y) * side + left + x;
        const k = y * size + x;
        const eps = draws.noise[i * size * size + k];
        const xt = f32(f32(sqrtA[t] * high.data[source]) + f32(sqrtB[t] * eps));
        assert.equal(seen![(i * 2) * size * size + k], xt, `x_t of image ${i} at ${y}, ${x}`);
        assert.equal(seen![(i * 2 + 1) * size * size + k], upsampled[source], `conditioning of image ${i}`);
        squares += eps * eps;
      }
    }
  }
  // The mock predicts zeros, so the loss is the mean of eps².
  assert.ok(Math.abs(loss - squares / (n * size * size)) < 1e-6 * loss, `loss ${loss}`);
});
