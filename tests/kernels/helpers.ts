/**
 * Helpers for kernel tests: seeded random tensors and a scale-relative comparison
 * (max |actual − expected| ≤ tolerance · max |expected|).
 */
import { getGpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import type { Shape } from "../../gpu/tensor.ts";

/** Deterministic pseudo-random values in [-1, 1) from a 32-bit LCG (test data only). */
export function randomValues(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

/** A host tensor and a GPU copy of the same random values. */
export async function randomPair(shape: Shape, seed: number): Promise<[Tensor, Tensor]> {
  const gpu = await getGpu();
  const host = Tensor.host(shape, randomValues(shape.reduce((a, b) => a * b, 1), seed));
  return [host, Tensor.from(gpu, shape, host.data)];
}

/** Largest absolute difference divided by the largest absolute expected value. */
export function relativeError(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let diff = 0, scale = 0;
  for (let i = 0; i < actual.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  if (Number.isNaN(diff)) return Infinity;
  return scale === 0 ? diff : diff / scale;
}

/** Throws unless actual matches expected within `tolerance` of scale. */
export function assertClose(actual: Float32Array, expected: Float32Array, tolerance: number, what = "tensor"): void {
  const error = relativeError(actual, expected);
  if (!(error <= tolerance)) {
    throw new Error(`${what}: error ${error.toExponential(3)} of scale exceeds ${tolerance}`);
  }
}
