/**
 * The super-resolution U-Net's config, with the reference's field names
 * (`Unet(dim, init_dim, out_dim, dim_mults, num_attention_layer, channels,
 * block_groups)`) and its cosine schedule, read from any of the shapes a config
 * file may carry it in: the plain keyword arguments, a `{target, params}`
 * wrapper, or the SR file's `{model, schedule, …}`.
 */
import { CheffError } from "../../io/errors.ts";
import { CHEFF_SR_SCHEDULE, type CosineScheduleConfig } from "../schedules/cosine.ts";

export interface SuperResolutionConfig {
  /** Base width: the sinusoidal embedding's width and the first level's channels. */
  dim: number;
  /** Channels of the 7×7 input convolution (the reference's default is ⌊dim/3⌋·2). */
  initDim: number;
  /** Channels of the output (the predicted noise). */
  outDim: number;
  /** Channel multiplier per level; the number of levels is its length. */
  dimMults: number[];
  /** How many of the deepest levels (counting the middle) get attention; see `hasLinearAttention`. */
  numAttentionLayer: number;
  /** Input channels: the noisy image and the upsampled low-resolution image, concatenated. */
  channels: number;
  /** GroupNorm groups inside the residual blocks. */
  blockGroups: number;
  schedule: CosineScheduleConfig;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function unwrapParams(raw: unknown): unknown {
  if (isObject(raw) && "target" in raw && isObject(raw.params)) return raw.params;
  return raw;
}

/**
 * Finds the network arguments in a config: the object that has `dim` and
 * `dim_mults`, at the top, under `model`, or inside `{target, params}`
 * wrappers. Returns the arguments and the object holding the schedule, or
 * undefined when there are none.
 */
export function findSuperResolutionConfig(raw: unknown): { network: Json; outer: Json } | undefined {
  const config = unwrapParams(raw);
  if (!isObject(config)) return undefined;
  if ("dim" in config && "dim_mults" in config) return { network: config, outer: config };
  const inner = unwrapParams(config.model);
  if (isObject(inner) && "dim" in inner && "dim_mults" in inner) return { network: inner, outer: config };
  return undefined;
}

const positiveInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
const nonNegativeInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

function field<T>(
  object: Json,
  name: string,
  source: string,
  check: (v: unknown) => boolean,
  expected: string,
  fallback?: T,
): T {
  const value = object[name] ?? fallback;
  if (!check(value)) {
    throw new CheffError(
      `${source}: field '${name}' is ${JSON.stringify(object[name])}, expected ${expected}`,
    );
  }
  return value as T;
}

function parseSchedule(outer: Json, source: string): CosineScheduleConfig {
  const raw = outer.schedule;
  if (raw === undefined) return CHEFF_SR_SCHEDULE;
  if (!isObject(raw)) {
    throw new CheffError(
      `${source}: field 'schedule' must be an object like {"timesteps": 2000, "s": 0.008}`,
    );
  }
  const where = `${source}: schedule`;
  if (raw.name !== undefined && raw.name !== "cosine") {
    throw new CheffError(`${where}: name '${raw.name}' is not supported, expected "cosine"`);
  }
  const timesteps = field<number>(
    raw,
    "timesteps",
    where,
    (v) => positiveInt(v) && (v as number) >= 2,
    "an integer ≥ 2",
    CHEFF_SR_SCHEDULE.timesteps,
  );
  const s = field<number>(
    raw,
    "s",
    where,
    (v) => typeof v === "number" && v >= 0 && v < 1,
    "a number in [0, 1)",
    CHEFF_SR_SCHEDULE.s,
  );
  return { timesteps, s, betaClip: CHEFF_SR_SCHEDULE.betaClip };
}

/** Parses and checks a super-resolution config; `source` names the file in errors. */
export function parseSuperResolutionConfig(raw: unknown, source: string): SuperResolutionConfig {
  const found = findSuperResolutionConfig(raw);
  if (!found) {
    throw new CheffError(
      `${source}: no super-resolution config (expected the U-Net's arguments {dim, dim_mults, …}, or them under 'model')`,
    );
  }
  const { network, outer } = found;
  const where = outer === network ? source : `${source}: model`;
  const dim = field<number>(network, "dim", where, positiveInt, "a positive integer");
  const dimMults = field<number[]>(
    network,
    "dim_mults",
    where,
    (v) => Array.isArray(v) && v.length > 0 && v.every(positiveInt),
    "a non-empty list of positive integers",
  );
  const channels = field<number>(network, "channels", where, positiveInt, "a positive integer");
  const outDim = field<number>(network, "out_dim", where, positiveInt, "a positive integer");
  const initDim = network.init_dim === null || network.init_dim === undefined
    ? Math.floor(dim / 3) * 2
    : field<number>(network, "init_dim", where, positiveInt, "a positive integer or null");
  const numAttentionLayer = field<number>(
    network,
    "num_attention_layer",
    where,
    nonNegativeInt,
    "an integer ≥ 0",
    5,
  );
  const blockGroups = field<number>(network, "block_groups", where, positiveInt, "a positive integer", 8);
  if (initDim < 1) {
    throw new CheffError(
      `${where}: dim ${dim} gives an input convolution of ${initDim} channels; set init_dim`,
    );
  }
  for (const m of dimMults) {
    if ((dim * m) % blockGroups !== 0) {
      throw new CheffError(
        `${where}: dim·dim_mults = ${
          dim * m
        } is not divisible into ${blockGroups} GroupNorm groups (block_groups)`,
      );
    }
  }
  return {
    dim,
    initDim,
    outDim,
    dimMults,
    numAttentionLayer,
    channels,
    blockGroups,
    schedule: parseSchedule(outer, source),
  };
}

/** Channels per level: dims[0] = init_dim, dims[i + 1] = dim · dim_mults[i]. */
export function levelChannels(config: SuperResolutionConfig): number[] {
  return [config.initDim, ...config.dimMults.map((m) => config.dim * m)];
}

/**
 * Whether down level i (or up entry i) has linear attention: i ≥ L − A + 1 for
 * L levels and A = num_attention_layer, the reference's rule on both paths.
 */
export function hasLinearAttention(config: SuperResolutionConfig, index: number): boolean {
  return index >= config.dimMults.length - config.numAttentionLayer + 1;
}

/** How much the U-Net shrinks each side at its deepest level: 2^(L − 1). Input sides must be multiples of it. */
export function sizeMultiple(config: SuperResolutionConfig): number {
  return 2 ** (config.dimMults.length - 1);
}
