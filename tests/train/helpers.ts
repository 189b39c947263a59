/**
 * Shared pieces of the training tests: a tiny dataset folder made from the
 * fixture radiographs, pipeline files for tiny models that train in seconds on
 * the host path, and random weights for a narrow LPIPS.
 */
import { join } from "node:path";
import { type HostTensor, serializeSafetensors } from "../../io/safetensors.ts";
import { lpipsParameters } from "../../train/lpips.ts";
import { randomValues } from "../kernels/helpers.ts";
import { FIXTURES_DIR } from "../kit.ts";

const FIXTURE_IMAGES = [
  "nih_00000001_001_64.png",
  "nih_00000001_001_64_palette4.png",
  "rg1_chest_12bit_crop64.png",
];

/** Writes a MaCheX-layout folder (images and index.json) of the fixture radiographs into `folder`; returns the index path. */
export async function writeTinyDataset(folder: string, reports = false): Promise<string> {
  await Deno.mkdir(join(folder, "00"), { recursive: true });
  const index: Record<string, unknown> = {};
  for (const [i, name] of FIXTURE_IMAGES.entries()) {
    const id = String(i).padStart(6, "0");
    const path = `00/${id}.png`;
    await Deno.copyFile(join(FIXTURES_DIR, "images", name), join(folder, path));
    index[id] = { path, key: name, ...(reports ? { report: `No acute findings in image ${i}.` } : {}) };
  }
  const indexPath = join(folder, "index.json");
  await Deno.writeTextFile(indexPath, JSON.stringify(index));
  return indexPath;
}

/** A KL autoencoder small enough to train on 8×8 images in well under a second per step on the host. */
export const TINY_AUTOENCODER = {
  embed_dim: 2,
  ddconfig: {
    double_z: true,
    z_channels: 2,
    resolution: 8,
    in_channels: 3,
    out_ch: 3,
    ch: 32,
    ch_mult: [1, 1],
    num_res_blocks: 1,
    attn_resolutions: [],
    dropout: 0.0,
  },
};

/** Returns a pipeline file training TINY_AUTOENCODER from fresh weights on the tiny dataset. */
export function tinyAutoencoderPipeline(
  data: string,
  output: string,
  train: Record<string, unknown> = {},
): unknown {
  return {
    cheff: 1,
    train: {
      recipe: "autoencoder",
      config: TINY_AUTOENCODER,
      data,
      image_size: 8,
      batch_size: 2,
      steps: 4,
      lr: 1e-3,
      save_every: 2,
      seed: 7,
      output,
      ...train,
    },
  };
}

/** Conv widths of a narrow VGG16 (13 convolutions), so the test runs in moments. */
const NARROW_VGG = [4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8];

/** Random LPIPS weights for NARROW_VGG: He-scaled convolutions, small biases and non-negative heads. */
export function randomLpipsWeights(seed: number): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  let s = seed;
  for (const [name, shape] of lpipsParameters(NARROW_VGG)) {
    const size = shape.reduce((a, d) => a * d, 1);
    const values = randomValues(size, s++);
    const fanIn = shape.slice(1).reduce((a, d) => a * d, 1);
    const scale = name.startsWith("lin") ? 0 : name.endsWith(".bias") ? 0.05 : Math.sqrt(6 / fanIn);
    const data = name.startsWith("lin") ? values.map((v) => 0.5 * (v + 1)) : values.map((v) => v * scale);
    out.set(name, { dtype: "F32", shape, data });
  }
  return out;
}

/** Writes the narrow LPIPS weights as a checkpoint would hold them; returns the file's path. */
export async function writeLpipsFile(folder: string): Promise<string> {
  const tensors = new Map(
    [...randomLpipsWeights(13)].map((
      [name, t],
    ) => [`loss.perceptual_loss.${name}`, { shape: t.shape, data: t.data as Float32Array }]),
  );
  const path = join(folder, "lpips.safetensors");
  await Deno.writeFile(path, serializeSafetensors(tensors));
  return path;
}

/** Returns a 16-pixel autoencoder run with LPIPS and a small discriminator that starts after step 1. */
export function adversarialPipeline(
  data: string,
  lpips: string,
  output: string,
  train: Record<string, unknown> = {},
) {
  return {
    cheff: 1,
    models: { lpips },
    train: {
      recipe: "autoencoder",
      config: { ...TINY_AUTOENCODER, ddconfig: { ...TINY_AUTOENCODER.ddconfig, resolution: 16 } },
      data,
      image_size: 16,
      batch_size: 2,
      steps: 4,
      lr: 1e-3,
      save_every: 2,
      seed: 3,
      perceptual: "lpips",
      perceptual_weight: 0.5,
      disc_start: 1,
      disc_ndf: 4,
      disc_num_layers: 2,
      output,
      ...train,
    },
  };
}

/** Returns a pipeline that trains from the model file `model` at batch 1, with `train` merged into its train section. */
export function startingFrom(model: string, data: string, output: string, train: Record<string, unknown>) {
  return {
    cheff: 1,
    models: { start: model },
    train: { model: "start", data, batch_size: 1, output, ...train },
  };
}
