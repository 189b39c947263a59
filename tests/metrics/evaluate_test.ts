import assert from "node:assert/strict";
import { join } from "node:path";
import { evaluateCommand } from "../../cli/evaluate.ts";
import { CheffError } from "../../io/errors.ts";
import { encodePng } from "../../io/image/write.ts";
import { loadImage } from "../../io/image/load.ts";
import { parseSafetensors, serializeSafetensors } from "../../io/safetensors.ts";
import { fid, kid } from "../../metrics/distribution.ts";
import { msSsim, psnr, ssim } from "../../metrics/image.ts";

/** Runs `cheff evaluate ARGS`, returning what it printed on stdout. */
async function evaluate(...args: string[]): Promise<string> {
  const printed: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...parts: unknown[]) => printed.push(parts.join(" "));
  console.error = () => {};
  try {
    await evaluateCommand.run(args);
  } finally {
    console.log = log;
    console.error = error;
  }
  return printed.join("\n");
}

function noisyImage(width: number, height: number, seed: number): Float32Array {
  const data = new Float32Array(width * height);
  let state = seed >>> 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      const smooth = Math.sin(x / 9) * Math.cos(y / 13);
      data[y * width + x] = Math.max(-1, Math.min(1, 0.7 * smooth + 0.3 * (state / 2 ** 32 - 0.5)));
    }
  }
  return data;
}

async function writeImage(path: string, data: Float32Array, width: number, height: number): Promise<void> {
  await Deno.writeFile(path, encodePng({ width, height, channels: 1, data }));
}

/** real/ and fake/ with three 180×170 PNGs each; image "b" is identical on both sides. */
async function imageSets(): Promise<{ root: string; real: string; fake: string }> {
  const root = await Deno.makeTempDir({ prefix: "cheff-evaluate-" });
  const real = join(root, "real");
  const fake = join(root, "fake");
  await Deno.mkdir(real);
  await Deno.mkdir(fake);
  for (const [index, name] of ["a", "b", "c"].entries()) {
    const image = noisyImage(180, 170, index + 1);
    await writeImage(join(real, `${name}.png`), image, 180, 170);
    await writeImage(join(fake, `${name}.png`), name === "b" ? image : noisyImage(180, 170, index + 10), 180, 170);
  }
  return { root, real, fake };
}

Deno.test("evaluate images reports the paired metrics per image", async () => {
  const { root, real, fake } = await imageSets();
  try {
    const jsonPath = join(root, "metrics.json");
    const plotPath = join(root, "psnr.svg");
    const table = await evaluate("images", real, fake, "--json", jsonPath, "--plot", plotPath);
    assert.match(table, /^metric\s+images\s+mean/);
    assert.match(table, /\npsnr\s+3\s+inf/);

    const report = JSON.parse(await Deno.readTextFile(jsonPath));
    assert.deepEqual(report.images.map((row: { name: string }) => row.name), ["a", "b", "c"]);
    for (const row of report.images) {
      const a = await loadImage(join(real, `${row.name}.png`));
      const b = await loadImage(join(fake, `${row.name}.png`));
      const size = { width: a.width, height: a.height };
      const expectedPsnr = psnr(a.data, b.data);
      assert.equal(row.psnr, Number.isFinite(expectedPsnr) ? expectedPsnr : "inf", `psnr of ${row.name}`);
      assert.equal(row.ssim, ssim(a.data, b.data, size), `ssim of ${row.name}`);
      assert.equal(row.msSsim, msSsim(a.data, b.data, size), `ms-ssim of ${row.name}`);
    }
    assert.equal(report.images[1].psnr, "inf");
    assert.equal(report.summary.psnr.mean, "inf");

    const svg = await Deno.readTextFile(plotPath);
    assert.ok(svg.startsWith("<svg"));
    assert.ok(svg.includes("2 values, 1 infinite or NaN not shown"));

    await assert.rejects(() => evaluate("images", real, fake, "--json", jsonPath), /already exists/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("evaluate images reads a MaCheX index", async () => {
  const { root, real, fake } = await imageSets();
  try {
    const indexFolder = join(root, "index");
    await Deno.mkdir(indexFolder);
    const index = Object.fromEntries(["a", "b", "c"].map((id) => [id, { path: `../real/${id}.png`, key: "nih" }]));
    await Deno.writeTextFile(join(indexFolder, "index.json"), JSON.stringify(index));
    const fromIndex = JSON.parse(await evaluate("images", join(indexFolder, "index.json"), fake, "--json", "-"));
    const fromFolder = JSON.parse(await evaluate("images", real, fake, "--json", "-"));
    assert.deepEqual(fromIndex.images, fromFolder.images);

    await Deno.writeTextFile(join(indexFolder, "bad.json"), JSON.stringify({ a: { key: "nih" } }));
    await assert.rejects(() => evaluate("images", join(indexFolder, "bad.json"), fake), /entry 'a' has no "path"/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("evaluate images rejects unmatched or missing inputs", async () => {
  const { root, real, fake } = await imageSets();
  try {
    await assert.rejects(() => evaluate("images", join(root, "nowhere"), fake), /nowhere: folder or index file not found/);
    await Deno.remove(join(fake, "c.png"));
    await assert.rejects(
      () => evaluate("images", real, fake),
      (error: Error) => error instanceof CheffError && /has 3 images, .* has 2; 'c' of .* has no match/.test(error.message),
    );
    await writeImage(join(fake, "c.png"), noisyImage(200, 170, 4), 200, 170);
    await assert.rejects(() => evaluate("images", real, fake), /c: real image is 180×170 but fake image is 200×170/);
    const resized = JSON.parse(await evaluate("images", real, fake, "--size", "64", "--json", "-"));
    assert.equal(resized.images[2].width, 64);
    assert.equal(resized.images[2].msSsim, null, "64 px is too small for MS-SSIM");
    await assert.rejects(() => evaluate("images", real), /expected REAL and FAKE/);
    await assert.rejects(() => evaluate("images", real, fake, "--plot", join(root, "p.png")), /must end in .svg/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

function featureFile(rows: number, dims: number, seed: number, name = "features"): Uint8Array {
  const data = new Float32Array(rows * dims);
  let state = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state / 2 ** 32 + (i % dims) * 0.01 * seed;
  }
  return serializeSafetensors({ [name]: { shape: [rows, dims], data } });
}

Deno.test("evaluate features reports fid and kid", async () => {
  const root = await Deno.makeTempDir({ prefix: "cheff-evaluate-" });
  try {
    const realPath = join(root, "real.safetensors");
    const fakePath = join(root, "fake.safetensors");
    await Deno.writeFile(realPath, featureFile(60, 8, 1));
    await Deno.writeFile(fakePath, featureFile(50, 8, 2));
    const table = await evaluate("features", realPath, fakePath, "--kid-subsets", "10", "--kid-full");
    assert.match(table, /^metric\s+value\nfid\s+\S+\nkid_mean\s+\S+\nkid_std\s+\S+\nkid_full\s+\S+\nfid_eps_applied\s+no$/);

    const report = JSON.parse(await evaluate("features", realPath, fakePath, "--kid-subsets", "10", "--kid-full", "--json", "-"));
    const features = async (path: string) => {
      const tensor = parseSafetensors(await Deno.readFile(path)).tensors.get("features")!;
      return { shape: tensor.shape, data: tensor.data as Float32Array };
    };
    const real = await features(realPath);
    const fake = await features(fakePath);
    assert.equal(report.fid.fid, fid(real, fake));
    assert.equal(report.kid.full, kid(fake, real));
    assert.equal(report.kid.subsetSize, 50);
    assert.equal(report.kid.values.length, 10);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("evaluate features rejects bad feature files", async () => {
  const root = await Deno.makeTempDir({ prefix: "cheff-evaluate-" });
  try {
    const realPath = join(root, "real.safetensors");
    await Deno.writeFile(realPath, featureFile(20, 8, 1));
    await Deno.writeFile(join(root, "other.safetensors"), featureFile(20, 8, 1, "pool3"));
    await Deno.writeFile(join(root, "narrow.safetensors"), featureFile(20, 6, 1));
    await assert.rejects(
      () => evaluate("features", realPath, join(root, "other.safetensors")),
      /other.safetensors: no tensor "features" \(found pool3\)/,
    );
    await assert.rejects(() => evaluate("features", realPath, join(root, "narrow.safetensors")), /feature sizes differ/);
    await assert.rejects(() => evaluate("features", realPath, join(root, "missing.safetensors")), /file not found/);
    await assert.rejects(() => evaluate("features", realPath, realPath, "--kid-subset-size", "30"), /--kid-subset-size/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("evaluate help and unknown subcommands", async () => {
  assert.match(await evaluate("images", "--help"), /Example:\n {2}cheff evaluate images/);
  for (const command of ["features", "fid", "kid"]) {
    assert.match(await evaluate(command, "--help"), new RegExp(`Examples:\n  cheff evaluate ${command} `));
  }
  assert.match(await evaluate("reconstruct", "--help"), /Example:\n {2}cheff evaluate reconstruct/);
  assert.match(await evaluate("memorisation", "--help"), /Example:\n {2}cheff evaluate memorisation/);
  assert.match(await evaluate("--help"), /Subcommands:/);
  await assert.rejects(() => evaluate("compare"), /unknown subcommand 'compare'/);
  await assert.rejects(() => evaluate(), /missing subcommand/);
});
