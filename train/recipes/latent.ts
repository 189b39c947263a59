/**
 * One latent-diffusion training step, as the reference's `LatentDiffusion`
 * computes it (parameterization eps, l2 loss, no learned log-variance, VLB
 * weight 0): encode the images with the frozen autoencoder, take a posterior
 * sample times scale_factor as x0, draw t uniformly from 0 … T−1 and noise eps,
 * form x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·eps, and regress the U-Net's output on eps with
 * the plain mean of squared errors. With reports, the text encoder's context
 * conditions the U-Net and is trained jointly.
 */
import { Tensor } from "../../gpu/tensor.ts";
import { normals, STAGE, STREAM, uniformInts } from "../../stages/noise/philox.ts";
import type { Gradients, Tape } from "../autograd.ts";
import { mseLoss } from "../losses.ts";

const f32 = Math.fround;

/** The frozen first stage: its posterior over latents. */
export interface LatentEncoder {
  encode(x: Tensor): { mean: Tensor; logvar: Tensor };
}

export interface EpsNetwork {
  eps(x: Tensor, t: readonly number[], context?: Tensor): Tensor;
}

export interface ContextEncoder {
  context(ids: Int32Array, n: number): Tensor;
}

/** The random draws of one step: per-element normals for the posterior sample and eps, and the timesteps. */
export interface LatentDraws {
  posteriorNoise: Float32Array;
  noise: Float32Array;
  t: number[];
}

export interface LatentStepModels {
  autoencoder: LatentEncoder;
  unet: EpsNetwork;
  textEncoder?: ContextEncoder;
  scaleFactor: number;
  /** √ᾱ_t and √(1 − ᾱ_t) as float32 tables (the schedule's buffers). */
  sqrtAlphasCumprod: Float32Array;
  sqrtOneMinusAlphasCumprod: Float32Array;
}

export interface LatentStepResult {
  loss: number;
  grads: Gradients;
  x0: Float32Array;
  xNoisy: Float32Array;
  modelOut: Float32Array;
}

/**
 * Draws a step's noise from Philox: image i of the batch uses key seed + its
 * index in the whole run (`imageIndices[i]`), slot = the training step, stage 0
 * (latent diffusion), and streams 3 (posterior sample), 4 (eps) and 5 (t).
 */
export function drawLatentNoise(
  seed: number,
  step: number,
  imageIndices: readonly number[],
  latentSize: number,
  timesteps: number,
): LatentDraws {
  const posteriorNoise = new Float32Array(imageIndices.length * latentSize);
  const noise = new Float32Array(imageIndices.length * latentSize);
  const t: number[] = [];
  for (const [i, index] of imageIndices.entries()) {
    const key = BigInt(seed) + BigInt(index);
    const address = (stream: number) => ({ slot: step, stream, stage: STAGE.latent });
    posteriorNoise.set(normals(key, latentSize, address(STREAM.posterior)), i * latentSize);
    noise.set(normals(key, latentSize, address(STREAM.trainingEps)), i * latentSize);
    t.push(uniformInts(key, 1, timesteps, address(STREAM.timestep))[0]);
  }
  return { posteriorNoise, noise, t };
}

/**
 * Runs the forward pass on `tape` (on which the caller has watched the
 * trainable parameters), computes the loss and propagates it back. `reports` are the token
 * ids of the batch's reports (rows of equal length) for a conditioned model.
 */
export async function latentDiffusionStep(
  tape: Tape,
  models: LatentStepModels,
  images: Tensor,
  draws: LatentDraws,
  reports?: Int32Array,
): Promise<LatentStepResult> {
  const n = images.shape[0];

  // The first stage is frozen: nothing it computes is recorded, since none of its weights is watched.
  const posterior = models.autoencoder.encode(images);
  const mean = await posterior.mean.read();
  const logvar = await posterior.logvar.read();
  const latentShape = posterior.mean.shape;
  posterior.mean.release();
  posterior.logvar.release();

  // z = mean + exp(0.5·logvar)·n (logvar already clamped to [−30, 20]); x0 = scale_factor·z.
  const x0 = new Float32Array(mean.length);
  const xNoisy = new Float32Array(mean.length);
  const perImage = mean.length / n;
  const scale = f32(models.scaleFactor);
  for (let i = 0; i < mean.length; i++) {
    const std = f32(Math.exp(f32(0.5 * logvar[i])));
    const z = f32(mean[i] + f32(std * draws.posteriorNoise[i]));
    x0[i] = f32(scale * z);
    const t = draws.t[Math.floor(i / perImage)];
    xNoisy[i] = f32(
      f32(models.sqrtAlphasCumprod[t] * x0[i]) + f32(models.sqrtOneMinusAlphasCumprod[t] * draws.noise[i]),
    );
  }

  const input = Tensor.from(images.gpu, latentShape, xNoisy);
  const out = tape.run(() => {
    const context = reports && models.textEncoder ? models.textEncoder.context(reports, n) : undefined;
    const eps = models.unet.eps(input, draws.t, context);
    // The tape keeps its own view of the context for the backward pass.
    context?.release();
    return eps;
  });
  const modelOut = await out.read();
  const { loss, grad } = mseLoss(modelOut, draws.noise);
  const seed = Tensor.from(images.gpu, out.shape, grad);
  const grads = tape.backward(out, seed);
  seed.release();
  out.release();
  input.release();
  return { loss, grads, x0, xNoisy, modelOut };
}
