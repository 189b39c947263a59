/**
 * The KL autoencoder's config, with the reference's field names (`embed_dim`,
 * `ddconfig`), read from any of the shapes a config file or checkpoint may
 * carry it in.
 */
import { CheffError } from "../../io/errors.ts";

export interface AutoencoderConfig {
  embedDim: number;
  doubleZ: boolean;
  zChannels: number;
  resolution: number;
  inChannels: number;
  outChannels: number;
  ch: number;
  chMult: number[];
  numResBlocks: number;
  attnResolutions: number[];
  dropout: number;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Unwraps `{target, params}` wrappers. */
export function unwrapParams(raw: unknown): unknown {
  if (isObject(raw) && "target" in raw && isObject(raw.params)) return raw.params;
  return raw;
}

/**
 * Finds the autoencoder part of a config: `{embed_dim, ddconfig}` itself, a
 * `{target, params}` wrapper of it, or a latent-diffusion config's
 * `first_stage_config`. Returns undefined when none is there.
 */
export function findAutoencoderConfig(raw: unknown): Json | undefined {
  const config = unwrapParams(raw);
  if (!isObject(config)) return undefined;
  if (isObject(config.ddconfig)) return config;
  if (config.first_stage_config !== undefined) return findAutoencoderConfig(config.first_stage_config);
  if (isObject(config.model)) return findAutoencoderConfig(config.model);
  return undefined;
}

function field<T>(object: Json, name: string, source: string, check: (v: unknown) => boolean, expected: string): T {
  const value = object[name];
  if (!check(value)) throw new CheffError(`${source}: field '${name}' is ${JSON.stringify(value)}, expected ${expected}`);
  return value as T;
}

const positiveInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
const intList = (v: unknown) => Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0);

/** Parses and checks an autoencoder config; `source` names the file in errors. */
export function parseAutoencoderConfig(raw: unknown, source: string): AutoencoderConfig {
  const config = findAutoencoderConfig(raw);
  if (!config) throw new CheffError(`${source}: no autoencoder config (expected {embed_dim, ddconfig})`);
  const dd = config.ddconfig as Json;
  const where = `${source}: ddconfig`;
  const parsed: AutoencoderConfig = {
    embedDim: field(config, "embed_dim", source, positiveInt, "a positive integer"),
    doubleZ: (dd.double_z ?? true) as boolean,
    zChannels: field(dd, "z_channels", where, positiveInt, "a positive integer"),
    resolution: field(dd, "resolution", where, positiveInt, "a positive integer"),
    inChannels: field(dd, "in_channels", where, positiveInt, "a positive integer"),
    outChannels: field(dd, "out_ch", where, positiveInt, "a positive integer"),
    ch: field(dd, "ch", where, positiveInt, "a positive integer"),
    chMult: field(dd, "ch_mult", where, (v) => intList(v) && (v as number[]).length > 0, "a list of integers"),
    numResBlocks: field(dd, "num_res_blocks", where, positiveInt, "a positive integer"),
    attnResolutions: (dd.attn_resolutions ?? []) as number[],
    dropout: (dd.dropout ?? 0) as number,
  };
  if (!intList(parsed.attnResolutions)) throw new CheffError(`${where}: 'attn_resolutions' must be a list of integers`);
  if (!parsed.doubleZ) throw new CheffError(`${where}: double_z false is not a KL autoencoder (expected true)`);
  for (const c of parsed.chMult) {
    if ((parsed.ch * c) % 32 !== 0) {
      throw new CheffError(`${where}: ch·ch_mult = ${parsed.ch * c} is not divisible into 32 GroupNorm groups`);
    }
  }
  return parsed;
}

/** How much the encoder shrinks each side: 2^(levels − 1). */
export function downsamplingFactor(config: AutoencoderConfig): number {
  return 2 ** (config.chMult.length - 1);
}
