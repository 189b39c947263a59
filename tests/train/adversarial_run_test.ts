/**
 * Training runs with the perceptual and adversarial terms. An interrupted run
 * resumes to the same autoencoder and discriminator weights as a straight one.
 * The model file carries the discriminator under the reference's key names, and
 * a run from that file continues with it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Tensor } from "../../gpu/tensor.ts";
import { parseSafetensors } from "../../io/safetensors.ts";
import { loadAutoencoder } from "../../stages/autoencoder/load.ts";
import { DISCRIMINATOR_PREFIX } from "../../train/discriminator.ts";
import { parseTrainPipeline } from "../../train/pipeline.ts";
import { MODEL_FILE, runTraining } from "../../train/runner.ts";
import { createSetup } from "../../train/setup.ts";
import { loadState } from "../../train/state.ts";
import { adversarialPipeline, writeLpipsFile, writeTinyDataset } from "./helpers.ts";

Deno.test("an adversarial run resumes to the weights of a straight run and exports its discriminator", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const data = await writeTinyDataset(join(folder, "data"));
    const lpips = await writeLpipsFile(folder);
    const settings = (output: string) =>
      parseTrainPipeline(adversarialPipeline(data, lpips, join(folder, output)), join(folder, "p.json"));
    const straight = settings("straight"), resumed = settings("resumed");
    await runTraining(undefined, straight);
    await runTraining(undefined, resumed, { stopAfter: 3 });
    await runTraining(undefined, resumed, { resume: true });
    const a = (await loadState(straight.output))!, b = (await loadState(resumed.output))!;
    assert.deepEqual([...a.params.keys()].sort(), [...b.params.keys()].sort());
    for (const [name, values] of a.params) assert.deepEqual(b.params.get(name), values, name);

    const discriminatorNames = [...a.params.keys()].filter((name) => name.startsWith(DISCRIMINATOR_PREFIX));
    assert.ok(discriminatorNames.includes("loss.discriminator.main.3.weight"), "the BatchNorm weight trains");
    const log = (await Deno.readTextFile(join(straight.output, "log.jsonl"))).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.ok(log.every((entry) => entry.p > 0), "the perceptual term is logged every step");
    assert.equal(log[0].g, undefined, "no adversarial terms before disc_start");
    for (const entry of log.slice(1)) {
      assert.ok(Number.isFinite(entry.g), JSON.stringify(entry));
      assert.ok(entry.d_weight > 0, JSON.stringify(entry));
      assert.ok(entry.disc > 0, JSON.stringify(entry));
    }

    const model = parseSafetensors(await Deno.readFile(join(straight.output, MODEL_FILE)));
    for (const name of discriminatorNames) assert.ok(model.tensors.has(name), `model file has ${name}`);
    // The inference loader ignores the loss's keys, as the reference's does.
    const { model: autoencoder } = await loadAutoencoder(undefined, join(straight.output, MODEL_FILE));
    autoencoder.release();

    // A run from the model file continues with its discriminator.
    const fromModel = (output: string, train: Record<string, unknown> = {}) =>
      parseTrainPipeline(
        {
          cheff: 1,
          models: { lpips, start: join(straight.output, MODEL_FILE) },
          train: {
            ...adversarialPipeline(data, lpips, join(folder, output)).train,
            config: undefined,
            model: "start",
            ...train,
          },
        },
        join(folder, "p.json"),
      );
    const setup = await createSetup(undefined, fromModel("continued"));
    for (const name of discriminatorNames) {
      assert.deepEqual(
        (setup.trainable.get(name) as Tensor).data,
        a.params.get(name),
        `${name} comes from the file`,
      );
    }
    setup.release();
    await assert.rejects(
      () => createSetup(undefined, fromModel("wider", { disc_ndf: 8 })),
      /model\.safetensors: loss\.discriminator\.main\.0\.weight is \[4,3,4,4\], expected \[8,3,4,4\] for disc_ndf 8/,
    );
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});
