/**
 * Streams: how stages talk. A stream is one safetensors document whose metadata
 * names its kind (`cheff.kind`) and whose main tensor has that kind's name:
 *
 * | kind      | tensor    | shape             | values                                    |
 * |-----------|-----------|-------------------|-------------------------------------------|
 * | `latent`  | `latent`  | [N, C, h, w] f32  | autoencoder space (never scale_factor'd)  |
 * | `image`   | `image`   | [N, 1 or 3, H, W] | [-1, 1], unclamped                        |
 * | `context` | `context` | [N, L, D]         | text-encoder output (+ `tokens` int64)    |
 * | `mask`    | `mask`    | [N, 1, h, w]      | 1 = synthesise, 0 = keep                  |
 *
 * Metadata carries the stream's provenance (`cheff.synthetic`, `cheff.models`,
 * `cheff.history`) and nothing copied from an input file's own metadata.
 */
import { CheffError } from "./errors.ts";
import { readInput, writeFileAtomic, type WriteOptions, writeStdout } from "./files.ts";
import { type HostTensor, parseSafetensors, serializeSafetensors, type TensorToWrite } from "./safetensors.ts";

export const CHEFF_VERSION = "0.1.0";

export type StreamKind = "latent" | "image" | "context" | "mask";

/** One step in a stream's history: the command and its settings. */
export interface HistoryEntry {
  command: string;
  [setting: string]: unknown;
}

export interface Stream {
  kind: StreamKind;
  /** The kind's main tensor, float32. */
  tensor: { shape: number[]; data: Float32Array };
  /** Extra tensors (a context's `tokens`). */
  extras: Map<string, HostTensor>;
  synthetic: boolean;
  /** Stage name to SHA-256 of the model file used. */
  models: Record<string, string>;
  history: HistoryEntry[];
  /** Where the stream was read from, for messages (not written). */
  source?: string;
}

const RANKS: Record<StreamKind, number> = { latent: 4, image: 4, context: 3, mask: 4 };

/** Parses stream bytes and checks that they hold the expected kind. */
export function parseStream(bytes: Uint8Array, source: string, expected?: StreamKind | StreamKind[]): Stream {
  if (bytes.length === 0) throw new CheffError(`${source}: empty input, expected a cheff stream`);
  if (looksLikeImageFile(bytes)) {
    throw new CheffError(`${source}: is an image file, not a stream; run cheff encode (or cheff upscale) on it first`);
  }
  const file = parseSafetensors(bytes, source);
  const kind = file.metadata["cheff.kind"] as StreamKind | undefined;
  const allowed = expected === undefined ? undefined : Array.isArray(expected) ? expected : [expected];
  const kindName = kind ?? guessKind(file.tensors);
  if (!kindName) {
    throw new CheffError(`${source}: not a cheff stream (no cheff.kind metadata and no latent, image, context or mask tensor)`);
  }
  if (allowed && !allowed.includes(kindName)) {
    throw new CheffError(`${source}: expected ${article(allowed[0])} ${allowed.join(" or ")} stream, got ${article(kindName)} ${kindName} stream`);
  }
  const main = file.tensors.get(kindName);
  if (!main) throw new CheffError(`${source}: ${kindName} stream has no '${kindName}' tensor`);
  if (main.shape.length !== RANKS[kindName]) {
    throw new CheffError(`${source}: '${kindName}' tensor has shape [${main.shape}], expected ${RANKS[kindName]} dimensions`);
  }
  if (!(main.data instanceof Float32Array)) {
    throw new CheffError(`${source}: '${kindName}' tensor is ${main.dtype}, expected a floating-point tensor`);
  }
  const extras = new Map(file.tensors);
  extras.delete(kindName);
  return {
    kind: kindName,
    tensor: { shape: main.shape, data: main.data },
    extras,
    synthetic: file.metadata["cheff.synthetic"] === "true",
    models: parseJson(file.metadata["cheff.models"], {}, source),
    history: parseJson(file.metadata["cheff.history"], [], source),
    source,
  };
}

/** PNG, JPEG or DICOM magic bytes. */
function looksLikeImageFile(bytes: Uint8Array): boolean {
  const png = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const jpeg = bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  const dicom = bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
  return png || jpeg || dicom;
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? "an" : "a";
}

function guessKind(tensors: Map<string, HostTensor>): StreamKind | undefined {
  for (const kind of ["latent", "image", "context", "mask"] as const) if (tensors.has(kind)) return kind;
  return undefined;
}

function parseJson<T>(text: string | undefined, fallback: T, source: string): T {
  if (text === undefined) return fallback;
  try {
    return JSON.parse(text);
  } catch {
    throw new CheffError(`${source}: stream metadata is not valid JSON`);
  }
}

/** Reads a stream from a file, or from standard input when `path` is "-". */
export async function readStream(path: string, expected?: StreamKind | StreamKind[]): Promise<Stream> {
  const bytes = await readInput(path);
  return parseStream(bytes, path === "-" ? "standard input" : path, expected);
}

/** Serialises a stream with its provenance metadata. */
export function serializeStream(stream: Stream): Uint8Array {
  const tensors = new Map<string, TensorToWrite>();
  tensors.set(stream.kind, stream.tensor);
  for (const [name, t] of stream.extras) tensors.set(name, t as TensorToWrite);
  return serializeSafetensors(tensors, {
    "cheff.kind": stream.kind,
    "cheff.version": CHEFF_VERSION,
    "cheff.synthetic": String(stream.synthetic),
    "cheff.models": JSON.stringify(stream.models),
    "cheff.history": JSON.stringify(stream.history),
  });
}

/** Writes a stream to a file (atomically) or to standard output when `path` is undefined or "-". */
export async function writeStream(stream: Stream, path: string | undefined, options: WriteOptions = {}): Promise<void> {
  const bytes = serializeStream(stream);
  if (path === undefined || path === "-") await writeStdout(bytes);
  else await writeFileAtomic(path, bytes, options);
}

/** Builds a new stream that continues `previous`' provenance with one more step. */
export function continueStream(
  previous: Pick<Stream, "synthetic" | "models" | "history"> | undefined,
  kind: StreamKind,
  tensor: { shape: number[]; data: Float32Array },
  step: HistoryEntry,
  options: { synthetic?: boolean; models?: Record<string, string>; extras?: Map<string, HostTensor> } = {},
): Stream {
  return {
    kind,
    tensor,
    extras: options.extras ?? new Map(),
    synthetic: (previous?.synthetic ?? false) || (options.synthetic ?? false),
    models: { ...(previous?.models ?? {}), ...(options.models ?? {}) },
    history: [...(previous?.history ?? []), step],
  };
}
