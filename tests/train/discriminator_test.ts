/**
 * The patch discriminator against a plain float64 implementation written here,
 * its parameter names against the reference checkpoint's, and the hinge loss.
 */
import assert from "node:assert/strict";
import { getGpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import type { HostTensor } from "../../io/safetensors.ts";
import { readModelFile } from "../../stages/load.ts";
import {
  DISCRIMINATOR_PREFIX,
  type DiscriminatorConfig,
  discriminatorParameters,
  hingeLoss,
  initialDiscriminatorWeights,
  PatchDiscriminator,
} from "../../train/discriminator.ts";
import { randomValues } from "../kernels/helpers.ts";
import { kitTest, referencePath } from "../kit.ts";

/** Computes the discriminator by definition: 4×4 convolutions with padding 1, batch-statistics BatchNorm, LeakyReLU(0.2). */
function plainDiscriminator(
  config: DiscriminatorConfig,
  weights: Map<string, HostTensor>,
  x: Float32Array,
  shape: number[],
): { values: Float64Array; shape: number[] } {
  let [n, channels, side] = [shape[0], shape[1], shape[2]];
  let h = Float64Array.from(x);
  const indices = [0, ...Array.from({ length: config.layers }, (_, i) => 2 + 3 * i), 2 + 3 * config.layers];
  for (const [layer, index] of indices.entries()) {
    const w = weights.get(`main.${index}.weight`)!;
    const bias = weights.get(`main.${index}.bias`);
    const stride = layer === 0 || layer < config.layers ? 2 : 1;
    const out = w.shape[0];
    const outSide = Math.floor((side + 2 - 4) / stride) + 1;
    const y = new Float64Array(n * out * outSide * outSide);
    for (let i = 0; i < n; i++) {
      for (let o = 0; o < out; o++) {
        for (let oy = 0; oy < outSide; oy++) {
          for (let ox = 0; ox < outSide; ox++) {
            let sum = bias ? Number((bias.data as Float32Array)[o]) : 0;
            for (let c = 0; c < channels; c++) {
              for (let ky = 0; ky < 4; ky++) {
                for (let kx = 0; kx < 4; kx++) {
                  const yy = oy * stride + ky - 1, xx = ox * stride + kx - 1;
                  if (yy < 0 || yy >= side || xx < 0 || xx >= side) continue;
                  sum += Number((w.data as Float32Array)[((o * channels + c) * 4 + ky) * 4 + kx]) *
                    h[((i * channels + c) * side + yy) * side + xx];
                }
              }
            }
            y[((i * out + o) * outSide + oy) * outSide + ox] = sum;
          }
        }
      }
    }
    [h, channels, side] = [y, out, outSide];
    if (layer === indices.length - 1) break;
    if (!bias) {
      const gamma = weights.get(`main.${index + 1}.weight`)!.data as Float32Array;
      const beta = weights.get(`main.${index + 1}.bias`)!.data as Float32Array;
      const count = n * side * side;
      for (let c = 0; c < channels; c++) {
        let mean = 0, variance = 0;
        for (let i = 0; i < n; i++) {
          for (let p = 0; p < side * side; p++) mean += h[(i * channels + c) * side * side + p];
        }
        mean /= count;
        for (let i = 0; i < n; i++) {
          for (let p = 0; p < side * side; p++) {
            variance += (h[(i * channels + c) * side * side + p] - mean) ** 2;
          }
        }
        variance /= count;
        for (let i = 0; i < n; i++) {
          for (let p = 0; p < side * side; p++) {
            const at = (i * channels + c) * side * side + p;
            h[at] = ((h[at] - mean) / Math.sqrt(variance + 1e-5)) * Number(gamma[c]) + Number(beta[c]);
          }
        }
      }
    }
    for (let k = 0; k < h.length; k++) if (h[k] < 0) h[k] *= 0.2;
  }
  return { values: h, shape: [n, 1, side, side] };
}

Deno.test("the patch discriminator on the GPU matches its definition computed plainly", async () => {
  const gpu = await getGpu();
  const config = { inChannels: 3, ndf: 4, layers: 2 };
  const host = initialDiscriminatorWeights(config, 5);
  // Larger weights than the initialisation's, so every layer moves the logits.
  for (const [name, t] of host) {
    if (name.endsWith(".weight") && t.shape.length === 4) {
      t.data = (t.data as Float32Array).map((v) => v * 10);
    }
  }
  const shape = [2, 3, 16, 16];
  const x = randomValues(2 * 3 * 16 * 16, 9);
  const discriminator = PatchDiscriminator.upload(gpu, config, host);
  const logits = discriminator.forward(Tensor.from(gpu, shape, x));
  const expected = plainDiscriminator(config, host, x, shape);
  assert.deepEqual(logits.shape, expected.shape);
  const actual = await logits.read();
  const scale = Math.max(...expected.values.map(Math.abs));
  for (let i = 0; i < actual.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected.values[i]) <= 1e-4 * scale,
      `logit ${i}: ${actual[i]} against ${expected.values[i]}`,
    );
  }
  discriminator.weights.release();
});

Deno.test("fresh discriminator weights follow taming's initialisation", () => {
  const host = initialDiscriminatorWeights({ inChannels: 3, ndf: 8, layers: 3 }, 1);
  const stats = (name: string) => {
    const data = Array.from(host.get(name)!.data as Float32Array);
    const mean = data.reduce((a, v) => a + v, 0) / data.length;
    return { mean, std: Math.sqrt(data.reduce((a, v) => a + (v - mean) ** 2, 0) / data.length) };
  };
  const conv = stats("main.5.weight");
  assert.ok(Math.abs(conv.mean) < 0.002, `conv weights ${JSON.stringify(conv)}`);
  assert.ok(Math.abs(conv.std - 0.02) < 0.002, `conv weights ${JSON.stringify(conv)}`);
  const norm = stats("main.6.weight");
  assert.ok(Math.abs(norm.mean - 1) < 0.01, `BatchNorm weights ${JSON.stringify(norm)}`);
  assert.ok(norm.std < 0.04, `BatchNorm weights ${JSON.stringify(norm)}`);
  assert.ok(
    (host.get("main.6.bias")!.data as Float32Array).every((v) => v === 0),
    "BatchNorm biases start at 0",
  );
});

Deno.test("the hinge loss and its gradients", () => {
  const real = Float32Array.of(2, 0.5), fake = Float32Array.of(-3, 0);
  const { loss, dReal, dFake } = hingeLoss(real, fake);
  // relu(1 − real) = [0, 0.5], relu(1 + fake) = [0, 1]: ½ · (0.25 + 0.5).
  assert.equal(loss, 0.375);
  assert.deepEqual(Array.from(dReal), [0, -0.25]);
  assert.deepEqual(Array.from(dFake), [0, 0.25]);
});

kitTest(
  "the discriminator's parameters are named and shaped as in the reference checkpoint",
  [referencePath("ae.pt")],
  async () => {
    const file = await readModelFile(referencePath("ae.pt"));
    const inFile = [...file.state].filter(([key]) =>
      key.startsWith(DISCRIMINATOR_PREFIX) && !/running_|num_batches_tracked/.test(key)
    ).map(([key, t]) => [key.slice(DISCRIMINATOR_PREFIX.length), t.shape]);
    // The reference kit built the discriminator with ndf 8 (the released one has 64).
    const ours = [...discriminatorParameters({ inChannels: 3, ndf: 8, layers: 3 })];
    assert.deepEqual(ours, inFile);
  },
);
