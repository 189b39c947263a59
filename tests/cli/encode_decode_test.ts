import assert from "node:assert/strict";
import { join } from "node:path";
import { parseSafetensors, serializeSafetensors } from "../../io/safetensors.ts";
import { parseStream } from "../../io/stream.ts";
import { readPngText } from "../../io/image/write.ts";
import { decodePng } from "../../io/image/png.ts";
import { relativeError } from "../kernels/helpers.ts";
import { dataPath, FIXTURES_DIR, kitTest, REPO_ROOT, referencePath } from "../kit.ts";
import { runCli } from "./run.ts";

const AE = referencePath("ae.pt");
const IO = referencePath("ae_io.safetensors");
const TEST_WEIGHTS = join(REPO_ROOT, "weights", "test", "autoencoder.safetensors");
const RADIOGRAPH = join(FIXTURES_DIR, "images", "nih_00000001_001_64.png");

function configFile(dir: string): string {
  const path = join(dir, "ae.json");
  Deno.writeTextFileSync(path, parseSafetensors(Deno.readFileSync(IO), IO).metadata.config);
  return path;
}

kitTest("encode CLI reproduces the reference posterior mean", [AE, IO], async () => {
  const dir = Deno.makeTempDirSync();
  const result = await runCli([
    "encode", referencePath("ae_input_0.png"), referencePath("ae_input_1.png"),
    "--model", AE, "--config", configFile(dir), "--quiet",
  ]);
  assert.equal(result.code, 0, result.stderr);
  const stream = parseStream(result.stdout, "stdout", "latent");
  const expected = parseSafetensors(Deno.readFileSync(IO), IO).tensors.get("posterior.mean")!;
  assert.deepEqual(stream.tensor.shape, expected.shape);
  const error = relativeError(stream.tensor.data, expected.data as Float32Array);
  assert.ok(error <= 1e-4, `posterior.mean error ${error}`);
});

kitTest("decode CLI reproduces the reference decoder output", [AE, IO], async () => {
  const dir = Deno.makeTempDirSync();
  const reference = parseSafetensors(Deno.readFileSync(IO), IO);
  const mean = reference.tensors.get("posterior.mean")!;
  const latentPath = join(dir, "latent.safetensors");
  Deno.writeFileSync(latentPath, serializeSafetensors({ latent: { shape: mean.shape, data: mean.data as Float32Array } }, {
    "cheff.kind": "latent",
  }));
  const out = join(dir, "decoded.safetensors");
  const result = await runCli(["decode", latentPath, "--model", AE, "--config", configFile(dir), "--out", out, "--quiet"]);
  assert.equal(result.code, 0, result.stderr);
  const decoded = parseStream(Deno.readFileSync(out), out, "image");
  const error = relativeError(decoded.tensor.data, reference.tensors.get("decoded")!.data as Float32Array);
  assert.ok(error <= 1e-4, `decoded error ${error}`);
});

Deno.test("encode piped into decode writes a PNG with provenance", async () => {
  const dir = Deno.makeTempDirSync();
  const encoded = await runCli(["encode", RADIOGRAPH, "--model", TEST_WEIGHTS, "--quiet"]);
  assert.equal(encoded.code, 0, encoded.stderr);
  const out = join(dir, "y.png");
  const decoded = await runCli(["decode", "--model", TEST_WEIGHTS, "--out", out, "--quiet"], { stdin: encoded.stdout });
  assert.equal(decoded.code, 0, decoded.stderr);
  const bytes = Deno.readFileSync(out);
  const image = decodePng(bytes, out);
  assert.equal(image.width, 64);
  assert.equal(image.height, 64);
  const text = readPngText(bytes, out);
  assert.equal(text["cheff:synthetic"], "false");
  assert.match(text.Description, /not for diagnosis/);
  assert.match(text["cheff:models"], /autoencoder/);
});

kitTest("encode and decode round-trip every full-size NIH radiograph", [dataPath("cxr/nih-1024")], async () => {
  const dir = Deno.makeTempDirSync();
  const files = [...Deno.readDirSync(dataPath("cxr/nih-1024"))].map((e) => e.name).filter((n) => n.endsWith(".png")).sort();
  assert.equal(files.length, 12);
  const encoded = await runCli([
    "encode", ...files.map((f) => dataPath(`cxr/nih-1024/${f}`)), "--model", TEST_WEIGHTS, "--quiet",
  ]);
  assert.equal(encoded.code, 0, encoded.stderr);
  const latent = parseStream(encoded.stdout, "stdout", "latent");
  assert.deepEqual(latent.tensor.shape, [12, 3, 16, 16]);
  const decoded = await runCli(["decode", "--model", TEST_WEIGHTS, "--out", `${dir}/`, "--quiet"], { stdin: encoded.stdout });
  assert.equal(decoded.code, 0, decoded.stderr);
  const written = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.equal(written.length, 12);
  assert.deepEqual(written, files);
});

Deno.test("encode rejects a file that is not an image with one line", async () => {
  const dir = Deno.makeTempDirSync();
  const bad = join(dir, "notes.txt");
  Deno.writeTextFileSync(bad, "not an image at all");
  const result = await runCli(["encode", bad, "--model", TEST_WEIGHTS, "--quiet"]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /notes\.txt: not an image/);
  assert.equal(result.stderr.trim().split("\n").length, 1);
  assert.equal(result.stdout.length, 0);
});

Deno.test("encode rejects a truncated PNG and a missing file", async () => {
  const dir = Deno.makeTempDirSync();
  const truncated = join(dir, "cut.png");
  Deno.writeFileSync(truncated, Deno.readFileSync(RADIOGRAPH).subarray(0, 200));
  const cut = await runCli(["encode", truncated, "--model", TEST_WEIGHTS, "--quiet"]);
  assert.equal(cut.code, 1);
  assert.match(cut.stderr, /cut\.png/);
  const missing = await runCli(["encode", join(dir, "nope.png"), "--model", TEST_WEIGHTS, "--quiet"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.png: file not found/);
});

Deno.test("decode rejects a latent of the wrong shape and leaves no output", async () => {
  const dir = Deno.makeTempDirSync();
  const latentPath = join(dir, "wrong.safetensors");
  Deno.writeFileSync(latentPath, serializeSafetensors({ latent: { shape: [1, 4, 8, 8], data: new Float32Array(256) } }, {
    "cheff.kind": "latent",
  }));
  const out = join(dir, "y.png");
  const result = await runCli(["decode", latentPath, "--model", TEST_WEIGHTS, "--out", out, "--quiet"]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /wrong\.safetensors: expected a latent stream of shape \[N, 3, h, w\], got \[1, 4, 8, 8\]/);
  assert.throws(() => Deno.statSync(out));
});

Deno.test("decode refuses an image stream given as a latent", async () => {
  const dir = Deno.makeTempDirSync();
  const imagePath = join(dir, "image.safetensors");
  Deno.writeFileSync(imagePath, serializeSafetensors({ image: { shape: [1, 3, 8, 8], data: new Float32Array(192) } }, {
    "cheff.kind": "image",
  }));
  const result = await runCli(["decode", imagePath, "--model", TEST_WEIGHTS, "--quiet"]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /expected a latent stream, got an image stream/);
});

Deno.test("decode does not overwrite an existing file without --overwrite", async () => {
  const dir = Deno.makeTempDirSync();
  const out = join(dir, "keep.png");
  Deno.writeTextFileSync(out, "precious");
  const encoded = await runCli(["encode", RADIOGRAPH, "--model", TEST_WEIGHTS, "--quiet"]);
  const result = await runCli(["decode", "--model", TEST_WEIGHTS, "--out", out, "--quiet"], { stdin: encoded.stdout });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /already exists/);
  assert.equal(Deno.readTextFileSync(out), "precious");
});

Deno.test("encode and decode check outputs before any work", async () => {
  const dir = Deno.makeTempDirSync();
  const out = join(dir, "keep.safetensors");
  Deno.writeTextFileSync(out, "precious");
  // A missing model would fail the work; the output check comes first, so its message is the one printed.
  const missingModel = join(dir, "missing.safetensors");
  const encoded = await runCli(["encode", RADIOGRAPH, "--model", missingModel, "--out", out, "--quiet"]);
  assert.equal(encoded.code, 1);
  assert.match(encoded.stderr, /keep\.safetensors: already exists/);

  const noFolder = await runCli(["encode", RADIOGRAPH, "--model", missingModel, "--out", join(dir, "none", "x.safetensors")]);
  assert.equal(noFolder.code, 1);
  assert.match(noFolder.stderr, /folder .*none does not exist/);

  const latent = await runCli(["encode", RADIOGRAPH, "--model", TEST_WEIGHTS, "--quiet"]);
  const png = join(dir, "keep.png");
  Deno.writeTextFileSync(png, "precious");
  const decoded = await runCli(["decode", "--model", missingModel, "--out", png, "--quiet"], { stdin: latent.stdout });
  assert.equal(decoded.code, 1);
  assert.match(decoded.stderr, /keep\.png: already exists/);
  assert.equal(Deno.readTextFileSync(png), "precious");
  assert.equal(Deno.readTextFileSync(out), "precious");
});

Deno.test("decode warns when another autoencoder encoded the latent", async () => {
  const dir = Deno.makeTempDirSync();
  const latent = await runCli(["encode", RADIOGRAPH, "--model", TEST_WEIGHTS, "--quiet"]);
  const other = join(REPO_ROOT, "weights", "builtin", "autoencoder.safetensors");
  const mismatched = await runCli(["decode", "--model", other, "--out", join(dir, "a.png")], { stdin: latent.stdout });
  assert.equal(mismatched.code, 0, mismatched.stderr);
  assert.match(mismatched.stderr, /warning: the latent was encoded by autoencoder sha256 [0-9a-f]{12}…, but --model .* is sha256/);
  const matched = await runCli(["decode", "--model", TEST_WEIGHTS, "--out", join(dir, "b.png")], { stdin: latent.stdout });
  assert.equal(matched.code, 0, matched.stderr);
  assert.doesNotMatch(matched.stderr, /was encoded by/);
});

Deno.test("decode to a .dcm name without --format dicom suggests the flag", async () => {
  const dir = Deno.makeTempDirSync();
  const latent = await runCli(["encode", RADIOGRAPH, "--model", TEST_WEIGHTS, "--quiet"]);
  const result = await runCli(["decode", "--model", TEST_WEIGHTS, "--out", join(dir, "x.dcm")], { stdin: latent.stdout });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /x\.dcm: expected a name ending in \.png, .* \(pass --format dicom to write DICOM\)/);
  assert.deepEqual([...Deno.readDirSync(dir)], []);
});
