/**
 * Training state on disk, and trained models in the form the inference stages
 * load.
 *
 * `state.safetensors` contains everything a resumed run needs: the parameters
 * (`param.<name>`), both Adam moments (`exp_avg.<name>`, `exp_avg_sq.<name>`),
 * the EMA shadows (`ema.<name>`) and, in its `cheff.train` metadata, the step,
 * the data position, the seed and the EMA counters. It is one file written
 * through a temporary sibling and renamed into place, so a run killed at any
 * moment leaves either the previous state or the new one. `state.json` repeats
 * the metadata for people and scripts; a resumed run reads only the safetensors file.
 */
import { join } from "node:path";
import { CheffError } from "../io/errors.ts";
import { writeFileAtomic } from "../io/files.ts";
import { parseSafetensors, serializeSafetensors, type TensorToWrite } from "../io/safetensors.ts";
import { CONFIG_METADATA_KEY } from "../io/checkpoint/load.ts";
import type { EmaState } from "./ema.ts";
import type { OptimizerState } from "./optim.ts";

export const STATE_FILE = "state.safetensors";
export const STATE_JSON = "state.json";
const STATE_METADATA_KEY = "cheff.train";

/** The scalar part of the state, stored as JSON. */
export interface StateInfo {
  /** Optimizer steps done. */
  step: number;
  /** Samples of the data order consumed. */
  position: number;
  seed: number;
  recipe: string;
  /** SHA-256 of the pipeline's `train` section, so a resume with other settings is caught. */
  settingsHash: string;
  /** The settings that hash covers (absent in states saved before they were stored). */
  settings?: Record<string, unknown>;
  emaDecay?: number;
  emaNumUpdates?: number;
}

export interface TrainingState {
  info: StateInfo;
  /** Parameters by their checkpoint key names. */
  params: Map<string, Float32Array>;
  optimizer: OptimizerState;
  ema?: EmaState;
}

/** Writes the state into `folder` atomically (the safetensors file), then its JSON summary. */
export async function saveState(folder: string, state: TrainingState): Promise<void> {
  const tensors = new Map<string, TensorToWrite>();
  const add = (prefix: string, values: Map<string, Float32Array>) => {
    for (const [name, data] of values) tensors.set(`${prefix}.${name}`, { shape: [data.length], data });
  };
  add("param", state.params);
  add("exp_avg", state.optimizer.exp_avg);
  add("exp_avg_sq", state.optimizer.exp_avg_sq);
  const info: StateInfo & { optimizerStep: number } = { ...state.info, optimizerStep: state.optimizer.step };
  if (state.ema) {
    add("ema", state.ema.shadows);
    info.emaDecay = state.ema.decay;
    info.emaNumUpdates = state.ema.numUpdates;
  }
  const bytes = serializeSafetensors(tensors, { [STATE_METADATA_KEY]: JSON.stringify(info) });
  await Deno.mkdir(folder, { recursive: true });
  await writeFileAtomic(join(folder, STATE_FILE), bytes, { overwrite: true });
  await writeFileAtomic(
    join(folder, STATE_JSON),
    new TextEncoder().encode(JSON.stringify(info, null, 2) + "\n"),
    {
      overwrite: true,
    },
  );
}

/** Reads the state saved in `folder`, or returns undefined when there is none. */
export async function loadState(folder: string): Promise<TrainingState | undefined> {
  const path = join(folder, STATE_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new CheffError(`${path}: cannot read the training state (${(error as Error).message})`);
  }
  const file = parseSafetensors(bytes, path);
  const text = file.metadata[STATE_METADATA_KEY];
  if (!text) {
    throw new CheffError(`${path}: not a cheff training state (no '${STATE_METADATA_KEY}' metadata)`);
  }
  const info = JSON.parse(text) as StateInfo & { optimizerStep: number };
  const group = (prefix: string) => {
    const out = new Map<string, Float32Array>();
    for (const [name, t] of file.tensors) {
      if (name.startsWith(`${prefix}.`)) out.set(name.slice(prefix.length + 1), t.data as Float32Array);
    }
    return out;
  };
  const ema = group("ema");
  return {
    info,
    params: group("param"),
    optimizer: { step: info.optimizerStep, exp_avg: group("exp_avg"), exp_avg_sq: group("exp_avg_sq") },
    ema: ema.size > 0 ? { decay: info.emaDecay!, numUpdates: info.emaNumUpdates!, shadows: ema } : undefined,
  };
}

/** A tensor of a model file: its shape and float32 values. */
export interface ModelTensor {
  shape: readonly number[];
  data: Float32Array;
}

/**
 * Writes a model file the inference stages load as they load a converted
 * checkpoint: safetensors with the reference's key names and the config as JSON
 * under `cheff.config`. The write is atomic and replaces an existing file.
 */
export async function writeModelFile(
  path: string,
  tensors: Map<string, ModelTensor>,
  config: unknown,
): Promise<void> {
  const out = new Map<string, TensorToWrite>();
  for (const [name, t] of tensors) out.set(name, { shape: t.shape, data: t.data });
  const bytes = serializeSafetensors(out, {
    [CONFIG_METADATA_KEY]: JSON.stringify(config),
    "cheff.kind": "model",
  });
  await writeFileAtomic(path, bytes, { overwrite: true });
}
