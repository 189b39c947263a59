/**
 * The preparation config: which downloaded datasets to turn into the MaCheX
 * layout, where to write it and how to convert the images. It is validated in
 * full before any work starts; an error names the field by its JSON path.
 *
 * ```json
 * {"cheff": 1, "output": "machex", "size": 1024, "quality": 95, "frontal_only": true,
 *  "datasets": {"chexpert": {"root": "/data/CheXpert-v1.0", "csv": "train.csv"}}}
 * ```
 *
 * Relative paths (`output`, each `root`) resolve against the config file's folder;
 * an adapter's path options resolve against its dataset's root.
 */
import { dirname, isAbsolute, join, resolve } from "node:path";
import { CheffError } from "../io/errors.ts";
import { ADAPTERS } from "./adapters/index.ts";
import type { Adapter } from "./adapters/types.ts";

export interface DatasetConfig {
  /** The config's name for the dataset, also the name of its output folder. */
  name: string;
  adapter: Adapter;
  /** Absolute dataset root. */
  root: string;
  frontalOnly: boolean;
  /** The adapter's own options, type-checked. */
  options: Record<string, string>;
}

export interface PrepareConfig {
  /** Absolute output folder holding one folder per dataset. */
  output: string;
  /** Side of the square output images in pixels. */
  size: number;
  /** JPEG quality, 1 to 100. */
  quality: number;
  datasets: DatasetConfig[];
}

const TOP_FIELDS = ["cheff", "output", "size", "quality", "frontal_only", "datasets"];
const DATASET_FIELDS = ["root", "adapter", "frontal_only"];

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `'${value}'`;
  if (typeof value === "object") return "an object";
  return String(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Validates parsed config JSON; `file` names the config in errors and anchors relative paths. */
export function validateConfig(json: unknown, file: string): PrepareConfig {
  const fail = (path: string, message: string): never => {
    throw new CheffError(`${file}: ${path}: ${message}`);
  };
  const base = dirname(resolve(file));
  const absolute = (path: string) => (isAbsolute(path) ? path : join(base, path));

  if (!isPlainObject(json)) fail("(top level)", `expected a JSON object, got ${describe(json)}`);
  const top = json as Record<string, unknown>;
  for (const field of Object.keys(top)) {
    if (!TOP_FIELDS.includes(field)) fail(field, `unknown field, expected one of ${TOP_FIELDS.join(", ")}`);
  }
  if (top.cheff !== 1) fail("cheff", `expected 1 (the config format version), got ${describe(top.cheff)}`);
  if (typeof top.output !== "string" || top.output === "") {
    fail("output", `expected a folder path, got ${describe(top.output)}`);
  }

  const size = top.size ?? 1024;
  if (typeof size !== "number" || !Number.isInteger(size) || size < 1 || size > 16384) {
    fail("size", `expected an integer from 1 to 16384 (pixels), got ${describe(size)}`);
  }
  const quality = top.quality ?? 95;
  if (typeof quality !== "number" || !Number.isInteger(quality) || quality < 1 || quality > 100) {
    fail("quality", `expected an integer from 1 to 100, got ${describe(quality)}`);
  }
  const frontalOnly = top.frontal_only ?? true;
  if (typeof frontalOnly !== "boolean") {
    fail("frontal_only", `expected true or false, got ${describe(frontalOnly)}`);
  }

  if (!isPlainObject(top.datasets) || Object.keys(top.datasets).length === 0) {
    fail("datasets", `expected an object with at least one dataset, got ${describe(top.datasets)}`);
  }
  const datasets: DatasetConfig[] = [];
  for (const [name, entry] of Object.entries(top.datasets as Record<string, unknown>)) {
    datasets.push(validateDataset(name, entry, frontalOnly as boolean, absolute, fail));
  }

  return {
    output: absolute(top.output as string),
    size: size as number,
    quality: quality as number,
    datasets,
  };
}

function validateDataset(
  name: string,
  entry: unknown,
  frontalOnly: boolean,
  absolute: (path: string) => string,
  fail: (path: string, message: string) => never,
): DatasetConfig {
  const at = `datasets.${name}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    fail(at, "invalid dataset name, expected letters, digits, '.', '_' or '-' (it names the output folder)");
  }
  if (!isPlainObject(entry)) fail(at, `expected an object with a 'root' folder, got ${describe(entry)}`);
  const fields = entry as Record<string, unknown>;

  const adapterName = fields.adapter ?? name;
  if (typeof adapterName !== "string" || !(adapterName in ADAPTERS)) {
    const where = fields.adapter === undefined ? at : `${at}.adapter`;
    fail(
      where,
      `unknown dataset ${describe(adapterName)}, expected one of ${Object.keys(ADAPTERS).join(", ")}`,
    );
  }
  const adapter = ADAPTERS[adapterName as string];

  if (typeof fields.root !== "string" || fields.root === "") {
    fail(`${at}.root`, `expected the dataset's folder, got ${describe(fields.root)}`);
  }
  const ownFrontalOnly = fields.frontal_only ?? frontalOnly;
  if (typeof ownFrontalOnly !== "boolean") {
    fail(`${at}.frontal_only`, `expected true or false, got ${describe(ownFrontalOnly)}`);
  }

  const options: Record<string, string> = {};
  for (const [field, value] of Object.entries(fields)) {
    if (DATASET_FIELDS.includes(field)) continue;
    const spec = adapter.options[field];
    if (spec === undefined) {
      const known = [...DATASET_FIELDS, ...Object.keys(adapter.options)].join(", ");
      fail(`${at}.${field}`, `unknown field for ${adapter.name}, expected one of ${known}`);
    }
    if (typeof value !== "string" || value === "") {
      fail(`${at}.${field}`, `expected a string (${spec.description}), got ${describe(value)}`);
    }
    if (spec.type === "choice" && !spec.choices.includes(value as string)) {
      fail(`${at}.${field}`, `invalid value ${describe(value)}, expected one of ${spec.choices.join(", ")}`);
    }
    options[field] = value as string;
  }

  return {
    name,
    adapter,
    root: absolute(fields.root as string),
    frontalOnly: ownFrontalOnly as boolean,
    options,
  };
}

/** Reads and validates a config file. */
export async function readConfig(path: string): Promise<PrepareConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new CheffError(`${path}: config file not found`);
    throw new CheffError(`${path}: cannot be read (${(error as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CheffError(`${path}: invalid JSON (${(error as Error).message})`);
  }
  return validateConfig(json, path);
}
