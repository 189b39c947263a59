/**
 * Feature spaces for the distribution metrics (FID, KID) and the memorisation
 * check. Each turns one gray image in [0, 1] into a feature vector:
 *
 * - `ae`: the autoencoder's pooled latents. The image is prepared as the
 *   autoencoder's input: short side resized to the model's `resolution` with the
 *   antialiased bilinear filter, centre crop, [-1, 1], three channels. It is
 *   encoded to the posterior mean [C, h, w], which is average-pooled to an 8×8
 *   grid (PyTorch's adaptive average pool, so any latent size gives the same
 *   grid). The grid is flattened in C, row, column order: C·64 values (192 for
 *   Cheff's 3-channel latents).
 *   FIDs in this space measure distances between cheff runs only; they are not
 *   comparable to published FIDs, which use InceptionV3.
 * - `inception`: InceptionV3's 2048-d pool3 features from pytorch-fid's weights.
 *   The gray image is repeated to three channels, resized to 299×299 by bilinear
 *   interpolation without antialiasing (`F.interpolate(..., mode="bilinear",
 *   align_corners=False)`, as pytorch-fid does) and mapped to [-1, 1].
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { type GrayImage, imageToModelInput } from "../io/image/load.ts";
import { adaptiveAvgPool2d } from "../kernels/pool.ts";
import type { LoadedAutoencoder } from "./autoencoder/load.ts";
import { INCEPTION_FEATURES, INCEPTION_INPUT_SIZE } from "./inception/network.ts";
import type { LoadedInception } from "./inception/load.ts";

/** The side of the grid the `ae` space pools latents to. */
export const AE_FEATURE_GRID = 8;

export interface FeatureSpace {
  /** "ae" or "inception". */
  name: string;
  /** Feature vector length. */
  dims: number;
  /** SHA-256 of the model file behind the space. */
  sha256: string;
  /** One line saying what the features are, for reports. */
  description: string;
  /** Returns the feature vector of one gray image in [0, 1]. */
  extract(image: GrayImage): Promise<Float32Array>;
}

/** Creates the `ae` feature space of a loaded autoencoder (see the file comment). */
export function autoencoderFeatureSpace(gpu: Gpu | undefined, loaded: LoadedAutoencoder): FeatureSpace {
  const { model } = loaded;
  const size = model.config.resolution;
  const channels = model.config.embedDim;
  return {
    name: "ae",
    dims: channels * AE_FEATURE_GRID * AE_FEATURE_GRID,
    sha256: loaded.sha256,
    description:
      `autoencoder posterior mean at ${size} px, average-pooled to ${AE_FEATURE_GRID}×${AE_FEATURE_GRID} per channel; not comparable to InceptionV3 FIDs`,
    async extract(image) {
      const input = imageToModelInput(image, size, model.config.inChannels as 1 | 3);
      const x = Tensor.from(gpu, [1, model.config.inChannels, size, size], input);
      const posterior = model.encode(x);
      x.release();
      posterior.logvar.release();
      const pooled = adaptiveAvgPool2d(posterior.mean, AE_FEATURE_GRID, AE_FEATURE_GRID);
      posterior.mean.release();
      const features = await pooled.read();
      pooled.release();
      return features;
    },
  };
}

/** Creates the `inception` feature space: pytorch-fid's pool3 features (see the file comment). */
export function inceptionFeatureSpace(gpu: Gpu | undefined, loaded: LoadedInception): FeatureSpace {
  return {
    name: "inception",
    dims: INCEPTION_FEATURES,
    sha256: loaded.sha256,
    description: "InceptionV3 pool3 (pytorch-fid weights), 299×299 bilinear input",
    async extract(image) {
      const x = Tensor.from(gpu, [1, 3, INCEPTION_INPUT_SIZE, INCEPTION_INPUT_SIZE], inceptionInput(image));
      const features = loaded.model.pool3(x);
      x.release();
      const values = await features.read();
      features.release();
      return values;
    },
  };
}

/**
 * Returns pytorch-fid's network input [3, 299, 299] for a gray image in [0, 1]:
 * bilinear resize with half-pixel centres and edge clamping, no antialiasing
 * (PyTorch's `align_corners=False`), then 2x − 1, repeated on three channels.
 */
export function inceptionInput(image: GrayImage, size = INCEPTION_INPUT_SIZE): Float32Array {
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  const rows = bilinearTaps(image.height, size);
  const columns = bilinearTaps(image.width, size);
  for (let y = 0; y < size; y++) {
    const [y0, y1, wy] = rows[y];
    for (let x = 0; x < size; x++) {
      const [x0, x1, wx] = columns[x];
      const top = image.data[y0 * image.width + x0] * (1 - wx) + image.data[y0 * image.width + x1] * wx;
      const bottom = image.data[y1 * image.width + x0] * (1 - wx) + image.data[y1 * image.width + x1] * wx;
      out[y * size + x] = 2 * (top * (1 - wy) + bottom * wy) - 1;
    }
  }
  out.copyWithin(plane, 0, plane);
  out.copyWithin(2 * plane, 0, plane);
  return out;
}

/** For each output index: the two source indices and the weight of the second (PyTorch's linear rule). */
function bilinearTaps(inSize: number, outSize: number): [number, number, number][] {
  const scale = inSize / outSize;
  const taps: [number, number, number][] = [];
  for (let i = 0; i < outSize; i++) {
    const source = Math.max((i + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(source), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    taps.push([i0, i1, source - i0]);
  }
  return taps;
}
