/** The autoencoder's reconstruction losses: values by hand and gradients by finite differences. */
import assert from "node:assert/strict";
import { l1ReconstructionLoss, l2ReconstructionLoss } from "../../train/losses.ts";

const reconstruction = Float32Array.of(0.5, -0.25, 1, 0);
const input = Float32Array.of(0, 0.25, 0.5, -1);

Deno.test("l2 reconstruction loss sums squares per image", () => {
  // Differences 0.5, −0.5, 0.5, 1 over a batch of 2: (0.25 + 0.25 + 0.25 + 1) / 2.
  assert.equal(l2ReconstructionLoss(reconstruction, input, 2).loss, 0.875);
  assert.equal(l1ReconstructionLoss(reconstruction, input, 2).loss, 1.25);
});

Deno.test("l2 reconstruction gradient matches finite differences", () => {
  const { grad } = l2ReconstructionLoss(reconstruction, input, 2);
  const h = 1e-3;
  for (let i = 0; i < reconstruction.length; i++) {
    const up = Float32Array.from(reconstruction), down = Float32Array.from(reconstruction);
    up[i] += h;
    down[i] -= h;
    const slope = (l2ReconstructionLoss(up, input, 2).loss - l2ReconstructionLoss(down, input, 2).loss) /
      (2 * h);
    assert.ok(Math.abs(slope - grad[i]) < 1e-3, `element ${i}: ${grad[i]} against ${slope}`);
  }
});

Deno.test("reconstruction losses reject mismatched lengths", () => {
  assert.throws(
    () => l2ReconstructionLoss(reconstruction, Float32Array.of(1), 1),
    /l2ReconstructionLoss: 4 predictions for 1 targets/,
  );
});
