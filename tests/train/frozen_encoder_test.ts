/**
 * Autoencoder training with `train_encoder: false`: the decoder gets the same
 * gradients as in joint training, the encoder none, and a run leaves the
 * encoder's weights (and so every latent) exactly as they were.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { getGpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { loadAutoencoder } from "../../stages/autoencoder/load.ts";
import { parseTrainPipeline } from "../../train/pipeline.ts";
import { autoencoderStep, drawPosteriorNoise } from "../../train/recipes/autoencoder.ts";
import { MODEL_FILE, runTraining } from "../../train/runner.ts";
import { Tape } from "../../train/autograd.ts";
import { assertClose, randomValues } from "../kernels/helpers.ts";
import { REPO_ROOT } from "../kit.ts";
import { writeTinyDataset } from "./helpers.ts";

const AUTOENCODER = join(REPO_ROOT, "weights", "test", "autoencoder.safetensors");
const isEncoder = (name: string) => /^(encoder|quant_conv)\./.test(name);

/** Parses an autoencoder training pipeline whose train section has `train` merged in. */
function parse(train: Record<string, unknown>) {
  const pipeline = {
    cheff: 1,
    models: { start: AUTOENCODER },
    train: {
      recipe: "autoencoder",
      model: "start",
      data: "index.json",
      image_size: 64,
      batch_size: 1,
      steps: 1,
      lr: 1e-4,
      output: "out",
      ...train,
    },
  };
  return parseTrainPipeline(pipeline, "/tmp/p.json");
}

Deno.test("a frozen encoder gets no gradient and the decoder the one joint training gives it", async () => {
  const gpu = await getGpu();
  const { model } = await loadAutoencoder(gpu, AUTOENCODER);
  const images = Tensor.from(gpu, [2, 3, 64, 64], randomValues(2 * 3 * 64 * 64, 7));
  const noise = (latentSize: number) => drawPosteriorNoise(0, 3, [0, 1], latentSize);
  const params = [...model.weights.tensors].filter(([name]) => !name.includes("#"));

  const gradients = async (frozen: boolean) => {
    const tape = new Tape();
    for (const [name, t] of params) if (!frozen || !isEncoder(name)) tape.watch(t);
    const result = await autoencoderStep(tape, model, images, noise, {
      klWeight: 1e-6,
      frozenEncoder: frozen ? model : undefined,
    });
    const out = new Map<string, Float32Array>();
    for (const [name, t] of params) {
      const g = result.grads.get(t);
      if (g) out.set(name, await g.read());
    }
    result.grads.release();
    tape.release();
    return { loss: result.loss, grads: out };
  };
  const joint = await gradients(false);
  const frozen = await gradients(true);

  assert.equal(frozen.loss, joint.loss, "the same posterior, sample and reconstruction");
  const decoderNames = params.map(([name]) => name).filter((name) => !isEncoder(name));
  assert.deepEqual([...frozen.grads.keys()].sort(), decoderNames.sort(), "gradients reach the decoder only");
  assert.ok([...joint.grads.keys()].some(isEncoder), "joint training reaches the encoder");
  for (const name of decoderNames) assertClose(frozen.grads.get(name)!, joint.grads.get(name)!, 1e-6, name);
  images.release();
});

Deno.test("training with train_encoder false keeps the encoder's weights and changes the decoder's", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const settings = parseTrainPipeline({
      cheff: 1,
      models: { start: AUTOENCODER },
      train: {
        recipe: "autoencoder",
        model: "start",
        data: await writeTinyDataset(join(folder, "data")),
        image_size: 64,
        batch_size: 1,
        steps: 2,
        lr: 1e-3,
        train_encoder: false,
        output: join(folder, "out"),
      },
    }, join(folder, "pipeline.json"));
    await runTraining(await getGpu(), settings);
    const before = (await loadAutoencoder(undefined, AUTOENCODER)).model.weights;
    const after = (await loadAutoencoder(undefined, join(settings.output, MODEL_FILE))).model.weights;
    const names = [...before.tensors.keys()].filter((name) => !name.includes("#"));
    assert.deepEqual(
      [...after.tensors.keys()].filter((name) => !name.includes("#")).sort(),
      [...names].sort(),
    );
    for (const name of names.filter(isEncoder)) {
      assert.deepEqual(after.get(name).data, before.get(name).data, `${name} is frozen`);
    }
    const changed = names.filter((name) => !isEncoder(name))
      .filter((name) => after.get(name).data.some((v, i) => v !== before.get(name).data[i]));
    assert.ok(changed.includes("decoder.conv_out.weight"), `decoder weights moved: ${changed.length}`);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("train_encoder is only for the autoencoder recipe and must be true or false", () => {
  assert.throws(
    () => parse({ train_encoder: "no" }),
    /\$\.train\.train_encoder: expected true or false, got "no"/,
  );
  assert.throws(
    () => parse({ recipe: "latent-diffusion", train_encoder: false }),
    /\$\.train\.train_encoder: only the autoencoder recipe has an encoder to train or freeze/,
  );
  const joint = parse({});
  const frozen = parse({ train_encoder: false });
  assert.equal(joint.trainEncoder, undefined);
  assert.equal(frozen.trainEncoder, false);
  assert.notEqual(frozen.hash, joint.hash, "a resume cannot switch the encoder between frozen and trained");
});

Deno.test("reconstruction_loss and lr_milestones are checked", () => {
  assert.equal(parse({ reconstruction_loss: "l2" }).reconstructionLoss, "l2");
  assert.throws(
    () => parse({ reconstruction_loss: "mse" }),
    /\$\.train\.reconstruction_loss: expected "l1" or "l2", got "mse"/,
  );
  assert.throws(
    () => parse({ recipe: "latent-diffusion", reconstruction_loss: "l2" }),
    /\$\.train\.reconstruction_loss: only the autoencoder recipe has a reconstruction loss/,
  );
  assert.deepEqual(parse({ lr_milestones: [100, 200], lr_gamma: 0.5 }).lrMilestones, [100, 200]);
  assert.throws(
    () => parse({ lr_milestones: [200, 100], lr_gamma: 0.5 }),
    /\$\.train\.lr_milestones: expected increasing/,
  );
  assert.throws(
    () => parse({ lr_milestones: [100] }),
    /\$\.train\.lr_gamma: missing; lr_milestones needs the factor/,
  );
  assert.throws(
    () => parse({ lr_gamma: 0.5 }),
    /\$\.train\.lr_milestones: missing; lr_gamma needs the steps/,
  );
  assert.throws(() => parse({ train_encoder: null }), /\$\.train\.train_encoder: expected true or false, got null/);
  assert.throws(
    () => parse({ train_encoder: false, model: undefined, config: {} }),
    /\$\.train\.train_encoder: false needs a trained model to start from/,
  );
  // A default spelled out is the same run as one left out, so a resume accepts either.
  assert.equal(parse({ train_encoder: true }).hash, parse({}).hash);
  assert.equal(parse({ reconstruction_loss: "l1" }).hash, parse({}).hash);
  assert.equal(parse({ lr_milestones: [], lr_gamma: 0.5 }).hash, parse({}).hash);
  assert.equal(parse({ lr_milestones: [100], lr_gamma: 1 }).hash, parse({}).hash);
  assert.notEqual(parse({ reconstruction_loss: "l2" }).hash, parse({}).hash);
});
