/**
 * Resuming: a run interrupted after an unsaved step and resumed from its last
 * save ends with the same weights, moments and EMA as a run that went straight
 * through. The model file it writes loads in the inference stage.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CheffError } from "../../io/errors.ts";
import { parseSafetensors } from "../../io/safetensors.ts";
import { loadAutoencoder } from "../../stages/autoencoder/load.ts";
import { parseTrainPipeline } from "../../train/pipeline.ts";
import { MODEL_FILE, runTraining } from "../../train/runner.ts";
import { loadState, STATE_FILE } from "../../train/state.ts";
import { tinyAutoencoderPipeline, writeTinyDataset } from "./helpers.ts";

async function settingsFor(folder: string, output: string, train: Record<string, unknown> = {}) {
  const data = await writeTinyDataset(join(folder, "data"));
  return parseTrainPipeline(tinyAutoencoderPipeline(data, output, train), join(folder, "pipeline.json"));
}

function assertSameValues(a: Map<string, Float32Array>, b: Map<string, Float32Array>, what: string): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), `${what}: names`);
  for (const [name, values] of a) assert.deepEqual(b.get(name), values, `${what}: ${name}`);
}

Deno.test("interrupted and resumed run matches an uninterrupted run", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const straight = await settingsFor(folder, join(folder, "straight"), { ema: true });
    const resumed = await settingsFor(folder, join(folder, "resumed"), { ema: true });

    const reference = await runTraining(undefined, straight);
    assert.equal(reference.step, 4);

    // Three steps: the state of step 2 is saved, step 3 is lost as in a kill before the next save.
    const first = await runTraining(undefined, resumed, { stopAfter: 3 });
    assert.equal(first.step, 3);
    const interrupted = await loadState(resumed.output);
    assert.equal(interrupted?.info.step, 2);
    assert.equal(interrupted?.info.position, 4);

    const second = await runTraining(undefined, resumed, { resume: true });
    assert.equal(second.step, 4);

    const a = (await loadState(straight.output))!;
    const b = (await loadState(resumed.output))!;
    assert.deepEqual(b.info, a.info);
    assertSameValues(a.params, b.params, "parameters");
    assertSameValues(a.optimizer.exp_avg, b.optimizer.exp_avg, "exp_avg");
    assertSameValues(a.optimizer.exp_avg_sq, b.optimizer.exp_avg_sq, "exp_avg_sq");
    assertSameValues(a.ema!.shadows, b.ema!.shadows, "EMA");
    assert.equal(b.ema!.numUpdates, 4);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("trained weights stay finite and move each step", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const settings = await settingsFor(folder, join(folder, "out"), { steps: 2 });
    await runTraining(undefined, settings);
    const state = (await loadState(settings.output))!;
    const model = parseSafetensors(await Deno.readFile(join(settings.output, MODEL_FILE)));
    let changed = 0;
    for (const [name, values] of state.params) {
      assert.ok(values.every(Number.isFinite), `${name} is finite`);
      assert.ok(model.tensors.has(name), `model file has ${name}`);
    }
    // Fresh weights are uniform in ±1/√fan_in; two Adam steps at lr 1e-3 move nearly every weight.
    const fresh = await settingsFor(folder, join(folder, "fresh"), { steps: 1 });
    await runTraining(undefined, fresh);
    const afterOne = (await loadState(fresh.output))!;
    for (const [name, values] of state.params) {
      if (values.some((v, i) => v !== afterOne.params.get(name)![i])) changed++;
    }
    assert.ok(
      changed > state.params.size / 2,
      `only ${changed} of ${state.params.size} tensors changed between steps`,
    );
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("saved model loads in the autoencoder stage", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const settings = await settingsFor(folder, join(folder, "out"), { steps: 1 });
    await runTraining(undefined, settings);
    const { model, configSource } = await loadAutoencoder(undefined, join(settings.output, MODEL_FILE));
    assert.equal(configSource, "file");
    const state = (await loadState(settings.output))!;
    assert.deepEqual(
      model.weights.get("encoder.conv_in.weight").data,
      state.params.get("encoder.conv_in.weight"),
    );
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("existing state without resume is rejected", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const settings = await settingsFor(folder, join(folder, "out"), { steps: 1 });
    await runTraining(undefined, settings);
    await Deno.stat(join(settings.output, STATE_FILE));
    await assert.rejects(
      runTraining(undefined, settings),
      (e: Error) => e instanceof CheffError && /--resume/.test(e.message),
    );
    const changed = await settingsFor(folder, join(folder, "out"), { steps: 1, lr: 2e-3, batch_size: 1 });
    await assert.rejects(
      runTraining(undefined, changed, { resume: true }),
      (e: Error) => e instanceof CheffError && /different train section \(batch_size, lr changed\)|different train section \(lr, batch_size changed\)/.test(e.message),
    );

    // Raising the step count of a finished run continues it.
    const longer = await settingsFor(folder, join(folder, "out"), { steps: 2 });
    const result = await runTraining(undefined, longer, { resume: true });
    assert.equal(result.step, 2);
    assert.equal((await loadState(longer.output))!.info.step, 2);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});
