/**
 * The text-encoder plugin, kind `embed`: radiology reports to a context stream
 * (`context` [N, L, D], the report encoder's output, and `tokens` int64 [N, L],
 * the bert-base-uncased ids it read). The report-conditioned U-Net attends to
 * the context; `cheff diffuse --context` takes the stream back.
 *
 * Settings: `model` (a report-conditioned checkpoint), `config` (a JSON file),
 * `report` (a string, or a list of strings, one per image).
 */
import { CheffError } from "../io/errors.ts";
import { continueStream, type Stream } from "../io/stream.ts";
import { type LoadedTextEncoder, loadTextEncoder } from "../stages/text/load.ts";
import { tokenize } from "../stages/text/tokenizer.ts";
import type { RunContext } from "./context.ts";
import type { Plugin } from "./plugin.ts";

/** Loads (once per context) the report encoder of a checkpoint. */
export function textEncoderFor(settings: Record<string, unknown>, context: RunContext): Promise<LoadedTextEncoder> {
  const model = settings.model;
  if (typeof model !== "string") throw new CheffError("text-encoder: 'model' must name a model file");
  const config = settings.config;
  if (config !== undefined && typeof config !== "string") throw new CheffError("text-encoder: 'config' must name a JSON file");
  return context.models.get(`text-encoder:${model}:${config ?? ""}`, () =>
    loadTextEncoder(context.gpu, model, { configPath: config, note: context.warn }));
}

export interface EncodedReports {
  /** [N, L, D]. */
  context: { shape: number[]; data: Float32Array };
  /** [N, L] token ids, padding included. */
  tokens: { shape: number[]; data: BigInt64Array };
}

/**
 * Tokenizes reports to the encoder's positions (150 for Cheff) and encodes them.
 * A report with more word pieces than fit is truncated, with a warning through
 * the context.
 */
export async function encodeReports(encoder: LoadedTextEncoder, reports: string[], context: RunContext): Promise<EncodedReports> {
  const length = encoder.config.maxSeqLen;
  const n = reports.length;
  const ids = new Int32Array(n * length);
  for (const [i, report] of reports.entries()) {
    const encoding = tokenize(report, { length });
    if (encoding.truncated) {
      const which = n === 1 ? "the report" : `report ${i + 1}`;
      context.warn?.(
        `${which} has ${encoding.pieceCount} word pieces and is truncated to the first ${length - 2} (${length} tokens with [CLS] and [SEP])`,
      );
    }
    ids.set(encoding.ids, i * length);
  }
  const output = encoder.model.context(ids, n);
  const data = await output.read();
  output.release();
  return {
    context: { shape: [n, length, encoder.config.width], data },
    tokens: { shape: [n, length], data: BigInt64Array.from(ids, (id) => BigInt(id)) },
  };
}

function reportsSetting(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((r) => typeof r === "string")) return value;
  throw new CheffError("text-encoder embed: 'report' must be a report string or a list of report strings");
}

async function embed(settings: Record<string, unknown>, context: RunContext): Promise<Stream> {
  const reports = reportsSetting(settings.report);
  const encoder = await textEncoderFor(settings, context);
  const encoded = await encodeReports(encoder, reports, context);
  // The report text itself stays out of the history: it may come from a patient's record.
  return continueStream(undefined, "context", encoded.context, { command: "embed", reports: reports.length }, {
    models: { "text-encoder": encoder.sha256 },
    extras: new Map([["tokens", { dtype: "I64", shape: encoded.tokens.shape, data: encoded.tokens.data }]]),
  });
}

export const textEncoderPlugin: Plugin = {
  name: "text-encoder",
  description: "BERT-style report encoder: radiology reports to a cross-attention context",
  kinds: {
    embed: { takes: [], gives: "context" },
  },
  presets: ["cheff-ldm-t2i"],
  run(kind, _input, settings, context) {
    if (kind === "embed") return embed(settings, context);
    throw new CheffError(`text-encoder: unknown kind '${kind}', expected embed`);
  },
};
