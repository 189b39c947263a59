/**
 * Training steps on the GPU free what they allocate. The first step also builds
 * the kernels' cached weight layouts. After it, the live GPU bytes stay the same
 * from step to step for each recipe, so a long run does not grow.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { getGpu } from "../../gpu/device.ts";
import { parseSafetensors } from "../../io/safetensors.ts";
import { parseTrainPipeline } from "../../train/pipeline.ts";
import { runTraining } from "../../train/runner.ts";
import { kitTest, referencePath } from "../kit.ts";
import {
  adversarialPipeline,
  startingFrom,
  tinyAutoencoderPipeline,
  writeLpipsFile,
  writeTinyDataset,
} from "./helpers.ts";

/** Runs four steps of `pipeline` on the GPU and checks that steps 2 to 4 end with the same live bytes. */
async function assertSteady(pipeline: (folder: string, data: string) => Promise<unknown>): Promise<void> {
  const folder = await Deno.makeTempDir();
  try {
    const gpu = await getGpu();
    const data = await writeTinyDataset(join(folder, "data"), true);
    const settings = parseTrainPipeline(await pipeline(folder, data), join(folder, "p.json"));
    const live: number[] = [];
    await runTraining(gpu, settings, { onStep: () => live.push(gpu.pool.liveBytes) });
    assert.equal(live.length, 4);
    assert.deepEqual(live.slice(1), [live[1], live[1], live[1]], `live GPU bytes after each step: ${live}`);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
}

Deno.test("autoencoder training steps free what they allocate", async () => {
  await assertSteady(async (folder, data) =>
    tinyAutoencoderPipeline(data, join(folder, "run"), { steps: 4, save_every: 10 })
  );
});

Deno.test("autoencoder steps with LPIPS and the discriminator free what they allocate", async () => {
  await assertSteady(async (folder, data) =>
    adversarialPipeline(data, await writeLpipsFile(folder), join(folder, "run"), {
      disc_start: 0,
      steps: 4,
      save_every: 10,
    })
  );
});

const T2I = referencePath("ldm_t2i.pt");
const SR = referencePath("sr.pt");
const GRADIENTS = referencePath("gradients.safetensors");

/** Returns a four-step pipeline that starts from a reference kit model. */
function fromKit(model: string, folder: string, data: string, train: Record<string, unknown>) {
  return startingFrom(model, data, join(folder, "run"), { steps: 4, lr: 1e-4, save_every: 10, ...train });
}

kitTest("report-conditioned latent diffusion steps free what they allocate", [T2I], async () => {
  await assertSteady(async (folder, data) =>
    fromKit(T2I, folder, data, { recipe: "latent-diffusion", image_size: 64 })
  );
});

kitTest("super-resolution steps free what they allocate", [SR, GRADIENTS], async () => {
  const config = JSON.parse(parseSafetensors(Deno.readFileSync(GRADIENTS)).metadata.config).sr;
  await assertSteady(async (folder, data) =>
    fromKit(SR, folder, data, { recipe: "super-resolution", config, image_size: 32, low_res_size: 8 })
  );
});
