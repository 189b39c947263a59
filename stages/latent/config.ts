/**
 * The latent-diffusion config, with the reference's field names: the U-Net's
 * `UNetModel` keyword arguments (`unet_config`), and around them the
 * `LatentDiffusion` arguments cheff uses (`scale_factor`, the schedule, the
 * first and cond stages). Any shape a config comes in is accepted: the bare
 * U-Net arguments, `{target, params}` wrappers, a whole latent-diffusion config
 * (`ldm_config` in the reference files' metadata, `hyper_parameters` in a
 * checkpoint), or a training YAML's `model` section as JSON. A `ckpt_path`
 * inside a config is never loaded.
 */
import { CheffError } from "../../io/errors.ts";
import { unwrapParams } from "../autoencoder/config.ts";
import { CHEFF_LATENT_SCHEDULE, type LatentScheduleConfig } from "../schedules/latent.ts";
import { findTextEncoderConfig, parseTextEncoderConfig, type TextEncoderConfig } from "../text/config.ts";

/** The reference UNetModel's arguments that cheff implements, under TypeScript names. */
export interface UNetConfig {
  imageSize: number;
  inChannels: number;
  outChannels: number;
  modelChannels: number;
  /** Downsampling factors (1, 2, 4, …) at which a level gets attention. */
  attentionResolutions: number[];
  numResBlocks: number;
  channelMult: number[];
  /** −1 when the head count follows from numHeadChannels. */
  numHeads: number;
  /** −1 when the head width follows from numHeads. */
  numHeadChannels: number;
  /** Heads of the decoder's legacy attention blocks when numHeadChannels is −1 (the reference defaults it to numHeads). */
  numHeadsUpsample: number;
  useSpatialTransformer: boolean;
  transformerDepth: number;
  /** Width of the cross-attention context; set exactly when useSpatialTransformer is. */
  contextDim?: number;
  legacy: boolean;
}

/** Everything a latent-diffusion stage needs besides its weights. */
export interface LatentDiffusionConfig {
  unet: UNetConfig;
  /** Latents are multiplied by this on the way into the diffusion model (1.0 when the config has none). */
  scaleFactor: number;
  /** True when the reference would compute scale_factor from data and store it as a buffer (`scale_by_std`). */
  scaleByStd: boolean;
  schedule: LatentScheduleConfig;
  /** The raw `first_stage_config`, for the autoencoder's parser; undefined for a bare U-Net config. */
  firstStage?: unknown;
  /** The report encoder; undefined for an unconditional model. */
  textEncoder?: TextEncoderConfig;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Finds the UNetModel arguments: the bare arguments, a wrapper, or a config's `unet_config` / `model`. */
export function findUNetConfig(raw: unknown): Json | undefined {
  const config = unwrapParams(raw);
  if (!isObject(config)) return undefined;
  if ("model_channels" in config) return config;
  if (config.unet_config !== undefined) return findUNetConfig(config.unet_config);
  if (isObject(config.model)) return findUNetConfig(config.model);
  return undefined;
}

/** Finds the level that contains `unet_config` (the LatentDiffusion arguments), if the config has one. */
function findLatentDiffusionLevel(raw: unknown): Json | undefined {
  const config = unwrapParams(raw);
  if (!isObject(config)) return undefined;
  if (config.unet_config !== undefined) return config;
  if (isObject(config.model)) return findLatentDiffusionLevel(config.model);
  return undefined;
}

const positiveInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
const headCount = (v: unknown) => v === -1 || positiveInt(v);
const positiveIntList = (v: unknown) => Array.isArray(v) && v.every(positiveInt);

/**
 * Arguments of the reference UNetModel that select code paths cheff does not
 * implement, with the value that cheff supports. The released models use none of them.
 */
const UNSUPPORTED: [string, unknown][] = [
  ["dims", 2],
  ["conv_resample", true],
  ["num_classes", null],
  ["use_scale_shift_norm", false],
  ["resblock_updown", false],
  ["use_new_attention_order", false],
  ["n_embed", null],
];

/** Parses and checks the U-Net part of any config shape; `source` names the file in errors. */
export function parseUNetConfig(raw: unknown, source: string): UNetConfig {
  const config = findUNetConfig(raw);
  if (!config) {
    throw new CheffError(`${source}: no U-Net config (expected unet_config or the UNetModel arguments)`);
  }
  const where = `${source}: unet_config`;
  const read = <T>(name: string, check: (v: unknown) => boolean, expected: string, fallback?: T): T => {
    const value = config[name] ?? fallback;
    if (!check(value)) {
      throw new CheffError(
        `${where}: field '${name}' is ${JSON.stringify(config[name])}, expected ${expected}`,
      );
    }
    return value as T;
  };

  for (const [name, supported] of UNSUPPORTED) {
    const value = config[name];
    if (value !== undefined && value !== null && value !== supported) {
      throw new CheffError(
        `${where}: '${name}' ${JSON.stringify(value)} is not supported (cheff implements ${
          JSON.stringify(supported)
        })`,
      );
    }
  }

  const numHeads = read<number>("num_heads", headCount, "a positive integer or -1", -1);
  const parsed: UNetConfig = {
    imageSize: read("image_size", positiveInt, "a positive integer"),
    inChannels: read("in_channels", positiveInt, "a positive integer"),
    outChannels: read("out_channels", positiveInt, "a positive integer"),
    modelChannels: read("model_channels", positiveInt, "a positive integer"),
    attentionResolutions: read("attention_resolutions", positiveIntList, "a list of positive integers"),
    numResBlocks: read("num_res_blocks", positiveInt, "a positive integer"),
    channelMult: read(
      "channel_mult",
      (v) => positiveIntList(v) && (v as number[]).length > 0,
      "a list of positive integers",
      [1, 2, 4, 8],
    ),
    numHeads,
    numHeadChannels: read("num_head_channels", headCount, "a positive integer or -1", -1),
    numHeadsUpsample: read("num_heads_upsample", headCount, "a positive integer or -1", -1),
    useSpatialTransformer: read(
      "use_spatial_transformer",
      (v) => typeof v === "boolean",
      "true or false",
      false,
    ),
    transformerDepth: read("transformer_depth", positiveInt, "a positive integer", 1),
    legacy: read("legacy", (v) => typeof v === "boolean", "true or false", true),
  };
  if (parsed.numHeadsUpsample === -1) parsed.numHeadsUpsample = numHeads;
  const contextDim = config.context_dim ?? undefined;
  if (contextDim !== undefined) {
    if (!positiveInt(contextDim)) {
      throw new CheffError(
        `${where}: field 'context_dim' is ${JSON.stringify(contextDim)}, expected a positive integer`,
      );
    }
    parsed.contextDim = contextDim as number;
  }

  if (parsed.numHeads === -1 && parsed.numHeadChannels === -1) {
    throw new CheffError(`${where}: set num_heads or num_head_channels (both are -1)`);
  }
  if (parsed.useSpatialTransformer && parsed.contextDim === undefined) {
    throw new CheffError(`${where}: use_spatial_transformer needs context_dim (the text encoder's width)`);
  }
  if (!parsed.useSpatialTransformer && parsed.contextDim !== undefined) {
    throw new CheffError(
      `${where}: context_dim is set but use_spatial_transformer is not; set both or neither`,
    );
  }
  if (parsed.channelMult[0] !== 1) {
    // The reference builds the `out` convolution with model_channels inputs, whatever the last decoder level's width.
    throw new CheffError(
      `${where}: channel_mult must start with 1, got ${JSON.stringify(parsed.channelMult)}`,
    );
  }
  for (const mult of parsed.channelMult) {
    if ((parsed.modelChannels * mult) % 32 !== 0) {
      throw new CheffError(
        `${where}: model_channels·channel_mult = ${
          parsed.modelChannels * mult
        } is not divisible into 32 GroupNorm groups`,
      );
    }
  }
  return parsed;
}

/**
 * Parses a latent-diffusion config in any shape. A bare U-Net config gives an
 * unconditional model with scale_factor 1.0 and Cheff's schedule. Pass the whole
 * `ldm_config` for a report-conditioned model, because it carries scale_factor
 * 0.18215. Schedule fields the config leaves out take Cheff's values (1000 steps,
 * √β linear from 0.0015 to 0.0295), which every released Cheff model uses.
 */
export function parseLatentDiffusionConfig(raw: unknown, source: string): LatentDiffusionConfig {
  const unet = parseUNetConfig(raw, source);
  const level = findLatentDiffusionLevel(raw) ?? {};

  const scaleFactor = level.scale_factor ?? 1.0;
  if (typeof scaleFactor !== "number" || !(scaleFactor > 0)) {
    throw new CheffError(
      `${source}: field 'scale_factor' is ${JSON.stringify(level.scale_factor)}, expected a positive number`,
    );
  }
  const schedule: LatentScheduleConfig = { ...CHEFF_LATENT_SCHEDULE };
  for (const name of ["timesteps", "linear_start", "linear_end"] as const) {
    const value = level[name];
    if (value === undefined) continue;
    if (typeof value !== "number") {
      throw new CheffError(`${source}: field '${name}' is ${JSON.stringify(value)}, expected a number`);
    }
    schedule[name] = value;
  }
  const betaSchedule = level.beta_schedule ?? "linear";
  if (betaSchedule !== "linear") {
    throw new CheffError(
      `${source}: beta_schedule ${JSON.stringify(betaSchedule)} is not supported (expected "linear")`,
    );
  }
  const parameterization = level.parameterization ?? "eps";
  if (parameterization !== "eps") {
    throw new CheffError(
      `${source}: parameterization ${JSON.stringify(parameterization)} is not supported (expected "eps")`,
    );
  }

  const parsed: LatentDiffusionConfig = {
    unet,
    scaleFactor,
    scaleByStd: level.scale_by_std === true,
    schedule,
    firstStage: level.first_stage_config,
  };

  const conditioned = findTextEncoderConfig(level.cond_stage_config) !== undefined;
  if (conditioned) parsed.textEncoder = parseTextEncoderConfig(level.cond_stage_config, source);
  const key = level.conditioning_key ?? null;
  if (key !== null && key !== "crossattn") {
    throw new CheffError(
      `${source}: conditioning_key ${JSON.stringify(key)} is not supported (expected "crossattn")`,
    );
  }
  if (parsed.textEncoder && !unet.useSpatialTransformer) {
    throw new CheffError(
      `${source}: cond_stage_config is set but unet_config has no use_spatial_transformer to attend to it`,
    );
  }
  if (parsed.textEncoder && unet.contextDim !== parsed.textEncoder.width) {
    throw new CheffError(
      `${source}: unet_config context_dim ${unet.contextDim} differs from the text encoder's n_embed ${parsed.textEncoder.width}`,
    );
  }
  return parsed;
}
