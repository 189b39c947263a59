/**
 * The report encoder's config: the reference `BERTEmbedder` keyword arguments
 * (`n_embed`, `n_layer`, `vocab_size`, `max_seq_len`), read from the bare
 * arguments, a `{target, params}` wrapper, or a latent-diffusion config's
 * `cond_stage_config`.
 */
import { CheffError } from "../../io/errors.ts";
import { unwrapParams } from "../autoencoder/config.ts";

export interface TextEncoderConfig {
  /** Width of the token vectors and of the output context (n_embed). */
  width: number;
  /** Number of attention + feed-forward layer pairs (n_layer). */
  layers: number;
  vocabularySize: number;
  /** Number of positions in the learned position table, and the token count a report is padded to. */
  maxSeqLen: number;
  /** Attention heads and their width: 8 × 64 in the reference whatever `width` is. */
  heads: number;
  headWidth: number;
}

/** bert-base-uncased's vocabulary size, the reference default. */
export const VOCABULARY_SIZE = 30522;

/**
 * Positions when a config leaves `max_seq_len` out. The reference class
 * defaults to 77, but the released weights hold 150 positions and the tokenizer
 * pads to 150, so a config without the field means 150.
 */
export const DEFAULT_MAX_SEQ_LEN = 150;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Finds the text-encoder arguments in a config: the bare BERTEmbedder
 * arguments, a `{target, params}` wrapper, a latent-diffusion config's
 * `cond_stage_config`, or a training config's `model`. Returns undefined when
 * there is none (an unconditional config sets it to `"__is_unconditional__"`).
 */
export function findTextEncoderConfig(raw: unknown): Json | undefined {
  const config = unwrapParams(raw);
  if (!isObject(config)) return undefined;
  if ("n_embed" in config && "n_layer" in config) return config;
  if (config.cond_stage_config !== undefined) return findTextEncoderConfig(config.cond_stage_config);
  if (isObject(config.model)) return findTextEncoderConfig(config.model);
  return undefined;
}

const positiveInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;

/** Parses and checks a text-encoder config; `source` names the file in errors. */
export function parseTextEncoderConfig(raw: unknown, source: string): TextEncoderConfig {
  const config = findTextEncoderConfig(raw);
  if (!config) {
    throw new CheffError(
      `${source}: no text-encoder config (expected {n_embed, n_layer} or cond_stage_config)`,
    );
  }
  const where = `${source}: cond_stage_config`;
  const read = (name: string, fallback?: number): number => {
    const value = config[name] ?? fallback;
    if (!positiveInt(value)) {
      throw new CheffError(
        `${where}: field '${name}' is ${JSON.stringify(config[name])}, expected a positive integer`,
      );
    }
    return value as number;
  };
  return {
    width: read("n_embed"),
    layers: read("n_layer"),
    vocabularySize: read("vocab_size", VOCABULARY_SIZE),
    maxSeqLen: read("max_seq_len", DEFAULT_MAX_SEQ_LEN),
    heads: 8,
    headWidth: 64,
  };
}
