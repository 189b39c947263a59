/**
 * Runs a generation pipeline: the items of the run (images, one per seed, per
 * report line or per input image), split into contiguous shards and batches,
 * each batch sent through the declared stage chain, each image written with its
 * provenance, and a manifest (JSON and CSV) listing every file.
 *
 * Item i of a run always gets seed `seed + i` and file `PREFIX<i>`, so batch
 * size and sharding change neither which image gets which seed nor its name;
 * shards 0…n−1 together give exactly the images of the unsharded run. Items
 * whose file already exists are skipped, so an interrupted run resumes.
 */
import { basename, join } from "node:path";
import { CheffError } from "../io/errors.ts";
import { checkWritable, writeFileAtomic } from "../io/files.ts";
import type { Stream } from "../io/stream.ts";
import { readImageInputs, writeImageOutputs } from "../io/image/streams.ts";
import type { RunContext } from "./context.ts";
import type { Pipeline } from "./pipeline.ts";

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
  models: Record<string, string>;
  steps: Record<string, unknown>[];
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

/** The run's items in order: per input image or report line, `count` each; otherwise `count` in all. */
export function planItems(pipeline: Pipeline): Item[] {
  const { prefix, format } = pipeline.output;
  const extension = format === "dicom" ? "dcm" : "png";
  const groups: { report?: string; input?: string }[] = pipeline.inputs.length > 0
    ? pipeline.inputs.map((input) => ({ input }))
    : pipeline.reports
    ? pipeline.reports.map((report) => ({ report }))
    : [{}];
  const items: Item[] = [];
  for (const group of groups) {
    for (let c = 0; c < pipeline.count; c++) {
      const index = items.length;
      items.push({
        index,
        seed: pipeline.seed + index,
        ...group,
        file: `${prefix}${String(index).padStart(5, "0")}.${extension}`,
      });
    }
  }
  return items;
}

/** The contiguous block of items that shard i of n runs. */
export function shardItems(items: Item[], shard: Shard | undefined): Item[] {
  if (!shard) return items;
  const start = Math.floor((shard.index * items.length) / shard.count);
  const end = Math.floor(((shard.index + 1) * items.length) / shard.count);
  return items.slice(start, end);
}

/** Splits items into batches of consecutive indices sharing one report and input kind. */
export function batchItems(items: Item[], batchSize: number): Item[][] {
  const batches: Item[][] = [];
  for (const item of items) {
    const last = batches.at(-1);
    const previous = last?.at(-1);
    if (last && previous && last.length < batchSize && previous.index + 1 === item.index && previous.report === item.report) {
      last.push(item);
    } else {
      batches.push([item]);
    }
  }
  return batches;
}

export interface GenerateOptions {
  shard?: Shard;
  overwrite?: boolean;
  /** Called after each batch with the files written so far and in all. */
  onBatch?: (done: number, total: number) => void;
}

/** Runs the pipeline and returns the manifest entries of this run (shard). */
export async function runGeneration(pipeline: Pipeline, context: RunContext, options: GenerateOptions = {}): Promise<ManifestEntry[]> {
  const dir = pipeline.output.dir;
  await Deno.mkdir(dir, { recursive: true }).catch((error) => {
    throw new CheffError(`${dir}: output folder cannot be created (${(error as Error).message})`);
  });
  const suffix = options.shard ? `-shard-${options.shard.index}-of-${options.shard.count}` : "";
  const manifestJson = join(dir, `manifest${suffix}.json`);
  const manifestCsv = join(dir, `manifest${suffix}.csv`);
  const previous = readPreviousManifest(manifestJson);

  const items = shardItems(planItems(pipeline), options.shard);
  const todo = items.filter((item) => options.overwrite || !exists(join(dir, item.file)));
  if (!options.overwrite) {
    for (const item of todo) checkWritable(join(dir, item.file));
  }
  const entries = new Map<string, ManifestEntry>();
  for (const item of items) {
    const old = previous.get(item.file);
    if (old && !todo.includes(item)) entries.set(item.file, old);
  }

  let done = items.length - todo.length;
  for (const batch of batchItems(todo, pipeline.batchSize)) {
    const result = await runBatch(pipeline, batch, context);
    const itemLength = result.tensor.data.length / batch.length;
    for (const [j, item] of batch.entries()) {
      const single: Stream = {
        ...result,
        tensor: { shape: [1, ...result.tensor.shape.slice(1)], data: result.tensor.data.subarray(j * itemLength, (j + 1) * itemLength) },
        history: result.history.map((h) => ("seed" in h ? { ...h, seed: item.seed, count: 1 } : h)),
      };
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
        steps: single.history,
      });
    }
    done += batch.length;
    options.onBatch?.(done, items.length);
    await writeManifest([...entries.values()], manifestJson, manifestCsv);
  }
  const all = [...entries.values()].sort((a, b) => a.index - b.index);
  await writeManifest(all, manifestJson, manifestCsv);
  return all;
}

/** Sends one batch through the stage chain. */
async function runBatch(pipeline: Pipeline, batch: Item[], context: RunContext): Promise<Stream> {
  let stream: Stream | undefined;
  if (batch[0].input !== undefined) {
    const first = pipeline.plugins[0];
    const stage = pipeline.stages[0];
    const settings = { ...stage.settings, model: stage.model };
    const { size, channels } = first.inputSize
      ? await first.inputSize(stage.kind, settings, context)
      : { size: 256, channels: 3 as const };
    stream = await readImageInputs(batch.map((item) => item.input!), { size, channels });
  }
  for (const [i, stage] of pipeline.stages.entries()) {
    const plugin = pipeline.plugins[i];
    const settings: Record<string, unknown> = { ...stage.settings };
    if (stage.model) settings.model = stage.model;
    if (plugin.kinds[stage.kind].takes.length === 0 || plugin.kinds[stage.kind].inputOptional) {
      settings.seed = batch[0].seed;
      settings.count = batch.length;
    } else if ("seed" in stage.settings || plugin.name === "super-resolution") {
      settings.seed = batch[0].seed;
    }
    if (batch[0].report !== undefined && settings.report === undefined) settings.report = batch[0].report;
    if (pipeline.mask && settings.mask === undefined && plugin.name === "latent-diffusion") settings.mask = pipeline.mask;
    stream = await plugin.run(stage.kind, stream, settings, context);
  }
  if (!stream || stream.kind !== "image") throw new CheffError(`${pipeline.path}: the pipeline did not produce images`);
  if (stream.tensor.shape[0] !== batch.length) {
    throw new CheffError(`${pipeline.path}: a batch of ${batch.length} items gave ${stream.tensor.shape[0]} images`);
  }
  return stream;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function readPreviousManifest(path: string): Map<string, ManifestEntry> {
  try {
    const entries = JSON.parse(Deno.readTextFileSync(path)).files as ManifestEntry[];
    return new Map(entries.map((e) => [e.file, e]));
  } catch {
    return new Map();
  }
}

function csvField(value: unknown): string {
  const text = value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

async function writeManifest(entries: ManifestEntry[], jsonPath: string, csvPath: string): Promise<void> {
  const sorted = [...entries].sort((a, b) => a.index - b.index);
  const json = JSON.stringify({ cheff: 1, synthetic: true, files: sorted }, null, 2) + "\n";
  const header = ["file", "index", "seed", "report", "input", "synthetic", "models"];
  const rows = sorted.map((e) => [e.file, e.index, e.seed, e.report, e.input, e.synthetic, e.models].map(csvField).join(","));
  const csv = [header.join(","), ...rows].join("\n") + "\n";
  await writeFileAtomic(jsonPath, new TextEncoder().encode(json), { overwrite: true });
  await writeFileAtomic(csvPath, new TextEncoder().encode(csv), { overwrite: true });
}
