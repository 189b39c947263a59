/**
 * `cheff diffuse` as a user runs it: a subprocess through cli/main.ts, replaying
 * the reference kit's recorded DDIM and inpainting runs, a shell pipe from encode
 * to decode, and the one-line errors.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { decodePng } from "../../io/image/png.ts";
import { encodePng } from "../../io/image/write.ts";
import { type HostTensor, parseSafetensors, serializeSafetensors } from "../../io/safetensors.ts";
import { exists, kitTest, referencePath, REPO_ROOT } from "../kit.ts";
import { assertFailsWith, assertOk, runCli } from "./run.ts";

const MAIN = join(REPO_ROOT, "cli", "main.ts");
const UNCOND = referencePath("ldm_uncond.pt");
const UNCOND_IO = referencePath("ldm_uncond_io.safetensors");
const T2I = referencePath("ldm_t2i.pt");
const T2I_IO = referencePath("ldm_t2i_io.safetensors");
const IMAGE = referencePath("ae_input_0.png");
const dir = Deno.makeTempDirSync({ prefix: "cheff-diffuse-cli-" });

const environment = { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? dir };

function tensorOf(path: string, name: string): { shape: number[]; data: Float32Array } {
  const t = parseSafetensors(Deno.readFileSync(path), path).tensors.get(name);
  if (!t) throw new Error(`${path} has no ${name}`);
  return { shape: t.shape, data: t.data as Float32Array };
}

function scaledError(ours: Float32Array, ref: Float32Array, factor = 1): number {
  assert.equal(ours.length, ref.length);
  let error = 0, scale = 0;
  for (let i = 0; i < ref.length; i++) {
    error = Math.max(error, Math.abs(ours[i] * factor - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return error / scale;
}

/** Writes the run's ldm_config as a --config file and its recorded noise as a --noise file. */
function kitFiles(io: string, prefix: string): { config: string; noise: string } {
  const file = parseSafetensors(Deno.readFileSync(io), io);
  const stem = join(dir, `${io.split("/").pop()}.${prefix}`);
  Deno.writeTextFileSync(`${stem}.json`, file.metadata.ldm_config);
  const tensors: Record<string, HostTensor> = {};
  for (const key of ["x_T", "noise", "q_noise"]) {
    const t = file.tensors.get(`${prefix}.${key}`);
    if (t) tensors[key] = t;
  }
  Deno.writeFileSync(`${stem}.noise.safetensors`, serializeSafetensors(tensors as never));
  return { config: `${stem}.json`, noise: `${stem}.noise.safetensors` };
}

kitTest("diffuse CLI replays the unconditional DDIM run", [UNCOND, UNCOND_IO], async () => {
  const { config, noise } = kitFiles(UNCOND_IO, "ddim");
  const latent = join(dir, "uncond.safetensors");
  assertOk(await runCli(["diffuse", "--model", UNCOND, "--config", config, "--steps", "10", "--noise", noise, "--out", latent, "-q"]));
  const sampleError = scaledError(tensorOf(latent, "latent").data, tensorOf(UNCOND_IO, "ddim.sample").data);
  assert.ok(sampleError <= 1e-3, `ddim.sample differs by ${sampleError} of scale`);

  const image = join(dir, "uncond.image.safetensors");
  assertOk(await runCli(["decode", latent, "--model", UNCOND, "--config", config, "--out", image, "-q"]));
  const decodedError = scaledError(tensorOf(image, "image").data, tensorOf(UNCOND_IO, "ddim.decoded").data);
  assert.ok(decodedError <= 1e-3, `ddim.decoded differs by ${decodedError} of scale`);
});

kitTest("diffuse CLI replays the report-conditioned DDIM run", [T2I, T2I_IO], async () => {
  const { config, noise } = kitFiles(T2I_IO, "ddim");
  const reports = JSON.parse(parseSafetensors(Deno.readFileSync(T2I_IO)).metadata.reports) as string[];
  const latent = join(dir, "t2i.safetensors");
  const args = ["diffuse", "--model", T2I, "--config", config, "--steps", "10", "--noise", noise, "--out", latent, "-q"];
  assertOk(await runCli([...args, "--report", reports[0], "--report", reports[1]]));
  // The reference sample lives in the scaled space (z·0.18215); the stream does not.
  const sampleError = scaledError(tensorOf(latent, "latent").data, tensorOf(T2I_IO, "ddim.sample").data, 0.18215);
  assert.ok(sampleError <= 1e-3, `ddim.sample differs by ${sampleError} of scale`);

  const image = join(dir, "t2i.image.safetensors");
  assertOk(await runCli(["decode", latent, "--model", T2I, "--config", config, "--out", image, "-q"]));
  const decodedError = scaledError(tensorOf(image, "image").data, tensorOf(T2I_IO, "ddim.decoded").data);
  assert.ok(decodedError <= 1e-3, `ddim.decoded differs by ${decodedError} of scale`);
});

kitTest("diffuse CLI replays inpainting with --no-final-blend", [UNCOND, UNCOND_IO], async () => {
  const { config, noise } = kitFiles(UNCOND_IO, "inpaint");
  const x0 = join(dir, "x0.safetensors");
  Deno.writeFileSync(x0, serializeSafetensors({ latent: tensorOf(UNCOND_IO, "inpaint.x0") }, { "cheff.kind": "latent" }));
  const mask = join(dir, "inpaint.mask.safetensors");
  Deno.writeFileSync(mask, serializeSafetensors({ mask: tensorOf(UNCOND_IO, "inpaint.mask") }));
  const out = join(dir, "inpaint.safetensors");
  assertOk(await runCli(["diffuse", x0, "--model", UNCOND, "--config", config, "--steps", "10", "--mask", mask, "--noise", noise, "--no-final-blend", "--out", out, "-q"]));
  const error = scaledError(tensorOf(out, "latent").data, tensorOf(UNCOND_IO, "inpaint.sample").data);
  assert.ok(error <= 1e-3, `inpaint.sample differs by ${error} of scale`);
});

kitTest("encode | diffuse --mask | decode --paste keeps the original pixels", [UNCOND, UNCOND_IO, IMAGE], async () => {
  const { config } = kitFiles(UNCOND_IO, "ddim");
  // White (synthesise) over the image's left half, at the image's 64×64 size.
  const maskPath = join(dir, "left.png");
  const maskPixels = new Float32Array(64 * 64).map((_, i) => (i % 64 < 32 ? 1 : -1));
  Deno.writeFileSync(maskPath, encodePng({ width: 64, height: 64, channels: 1, data: maskPixels }));
  const out = join(dir, "inpainted.png");
  const model = ["--model", UNCOND, "--config", config, "-q"];
  const quote = (args: string[]) => args.map((a) => `'${a}'`).join(" ");
  const deno = `'${Deno.execPath()}' run -A '${MAIN}'`;
  const script = `set -o pipefail; ${deno} encode ${quote([IMAGE, ...model])} | ` +
    `${deno} diffuse - ${quote([...model, "--mask", maskPath, "--seed", "4", "--steps", "3"])} | ` +
    `${deno} decode ${quote([...model, "--paste", IMAGE, "--mask", maskPath, "--out", out])}`;
  const pipe = await new Deno.Command("bash", { args: ["-c", script], env: environment, stderr: "piped" }).output();
  assert.equal(pipe.code, 0, new TextDecoder().decode(pipe.stderr));

  const original = decodePng(Deno.readFileSync(IMAGE), IMAGE);
  const result = decodePng(Deno.readFileSync(out), out);
  let changed = 0;
  for (let i = 0; i < 64 * 64; i++) {
    if (i % 64 >= 32) assert.equal(result.data[i], original.data[i], `kept pixel ${i}`);
    else if (result.data[i] !== original.data[i]) changed++;
  }
  assert.ok(changed > 100, `only ${changed} synthesised pixels changed`);
});

kitTest("diffuse CLI errors are one line and write nothing", [UNCOND, UNCOND_IO], async () => {
  const { config, noise } = kitFiles(UNCOND_IO, "ddim");
  const model = ["--model", UNCOND, "--config", config, "-q"];
  const x0 = join(dir, "errors.x0.safetensors");
  Deno.writeFileSync(x0, serializeSafetensors({ latent: tensorOf(UNCOND_IO, "inpaint.x0") }, { "cheff.kind": "latent" }));
  const image = join(dir, "errors.image.safetensors");
  Deno.writeFileSync(image, serializeSafetensors({ image: tensorOf(UNCOND_IO, "inpaint.image") }, { "cheff.kind": "image" }));
  const halfMask = join(dir, "half.safetensors");
  Deno.writeFileSync(halfMask, serializeSafetensors({ mask: { shape: [1, 1, 16, 16], data: new Float32Array(256).fill(0.5) } }));
  const noXT = join(dir, "no-x_T.safetensors");
  Deno.writeFileSync(noXT, serializeSafetensors({ noise: tensorOf(noise, "noise") }));
  const out = join(dir, "never.safetensors");

  const cases: [string, string[], RegExp][] = [
    ["mask values", [x0, "--mask", halfMask, "--seed", "1"], /half\.safetensors: 'mask' contains 0\.5 at index 0/],
    ["noise without x_T", ["--steps", "10", "--noise", noXT], /no-x_T\.safetensors: missing noise tensor 'x_T' \[1,3,16,16\]/],
    ["image stream", [image, "--mask", halfMask], /expected a latent stream, got an image stream/],
    ["latent without mask", [x0, "--seed", "1"], /a latent was given without --mask/],
  ];
  for (const [name, args, pattern] of cases) {
    const run = await runCli(["diffuse", ...args, ...model, "--out", out]);
    assertFailsWith(run, pattern);
    assert.ok(!exists(out), `${name}: wrote ${out}`);
  }
});

Deno.test("diffuse help shows an example", async () => {
  const run = await runCli(["diffuse", "--help"]);
  assert.equal(run.code, 0);
  const text = new TextDecoder().decode(run.stdout);
  assert.match(text, /Usage: cheff diffuse/);
  assert.match(text, /Examples?:\n\s+cheff diffuse/);
});
