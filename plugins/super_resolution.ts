/**
 * The super-resolution plugin: `upscale` (image stream → image stream). Each
 * image becomes one gray channel (ITU-R 601 luma when it has three), is
 * upsampled by PyTorch-compatible bicubic interpolation to the output size, and
 * conditions a diffusion sampler that draws the high-resolution image. Images
 * run one at a time so GPU memory stays that of a single image; outputs are not
 * clamped.
 */
import { Tensor } from "../gpu/tensor.ts";
import { CheffError } from "../io/errors.ts";
import { readInput } from "../io/files.ts";
import { parseSafetensors } from "../io/safetensors.ts";
import { continueStream, type Stream } from "../io/stream.ts";
import { resizeBicubic } from "../kernels/resize.ts";
import { type CosineSchedule, srCosineSchedule } from "../stages/schedules/cosine.ts";
import type { Spacing } from "../stages/schedules/spacing.ts";
import { sizeMultiple } from "../stages/superres/config.ts";
import { type LoadedSuperResolution, loadSuperResolution } from "../stages/superres/load.ts";
import {
  DEFAULT_SAMPLING,
  type NoiseSource,
  philoxNoise,
  planSampling,
  type RecordedNoise,
  recordedNoise,
  sampleSuperResolution,
  type SamplingSettings,
  type SuperResolutionSampler,
} from "../stages/superres/sampler.ts";
import type { RunContext } from "./context.ts";
import type { Plugin } from "./plugin.ts";

/** The output side length when neither a size nor recorded noise gives one. */
export const DEFAULT_UPSCALE_SIZE = 1024;

/**
 * Settings of `upscale`, as a pipeline file or the CLI gives them:
 * `model` (required), `config`, `sampler` ("ddim" | "ddpm"), `steps`, `eta`,
 * `spacing` ("exact" | "reference"), `clip` (DDIM: clamp x0 to [−1, 1]), `seed`, `size` (output side), `noise`
 * (a recorded-noise file) and `firstIndex` (the run index of the first image,
 * which picks its noise seed when a run is split into shards).
 */
export interface UpscaleSettings {
  model: string;
  config?: string;
  sampler?: SuperResolutionSampler;
  steps?: number;
  eta?: number;
  spacing?: Spacing;
  clip?: boolean;
  seed?: number;
  size?: number;
  noise?: string;
  firstIndex?: number;
}

interface LoadedForSampling extends LoadedSuperResolution {
  schedule: CosineSchedule;
}

/** Loads (once per context) the super-resolution model named by the settings, with its schedule. */
export function superResolutionFor(
  settings: Record<string, unknown>,
  context: RunContext,
): Promise<LoadedForSampling> {
  const model = settings.model;
  if (typeof model !== "string") throw new CheffError("super-resolution: 'model' must name a model file");
  const config = settings.config;
  if (config !== undefined && typeof config !== "string") {
    throw new CheffError("super-resolution: 'config' must name a JSON file");
  }
  return context.models.get(`super-resolution:${model}:${config ?? ""}`, async () => {
    const loaded = await loadSuperResolution(context.gpu, model, { configPath: config, note: context.warn });
    const { outDim, channels } = loaded.model.config;
    if (outDim !== 1 || channels !== 2) {
      loaded.model.release();
      throw new CheffError(
        `${model}: the upscale stage needs a gray model (out_dim 1, channels 2: noisy image + low-resolution image), got out_dim ${outDim}, channels ${channels}`,
      );
    }
    return {
      ...loaded,
      schedule: srCosineSchedule(loaded.model.config.schedule),
      release: () => loaded.model.release(),
    };
  });
}

/** Reads (once per context) a recorded-noise file: `x_T` [N, 1, H, W] and optionally `noise` [S, N, 1, H, W]. */
export function noiseFileFor(path: string, context: RunContext): Promise<RecordedNoise> {
  return context.models.get(`noise:${path}`, async () => {
    const source = path === "-" ? "standard input" : path;
    return recordedNoise(parseSafetensors(await readInput(path), source).tensors, source);
  });
}

function integerSetting(
  settings: Record<string, unknown>,
  name: string,
  fallback: number,
  min: number,
  max = Infinity,
): number {
  const value = settings[name] ?? fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Infinity ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
    throw new CheffError(`upscale: '${name}' is ${JSON.stringify(settings[name])}, expected ${range}`);
  }
  return value;
}

function choiceSetting<T extends string>(
  settings: Record<string, unknown>,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const value = settings[name] ?? fallback;
  if (!choices.includes(value as T)) {
    throw new CheffError(
      `upscale: '${name}' is ${JSON.stringify(value)}, expected one of ${choices.join(", ")}`,
    );
  }
  return value as T;
}

/** Reads and checks the sampler settings. */
export function samplingSettings(settings: Record<string, unknown>, timesteps: number): SamplingSettings {
  const sampler = choiceSetting(settings, "sampler", ["ddim", "ddpm"] as const, DEFAULT_SAMPLING.sampler);
  const spacing = choiceSetting(
    settings,
    "spacing",
    ["exact", "reference"] as const,
    DEFAULT_SAMPLING.spacing,
  );
  const steps = integerSetting(
    settings,
    "steps",
    sampler === "ddpm" ? timesteps : DEFAULT_SAMPLING.steps,
    1,
    timesteps,
  );
  if (sampler === "ddpm" && steps !== timesteps) {
    throw new CheffError(
      `upscale: the ddpm sampler always takes all ${timesteps} steps; 'steps' applies to ddim`,
    );
  }
  const eta = settings.eta ?? DEFAULT_SAMPLING.eta;
  if (typeof eta !== "number" || !Number.isFinite(eta) || eta < 0) {
    throw new CheffError(`upscale: 'eta' is ${JSON.stringify(settings.eta)}, expected a number ≥ 0`);
  }
  const clip = settings.clip ?? false;
  if (typeof clip !== "boolean") {
    throw new CheffError(`upscale: 'clip' is ${JSON.stringify(settings.clip)}, expected true or false`);
  }
  if (clip && sampler === "ddpm") {
    throw new CheffError("upscale: 'clip' applies to ddim; the ddpm sampler always clamps x0");
  }
  return { sampler, steps, eta, spacing, clip };
}

/** Converts image i of an [N, C, h, w] stream to one channel: itself, or ITU-R 601 luma of three. */
function grayPlane(stream: Stream, index: number): Float32Array {
  const [, c, h, w] = stream.tensor.shape;
  const plane = h * w;
  const data = stream.tensor.data.subarray(index * c * plane, (index + 1) * c * plane);
  if (c === 1) return data.slice();
  if (c !== 3) {
    throw new CheffError(
      `upscale: expected an image stream with 1 or 3 channels, got [${stream.tensor.shape}]`,
    );
  }
  const gray = new Float32Array(plane);
  // Luma is linear with weights summing to 1, so it maps [-1, 1] to [-1, 1] directly.
  for (let i = 0; i < plane; i++) {
    gray[i] = 0.299 * data[i] + 0.587 * data[plane + i] + 0.114 * data[2 * plane + i];
  }
  return gray;
}

/** The output [H, W]: `size`, or recorded noise's x_T size, or the default; they must agree when both are given. */
export function outputSize(
  settings: Record<string, unknown>,
  noise: RecordedNoise | undefined,
): [number, number] {
  const size = settings.size === undefined ? undefined : integerSetting(settings, "size", 0, 1);
  if (noise) {
    const [, , h, w] = noise.shape;
    if (size !== undefined && (size !== h || size !== w)) {
      throw new CheffError(`upscale: size ${size} does not match the recorded x_T of ${h}×${w}`);
    }
    return [h, w];
  }
  return [size ?? DEFAULT_UPSCALE_SIZE, size ?? DEFAULT_UPSCALE_SIZE];
}

async function upscale(
  input: Stream,
  settings: Record<string, unknown>,
  context: RunContext,
): Promise<Stream> {
  const loaded = await superResolutionFor(settings, context);
  const { model, schedule, sha256 } = loaded;
  const sampling = samplingSettings(settings, schedule.timesteps);
  const noisePath = settings.noise;
  if (noisePath !== undefined && typeof noisePath !== "string") {
    throw new CheffError("upscale: 'noise' must name a safetensors file");
  }
  const recorded = noisePath ? await noiseFileFor(noisePath, context) : undefined;
  const [height, width] = outputSize(settings, recorded);
  const multiple = sizeMultiple(model.config);
  if (height % multiple !== 0 || width % multiple !== 0) {
    throw new CheffError(
      `upscale: output size ${height}×${width} is not a multiple of ${multiple}, which this model's ${model.config.dimMults.length} levels need`,
    );
  }

  const [n, c, h, w] = input.tensor.shape;
  if (input.tensor.shape.length !== 4 || (c !== 1 && c !== 3)) {
    throw new CheffError(
      `upscale: expected an image stream of shape [N, 1 or 3, H, W], got [${input.tensor.shape}]`,
    );
  }
  const seed = integerSetting(
    settings,
    "seed",
    Math.floor(Math.random() * 2 ** 31),
    0,
    Number.MAX_SAFE_INTEGER,
  );
  const firstIndex = integerSetting(settings, "firstIndex", 0, 0);
  const noise: NoiseSource = recorded ?? philoxNoise(seed);
  const plan = planSampling(schedule, sampling);
  if (recorded) {
    if (recorded.shape[0] < firstIndex + n || recorded.shape[1] !== 1) {
      throw new CheffError(
        `${noisePath}: x_T has shape [${recorded.shape}], expected [${
          firstIndex + n
        }, 1, H, W] for ${n} image(s)`,
      );
    }
    const needed = plan.length;
    const noisy = plan.some((s) => s.noisy);
    if (recorded.steps > 0 && recorded.steps !== needed) {
      throw new CheffError(
        `${noisePath}: 'noise' records ${recorded.steps} steps, the ${sampling.sampler} sampler takes ${needed}`,
      );
    }
    if (noisy && recorded.steps === 0) {
      throw new CheffError(
        `${noisePath}: no 'noise' tensor, but the sampler adds noise; record noise [${needed}, N, 1, H, W] or use eta 0`,
      );
    }
  }

  const plane = height * width;
  const output = new Float32Array(n * plane);
  for (let i = 0; i < n; i++) {
    const low = Tensor.from(context.gpu, [1, 1, h, w], grayPlane(input, i));
    const upsampled = resizeBicubic(low, height, width);
    low.release();
    const label = n === 1 ? "upscale" : `upscale ${i + 1}/${n}`;
    context.progress?.(label, 0, plan.length, "step");
    const sample = await sampleSuperResolution(model, schedule, upsampled, {
      settings: sampling,
      noise,
      firstIndex: firstIndex + i,
      progress: (done, total) => context.progress?.(label, done, total, "step"),
    });
    upsampled.release();
    output.set(await sample.read(), i * plane);
    sample.release();
  }

  const step = {
    command: "upscale",
    sampler: sampling.sampler,
    steps: plan.length,
    ...(sampling.sampler === "ddim" ? { eta: sampling.eta, spacing: sampling.spacing } : {}),
    ...(sampling.clip ? { clip: true } : {}),
    ...(recorded ? { noise: noise.description } : { seed: seed + firstIndex }),
    size: [height, width],
  };
  return continueStream(input, "image", { shape: [n, 1, height, width], data: output }, step, {
    synthetic: true,
    models: { "super-resolution": sha256 },
  });
}

export const superResolutionPlugin: Plugin = {
  name: "super-resolution",
  description: "SR3-style diffusion U-Net: images upscaled 4× (256 → 1024 px for cheff-sr)",
  kinds: { upscale: { takes: ["image"], gives: "image" } },
  presets: ["cheff-sr"],
  run(kind, input, settings, context) {
    if (!input) throw new CheffError(`super-resolution ${kind}: needs an input image stream`);
    if (kind === "upscale") return upscale(input, settings, context);
    throw new CheffError(`super-resolution: unknown kind '${kind}', expected upscale`);
  },
};
