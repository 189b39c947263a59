/**
 * Pipeline files: a declared chain of plugin stages, with models, conditioning,
 * masks and output naming, validated in full before any work starts.
 *
 * ```json
 * {
 *   "cheff": 1,
 *   "models": {"ldm": "cheff_diff_uncond.pt", "ae": "cheff_autoencoder.pt"},
 *   "stages": [
 *     {"plugin": "latent-diffusion", "kind": "diffuse", "model": "ldm", "steps": 100},
 *     {"plugin": "autoencoder", "kind": "decode", "model": "ae"}
 *   ],
 *   "count": 4,
 *   "seed": 0,
 *   "output": {"dir": "out", "prefix": "cxr-", "format": "png", "bits": 8}
 * }
 * ```
 *
 * Relative model paths resolve against `--models DIR` or `$CHEFF_MODELS`, then
 * the pipeline file's folder. Errors name the field by its JSON path.
 */
import { dirname, isAbsolute, resolve } from "node:path";
import { CheffError } from "../io/errors.ts";
import { readInput } from "../io/files.ts";
import type { StreamKind } from "../io/stream.ts";
import type { Plugin } from "./plugin.ts";
import { getPlugin } from "./registry.ts";

export interface PipelineStage {
  plugin: string;
  kind: string;
  /** Resolved model file path, if the stage names a model. */
  model?: string;
  /** Every other field of the stage object, passed to the plugin as settings. */
  settings: Record<string, unknown>;
  /** JSON path of the stage, for messages. */
  where: string;
}

export interface Pipeline {
  path: string;
  description?: string;
  stages: PipelineStage[];
  plugins: Plugin[];
  /** Reports, one per generated item group (report-to-image); undefined for unconditional runs. */
  reports?: string[];
  /** Input image files (for stages that take images or a latent from an image). */
  inputs: string[];
  /** Mask file for in- or outpainting, resolved. */
  mask?: string;
  count: number;
  seed: number;
  batchSize: number;
  output: { dir: string; prefix: string; format: "png" | "dicom"; bits: 8 | 16 };
}

export interface PipelineOverrides {
  out?: string;
  seed?: number;
  count?: number;
  batchSize?: number;
  reportsFile?: string;
  modelsDir?: string;
}

type Json = Record<string, unknown>;

const TOP_FIELDS = new Set([
  "cheff", "description", "models", "stages", "conditioning", "input", "mask", "count", "seed", "batch_size", "output",
]);

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function fail(file: string, where: string, message: string): never {
  throw new CheffError(`${file}: ${where}: ${message}`);
}

function integer(file: string, where: string, value: unknown, min: number): number {
  if (!Number.isInteger(value) || (value as number) < min) fail(file, where, `invalid value ${JSON.stringify(value)}, expected an integer ≥ ${min}`);
  return value as number;
}

/** Resolves a model file: absolute, else under the models folder, else beside the pipeline file. */
export function resolveModelPath(path: string, pipelineDir: string, modelsDir?: string): string {
  if (isAbsolute(path)) return path;
  const folders = [modelsDir ?? Deno.env.get("CHEFF_MODELS"), pipelineDir].filter((d): d is string => !!d);
  for (const folder of folders) {
    const candidate = resolve(folder, path);
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch {
      // Try the next folder.
    }
  }
  return resolve(folders[0], path);
}

function requireFile(file: string, where: string, path: string, what: string, hint = ""): void {
  try {
    if (!Deno.statSync(path).isFile) fail(file, where, `${what} ${path} is not a file`);
  } catch (error) {
    if (error instanceof CheffError) throw error;
    fail(file, where, `${what} not found: expected it at ${path}${hint}`);
  }
}

/** Reads and validates a pipeline file, resolving paths and plugins; nothing runs. */
export async function loadPipeline(path: string, overrides: PipelineOverrides = {}): Promise<Pipeline> {
  const text = new TextDecoder().decode(await readInput(path));
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new CheffError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(raw)) fail(path, "$", "expected a JSON object");
  if (raw.cheff !== 1) fail(path, "$.cheff", `invalid value ${JSON.stringify(raw.cheff)}, expected 1 (the pipeline format version)`);
  for (const key of Object.keys(raw)) {
    if (!TOP_FIELDS.has(key)) {
      fail(path, `$.${key}`, `unknown field (expected one of ${[...TOP_FIELDS].join(", ")}; training pipelines run with cheff train)`);
    }
  }
  const baseDir = dirname(resolve(path));
  const modelsHint = overrides.modelsDir ?? Deno.env.get("CHEFF_MODELS")
    ? ""
    : " (pass --models DIR or set CHEFF_MODELS to the folder holding the model files)";

  // Models.
  const models = new Map<string, string>();
  if (raw.models !== undefined) {
    if (!isObject(raw.models)) fail(path, "$.models", "expected an object mapping names to model files");
    for (const [name, file] of Object.entries(raw.models)) {
      if (typeof file !== "string" || file === "") fail(path, `$.models.${name}`, "expected a model file path");
      models.set(name, resolveModelPath(file, baseDir, overrides.modelsDir));
    }
  }

  // Stages.
  if (!Array.isArray(raw.stages) || raw.stages.length === 0) fail(path, "$.stages", "expected a non-empty list of stages");
  const stages: PipelineStage[] = [];
  const plugins: Plugin[] = [];
  let previous: StreamKind | undefined;
  for (const [i, entry] of raw.stages.entries()) {
    const where = `$.stages[${i}]`;
    if (!isObject(entry)) fail(path, where, "expected an object with plugin and kind");
    const { plugin: pluginName, kind, model, ...settings } = entry;
    if (typeof pluginName !== "string") fail(path, `${where}.plugin`, "expected a plugin name");
    if (typeof kind !== "string") fail(path, `${where}.kind`, "expected the kind of work, e.g. diffuse, decode, upscale");
    let plugin: Plugin;
    try {
      plugin = await getPlugin(pluginName, baseDir);
    } catch (error) {
      fail(path, `${where}.plugin`, (error as Error).message);
    }
    const spec = plugin.kinds[kind];
    if (!spec) fail(path, `${where}.kind`, `plugin ${plugin.name} has no kind '${kind}' (it has ${Object.keys(plugin.kinds).join(", ")})`);
    if (previous !== undefined && !spec.takes.includes(previous)) {
      fail(path, where, `${plugin.name} ${kind} takes ${spec.takes.join(" or ") || "no input"}, but the stage before gives ${previous}`);
    }
    let modelPath: string | undefined;
    if (model !== undefined) {
      if (typeof model !== "string") fail(path, `${where}.model`, "expected a model name from $.models or a file path");
      modelPath = models.get(model) ?? resolveModelPath(model, baseDir, overrides.modelsDir);
      requireFile(path, `${where}.model`, modelPath, "model file", modelsHint);
    }
    for (const key of ["steps", "count", "seed"]) {
      if (key in settings && !Number.isInteger(settings[key])) fail(path, `${where}.${key}`, "expected an integer");
    }
    for (const key of ["eta", "guidance"]) {
      if (key in settings && typeof settings[key] !== "number") fail(path, `${where}.${key}`, "expected a number");
    }
    stages.push({ plugin: pluginName, kind, model: modelPath, settings, where });
    plugins.push(plugin);
    previous = spec.gives;
  }

  // Conditioning: one report, or a file of reports (one per line).
  let reports: string[] | undefined;
  const conditioning = raw.conditioning;
  if (conditioning !== undefined) {
    if (!isObject(conditioning)) fail(path, "$.conditioning", "expected {report} or {reports_file}");
    if (typeof conditioning.report === "string") reports = [conditioning.report];
    else if (typeof conditioning.reports_file === "string") {
      reports = await readReports(resolve(baseDir, conditioning.reports_file), `${path}: $.conditioning.reports_file`);
    } else fail(path, "$.conditioning", "expected a 'report' string or a 'reports_file' path");
  }
  if (overrides.reportsFile) reports = await readReports(overrides.reportsFile, overrides.reportsFile);

  // Inputs and mask.
  const inputs: string[] = [];
  if (raw.input !== undefined) {
    if (!isObject(raw.input) || !Array.isArray(raw.input.images)) fail(path, "$.input", "expected {\"images\": [paths]}");
    for (const [i, image] of raw.input.images.entries()) {
      if (typeof image !== "string") fail(path, `$.input.images[${i}]`, "expected a file path");
      const resolved = resolve(baseDir, image);
      requireFile(path, `$.input.images[${i}]`, resolved, "input image");
      inputs.push(resolved);
    }
  }
  let mask: string | undefined;
  if (raw.mask !== undefined) {
    if (typeof raw.mask !== "string") fail(path, "$.mask", "expected a mask file path");
    mask = resolve(baseDir, raw.mask);
    requireFile(path, "$.mask", mask, "mask file");
  }

  // Counts and output.
  const count = overrides.count ?? (raw.count === undefined ? 1 : integer(path, "$.count", raw.count, 1));
  const seed = overrides.seed ?? (raw.seed === undefined ? 0 : integer(path, "$.seed", raw.seed, 0));
  const batchSize = overrides.batchSize ?? (raw.batch_size === undefined ? 1 : integer(path, "$.batch_size", raw.batch_size, 1));
  const output = raw.output === undefined ? {} : raw.output;
  if (!isObject(output)) fail(path, "$.output", "expected {dir, prefix, format, bits}");
  const format = output.format ?? "png";
  if (format !== "png" && format !== "dicom") fail(path, "$.output.format", `invalid value ${JSON.stringify(format)}, expected png or dicom`);
  const bits = output.bits ?? 8;
  if (bits !== 8 && bits !== 16) fail(path, "$.output.bits", `invalid value ${JSON.stringify(bits)}, expected 8 or 16`);
  if (output.prefix !== undefined && (typeof output.prefix !== "string" || /[\/\\]/.test(output.prefix))) {
    fail(path, "$.output.prefix", "expected a file-name prefix without slashes");
  }
  if (output.dir !== undefined && typeof output.dir !== "string") fail(path, "$.output.dir", "expected a folder path");
  const dir = overrides.out ?? (output.dir ? resolve(baseDir, output.dir as string) : "out");
  if (previous !== "image") {
    fail(path, `$.stages[${stages.length - 1}]`, `the last stage gives a ${previous} stream; a generation pipeline must end with images`);
  }

  return {
    path,
    description: typeof raw.description === "string" ? raw.description : undefined,
    stages,
    plugins,
    reports,
    inputs,
    mask,
    count,
    seed,
    batchSize,
    output: { dir, prefix: (output.prefix as string | undefined) ?? "cheff-", format, bits },
  };
}

async function readReports(file: string, where: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    throw new CheffError(`${where}: reports file ${file} not found`);
  }
  const reports = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  if (reports.length === 0) throw new CheffError(`${where}: reports file ${file} holds no report (expected one per line)`);
  return reports;
}
