/**
 * Optimizer pieces beyond the reference step: Adam with L2 weight decay and
 * several steps of bias correction, gradient-norm clipping, learning-rate
 * warm-up, and the EMA without warm-up.
 */
import assert from "node:assert/strict";
import { Tensor } from "../../gpu/tensor.ts";
import { Ema } from "../../train/ema.ts";
import { adam, clipGradNorm, milestoneLr, ParameterStore, warmupLr } from "../../train/optim.ts";

Deno.test("adam matches the update formula over three steps", async () => {
  const p = Tensor.host([3], Float32Array.of(0.5, -1, 2));
  const store = await ParameterStore.from(new Map([["p", p]]));
  const optimizer = adam(store, { lr: 0.1, betas: [0.5, 0.9], weightDecay: 0.1 });
  const grads = [Float32Array.of(1, -2, 0.5), Float32Array.of(0.3, 0.1, -1), Float32Array.of(-0.2, 0.4, 0)];

  // The same update in float64, as written in the Adam paper with L2 weight decay added to the gradient.
  const expected = [0.5, -1, 2];
  const m = [0, 0, 0], v = [0, 0, 0];
  for (const [t, g] of grads.entries()) {
    optimizer.apply(new Map([["p", g.slice()]]));
    for (let i = 0; i < 3; i++) {
      const grad = g[i] + 0.1 * expected[i];
      m[i] = 0.5 * m[i] + 0.5 * grad;
      v[i] = 0.9 * v[i] + 0.1 * grad * grad;
      const mHat = m[i] / (1 - 0.5 ** (t + 1));
      const vHat = v[i] / (1 - 0.9 ** (t + 1));
      expected[i] -= (0.1 * mHat) / (Math.sqrt(vHat) + 1e-8);
    }
  }
  for (let i = 0; i < 3; i++) {
    assert.ok(Math.abs(p.data[i] - expected[i]) < 1e-6, `element ${i}: ${p.data[i]} vs ${expected[i]}`);
  }
  assert.equal(optimizer.step, 3);
});

Deno.test("clipGradNorm scales only above the maximum", () => {
  const grads = new Map([["a", Float32Array.of(3, 0)], ["b", Float32Array.of(0, 4)]]);
  assert.equal(clipGradNorm(grads, 10), 5);
  assert.deepEqual([...grads.get("a")!], [3, 0], "a norm below the maximum is left alone");
  assert.equal(clipGradNorm(grads, 1), 5);
  const norm = Math.hypot(grads.get("a")![0], grads.get("b")![1]);
  assert.ok(Math.abs(norm - 1) < 1e-6, `clipped norm ${norm}`);
});

Deno.test("warmupLr rises linearly to the learning rate", () => {
  assert.equal(warmupLr(1e-3, 0, 4), 2.5e-4);
  assert.equal(warmupLr(1e-3, 3, 4), 1e-3);
  assert.equal(warmupLr(1e-3, 10, 4), 1e-3);
  assert.equal(warmupLr(1e-3, 0, 0), 1e-3);
});

Deno.test("milestoneLr scales by gamma at each milestone", () => {
  assert.equal(milestoneLr(1e-3, 399, [400, 800], 0.25), 1e-3);
  assert.equal(milestoneLr(1e-3, 400, [400, 800], 0.25), 2.5e-4);
  assert.equal(milestoneLr(1e-3, 799, [400, 800], 0.25), 2.5e-4);
  assert.equal(milestoneLr(1e-3, 800, [400, 800], 0.25), 6.25e-5);
  assert.equal(milestoneLr(1e-3, 5, [], 0.25), 1e-3);
});

Deno.test("EMA with warm-up off uses the decay ceiling", () => {
  const ema = new Ema(new Map([["p", Float32Array.of(1)]]), 0.5, -1);
  assert.equal(ema.update(new Map([["p", Float32Array.of(3)]])), 0.5);
  assert.equal(ema.numUpdates, -1);
  assert.deepEqual([...ema.shadows.get("p")!], [2]);
  const warm = new Ema(new Map([["p", Float32Array.of(1)]]), 0.9999, 0);
  assert.equal(
    warm.update(new Map([["p", Float32Array.of(3)]])),
    Math.fround(2 / 11),
    "n = 1 after the increment",
  );
});
