/**
 * What a training run does with its output folder: a new run never writes into
 * a folder that already contains files, a failed new run takes back what it wrote,
 * and a resumed run cuts its log back to the saved step. A resume with other
 * settings names the fields that changed, the LPIPS weights file included.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { serializeSafetensors } from "../../io/safetensors.ts";
import { parseTrainPipeline } from "../../train/pipeline.ts";
import { LOG_FILE, runTraining } from "../../train/runner.ts";
import { exists } from "../kit.ts";
import {
  adversarialPipeline,
  randomLpipsWeights,
  tinyAutoencoderPipeline,
  writeLpipsFile,
  writeTinyDataset,
} from "./helpers.ts";

Deno.test("a new run refuses a folder with files in it, and a file in place of the folder", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const data = await writeTinyDataset(join(folder, "data"));
    const output = join(folder, "run");
    await Deno.mkdir(output);
    await Deno.writeTextFile(join(output, "model.safetensors"), "mine");
    const settings = parseTrainPipeline(tinyAutoencoderPipeline(data, output), join(folder, "p.json"));
    await assert.rejects(
      () => runTraining(undefined, settings),
      /run: contains files \(model\.safetensors\) but no training state/,
    );
    assert.equal(await Deno.readTextFile(join(output, "model.safetensors")), "mine");

    const file = join(folder, "file");
    await Deno.writeTextFile(file, "mine");
    const onFile = parseTrainPipeline(tinyAutoencoderPipeline(data, file), join(folder, "p.json"));
    await assert.rejects(
      () => runTraining(undefined, onFile),
      /file: is a file; the training output needs a folder/,
    );
    assert.equal(await Deno.readTextFile(file), "mine");
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("a new run that fails before its first save leaves no folder and no log", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const data = await writeTinyDataset(join(folder, "data"));
    const output = join(folder, "new", "run");
    const settings = parseTrainPipeline(
      tinyAutoencoderPipeline(data, output, { save_every: 10 }),
      join(folder, "p.json"),
    );
    let steps = 0;
    await assert.rejects(() =>
      runTraining(undefined, settings, {
        onStep: () => {
          if (++steps === 2) throw new Error("stopped by the test");
        },
      }), /stopped by the test/);
    assert.equal(steps, 2, "the run logged two steps before it failed");
    assert.equal(exists(join(folder, "new")), false);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("a resumed run logs each step once", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const data = await writeTinyDataset(join(folder, "data"));
    const settings = parseTrainPipeline(
      tinyAutoencoderPipeline(data, join(folder, "run")),
      join(folder, "p.json"),
    );
    // Three steps with a save at step 2: step 3 is logged but lost, as in a kill.
    await runTraining(undefined, settings, { stopAfter: 3 });
    await Deno.writeTextFile(join(settings.output, LOG_FILE), '{"step": 3, "cut sh', { append: true });
    await runTraining(undefined, settings, { resume: true });
    const steps = (await Deno.readTextFile(join(settings.output, LOG_FILE))).trim().split("\n")
      .map((line) => JSON.parse(line).step);
    assert.deepEqual(steps, [1, 2, 3, 4]);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("a resume names the changed loss fields and refuses other LPIPS weights", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const data = await writeTinyDataset(join(folder, "data"));
    const lpips = await writeLpipsFile(folder);
    const output = join(folder, "run");
    const parse = (train: Record<string, unknown> = {}) =>
      parseTrainPipeline(adversarialPipeline(data, lpips, output, train), join(folder, "p.json"));
    await runTraining(undefined, parse(), { stopAfter: 2 });
    await assert.rejects(
      () => runTraining(undefined, parse({ disc_weight: 0.8 }), { resume: true }),
      /a different train section \(disc_weight changed\)/,
    );
    await assert.rejects(
      () =>
        runTraining(undefined, parse({ perceptual: undefined, perceptual_weight: undefined }), {
          resume: true,
        }),
      /a different train section \(perceptual changed\)/,
    );
    // The same weights with one value changed: the file's digest differs.
    const bytes = await Deno.readFile(lpips);
    bytes[bytes.length - 1] ^= 1;
    await Deno.writeFile(lpips, bytes);
    await assert.rejects(() => runTraining(undefined, parse(), { resume: true }), /\(the contents of the perceptual file changed\)/);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("images too small for LPIPS or the discriminator are refused before training", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const data = await writeTinyDataset(join(folder, "data"));
    const lpips = await writeLpipsFile(folder);
    const run = (train: Record<string, unknown>) =>
      runTraining(
        undefined,
        parseTrainPipeline(
          adversarialPipeline(data, lpips, join(folder, "run"), train),
          join(folder, "p.json"),
        ),
      );
    await assert.rejects(
      () => run({ image_size: 8 }),
      /\$\.train\.image_size: LPIPS's VGG16 halves the image four times, so it needs at least 16 px; got 8/,
    );
    await assert.rejects(
      () => run({ disc_num_layers: 3 }),
      /\$\.train\.image_size: a discriminator with disc_num_layers 3 needs images of at least 24 px; got 16/,
    );
    assert.equal(exists(join(folder, "run")), false);

    // A non-finite LPIPS weight is named rather than met as a diverging loss.
    const weights = randomLpipsWeights(3);
    (weights.get("net.slice2.5.bias")!.data as Float32Array)[1] = NaN;
    const tensors = new Map(
      [...weights].map(([name, t]) => [name, { shape: t.shape, data: t.data as Float32Array }]),
    );
    await Deno.writeFile(lpips, serializeSafetensors(tensors));
    await assert.rejects(
      () => run({}),
      /lpips\.safetensors: net\.slice2\.5\.bias contains a NaN or infinite value/,
    );
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});
