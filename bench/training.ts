/**
 * Training throughput of the built-in model's stages: a few steps of each
 * built-in training pipeline (fresh weights, batch as configured) on copies of
 * a bundled 64 px radiograph (resized to the pipeline's image size), reported
 * in images per second. The first step (shader compilation) is not counted.
 * One more case adds the reference's perceptual and adversarial terms to the
 * autoencoder step: a full-width VGG16 for LPIPS (random weights, as cheff ships
 * none) and the 64-channel patch discriminator from step 0.
 */
import { join } from "node:path";
import { getGpu } from "../gpu/device.ts";
import { serializeSafetensors } from "../io/safetensors.ts";
import { lpipsParameters } from "../train/lpips.ts";
import { readTrainPipeline, type TrainSettings } from "../train/pipeline.ts";
import { uniformStream } from "../train/random.ts";
import { runTraining } from "../train/runner.ts";
import type { BenchResult } from "./timing.ts";

const REPO = new URL("..", import.meta.url).pathname;
const STEPS = 4;

/** Writes an index of 16 copies of the bundled radiograph. */
async function tinyIndex(folder: string): Promise<string> {
  const index: Record<string, unknown> = {};
  for (let i = 0; i < 16; i++) {
    const id = String(i).padStart(6, "0");
    await Deno.copyFile(join(REPO, "tests/fixtures/images/nih_00000001_001_64.png"), join(folder, `${id}.png`));
    // A finding text, as the finding-conditioned pipeline needs one per image.
    index[id] = { path: `${id}.png`, key: id, report: i % 2 === 0 ? "no finding" : "cardiomegaly, effusion" };
  }
  const path = join(folder, "index.json");
  await Deno.writeTextFile(path, JSON.stringify(index));
  return path;
}

/** VGG16's convolution widths, as LPIPS uses them. */
const VGG16_WIDTHS = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512];

/** Writes random LPIPS weights of the real VGG16's shapes (uniform in ±√(3/fan_in)); returns the file. */
async function randomLpipsFile(folder: string): Promise<string> {
  const random = uniformStream(1);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of lpipsParameters(VGG16_WIDTHS)) {
    const bound = Math.sqrt(3 / shape.slice(1).reduce((a, d) => a * d, 1));
    const data = new Float32Array(shape.reduce((a, d) => a * d, 1)).map(() => (2 * random() - 1) * bound);
    tensors.set(`loss.perceptual_loss.${name}`, { shape, data: name.startsWith("lin") ? data.map(Math.abs) : data });
  }
  const path = join(folder, "lpips.safetensors");
  await Deno.writeFile(path, serializeSafetensors(tensors));
  return path;
}

async function trainingThroughput(
  pipeline: string,
  name: string,
  extend?: (settings: TrainSettings, folder: string) => Promise<void>,
): Promise<BenchResult> {
  const gpu = await getGpu();
  const folder = await Deno.makeTempDir({ prefix: "cheff-bench-train-" });
  try {
    const data = await tinyIndex(folder);
    const settings = await readTrainPipeline(join(REPO, pipeline), { data, output: join(folder, "run") });
    settings.exclude = undefined;
    await extend?.(settings, folder);
    const times: number[] = [];
    let last = performance.now();
    await runTraining(gpu, settings, {
      stopAfter: STEPS,
      onStep: () => {
        const now = performance.now();
        times.push((now - last) / 1000);
        last = now;
      },
    });
    const seconds = times.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, times.length - 1);
    return {
      name,
      seconds,
      gflop: 0,
      note: `${(settings.batchSize / seconds).toFixed(2)} images/s (batch ${settings.batchSize}, seconds per step)`,
    };
  } finally {
    await Deno.remove(folder, { recursive: true }).catch(() => {});
  }
}

export const benches = {
  "train-ae": () => trainingThroughput("pipelines/builtin/autoencoder.json", "built-in autoencoder training step, 64 px"),
  "train-ae-finetune": () =>
    trainingThroughput("pipelines/builtin/autoencoder-finetune.json", "built-in autoencoder fine-tuning step, 64 px"),
  "train-ae-lpips-gan": () =>
    trainingThroughput(
      "pipelines/builtin/autoencoder.json",
      "built-in autoencoder training step with LPIPS (VGG16) and the patch discriminator, 64 px",
      async (settings, folder) => {
        settings.perceptual = await randomLpipsFile(folder);
        settings.perceptualWeight = 1;
        settings.discriminator = { start: 0, weight: 0.5, ndf: 64, layers: 3 };
      },
    ),
  "train-ldm": () => trainingThroughput("pipelines/builtin/ldm-uncond.json", "built-in latent U-Net training step, 16×16"),
  "train-ldm-findings": () =>
    trainingThroughput(
      "pipelines/builtin/ldm-findings.json",
      "built-in finding-conditioned latent U-Net and text encoder training step, 16×16",
    ),
  "train-sr": () =>
    trainingThroughput("pipelines/builtin/sr.json", "built-in super-resolution training step, 64 px crops of 256 px"),
};
