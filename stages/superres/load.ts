/**
 * Loading the super-resolution U-Net from the released files (`cheff_sr_base.pt`,
 * `cheff_sr_fine.pt`) or from a converted safetensors file. The released files are
 * torch.save dicts whose `model` entry is the state dict. Anything else in them,
 * such as optimizer state, is not read.
 */
import type { Gpu } from "../../gpu/device.ts";
import { CheffError } from "../../io/errors.ts";
import { readConfigFile, readModelFile, shapesMatch, uploadStageWeights } from "../load.ts";
import { CHEFF_SR } from "../presets.ts";
import {
  findSuperResolutionConfig,
  parseSuperResolutionConfig,
  type SuperResolutionConfig,
} from "./config.ts";
import { superResolutionParameters, SuperResolutionUnet } from "./network.ts";

export interface LoadSuperResolutionOptions {
  /** A `--config` file; otherwise the file's stored config or the cheff-sr preset. */
  configPath?: string;
  /** An already parsed config (takes precedence over configPath). */
  config?: unknown;
  /** Receives informational lines (ignored keys). */
  note?: (message: string) => void;
}

export interface LoadedSuperResolution {
  model: SuperResolutionUnet;
  sha256: string;
  /** "file", "config" or "cheff-sr": where the config came from. */
  configSource: string;
}

/** Reads a super-resolution checkpoint, chooses its config, checks every key and uploads the weights to `gpu` (host when undefined). */
export async function loadSuperResolution(
  gpu: Gpu | undefined,
  path: string,
  options: LoadSuperResolutionOptions = {},
): Promise<LoadedSuperResolution> {
  const file = await readModelFile(path);
  if (!file.state.has("init_conv.weight") || !file.state.has("final_conv.1.weight")) {
    throw new CheffError(
      `${path}: not a super-resolution checkpoint (no init_conv.weight and final_conv.1.weight, under 'model' in a .pt file)`,
    );
  }

  let config: SuperResolutionConfig;
  let configSource: string;
  const explicit = options.config ??
    (options.configPath ? await readConfigFile(options.configPath) : undefined);
  if (explicit !== undefined) {
    config = parseSuperResolutionConfig(explicit, options.configPath ?? "config");
    configSource = "config";
  } else if (file.loaded.config !== undefined && findSuperResolutionConfig(file.loaded.config)) {
    config = parseSuperResolutionConfig(file.loaded.config, `${path} (stored config)`);
    configSource = "file";
  } else {
    const preset = parseSuperResolutionConfig(CHEFF_SR, "cheff-sr preset");
    if (!shapesMatch(superResolutionParameters(preset).shapes, file.state)) {
      throw new CheffError(
        `${path}: the file stores no config and its shapes do not match the cheff-sr preset; pass --config FILE`,
      );
    }
    config = preset;
    configSource = "cheff-sr";
  }

  const weights = uploadStageWeights(gpu, file, superResolutionParameters(config).shapes, {
    stage: "super-resolution",
    prefix: "",
    note: options.note,
  });
  return { model: new SuperResolutionUnet(config, weights), sha256: file.sha256, configSource };
}
