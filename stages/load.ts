/**
 * What every stage does to load a model file: read it (nothing in it runs),
 * choose the config (a `--config` file, else the config stored in the file, else
 * the preset whose key shapes match, else ask for `--config`), check the file's
 * keys against the parameters the config implies, and upload the weights.
 */
import type { Gpu } from "../gpu/device.ts";
import { matchKeys } from "../io/checkpoint/keys.ts";
import { type LoadedWeights, loadWeights, sha256File, stateDict } from "../io/checkpoint/load.ts";
import { CheffError } from "../io/errors.ts";
import { readInput } from "../io/files.ts";
import type { HostTensor } from "../io/safetensors.ts";
import { Weights } from "./weights.ts";

/** Reads a JSON config file given with `--config`. */
export async function readConfigFile(path: string): Promise<unknown> {
  const bytes = await readInput(path);
  if (bytes.length === 0) throw new CheffError(`${path}: empty file, expected a JSON config`);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new CheffError(`${path}: not valid JSON${position ? ` (error at byte ${position})` : ""}; expected a config file`);
  }
}

export interface LoadedModelFile {
  path: string;
  loaded: LoadedWeights;
  /** Weights by state-dict name. */
  state: Map<string, HostTensor>;
  /** SHA-256 of the file, recorded in stream and image provenance. */
  sha256: string;
}

/** Reads a model file and its state dict. */
export async function readModelFile(path: string): Promise<LoadedModelFile> {
  const loaded = await loadWeights(path);
  return { path, loaded, state: stateDict(loaded, path), sha256: await sha256File(path) };
}

/** True when every expected key exists under `prefix` with the expected shape. */
export function shapesMatch(expected: Map<string, readonly number[]>, state: Map<string, HostTensor>, prefix = ""): boolean {
  for (const [name, shape] of expected) {
    const t = state.get(prefix + name);
    if (!t || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) return false;
  }
  return true;
}

/** Returns the first key prefix among `candidates` under which the file has any key. */
export function findPrefix(state: Map<string, HostTensor>, candidates: string[]): string | undefined {
  for (const prefix of candidates) {
    for (const key of state.keys()) if (key.startsWith(prefix)) return prefix;
  }
  return undefined;
}

export interface UploadOptions {
  stage: string;
  prefix: string;
  ignorePrefixes?: string[];
  /** Receives the one-line summary of deliberately ignored keys. */
  note?: (message: string) => void;
}

/** Matches the file's keys against `expected` (all problems in one error) and uploads the weights. */
export function uploadStageWeights(
  gpu: Gpu | undefined,
  file: LoadedModelFile,
  expected: Map<string, readonly number[]>,
  options: UploadOptions,
): Weights {
  const match = matchKeys(expected, file.state, {
    prefix: options.prefix,
    ignorePrefixes: options.ignorePrefixes,
    source: file.path,
    stage: options.stage,
  });
  if (match.summary) options.note?.(match.summary);
  return Weights.upload(gpu, match.tensors);
}
