/**
 * The latent-diffusion and text-encoder plugins against the reference kit's
 * recorded DDIM runs (with the recorded noise), and the sampling properties that
 * have no reference run: seeding and report-conditioned inpainting.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CheffError } from "../../io/errors.ts";
import { type HostTensor, parseSafetensors, serializeSafetensors } from "../../io/safetensors.ts";
import { continueStream, type Stream } from "../../io/stream.ts";
import { autoencoderPlugin } from "../../plugins/autoencoder.ts";
import { gpuContext, type RunContext } from "../../plugins/context.ts";
import { latentDiffusionPlugin } from "../../plugins/latent_diffusion.ts";
import { textEncoderPlugin } from "../../plugins/text_encoder.ts";
import { kitTest, referencePath } from "../kit.ts";

const UNCOND = referencePath("ldm_uncond.pt");
const UNCOND_IO = referencePath("ldm_uncond_io.safetensors");
const T2I = referencePath("ldm_t2i.pt");
const T2I_IO = referencePath("ldm_t2i_io.safetensors");
const T2I_SCALE = 0.18215;

const dir = Deno.makeTempDirSync({ prefix: "cheff-ldm-plugin-" });

interface Reference {
  tensor(name: string): { shape: number[]; data: Float32Array };
  metadata: Record<string, string>;
  /** The run's ldm_config, written to a JSON file for `config`. */
  configPath: string;
  /** Writes the recorded noise of run `prefix` (ddim, inpaint) as a --noise file. */
  noiseFile(prefix: string): string;
}

function reference(path: string): Reference {
  const file = parseSafetensors(Deno.readFileSync(path), path);
  const name = path.split("/").pop()!.replace(".safetensors", "");
  const configPath = join(dir, `${name}.config.json`);
  Deno.writeTextFileSync(configPath, file.metadata.ldm_config);
  const tensor = (key: string) => {
    const t = file.tensors.get(key);
    if (!t) throw new Error(`${path} has no ${key}`);
    return { shape: t.shape, data: t.data as Float32Array };
  };
  return {
    tensor,
    metadata: file.metadata,
    configPath,
    noiseFile(prefix) {
      const tensors: Record<string, HostTensor> = {};
      for (const key of ["x_T", "noise", "q_noise"]) {
        const t = file.tensors.get(`${prefix}.${key}`);
        if (t) tensors[key] = t;
      }
      const out = join(dir, `${name}.${prefix}.noise.safetensors`);
      Deno.writeFileSync(out, serializeSafetensors(tensors as never));
      return out;
    },
  };
}

/** max |ours − ref| / max |ref|. */
function scaledError(ours: ArrayLike<number>, ref: ArrayLike<number>, factor = 1): number {
  assert.equal(ours.length, ref.length);
  let error = 0, scale = 0;
  for (let i = 0; i < ref.length; i++) {
    error = Math.max(error, Math.abs(ours[i] * factor - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return error / scale;
}

function latentStream(tensor: { shape: number[]; data: Float32Array }): Stream {
  return continueStream(undefined, "latent", tensor, { command: "test" });
}

function maskFile(name: string, shape: number[], data: Float32Array): string {
  const path = join(dir, name);
  Deno.writeFileSync(path, serializeSafetensors({ mask: { shape, data } }));
  return path;
}

let shared: RunContext | undefined;
async function context(): Promise<RunContext> {
  shared ??= await gpuContext(undefined, () => {});
  return shared;
}

kitTest("unconditional DDIM reproduces the reference sample and decode within 1e-3", [UNCOND, UNCOND_IO], async () => {
  const ref = reference(UNCOND_IO);
  const ctx = await context();
  const settings = { model: UNCOND, config: ref.configPath, steps: 10, eta: 1, noise: ref.noiseFile("ddim") };
  const latent = await latentDiffusionPlugin.run("diffuse", undefined, settings, ctx);
  const sampleError = scaledError(latent.tensor.data, ref.tensor("ddim.sample").data);
  assert.ok(sampleError <= 1e-3, `ddim.sample differs by ${sampleError} of scale`);
  assert.equal(latent.synthetic, true);
  assert.equal(latent.history.at(-1)!.steps, 10);

  const image = await autoencoderPlugin.run("decode", latent, { model: UNCOND, config: ref.configPath }, ctx);
  const decodedError = scaledError(image.tensor.data, ref.tensor("ddim.decoded").data);
  assert.ok(decodedError <= 1e-3, `ddim.decoded differs by ${decodedError} of scale`);
  console.log(`uncond ddim: sample ${sampleError.toExponential(2)}, decoded ${decodedError.toExponential(2)}`);
});

kitTest("report-conditioned DDIM reproduces the reference sample and decode within 1e-3", [T2I, T2I_IO], async () => {
  const ref = reference(T2I_IO);
  const ctx = await context();
  const reports = JSON.parse(ref.metadata.reports) as string[];
  const settings = { model: T2I, config: ref.configPath, steps: 10, eta: 1, report: reports, noise: ref.noiseFile("ddim") };
  const latent = await latentDiffusionPlugin.run("diffuse", undefined, settings, ctx);
  // The reference sample is in the scaled space; cheff's stream is not.
  const sampleError = scaledError(latent.tensor.data, ref.tensor("ddim.sample").data, T2I_SCALE);
  assert.ok(sampleError <= 1e-3, `ddim.sample differs by ${sampleError} of scale`);

  const image = await autoencoderPlugin.run("decode", latent, { model: T2I, config: ref.configPath }, ctx);
  const decodedError = scaledError(image.tensor.data, ref.tensor("ddim.decoded").data);
  assert.ok(decodedError <= 1e-3, `ddim.decoded differs by ${decodedError} of scale`);
  console.log(`t2i ddim: sample ${sampleError.toExponential(2)}, decoded ${decodedError.toExponential(2)}`);
});

kitTest("embed gives the reference context and tokens", [T2I, T2I_IO], async () => {
  const ref = reference(T2I_IO);
  const reports = JSON.parse(ref.metadata.reports) as string[];
  const stream = await textEncoderPlugin.run("embed", undefined, { model: T2I, config: ref.configPath, report: reports }, await context());
  assert.equal(stream.kind, "context");
  assert.deepEqual(stream.tensor.shape, [2, 150, 4]);
  const error = scaledError(stream.tensor.data, ref.tensor("context").data);
  assert.ok(error <= 1e-5, `context differs by ${error} of scale`);
  const tokens = parseSafetensors(Deno.readFileSync(T2I_IO)).tensors.get("tokens")!.data as BigInt64Array;
  assert.deepEqual(stream.extras.get("tokens")!.data, tokens);
});

kitTest("inpainting without the final blend reproduces the reference within 1e-3", [UNCOND, UNCOND_IO], async () => {
  const ref = reference(UNCOND_IO);
  const ctx = await context();
  const x0 = ref.tensor("inpaint.x0");
  const mask = ref.tensor("inpaint.mask");
  const settings = {
    model: UNCOND,
    config: ref.configPath,
    steps: 10,
    noise: ref.noiseFile("inpaint"),
    mask: maskFile("inpaint.mask.safetensors", mask.shape, mask.data),
  };
  const replay = await latentDiffusionPlugin.run("diffuse", latentStream(x0), { ...settings, finalBlend: false }, ctx);
  const error = scaledError(replay.tensor.data, ref.tensor("inpaint.sample").data);
  assert.ok(error <= 1e-3, `inpaint.sample differs by ${error} of scale`);
  console.log(`uncond inpaint: sample ${error.toExponential(2)}`);

  const blended = await latentDiffusionPlugin.run("diffuse", latentStream(x0), settings, ctx);
  let keptDiffersWithout = false;
  for (let i = 0; i < x0.data.length; i++) {
    const kept = mask.data[i % 256] === 0;
    if (kept) assert.equal(blended.tensor.data[i], x0.data[i], `kept element ${i}`);
    else assert.equal(blended.tensor.data[i], replay.tensor.data[i], `synthesised element ${i}`);
    if (kept && replay.tensor.data[i] !== x0.data[i]) keptDiffersWithout = true;
  }
  assert.ok(keptDiffersWithout, "the replay's kept region should not be the original");
});

kitTest("report-conditioned inpainting keeps the original latent", [T2I, T2I_IO, UNCOND_IO], async () => {
  const ref = reference(T2I_IO);
  const ctx = await context();
  const image = reference(UNCOND_IO).tensor("inpaint.image");
  const imageStream = continueStream(undefined, "image", image, { command: "test" });
  const ae = { model: T2I, config: ref.configPath };
  const original = await autoencoderPlugin.run("encode", imageStream, ae, ctx);
  const roundTrip = await autoencoderPlugin.run("decode", original, ae, ctx);
  const base = { model: T2I, config: ref.configPath, steps: 4, seed: 3, report: "Small left pleural effusion." };

  // Nothing to synthesise: the sampler's output is the original, and decoding it is the round trip.
  const nothing = await latentDiffusionPlugin.run("diffuse", original, {
    ...base,
    mask: maskFile("zeros.safetensors", [1, 1, 16, 16], new Float32Array(256)),
  }, ctx);
  assert.deepEqual(nothing.tensor.data, original.tensor.data);
  const decoded = await autoencoderPlugin.run("decode", nothing, ae, ctx);
  assert.deepEqual(decoded.tensor.data, roundTrip.tensor.data);

  // A square to synthesise: outside it the latent is the original, inside it is new.
  const square = new Float32Array(256);
  for (let y = 4; y < 12; y++) for (let x = 4; x < 12; x++) square[y * 16 + x] = 1;
  const inpainted = await latentDiffusionPlugin.run("diffuse", original, {
    ...base,
    mask: maskFile("square.safetensors", [1, 1, 16, 16], square),
  }, ctx);
  let changed = 0;
  for (let i = 0; i < square.length * 3; i++) {
    if (square[i % 256] === 0) assert.equal(inpainted.tensor.data[i], original.tensor.data[i], `kept element ${i}`);
    else if (Math.abs(inpainted.tensor.data[i] - original.tensor.data[i]) > 1e-3) changed++;
  }
  assert.ok(changed > 100, `only ${changed} synthesised elements changed`);
});

kitTest("same seed gives the same latent, another seed differs (U-Net)", [UNCOND, UNCOND_IO], async () => {
  const ref = reference(UNCOND_IO);
  const ctx = await context();
  const run = (seed: number) =>
    latentDiffusionPlugin.run("diffuse", undefined, { model: UNCOND, config: ref.configPath, steps: 3, seed, count: 2 }, ctx);
  const first = await run(1);
  const again = await run(1);
  const other = await run(2);
  assert.deepEqual(first.tensor.data, again.tensor.data);
  assert.notDeepEqual(first.tensor.data, other.tensor.data);
  assert.deepEqual(first.tensor.shape, [2, 3, 16, 16]);
  assert.equal(first.history.at(-1)!.seed, 1);
});

kitTest("diffuse rejects bad requests with one line", [UNCOND, UNCOND_IO], async () => {
  const ref = reference(UNCOND_IO);
  const ctx = await context();
  const base = { model: UNCOND, config: ref.configPath, steps: 2, seed: 0 };
  const x0 = latentStream(ref.tensor("inpaint.x0"));
  const otherSchedule = join(dir, "other-schedule.json");
  Deno.writeTextFileSync(otherSchedule, JSON.stringify({ ...JSON.parse(ref.metadata.ldm_config), linear_end: 0.0195 }));
  const cases: [string, Stream | undefined, Record<string, unknown>, RegExp][] = [
    ["schedule unlike the stored betas", undefined, { ...base, config: otherSchedule }, /betas\[\d+\] is .* but the configured linear schedule/],
    ["latent without a mask", x0, base, /a latent was given without a mask/],
    ["report to an unconditional model", undefined, { ...base, report: "effusion" }, /the model is unconditional/],
    ["image stream", continueStream(undefined, "image", ref.tensor("inpaint.image"), { command: "t" }), base, /expected a latent stream, got a stream of kind image/],
    ["mask of the wrong size", x0, { ...base, mask: maskFile("m8.safetensors", [1, 1, 8, 8], new Float32Array(64)) }, /mask is 8×8/],
    ["noise of the wrong shape", undefined, { model: UNCOND, config: ref.configPath, steps: 3, noise: ref.noiseFile("ddim") }, /'noise' has shape \[10,2,3,16,16\], expected \[3,2,3,16,16\]/],
    ["reference spacing beyond 500 steps", undefined, { ...base, steps: 600, spacing: "reference" }, /--spacing reference cannot take 600 steps/],
  ];
  for (const [name, input, settings, pattern] of cases) {
    await assert.rejects(latentDiffusionPlugin.run("diffuse", input, settings, ctx), (error: Error) => {
      assert.ok(error instanceof CheffError, `${name}: ${error}`);
      assert.match(error.message, pattern, name);
      return true;
    });
  }
});
