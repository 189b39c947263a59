/** Runs `cheff train` as a user would, through cli/main.ts in a subprocess, on a tiny autoencoder. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { trainCommand } from "../../cli/train.ts";
import { serializeSafetensors } from "../../io/safetensors.ts";
import { exists, REPO_ROOT } from "../kit.ts";
import {
  adversarialPipeline,
  tinyAutoencoderPipeline,
  writeLpipsFile,
  writeTinyDataset,
} from "../train/helpers.ts";

const MAIN = join(REPO_ROOT, "cli", "main.ts");

async function cheff(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: REPO_ROOT,
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? Deno.makeTempDirSync() },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await command.output();
  return { code, stdout: new TextDecoder().decode(stdout), stderr: new TextDecoder().decode(stderr) };
}

Deno.test("train help has an example", () => {
  assert.match(trainCommand.help, /Examples?:\n\s+cheff train /);
  assert.match(trainCommand.help, /--resume/);
});

Deno.test("cheff train stops, resumes and logs each step", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const data = await writeTinyDataset(join(folder, "data"));
    const pipeline = join(folder, "train.json");
    await Deno.writeTextFile(
      pipeline,
      JSON.stringify(tinyAutoencoderPipeline("data/index.json", "run", { steps: 3, save_every: 10 })),
    );

    const first = await cheff(["train", pipeline, "--cpu", "--steps", "2"]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /step 2\/2, .*run step 2\/3, loss [0-9.e+-]+, /);
    assert.match(first.stderr, /saved step 2/, "stopping with --steps saves between save_every steps");

    const again = await cheff(["train", pipeline, "--cpu"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^cheff: .*pass --resume/m);
    const overwrite = await cheff(["train", pipeline, "--cpu", "--overwrite"]);
    assert.equal(overwrite.code, 1);
    assert.match(overwrite.stderr, /^cheff: train: --overwrite is not used/m);

    const resumed = await cheff(["train", pipeline, "--cpu", "--resume"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming from step 2 of 3/);

    const log = (await Deno.readTextFile(join(folder, "run", "log.jsonl"))).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(log.map((entry) => entry.step), [1, 2, 3]);
    for (const entry of log) {
      assert.ok(Number.isFinite(entry.loss), `loss ${entry.loss}`);
      assert.ok(entry.loss > 0, `loss ${entry.loss}`);
      assert.ok(entry.imagesPerSecond > 0);
      assert.ok("rec" in entry, "the reconstruction term is logged");
      assert.ok("kl" in entry, "the KL term is logged");
    }
    const state = JSON.parse(await Deno.readTextFile(join(folder, "run", "state.json")));
    assert.equal(state.step, 3);
    assert.equal(state.position, 6);
    assert.equal(data, join(folder, "data", "index.json"));
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("cheff train rejects an invalid pipeline in one line", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const pipeline = join(folder, "bad.json");
    await Deno.writeTextFile(pipeline, JSON.stringify({ cheff: 1, train: { recipe: "autoencoder" } }));
    const run = await cheff(["train", pipeline, "--cpu"]);
    assert.equal(run.code, 1);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert.match(run.stderr, /bad\.json: \$\.train/);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("cheff train removes its new output folder after a missing image", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const data = await writeTinyDataset(join(folder, "data"));
    for (const name of ["000000", "000001", "000002"]) {
      await Deno.remove(join(folder, "data", "00", `${name}.png`));
    }
    const pipeline = join(folder, "train.json");
    await Deno.writeTextFile(pipeline, JSON.stringify(tinyAutoencoderPipeline(data, "runs/first")));

    const run = await cheff(["train", pipeline, "--cpu"]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /^cheff: .*00000[012]\.png/m);
    assert.ok(!exists(join(folder, "runs")), "the folders the run created are removed");

    await Deno.mkdir(join(folder, "kept"));
    await Deno.writeTextFile(pipeline, JSON.stringify(tinyAutoencoderPipeline(data, "kept")));
    assert.equal((await cheff(["train", pipeline, "--cpu"])).code, 1);
    assert.ok(exists(join(folder, "kept")), "a folder that existed before is kept");
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("cheff train logs the perceptual and adversarial terms, and names a file without LPIPS weights", async () => {
  const folder = await Deno.makeTempDir();
  try {
    await writeTinyDataset(join(folder, "data"));
    await writeLpipsFile(folder);
    const pipeline = join(folder, "train.json");
    await Deno.writeTextFile(
      pipeline,
      JSON.stringify(adversarialPipeline("data/index.json", "lpips.safetensors", "run", { steps: 2 })),
    );
    const run = await cheff(["train", pipeline, "--cpu"]);
    assert.equal(run.code, 0, run.stderr);
    const log = (await Deno.readTextFile(join(folder, "run", "log.jsonl"))).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(log.map((entry) => entry.step), [1, 2]);
    assert.ok(log[0].p > 0, JSON.stringify(log[0]));
    assert.equal(log[0].disc, undefined, JSON.stringify(log[0]));
    assert.ok(log[1].p > 0, JSON.stringify(log[1]));
    assert.ok(log[1].disc > 0, JSON.stringify(log[1]));
    assert.ok(log[1].d_weight > 0, JSON.stringify(log[1]));

    // A weights file without LPIPS in it: one line naming the file, and no output folder.
    await Deno.writeFile(
      join(folder, "empty.safetensors"),
      new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, ...new TextEncoder().encode("{}      ")]),
    );
    await Deno.writeTextFile(
      pipeline,
      JSON.stringify(adversarialPipeline("data/index.json", "empty.safetensors", "run2", { steps: 1 })),
    );
    const bad = await cheff(["train", pipeline, "--cpu"]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
    assert.match(
      bad.stderr,
      /empty\.safetensors: no LPIPS weights; expected loss\.perceptual_loss\.net\.slice1\.0\.weight/,
    );
    assert.equal(exists(join(folder, "run2")), false, "no output folder is left behind");
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("cheff train refuses recorded draws for a recipe other than latent diffusion", async () => {
  const folder = await Deno.makeTempDir();
  try {
    await writeTinyDataset(join(folder, "data"));
    const pipeline = join(folder, "train.json");
    await Deno.writeTextFile(pipeline, JSON.stringify(tinyAutoencoderPipeline("data/index.json", "run")));
    const draws = join(folder, "draws.safetensors");
    const noise = { shape: [1, 2, 2, 4, 4], data: new Float32Array(64) };
    await Deno.writeFile(
      draws,
      serializeSafetensors({
        t: { shape: [1, 2], data: Int32Array.of(1, 2) },
        noise,
        posterior_noise: noise,
      }),
    );
    const run = await cheff(["train", pipeline, "--cpu", "--draws", draws]);
    assert.equal(run.code, 1);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert.match(run.stderr, /train: --draws replays the draws of latent-diffusion training only; this pipeline.s recipe is autoencoder/);
    assert.equal(exists(join(folder, "run")), false, "no output folder is left behind");
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});
