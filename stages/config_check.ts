/**
 * Checks that a config fits a file's weights before the pair is written
 * together (`cheff convert`): each stage the config describes must find its
 * parameters in the file with the shapes the config implies.
 */
import { matchKeys } from "../io/checkpoint/keys.ts";
import { CheffError } from "../io/errors.ts";
import type { HostTensor } from "../io/safetensors.ts";
import { findAutoencoderConfig, parseAutoencoderConfig } from "./autoencoder/config.ts";
import { autoencoderParameters } from "./autoencoder/network.ts";
import { findUNetConfig, parseUNetConfig } from "./latent/config.ts";
import { unetParameters } from "./latent/unet.ts";
import { findSuperResolutionConfig, parseSuperResolutionConfig } from "./superres/config.ts";
import { superResolutionParameters } from "./superres/network.ts";

function hasPrefix(state: Map<string, HostTensor>, prefix: string): boolean {
  for (const key of state.keys()) if (key.startsWith(prefix)) return true;
  return false;
}

/** Throws one CheffError when the config does not fit the weights; returns the stages checked. */
export function checkConfigFits(config: unknown, state: Map<string, HostTensor>, source: string): string[] {
  const checked: string[] = [];
  const check = (stage: string, expected: Map<string, number[]>, prefix: string) => {
    try {
      matchKeys(expected, state, { prefix, source, stage, ignorePrefixes: ["loss."] });
    } catch (error) {
      if (!(error instanceof CheffError)) throw error;
      throw new CheffError(`the config does not fit the weights: ${error.message}`);
    }
    checked.push(stage);
  };
  const unet = findUNetConfig(config);
  if (unet && hasPrefix(state, "model.diffusion_model.")) {
    check("U-Net", unetParameters(parseUNetConfig(config, `${source} config`)).shapes, "model.diffusion_model.");
  }
  if (findAutoencoderConfig(config)) {
    const prefix = hasPrefix(state, "first_stage_model.") ? "first_stage_model." : "";
    if (prefix !== "" || hasPrefix(state, "encoder.")) {
      check("autoencoder", autoencoderParameters(parseAutoencoderConfig(config, `${source} config`)).shapes, prefix);
    }
  }
  if (!unet && findSuperResolutionConfig(config) && hasPrefix(state, "init_conv.")) {
    check("super-resolution", superResolutionParameters(parseSuperResolutionConfig(config, `${source} config`)).shapes, "");
  }
  if (checked.length === 0) {
    throw new CheffError(`${source}: the config describes no stage whose weights are in the file`);
  }
  return checked;
}
