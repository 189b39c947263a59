/**
 * The latent-diffusion plugin, kind `diffuse`: samples latents from noise, or
 * inpaints a latent stream under a mask, with an unconditional or a
 * report-conditioned Cheff U-Net. Streams carry autoencoder-space latents: the
 * plugin multiplies by the model's scale_factor on the way in and divides on the
 * way out.
 *
 * Settings (plain JSON values, as a pipeline stage gives them; the CLI passes the same):
 * - `model` (required), `config` (a JSON file), `ema` (boolean): the checkpoint;
 * - `sampler` "ddim" | "ddpm", `steps`, `spacing` "exact" | "reference", `eta`;
 * - `seed` (integer, or a decimal string for seeds above 2^53), `firstIndex` (the
 *   batch's first image index in the whole run), `count` (images when sampling from noise);
 * - `report` (a string, or one string per image), `context` (a context stream file
 *   or Stream), `guidance` (classifier-free guidance scale, 1 = none);
 * - `mask` (a mask file path or a Mask), `invertMask` (outpainting),
 *   `finalBlend` (default true), `noise` (a recorded-noise safetensors file).
 */
import { CheffError } from "../io/errors.ts";
import { readInput } from "../io/files.ts";
import { continueStream, type HistoryEntry, parseStream, type Stream } from "../io/stream.ts";
import { downsamplingFactor, parseAutoencoderConfig } from "../stages/autoencoder/config.ts";
import { readModelFile } from "../stages/load.ts";
import { type LoadedUNet, loadUNet } from "../stages/latent/load.ts";
import { checkMaskBatch, invertMask, type Mask, readMaskFile, toLatentMask } from "../stages/latent/mask.ts";
import { type Inpainting, sampleLatent, type SamplerName, samplingTimesteps, unetEps } from "../stages/latent/sampler.ts";
import { type NoiseSource, PhiloxNoise, readNoiseFile } from "../stages/noise/source.ts";
import { CHEFF_AE } from "../stages/presets.ts";
import { checkStoredBetas, type LatentSchedule, latentSchedule } from "../stages/schedules/latent.ts";
import type { Spacing } from "../stages/schedules/spacing.ts";
import { type LoadedTextEncoder, loadTextEncoder } from "../stages/text/load.ts";
import type { RunContext } from "./context.ts";
import type { Plugin } from "./plugin.ts";
import { encodeReports } from "./text_encoder.ts";

/** The stages of one latent-diffusion checkpoint, loaded once per context. */
export interface LatentDiffusionModel {
  unet: LoadedUNet;
  schedule: LatentSchedule;
  /** The report encoder of a report-conditioned checkpoint; undefined for an unconditional one. */
  textEncoder?: LoadedTextEncoder;
  /** The autoencoder's downsampling factor: image size / latent size. */
  factor: number;
}

/** Loads (once per context) the U-Net, its schedule and, for a report-conditioned model, its text encoder. */
export function latentDiffusionFor(settings: Record<string, unknown>, context: RunContext): Promise<LatentDiffusionModel> {
  const model = settings.model;
  if (typeof model !== "string") throw new CheffError("latent-diffusion: 'model' must name a model file");
  const config = optionalString(settings, "config");
  const ema = settings.ema === true;
  return context.models.get(`latent-diffusion:${model}:${config ?? ""}:${ema}`, async () => {
    const file = await readModelFile(model);
    const unet = await loadUNet(context.gpu, file, { configPath: config, ema, note: context.warn });
    const schedule = latentSchedule(unet.config.schedule);
    const betas = file.state.get("betas");
    if (betas) checkStoredBetas(betas.data as ArrayLike<number>, schedule, model);
    const textEncoder = unet.config.textEncoder
      ? await loadTextEncoder(context.gpu, file, { configPath: config, note: context.warn })
      : undefined;
    const firstStage = unet.config.firstStage === undefined
      ? CHEFF_AE
      : unet.config.firstStage;
    const factor = downsamplingFactor(parseAutoencoderConfig(firstStage, `${config ?? model}: first_stage_config`));
    return { unet, schedule, textEncoder, factor };
  });
}

function optionalString(settings: Record<string, unknown>, name: string): string | undefined {
  const value = settings[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new CheffError(`latent-diffusion: '${name}' must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function optionalNumber(settings: Record<string, unknown>, name: string, integer: boolean, min: number, max = Infinity): number | undefined {
  const value = settings[name];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    const kind = integer ? "an integer" : "a number";
    const range = max === Infinity ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new CheffError(`latent-diffusion: '${name}' is ${JSON.stringify(value)}, expected ${kind} ${range}`);
  }
  return value;
}

function choice<T extends string>(settings: Record<string, unknown>, name: string, choices: readonly T[], fallback: T): T {
  const value = settings[name] ?? fallback;
  if (!choices.includes(value as T)) {
    throw new CheffError(`latent-diffusion: '${name}' is ${JSON.stringify(value)}, expected one of ${choices.join(", ")}`);
  }
  return value as T;
}

/** Parses a seed setting: a non-negative integer, or its decimal string for values above 2^53. */
function seedSetting(value: unknown): bigint {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === "string" && /^\d+$/.test(value) && BigInt(value) < 1n << 64n) return BigInt(value);
  throw new CheffError(`latent-diffusion: 'seed' is ${JSON.stringify(value)}, expected an integer from 0 to 2^64 − 1`);
}

/** Draws a random 32-bit seed for a run that names none (the stream's history records it). */
function randomSeed(): bigint {
  return BigInt(crypto.getRandomValues(new Uint32Array(1))[0]);
}

interface Conditioning {
  context?: { shape: number[]; data: Float32Array };
  unconditional?: { shape: number[]; data: Float32Array };
  /** The conditioning source recorded in the history: "report", "context" or "none". */
  kind: string;
  models: Record<string, string>;
  /** The context stream used, whose provenance the output continues when no latent came in. */
  stream?: Stream;
  /** The report texts (one, or one per image), recorded in the history and the images' text chunks. */
  reports?: string[];
}

/** Builds the context the U-Net attends to, from a report, a context stream, or the empty report. */
async function conditioning(
  model: LatentDiffusionModel,
  settings: Record<string, unknown>,
  count: number,
  guidance: number,
  context: RunContext,
): Promise<Conditioning> {
  const report = settings.report;
  const contextSetting = settings.context;
  const contextDim = model.unet.config.unet.contextDim;
  if (!model.textEncoder || contextDim === undefined) {
    if (report !== undefined || contextSetting !== undefined || guidance !== 1) {
      throw new CheffError(
        `${settings.model}: the model is unconditional; a report, a context or guidance needs a report-conditioned model`,
      );
    }
    return { kind: "none", models: {} };
  }
  if (report !== undefined && contextSetting !== undefined) {
    throw new CheffError("latent-diffusion: give a report or a context, not both");
  }

  const encoder = model.textEncoder;
  const models: Record<string, string> = { "text-encoder": encoder.sha256 };
  let result: Conditioning;
  if (contextSetting !== undefined) {
    const stream = typeof contextSetting === "string"
      ? parseStream(await readInput(contextSetting), contextSetting === "-" ? "standard input" : contextSetting, "context")
      : contextSetting as Stream;
    if (stream.kind !== "context") throw new CheffError(`latent-diffusion: expected a context stream, got a stream of kind ${stream.kind}`);
    const [n, , width] = stream.tensor.shape;
    if (width !== contextDim || (n !== 1 && n !== count)) {
      throw new CheffError(
        `context stream has shape [${stream.tensor.shape}], expected [1 or ${count}, L, ${contextDim}] for this model`,
      );
    }
    result = { context: stream.tensor, kind: "context", models: { ...stream.models, ...models }, stream };
  } else {
    const reports = report === undefined ? [""] : Array.isArray(report) ? report : [report];
    if (!reports.every((r) => typeof r === "string") || reports.length === 0) {
      throw new CheffError("latent-diffusion: 'report' must be a string or a list of strings");
    }
    if (reports.length !== 1 && reports.length !== count) {
      throw new CheffError(`latent-diffusion: ${reports.length} reports for ${count} images; give 1 or ${count}`);
    }
    const encoded = await encodeReports(encoder, reports as string[], context);
    result = {
      context: encoded.context,
      kind: report === undefined ? "none" : "report",
      models,
      ...(report === undefined ? {} : { reports: reports as string[] }),
    };
  }
  if (guidance !== 1) {
    const empty = await encodeReports(encoder, [""], context);
    if (empty.context.shape[1] !== result.context!.shape[1]) {
      throw new CheffError(
        `context has ${result.context!.shape[1]} tokens per report but the empty report has ${empty.context.shape[1]}; ` +
          `guidance needs both at the same length`,
      );
    }
    result.unconditional = empty.context;
  }
  return result;
}

async function readMask(setting: unknown, invert: boolean, model: LatentDiffusionModel, shape: number[]): Promise<Mask> {
  let mask: Mask;
  if (typeof setting === "string") mask = await readMaskFile(setting);
  else if (typeof setting === "object" && setting !== null && "data" in setting && "shape" in setting) mask = setting as Mask;
  else throw new CheffError("latent-diffusion: 'mask' must name a mask file");
  const [n, , height, width] = shape;
  mask = toLatentMask(mask, { height, width, factor: model.factor });
  checkMaskBatch(mask, n);
  return invert ? invertMask(mask) : mask;
}

async function diffuse(input: Stream | undefined, settings: Record<string, unknown>, context: RunContext): Promise<Stream> {
  if (input && input.kind !== "latent") throw new CheffError(`latent-diffusion diffuse: expected a latent stream, got a stream of kind ${input.kind}`);
  if (input && settings.mask === undefined) {
    throw new CheffError(
      "latent-diffusion diffuse: a latent was given without a mask; give a mask to inpaint it, or no latent to sample from noise",
    );
  }
  if (!input && settings.mask !== undefined) {
    throw new CheffError("latent-diffusion diffuse: a mask needs a latent to inpaint (the encoded original image)");
  }
  const sampler = choice<SamplerName>(settings, "sampler", ["ddim", "ddpm"], "ddim");
  const spacing = choice<Spacing>(settings, "spacing", ["exact", "reference"], "exact");
  const steps = optionalNumber(settings, "steps", true, 1);
  const eta = optionalNumber(settings, "eta", false, 0) ?? 1;
  const guidance = optionalNumber(settings, "guidance", false, -Infinity) ?? 1;
  const firstIndex = optionalNumber(settings, "firstIndex", true, 0) ?? 0;
  const countSetting = optionalNumber(settings, "count", true, 1);
  if (input && countSetting !== undefined && countSetting !== input.tensor.shape[0]) {
    throw new CheffError(`latent-diffusion diffuse: count ${countSetting} differs from the ${input.tensor.shape[0]} latents given`);
  }

  // A recorded-noise file, or several reports, fix the batch when no count is given.
  const noiseFile = optionalString(settings, "noise");
  let noise: NoiseSource;
  let recordedBatch: number | undefined;
  if (noiseFile !== undefined) {
    if (settings.seed !== undefined) throw new CheffError("latent-diffusion: give a seed or a noise file, not both");
    const recorded = await readNoiseFile(noiseFile);
    recordedBatch = recorded.batchSize();
    noise = recorded;
  } else {
    const seed = settings.seed === undefined ? randomSeed() : seedSetting(settings.seed);
    noise = new PhiloxNoise(seed, firstIndex);
  }
  const reportCount = Array.isArray(settings.report) ? settings.report.length : undefined;
  const count = countSetting ?? reportCount ?? recordedBatch ?? 1;

  const model = await latentDiffusionFor(settings, context);
  const { unet, schedule } = model;
  const scale = unet.config.scaleFactor;
  const channels = unet.config.unet.inChannels;
  const size = unet.config.unet.imageSize;
  const shape = input ? [...input.tensor.shape] : [count, channels, size, size];
  if (shape[1] !== channels) {
    throw new CheffError(`expected a latent stream of shape [N, ${channels}, h, w] for this model, got [${input!.tensor.shape}]`);
  }
  const levels = 2 ** (unet.config.unet.channelMult.length - 1);
  if (shape[2] % levels !== 0 || shape[3] % levels !== 0) {
    throw new CheffError(`latent of ${shape[3]}×${shape[2]} is not divisible by the U-Net's factor ${levels}`);
  }

  // Everything a user can get wrong is checked before the first model call.
  const timesteps = samplingTimesteps(schedule, sampler, steps, spacing);
  const mask = input ? await readMask(settings.mask, settings.invertMask === true, model, shape) : undefined;
  const cond = await conditioning(model, settings, shape[0], guidance, context);

  let inpainting: Inpainting | undefined;
  if (input && mask) {
    const x0 = new Float32Array(input.tensor.data.length);
    for (let i = 0; i < x0.length; i++) x0[i] = Math.fround(input.tensor.data[i] * scale);
    inpainting = { x0, mask: mask.data, finalBlend: settings.finalBlend !== false };
  }

  const eps = unetEps(unet.model, {
    gpu: context.gpu,
    shape,
    context: cond.context,
    unconditional: cond.unconditional,
    guidance,
  });
  let sample: Float32Array;
  try {
    sample = await sampleLatent(schedule, eps, {
      shape,
      noise,
      sampler,
      steps,
      spacing,
      eta,
      inpainting,
      progress: (done, total) => context.progress?.("diffuse", done, total, "step"),
    });
  } finally {
    eps.release();
  }

  const latent = unscale(sample, scale, input, inpainting, mask, shape);
  const step: HistoryEntry = {
    command: "diffuse",
    sampler,
    steps: timesteps.length,
    spacing,
    ...(sampler === "ddim" ? { eta } : {}),
    guidance,
    conditioning: cond.kind,
    ...(cond.reports ? { reports: cond.reports } : {}),
    ...noise.describe(),
    ...(unet.ema ? { ema: true } : {}),
    ...(inpainting ? { inpainting: settings.invertMask === true ? "outpaint" : "inpaint", finalBlend: inpainting.finalBlend } : {}),
  };
  return continueStream(input ?? cond.stream, "latent", { shape, data: latent }, step, {
    synthetic: true,
    models: { ...cond.models, "latent-diffusion": unet.sha256 },
  });
}

/**
 * Divides by scale_factor on the way out. With the final blend on, the kept
 * region is copied from the input stream itself, so it equals the original
 * latent bit for bit rather than after a multiply and a divide.
 */
function unscale(
  sample: Float32Array,
  scale: number,
  input: Stream | undefined,
  inpainting: Inpainting | undefined,
  mask: Mask | undefined,
  shape: number[],
): Float32Array {
  const out = new Float32Array(sample.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.fround(sample[i] / scale);
  if (!input || !inpainting || !mask || inpainting.finalBlend === false) return out;
  const [n, c, h, w] = shape;
  const plane = h * w;
  const perImage = mask.shape[0] === 1 ? 0 : plane;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < plane; p++) {
        const i = (b * c + ch) * plane + p;
        if (mask.data[b * perImage + p] === 0) out[i] = input.tensor.data[i];
      }
    }
  }
  return out;
}

export const latentDiffusionPlugin: Plugin = {
  name: "latent-diffusion",
  description: "latent diffusion U-Net: sample or inpaint latents, unconditional or report-conditioned",
  kinds: {
    diffuse: { takes: ["latent"], gives: "latent", inputOptional: true },
  },
  presets: ["cheff-ldm-uncond", "cheff-ldm-t2i"],
  run(kind, input, settings, context) {
    if (kind === "diffuse") return diffuse(input, settings, context);
    throw new CheffError(`latent-diffusion: unknown kind '${kind}', expected diffuse`);
  },
};
