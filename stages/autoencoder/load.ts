/**
 * Loading the KL autoencoder from its own file (`cheff_autoencoder.pt`, keys
 * `encoder.*`, `decoder.*`, `quant_conv.*`, `post_quant_conv.*`, with the
 * training loss `loss.*` ignored) or from inside a latent-diffusion checkpoint
 * (`first_stage_model.*`), or from a converted safetensors file.
 */
import type { Gpu } from "../../gpu/device.ts";
import { CheffError } from "../../io/errors.ts";
import { findPrefix, readConfigFile, readModelFile, shapesMatch, uploadStageWeights } from "../load.ts";
import { CHEFF_AE } from "../presets.ts";
import { type AutoencoderConfig, findAutoencoderConfig, parseAutoencoderConfig } from "./config.ts";
import { Autoencoder, autoencoderParameters } from "./network.ts";

export interface LoadAutoencoderOptions {
  /** A `--config` file; otherwise the file's stored config or the matching preset. */
  configPath?: string;
  /** An already parsed config (takes precedence over configPath). */
  config?: unknown;
  /** Receives informational lines (ignored keys). */
  note?: (message: string) => void;
}

export interface LoadedAutoencoder {
  model: Autoencoder;
  sha256: string;
  /** "file", "config" or the preset name the config came from. */
  configSource: string;
}

export async function loadAutoencoder(
  gpu: Gpu | undefined,
  path: string,
  options: LoadAutoencoderOptions = {},
): Promise<LoadedAutoencoder> {
  const file = await readModelFile(path);
  const prefix = findPrefix(file.state, ["first_stage_model.", "encoder.", "decoder."]) === "first_stage_model."
    ? "first_stage_model."
    : "";
  if (prefix === "" && ![...file.state.keys()].some((k) => k.startsWith("encoder."))) {
    throw new CheffError(`${path}: not an autoencoder checkpoint (no encoder.* or first_stage_model.* keys)`);
  }

  let config: AutoencoderConfig;
  let configSource: string;
  const explicit = options.config ?? (options.configPath ? await readConfigFile(options.configPath) : undefined);
  if (explicit !== undefined) {
    config = parseAutoencoderConfig(explicit, options.configPath ?? "config");
    configSource = "config";
  } else if (file.loaded.config !== undefined && findAutoencoderConfig(file.loaded.config)) {
    config = parseAutoencoderConfig(file.loaded.config, `${path} (stored config)`);
    configSource = "file";
  } else {
    const preset = parseAutoencoderConfig(CHEFF_AE, "cheff-ae preset");
    if (!shapesMatch(autoencoderParameters(preset).shapes, file.state, prefix)) {
      throw new CheffError(
        `${path}: the file stores no config and its shapes do not match the cheff-ae preset; pass --config FILE`,
      );
    }
    config = preset;
    configSource = "cheff-ae";
  }

  const weights = uploadStageWeights(gpu, file, autoencoderParameters(config).shapes, {
    stage: "autoencoder",
    prefix,
    ignorePrefixes: prefix === "" ? ["loss."] : [],
    note: options.note,
  });
  return { model: new Autoencoder(config, weights), sha256: file.sha256, configSource };
}
