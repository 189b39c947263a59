/**
 * The preparation runner: for each configured dataset, gets from its adapter the
 * plan (the selected images in metadata order), gives the image at plan
 * position p the id formatId(p), converts it (shortest side resized to `size`,
 * centre-cropped, 8-bit grayscale JPEG at `quality`) into `<output>/<name>/`,
 * and writes the index.
 *
 * - Resume: an image whose JPEG already exists is not converted again (JPEGs are
 *   written through a temporary file and a rename, so an existing one is whole);
 *   the index is rebuilt from the plan at the end of each run.
 * - Unreadable images are skipped: stderr and skipped.log name the id, key and
 *   reason, and the id is absent from the index (ids are never renumbered, so
 *   file names and ids stay in step).
 * - `prepare.json` in the output folder records the settings; a rerun with
 *   different settings is rejected unless overwriting was requested or no
 *   image was converted yet. The folder and `prepare.json` are written only
 *   once the plan is made, so a run that fails on its metadata leaves nothing.
 */
import { join } from "node:path";
import { CheffError } from "../io/errors.ts";
import { writeFileAtomic } from "../io/files.ts";
import { listFiles } from "./adapters/common.ts";
import type { Plan, PlannedImage } from "./adapters/types.ts";
import type { DatasetConfig, PrepareConfig } from "./config.ts";
import { defaultCodec, type ImageCodec } from "./codec.ts";
import { formatId, imagePathFor, type Index, writeIndex } from "./index_file.ts";
import { withOutputFolder } from "../io/output_folder.ts";
import { runPool } from "./pool.ts";
import { indexFileName, inShard, mergeShards, type Shard, skippedLogName } from "./shard.ts";

export interface PrepareOptions {
  /** Prepare only the dataset of this config name. */
  only?: string;
  shard?: Shard;
  /** Images converted concurrently. */
  workers?: number;
  /** Merge finished shard indexes instead of preparing. */
  merge?: boolean;
  /** Convert images again even when their JPEG exists, and accept changed settings. */
  overwrite?: boolean;
  quiet?: boolean;
  codec?: ImageCodec;
  /**
   * Stops after this many images were written in the run, without writing the
   * index, as a killed run would (for testing resume).
   */
  stopAfter?: number;
}

export interface DatasetSummary {
  name: string;
  /** Images in the plan (all shards). */
  planned: number;
  /** Entries written to this run's index file. */
  indexed: number;
  /** Images converted in this run. */
  written: number;
  /** Images listed in this run's skipped.log: dropped while planning (e.g. file not found) or unreadable. */
  skipped: number;
  /** True when the run stopped early (stopAfter). */
  interrupted: boolean;
}

/** Runs preparation (or the shard merge) for the configured datasets. */
export async function prepare(
  config: PrepareConfig,
  options: PrepareOptions = {},
): Promise<DatasetSummary[]> {
  const datasets = config.datasets.filter((dataset) =>
    options.only === undefined || dataset.name === options.only
  );
  if (datasets.length === 0) {
    const names = config.datasets.map((dataset) => dataset.name).join(", ");
    throw new CheffError(
      `--only: no dataset named '${options.only}' in the config, expected one of ${names}`,
    );
  }
  const log = (message: string) => {
    if (!options.quiet) console.error(message);
  };

  const summaries: DatasetSummary[] = [];
  if (options.merge) {
    for (const dataset of datasets) {
      const count = await mergeShards(join(config.output, dataset.name));
      log(`${dataset.name}: merged shards into index.json (${count} images)`);
      summaries.push({
        name: dataset.name,
        planned: count,
        indexed: count,
        written: 0,
        skipped: 0,
        interrupted: false,
      });
    }
    return summaries;
  }

  const codec = options.codec ?? defaultCodec;
  for (const dataset of datasets) {
    const summary = await prepareDataset(config, dataset, codec, options, log);
    summaries.push(summary);
    if (summary.interrupted) break;
  }
  return summaries;
}

async function prepareDataset(
  config: PrepareConfig,
  dataset: DatasetConfig,
  codec: ImageCodec,
  options: PrepareOptions,
  log: (message: string) => void,
): Promise<DatasetSummary> {
  const folder = join(config.output, dataset.name);
  const settings = settingsText(config, dataset);
  await checkSettings(folder, settings, options.overwrite ?? false, log);

  log(`${dataset.name}: reading ${dataset.adapter.title} metadata in ${dataset.root}`);
  const plan = await dataset.adapter.plan({
    root: dataset.root,
    options: dataset.options,
    frontalOnly: dataset.frontalOnly,
    note: (message) => log(`${dataset.name}: ${message}`),
  });
  const images = dropDuplicateKeys(plan, log, dataset.name);

  const skipLines = (plan.skipped ?? []).map(({ key, reason }) => `-\t${key}\t${reason}`);
  for (const line of skipLines) log(`${dataset.name}: skipped ${line.replaceAll("\t", " ")}`);
  const positions = images.map((_, position) => position).filter((position) =>
    inShard(position, options.shard)
  );
  const shardText = options.shard ? ` (shard ${options.shard.index}/${options.shard.count})` : "";
  log(`${dataset.name}: ${images.length} images selected, ${positions.length} in this run${shardText}`);

  return await withOutputFolder(folder, async () => {
    await writeFileAtomic(join(folder, "prepare.json"), new TextEncoder().encode(settings), { overwrite: true });
    return await convertPlan(config, dataset, codec, options, log, { folder, plan, images, positions, skipLines });
  });
}

/** Converts the planned images of this run into `folder` and writes its index, skipped.log and classes.json. */
async function convertPlan(
  config: PrepareConfig,
  dataset: DatasetConfig,
  codec: ImageCodec,
  options: PrepareOptions,
  log: (message: string) => void,
  { folder, plan, images, positions, skipLines }: {
    folder: string;
    plan: Plan;
    images: PlannedImage[];
    positions: number[];
    skipLines: string[];
  },
): Promise<DatasetSummary> {
  let written = 0;
  const done = new Set<number>();
  const stopped = () => options.stopAfter !== undefined && written >= options.stopAfter;
  await runPool(positions, options.workers ?? 1, async (position) => {
    const id = formatId(position);
    const target = join(folder, imagePathFor(id));
    if (!options.overwrite && fileExists(target)) {
      done.add(position);
      return;
    }
    const image = images[position];
    try {
      await convert(codec, image.source, target, config);
      done.add(position);
      written++;
      if (written % 1000 === 0) log(`${dataset.name}: ${written} images written`);
    } catch (error) {
      const reason = oneLine(error, image.source);
      skipLines.push(`${id}\t${image.key}\t${reason}`);
      log(`${dataset.name}: skipped ${id} ${image.key}: ${reason}`);
    }
  }, stopped);

  // The summary counts the lines of skipped.log, so plan skips are counted with the unreadable images.
  const uniqueSkipLines = [...new Set(skipLines)].sort();
  const skipped = uniqueSkipLines.length;
  if (stopped()) {
    log(`${dataset.name}: stopped after ${written} images; rerun to continue`);
    return { name: dataset.name, planned: images.length, indexed: 0, written, skipped, interrupted: true };
  }

  const index: Index = {};
  for (const position of positions) {
    if (!done.has(position)) continue;
    const id = formatId(position);
    index[id] = entryFor(images[position], id);
  }
  await writeIndex(join(folder, indexFileName(options.shard)), index, true);
  const logText = skipped > 0 ? uniqueSkipLines.join("\n") + "\n" : "";
  await writeFileAtomic(join(folder, skippedLogName(options.shard)), new TextEncoder().encode(logText), {
    overwrite: true,
  });
  if (plan.classNames !== undefined) {
    const classes = JSON.stringify(plan.classNames, null, 2) + "\n";
    await writeFileAtomic(join(folder, "classes.json"), new TextEncoder().encode(classes), {
      overwrite: true,
    });
  }

  const indexed = Object.keys(index).length;
  const skippedText = skipped > 0 ? `${skipped} skipped (listed in ${skippedLogName(options.shard)})` : "0 skipped";
  log(`${dataset.name}: ${indexed} images indexed, ${written} written in this run, ${skippedText}`);
  return { name: dataset.name, planned: images.length, indexed, written, skipped, interrupted: false };
}

/** Builds an index entry: only the path, the dataset's key and the adapter's report and labels. */
function entryFor(image: PlannedImage, id: string) {
  return {
    path: imagePathFor(id),
    key: image.key,
    ...(image.report !== undefined ? { report: image.report } : {}),
    ...(image.class_label !== undefined ? { class_label: image.class_label } : {}),
  };
}

async function convert(
  codec: ImageCodec,
  source: string,
  target: string,
  config: PrepareConfig,
): Promise<void> {
  const image = await codec.load(source);
  const square = codec.resizeAndCrop(image, config.size);
  const bytes = codec.encode(square, config.quality);
  await Deno.mkdir(join(target, ".."), { recursive: true });
  await writeFileAtomic(target, bytes, { overwrite: true });
}

/** Keeps the first image of each key: a key listed twice in the metadata would otherwise be prepared twice. */
function dropDuplicateKeys(plan: Plan, log: (message: string) => void, name: string): PlannedImage[] {
  const seen = new Set<string>();
  const images = plan.images.filter((image) => {
    if (seen.has(image.key)) return false;
    seen.add(image.key);
    return true;
  });
  if (images.length < plan.images.length) {
    log(`${name}: ${plan.images.length - images.length} repeated keys in the metadata were prepared once`);
  }
  return images;
}

/** Formats the settings that decide an output image, as prepare.json records them. */
function settingsText(config: PrepareConfig, dataset: DatasetConfig): string {
  const settings = {
    cheff: 1,
    adapter: dataset.adapter.name,
    root: dataset.root,
    size: config.size,
    quality: config.quality,
    frontal_only: dataset.frontalOnly,
    options: dataset.options,
  };
  return JSON.stringify(settings, null, 2) + "\n";
}

/**
 * Checks that a resumed run has the settings of the images already converted:
 * a different prepare.json is rejected unless `overwrite` is set or the folder
 * contains no converted image yet.
 */
async function checkSettings(
  folder: string,
  settings: string,
  overwrite: boolean,
  log: (message: string) => void,
): Promise<void> {
  const path = join(folder, "prepare.json");
  let previous: string | undefined;
  try {
    previous = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (previous === undefined || previous === settings || overwrite) return;
  if (listFiles(folder, [".jpg"]).length === 0) {
    log(`${path}: records other settings, but no image was converted yet; replacing it`);
    return;
  }
  throw new CheffError(
    `${path}: ${folder} was prepared with other settings; pass --overwrite to convert it again, or choose another output`,
  );
}

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function oneLine(error: unknown, source: string): string {
  if (error instanceof Deno.errors.NotFound) return `file not found: ${source}`;
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0].replaceAll("\t", " ");
}
