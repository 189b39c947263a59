/**
 * Loading the report encoder from a report-conditioned Cheff checkpoint
 * (`cond_stage_model.transformer.*`), a converted safetensors file, or a bare
 * TransformerWrapper state dict. The unused output layer `to_logits` and the
 * other stages' keys are counted in one summary line, never uploaded.
 *
 * @example
 * ```ts
 * const { model } = await loadTextEncoder(gpu, "cheff_diff_t2i.pt", { note: console.error });
 * const context = model.context(ids, 1); // [1, 150, 1280]
 * ```
 */
import type { Gpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { CheffError } from "../../io/errors.ts";
import { splitRows } from "../../kernels/embedding.ts";
import { findPrefix, type LoadedModelFile, readConfigFile, readModelFile, shapesMatch } from "../load.ts";
import {
  AUTOENCODER_PREFIX,
  CHECKPOINT_EXTRAS,
  EMA_PREFIX,
  type IgnoredGroup,
  matchStage,
  UNET_PREFIX,
} from "../latent/load.ts";
import { CHEFF_LDM_T2I } from "../presets.ts";
import { Weights } from "../weights.ts";
import { findTextEncoderConfig, parseTextEncoderConfig, type TextEncoderConfig } from "./config.ts";
import { TextEncoder, textEncoderParameters, TOKEN_TABLE } from "./encoder.ts";

/** Key prefix of the encoder's weights in a latent-diffusion checkpoint. */
export const TEXT_ENCODER_WEIGHTS_PREFIX = "cond_stage_model.transformer.";

export interface LoadTextEncoderOptions {
  /** A `--config` file; otherwise the file's stored config or the cheff-ldm-t2i preset when its shapes match. */
  configPath?: string;
  /** An already parsed config in any accepted shape (takes precedence over configPath). */
  config?: unknown;
  /** Receives informational lines (ignored keys). */
  note?: (message: string) => void;
  /** The largest row chunk of the token table, in bytes (default: the adapter's storage binding limit). */
  tableChunkBytes?: number;
}

export interface LoadedTextEncoder {
  model: TextEncoder;
  config: TextEncoderConfig;
  sha256: string;
  /** "config", "file" or the preset name the config came from. */
  configSource: string;
}

/** Finds the prefix of the encoder's keys: inside a checkpoint, under a bare `transformer.`, or none. */
function textEncoderPrefix(file: LoadedModelFile): string | undefined {
  const found = findPrefix(file.state, [TEXT_ENCODER_WEIGHTS_PREFIX, "transformer.token_emb."]);
  if (found === TEXT_ENCODER_WEIGHTS_PREFIX) return found;
  if (found !== undefined) return "transformer.";
  if (file.state.has(TOKEN_TABLE)) return "";
  return undefined;
}

async function resolveTextEncoderConfig(
  file: LoadedModelFile,
  prefix: string,
  options: LoadTextEncoderOptions,
): Promise<{ config: TextEncoderConfig; configSource: string }> {
  const explicit = options.config ??
    (options.configPath ? await readConfigFile(options.configPath) : undefined);
  if (explicit !== undefined) {
    return {
      config: parseTextEncoderConfig(explicit, options.configPath ?? "config"),
      configSource: "config",
    };
  }
  if (file.loaded.config !== undefined && findTextEncoderConfig(file.loaded.config)) {
    return {
      config: parseTextEncoderConfig(file.loaded.config, `${file.path} (stored config)`),
      configSource: "file",
    };
  }
  const preset = parseTextEncoderConfig(CHEFF_LDM_T2I, "cheff-ldm-t2i preset");
  if (shapesMatch(textEncoderParameters(preset).shapes, file.state, prefix)) {
    return { config: preset, configSource: "cheff-ldm-t2i" };
  }
  throw new CheffError(
    `${file.path}: the file stores no config and its text-encoder shapes do not match the cheff-ldm-t2i preset; pass --config FILE`,
  );
}

/** Loads the report encoder and its config from a model file, or from one already read. */
export async function loadTextEncoder(
  gpu: Gpu | undefined,
  source: string | LoadedModelFile,
  options: LoadTextEncoderOptions = {},
): Promise<LoadedTextEncoder> {
  const file = typeof source === "string" ? await readModelFile(source) : source;
  const prefix = textEncoderPrefix(file);
  if (prefix === undefined) {
    throw new CheffError(
      `${file.path}: contains no text encoder (no ${TEXT_ENCODER_WEIGHTS_PREFIX}* keys), so it is not a report-conditioned model`,
    );
  }
  const { config, configSource } = await resolveTextEncoderConfig(file, prefix, options);

  const ignored: IgnoredGroup[] = [
    ["unused to_logits", (key) => key.startsWith(`${prefix}to_logits.`)],
    ["U-Net", (key) => key.startsWith(UNET_PREFIX)],
    ["EMA weights", (key) => key.startsWith(EMA_PREFIX)],
    ["autoencoder", (key) => key.startsWith(AUTOENCODER_PREFIX)],
    ...CHECKPOINT_EXTRAS,
  ];
  const match = matchStage(
    file,
    textEncoderParameters(config).shapes,
    (name) => prefix + name,
    ignored,
    "text encoder",
  );
  if (match.summary) options.note?.(match.summary);

  // The released token table (30522 × 1280 float32, 156 MB) can exceed one storage binding, so it goes up in row chunks.
  const table = match.tensors.get(TOKEN_TABLE)!;
  match.tensors.delete(TOKEN_TABLE);
  const tableData = table.data instanceof Float32Array
    ? table.data
    : Float32Array.from(table.data as ArrayLike<number>, Number);
  const tokenTable = gpu
    ? splitRows(gpu, [table.shape[0], table.shape[1]], tableData, options.tableChunkBytes)
    : Tensor.host(table.shape, tableData);
  const weights = Weights.upload(gpu, match.tensors);
  return { model: new TextEncoder(config, weights, tokenTable), config, sha256: file.sha256, configSource };
}
