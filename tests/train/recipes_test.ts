/**
 * Each recipe runs from the reference kit's small checkpoints through the
 * runner on the GPU path (WGSL forward and backward kernels). The model file it
 * writes loads back in the inference stage with the trained values (and, for
 * latent diffusion, the EMA).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { getGpu } from "../../gpu/device.ts";
import { parseSafetensors } from "../../io/safetensors.ts";
import { emaKey, loadUNet } from "../../stages/latent/load.ts";
import { readModelFile } from "../../stages/load.ts";
import { loadSuperResolution } from "../../stages/superres/load.ts";
import { loadTextEncoder } from "../../stages/text/load.ts";
import { parseTrainPipeline, readTrainPipeline } from "../../train/pipeline.ts";
import { MODEL_FILE, runTraining } from "../../train/runner.ts";
import { createSetup } from "../../train/setup.ts";
import { loadState } from "../../train/state.ts";
import { kitTest, referencePath, REPO_ROOT } from "../kit.ts";
import { loadAutoencoder } from "../../stages/autoencoder/load.ts";
import { startingFrom, writeTinyDataset } from "./helpers.ts";

const UNCOND = referencePath("ldm_uncond.pt");
const T2I = referencePath("ldm_t2i.pt");
const SR = referencePath("sr.pt");
const GRADIENTS = referencePath("gradients.safetensors");

async function train(
  folder: string,
  model: string,
  train: Record<string, unknown>,
  reports = false,
  steps = 1,
) {
  const data = await writeTinyDataset(join(folder, "data"), reports);
  const pipeline = startingFrom(model, data, join(folder, "out"), { steps, save_every: 2, ...train });
  const settings = parseTrainPipeline(pipeline, join(folder, "pipeline.json"));
  const losses: number[] = [];
  await runTraining(await getGpu(), settings, { onStep: (r) => losses.push(r.loss) });
  assert.equal(losses.length, steps);
  for (const loss of losses) assert.ok(Number.isFinite(loss) && loss > 0, `loss ${loss}`);
  return {
    settings,
    state: (await loadState(settings.output))!,
    modelPath: join(settings.output, MODEL_FILE),
  };
}

kitTest("unconditional latent diffusion trains and exports with its EMA", [UNCOND], async () => {
  const folder = await Deno.makeTempDir();
  try {
    const { state, modelPath } = await train(folder, UNCOND, {
      recipe: "latent-diffusion",
      image_size: 64,
      lr: 1e-4,
    });
    // The EMA continues the checkpoint's, which has had 4 updates.
    assert.equal(state.ema?.numUpdates, 5);
    const { model } = await loadUNet(undefined, modelPath);
    const name = "input_blocks.0.0.weight";
    assert.deepEqual(model.weights.get(name).data, state.params.get(`model.diffusion_model.${name}`));
    const { model: ema } = await loadUNet(undefined, modelPath, { ema: true });
    assert.deepEqual(ema.weights.get(name).data, state.ema!.shadows.get(`model.diffusion_model.${name}`));
    const file = await readModelFile(modelPath);
    assert.equal(Number(file.state.get("model_ema.num_updates")!.data[0]), 5);
    assert.ok(file.state.has(emaKey(name)));
    assert.ok(
      file.state.has("first_stage_model.encoder.conv_in.weight"),
      "the frozen autoencoder travels with the model",
    );
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

kitTest("report-conditioned latent diffusion trains the text encoder too", [T2I], async () => {
  const folder = await Deno.makeTempDir();
  try {
    const before = await loadTextEncoder(undefined, T2I);
    const { state, modelPath } = await train(folder, T2I, {
      recipe: "latent-diffusion",
      image_size: 64,
      lr: 1e-4,
    }, true);
    const key = "cond_stage_model.transformer.attn_layers.layers.0.1.to_q.weight";
    const trained = state.params.get(key)!;
    assert.notDeepEqual(trained, before.model.weights.get("attn_layers.layers.0.1.to_q.weight").data);
    assert.ok(!state.ema!.shadows.has(key), "the text encoder has no EMA shadow");
    const after = await loadTextEncoder(undefined, modelPath);
    assert.deepEqual(after.model.weights.get("attn_layers.layers.0.1.to_q.weight").data, trained);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

kitTest("a token table uploaded in row chunks trains to the same weights as one table", [T2I], async () => {
  const folder = await Deno.makeTempDir();
  try {
    const gpu = await getGpu();
    const data = await writeTinyDataset(join(folder, "data"), true);
    // A chunk limit of 128 KiB splits the kit's 488 KB token table, as 128 MiB splits the released one.
    const chunkBytes = 2 ** 17;
    const { model } = await loadTextEncoder(gpu, T2I, { tableChunkBytes: chunkBytes });
    const chunks = "chunks" in model.tokenTable ? model.tokenTable.chunks.length : 1;
    assert.ok(chunks > 1, `the table is in ${chunks} chunk(s)`);
    model.weights.release();
    model.tokenTable.release();

    const run = async (output: string, tableChunkBytes?: number) => {
      const settings = parseTrainPipeline(
        startingFrom(T2I, data, join(folder, output), {
          recipe: "latent-diffusion",
          image_size: 64,
          steps: 2,
          lr: 1e-3,
        }),
        join(folder, "pipeline.json"),
      );
      await runTraining(gpu, settings, { tableChunkBytes });
      return (await loadState(settings.output))!;
    };
    const whole = await run("whole");
    const split = await run("split", chunkBytes);
    const table = "cond_stage_model.transformer.token_emb.weight";
    assert.ok(whole.params.has(table));
    assert.deepEqual([...split.params.keys()].sort(), [...whole.params.keys()].sort());
    for (const [name, values] of whole.params) assert.deepEqual(split.params.get(name), values, name);
    for (const [name, values] of whole.optimizer.exp_avg) {
      assert.deepEqual(split.optimizer.exp_avg.get(name), values, `exp_avg of ${name}`);
    }
    const file = parseSafetensors(await Deno.readFile(join(folder, "split", MODEL_FILE)));
    assert.deepEqual(file.tensors.get(table)!.data, whole.params.get(table), "the model file holds one table");
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

kitTest("super-resolution trains from low-resolution copies", [SR, GRADIENTS], async () => {
  const folder = await Deno.makeTempDir();
  try {
    // sr.pt stores no config; the kit keeps it in the gradients file's metadata.
    const config = JSON.parse(parseSafetensors(Deno.readFileSync(GRADIENTS)).metadata.config).sr;
    const { state, modelPath } = await train(
      folder,
      SR,
      {
        recipe: "super-resolution",
        config,
        image_size: 32,
        low_res_size: 8,
        lr: 1e-4,
      },
      false,
      2,
    );
    const { model } = await loadSuperResolution(undefined, modelPath);
    assert.deepEqual(model.weights.get("init_conv.weight").data, state.params.get("init_conv.weight"));
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("latent model file from fresh weights also serves as its autoencoder", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const autoencoderPath = join(REPO_ROOT, "weights", "test", "autoencoder.safetensors");
    const data = await writeTinyDataset(join(folder, "data"));
    const settings = parseTrainPipeline({
      cheff: 1,
      models: { ae: autoencoderPath },
      train: {
        recipe: "latent-diffusion",
        autoencoder: "ae",
        config: {
          scale_factor: 0.5,
          unet_config: {
            image_size: 16, in_channels: 3, out_channels: 3, model_channels: 32, attention_resolutions: [],
            num_res_blocks: 1, channel_mult: [1], num_head_channels: 32,
          },
        },
        data,
        image_size: 64,
        batch_size: 1,
        steps: 1,
        lr: 1e-4,
        output: join(folder, "out"),
      },
    }, join(folder, "pipeline.json"));
    await runTraining(await getGpu(), settings);
    const modelPath = join(settings.output, MODEL_FILE);
    const fromModel = await loadAutoencoder(undefined, modelPath);
    const original = await loadAutoencoder(undefined, autoencoderPath);
    assert.deepEqual(fromModel.model.config, original.model.config);
    assert.deepEqual(
      fromModel.model.weights.get("decoder.conv_out.weight").data,
      original.model.weights.get("decoder.conv_out.weight").data,
    );
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("a fresh token table larger than the chunk limit goes up in row chunks", async () => {
  const settings = await readTrainPipeline(join(REPO_ROOT, "pipelines", "builtin", "ldm-findings.json"), {
    data: "unused/index.json",
    output: "unused",
  });
  // The built-in findings model's table is 30522 × 32 float32 values, 3.9 MB: four chunks of at most 1 MiB.
  const setup = await createSetup(await getGpu(), settings, { tableChunkBytes: 2 ** 20 });
  try {
    const table = setup.trainable.get("cond_stage_model.transformer.token_emb.weight")!;
    assert.ok("chunks" in table, "the table is split");
    assert.equal(table.chunks.length, 4);
    assert.deepEqual(table.shape, [30522, 32]);
  } finally {
    setup.release();
  }
});

kitTest(
  "a separate autoencoder without a stored config is refused with a way to store one",
  [UNCOND, referencePath("ae.pt")],
  async () => {
    const settings = parseTrainPipeline({
      cheff: 1,
      models: { start: UNCOND, ae: referencePath("ae.pt") },
      train: {
        recipe: "latent-diffusion",
        model: "start",
        autoencoder: "ae",
        data: "index.json",
        image_size: 64,
        batch_size: 1,
        steps: 1,
        lr: 1e-4,
        output: "unused",
      },
    }, "/tmp/pipeline.json");
    await assert.rejects(
      () => createSetup(undefined, settings),
      /ae\.pt: the file stores no config .*; store one in it first \(cheff convert FILE --out NEW\.safetensors --config CONFIG\.json\)/,
    );
  },
);
