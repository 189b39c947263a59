/**
 * Random weights for timing full-size networks without their files: every
 * parameter of a ParameterList filled with small seeded values (norm weights 1,
 * biases and everything else uniform in ±1/√fan-in), uploaded to the GPU.
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import type { ParameterList } from "../stages/weights.ts";
import { Weights } from "../stages/weights.ts";

export function randomWeights(gpu: Gpu, list: ParameterList, seed: number): Weights {
  const tensors = new Map<string, Tensor>();
  let state = seed >>> 0;
  for (const [name, shape] of list.shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length > 1 ? size / shape[0] : shape[0];
    const scale = 1 / Math.sqrt(Math.max(fanIn, 1));
    const data = new Float32Array(size);
    const isNormWeight = shape.length === 1 && /norm.*\.weight$/.test(name);
    for (let i = 0; i < size; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      data[i] = isNormWeight ? 1 : (state / 2 ** 31 - 1) * scale;
    }
    tensors.set(name, Tensor.from(gpu, shape, data));
  }
  return new Weights(tensors, gpu);
}
