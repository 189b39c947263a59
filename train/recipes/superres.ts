/**
 * One super-resolution training step (SR3-style, as Cheff's SR model trains):
 * the conditioning is the low-resolution image upsampled by PyTorch-compatible
 * bicubic to the high resolution; t is drawn uniformly from 0 … T−1 of the
 * cosine schedule, x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·eps, the network's
 * input is [x_t, upsampled] on the channel axis with the raw integer t, and the loss is
 * the mean of squared errors against eps.
 */
import { Tensor } from "../../gpu/tensor.ts";
import { concat } from "../../kernels/layout.ts";
import { resizeBicubic } from "../../kernels/resize.ts";
import { normals, STAGE, STREAM, uniformInts } from "../../stages/noise/philox.ts";
import type { Gradients, Tape } from "../autograd.ts";
import { mseLoss } from "../losses.ts";

const f32 = Math.fround;

export interface SuperResolutionNetwork {
  forward(x: Tensor, t: readonly number[]): Tensor;
}

export interface SuperResolutionDraws {
  noise: Float32Array;
  t: number[];
}

/** Draws eps and t: key seed + the image's index in the run, slot = step, stage 1, streams 4 (eps) and 5 (t). */
export function drawSuperResolutionNoise(
  seed: number,
  step: number,
  imageIndices: readonly number[],
  imageSize: number,
  timesteps: number,
): SuperResolutionDraws {
  const noise = new Float32Array(imageIndices.length * imageSize);
  const t: number[] = [];
  for (const [i, index] of imageIndices.entries()) {
    const key = BigInt(seed) + BigInt(index);
    const address = (stream: number) => ({ slot: step, stream, stage: STAGE.superResolution });
    noise.set(normals(key, imageSize, address(STREAM.trainingEps)), i * imageSize);
    t.push(uniformInts(key, 1, timesteps, address(STREAM.timestep))[0]);
  }
  return { noise, t };
}

export interface SuperResolutionStepResult {
  loss: number;
  grads: Gradients;
}

/**
 * Runs one step: `high` [N, 1, H, W] and `low` [N, 1, h, w] in [-1, 1], on the
 * same device. The schedule tables are the float32 buffers.
 */
export async function superResolutionStep(
  tape: Tape,
  network: SuperResolutionNetwork,
  high: Tensor,
  low: Tensor,
  draws: SuperResolutionDraws,
  sqrtAlphasCumprod: Float32Array,
  sqrtOneMinusAlphasCumprod: Float32Array,
): Promise<SuperResolutionStepResult> {
  const [n, , height, width] = high.shape;
  const x0 = await high.read();
  const perImage = x0.length / n;
  const noisy = new Float32Array(x0.length);
  for (let i = 0; i < x0.length; i++) {
    const t = draws.t[Math.floor(i / perImage)];
    noisy[i] = f32(f32(sqrtAlphasCumprod[t] * x0[i]) + f32(sqrtOneMinusAlphasCumprod[t] * draws.noise[i]));
  }
  const xNoisy = Tensor.from(high.gpu, high.shape, noisy);
  const upsampled = resizeBicubic(low, height, width);
  const input = concat([xNoisy, upsampled], 1);
  xNoisy.release();
  upsampled.release();

  const out = tape.run(() => network.forward(input, draws.t));
  const { loss, grad } = mseLoss(await out.read(), draws.noise);
  const seed = Tensor.from(high.gpu, out.shape, grad);
  const grads = tape.backward(out, seed);
  seed.release();
  out.release();
  input.release();
  return { loss, grads };
}
