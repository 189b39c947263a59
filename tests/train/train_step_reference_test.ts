/**
 * One training step of the unconditional latent-diffusion model against the
 * reference kit's recorded step: the noised latents, the loss and the gradients.
 * Then AdamW from fresh moments, at the released lr and at lr 1e-3 (where weight
 * decay and bias correction are far above float32 resolution), and the EMA
 * update with its warm-up decay.
 */
import assert from "node:assert/strict";
import { Tensor } from "../../gpu/tensor.ts";
import { type HostTensor, parseSafetensors } from "../../io/safetensors.ts";
import { loadAutoencoder } from "../../stages/autoencoder/load.ts";
import { emaKey, loadUNet } from "../../stages/latent/load.ts";
import { readModelFile } from "../../stages/load.ts";
import { latentSchedule } from "../../stages/schedules/latent.ts";
import { Tape } from "../../train/autograd.ts";
import { Ema } from "../../train/ema.ts";
import { adamW, ParameterStore } from "../../train/optim.ts";
import { latentDiffusionStep } from "../../train/recipes/latent.ts";
import { kitTest, referencePath } from "../kit.ts";
import { UNet } from "../../stages/latent/unet.ts";

const STEP = referencePath("train_step.safetensors");
const UNCOND = referencePath("ldm_uncond.pt");
const PREFIX = "model.diffusion_model.";

/** Tensors the reference kit lists as float32 rounding noise (zero in exact arithmetic). */
const ROUNDING_NOISE = new Set([
  "input_blocks.1.0.emb_layers.1.bias",
  "input_blocks.1.0.emb_layers.1.weight",
  "input_blocks.1.0.in_layers.2.bias",
  "output_blocks.7.0.emb_layers.1.bias",
  "output_blocks.7.0.emb_layers.1.weight",
  "output_blocks.7.0.in_layers.2.bias",
  "output_blocks.7.0.out_layers.3.bias",
  "output_blocks.7.0.skip_connection.bias",
]);

let cached: { tensors: Map<string, HostTensor>; metadata: Record<string, string> } | undefined;
function reference() {
  cached ??= parseSafetensors(Deno.readFileSync(STEP), STEP);
  return cached;
}

function values(name: string): Float32Array {
  const t = reference().tensors.get(name);
  if (!t) throw new Error(`train_step.safetensors has no ${name}`);
  return t.data as Float32Array;
}

function scalar(name: string): number {
  return Number((reference().tensors.get(name)!.data as ArrayLike<number | bigint>)[0]);
}

function parameterNames(): string[] {
  return (JSON.parse(reference().metadata.params) as string[]).map((name) => name.slice(PREFIX.length));
}

function maxAbs(v: Float32Array): number {
  let m = 0;
  for (const x of v) m = Math.max(m, Math.abs(x));
  return m;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

function assertScaled(actual: Float32Array, expected: Float32Array, tolerance: number, what: string): number {
  const error = maxDiff(actual, expected) / maxAbs(expected);
  assert.ok(error <= tolerance, `${what}: error ${error.toExponential(2)} of scale exceeds ${tolerance}`);
  return error;
}

function update(after: Float32Array, before: Float32Array): Float32Array {
  return after.map((v, i) => v - before[i]);
}

kitTest("latent diffusion step matches the reference loss and gradients", [STEP, UNCOND], async () => {
  const file = await readModelFile(UNCOND);
  const config = JSON.parse(reference().metadata.config);
  const { model: unet, config: ldm } = await loadUNet(undefined, file, { config });
  const { model: autoencoder } = await loadAutoencoder(undefined, UNCOND);
  const network = new UNet(unet.config, unet.weights);
  const schedule = latentSchedule();

  const names = parameterNames();
  const tape = new Tape();
  for (const name of unet.weights.tensors.keys()) tape.watch(unet.weights.get(name));
  const images = Tensor.host([2, 3, 64, 64], Float32Array.from(values("batch.img")));
  const t = Array.from(reference().tensors.get("batch.t")!.data as BigInt64Array, Number);
  const result = await latentDiffusionStep(
    tape,
    {
      autoencoder,
      unet: network,
      scaleFactor: ldm.scaleFactor,
      sqrtAlphasCumprod: schedule.sqrtAlphasCumprod,
      sqrtOneMinusAlphasCumprod: schedule.sqrtOneMinusAlphasCumprod,
    },
    images,
    { posteriorNoise: values("batch.posterior_noise"), noise: values("batch.noise"), t },
  );

  assertScaled(result.x0, values("batch.x0"), 1e-5, "x0");
  assertScaled(result.xNoisy, values("batch.x_noisy"), 1e-5, "x_noisy");
  assertScaled(result.modelOut, values("batch.model_out"), 1e-5, "model output");
  const lossError = Math.abs(result.loss - scalar("loss")) / Math.abs(scalar("loss"));
  assert.ok(lossError <= 1e-5, `loss ${result.loss} vs ${scalar("loss")}`);

  const networkScale = Math.max(...names.map((name) => maxAbs(values(`grad.${PREFIX}${name}`))));
  let worst = 0;
  for (const name of names) {
    const ours = result.grads.get(unet.weights.get(name))?.data;
    assert.ok(ours, `no gradient for ${name}`);
    const expected = values(`grad.${PREFIX}${name}`);
    if (ROUNDING_NOISE.has(name)) {
      assert.ok(maxDiff(ours, expected) <= 1e-6 * networkScale, `${name}: over the rounding-noise bound`);
    } else {
      worst = Math.max(worst, assertScaled(ours, expected, 1e-3, `grad ${name}`));
    }
  }
  console.log(`loss error ${lossError.toExponential(2)}, worst gradient ${worst.toExponential(2)} of scale`);
  tape.release();
});

kitTest("AdamW step from fresh moments matches the reference", [STEP], async () => {
  const names = parameterNames();
  const tensors = new Map(names.map((name) => [
    name,
    Tensor.host(
      reference().tensors.get(`before.${PREFIX}${name}`)!.shape,
      Float32Array.from(values(`before.${PREFIX}${name}`)),
    ),
  ]));
  const grads = new Map(names.map((name) => [name, values(`grad.${PREFIX}${name}`)]));

  const store = await ParameterStore.from(tensors);
  const optimizer = adamW(store, { lr: scalar("optim.lr") });
  optimizer.apply(grads);
  for (const name of names) {
    assertScaled(
      tensors.get(name)!.data,
      values(`after_adamw.${PREFIX}${name}`),
      1e-6,
      `after_adamw ${name}`,
    );
  }

  const hiLr = JSON.parse(reference().metadata.hi_lr) as { lr: number; params: string[] };
  let worst = 0;
  for (const full of hiLr.params) {
    const name = full.slice(PREFIX.length);
    const before = values(`before.${full}`);
    const single = new Map([[name, Tensor.host([before.length], Float32Array.from(before))]]);
    const hi = adamW(await ParameterStore.from(single), { lr: hiLr.lr });
    hi.apply(new Map([[name, values(`grad.${full}`)]]));
    const ours = update(single.get(name)!.data, before);
    const expected = update(values(`after_adamw_hi_lr.${full}`), before);
    worst = Math.max(worst, assertScaled(ours, expected, 1e-3, `after_adamw_hi_lr ${name}`));
  }
  console.log(`AdamW at lr ${hiLr.lr}: worst update error ${worst.toExponential(2)} of scale`);
});

kitTest("AdamW weight decay changes the high-lr update", [STEP], async () => {
  // Without decoupled weight decay the hi-lr updates must miss the reference, or the check above proves nothing.
  const hiLr = JSON.parse(reference().metadata.hi_lr) as { lr: number; params: string[] };
  const full = hiLr.params.find((name) => name.endsWith("time_embed.0.weight"))!;
  const before = values(`before.${full}`);
  const single = new Map([["p", Tensor.host([before.length], Float32Array.from(before))]]);
  const plain = adamW(await ParameterStore.from(single), { lr: hiLr.lr, weightDecay: 0 });
  plain.apply(new Map([["p", values(`grad.${full}`)]]));
  const expected = update(values(`after_adamw_hi_lr.${full}`), before);
  const error = maxDiff(update(single.get("p")!.data, before), expected) / maxAbs(expected);
  assert.ok(error > 1e-3, `an update without weight decay is within ${error.toExponential(2)}`);
});

kitTest("EMA update with warm-up decay matches the reference", [STEP, UNCOND], async () => {
  const file = await readModelFile(UNCOND);
  const names = parameterNames();
  const shadows = new Map(names.map((name) => [name, file.state.get(emaKey(name))!.data as Float32Array]));
  const numUpdates = Number(file.state.get("model_ema.num_updates")!.data[0]);
  const decay = Number(file.state.get("model_ema.decay")!.data[0]);
  assert.equal(numUpdates, scalar("ema.num_updates_before"));

  const ema = new Ema(shadows, decay, numUpdates);
  const decayUsed = ema.update(new Map(names.map((name) => [name, values(`after_adamw.${PREFIX}${name}`)])));
  assert.equal(decayUsed, scalar("ema.decay_used"));
  assert.equal(ema.numUpdates, scalar("ema.num_updates"));
  for (const name of names) {
    assertScaled(ema.shadows.get(name)!, values(`ema.${PREFIX}${name}`), 1e-6, `ema ${name}`);
  }
});
