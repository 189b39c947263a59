/**
 * Runs a generation pipeline. The run's items are images: `count` per input
 * image and per report, or `count` in all. They are split into contiguous
 * shards and batches, each batch goes through the declared stage chain, each
 * image is written with its provenance, and a manifest (JSON and CSV) lists
 * every file.
 *
 * Item i of a run always gets seed `seed + i` and file `<prefix><i>.png` (i
 * padded to 5 digits), so batch size and sharding change neither which image
 * gets which seed nor its name, and shards 0…n−1 together give exactly the
 * images of the unsharded run. Each image's provenance (PNG text chunks) is
 * what `cheff diffuse --seed <seed + i> | cheff decode …` would write for it
 * alone, so a shell pipe and a pipeline file give the same bytes. Items whose
 * file already exists are skipped, so an interrupted run resumes.
 *
 * What each stage gets besides its own settings: `model` (resolved path);
 * `seed` (the batch's first item's seed; image j of the batch uses seed + j)
 * for latent-diffusion, super-resolution and third-party plugins; `count` for a
 * first stage that starts from nothing; `report` (one string, or one per image)
 * and `mask` for the latent-diffusion stage.
 */
import { createHash } from "node:crypto";
import { basename, join } from "node:path";
import { CheffError } from "../io/errors.ts";
import { checkWritable, writeFileAtomic } from "../io/files.ts";
import type { HistoryEntry, Stream } from "../io/stream.ts";
import { readImageInputs, writeImageOutputs } from "../io/image/streams.ts";
import { readPngText } from "../io/image/write.ts";
import { withOutputFolder } from "../io/output_folder.ts";
import type { RunContext } from "./context.ts";
import type { Pipeline } from "./pipeline.ts";
import { BUILTIN_PLUGINS } from "./registry.ts";

export interface Shard {
  index: number;
  count: number;
}

export interface Item {
  index: number;
  seed: number;
  report?: string;
  input?: string;
  file: string;
}

export interface ManifestEntry {
  file: string;
  index: number;
  seed: number;
  report: string | null;
  input: string | null;
  synthetic: boolean;
  /** Stage name → SHA-256 of its model file. */
  models: Record<string, string>;
  /** Every stage's command and settings, as the image's `cheff:history` text chunk records them. */
  history: HistoryEntry[];
  /** SHA-256 of the settings that made the image (see itemFingerprint). */
  fingerprint?: string;
}

/** Parses `i/n` (shards numbered from 0). */
export function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index >= count) {
    throw new CheffError(`--shard: invalid value '${text}', expected i/n with 0 ≤ i < n (e.g. 0/4)`);
  }
  return { index, count };
}

/** Lists the run's items in order: for each input image, for each report, `count` images. */
export function planItems(pipeline: Pipeline): Item[] {
  const { prefix, format } = pipeline.output;
  const extension = format === "dicom" ? "dcm" : "png";
  const inputs: (string | undefined)[] = pipeline.inputs.length > 0 ? pipeline.inputs : [undefined];
  const reports: (string | undefined)[] = pipeline.reports ?? [undefined];
  const items: Item[] = [];
  for (const input of inputs) {
    for (const report of reports) {
      for (let c = 0; c < pipeline.count; c++) {
        const index = items.length;
        items.push({
          index,
          seed: pipeline.seed + index,
          ...(report !== undefined ? { report } : {}),
          ...(input !== undefined ? { input } : {}),
          file: `${prefix}${String(index).padStart(5, "0")}.${extension}`,
        });
      }
    }
  }
  return items;
}

/** Returns the contiguous block of items that shard i of n runs. */
export function shardItems(items: Item[], shard: Shard | undefined): Item[] {
  if (!shard) return items;
  const start = Math.floor((shard.index * items.length) / shard.count);
  const end = Math.floor(((shard.index + 1) * items.length) / shard.count);
  return items.slice(start, end);
}

/**
 * Splits items into batches of at most `batchSize` consecutive indices, because
 * the plugins give image j of a batch the seed of its first image + j.
 * Items with different reports share a batch: the stage gets one report per image.
 */
export function batchItems(items: Item[], batchSize: number): Item[][] {
  const batches: Item[][] = [];
  for (const item of items) {
    const last = batches.at(-1);
    const previous = last?.at(-1);
    if (last && previous && last.length < batchSize && previous.index + 1 === item.index) {
      last.push(item);
    } else {
      batches.push([item]);
    }
  }
  return batches;
}

export interface GenerateOptions {
  shard?: Shard;
  /** Regenerate items whose file exists instead of skipping them. */
  overwrite?: boolean;
  /** Called after each batch with the number of this shard's images finished and in all. */
  onBatch?: (done: number, total: number) => void;
  /** Called once before any work with how many items will be generated and how many are already there. */
  onPlan?: (toGenerate: number, alreadyThere: number) => void;
}

/**
 * Runs the pipeline and returns the manifest entries of this run (or shard),
 * skipped items included. When the run fails before writing a file, the output
 * folder is removed again if this call created it.
 */
export async function runGeneration(pipeline: Pipeline, context: RunContext, options: GenerateOptions = {}): Promise<ManifestEntry[]> {
  const dir = pipeline.output.dir;
  return await withOutputFolder(dir, () => generateInto(dir, pipeline, context, options));
}

async function generateInto(
  dir: string,
  pipeline: Pipeline,
  context: RunContext,
  options: GenerateOptions,
): Promise<ManifestEntry[]> {
  const suffix = options.shard ? `-shard-${options.shard.index}-of-${options.shard.count}` : "";
  const manifestJson = join(dir, `manifest${suffix}.json`);
  const manifestCsv = join(dir, `manifest${suffix}.csv`);

  const items = shardItems(planItems(pipeline), options.shard);
  const entries = new Map<string, ManifestEntry>();
  const todo: Item[] = [];
  const previous = readPreviousManifests(dir);
  for (const item of items) {
    const path = join(dir, item.file);
    const skipped = options.overwrite ? undefined : finishedEntry(item, path, previous, itemFingerprint(pipeline, item));
    if (skipped) entries.set(item.file, skipped);
    else {
      checkWritable(path, { overwrite: true });
      todo.push(item);
    }
  }

  let done = items.length - todo.length;
  options.onPlan?.(todo.length, done);
  if (todo.length === 0) options.onBatch?.(done, items.length);
  for (const batch of batchItems(todo, pipeline.batchSize)) {
    const result = await runBatch(pipeline, batch, context);
    const itemLength = result.tensor.data.length / batch.length;
    for (const [j, item] of batch.entries()) {
      const single: Stream = {
        ...result,
        tensor: { shape: [1, ...result.tensor.shape.slice(1)], data: result.tensor.data.slice(j * itemLength, (j + 1) * itemLength) },
        history: itemHistory(result.history, item),
      };
      const fingerprint = itemFingerprint(pipeline, item);
      await writeImageOutputs(single, join(dir, item.file), {
        bits: pipeline.output.bits,
        format: pipeline.output.format,
        overwrite: true,
      });
      entries.set(item.file, {
        file: item.file,
        index: item.index,
        seed: item.seed,
        report: item.report ?? null,
        input: item.input ? basename(item.input) : null,
        synthetic: single.synthetic,
        models: single.models,
        history: single.history,
        fingerprint,
      });
    }
    done += batch.length;
    options.onBatch?.(done, items.length);
    // Written after every batch, so an interrupted run leaves a manifest of what it finished.
    await writeManifest([...entries.values()], manifestJson, manifestCsv);
  }
  const all = [...entries.values()].sort((a, b) => a.index - b.index);
  await writeManifest(all, manifestJson, manifestCsv);
  return all;
}

/** Size and modification time of a file, so a replaced model or input changes the fingerprint. */
function fileIdentity(path: string): string {
  try {
    const stat = Deno.statSync(path);
    return `${basename(path)}:${stat.size}:${stat.mtime?.getTime() ?? 0}`;
  } catch {
    return basename(path);
  }
}

/**
 * SHA-256 of everything that decides an item's image: the stages and their
 * settings, the model and mask files (name, size, modification time), the
 * seed, report and input, and the output format. A rerun skips a finished file
 * only when the manifest records the same fingerprint for it. The fingerprint
 * stays out of the image itself, so a pipeline's images are byte for byte those
 * of the same stages run as a shell pipe.
 */
export function itemFingerprint(pipeline: Pipeline, item: Item): string {
  const description = {
    stages: pipeline.stages.map((stage) => ({
      plugin: stage.plugin,
      kind: stage.kind,
      settings: stage.settings,
      model: stage.model ? fileIdentity(stage.model) : null,
    })),
    mask: pipeline.mask ? fileIdentity(pipeline.mask) : null,
    seed: item.seed,
    report: item.report ?? null,
    input: item.input ? fileIdentity(item.input) : null,
    format: pipeline.output.format,
    bits: pipeline.output.bits,
  };
  return createHash("sha256").update(JSON.stringify(description)).digest("hex");
}

/**
 * Returns the manifest entry of an item whose file exists and was made by the
 * same settings, or undefined when it must be generated. A file made with other
 * settings, or not by cheff, is an error, so a rerun never mixes two runs or
 * passes off another image as this run's output.
 */
function finishedEntry(
  item: Item,
  path: string,
  previous: Map<string, ManifestEntry>,
  fingerprint: string,
): ManifestEntry | undefined {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new CheffError(`${path}: cannot be read (${(error as Error).message})`);
  }
  const otherRun = () =>
    new CheffError(
      `${path}: exists from a run with other settings (seed, report, input, steps or models differ); ` +
        "pass --overwrite or choose another --out folder",
    );
  const base: ManifestEntry = {
    file: item.file,
    index: item.index,
    seed: item.seed,
    report: item.report ?? null,
    input: item.input ? basename(item.input) : null,
    synthetic: true,
    models: {},
    history: [],
    fingerprint,
  };
  const old = previous.get(item.file);
  if (old?.fingerprint !== undefined) {
    if (old.fingerprint !== fingerprint) throw otherRun();
    return { ...old, ...base, synthetic: old.synthetic, models: old.models, history: old.history };
  }
  if (!item.file.endsWith(".png")) {
    throw new CheffError(`${path}: exists but no manifest in the folder records how it was made; pass --overwrite or choose another --out folder`);
  }
  // Without a manifest entry, the PNG's own text chunks must show a cheff image of this item.
  let text: Record<string, string>;
  try {
    text = readPngText(bytes, path);
  } catch {
    throw new CheffError(`${path}: exists but is not a readable PNG; delete it or pass --overwrite`);
  }
  if (text["cheff:history"] === undefined) {
    throw new CheffError(`${path}: exists but was not written by cheff; move it, pass --overwrite or choose another --out folder`);
  }
  const seed = text["cheff:seed"];
  if (seed !== undefined && seed !== String(item.seed)) {
    throw new CheffError(
      `${path}: exists with seed ${seed}, but this run gives that file seed ${item.seed}; pass --overwrite or choose another --out folder`,
    );
  }
  if ((text["cheff:report"] ?? null) !== (item.report ?? null)) throw otherRun();
  return {
    ...base,
    synthetic: text["cheff:synthetic"] === "true",
    models: parseJson(text["cheff:models"], {}),
    history: parseJson(text["cheff:history"], []),
  };
}

function parseJson<T>(text: string | undefined, fallback: T): T {
  if (text === undefined) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/**
 * Rewrites a batch's history for one of its images: the seed becomes the
 * image's own and the read step names only its input, as a run of that image
 * alone records them.
 */
function itemHistory(history: HistoryEntry[], item: Item): HistoryEntry[] {
  return history.map((entry) => {
    if (entry.command === "read" && item.input !== undefined) return { ...entry, inputs: [basename(item.input)] };
    let rewritten = entry;
    if (Array.isArray(entry.reports) && item.report !== undefined) rewritten = { ...rewritten, reports: [item.report] };
    if ("seed" in rewritten) rewritten = { ...rewritten, seed: item.seed };
    return rewritten;
  });
}

/** Sends one batch through the stage chain. */
async function runBatch(pipeline: Pipeline, batch: Item[], context: RunContext): Promise<Stream> {
  let stream: Stream | undefined;
  if (batch[0].input !== undefined) {
    const [plugin] = pipeline.plugins;
    const [stage] = pipeline.stages;
    const settings = { ...stage.settings, model: stage.model };
    const { size, channels } = plugin.inputSize
      ? await plugin.inputSize(stage.kind, settings, context)
      : { size: 256, channels: 3 as const };
    stream = await readImageInputs(batch.map((item) => item.input!), { size, channels });
  }
  for (const [i, stage] of pipeline.stages.entries()) {
    const plugin = pipeline.plugins[i];
    const settings: Record<string, unknown> = { ...stage.settings };
    if (stage.model) settings.model = stage.model;
    const seeded = stage.plugin === "latent-diffusion" || stage.plugin === "super-resolution" ||
      !BUILTIN_PLUGINS.includes(stage.plugin);
    if (seeded) settings.seed = batch[0].seed;
    if (stage.input === undefined) settings.count = batch.length;
    if (i === pipeline.diffusionStage) {
      if (pipeline.reports) {
        const reports = batch.map((item) => item.report!);
        settings.report = reports.every((r) => r === reports[0]) ? reports[0] : reports;
      }
      if (pipeline.mask) settings.mask = pipeline.mask;
    }
    stream = await plugin.run(stage.kind, stream, settings, context);
  }
  if (!stream || stream.kind !== "image") throw new CheffError(`${pipeline.path}: the pipeline did not produce images`);
  if (stream.tensor.shape[0] !== batch.length) {
    throw new CheffError(`${pipeline.path}: a batch of ${batch.length} items gave ${stream.tensor.shape[0]} images`);
  }
  return stream;
}

/** Reads every manifest*.json in the folder (the unsharded run's and each shard's) by file name. */
function readPreviousManifests(dir: string): Map<string, ManifestEntry> {
  const entries = new Map<string, ManifestEntry>();
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.isFile || !/^manifest.*\.json$/.test(entry.name)) continue;
    try {
      const files = JSON.parse(Deno.readTextFileSync(join(dir, entry.name))).files as ManifestEntry[];
      for (const file of files) entries.set(file.file, file);
    } catch {
      // An unreadable manifest is rewritten from the images at the end of the run.
    }
  }
  return entries;
}

function csvField(value: unknown): string {
  let text = "";
  if (typeof value === "string") text = value;
  else if (value !== null && value !== undefined) text = JSON.stringify(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Writes the manifest as JSON and as CSV with one `model:<stage>` column per stage's model hash. */
async function writeManifest(entries: ManifestEntry[], jsonPath: string, csvPath: string): Promise<void> {
  const sorted = [...entries].sort((a, b) => a.index - b.index);
  const json = JSON.stringify({ cheff: 1, files: sorted }, null, 2) + "\n";
  const stageNames = [...new Set(sorted.flatMap((e) => Object.keys(e.models)))].sort();
  const header = ["file", "index", "seed", "report", "input", "synthetic", ...stageNames.map((s) => `model:${s}`)];
  const rows = sorted.map((e) =>
    [e.file, e.index, e.seed, e.report, e.input, e.synthetic, ...stageNames.map((s) => e.models[s] ?? null)]
      .map(csvField)
      .join(",")
  );
  const csv = [header.map(csvField).join(","), ...rows].join("\n") + "\n";
  await writeFileAtomic(jsonPath, new TextEncoder().encode(json), { overwrite: true });
  await writeFileAtomic(csvPath, new TextEncoder().encode(csv), { overwrite: true });
}
