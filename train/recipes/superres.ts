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
  /** Per image, the [top, left] corner of its training crop (absent: whole images). */
  crops?: [number, number][];
}

/**
 * Draws eps and t: key seed + the image's index in the run, slot = step, stage 1,
 * streams 4 (eps) and 5 (t). `imageSize` is the number of values per image (of
 * the crop, when training on crops). With `crop`, the corner of a `crop.size`
 * square inside a `crop.side` square image comes from stream 6: top, then left.
 */
export function drawSuperResolutionNoise(
  seed: number,
  step: number,
  imageIndices: readonly number[],
  imageSize: number,
  timesteps: number,
  crop?: { size: number; side: number },
): SuperResolutionDraws {
  const noise = new Float32Array(imageIndices.length * imageSize);
  const t: number[] = [];
  const crops: [number, number][] = [];
  for (const [i, index] of imageIndices.entries()) {
    const key = BigInt(seed) + BigInt(index);
    const address = (stream: number) => ({ slot: step, stream, stage: STAGE.superResolution });
    noise.set(normals(key, imageSize, address(STREAM.trainingEps)), i * imageSize);
    t.push(uniformInts(key, 1, timesteps, address(STREAM.timestep))[0]);
    if (crop) {
      const [top, left] = uniformInts(key, 2, crop.side - crop.size + 1, address(STREAM.trainingCrop));
      crops.push([top, left]);
    }
  }
  return crop ? { noise, t, crops } : { noise, t };
}

/** Cuts the `size` square at each image's corner out of an [N, C, H, W] host array. */
function cutCrops(
  values: Float32Array,
  shape: readonly number[],
  corners: [number, number][],
  size: number,
): Float32Array {
  const [n, c, h, w] = shape;
  const out = new Float32Array(n * c * size * size);
  let o = 0;
  for (let i = 0; i < n; i++) {
    const [top, left] = corners[i];
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < size; y++) {
        const start = ((i * c + ch) * h + top + y) * w + left;
        out.set(values.subarray(start, start + size), o);
        o += size;
      }
    }
  }
  return out;
}

export interface SuperResolutionStepResult {
  loss: number;
  grads: Gradients;
}

/**
 * Runs one step: `high` [N, 1, H, W] and `low` [N, 1, h, w] in [-1, 1], on the
 * same device. The schedule tables are the float32 buffers. With `draws.crops`
 * the network receives only the crops of x_t and of the upsampled conditioning.
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
  let x0 = await high.read();
  // The conditioning is upsampled from the whole low-resolution image, then cut with the same crop as x0.
  let upsampled = resizeBicubic(low, height, width);
  let shape = high.shape;
  if (draws.crops) {
    const size = Math.round(Math.sqrt(draws.noise.length / n));
    const whole = upsampled;
    x0 = cutCrops(x0, high.shape, draws.crops, size);
    upsampled = Tensor.from(high.gpu, [n, 1, size, size], cutCrops(await whole.read(), whole.shape, draws.crops, size));
    whole.release();
    shape = [n, 1, size, size];
  }
  const perImage = x0.length / n;
  const noisy = new Float32Array(x0.length);
  for (let i = 0; i < x0.length; i++) {
    const t = draws.t[Math.floor(i / perImage)];
    noisy[i] = f32(f32(sqrtAlphasCumprod[t] * x0[i]) + f32(sqrtOneMinusAlphasCumprod[t] * draws.noise[i]));
  }
  const xNoisy = Tensor.from(high.gpu, shape, noisy);
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
