/**
 * Training throughput of the built-in model's stages: a few steps of each
 * built-in training pipeline (fresh weights, batch as configured) on copies of
 * a bundled 64 px radiograph (resized to the pipeline's image size), reported
 * in images per second. The first step (shader compilation) is not counted.
 */
import { join } from "node:path";
import { getGpu } from "../gpu/device.ts";
import { readTrainPipeline } from "../train/pipeline.ts";
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

async function trainingThroughput(pipeline: string, name: string): Promise<BenchResult> {
  const gpu = await getGpu();
  const folder = await Deno.makeTempDir({ prefix: "cheff-bench-train-" });
  try {
    const data = await tinyIndex(folder);
    const settings = await readTrainPipeline(join(REPO, pipeline), { data, output: join(folder, "run") });
    settings.exclude = undefined;
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
  "train-ldm": () => trainingThroughput("pipelines/builtin/ldm-uncond.json", "built-in latent U-Net training step, 16×16"),
  "train-ldm-findings": () =>
    trainingThroughput(
      "pipelines/builtin/ldm-findings.json",
      "built-in finding-conditioned latent U-Net and text encoder training step, 16×16",
    ),
  "train-sr": () =>
    trainingThroughput("pipelines/builtin/sr.json", "built-in super-resolution training step, 64 px crops of 256 px"),
};
