/**
 * Loading the latent-diffusion U-Net from a Cheff checkpoint, a converted
 * safetensors file, or a bare U-Net state dict. The raw weights sit under
 * `model.diffusion_model.`. The EMA shadow weights (`--ema`) sit under
 * `model_ema.`, each named after its raw name under `model.` with every dot removed
 * (`model.diffusion_model.time_embed.0.weight` → `model_ema.diffusion_modeltime_embed0weight`).
 *
 * @example
 * ```ts
 * const { model, config } = await loadUNet(gpu, "cheff_diff_t2i.pt", { ema: true, note: console.error });
 * const eps = model.eps(xt, [901], context);
 * ```
 */
import type { Gpu } from "../../gpu/device.ts";
import { matchKeys } from "../../io/checkpoint/keys.ts";
import { CheffError } from "../../io/errors.ts";
import type { HostTensor } from "../../io/safetensors.ts";
import { findPrefix, type LoadedModelFile, readConfigFile, readModelFile, shapesMatch } from "../load.ts";
import { CHEFF_LDM_T2I, CHEFF_LDM_UNCOND } from "../presets.ts";
import { TABLE_NAMES } from "../schedules/latent.ts";
import { Weights } from "../weights.ts";
import { findUNetConfig, type LatentDiffusionConfig, parseLatentDiffusionConfig } from "./config.ts";
import { UNet, unetParameters } from "./unet.ts";

/** Key prefixes of the parts of a latent-diffusion checkpoint. */
export const UNET_PREFIX = "model.diffusion_model.";
export const EMA_PREFIX = "model_ema.";
export const AUTOENCODER_PREFIX = "first_stage_model.";
export const TEXT_ENCODER_PREFIX = "cond_stage_model.";

/** Returns the EMA key of a U-Net parameter: `time_embed.0.weight` → `model_ema.diffusion_modeltime_embed0weight`. */
export function emaKey(name: string): string {
  return EMA_PREFIX + `diffusion_model.${name}`.replaceAll(".", "");
}

const SCHEDULE_BUFFERS = new Set(Object.values(TABLE_NAMES));

/** A group of keys a stage skips on purpose: a label for the summary line, and which keys it covers. */
export type IgnoredGroup = [label: string, covers: (key: string) => boolean];

/** The latent-diffusion checkpoint's parts that are no stage's parameters. */
export const CHECKPOINT_EXTRAS: IgnoredGroup[] = [
  ["schedule buffers", (key) => SCHEDULE_BUFFERS.has(key)],
  ["scale_factor", (key) => key === "scale_factor"],
];

export interface StageMatch {
  /** The file's tensor for every parameter name. */
  tensors: Map<string, HostTensor>;
  /** One line counting the keys skipped on purpose; undefined when none were. */
  summary?: string;
}

/**
 * Matches a file's keys to a stage's parameters: `fileKey` maps each parameter
 * name to its key in the file. Keys covered by `ignored` are counted in the
 * summary line; every other difference (missing, unexpected, misshapen) is
 * reported in one CheffError.
 */
export function matchStage(
  file: LoadedModelFile,
  expected: Map<string, readonly number[]>,
  fileKey: (name: string) => string,
  ignored: IgnoredGroup[],
  stage: string,
): StageMatch {
  const expectedKeys = new Map<string, readonly number[]>();
  const nameOf = new Map<string, string>();
  for (const [name, shape] of expected) {
    const key = fileKey(name);
    if (nameOf.has(key)) {
      throw new Error(`${stage}: parameters ${nameOf.get(key)} and ${name} map to the same key ${key}`);
    }
    expectedKeys.set(key, shape);
    nameOf.set(key, name);
  }

  const available = new Map<string, HostTensor>();
  const counts = new Map<string, number>();
  for (const [key, tensor] of file.state) {
    const group = expectedKeys.has(key) ? undefined : ignored.find(([, covers]) => covers(key));
    if (group) counts.set(group[0], (counts.get(group[0]) ?? 0) + 1);
    else available.set(key, tensor);
  }

  const match = matchKeys(expectedKeys, available, { source: file.path, stage });
  const tensors = new Map<string, HostTensor>();
  for (const [key, tensor] of match.tensors) tensors.set(nameOf.get(key)!, tensor);

  const result: StageMatch = { tensors };
  if (counts.size > 0) {
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const parts = ignored.filter(([label]) => counts.has(label)).map(([label]) =>
      `${counts.get(label)} ${label}`
    ).join(", ");
    result.summary = `${file.path}: ignored ${total} keys that are not part of the ${stage} (${parts})`;
  }
  return result;
}

export interface LoadUNetOptions {
  /** A `--config` file; otherwise the file's stored config or the matching preset. */
  configPath?: string;
  /** An already parsed config in any accepted shape (takes precedence over configPath). */
  config?: unknown;
  /** Load the EMA shadow weights (`model_ema.*`) instead of the raw ones. */
  ema?: boolean;
  /** Receives informational lines (ignored keys). */
  note?: (message: string) => void;
}

export interface LoadedUNet {
  model: UNet;
  config: LatentDiffusionConfig;
  sha256: string;
  /** "config", "file" or the preset name the config came from. */
  configSource: string;
  ema: boolean;
}

/**
 * Chooses the latent-diffusion config: the explicit one, else the config the
 * file stores, else the preset whose U-Net shapes match the file, else a
 * CheffError asking for `--config`.
 */
export async function resolveLatentDiffusionConfig(
  file: LoadedModelFile,
  options: Pick<LoadUNetOptions, "config" | "configPath">,
): Promise<{ config: LatentDiffusionConfig; configSource: string }> {
  const explicit = options.config ??
    (options.configPath ? await readConfigFile(options.configPath) : undefined);
  if (explicit !== undefined) {
    return {
      config: parseLatentDiffusionConfig(explicit, options.configPath ?? "config"),
      configSource: "config",
    };
  }
  if (file.loaded.config !== undefined && findUNetConfig(file.loaded.config)) {
    return {
      config: parseLatentDiffusionConfig(file.loaded.config, `${file.path} (stored config)`),
      configSource: "file",
    };
  }
  const prefix = unetPrefix(file);
  for (
    const [name, preset] of [["cheff-ldm-uncond", CHEFF_LDM_UNCOND], [
      "cheff-ldm-t2i",
      CHEFF_LDM_T2I,
    ]] as const
  ) {
    const config = parseLatentDiffusionConfig(preset, `${name} preset`);
    if (prefix !== undefined && shapesMatch(unetParameters(config.unet).shapes, file.state, prefix)) {
      return { config, configSource: name };
    }
  }
  throw new CheffError(
    `${file.path}: the file stores no config and its U-Net shapes match no preset (cheff-ldm-uncond, cheff-ldm-t2i); pass --config FILE`,
  );
}

/** `model.diffusion_model.` in a latent-diffusion checkpoint, "" for a bare U-Net state dict, undefined when neither. */
function unetPrefix(file: LoadedModelFile): string | undefined {
  if (findPrefix(file.state, [UNET_PREFIX])) return UNET_PREFIX;
  if (file.state.has("time_embed.0.weight")) return "";
  return undefined;
}

/** Loads the U-Net (raw or EMA weights) and its config from a model file, or from one already read. */
export async function loadUNet(
  gpu: Gpu | undefined,
  source: string | LoadedModelFile,
  options: LoadUNetOptions = {},
): Promise<LoadedUNet> {
  const file = typeof source === "string" ? await readModelFile(source) : source;
  const ema = options.ema ?? false;
  const prefix = unetPrefix(file);
  if (prefix === undefined) {
    throw new CheffError(`${file.path}: not a latent-diffusion checkpoint (no ${UNET_PREFIX}* keys)`);
  }
  if (ema && !findPrefix(file.state, [EMA_PREFIX])) {
    throw new CheffError(
      `${file.path}: --ema was given but the file contains no EMA weights (${EMA_PREFIX}* keys)`,
    );
  }

  const { config, configSource } = await resolveLatentDiffusionConfig(file, options);
  if (config.scaleByStd) {
    // With scale_by_std the reference computes scale_factor from the first batch and stores it as a buffer.
    const stored = file.state.get("scale_factor");
    if (stored && stored.data.length === 1) config.scaleFactor = Number(stored.data[0]);
  }

  const ignored: IgnoredGroup[] = [
    ["EMA counters", (key) => key === `${EMA_PREFIX}decay` || key === `${EMA_PREFIX}num_updates`],
    [ema ? "raw U-Net weights" : "EMA weights", (key) => key.startsWith(ema ? UNET_PREFIX : EMA_PREFIX)],
    ["autoencoder", (key) => key.startsWith(AUTOENCODER_PREFIX)],
    ["text encoder", (key) => key.startsWith(TEXT_ENCODER_PREFIX)],
    ...CHECKPOINT_EXTRAS,
  ];
  const fileKey = ema ? emaKey : (name: string) => prefix + name;
  const match = matchStage(
    file,
    unetParameters(config.unet).shapes,
    fileKey,
    ignored,
    ema ? "EMA U-Net" : "U-Net",
  );
  if (match.summary) options.note?.(match.summary);

  const weights = Weights.upload(gpu, match.tensors);
  return { model: new UNet(config.unet, weights), config, sha256: file.sha256, configSource, ema };
}
