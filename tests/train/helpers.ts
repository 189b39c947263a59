/**
 * Shared pieces of the training tests: a tiny dataset folder made from the
 * fixture radiographs, and pipeline files for tiny models that train in
 * seconds on the host path.
 */
import { join } from "node:path";
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
