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
 * Top-level fields: `cheff` (format version, 1), `description`, `models`
 * (name → file), `stages`, `count`, `seed`, `batch_size` and `output` (`dir`,
 * `prefix`, `format`, `bits`). Conditioning and inpainting add `conditioning`
 * (`report`, `reports` or `reports_file`), `input` (`images`: files the first
 * stage reads) and `mask` (a mask file for the latent-diffusion stage).
 *
 * Model and config paths that are relative resolve against `--models DIR` or
 * `$CHEFF_MODELS`, then the pipeline file's folder; input, mask, reports and
 * output paths resolve against the pipeline file's folder. Every error names
 * the field by its JSON path.
 */
import { dirname, isAbsolute, resolve } from "node:path";
import { CheffError } from "../io/errors.ts";
import { readInput } from "../io/files.ts";
import type { StreamKind } from "../io/stream.ts";
import { readMaskFile } from "../stages/latent/mask.ts";
import type { Plugin } from "./plugin.ts";
import { BUILTIN_SETTINGS, getPlugin, RUN_SETTINGS, type SettingSpec } from "./registry.ts";

/** The pipeline format version this cheff reads. */
export const PIPELINE_VERSION = 1;

export interface PipelineStage {
  plugin: string;
  kind: string;
  /** Resolved model file path, if the stage names a model. */
  model?: string;
  /** Every other field of the stage object, passed to the plugin as settings (file paths resolved). */
  settings: Record<string, unknown>;
  /** JSON path of the stage, for messages. */
  where: string;
  /** The stream kind the stage receives, or undefined when it starts from nothing. */
  input?: StreamKind;
}

export interface PipelineOutput {
  dir: string;
  prefix: string;
  format: "png" | "dicom";
  bits: 8 | 16;
}

export interface Pipeline {
  path: string;
  description?: string;
  stages: PipelineStage[];
  plugins: Plugin[];
  /** Reports for report-to-image runs, each giving `count` images; undefined for unconditional runs. */
  reports?: string[];
  /** Input image files that the first stage reads, each giving `count` images. */
  inputs: string[];
  /** Mask file for in- or outpainting, resolved. */
  mask?: string;
  /** Index of the stage that receives the mask and the reports (the latent-diffusion stage). */
  diffusionStage?: number;
  count: number;
  seed: number;
  batchSize: number;
  output: PipelineOutput;
}

/** Command-line values that replace the pipeline file's own. Paths are relative to the working folder. */
export interface PipelineOverrides {
  out?: string;
  seed?: number;
  count?: number;
  batchSize?: number;
  reportsFile?: string;
  modelsDir?: string;
  inputs?: string[];
  mask?: string;
}

type Json = Record<string, unknown>;

const TOP_FIELDS = [
  "cheff",
  "description",
  "models",
  "stages",
  "conditioning",
  "input",
  "mask",
  "count",
  "seed",
  "batch_size",
  "output",
];
const CONDITIONING_FIELDS = ["report", "reports", "reports_file"];
const INPUT_FIELDS = ["images"];
const OUTPUT_FIELDS = ["dir", "prefix", "format", "bits"];

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Returns the JSON path of `key` inside the object at `where`. */
function member(where: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${where}.${key}` : `${where}[${JSON.stringify(key)}]`;
}

/** Reads and validates a pipeline file, resolving paths and plugins; no model is loaded. */
export async function loadPipeline(path: string, overrides: PipelineOverrides = {}): Promise<Pipeline> {
  return await new PipelineLoader(path, overrides).load();
}

class PipelineLoader {
  private readonly baseDir: string;
  private readonly modelsDir?: string;
  private readonly modelsSource: string;

  constructor(private readonly file: string, private readonly overrides: PipelineOverrides) {
    this.baseDir = dirname(resolve(file));
    const environment = Deno.env.get("CHEFF_MODELS");
    this.modelsDir = overrides.modelsDir ?? (environment || undefined);
    this.modelsSource = overrides.modelsDir !== undefined ? "--models" : "CHEFF_MODELS";
  }

  private fail(where: string, message: string): never {
    throw new CheffError(`${this.file}: ${where}: ${message}`);
  }

  async load(): Promise<Pipeline> {
    const raw = await this.parse();
    const models = this.models(raw.models);
    const stages: PipelineStage[] = [];
    const plugins: Plugin[] = [];
    const inputs = this.inputs(raw.input);
    await this.stages(raw.stages, models, inputs.length > 0, stages, plugins);

    const diffusionStages = stages.filter((s) => s.plugin === "latent-diffusion" && s.kind === "diffuse");
    if (diffusionStages.length > 1) {
      this.fail(diffusionStages[1].where, "a second latent-diffusion diffuse stage; a pipeline has at most one (its mask and reports go to it)");
    }
    const diffusionStage = diffusionStages.length === 0 ? -1 : stages.indexOf(diffusionStages[0]);
    const mask = await this.mask(raw.mask, stages, diffusionStage);
    const reports = await this.reports(raw.conditioning, diffusionStage);

    const count = this.overrides.count ?? this.integer("$.count", raw.count, 1, 1);
    const seed = this.overrides.seed ?? this.integer("$.seed", raw.seed, 0, 0, Number.MAX_SAFE_INTEGER);
    const batchSize = this.overrides.batchSize ?? this.integer("$.batch_size", raw.batch_size, 1, 1);
    if (seed + this.itemCount(count, inputs, reports) - 1 > Number.MAX_SAFE_INTEGER) {
      this.fail("$.seed", `seed ${seed} plus the image count passes 2^53 − 1; choose a smaller seed`);
    }
    if (raw.description !== undefined && typeof raw.description !== "string") this.fail("$.description", "expected a string");

    return {
      path: this.file,
      description: raw.description as string | undefined,
      stages,
      plugins,
      reports,
      inputs,
      mask,
      diffusionStage: diffusionStage < 0 ? undefined : diffusionStage,
      count,
      seed,
      batchSize,
      output: this.output(raw.output),
    };
  }

  private itemCount(count: number, inputs: string[], reports: string[] | undefined): number {
    return count * Math.max(inputs.length, 1) * (reports?.length ?? 1);
  }

  private async parse(): Promise<Json> {
    const text = new TextDecoder().decode(await readInput(this.file));
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new CheffError(`${this.file}: not valid JSON (${(error as Error).message.split("\n")[0]})`);
    }
    if (!isObject(raw)) this.fail("$", "expected a JSON object");
    if (raw.cheff === undefined) {
      this.fail("$.cheff", `missing; a pipeline file starts with "cheff": ${PIPELINE_VERSION} (the pipeline format version)`);
    }
    if (raw.cheff !== PIPELINE_VERSION) {
      this.fail("$.cheff", `unsupported pipeline format version ${JSON.stringify(raw.cheff)}, expected ${PIPELINE_VERSION}`);
    }
    if (raw.train !== undefined) this.fail("$.train", "a training pipeline; run it with cheff train");
    this.rejectUnknown(raw, "$", TOP_FIELDS);
    return raw;
  }

  private rejectUnknown(object: Json, where: string, known: readonly string[]): void {
    for (const key of Object.keys(object)) {
      if (!known.includes(key)) this.fail(member(where, key), `unknown field (expected one of ${known.join(", ")})`);
    }
  }

  private integer(where: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
      this.fail(where, `invalid value ${JSON.stringify(value)}, expected an integer ${range}`);
    }
    return value as number;
  }

  /**
   * Resolves a model or config path: an absolute path as it is; a relative one
   * under the models folder, else beside the pipeline file. Fails with every
   * place it looked.
   */
  private locate(where: string, path: string, what: string): string {
    if (isAbsolute(path)) {
      if (!isFile(path)) this.fail(where, `${what} ${path} not found`);
      return path;
    }
    const places: string[] = [];
    if (this.modelsDir) places.push(`${resolve(this.modelsDir, path)} (${this.modelsSource})`);
    places.push(`${resolve(this.baseDir, path)} (beside the pipeline file)`);
    for (const folder of [this.modelsDir, this.baseDir]) {
      if (folder && isFile(resolve(folder, path))) return resolve(folder, path);
    }
    const hint = this.modelsDir
      ? ""
      : "; pass --models DIR or set CHEFF_MODELS to the folder that holds the model files";
    this.fail(where, `${what} ${path} not found, expected at ${places.join(" or ")}${hint}`);
  }

  /** A path that resolves against the pipeline file's folder and must name a file. */
  private localFile(where: string, path: unknown, what: string): string {
    if (typeof path !== "string" || path === "") this.fail(where, `expected the path of ${what}`);
    const resolved = resolve(this.baseDir, path);
    if (!isFile(resolved)) this.fail(where, `${what} ${resolved} not found`);
    return resolved;
  }

  private models(value: unknown): Map<string, string> {
    const models = new Map<string, string>();
    if (value === undefined) return models;
    if (!isObject(value)) this.fail("$.models", "expected an object mapping names to model files");
    for (const [name, path] of Object.entries(value)) {
      const where = member("$.models", name);
      if (typeof path !== "string" || path === "") this.fail(where, "expected a model file path");
      models.set(name, this.locate(where, path, "model file"));
    }
    return models;
  }

  private inputs(value: unknown): string[] {
    if (this.overrides.inputs?.length) {
      for (const path of this.overrides.inputs) {
        if (!isFile(path)) throw new CheffError(`--input: ${path} not found`);
      }
      return this.overrides.inputs.map((path) => resolve(path));
    }
    if (value === undefined) return [];
    if (!isObject(value)) this.fail("$.input", 'expected {"images": [image files]}');
    this.rejectUnknown(value, "$.input", INPUT_FIELDS);
    const images = value.images;
    if (!Array.isArray(images) || images.length === 0) this.fail("$.input.images", "expected a non-empty list of image files");
    return images.map((image, i) => this.localFile(`$.input.images[${i}]`, image, "input image"));
  }

  private async stages(
    value: unknown,
    models: Map<string, string>,
    hasInputs: boolean,
    stages: PipelineStage[],
    plugins: Plugin[],
  ): Promise<void> {
    if (!Array.isArray(value) || value.length === 0) this.fail("$.stages", "expected a non-empty list of stages");
    let previous: StreamKind | undefined = hasInputs ? "image" : undefined;
    for (const [i, entry] of value.entries()) {
      const where = `$.stages[${i}]`;
      if (!isObject(entry)) this.fail(where, "expected an object with plugin and kind");
      const { plugin: pluginName, kind, model, ...rest } = entry;
      if (typeof pluginName !== "string") this.fail(`${where}.plugin`, "expected a plugin name or a plugin module path");
      if (typeof kind !== "string") this.fail(`${where}.kind`, "expected the kind of work, e.g. diffuse, decode, upscale");
      let plugin: Plugin;
      try {
        plugin = await getPlugin(pluginName, this.baseDir);
      } catch (error) {
        if (!(error instanceof CheffError)) throw error;
        this.fail(`${where}.plugin`, error.message);
      }
      const spec = plugin.kinds[kind];
      if (!spec) {
        this.fail(`${where}.kind`, `plugin ${plugin.name} has no kind '${kind}' (it has ${Object.keys(plugin.kinds).join(", ")})`);
      }
      this.checkChain(where, i, plugin, kind, spec.takes, spec.inputOptional === true, previous);

      let modelPath: string | undefined;
      if (model !== undefined) {
        if (typeof model !== "string" || model === "") this.fail(`${where}.model`, "expected a name from $.models or a model file path");
        modelPath = models.get(model) ?? this.locate(`${where}.model`, model, `model file (not a name in $.models)`);
      } else if (BUILTIN_SETTINGS[pluginName]) {
        this.fail(`${where}.model`, `missing; ${plugin.name} ${kind} needs a model (a name from $.models or a file path)`);
      }
      const settings = this.settings(where, pluginName, kind, rest);
      stages.push({ plugin: pluginName, kind, model: modelPath, settings, where, input: previous });
      plugins.push(plugin);
      previous = spec.gives;
    }
    if (previous !== "image") {
      this.fail(`$.stages[${stages.length - 1}]`, `the last stage gives a ${previous} stream; a generation pipeline must end with images`);
    }
  }

  private checkChain(
    where: string,
    index: number,
    plugin: Plugin,
    kind: string,
    takes: StreamKind[],
    inputOptional: boolean,
    previous: StreamKind | undefined,
  ): void {
    const name = `${plugin.name} ${kind}`;
    if (previous === undefined) {
      if (takes.length > 0 && !inputOptional) {
        this.fail(where, `${name} needs an input stream (${takes.join(" or ")}), but nothing comes before it; a first stage that reads images needs $.input.images`);
      }
      return;
    }
    if (!takes.includes(previous)) {
      const before = index === 0 ? "the input images ($.input.images) give" : "the stage before gives";
      this.fail(where, `${name} takes ${takes.join(" or ") || "no input"}, but ${before} ${previous}`);
    }
  }

  private settings(where: string, pluginName: string, kind: string, rest: Json): Record<string, unknown> {
    const specs = BUILTIN_SETTINGS[pluginName]?.[kind];
    const settings: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(rest)) {
      const path = member(where, key);
      if (key in RUN_SETTINGS && specs) this.fail(path, `not a stage setting; ${RUN_SETTINGS[key]}`);
      if (!specs) {
        settings[key] = value;
        continue;
      }
      const spec = specs[key];
      if (!spec) this.fail(path, `unknown setting for ${pluginName} ${kind} (expected one of plugin, kind, model, ${Object.keys(specs).join(", ")})`);
      settings[key] = this.setting(path, value, spec);
    }
    return settings;
  }

  private setting(where: string, value: unknown, spec: SettingSpec): unknown {
    switch (spec.type) {
      case "file":
        if (typeof value !== "string" || value === "") this.fail(where, "expected a file path");
        return this.locate(where, value, "file");
      case "string":
        if (typeof value !== "string") this.fail(where, `invalid value ${JSON.stringify(value)}, expected a string`);
        return value;
      case "boolean":
        if (typeof value !== "boolean") this.fail(where, `invalid value ${JSON.stringify(value)}, expected true or false`);
        return value;
      case "choice":
        if (!spec.choices.includes(value as string)) {
          this.fail(where, `invalid value ${JSON.stringify(value)}, expected one of ${spec.choices.join(", ")}`);
        }
        return value;
      case "integer":
      case "number": {
        const min = spec.min ?? -Infinity;
        const max = spec.max ?? Infinity;
        const ok = typeof value === "number" && Number.isFinite(value) && value >= min && value <= max &&
          (spec.type === "number" || Number.isInteger(value));
        if (!ok) {
          const kind = spec.type === "integer" ? "an integer" : "a number";
          let range = "";
          if (spec.max !== undefined) range = ` from ${min} to ${max}`;
          else if (spec.min !== undefined) range = ` ≥ ${min}`;
          this.fail(where, `invalid value ${JSON.stringify(value)}, expected ${kind}${range}`);
        }
        return value;
      }
    }
  }

  /** Resolves and reads the mask file, which goes to the latent-diffusion stage that inpaints a latent. */
  private async mask(value: unknown, stages: PipelineStage[], diffusionStage: number): Promise<string | undefined> {
    const fromFlag = this.overrides.mask !== undefined;
    const where = fromFlag ? "--mask" : "$.mask";
    let mask: string | undefined;
    if (fromFlag) {
      mask = resolve(this.overrides.mask!);
      if (!isFile(mask)) this.fail(where, `mask file ${mask} not found`);
    } else if (value !== undefined) {
      mask = this.localFile(where, value, "a mask file");
    }
    const inpainting = diffusionStage >= 0 && stages[diffusionStage].input !== undefined;
    if (mask === undefined) {
      if (inpainting) {
        this.fail(stages[diffusionStage].where, "a latent-diffusion stage that receives a latent inpaints it and needs $.mask");
      }
      return undefined;
    }
    if (!inpainting) {
      this.fail(where, "a mask needs a latent-diffusion diffuse stage that receives a latent (e.g. $.input.images → encode → diffuse)");
    }
    try {
      await readMaskFile(mask);
    } catch (error) {
      if (!(error instanceof CheffError)) throw error;
      this.fail(where, error.message);
    }
    return mask;
  }

  private async reports(value: unknown, diffusionStage: number): Promise<string[] | undefined> {
    let reports: string[] | undefined;
    if (this.overrides.reportsFile !== undefined) {
      reports = await readReports(this.overrides.reportsFile, "--reports-file");
    } else if (value !== undefined) {
      if (!isObject(value)) this.fail("$.conditioning", "expected {report}, {reports} or {reports_file}");
      this.rejectUnknown(value, "$.conditioning", CONDITIONING_FIELDS);
      const given = CONDITIONING_FIELDS.filter((key) => value[key] !== undefined);
      if (given.length !== 1) this.fail("$.conditioning", `expected exactly one of ${CONDITIONING_FIELDS.join(", ")}`);
      if (value.report !== undefined) {
        if (typeof value.report !== "string") this.fail("$.conditioning.report", "expected a report string");
        reports = [value.report];
      } else if (value.reports !== undefined) {
        const list = value.reports;
        if (!Array.isArray(list) || list.length === 0) this.fail("$.conditioning.reports", "expected a non-empty list of report strings");
        list.forEach((report, i) => {
          if (typeof report !== "string") this.fail(`$.conditioning.reports[${i}]`, "expected a report string");
        });
        reports = list as string[];
      } else {
        const file = this.localFile("$.conditioning.reports_file", value.reports_file, "a reports file");
        reports = await readReports(file, `${this.file}: $.conditioning.reports_file`);
      }
    }
    if (reports && diffusionStage < 0) {
      const where = this.overrides.reportsFile !== undefined ? "--reports-file" : "$.conditioning";
      this.fail(where, "reports condition a latent-diffusion diffuse stage, and this pipeline has none");
    }
    return reports;
  }

  private output(value: unknown): PipelineOutput {
    const output = value === undefined ? {} : value;
    if (!isObject(output)) this.fail("$.output", "expected {dir, prefix, format, bits}");
    this.rejectUnknown(output, "$.output", OUTPUT_FIELDS);
    const format = output.format ?? "png";
    if (format !== "png" && format !== "dicom") {
      this.fail("$.output.format", `invalid value ${JSON.stringify(format)}, expected png or dicom`);
    }
    const bits = output.bits ?? 8;
    if (bits !== 8 && bits !== 16) this.fail("$.output.bits", `invalid value ${JSON.stringify(bits)}, expected 8 or 16`);
    const prefix = output.prefix ?? "cheff-";
    if (typeof prefix !== "string" || /[\/\\]/.test(prefix)) this.fail("$.output.prefix", "expected a file-name prefix without slashes");
    if (output.dir !== undefined && (typeof output.dir !== "string" || output.dir === "")) {
      this.fail("$.output.dir", "expected a folder path");
    }
    const dir = this.overrides.out ?? (output.dir !== undefined ? resolve(this.baseDir, output.dir as string) : "out");
    return { dir, prefix, format, bits };
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Reads a reports file: one report per line; blank lines are skipped. */
async function readReports(file: string, where: string): Promise<string[]> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(await Deno.readFile(file));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new CheffError(`${where}: reports file ${file} not found`);
    if (error instanceof TypeError) throw new CheffError(`${where}: reports file ${file} is not UTF-8 text`);
    throw new CheffError(`${where}: reports file ${file} cannot be read (${(error as Error).message})`);
  }
  const reports = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "");
  if (reports.length === 0) throw new CheffError(`${where}: reports file ${file} has no report (expected one per line)`);
  return reports;
}
