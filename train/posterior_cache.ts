/**
 * The frozen autoencoder's posterior (mean and log-variance) of each training
 * image, computed once and kept on the host, so a latent-diffusion step spends
 * no time in the encoder after the first epoch. Each image is encoded on its
 * own, so its values do not depend on which batch first met it, and a resumed
 * run refills the cache with the same values.
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import type { Batch } from "./data.ts";
import type { LatentEncoder } from "./recipes/latent.ts";

interface Posterior {
  mean: Float32Array;
  logvar: Float32Array;
  /** The latent's shape for one image [1, C, h, w]. */
  shape: number[];
}

export class PosteriorCache {
  readonly #entries = new Map<string, Posterior>();

  constructor(readonly gpu: Gpu | undefined, readonly encoder: LatentEncoder) {}

  /** Number of images whose posterior is cached. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Returns an encoder for `batch` that reads from the cache, after encoding
   * the images not seen before. Batches of flipped images must not use it,
   * since the cache is keyed by image path only.
   */
  async encoderFor(batch: Batch): Promise<LatentEncoder> {
    const [n, channels, height, width] = batch.shape;
    const item = channels * height * width;
    for (const [i, sample] of batch.samples.entries()) {
      if (this.#entries.has(sample.path)) continue;
      const image = Tensor.from(this.gpu, [1, channels, height, width], batch.images.slice(i * item, (i + 1) * item));
      const { mean, logvar } = this.encoder.encode(image);
      const [meanValues, logvarValues] = await Tensor.readAll([mean, logvar]);
      this.#entries.set(sample.path, { mean: meanValues, logvar: logvarValues, shape: [...mean.shape] });
      image.release();
      mean.release();
      logvar.release();
    }
    const posteriors = batch.samples.map((sample) => this.#entries.get(sample.path)!);
    const [, c, h, w] = posteriors[0].shape;
    const stack = (pick: (p: Posterior) => Float32Array) => {
      const out = new Float32Array(n * c * h * w);
      posteriors.forEach((p, i) => out.set(pick(p), i * c * h * w));
      return Tensor.from(this.gpu, [n, c, h, w], out);
    };
    return { encode: () => ({ mean: stack((p) => p.mean), logvar: stack((p) => p.logvar) }) };
  }
}
