import assert from "node:assert/strict";
import { join } from "node:path";
import { getGpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { resizeBicubic } from "../../kernels/resize.ts";
import { encodePng } from "../../io/image/write.ts";
import { imageToModelInput, loadImage } from "../../io/image/load.ts";
import { resizeShortSideAndCenterCrop } from "../../io/image/resize.ts";
import { parseSafetensors } from "../../io/safetensors.ts";
import { fid, kidSubsets } from "../../metrics/distribution.ts";
import { ssim } from "../../metrics/image.ts";
import { loadAutoencoder } from "../../stages/autoencoder/load.ts";
import { continueStream, parseStream } from "../../io/stream.ts";
import { gpuContext } from "../../plugins/context.ts";
import { superResolutionPlugin } from "../../plugins/super_resolution.ts";
import { dataPath, FIXTURES_DIR, kitTest, referencePath, REPO_ROOT } from "../kit.ts";
import { runCli } from "./run.ts";

const TEST_WEIGHTS = join(REPO_ROOT, "weights", "test", "autoencoder.safetensors");
const RADIOGRAPH = join(FIXTURES_DIR, "images", "nih_00000001_001_64.png");
const OTHER_RADIOGRAPH = join(FIXTURES_DIR, "images", "rg1_chest_12bit_crop64.png");
const NIH_64 = dataPath("cxr/nih-64");
const SR = referencePath("sr.pt");
const SR_IO = referencePath("sr_io.safetensors");

async function evaluate(args: string[]) {
  const result = await runCli(["evaluate", ...args, "--quiet"]);
  return { ...result, stdoutText: new TextDecoder().decode(result.stdout) };
}

/** Creates a folder with copies of the given images under the given names. */
async function folderOf(root: string, name: string, files: Record<string, string>): Promise<string> {
  const folder = join(root, name);
  await Deno.mkdir(folder);
  for (const [target, source] of Object.entries(files)) await Deno.copyFile(source, join(folder, target));
  return folder;
}

/** Converts item `item` of a decoded tensor [N, 3, size, size] to gray [0, 1]: luma of the channels, clamped. */
function decodedGray(decoded: Float32Array, item: number, size: number): Float32Array {
  const plane = size * size;
  const base = item * 3 * plane;
  const gray = new Float32Array(plane);
  for (let p = 0; p < plane; p++) {
    const luma = 0.299 * decoded[base + p] + 0.587 * decoded[base + plane + p] +
      0.114 * decoded[base + 2 * plane + p];
    gray[p] = Math.min(1, Math.max(0, (luma + 1) / 2));
  }
  return gray;
}

/** Decodes the posterior mean of an image with the test autoencoder, in this process. */
async function decodeDirectly(path: string, size: number): Promise<Float32Array> {
  const gpu = await getGpu();
  const { model } = await loadAutoencoder(gpu, TEST_WEIGHTS);
  const x = Tensor.from(gpu, [1, 3, size, size], imageToModelInput(await loadImage(path), size, 3));
  return await model.decode(model.encode(x).mean).read();
}

Deno.test("evaluate reconstruct matches a plain loop over the decoded outputs", async () => {
  const root = await Deno.makeTempDir({ prefix: "cheff-evaluate-reconstruct-" });
  try {
    const images = await folderOf(root, "images", { "a.png": RADIOGRAPH, "b.png": OTHER_RADIOGRAPH });
    const jsonPath = join(root, "result.json");
    const plotPath = join(root, "psnr.svg");
    const outputs = join(root, "outputs");
    const result = await evaluate([
      "reconstruct",
      images,
      "--autoencoder",
      TEST_WEIGHTS,
      "--json",
      jsonPath,
      "--plot",
      plotPath,
      "--save-outputs",
      outputs,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdoutText, /cheff: autoencoder\s+64 px\s+2\s/);
    assert.match(
      result.stdoutText,
      /paper: released autoencoder\s+256 px\s+-\s+0\.000500000\s+36\.8000\s+0\.992600/,
    );
    assert.match(
      result.stdoutText,
      /values Weber et al\. \(PAKDD 2023\) report for the released Cheff models/,
    );
    assert.match(await Deno.readTextFile(plotPath), /^<svg[^>]*>[\s\S]*PSNR per image: autoencoder/);

    const report = JSON.parse(await Deno.readTextFile(jsonPath));
    assert.equal(report.size, 64);
    assert.equal(report.srSize, null);
    assert.deepEqual(Object.keys(report.stages), ["autoencoder"]);
    assert.equal(report.paper.autoencoder[0].psnr, 36.8);
    const rows = report.stages.autoencoder.images;
    assert.deepEqual(rows.map((row: { name: string }) => row.name), ["a", "b"]);

    const saved = parseStream(
      await Deno.readFile(join(outputs, "autoencoder.safetensors")),
      "outputs",
      "image",
    );
    assert.deepEqual(saved.tensor.shape, [2, 3, 64, 64]);
    let psnrSum = 0;
    for (
      const [item, [row, path]] of ([[rows[0], RADIOGRAPH], [rows[1], OTHER_RADIOGRAPH]] as const).entries()
    ) {
      // The saved outputs are the test autoencoder's reconstructions (run again here, up to GPU rounding).
      const direct = await decodeDirectly(path, 64);
      const savedItem = saved.tensor.data.subarray(item * 3 * 64 * 64, (item + 1) * 3 * 64 * 64);
      const worst = Math.max(...direct.map((value, i) => Math.abs(value - savedItem[i])));
      assert.ok(worst < 1e-5, `saved output of ${row.name} differs from a direct decode by ${worst}`);

      const real = resizeShortSideAndCenterCrop(await loadImage(path), 64).data;
      const fake = decodedGray(saved.tensor.data, item, 64);
      let squares = 0;
      for (let i = 0; i < real.length; i++) squares += (real[i] - fake[i]) ** 2;
      const mse = squares / real.length;
      const psnr = 10 * Math.log10(1 / mse);
      psnrSum += psnr;
      assert.equal(row.mse, mse, `mse of ${row.name}`);
      assert.equal(row.psnr, psnr, `psnr of ${row.name}`);
      assert.equal(row.ssim, ssim(real, fake, { width: 64, height: 64 }), `ssim of ${row.name}`);
      assert.equal(row.msSsim, null, "MS-SSIM needs sides of 161 px");
    }
    assert.equal(report.stages.autoencoder.summary.psnr.mean, psnrSum / 2);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

kitTest("evaluate reconstruct adds super-resolution, bicubic and chain rows", [SR, SR_IO], async () => {
  const root = await Deno.makeTempDir({ prefix: "cheff-evaluate-sr-" });
  try {
    const images = await folderOf(root, "images", { "a.png": RADIOGRAPH });
    const srConfig = join(root, "sr.json");
    await Deno.writeTextFile(srConfig, parseSafetensors(await Deno.readFile(SR_IO)).metadata.unet);
    const jsonPath = join(root, "result.json");
    // The reference's small SR model upscales 16 → 64 px; one DDIM step keeps it to seconds.
    const result = await evaluate([
      "reconstruct",
      images,
      "--autoencoder",
      TEST_WEIGHTS,
      "--size",
      "16",
      "--sr",
      SR,
      "--sr-config",
      srConfig,
      "--sr-steps",
      "1",
      "--seed",
      "5",
      "--json",
      jsonPath,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdoutText, /cheff: super-resolution\s+64 px\s+1\s/);
    assert.match(result.stdoutText, /cheff: chain \(autoencoder \+ SR\)\s+64 px\s+1\s/);
    assert.match(
      result.stdoutText,
      /paper: released SR, fine-tuned\s+1024 px\s+-\s+0\.00260000\s+25\.7700\s+0\.951000/,
    );
    assert.match(
      result.stdoutText,
      /paper: released chain, base SR\s+1024 px\s+-\s+0\.00350000\s+24\.5900\s+0\.954000/,
    );
    const report = JSON.parse(await Deno.readTextFile(jsonPath));
    assert.equal(report.srSize, 64);
    assert.match(result.stdoutText, /cheff: bicubic upsampling \(baseline\)\s+64 px\s+1\s/);
    assert.deepEqual(Object.keys(report.stages), ["autoencoder", "superResolution", "bicubic", "chain"]);
    assert.match(report.models["super-resolution"], /^[0-9a-f]{64}$/);

    // The SR row against the upscale plugin run directly on the real 16 px image.
    const low = resizeShortSideAndCenterCrop(await loadImage(RADIOGRAPH), 16).data.map((v) => 2 * v - 1);
    const context = await gpuContext();
    const upscaled = await superResolutionPlugin.run(
      "upscale",
      continueStream(undefined, "image", { shape: [1, 1, 16, 16], data: low }, { command: "test" }),
      { model: SR, config: srConfig, steps: 1, seed: 5, size: 64, firstIndex: 0 },
      context,
    );
    const fake = upscaled.tensor.data.map((v) => Math.min(1, Math.max(0, (v + 1) / 2)));
    const real = resizeShortSideAndCenterCrop(await loadImage(RADIOGRAPH), 64).data;
    let squares = 0;
    for (let i = 0; i < real.length; i++) squares += (real[i] - fake[i]) ** 2;
    const row = report.stages.superResolution.images[0];
    assert.equal(row.mse, squares / real.length);
    assert.equal(row.ssim, ssim(real, fake, { width: 64, height: 64 }));

    // The bicubic row: the 16 px image upscaled by the PyTorch-compatible host bicubic (checked against the kit elsewhere), clamped.
    const bicubic = resizeBicubic(Tensor.host([1, 1, 16, 16], low), 64, 64).data
      .map((v) => Math.min(1, Math.max(0, (v + 1) / 2)));
    let bicubicSquares = 0;
    for (let i = 0; i < real.length; i++) bicubicSquares += (real[i] - bicubic[i]) ** 2;
    const bicubicRow = report.stages.bicubic.images[0];
    assert.ok(Math.abs(bicubicRow.mse - bicubicSquares / real.length) < 1e-9, `bicubic mse ${bicubicRow.mse}`);
    assert.ok(bicubicRow.mse < 0.01, "bicubic upsampling of a radiograph stays close to it");

    // --no-chain leaves out the chain row and keeps the others.
    const withoutChain = await evaluate([
      "reconstruct", images, "--autoencoder", TEST_WEIGHTS, "--size", "16", "--sr", SR, "--sr-config", srConfig,
      "--sr-steps", "1", "--seed", "5", "--no-chain", "--json", "-",
    ]);
    assert.equal(withoutChain.code, 0, withoutChain.stderr);
    const partial = JSON.parse(withoutChain.stdoutText.slice(withoutChain.stdoutText.indexOf("{")));
    assert.deepEqual(Object.keys(partial.stages), ["autoencoder", "superResolution", "bicubic"]);
    assert.equal(partial.stages.superResolution.images[0].mse, row.mse);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("evaluate memorisation flags an exact copy of a training image", async () => {
  const root = await Deno.makeTempDir({ prefix: "cheff-evaluate-memorisation-" });
  try {
    const training = await folderOf(root, "training", { "nih.png": RADIOGRAPH, "rg1.png": OTHER_RADIOGRAPH });
    const generated = await folderOf(root, "generated", { "copy.png": RADIOGRAPH });
    // A smooth synthetic image that resembles neither training image.
    const data = new Float32Array(64 * 64).map((_, i) =>
      0.5 + 0.4 * Math.sin((i % 64) / 5) * Math.cos(Math.floor(i / 64) / 7)
    );
    await Deno.writeFile(
      join(generated, "waves.png"),
      encodePng({ width: 64, height: 64, channels: 1, data: data.map((v) => 2 * v - 1) }),
    );
    const jsonPath = join(root, "memorisation.json");
    const result = await evaluate([
      "memorisation",
      generated,
      training,
      "--autoencoder",
      TEST_WEIGHTS,
      "--json",
      jsonPath,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdoutText, /\ncopy\s+nih\s+1\s+nih\s+0\s+yes/);
    assert.match(result.stdoutText, /\nwaves\s+\S+\s+\S+\s+\S+\s+\S+\s+no/);

    const report = JSON.parse(await Deno.readTextFile(jsonPath));
    assert.equal(report.threshold, 0.95);
    assert.equal(report.nearCopies, 1);
    assert.equal(report.features.space, "ae");
    assert.equal(report.features.dims, 192);
    const [copy, waves] = report.images;
    assert.equal(copy.name, "copy");
    assert.equal(copy.nearestBySsim, "nih");
    assert.equal(copy.ssim, 1);
    assert.equal(copy.nearestByFeatures, "nih");
    assert.equal(copy.featureDistance, 0);
    assert.equal(copy.nearCopy, true);
    assert.equal(waves.nearCopy, false);
    assert.ok(waves.ssim < 0.95, `waves SSIM ${waves.ssim}`);
    assert.ok(waves.featureDistance > 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

kitTest("evaluate fid and kid from autoencoder features of radiographs", [NIH_64], async () => {
  const root = await Deno.makeTempDir({ prefix: "cheff-evaluate-fid-" });
  try {
    const names = [...Deno.readDirSync(NIH_64)].map((entry) => entry.name).filter((name) =>
      name.endsWith(".png")
    ).sort();
    const pick = (from: number) =>
      Object.fromEntries(names.slice(from, from + 4).map((name) => [name, join(NIH_64, name)]));
    const real = await folderOf(root, "real", pick(0));
    const fake = await folderOf(root, "fake", pick(100));
    const saved = join(root, "features");
    const jsonPath = join(root, "result.json");
    const result = await evaluate([
      "features",
      real,
      fake,
      "--features",
      "ae",
      "--autoencoder",
      TEST_WEIGHTS,
      "--kid-subsets",
      "5",
      "--save-features",
      saved,
      "--json",
      jsonPath,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdoutText, /\nfid\s+\d/);
    const report = JSON.parse(await Deno.readTextFile(jsonPath));
    assert.equal(report.features, 192);
    assert.equal(report.featureSpace.space, "ae");

    const read = (role: string) => {
      const file = parseSafetensors(Deno.readFileSync(join(saved, `${role}.safetensors`)));
      const tensor = file.tensors.get("features")!;
      return { shape: tensor.shape, data: tensor.data as Float32Array };
    };
    const realFeatures = read("real");
    const fakeFeatures = read("fake");
    assert.deepEqual(realFeatures.shape, [4, 192]);
    assert.equal(report.fid.fid, fid(realFeatures, fakeFeatures));
    assert.ok(report.fid.fid > 0);
    assert.equal(report.kid.subsetSize, 4);
    // With subsets as large as the sets, every subset is the whole set in some order.
    const all = { fake: [0, 1, 2, 3], real: [0, 1, 2, 3] };
    const whole = kidSubsets(fakeFeatures, realFeatures, [all]).values[0];
    for (const value of report.kid.values) {
      assert.ok(Math.abs(value - whole) <= 1e-12 * Math.abs(whole), `subset ${value} vs ${whole}`);
    }

    // The first real feature vector: the posterior mean of the 16×16 latent, averaged over 2×2 blocks.
    const gpu = await getGpu();
    const { model } = await loadAutoencoder(gpu, TEST_WEIGHTS);
    const x = Tensor.from(
      gpu,
      [1, 3, 64, 64],
      imageToModelInput(await loadImage(join(NIH_64, names[0])), 64, 3),
    );
    const mean = await model.encode(x).mean.read();
    const expected = new Float32Array(192);
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 8; i++) {
        for (let j = 0; j < 8; j++) {
          let sum = 0;
          for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
            sum += mean[c * 256 + (2 * i + dy) * 16 + 2 * j + dx];
          }
          expected[c * 64 + i * 8 + j] = sum / 4;
        }
      }
    }
    const worst = Math.max(...expected.map((value, i) => Math.abs(value - realFeatures.data[i])));
    assert.ok(worst < 1e-6, `ae feature differs by ${worst}`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("evaluate subcommands print their own help", async () => {
  for (const subcommand of ["images", "reconstruct", "features", "fid", "kid", "memorisation"]) {
    const result = await runCli(["evaluate", subcommand, "--help"]);
    assert.equal(result.code, 0, result.stderr);
    const help = new TextDecoder().decode(result.stdout);
    assert.match(help, new RegExp(`^cheff evaluate ${subcommand} `), `help of ${subcommand}`);
    assert.match(
      help,
      new RegExp(`Examples?:\\n {2}cheff evaluate ${subcommand} `),
      `example of ${subcommand}`,
    );
  }
});

Deno.test("evaluate rejects bad input with one line", async () => {
  const root = await Deno.makeTempDir({ prefix: "cheff-evaluate-bad-" });
  try {
    const images = await folderOf(root, "images", { "a.png": RADIOGRAPH });
    const cases: [string[], RegExp][] = [
      [["reconstruct", images], /missing --autoencoder FILE/],
      [
        ["reconstruct", images, "--autoencoder", TEST_WEIGHTS, "--sr-steps", "2"],
        /--sr-steps needs --sr FILE/,
      ],
      [["reconstruct", images, "--autoencoder", TEST_WEIGHTS, "--no-chain"], /--no-chain needs --sr FILE/],
      [
        ["reconstruct", join(root, "nowhere"), "--autoencoder", TEST_WEIGHTS],
        /nowhere: folder or index file not found/,
      ],
      [["reconstruct", images, "--autoencoder", join(root, "missing.pt")], /missing\.pt/],
      [["memorisation", images, images, "--features", "ae"], /--features ae needs --autoencoder FILE/],
      [["fid", images, images], /is not a feature file, so its images need a feature space/],
      [["kid", images, images, "--features", "inception"], /--features inception needs --inception FILE/],
      [["fid", images, images, "--features", join(root, "inception.pth")], /inception\.pth/],
      [
        ["fid", images, images, "--plot", join(root, "kid.svg"), "--autoencoder", TEST_WEIGHTS],
        /--plot shows the KID subset values/,
      ],
    ];
    for (const [args, expected] of cases) {
      const result = await evaluate(args);
      assert.equal(result.code, 1, `${args.join(" ")} exited ${result.code}`);
      const lines = result.stderr.trim().split("\n").filter((line) => !line.includes("XDG_RUNTIME_DIR"));
      assert.equal(lines.length, 1, `${args.join(" ")} printed ${lines.length} lines: ${result.stderr}`);
      assert.match(lines[0], expected);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("evaluate warns when the real or training set is synthetic", async () => {
  const root = await Deno.makeTempDir({ prefix: "cheff-evaluate-synthetic-" });
  try {
    const image = await loadImage(RADIOGRAPH);
    const generated = encodePng(
      { width: image.width, height: image.height, channels: 1, data: Float32Array.from(image.data, (v) => 2 * v - 1) },
      { text: { "cheff:synthetic": "true" } },
    );
    const real = await folderOf(root, "real", { "a.png": RADIOGRAPH, "b.png": OTHER_RADIOGRAPH });
    const mixed = await folderOf(root, "mixed", { "b.png": OTHER_RADIOGRAPH });
    await Deno.writeFile(join(mixed, "a.png"), generated);
    const warning = /^cheff: warning: .*mixed: 1 of 2 images are synthetic \(PNG text cheff:synthetic=true\), e\.g\. .*mixed\/a\.png;/m;

    const asReal = await evaluate(["images", mixed, real]);
    assert.equal(asReal.code, 0, asReal.stderr);
    assert.match(asReal.stderr, warning);
    const asFake = await evaluate(["images", real, mixed]);
    assert.equal(asFake.code, 0, asFake.stderr);
    assert.doesNotMatch(asFake.stderr, /synthetic/, "a synthetic fake set is expected");

    const asTraining = await evaluate(["memorisation", real, mixed]);
    assert.equal(asTraining.code, 0, asTraining.stderr);
    assert.match(asTraining.stderr, warning);
    const asGenerated = await evaluate(["memorisation", mixed, real]);
    assert.equal(asGenerated.code, 0, asGenerated.stderr);
    assert.doesNotMatch(asGenerated.stderr, /synthetic/, "generated images are expected to be synthetic");

    const asRealFeatures = await evaluate(["kid", mixed, real, "--autoencoder", TEST_WEIGHTS, "--kid-subset-size", "2"]);
    assert.equal(asRealFeatures.code, 0, asRealFeatures.stderr);
    assert.match(asRealFeatures.stderr, warning);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
