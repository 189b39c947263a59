/**
 * `cheff generate` as a user runs it: a subprocess through cli/main.ts with the
 * reference kit's small models, compared byte for byte with the same chain as a
 * shell pipe of `cheff diffuse`, `cheff encode` and `cheff decode`; shards and
 * reports files from the command line; and broken pipeline files, each one
 * line on stderr with its JSON path, exit status 1 and no output folder.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { encodePng } from "../../io/image/write.ts";
import { exists, kitTest, REFERENCE_DIR, referencePath, REPO_ROOT } from "../kit.ts";
import { assertFailsWith, assertOk, runCli } from "./run.ts";

const UNCOND = referencePath("ldm_uncond.pt");
const T2I = referencePath("ldm_t2i.pt");
const SR = referencePath("sr.pt");
const EXAMPLES = join(REPO_ROOT, "pipelines", "examples");
const IMAGE = join(REPO_ROOT, "tests", "fixtures", "images", "nih_00000001_001_64.png");
const dir = Deno.makeTempDirSync({ prefix: "cheff-generate-cli-" });

function pngFiles(folder: string): string[] {
  return [...Deno.readDirSync(folder)].map((e) => e.name).filter((n) => n.endsWith(".png")).sort();
}

kitTest("generate matches diffuse | decode byte for byte", [UNCOND], async () => {
  const out = join(dir, "uncond");
  assertOk(await runCli(["generate", join(EXAMPLES, "uncond-64.json"), "--models", REFERENCE_DIR, "--out", out, "--count", "2", "--seed", "5", "-q"]));
  assert.deepEqual(pngFiles(out), ["example-uncond-00000.png", "example-uncond-00001.png"]);

  const latent = await runCli(["diffuse", "--model", UNCOND, "--steps", "4", "--seed", "6", "-q"]);
  assertOk(latent);
  const piped = join(dir, "piped.png");
  assertOk(await runCli(["decode", "-", "--model", UNCOND, "--out", piped, "-q"], { stdin: latent.stdout }));
  assert.deepEqual(Deno.readFileSync(join(out, "example-uncond-00001.png")), Deno.readFileSync(piped));
});

kitTest("inpainting pipeline matches encode | diffuse | decode", [UNCOND], async () => {
  const out = join(dir, "inpaint");
  assertOk(await runCli(["generate", join(EXAMPLES, "device-removal-64.json"), "--models", REFERENCE_DIR, "--out", out, "--count", "1", "-q"]));

  const mask = join(EXAMPLES, "device-upper-right-64.png");
  const encoded = await runCli(["encode", IMAGE, "--model", UNCOND, "-q"]);
  assertOk(encoded);
  const inpainted = await runCli(["diffuse", "-", "--model", UNCOND, "--mask", mask, "--steps", "4", "--seed", "0", "-q"], {
    stdin: encoded.stdout,
  });
  assertOk(inpainted);
  const piped = join(dir, "inpainted.png");
  assertOk(await runCli(["decode", "-", "--model", UNCOND, "--out", piped, "-q"], { stdin: inpainted.stdout }));
  assert.deepEqual(Deno.readFileSync(join(out, "example-device-removal-00000.png")), Deno.readFileSync(piped));
});

kitTest("reports file and shard from the command line", [T2I], async () => {
  const reports = join(dir, "reports.txt");
  Deno.writeTextFileSync(reports, "No acute findings.\nSmall left pleural effusion.\nCardiomegaly.\n");
  const out = join(dir, "reports");
  const args = ["generate", join(EXAMPLES, "report-64.json"), "--models", REFERENCE_DIR, "--out", out, "--reports-file", reports];
  assertOk(await runCli([...args, "--shard", "1/2", "-q"]));
  assert.deepEqual(pngFiles(out), ["example-report-00001.png", "example-report-00002.png"]);
  const shard = JSON.parse(Deno.readTextFileSync(join(out, "manifest-shard-1-of-2.json"))).files;
  assert.deepEqual(shard.map((e: { report: string }) => e.report), ["Small left pleural effusion.", "Cardiomegaly."]);

  const rerun = await runCli([...args]);
  assertOk(rerun);
  assert.match(rerun.stderr, /1 image written to .*, 2 already there/);
  const all = JSON.parse(Deno.readTextFileSync(join(out, "manifest.json"))).files;
  assert.deepEqual(all.map((e: { seed: number }) => e.seed), [0, 1, 2]);
  assert.equal(all[0].report, "No acute findings.");
  assert.equal(pngFiles(out).length, 3);
});

kitTest("failed first batch leaves no output folder", [UNCOND, SR], async () => {
  const notImage = join(dir, "notes.png");
  Deno.writeTextFileSync(notImage, "not an image");
  const smallMask = join(dir, "mask-32.png");
  Deno.writeFileSync(smallMask, encodePng({ width: 32, height: 32, channels: 1, data: new Float32Array(32 * 32).fill(1) }));
  const cases: [string, string[], RegExp][] = [
    ["wrong-kind", [join(EXAMPLES, "uncond-64.json"), "--models", join(dir, "sr-as-uncond")], /not a latent-diffusion checkpoint/],
    [
      "report-unconditional",
      [join(EXAMPLES, "uncond-64.json"), "--reports-file", join(EXAMPLES, "reports.txt")],
      /the model is unconditional/,
    ],
    ["non-image-input", [join(EXAMPLES, "device-removal-64.json"), "--input", notImage], /notes\.png: not an image/],
    ["wrong-size-mask", [join(EXAMPLES, "device-removal-64.json"), "--mask", smallMask], /mask-32\.png: mask is 32×32/],
  ];
  // The unconditional pipeline names ldm_uncond.pt; in this folder that file contains a super-resolution model.
  Deno.mkdirSync(join(dir, "sr-as-uncond"));
  Deno.copyFileSync(SR, join(dir, "sr-as-uncond", "ldm_uncond.pt"));
  for (const [name, args, expected] of cases) {
    const out = join(dir, `failed-${name}`, "out");
    const run = await runCli(["generate", ...args, ...(args.includes("--models") ? [] : ["--models", REFERENCE_DIR]), "--out", out]);
    assert.equal(run.code, 1, `${name}: exit code ${run.code}, stderr: ${run.stderr}`);
    assert.match(run.stderr, expected, name);
    assert.ok(!exists(join(dir, `failed-${name}`)), `${name}: output folder ${out} was left behind`);
  }
});

Deno.test("broken pipeline files fail with one line", async () => {
  const models = Deno.makeTempDirSync({ dir, prefix: "models-" });
  Deno.writeFileSync(join(models, "ldm.pt"), new Uint8Array());
  const stages = [
    { plugin: "latent-diffusion", kind: "diffuse", model: "ldm", steps: 4 },
    { plugin: "autoencoder", kind: "decode", model: "ldm" },
  ];
  const valid = { cheff: 1, models: { ldm: "ldm.pt" }, stages };
  const cases: [string, string, RegExp][] = [
    ["not-json", '{"cheff": 1,', /not-json\.json: not valid JSON/],
    ["version", JSON.stringify({ ...valid, cheff: 3 }), /\$\.cheff: unsupported pipeline format version 3, expected 1/],
    ["unknown-field", JSON.stringify({ ...valid, sed: 4 }), /\$\.sed: unknown field/],
    ["unknown-plugin", JSON.stringify({ ...valid, stages: [{ ...stages[0], plugin: "vae" }, stages[1]] }), /\$\.stages\[0\]\.plugin: unknown plugin 'vae'/],
    ["wrong-kind", JSON.stringify({ ...valid, stages: [{ ...stages[0], kind: "sample" }, stages[1]] }), /\$\.stages\[0\]\.kind: plugin latent-diffusion has no kind 'sample'/],
    ["chain", JSON.stringify({ ...valid, stages: [stages[0], stages[1], stages[1]] }), /\$\.stages\[2\]: autoencoder decode takes latent, but the stage before gives image/],
    ["missing-model", JSON.stringify({ ...valid, models: { ldm: "cheff_diff_uncond.pt" } }), /\$\.models\.ldm: model file cheff_diff_uncond\.pt not found, expected at .*cheff_diff_uncond\.pt \(--models\)/],
    ["mask", JSON.stringify({ ...valid, mask: "device.png" }), /\$\.mask: a mask file .*device\.png not found/],
    ["steps", JSON.stringify({ ...valid, stages: [{ ...stages[0], steps: "10" }, stages[1]] }), /\$\.stages\[0\]\.steps: invalid value "10", expected an integer from 1 to 1000/],
  ];
  for (const [name, text, pattern] of cases) {
    const path = join(dir, `${name}.json`);
    Deno.writeTextFileSync(path, text);
    const out = join(dir, `out-${name}`);
    const run = await runCli(["generate", path, "--models", models, "--out", out]);
    assertFailsWith(run, pattern);
    assert.ok(!exists(out), `${name}: output folder ${out} was created`);
  }

  const missing = join(dir, "missing-env.json");
  Deno.writeTextFileSync(missing, JSON.stringify({ ...valid, models: { ldm: "cheff_diff_uncond.pt" } }));
  assertFailsWith(
    await runCli(["generate", missing, "--out", join(dir, "out-env")]),
    /cheff_diff_uncond\.pt not found, expected at .*beside the pipeline file\); pass --models DIR or set CHEFF_MODELS/,
  );
});
