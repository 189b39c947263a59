/**
 * One autoencoder training step, as the reference's `AutoencoderKL` with
 * `LPIPSWithDiscriminator` computes its generator loss when the perceptual and
 * adversarial weights are 0 and the learned log-variance is at its initial 0:
 * encode, take a posterior sample z = mean + exp(½·logvar)·n, decode, and
 * minimise Σ|x − x̂| / batch + kl_weight · KL / batch.
 *
 * `reconstruction_loss: "l2"` replaces Σ|x − x̂| with Σ(x − x̂)², for a decoder
 * fine-tuned towards a lower MSE. With a frozen encoder (`train_encoder: false`) the posterior comes from outside
 * the tape, so only post_quant_conv and the decoder get gradients and the KL term
 * is reported but has none.
 *
 * NOTE: the perceptual (LPIPS) and patch-adversarial terms are not implemented:
 * LPIPS needs VGG16 weights that this project does not ship.
 */
import { Tensor } from "../../gpu/tensor.ts";
import { copy, mul } from "../../kernels/elementwise.ts";
import { normals, STAGE, STREAM } from "../../stages/noise/philox.ts";
import type { Gradients, Tape } from "../autograd.ts";
import { klLoss, l1ReconstructionLoss, l2ReconstructionLoss } from "../losses.ts";

const f32 = Math.fround;

export interface TrainableAutoencoder {
  encode(x: Tensor): { mean: Tensor; logvar: Tensor };
  decode(z: Tensor): Tensor;
}

export interface AutoencoderStepResult {
  loss: number;
  reconstructionLoss: number;
  klLoss: number;
  grads: Gradients;
}

/** Draws the posterior-sample normals: key seed + the image's index in the run, slot = step, stream 3, stage 2. */
export function drawPosteriorNoise(
  seed: number,
  step: number,
  imageIndices: readonly number[],
  latentSize: number,
): Float32Array {
  const out = new Float32Array(imageIndices.length * latentSize);
  for (const [i, index] of imageIndices.entries()) {
    const address = { slot: step, stream: STREAM.posterior, stage: STAGE.autoencoder };
    out.set(normals(BigInt(seed) + BigInt(index), latentSize, address), i * latentSize);
  }
  return out;
}

/** Settings of one autoencoder step. */
export interface AutoencoderStepOptions {
  klWeight: number;
  /** The reconstruction term: "l1" (the reference's, default) or "l2". */
  reconstructionLoss?: "l1" | "l2";
  /** Supplies the posterior instead of the model's recorded encoder (it may read cached posteriors). */
  frozenEncoder?: Pick<TrainableAutoencoder, "encode">;
}

/**
 * Runs one step on `tape` (the caller watches the parameters) for images in
 * [-1, 1]; `noise(latentSize)` returns the batch's posterior-sample normals.
 */
export async function autoencoderStep(
  tape: Tape,
  model: TrainableAutoencoder,
  images: Tensor,
  noise: (latentSize: number) => Float32Array,
  options: AutoencoderStepOptions,
): Promise<AutoencoderStepResult> {
  const { klWeight, frozenEncoder } = options;
  const n = images.shape[0];
  const posterior = frozenEncoder ? frozenEncoder.encode(images) : tape.run(() => model.encode(images));
  const mean = await posterior.mean.read();
  const logvar = await posterior.logvar.read();
  const draws = noise(mean.length / n);

  // z = mean + std·n, recorded as one op: dz/dmean = 1, dz/dlogvar = ½·std·n.
  const z = new Float32Array(mean.length);
  const slope = new Float32Array(mean.length);
  for (let i = 0; i < mean.length; i++) {
    const std = f32(Math.exp(f32(0.5 * logvar[i])));
    z[i] = f32(mean[i] + f32(std * draws[i]));
    slope[i] = 0.5 * std * draws[i];
  }
  const zTensor = Tensor.from(images.gpu, posterior.mean.shape, z);
  const slopeTensor = Tensor.from(images.gpu, posterior.mean.shape, slope);
  if (!frozenEncoder) {
    tape.record("posteriorSample", zTensor, [posterior.mean, posterior.logvar], (dz, needs) => [
      needs[0] ? copy(dz) : undefined,
      needs[1] ? mul(dz, slopeTensor) : undefined,
    ]);
  }

  const reconstruction = tape.run(() => model.decode(zTensor));
  const reconstructionLoss = options.reconstructionLoss === "l2"
    ? l2ReconstructionLoss
    : l1ReconstructionLoss;
  const rec = reconstructionLoss(await reconstruction.read(), await images.read(), n);
  const kl = klLoss(mean, logvar, n, klWeight);
  const seeds: [Tensor, Tensor][] = [[
    reconstruction,
    Tensor.from(images.gpu, reconstruction.shape, rec.grad),
  ]];
  if (!frozenEncoder) {
    seeds.push(
      [posterior.mean, Tensor.from(images.gpu, posterior.mean.shape, kl.dMean)],
      [posterior.logvar, Tensor.from(images.gpu, posterior.logvar.shape, kl.dLogvar)],
    );
  }
  const grads = tape.backwardMany(seeds);
  for (const [, seed] of seeds) seed.release();
  // The tape keeps its own views of these until it is released.
  slopeTensor.release();
  zTensor.release();
  reconstruction.release();
  posterior.mean.release();
  posterior.logvar.release();
  return { loss: f32(rec.loss + kl.loss), reconstructionLoss: rec.loss, klLoss: kl.loss, grads };
}
