/**
 * Pipeline files and the generation runner, in process: validation of every
 * shipped pipeline file and of broken ones, and generation with the reference
 * kit's small models (16×16 latents, 2 to 4 DDIM steps): shards, reruns,
 * manifests, provenance text chunks, reports and inpainting.
 */
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { sha256File } from "../../io/checkpoint/load.ts";
import { CheffError } from "../../io/errors.ts";
import { readPngText } from "../../io/image/write.ts";
import { gpuContext, ModelCache, type RunContext } from "../../plugins/context.ts";
import { batchItems, type ManifestEntry, parseShard, planItems, runGeneration, shardItems } from "../../plugins/generate.ts";
import { loadPipeline, type Pipeline, type PipelineOverrides } from "../../plugins/pipeline.ts";
import type { Plugin } from "../../plugins/plugin.ts";
import { exists, kitTest, REFERENCE_DIR, referencePath, REPO_ROOT } from "../kit.ts";

const UNCOND = referencePath("ldm_uncond.pt");
const T2I = referencePath("ldm_t2i.pt");
const PIPELINES = join(REPO_ROOT, "pipelines");
const dir = Deno.makeTempDirSync({ prefix: "cheff-generate-plugin-" });

let shared: RunContext | undefined;
let diffuseCalls = 0;

/** One context for every test, so each model loads once; it counts finished diffuse calls. */
async function context(): Promise<RunContext> {
  shared ??= await gpuContext((label, done, total) => {
    if (label === "diffuse" && done === total) diffuseCalls++;
  });
  return shared;
}

/** Writes a pipeline file into a fresh folder and returns its path. */
function pipelineFile(name: string, body: Record<string, unknown>): string {
  const folder = Deno.makeTempDirSync({ dir, prefix: `${name}-` });
  const path = join(folder, `${name}.json`);
  Deno.writeTextFileSync(path, JSON.stringify({ cheff: 1, ...body }));
  return path;
}

/** A two-stage unconditional pipeline on the kit's ldm_uncond.pt (the autoencoder inside it decodes). */
function uncondPipeline(name: string, extra: Record<string, unknown> = {}): string {
  return pipelineFile(name, {
    models: { ldm: "ldm_uncond.pt" },
    stages: [
      { plugin: "latent-diffusion", kind: "diffuse", model: "ldm", steps: 2 },
      { plugin: "autoencoder", kind: "decode", model: "ldm" },
    ],
    ...extra,
  });
}

function pngFiles(folder: string): string[] {
  return [...Deno.readDirSync(folder)].map((e) => e.name).filter((n) => n.endsWith(".png")).sort();
}

function manifest(folder: string, name = "manifest.json"): ManifestEntry[] {
  return JSON.parse(Deno.readTextFileSync(join(folder, name))).files;
}

async function run(path: string, overrides: PipelineOverrides, options: Parameters<typeof runGeneration>[2] = {}) {
  const pipeline = await loadPipeline(path, { modelsDir: REFERENCE_DIR, ...overrides });
  return await runGeneration(pipeline, await context(), options);
}

async function rejects(path: string, pattern: RegExp, overrides: PipelineOverrides = {}): Promise<void> {
  const load = loadPipeline(path, overrides);
  await assert.rejects(load, (error: Error) => {
    assert.ok(error instanceof CheffError, `expected a CheffError, got ${error}`);
    assert.doesNotMatch(error.message, /\n/);
    assert.match(error.message, pattern);
    return true;
  }, `${basename(path)} was accepted`);
}

Deno.test("parseShard accepts i/n and rejects others", () => {
  assert.deepEqual(parseShard("0/2"), { index: 0, count: 2 });
  assert.deepEqual(parseShard("3/4"), { index: 3, count: 4 });
  for (const bad of ["2/2", "1/0", "-1/2", "1", "a/b", "1/2/3"]) {
    assert.throws(() => parseShard(bad), CheffError, bad);
  }
});

Deno.test("shards partition the items contiguously", () => {
  const items = Array.from({ length: 7 }, (_, index) => ({ index, seed: index, file: `${index}` }));
  for (const n of [1, 2, 3, 7, 9]) {
    const parts = Array.from({ length: n }, (_, index) => shardItems(items, { index, count: n }));
    assert.deepEqual(parts.flat().map((i) => i.index), items.map((i) => i.index), `${n} shards`);
  }
});

Deno.test("batches hold consecutive indices only", () => {
  const items = [0, 1, 2, 4, 5, 6, 7].map((index) => ({ index, seed: index, file: `${index}` }));
  assert.deepEqual(batchItems(items, 2).map((b) => b.map((i) => i.index)), [[0, 1], [2], [4, 5], [6, 7]]);
  assert.deepEqual(batchItems(items, 8).map((b) => b.length), [3, 4]);
});

Deno.test("items run per input image, per report, count each", async () => {
  const models = Deno.makeTempDirSync({ dir });
  Deno.writeFileSync(join(models, "ldm.pt"), new Uint8Array());
  const image = join(REPO_ROOT, "tests", "fixtures", "images", "nih_00000001_001_64.png");
  const path = pipelineFile("items", {
    models: { ldm: "ldm.pt" },
    stages: [
      { plugin: "autoencoder", kind: "encode", model: "ldm" },
      { plugin: "latent-diffusion", kind: "diffuse", model: "ldm" },
      { plugin: "autoencoder", kind: "decode", model: "ldm" },
    ],
    input: { images: [image, image] },
    mask: join(PIPELINES, "examples", "device-upper-right-64.png"),
    conditioning: { reports: ["a", "b", "c"] },
    count: 2,
    seed: 10,
    output: { prefix: "x-" },
  });
  const items = planItems(await loadPipeline(path, { modelsDir: models }));
  assert.equal(items.length, 12);
  assert.deepEqual(items.map((i) => i.seed), Array.from({ length: 12 }, (_, i) => 10 + i));
  assert.deepEqual(items.slice(0, 6).map((i) => i.report), ["a", "a", "b", "b", "c", "c"]);
  assert.equal(items[11].file, "x-00011.png");
});

/**
 * Builds a one-stage pipeline whose plugin returns a 4×4 gray image per item
 * for the first `succeed` calls and then throws, as a stage does on a wrong
 * model kind or an unreadable input.
 */
function failingPipeline(output: string, succeed: number): Pipeline {
  let calls = 0;
  const plugin: Plugin = {
    name: "failing",
    description: "gives images, then fails",
    kinds: { make: { takes: [], gives: "image" } },
    presets: [],
    run(_kind, _input, settings) {
      if (calls++ >= succeed) return Promise.reject(new CheffError("failing: the stage rejected its input"));
      const count = settings.count as number;
      return Promise.resolve({
        kind: "image",
        tensor: { shape: [count, 1, 4, 4], data: new Float32Array(count * 16) },
        synthetic: true,
        models: {},
        history: [],
      } as unknown as Awaited<ReturnType<Plugin["run"]>>);
    },
  };
  return {
    path: join(dir, "failing.json"),
    stages: [{ plugin: "failing", kind: "make", settings: {}, where: "$.stages[0]" }],
    plugins: [plugin],
    inputs: [],
    count: 2,
    seed: 0,
    batchSize: 1,
    output: { dir: output, prefix: "", format: "png", bits: 8 },
  };
}

Deno.test("failed first batch removes the output folder it created", async () => {
  const context: RunContext = { gpu: undefined, models: new ModelCache() };
  const parent = Deno.makeTempDirSync({ dir, prefix: "failed-first-" });
  const output = join(parent, "new/out");
  await assert.rejects(runGeneration(failingPipeline(output, 0), context), /the stage rejected its input/);
  assert.ok(!exists(join(parent, "new")), "the folders the run created are removed");
  assert.ok(exists(parent), "the folder that existed before is kept");

  const existing = join(parent, "existing");
  Deno.mkdirSync(existing);
  await assert.rejects(runGeneration(failingPipeline(existing, 0), context), /the stage rejected its input/);
  assert.ok(exists(existing), "an output folder that existed before is kept");
});

Deno.test("failed later batch keeps the images already written", async () => {
  const context: RunContext = { gpu: undefined, models: new ModelCache() };
  const output = join(Deno.makeTempDirSync({ dir, prefix: "failed-later-" }), "out");
  await assert.rejects(runGeneration(failingPipeline(output, 1), context), /the stage rejected its input/);
  assert.deepEqual(pngFiles(output), ["00000.png"]);
});

Deno.test("shipped pipeline files validate", async () => {
  const models = Deno.makeTempDirSync({ dir, prefix: "models-" });
  const names = [
    "cheff_diff_uncond.pt",
    "cheff_diff_t2i.pt",
    "cheff_autoencoder.pt",
    "cheff_sr_fine.pt",
    "ldm_uncond.pt",
    "ldm_t2i.pt",
    "sr.pt",
  ];
  for (const name of names) Deno.writeFileSync(join(models, name), new Uint8Array());
  const files = [
    ...[...Deno.readDirSync(PIPELINES)].map((e) => join(PIPELINES, e.name)),
    ...[...Deno.readDirSync(join(PIPELINES, "examples"))].map((e) => join(PIPELINES, "examples", e.name)),
  ].filter((f) => f.endsWith(".json") && !basename(f).startsWith("train-") && !f.endsWith(".config.json"));
  for (const name of ["cheff-uncond-1024", "cheff-report-1024", "cheff-uncond-256", "cheff-report-256", "cheff-device-removal"]) {
    assert.ok(files.includes(join(PIPELINES, `${name}.json`)), `pipelines/${name}.json is missing`);
  }
  for (const file of files) {
    const pipeline = await loadPipeline(file, { modelsDir: models });
    assert.ok(pipeline.description, `${file} has no description`);
    for (const stage of pipeline.stages) {
      if (stage.model && !stage.model.startsWith(REPO_ROOT)) {
        assert.equal(stage.model, join(models, basename(stage.model)), `${file} ${stage.where}`);
      }
    }
  }
  const cascade = await loadPipeline(join(PIPELINES, "cheff-report-1024.json"), { modelsDir: models });
  assert.deepEqual(cascade.stages.map((s) => `${s.plugin} ${s.kind}`), [
    "latent-diffusion diffuse",
    "autoencoder decode",
    "super-resolution upscale",
  ]);
  assert.deepEqual(cascade.stages.map((s) => basename(s.model!)), ["cheff_diff_t2i.pt", "cheff_autoencoder.pt", "cheff_sr_fine.pt"]);
  const removal = await loadPipeline(join(PIPELINES, "cheff-device-removal.json"), { modelsDir: models });
  assert.ok(removal.mask?.endsWith("device-upper-right-256.png"));
  assert.equal(removal.diffusionStage, 1);
});

Deno.test("models resolve from CHEFF_MODELS, then the pipeline's folder", async () => {
  const models = Deno.makeTempDirSync({ dir, prefix: "env-models-" });
  Deno.writeFileSync(join(models, "cheff_diff_uncond.pt"), new Uint8Array());
  const path = pipelineFile("env", {
    models: { ldm: "cheff_diff_uncond.pt", ae: "beside.pt" },
    stages: [
      { plugin: "latent-diffusion", kind: "diffuse", model: "ldm" },
      { plugin: "autoencoder", kind: "decode", model: "ae" },
    ],
  });
  Deno.writeFileSync(join(path, "..", "beside.pt"), new Uint8Array());
  Deno.env.set("CHEFF_MODELS", models);
  try {
    const pipeline = await loadPipeline(path);
    assert.equal(pipeline.stages[0].model, join(models, "cheff_diff_uncond.pt"));
    assert.equal(pipeline.stages[1].model, join(path, "..", "beside.pt"));
  } finally {
    Deno.env.delete("CHEFF_MODELS");
  }
  await rejects(path, /\$\.models\.ldm: model file cheff_diff_uncond\.pt not found, expected at .*beside the pipeline file.*--models DIR or set CHEFF_MODELS/);
});

Deno.test("broken pipeline files are rejected by JSON path", async () => {
  const models = Deno.makeTempDirSync({ dir, prefix: "bad-models-" });
  Deno.writeFileSync(join(models, "ldm.pt"), new Uint8Array());
  const stages = [
    { plugin: "latent-diffusion", kind: "diffuse", model: "ldm", steps: 4 },
    { plugin: "autoencoder", kind: "decode", model: "ldm" },
  ];
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["version", { cheff: 2 }, /\$\.cheff: unsupported pipeline format version 2, expected 1/],
    ["top field", { colour: "red" }, /\$\.colour: unknown field/],
    ["stage field", { stages: [{ ...stages[0], stpes: 4 }, stages[1]] }, /\$\.stages\[0\]\.stpes: unknown setting for latent-diffusion diffuse/],
    ["output field", { output: { folder: "x" } }, /\$\.output\.folder: unknown field/],
    ["plugin", { stages: [{ ...stages[0], plugin: "upscaler" }, stages[1]] }, /\$\.stages\[0\]\.plugin: unknown plugin 'upscaler'/],
    ["kind", { stages: [stages[0], { ...stages[1], kind: "deocde" }] }, /\$\.stages\[1\]\.kind: plugin autoencoder has no kind 'deocde'/],
    ["chain", { stages: [stages[0], stages[0], stages[1]] }, /\$\.stages\[1\]: a second latent-diffusion diffuse stage/],
    ["no input", { stages: [{ ...stages[1], kind: "encode" }, stages[0], stages[1]] }, /\$\.stages\[0\]: autoencoder encode needs an input stream \(image\), but nothing comes before it/],
    ["inpainting mask", { input: { images: [join(REPO_ROOT, "tests", "fixtures", "images", "nih_00000001_001_64.png")] }, stages: [{ ...stages[1], kind: "encode" }, stages[0], stages[1]] }, /\$\.stages\[1\]: .*inpaints it and needs \$\.mask/],
    ["chain mismatch", { stages: [stages[0], stages[1], stages[1]] }, /\$\.stages\[2\]: autoencoder decode takes latent, but the stage before gives image/],
    ["first stage", { stages: [stages[1], stages[0]] }, /\$\.stages\[0\]: autoencoder decode needs an input stream \(latent\), but nothing comes before it/],
    ["last stage", { stages: [stages[0]] }, /\$\.stages\[0\]: the last stage gives a latent stream/],
    ["model", { models: { ldm: "missing.pt" } }, /\$\.models\.ldm: model file missing\.pt not found, expected at .*missing\.pt \(--models\)/],
    ["mask", { mask: "nowhere.png" }, /\$\.mask: a mask file .*nowhere\.png not found/],
    ["mask stage", { mask: join(PIPELINES, "examples", "device-upper-right-64.png") }, /\$\.mask: a mask needs a latent-diffusion diffuse stage that receives a latent/],
    ["steps", { stages: [{ ...stages[0], steps: 2.5 }, stages[1]] }, /\$\.stages\[0\]\.steps: invalid value 2\.5, expected an integer from 1 to 1000/],
    ["eta", { stages: [{ ...stages[0], eta: "1" }, stages[1]] }, /\$\.stages\[0\]\.eta: invalid value "1", expected a number ≥ 0/],
    ["seed in stage", { stages: [{ ...stages[0], seed: 3 }, stages[1]] }, /\$\.stages\[0\]\.seed: not a stage setting; the run's seed/],
    ["count", { count: 0 }, /\$\.count: invalid value 0, expected an integer ≥ 1/],
    ["conditioning", { conditioning: { report: "a", reports_file: "r.txt" } }, /\$\.conditioning: expected exactly one of/],
    ["bits", { output: { bits: 12 } }, /\$\.output\.bits: invalid value 12, expected 8 or 16/],
  ];
  for (const [name, change, pattern] of cases) {
    const path = pipelineFile(`bad-${name.replace(" ", "-")}`, { models: { ldm: "ldm.pt" }, stages, ...change });
    await rejects(path, pattern, { modelsDir: models });
  }
  const notJson = join(dir, "not-json.json");
  Deno.writeTextFileSync(notJson, '{"cheff": 1, "stages": [');
  await rejects(notJson, /not-json\.json: not valid JSON/);
});

kitTest("two shards give the unsharded run's files", [UNCOND], async () => {
  const path = uncondPipeline("shards", { count: 3, seed: 40 });
  const whole = join(dir, "shards-whole");
  const parts = join(dir, "shards-parts");
  await run(path, { out: whole, batchSize: 2 });
  const first = await run(path, { out: parts }, { shard: { index: 0, count: 2 } });
  const second = await run(path, { out: parts }, { shard: { index: 1, count: 2 } });

  assert.deepEqual(first.map((e) => e.index), [0]);
  assert.deepEqual(second.map((e) => e.index), [1, 2]);
  assert.deepEqual(pngFiles(parts), pngFiles(whole));
  assert.equal(pngFiles(whole).length, 3);
  for (const file of pngFiles(whole)) {
    assert.deepEqual(Deno.readFileSync(join(parts, file)), Deno.readFileSync(join(whole, file)), file);
  }
  assert.deepEqual(manifest(parts, "manifest-shard-1-of-2.json").map((e) => e.seed), [41, 42]);
});

kitTest("rerun skips finished images; overwrite regenerates", [UNCOND], async () => {
  const path = uncondPipeline("rerun", { count: 3, seed: 7 });
  const out = join(dir, "rerun");
  await run(path, { out });
  const before = Object.fromEntries(pngFiles(out).map((f) => [f, Deno.readFileSync(join(out, f))]));

  diffuseCalls = 0;
  const skipped = await run(path, { out });
  assert.equal(diffuseCalls, 0);
  assert.equal(skipped.length, 3);
  assert.deepEqual(manifest(out).map((e) => e.seed), [7, 8, 9]);

  Deno.removeSync(join(out, "cheff-00001.png"));
  diffuseCalls = 0;
  await run(path, { out });
  assert.equal(diffuseCalls, 1);
  assert.deepEqual(Deno.readFileSync(join(out, "cheff-00001.png")), before["cheff-00001.png"]);

  diffuseCalls = 0;
  await run(path, { out }, { overwrite: true });
  assert.equal(diffuseCalls, 3);
  for (const [file, bytes] of Object.entries(before)) assert.deepEqual(Deno.readFileSync(join(out, file)), bytes, file);

  await assert.rejects(run(path, { out, seed: 100 }), /cheff-00000\.png: exists from a run with other settings/);
});

kitTest("rerun rejects files from other settings", [UNCOND], async () => {
  const out = join(dir, "other-settings");
  await run(uncondPipeline("other-steps-a", { count: 1, seed: 2 }), { out });
  const before = Deno.readFileSync(join(out, "cheff-00000.png"));
  // The same seed with other sampler settings must not pass as finished.
  const changed = pipelineFile("other-steps-b", {
    models: { ldm: "ldm_uncond.pt" },
    stages: [
      { plugin: "latent-diffusion", kind: "diffuse", model: "ldm", steps: 3 },
      { plugin: "autoencoder", kind: "decode", model: "ldm" },
    ],
    count: 1,
    seed: 2,
  });
  await assert.rejects(run(changed, { out }), /cheff-00000\.png: exists from a run with other settings/);
  assert.deepEqual(Deno.readFileSync(join(out, "cheff-00000.png")), before);

  // A PNG that cheff did not write is never taken as output.
  const foreign = join(dir, "foreign");
  Deno.mkdirSync(foreign);
  Deno.copyFileSync(new URL("../fixtures/images/nih_00000001_001_64.png", import.meta.url).pathname, join(foreign, "cheff-00000.png"));
  await assert.rejects(run(uncondPipeline("foreign", { count: 1 }), { out: foreign }), /exists but was not written by cheff/);
});

kitTest("manifest and PNG text record seed, steps, models", [UNCOND], async () => {
  const path = uncondPipeline("manifest", { count: 2, seed: 3 });
  const out = join(dir, "manifest");
  await run(path, { out, batchSize: 2 });
  const hash = await sha256File(UNCOND);

  const entries = manifest(out);
  assert.deepEqual(entries.map((e) => e.file), ["cheff-00000.png", "cheff-00001.png"]);
  for (const [i, entry] of entries.entries()) {
    assert.equal(entry.seed, 3 + i);
    assert.equal(entry.report, null);
    assert.equal(entry.synthetic, true);
    assert.deepEqual(entry.models, { "latent-diffusion": hash, autoencoder: hash });

    const text = readPngText(Deno.readFileSync(join(out, entry.file)));
    assert.equal(text["cheff:seed"], String(3 + i));
    assert.equal(text["cheff:steps"], "2");
    assert.equal(text["cheff:synthetic"], "true");
    assert.deepEqual(JSON.parse(text["cheff:models"]), { "latent-diffusion": hash, autoencoder: hash });
    assert.deepEqual(JSON.parse(text["cheff:history"]), entry.history);
  }

  const csv = Deno.readTextFileSync(join(out, "manifest.csv")).trim().split("\n");
  assert.equal(csv[0], "file,index,seed,report,input,synthetic,model:autoencoder,model:latent-diffusion");
  assert.equal(csv[2], `cheff-00001.png,1,4,,,true,${hash},${hash}`);
});

kitTest("report lines give one image each, with their report", [T2I], async () => {
  const reports = join(dir, "reports.txt");
  const lines = ["No acute findings.", "Small left pleural effusion.", "Cardiomegaly, with a comma."];
  Deno.writeTextFileSync(reports, lines.join("\n") + "\n\n");
  const path = pipelineFile("reports", {
    models: { ldm: "ldm_t2i.pt" },
    stages: [
      { plugin: "latent-diffusion", kind: "diffuse", model: "ldm", steps: 2 },
      { plugin: "autoencoder", kind: "decode", model: "ldm" },
    ],
    batch_size: 3,
  });
  const out = join(dir, "reports");
  const entries = await run(path, { out, reportsFile: reports });
  assert.deepEqual(entries.map((e) => e.report), lines);
  assert.deepEqual(pngFiles(out), ["cheff-00000.png", "cheff-00001.png", "cheff-00002.png"]);
  const csv = Deno.readTextFileSync(join(out, "manifest.csv")).split("\n");
  assert.match(csv[3], /^cheff-00002\.png,2,2,"Cardiomegaly, with a comma\.",/);

  // Image 1 of the batch equals a run of its report alone with its seed.
  const alone = join(dir, "reports-alone");
  const single = pipelineFile("report-alone", {
    models: { ldm: "ldm_t2i.pt" },
    stages: [
      { plugin: "latent-diffusion", kind: "diffuse", model: "ldm", steps: 2 },
      { plugin: "autoencoder", kind: "decode", model: "ldm" },
    ],
    conditioning: { report: lines[1] },
    seed: 1,
  });
  await run(single, { out: alone });
  assert.deepEqual(Deno.readFileSync(join(alone, "cheff-00000.png")), Deno.readFileSync(join(out, "cheff-00001.png")));
  assert.notDeepEqual(Deno.readFileSync(join(out, "cheff-00000.png")), Deno.readFileSync(join(out, "cheff-00001.png")));
});

kitTest("inpainting example encodes, diffuses under the mask, decodes", [UNCOND], async () => {
  const out = join(dir, "inpaint");
  const entries = await run(join(PIPELINES, "examples", "device-removal-64.json"), { out, count: 1 });
  assert.equal(entries.length, 1);
  assert.equal(entries[0].input, "nih_00000001_001_64.png");
  const history = entries[0].history.map((h) => h.command);
  assert.deepEqual(history, ["read", "encode", "diffuse", "decode"]);
  assert.equal(entries[0].history[2].inpainting, "inpaint");
});
