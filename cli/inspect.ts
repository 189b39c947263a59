/**
 * `cheff inspect FILE [--json]`: what a model file holds, without running it:
 * the top-level entries (non-tensor ones summarised), every tensor with its
 * shape, dtype and parameter count, and totals per key prefix.
 */
import { type Command, COMMON_HELP, parseOptions } from "./command.ts";
import { CheffError } from "../io/errors.ts";
import type { HostTensor } from "../io/safetensors.ts";
import {
  type LoadedWeights,
  loadWeights,
  pickleToData,
  stateDict,
  stateDictPath,
} from "../io/checkpoint/load.ts";
import { isPickleDict, PickleGlobal, PickleObject } from "../io/checkpoint/pickle.ts";
import { elementCount, isHostTensor, MAX_NESTING } from "../io/checkpoint/tensors.ts";

export interface TensorLine {
  key: string;
  shape: number[];
  dtype: string;
  parameters: number;
}

export interface PrefixTotal {
  prefix: string;
  tensors: number;
  parameters: number;
}

export interface InspectReport {
  file: string;
  format: LoadedWeights["format"];
  bytes: number;
  tensors: number;
  parameters: number;
  /** Top-level entry → one-line summary (for safetensors: the metadata). */
  topLevel: Record<string, string>;
  /** Where the weights are (`state_dict`, `model`, or null for the top level / a safetensors file). */
  weightsAt: string | null;
  weights: TensorLine[];
  weightTotals: PrefixTotal[];
  /** Tensors outside the weights (optimizer state, callbacks, …), by full dotted path. */
  otherTensors: TensorLine[];
  otherTotals: PrefixTotal[];
  /** The config the file carries, as data, or null. */
  config: unknown;
}

function line(key: string, t: HostTensor): TensorLine {
  return { key, shape: [...t.shape], dtype: t.dtype, parameters: elementCount(t.shape) };
}

/**
 * Totals by prefix: keys group by their first dotted component, extended while
 * every key of the group shares the next one (`model.diffusion_model`,
 * `optimizer_states.0.state`); keys without a dot share the group "(no prefix)".
 */
export function prefixTotals(lines: TensorLine[]): PrefixTotal[] {
  const groups = new Map<string, TensorLine[]>();
  for (const l of lines) {
    const first = l.key.includes(".") ? l.key.split(".")[0] : "(no prefix)";
    let group = groups.get(first);
    if (!group) groups.set(first, group = []);
    group.push(l);
  }
  const out: PrefixTotal[] = [];
  for (const [first, group] of groups) {
    let prefix = first;
    if (first !== "(no prefix)" && group.length > 1) {
      let depth = 1;
      for (;;) {
        const parts = group.map((l) => l.key.split("."));
        if (parts.some((p) => p.length <= depth + 1)) break;
        const next = parts[0][depth];
        if (!parts.every((p) => p[depth] === next)) break;
        depth++;
        prefix = `${prefix}.${next}`;
      }
    }
    out.push({ prefix, tensors: group.length, parameters: group.reduce((s, l) => s + l.parameters, 0) });
  }
  return out;
}

function countTensors(value: unknown): { tensors: number; parameters: number } {
  let tensors = 0;
  let parameters = 0;
  const seen = new Set<object>();
  const walk = (v: unknown, depth = 0) => {
    if (typeof v !== "object" || v === null || depth > MAX_NESTING) return;
    if (isHostTensor(v)) {
      tensors++;
      parameters += elementCount(v.shape);
      return;
    }
    if (seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) v.forEach((x) => walk(x, depth + 1));
    else if (isPickleDict(v)) Object.values(v).forEach((x) => walk(x, depth + 1));
    else if (v instanceof PickleObject) {
      [v.state, v.dictItems, v.listItems].forEach((x) => walk(x, depth + 1));
    }
  };
  walk(value);
  return { tensors, parameters };
}

const number = (n: number) => n.toLocaleString("en-US");

function quote(text: string, max = 60): string {
  const shown = text.length > max ? `${text.slice(0, max - 1)}…` : text;
  return JSON.stringify(shown);
}

/** One line describing a top-level value. */
export function summarise(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (typeof value === "string") return `str ${quote(value)}`;
  if (value instanceof Uint8Array) return `bytes (${value.length})`;
  if (isHostTensor(value)) return `tensor [${value.shape.join(", ")}] ${value.dtype}`;
  const { tensors, parameters } = countTensors(value);
  const withTensors = tensors > 0 ? `, ${number(tensors)} tensors (${number(parameters)} parameters)` : "";
  if (Array.isArray(value)) {
    return `list of ${value.length} item${value.length === 1 ? "" : "s"}${withTensors}`;
  }
  if (isPickleDict(value)) {
    const keys = Object.keys(value);
    const others = keys.filter((k) => !isHostTensor(value[k]));
    const preview = tensors === 0 && keys.length > 0
      ? `: ${keys.slice(0, 3).join(", ")}${keys.length > 3 ? ", …" : ""}`
      : others.length > 0 && others.length < keys.length
      ? `, ${others.length} non-tensor entries`
      : "";
    return `dict of ${keys.length} entr${keys.length === 1 ? "y" : "ies"}${withTensors}${preview}`;
  }
  if (value instanceof PickleObject) {
    const data = pickleToData(value, 10_000);
    if (isPickleDict(data) && !("__object__" in data)) {
      const keys = Object.keys(data);
      return `${value.type} with ${keys.length} keys: ${keys.slice(0, 4).join(", ")}${
        keys.length > 4 ? ", …" : ""
      }${withTensors}`;
    }
    return `${value.type} object${withTensors}`;
  }
  if (value instanceof PickleGlobal) return `reference to ${value.qualifiedName}`;
  return String(value);
}

/** Loads `path` and describes it. */
export async function inspectFile(path: string): Promise<InspectReport> {
  const loaded = await loadWeights(path);
  const bytes = (await Deno.stat(path)).size;
  const topLevel: Record<string, string> = {};
  if (loaded.format === "safetensors") {
    for (const [key, value] of Object.entries(loaded.metadata ?? {})) {
      topLevel[key] = value.length > 100 ? `${value.slice(0, 99)}…` : value;
    }
  } else if (isPickleDict(loaded.tree)) {
    for (const key of Object.keys(loaded.tree)) topLevel[key] = summarise(loaded.tree[key]);
  } else {
    topLevel["(whole file)"] = summarise(loaded.tree);
  }

  let weightsMap = new Map<string, HostTensor>();
  const weightsAt = stateDictPath(loaded) ?? null;
  try {
    weightsMap = stateDict(loaded, path);
  } catch (error) {
    if (!(error instanceof CheffError)) throw error;
  }
  const weightTensors = new Set(weightsMap.values());
  const weights = [...weightsMap].map(([key, t]) => line(key, t));
  const otherTensors = [...loaded.tensors].filter(([, t]) => !weightTensors.has(t)).map(([key, t]) =>
    line(key, t)
  );
  const all = [...weights, ...otherTensors];
  return {
    file: path,
    format: loaded.format,
    bytes,
    tensors: all.length,
    parameters: all.reduce((s, l) => s + l.parameters, 0),
    topLevel,
    weightsAt,
    weights,
    weightTotals: prefixTotals(weights),
    otherTensors,
    otherTotals: prefixTotals(otherTensors),
    config: loaded.config ?? null,
  };
}

const FORMAT_NAMES: Record<InspectReport["format"], string> = {
  "safetensors": "safetensors file",
  "torch-zip": "PyTorch checkpoint (zip)",
  "torch-legacy": "PyTorch checkpoint (legacy, before 1.6)",
};

function table(lines: TensorLine[]): string[] {
  const keyWidth = Math.min(72, Math.max(3, ...lines.map((l) => l.key.length)));
  const shapes = lines.map((l) => `[${l.shape.join(", ")}]`);
  const shapeWidth = Math.max(5, ...shapes.map((s) => s.length));
  const paramWidth = Math.max(10, ...lines.map((l) => number(l.parameters).length));
  const out = [
    `  ${"key".padEnd(keyWidth)}  ${"shape".padEnd(shapeWidth)}  dtype  ${"parameters".padStart(paramWidth)}`,
  ];
  lines.forEach((l, i) => {
    out.push(
      `  ${l.key.padEnd(keyWidth)}  ${shapes[i].padEnd(shapeWidth)}  ${l.dtype.padEnd(5)}  ${
        number(l.parameters).padStart(paramWidth)
      }`,
    );
  });
  return out;
}

function totals(groups: PrefixTotal[]): string[] {
  const width = Math.max(6, ...groups.map((g) => g.prefix.length));
  const countWidth = Math.max(...groups.map((g) => number(g.tensors).length));
  const paramWidth = Math.max(...groups.map((g) => number(g.parameters).length));
  return groups.map((g) =>
    `  ${g.prefix.padEnd(width)}  ${number(g.tensors).padStart(countWidth)} tensor${
      g.tensors === 1 ? " " : "s"
    }  ${number(g.parameters).padStart(paramWidth)} parameters`
  );
}

/** The report as text for a terminal. */
export function formatReport(r: InspectReport): string {
  const out: string[] = [];
  out.push(
    `${r.file}: ${FORMAT_NAMES[r.format]}, ${number(r.bytes)} bytes, ${number(r.tensors)} tensors, ${
      number(r.parameters)
    } parameters`,
  );
  const keys = Object.keys(r.topLevel);
  if (keys.length > 0) {
    out.push("", r.format === "safetensors" ? "Metadata:" : "Top-level entries:");
    const width = Math.max(...keys.map((k) => k.length));
    for (const key of keys) out.push(`  ${key.padEnd(width)}  ${r.topLevel[key]}`);
  }
  if (r.weights.length > 0) {
    const sum = r.weights.reduce((s, l) => s + l.parameters, 0);
    out.push(
      "",
      `Weights${r.weightsAt ? ` (${r.weightsAt})` : ""}: ${number(r.weights.length)} tensors, ${
        number(sum)
      } parameters`,
    );
    out.push(...table(r.weights), "", "Weights by prefix:", ...totals(r.weightTotals));
  } else {
    out.push("", "Weights: none found (no dict of tensors at state_dict, model or the top level)");
  }
  if (r.otherTensors.length > 0) {
    const sum = r.otherTensors.reduce((s, l) => s + l.parameters, 0);
    out.push(
      "",
      `Other tensors (not weights): ${number(r.otherTensors.length)} tensors, ${number(sum)} parameters`,
    );
    out.push(...table(r.otherTensors), "", "Other tensors by prefix:", ...totals(r.otherTotals));
  }
  if (r.config !== null) {
    const text = JSON.stringify(r.config);
    out.push(
      "",
      `Config (${r.format === "safetensors" ? "cheff.config" : "hyper_parameters"}): ${
        text.length > 300 ? `${text.slice(0, 299)}…` : text
      }`,
    );
  }
  return out.join("\n") + "\n";
}

export const inspectCommand: Command = {
  name: "inspect",
  summary: "list what a model file holds: entries, tensors, shapes, parameter counts",
  help: `Usage: cheff inspect FILE [--json]

Describes a model file (.safetensors, or a PyTorch .pt/.ckpt checkpoint in the
zip or pre-1.6 layout) without running any code from it: the top-level entries
(non-tensor ones summarised), every tensor with its shape, dtype and parameter
count, totals per key prefix, and the config the file carries, if any.

Options:
  --json    print the report as JSON instead of text

Example:
  cheff inspect cheff_autoencoder.pt
  cheff inspect ldm.safetensors --json > ldm.json

${COMMON_HELP}`,
  async run(args) {
    const parsed = parseOptions("inspect", args, { json: { type: "boolean" } }, 1);
    if (parsed.values.help) {
      console.log(inspectCommand.help);
      return;
    }
    const path = parsed.positionals[0];
    if (!path) throw new CheffError("inspect: name a model file (see cheff inspect --help)");
    const report = await inspectFile(path);
    const text = parsed.values.json ? JSON.stringify(report, null, 1) + "\n" : formatReport(report);
    const bytes = new TextEncoder().encode(text);
    let written = 0;
    while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
  },
};
