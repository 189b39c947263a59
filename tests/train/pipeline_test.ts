/**
 * Validation of a pipeline file's train section: defaults per recipe, paths
 * relative to the file, and one-line errors that name the field.
 */
import assert from "node:assert/strict";
import { CheffError } from "../../io/errors.ts";
import { parseTrainPipeline } from "../../train/pipeline.ts";

const BASE = {
  cheff: 1,
  models: { ldm: "models/ldm.pt" },
  train: {
    recipe: "latent-diffusion",
    model: "ldm",
    data: "data/index.json",
    image_size: 64,
    batch_size: 2,
    steps: 10,
    lr: 2e-6,
    output: "runs/ldm",
  },
};

function rejects(json: unknown, pattern: RegExp): void {
  assert.throws(
    () => parseTrainPipeline(json, "/p/pipe.json"),
    (e: Error) => e instanceof CheffError && pattern.test(e.message),
  );
}

Deno.test("latent diffusion defaults to AdamW with EMA", () => {
  const s = parseTrainPipeline(BASE, "/p/pipe.json");
  assert.equal(s.optimizer, "adamw");
  assert.equal(s.weightDecay, 0.01);
  assert.deepEqual(s.betas, [0.9, 0.999]);
  assert.equal(s.ema, true);
  assert.equal(s.emaDecay, 0.9999);
  assert.equal(s.flip, false);
  assert.equal(s.model, "/p/models/ldm.pt");
  assert.equal(s.data, "/p/data/index.json");
  assert.equal(s.output, "/p/runs/ldm");
});

Deno.test("autoencoder defaults to Adam with betas 0.5 and 0.9", () => {
  const s = parseTrainPipeline({ ...BASE, train: { ...BASE.train, recipe: "autoencoder" } }, "/p/pipe.json");
  assert.equal(s.optimizer, "adam");
  assert.deepEqual(s.betas, [0.5, 0.9]);
  assert.equal(s.weightDecay, 0);
  assert.equal(s.klWeight, 1e-6);
  assert.equal(s.ema, false);
});

Deno.test("pipeline errors name the field", () => {
  rejects({ ...BASE, cheff: 2 }, /\$\.cheff/);
  rejects({ ...BASE, train: undefined }, /\$\.train: missing/);
  rejects({ ...BASE, train: { ...BASE.train, recipe: "gan" } }, /\$\.train\.recipe: expected one of/);
  rejects({ ...BASE, train: { ...BASE.train, lr: -1 } }, /\$\.train\.lr: expected a positive number/);
  rejects({ ...BASE, train: { ...BASE.train, steps: 1.5 } }, /\$\.train\.steps/);
  rejects(
    { ...BASE, train: { ...BASE.train, model: "nope" } },
    /\$\.train\.model: 'nope' is not a name in \$\.models/,
  );
  rejects({ ...BASE, train: { ...BASE.train, batchsize: 2 } }, /\$\.train\.batchsize: unknown field/);
  rejects({ ...BASE, train: { ...BASE.train, model: undefined } }, /\$\.train: needs a model/);
  rejects({ ...BASE, train: { ...BASE.train, recipe: "super-resolution" } }, /\$\.train\.low_res_size/);
});

Deno.test("settings hash ignores paths but not settings", () => {
  const a = parseTrainPipeline(BASE, "/p/pipe.json");
  const moved = parseTrainPipeline(BASE, "/q/pipe.json", { output: "/elsewhere" });
  const changed = parseTrainPipeline({ ...BASE, train: { ...BASE.train, lr: 1e-5 } }, "/p/pipe.json");
  assert.equal(moved.hash, a.hash);
  assert.notEqual(changed.hash, a.hash);
  // A longer run continues a shorter one: the step count is not part of the hash.
  const longer = parseTrainPipeline({ ...BASE, train: { ...BASE.train, steps: 20 } }, "/p/pipe.json");
  assert.equal(longer.hash, a.hash);
  assert.notEqual(longer.hashWithSteps, a.hashWithSteps);
});

Deno.test("crop_size is for super-resolution only and fits the image", () => {
  const sr = { ...BASE.train, recipe: "super-resolution", low_res_size: 16 };
  rejects({ ...BASE, train: { ...BASE.train, crop_size: 32 } }, /\$\.train\.crop_size: only the super-resolution/);
  rejects({ ...BASE, train: { ...sr, crop_size: 128 } }, /\$\.train\.crop_size: expected at most image_size \(64\)/);
  rejects({ ...BASE, train: { ...sr, crop_size: 0 } }, /\$\.train\.crop_size: expected an integer ≥ 1/);
  const settings = parseTrainPipeline({ ...BASE, train: { ...sr, crop_size: 32 } }, "/p/pipe.json");
  assert.equal(settings.cropSize, 32);
  // Without crop_size the hash is the one runs made before crops existed carry.
  const whole = parseTrainPipeline({ ...BASE, train: sr }, "/p/pipe.json");
  assert.equal(whole.cropSize, undefined);
  assert.notEqual(whole.hash, settings.hash);
});

Deno.test("the perceptual and adversarial fields are checked, and absent ones leave the hash alone", () => {
  const autoencoder = (train: Record<string, unknown>) => ({
    ...BASE,
    models: { ae: "models/ae.pt", lpips: "models/cheff_autoencoder.pt" },
    train: { ...BASE.train, recipe: "autoencoder", model: "ae", ...train },
  });
  const parse = (train: Record<string, unknown>) => parseTrainPipeline(autoencoder(train), "/p/pipe.json");
  const s = parse({ perceptual: "lpips", disc_start: 5001 });
  assert.equal(s.perceptual, "/p/models/cheff_autoencoder.pt");
  assert.equal(s.perceptualWeight, 1);
  assert.deepEqual(s.discriminator, { start: 5001, weight: 0.5, ndf: 64, layers: 3 });
  assert.deepEqual(
    parse({ disc_start: 0, disc_weight: 0.8, disc_ndf: 8, disc_num_layers: 2 }).discriminator,
    { start: 0, weight: 0.8, ndf: 8, layers: 2 },
  );
  rejects(autoencoder({ perceptual: "vgg" }), /\$\.train\.perceptual: 'vgg' is not a name in \$\.models/);
  rejects(autoencoder({ perceptual_weight: 1 }), /\$\.train\.perceptual: missing; perceptual_weight needs/);
  rejects(
    autoencoder({ perceptual: "lpips", perceptual_weight: -1 }),
    /\$\.train\.perceptual_weight: expected a number ≥ 0, got -1/,
  );
  rejects(autoencoder({ disc_weight: 0.5 }), /\$\.train\.disc_start: missing; disc_weight needs the step/);
  rejects(autoencoder({ disc_start: -1 }), /\$\.train\.disc_start: expected an integer ≥ 0, got -1/);
  rejects(autoencoder({ disc_start: 0, disc_ndf: 0 }), /\$\.train\.disc_ndf: expected an integer ≥ 1, got 0/);
  rejects(
    { ...BASE, train: { ...BASE.train, disc_start: 0 } },
    /\$\.train\.disc_start: only the autoencoder recipe/,
  );
  rejects(
    { ...BASE, models: { ...BASE.models, lpips: "x.pt" }, train: { ...BASE.train, perceptual: "lpips" } },
    /\$\.train\.perceptual: only the autoencoder recipe/,
  );
  // The LPIPS file's path stays out of the hash; the terms themselves do not.
  const plain = parse({});
  assert.equal(plain.perceptual, undefined);
  assert.equal(plain.discriminator, undefined);
  assert.notEqual(parse({ perceptual: "lpips" }).hash, plain.hash);
  assert.notEqual(parse({ disc_start: 10 }).hash, plain.hash);
  assert.notEqual(parse({ disc_start: 10 }).hash, parse({ disc_start: 20 }).hash);
  assert.equal(
    parseTrainPipeline(
      {
        ...autoencoder({ perceptual: "lpips" }),
        models: { ae: "models/ae.pt", lpips: "elsewhere/lpips.pt" },
      },
      "/p/pipe.json",
    ).hash,
    parse({ perceptual: "lpips" }).hash,
  );
});
