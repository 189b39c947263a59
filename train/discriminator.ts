/**
 * The autoencoder's patch discriminator: taming-transformers'
 * `NLayerDiscriminator` (a PatchGAN), which `LPIPSWithDiscriminator` trains
 * against the decoder. A 4×4 stride-2 convolution and LeakyReLU(0.2), then
 * `layers − 1` blocks of 4×4 stride-2 convolution (no bias), BatchNorm and
 * LeakyReLU, one such block with stride 1, and a 4×4 stride-1 convolution to one
 * logit per patch. Widths double from `ndf` up to 8·ndf.
 *
 * BatchNorm always uses the batch's statistics, as in training; its running
 * statistics are not kept, because nothing in training reads them.
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import type { HostTensor } from "../io/safetensors.ts";
import { Weights } from "../stages/weights.ts";
import { batchNorm, conv2d, leakyRelu } from "./ops.ts";
import { standardNormal, uniformStream } from "./random.ts";

/** Key prefix of the discriminator in the reference's autoencoder checkpoints. */
export const DISCRIMINATOR_PREFIX = "loss.discriminator.";

export interface DiscriminatorConfig {
  inChannels: number;
  /** Width of the first convolution (the reference's 64). */
  ndf: number;
  /** Stride-2 convolutions (the reference's 3). */
  layers: number;
}

interface Layer {
  /** Index in the reference's `main` Sequential. */
  index: number;
  cin: number;
  cout: number;
  stride: number;
  /** Index of the BatchNorm that follows (none for the first and last convolutions). */
  norm?: number;
}

function layersOf(config: DiscriminatorConfig): Layer[] {
  const { inChannels, ndf, layers } = config;
  const width = (n: number) => ndf * Math.min(2 ** n, 8);
  const out: Layer[] = [{ index: 0, cin: inChannels, cout: ndf, stride: 2 }];
  for (let n = 1; n <= layers; n++) {
    const index = 2 + 3 * (n - 1);
    out.push({ index, cin: width(n - 1), cout: width(n), stride: n < layers ? 2 : 1, norm: index + 1 });
  }
  out.push({ index: 2 + 3 * layers, cin: width(layers), cout: 1, stride: 1 });
  return out;
}

/** Returns the smallest image side that leaves the discriminator at least one patch logit. */
export function discriminatorMinSize(layers: number): number {
  for (let side = 1;; side++) {
    // conv k4 s2 p1 halves (floor) the side; the stride-1 block and the last conv each take one off.
    let s = side;
    for (let n = 0; n < layers; n++) s = Math.floor((s + 2 - 4) / 2) + 1;
    if (s - 2 >= 1) return side;
  }
}

/** Lists the parameter shapes by name (without the checkpoint prefix), in the reference's order. */
export function discriminatorParameters(config: DiscriminatorConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const layer of layersOf(config)) {
    shapes.set(`main.${layer.index}.weight`, [layer.cout, layer.cin, 4, 4]);
    if (layer.norm === undefined) {
      shapes.set(`main.${layer.index}.bias`, [layer.cout]);
    } else {
      shapes.set(`main.${layer.norm}.weight`, [layer.cout]);
      shapes.set(`main.${layer.norm}.bias`, [layer.cout]);
    }
  }
  return shapes;
}

/**
 * Draws fresh weights as taming initialises the discriminator: convolution weights
 * N(0, 0.02), BatchNorm weights N(1, 0.02) and biases 0, and the two convolution
 * biases PyTorch's default, uniform in ±1/√fan_in (a seeded mulberry32 stream).
 */
export function initialDiscriminatorWeights(
  config: DiscriminatorConfig,
  seed: number,
): Map<string, HostTensor> {
  const random = uniformStream(seed);
  const normal = () => standardNormal(random);
  const out = new Map<string, HostTensor>();
  const convIndices = new Set(layersOf(config).map((l) => `main.${l.index}`));
  const fanIn = new Map(layersOf(config).map((l) => [`main.${l.index}`, l.cin * 16]));
  for (const [name, shape] of discriminatorParameters(config)) {
    const module = name.slice(0, name.lastIndexOf("."));
    const data = new Float32Array(shape.reduce((a, d) => a * d, 1));
    const isWeight = name.endsWith(".weight");
    for (let i = 0; i < data.length; i++) {
      if (convIndices.has(module)) {
        data[i] = isWeight ? 0.02 * normal() : (2 * random() - 1) / Math.sqrt(fanIn.get(module)!);
      } else {
        data[i] = isWeight ? 1 + 0.02 * normal() : 0;
      }
    }
    out.set(name, { dtype: "F32", shape, data });
  }
  return out;
}

export class PatchDiscriminator {
  private readonly layers: Layer[];

  constructor(readonly config: DiscriminatorConfig, readonly weights: Weights) {
    this.layers = layersOf(config);
  }

  static upload(
    gpu: Gpu | undefined,
    config: DiscriminatorConfig,
    host: Map<string, HostTensor>,
  ): PatchDiscriminator {
    return new PatchDiscriminator(config, Weights.upload(gpu, host));
  }

  /** Scores images [N, in_channels, H, W] in [-1, 1] with one logit per patch: [N, 1, h, w]. */
  forward(x: Tensor): Tensor {
    let h = x;
    for (const [i, layer] of this.layers.entries()) {
      const last = i === this.layers.length - 1;
      const w = this.weights.get(`main.${layer.index}.weight`);
      const b = layer.norm === undefined ? this.weights.get(`main.${layer.index}.bias`) : undefined;
      let y = conv2d(h, w, b, { stride: layer.stride, padding: 1 });
      if (h !== x) h.release();
      if (last) return y;
      if (layer.norm !== undefined) {
        const normalised = batchNorm(
          y,
          this.weights.get(`main.${layer.norm}.weight`),
          this.weights.get(`main.${layer.norm}.bias`),
          1e-5,
        );
        y.release();
        y = normalised;
      }
      h = leakyRelu(y, 0.2);
      y.release();
    }
    throw new Error("PatchDiscriminator: no layers");
  }
}

/**
 * Computes the discriminator's hinge loss, ½·(mean(relu(1 − real)) + mean(relu(1 + fake))),
 * with its gradients with respect to both logit maps.
 */
export function hingeLoss(
  real: Float32Array,
  fake: Float32Array,
): { loss: number; dReal: Float32Array; dFake: Float32Array } {
  let sumReal = 0, sumFake = 0;
  const dReal = new Float32Array(real.length), dFake = new Float32Array(fake.length);
  for (let i = 0; i < real.length; i++) {
    if (1 - real[i] > 0) {
      sumReal += 1 - real[i];
      dReal[i] = -0.5 / real.length;
    }
  }
  for (let i = 0; i < fake.length; i++) {
    if (1 + fake[i] > 0) {
      sumFake += 1 + fake[i];
      dFake[i] = 0.5 / fake.length;
    }
  }
  return { loss: Math.fround(0.5 * (sumReal / real.length + sumFake / fake.length)), dReal, dFake };
}
