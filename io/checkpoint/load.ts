/**
 * One entry point for model files: safetensors, PyTorch zip and legacy
 * checkpoints, told apart by their first bytes rather than their names.
 *
 * @example
 * ```ts
 * const loaded = await loadWeights("cheff_autoencoder.pt");
 * const weights = stateDict(loaded); // "encoder.conv_in.weight" → HostTensor, …
 * loaded.config; // hyper_parameters as plain data, or a converted file's cheff.config
 * ```
 */
import { createHash } from "node:crypto";
import { CheffError } from "../errors.ts";
import { readInput } from "../files.ts";
import { type HostTensor, parseSafetensors } from "../safetensors.ts";
import { isPickleDict, PickleGlobal, PickleObject, setDictItem, StorageType, TorchDType } from "./pickle.ts";
import { isHostTensor, MAX_NESTING } from "./tensors.ts";
import { loadTorchCheckpointSync } from "./torch.ts";
import { looksLikeZip } from "./zip.ts";

export type WeightsFormat = "safetensors" | "torch-zip" | "torch-legacy";

export interface LoadedWeights {
  /** Every tensor in the file: a safetensors file's names, or dotted paths in a checkpoint's tree. */
  tensors: Map<string, HostTensor>;
  /** The unpickled object with tensors as HostTensors (for safetensors: an object of its tensors). */
  tree: unknown;
  /** The model config when the file carries one: `cheff.config` metadata or `hyper_parameters`, as plain data. */
  config?: unknown;
  format: WeightsFormat;
  /** safetensors `__metadata__`, if any. */
  metadata?: Record<string, string>;
}

/** The metadata key a converted file keeps its config under, as JSON. */
export const CONFIG_METADATA_KEY = "cheff.config";

/** True if the first bytes are a safetensors header (8-byte length, then a JSON object). */
export function looksLikeSafetensors(head: Uint8Array, size = head.length): boolean {
  if (head.length < 9) return false;
  const length = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  return length >= 2n && length + 8n <= BigInt(size) && head[8] === 0x7b; // '{'
}

function readHead(path: string): { head: Uint8Array; size: number } {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new CheffError(`${path}: file not found`);
    if (error instanceof Deno.errors.PermissionDenied) throw new CheffError(`${path}: permission denied`);
    throw new CheffError(`${path}: cannot be read (${(error as Error).message})`);
  }
  try {
    const stat = file.statSync();
    if (stat.isDirectory) throw new CheffError(`${path}: is a folder, expected a model file`);
    const head = new Uint8Array(Math.min(stat.size, 16));
    let got = 0;
    while (got < head.length) {
      const n = file.readSync(head.subarray(got));
      if (!n) break;
      got += n;
    }
    return { head: head.subarray(0, got), size: stat.size };
  } finally {
    file.close();
  }
}

/**
 * Loads a model file (`.safetensors`, `.pt`, `.ckpt`, `.pth`). Nothing in it is
 * executed; errors are one-line CheffErrors naming the file.
 */
export async function loadWeights(path: string): Promise<LoadedWeights> {
  const { head, size } = readHead(path);
  if (size === 0) throw new CheffError(`${path}: empty file, not a model file`);
  if (looksLikeSafetensors(head, size)) {
    const file = parseSafetensors(await readInput(path), path);
    const tree: Record<string, unknown> = {};
    for (const [name, tensor] of file.tensors) setDictItem(tree, name, tensor);
    const loaded: LoadedWeights = {
      tensors: file.tensors,
      tree,
      format: "safetensors",
      metadata: file.metadata,
    };
    const configText = file.metadata[CONFIG_METADATA_KEY];
    if (configText !== undefined) {
      try {
        loaded.config = JSON.parse(configText);
      } catch {
        throw new CheffError(`${path}: metadata '${CONFIG_METADATA_KEY}' is not valid JSON`);
      }
    }
    return loaded;
  }
  if (looksLikeZip(head) || head[0] === 0x80) {
    const checkpoint = loadTorchCheckpointSync(path);
    const loaded: LoadedWeights = {
      tensors: checkpoint.tensors,
      tree: checkpoint.tree,
      format: checkpoint.format,
    };
    if (isPickleDict(checkpoint.tree) && checkpoint.tree.hyper_parameters != null) {
      loaded.config = pickleToData(checkpoint.tree.hyper_parameters);
    }
    return loaded;
  }
  throw new CheffError(`${path}: not a model file (expected safetensors or a PyTorch .pt/.ckpt checkpoint)`);
}

/** Where a file's weights live: `state_dict` (Lightning), `model` (the SR files), or the top level. */
export function stateDictPath(
  loaded: Pick<LoadedWeights, "tree" | "format">,
): "state_dict" | "model" | undefined {
  if (loaded.format === "safetensors") return undefined;
  const tree = loaded.tree;
  if (isPickleDict(tree)) {
    if (isPickleDict(tree.state_dict)) return "state_dict";
    if (isPickleDict(tree.model)) return "model";
  }
  return undefined;
}

/**
 * The weights of a loaded file by their state-dict names: a safetensors file's
 * tensors as they are; from a checkpoint, `state_dict` (Lightning files), else
 * `model` (SR files), else the top-level dict, with nested dicts flattened with
 * dots. Non-tensor values are skipped.
 */
export function stateDict(
  loaded: Pick<LoadedWeights, "tree" | "format" | "tensors">,
  source = "model file",
): Map<string, HostTensor> {
  if (loaded.format === "safetensors") return loaded.tensors;
  const where = stateDictPath(loaded);
  const tree = loaded.tree;
  if (!isPickleDict(tree)) {
    const what = tree instanceof PickleObject ? `a pickled ${tree.type} object` : describeType(tree);
    throw new CheffError(`${source}: holds ${what}, not a dict of weights (save model.state_dict() instead)`);
  }
  const root = where === undefined ? tree : tree[where] as Record<string, unknown>;
  const out = new Map<string, HostTensor>();
  const seen = new Set<object>();
  const walk = (dict: Record<string, unknown>, prefix: string, depth: number) => {
    if (seen.has(dict)) return;
    if (depth > MAX_NESTING) {
      throw new CheffError(`${source}: holds dicts nested more than ${MAX_NESTING} deep`);
    }
    seen.add(dict);
    for (const key of Object.keys(dict)) {
      const value = dict[key];
      if (isHostTensor(value)) out.set(prefix + key, value);
      else if (isPickleDict(value)) walk(value, `${prefix}${key}.`, depth + 1);
    }
  };
  walk(root, "", 0);
  return out;
}

function describeType(value: unknown): string {
  if (value === null) return "None";
  if (Array.isArray(value)) return `a list of ${value.length} items`;
  if (isHostTensor(value)) return "a single tensor";
  return `a ${typeof value}`;
}

const OMEGACONF_CONTAINERS = new Set(["omegaconf.dictconfig.DictConfig", "omegaconf.listconfig.ListConfig"]);

/**
 * A JSON-ready copy of unpickled data: omegaconf DictConfig / ListConfig / value
 * nodes become the dicts, lists and values they hold; a dict or list subclass
 * becomes its items; tensors become `{tensor: [shape], dtype}`; other placeholders
 * `{__object__: name, …}`. Cycles and very deep or large structures are cut off
 * with a marker instead of looping.
 */
export function pickleToData(value: unknown, maxNodes = 100_000): unknown {
  let budget = maxNodes;
  const active = new Set<object>();
  const convert = (v: unknown, depth: number): unknown => {
    if (v === null || v === undefined) return null;
    if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
    if (typeof v !== "object") return v;
    if (--budget < 0 || depth > 64) return "<cut off>";
    if (isHostTensor(v)) return { tensor: v.shape, dtype: v.dtype };
    if (v instanceof Uint8Array) return { bytes: v.length };
    if (v instanceof PickleGlobal || v instanceof StorageType || v instanceof TorchDType) return v.toJSON();
    if (active.has(v)) return "<cycle>";
    active.add(v);
    try {
      if (Array.isArray(v)) return v.map((item) => convert(item, depth + 1));
      if (isPickleDict(v)) {
        const out: Record<string, unknown> = {};
        for (const key of Object.keys(v)) setDictItem(out, key, convert(v[key], depth + 1));
        return out;
      }
      if (v instanceof PickleObject) {
        const state = isPickleDict(v.state) ? v.state : undefined;
        if (OMEGACONF_CONTAINERS.has(v.type) && state && "_content" in state) {
          return convert(state._content, depth + 1);
        }
        if (v.type.startsWith("omegaconf.nodes.") && state && "_val" in state) {
          return convert(state._val, depth + 1);
        }
        if (v.dictItems && !v.listItems) return convert(v.dictItems, depth + 1);
        if (v.listItems && !v.dictItems) return convert(v.listItems, depth + 1);
        const out: Record<string, unknown> = { __object__: v.type };
        if (v.args.length > 0) out.args = convert(v.args, depth + 1);
        if (v.kwargs) out.kwargs = convert(v.kwargs, depth + 1);
        if (v.state !== undefined) out.state = convert(v.state, depth + 1);
        return out;
      }
      return String(v);
    } finally {
      active.delete(v);
    }
  };
  return convert(value, 0);
}

/** Above this size sha256File streams through node:crypto instead of one crypto.subtle call. */
const WHOLE_FILE_HASH_LIMIT = 1 << 30;

/** Hex SHA-256 of a file (streams record the hash of each model file they used). */
export async function sha256File(path: string): Promise<string> {
  let size: number;
  try {
    size = (await Deno.stat(path)).size;
  } catch {
    throw new CheffError(`${path}: file not found`);
  }
  if (size <= WHOLE_FILE_HASH_LIMIT) {
    const digest = await crypto.subtle.digest("SHA-256", (await readInput(path)) as Uint8Array<ArrayBuffer>);
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }
  // crypto.subtle cannot hash in pieces; a multi-gigabyte checkpoint is hashed as a stream.
  return await sha256Streamed(path);
}

/** Hex SHA-256 of a file read as a stream (what sha256File uses for files over 1 GiB). */
export async function sha256Streamed(path: string): Promise<string> {
  const hash = createHash("sha256");
  const file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk); // the stream closes the file at its end
  return hash.digest("hex");
}
