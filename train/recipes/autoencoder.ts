/**
 * One autoencoder training step, as the reference's `AutoencoderKL` computes it
 * with `LPIPSWithDiscriminator` and its learned log-variance at the initial 0
 * (the reference's optimizers never update it): encode, take a posterior sample
 * z = mean + exp(½·logvar)·n, decode, and minimise
 *
 *   nll = Σ (|x − x̂| + w_p · LPIPS(x, x̂)) / batch       (sum over C, H, W)
 *   loss = nll + kl_weight · KL / batch + λ · g,   g = −mean(D(x̂)),
 *
 * where λ = disc_weight · ‖∇nll‖ / (‖∇g‖ + 1e-4), clamped to [0, 1e4], with both
 * gradients taken at decoder.conv_out.weight (the reference's adaptive weight).
 * The perceptual term is there when LPIPS weights are given. The adversarial
 * term is there from step `disc_start` on; from then the same step also yields
 * the discriminator's gradients from the hinge loss
 * ½·(mean(relu(1 − D(x))) + mean(relu(1 + D(x̂)))), with x̂ held fixed. The
 * reference recomputes x̂ with the updated autoencoder and a new posterior
 * sample for that second optimizer step; here the step's x̂ serves both.
 *
 * `reconstruction_loss: "l2"` replaces |x − x̂| with (x − x̂)², for a decoder
 * fine-tuned towards a lower MSE. With a frozen encoder (`train_encoder: false`) the posterior comes from outside
 * the tape, so only post_quant_conv and the decoder get gradients and the KL term
 * is reported but has none.
 */
import { Tensor } from "../../gpu/tensor.ts";
import { conv2dGeometry, conv2dWeightGrad } from "../../kernels/grad/conv.ts";
import { add, copy, mul } from "../../kernels/elementwise.ts";
import { normals, STAGE, STREAM } from "../../stages/noise/philox.ts";
import { Gradients, Tape } from "../autograd.ts";
import type { PatchDiscriminator } from "../discriminator.ts";
import { hingeLoss } from "../discriminator.ts";
import { klLoss, l1ReconstructionLoss, l2ReconstructionLoss } from "../losses.ts";
import type { Lpips } from "../lpips.ts";

const f32 = Math.fround;

export interface TrainableAutoencoder {
  encode(x: Tensor): { mean: Tensor; logvar: Tensor };
  /** Decodes z; `lastLayerInput` receives a view of decoder.conv_out's input (see Autoencoder.decode). */
  decode(z: Tensor, lastLayerInput?: (h: Tensor) => void): Tensor;
}

export interface AutoencoderStepResult {
  loss: number;
  reconstructionLoss: number;
  klLoss: number;
  /** The mean LPIPS distance, when the perceptual term is on. */
  perceptualLoss?: number;
  /** The generator's adversarial loss g, its adaptive weight λ and the discriminator's hinge loss, once they are on. */
  adversarial?: { generatorLoss: number; weight: number; discriminatorLoss: number };
  /** The autoencoder's gradients and, once the adversarial terms are on, the discriminator's. */
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
  /** The perceptual term: LPIPS and its weight w_p. */
  perceptual?: { lpips: Lpips; weight: number };
  /**
   * The adversarial terms, applied when `active` (step ≥ disc_start): the
   * discriminator (its parameters watched by nothing else), disc_weight, and the
   * decoder's last layer weight, where the adaptive weight compares gradients.
   */
  adversarial?: { discriminator: PatchDiscriminator; weight: number; active: boolean; lastLayer: Tensor };
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

  const adversarial = options.adversarial?.active ? options.adversarial : undefined;
  let lastLayerInput: Tensor | undefined;
  const reconstruction = tape.run(() =>
    model.decode(zTensor, adversarial ? (h) => lastLayerInput = h : undefined)
  );
  const reconstructionLoss = options.reconstructionLoss === "l2"
    ? l2ReconstructionLoss
    : l1ReconstructionLoss;
  const rec = reconstructionLoss(await reconstruction.read(), await images.read(), n);
  const kl = klLoss(mean, logvar, n, klWeight);

  // The perceptual distance is added to every pixel's term before the sum over C, H, W.
  let nll = rec.loss;
  const dNll = rec.grad;
  let perceptualLoss: number | undefined;
  if (options.perceptual) {
    const { perImage, grad } = await options.perceptual.lpips.distance(images, reconstruction);
    const pixels = reconstruction.size / n;
    const factor = (options.perceptual.weight * pixels) / n;
    const sum = perImage.reduce((a, d) => a + d, 0);
    nll = f32(nll + factor * sum);
    const values = await grad.read();
    grad.release();
    for (let i = 0; i < dNll.length; i++) dNll[i] += factor * values[i];
    perceptualLoss = f32(sum / n);
  }
  let dReconstruction = Tensor.from(images.gpu, reconstruction.shape, dNll);

  let loss = f32(nll + kl.loss);
  let adversarialResult: AutoencoderStepResult["adversarial"];
  let discriminatorGrads: Gradients | undefined;
  if (adversarial) {
    const { discriminator } = adversarial;
    const generator = await generatorGradient(discriminator, reconstruction);
    const weight = adversarial.weight *
      await adaptiveWeight(lastLayerInput!, adversarial.lastLayer, dReconstruction, generator.grad);
    lastLayerInput!.release();
    const combined = add(dReconstruction, generator.grad, 1, weight);
    dReconstruction.release();
    generator.grad.release();
    dReconstruction = combined;
    loss = f32(loss + weight * generator.loss);
    const critic = await discriminatorStep(discriminator, images, reconstruction);
    discriminatorGrads = critic.grads;
    adversarialResult = { generatorLoss: generator.loss, weight, discriminatorLoss: critic.loss };
  }

  const seeds: [Tensor, Tensor][] = [[reconstruction, dReconstruction]];
  if (!frozenEncoder) {
    seeds.push(
      [posterior.mean, Tensor.from(images.gpu, posterior.mean.shape, kl.dMean)],
      [posterior.logvar, Tensor.from(images.gpu, posterior.logvar.shape, kl.dLogvar)],
    );
  }
  const autoencoderGrads = tape.backwardMany(seeds);
  const grads = discriminatorGrads ? Gradients.merge(autoencoderGrads, discriminatorGrads) : autoencoderGrads;
  for (const [, seed] of seeds) seed.release();
  // The tape keeps its own views of these until it is released.
  slopeTensor.release();
  zTensor.release();
  reconstruction.release();
  posterior.mean.release();
  posterior.logvar.release();
  return {
    loss,
    reconstructionLoss: rec.loss,
    klLoss: kl.loss,
    perceptualLoss,
    adversarial: adversarialResult,
    grads,
  };
}

/** g = −mean(D(x̂)) and its gradient with respect to x̂ (the discriminator's parameters get none). */
async function generatorGradient(
  discriminator: PatchDiscriminator,
  reconstruction: Tensor,
): Promise<{ loss: number; grad: Tensor }> {
  const tape = new Tape();
  tape.watch(reconstruction);
  const logits = tape.run(() => discriminator.forward(reconstruction));
  const values = await logits.read();
  const loss = f32(-values.reduce((a, v) => a + v, 0) / values.length);
  const seed = Tensor.from(
    reconstruction.gpu,
    logits.shape,
    new Float32Array(values.length).fill(-1 / values.length),
  );
  const grads = tape.backward(logits, seed);
  const view = grads.get(reconstruction)!;
  const grad = view.reshape(view.shape);
  view.release();
  grads.release();
  seed.release();
  logits.release();
  tape.release();
  return { loss, grad };
}

/**
 * Computes the reference's adaptive weight ‖∇_W nll‖ / (‖∇_W g‖ + 1e-4), clamped to
 * [0, 1e4], where W is the decoder's last convolution weight. Each gradient is
 * that convolution's weight gradient for its input h and the loss's gradient at x̂.
 */
export async function adaptiveWeight(
  h: Tensor,
  lastLayer: Tensor,
  dNll: Tensor,
  dGenerator: Tensor,
): Promise<number> {
  const geometry = conv2dGeometry({ padding: (lastLayer.shape[2] - 1) / 2 });
  const norm = async (dy: Tensor): Promise<number> => {
    const g = conv2dWeightGrad(h, dy, lastLayer.shape, geometry);
    const values = await g.read();
    g.release();
    let squares = 0;
    for (const v of values) squares += v * v;
    return Math.sqrt(squares);
  };
  return Math.min(Math.max((await norm(dNll)) / ((await norm(dGenerator)) + 1e-4), 0), 1e4);
}

/**
 * Computes the discriminator's hinge loss on the real images and the (fixed) reconstructions,
 * each through its own forward pass as in the reference, and the gradients of the
 * discriminator's parameters.
 */
async function discriminatorStep(
  discriminator: PatchDiscriminator,
  images: Tensor,
  reconstruction: Tensor,
): Promise<{ loss: number; grads: Gradients }> {
  const tape = new Tape();
  tape.watch(...discriminator.weights.tensors.values());
  const real = tape.run(() => discriminator.forward(images));
  const fake = tape.run(() => discriminator.forward(reconstruction));
  const hinge = hingeLoss(await real.read(), await fake.read());
  const seeds: [Tensor, Tensor][] = [
    [real, Tensor.from(images.gpu, real.shape, hinge.dReal)],
    [fake, Tensor.from(images.gpu, fake.shape, hinge.dFake)],
  ];
  const grads = tape.backwardMany(seeds);
  for (const [logits, seed] of seeds) {
    logits.release();
    seed.release();
  }
  // The gradients outlive the tape: they are new tensors, not views it keeps.
  tape.release();
  return { loss: hinge.loss, grads };
}
