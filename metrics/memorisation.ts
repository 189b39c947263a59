/**
 * Nearest-neighbour search for the memorisation check: for a generated image,
 * the training image with the highest SSIM and the one with the smallest
 * Euclidean feature distance.
 */
import { CheffError } from "../io/errors.ts";
import { ssim } from "./image.ts";

/** A gray image in [0, 1]. */
export interface MatchImage {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

/** The best match in a list: its index and its score (SSIM, or distance). */
export interface Nearest {
  index: number;
  value: number;
}

/**
 * Returns the training image with the highest SSIM (Gaussian window, σ 1.5,
 * data range 1) to `image`; ties keep the first. Every image must have the
 * size of `image`.
 */
export function nearestBySsim(image: MatchImage, training: readonly MatchImage[]): Nearest {
  if (training.length === 0) throw new CheffError("memorisation: no training images to compare with");
  let best: Nearest = { index: -1, value: -Infinity };
  training.forEach((candidate, index) => {
    if (candidate.width !== image.width || candidate.height !== image.height) {
      throw new CheffError(
        `memorisation: training image ${index} is ${candidate.width}×${candidate.height}, the generated image ${image.width}×${image.height}; pass --size N`,
      );
    }
    const value = ssim(image.data, candidate.data, { width: image.width, height: image.height });
    if (value > best.value) best = { index, value };
  });
  return best;
}

/** Returns the training feature vector nearest to `features` in Euclidean distance; ties keep the first. */
export function nearestByDistance(
  features: ArrayLike<number>,
  training: readonly ArrayLike<number>[],
): Nearest {
  if (training.length === 0) throw new CheffError("memorisation: no training features to compare with");
  let best: Nearest = { index: -1, value: Infinity };
  training.forEach((candidate, index) => {
    if (candidate.length !== features.length) {
      throw new CheffError(`memorisation: feature sizes differ: ${features.length} and ${candidate.length}`);
    }
    let sum = 0;
    for (let i = 0; i < features.length; i++) sum += (features[i] - candidate[i]) ** 2;
    const distance = Math.sqrt(sum);
    if (distance < best.value) best = { index, value: distance };
  });
  return best;
}
