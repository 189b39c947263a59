/**
 * Training data from a MaCheX `index.json` (`{id: {path, key, report?,
 * class_label?}}`, paths relative to the index's folder). Each epoch has a fixed
 * order of samples, shuffled with the run's seed. Batches are decoded and
 * resized on the host one batch ahead of the step that uses them.
 *
 * Entries that `cheff index` marked `"synthetic": true` (PNGs that cheff
 * generated) are kept, with one warning naming how many there are.
 *
 * The position in the data is one integer, the number of samples handed out so
 * far, so a resumed run continues with exactly the samples the interrupted run
 * would have seen next.
 */
import { dirname, isAbsolute, join, resolve } from "node:path";
import { CheffError } from "../io/errors.ts";
import { imageToModelInput, loadImage } from "../io/image/load.ts";
import { type IndexEntry, readIndex } from "../prepare/index_file.ts";
import { syntheticWarning } from "../prepare/synthetic.ts";
import { mulberry32 } from "./random.ts";

export interface DataSettings {
  /** Path of the index.json. */
  index: string;
  /** Side of the square model input (shorter side resized, centre cropped). */
  size: number;
  channels: 1 | 3;
  batchSize: number;
  seed: number;
  /** Mirror each sample left–right with probability ½ (a deterministic coin per sample); off by default. */
  flip?: boolean;
  /** A text file of image paths (one per line) to leave out, matched against the end of each entry's path. */
  exclude?: string;
  /** Keep only entries with a report (report-conditioned training). */
  requireReports?: boolean;
  /** Receives warnings about the data; by default they go to stderr. */
  warn?: (message: string) => void;
}

export interface Sample {
  id: string;
  path: string;
  report?: string;
}

export interface Batch {
  /** Samples handed out before this batch (the data position it starts at). */
  position: number;
  samples: Sample[];
  /** [N, channels, size, size] in [-1, 1]. */
  images: Float32Array;
  shape: [number, number, number, number];
}

/** Uniforms in [0, 1) from mulberry32 for the shuffles and flips; not for noise, which comes from Philox. */
function uniforms(seed: number): () => number {
  const bits = mulberry32(seed);
  return () => bits() / 2 ** 32;
}

/** Returns the order of `count` samples in `epoch`: a Fisher–Yates shuffle seeded by (seed, epoch). */
export function epochOrder(count: number, seed: number, epoch: number): Uint32Array {
  const random = uniforms((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

export class TrainingData {
  #orders = new Map<number, Uint32Array>();
  #pending: { position: number; batch: Promise<Batch> } | undefined;

  private constructor(readonly settings: DataSettings, readonly samples: Sample[]) {}

  /** Reads the index (and the exclusion list) and checks that at least one sample remains. */
  static async open(settings: DataSettings): Promise<TrainingData> {
    const index = await readIndex(settings.index);
    const root = dirname(resolve(settings.index));
    let excluded: string[] = [];
    if (settings.exclude) {
      let text: string;
      try {
        text = await Deno.readTextFile(settings.exclude);
      } catch (error) {
        throw new CheffError(
          `${settings.exclude}: cannot read the exclusion list (${(error as Error).message})`,
        );
      }
      excluded = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line.length > 0);
    }
    const samples: Sample[] = [];
    const synthetic: string[] = [];
    // Ids sort numerically: a 7-digit id follows every 6-digit one.
    const ids = Object.keys(index).sort((a, b) => {
      if (a.length !== b.length) return a.length - b.length;
      return a < b ? -1 : a > b ? 1 : 0;
    });
    for (const id of ids) {
      const entry: IndexEntry = index[id];
      const path = isAbsolute(entry.path) ? entry.path : join(root, entry.path);
      if (excluded.some((suffix) => path === suffix || path.endsWith(`/${suffix}`))) continue;
      if (settings.requireReports && !entry.report) continue;
      samples.push({ id, path, report: entry.report });
      if (entry.synthetic === true) synthetic.push(path);
    }
    if (samples.length === 0) {
      throw new CheffError(
        `${settings.index}: no training samples left (after exclusions and the report requirement)`,
      );
    }
    // NOTE: only the index's record is checked; PNGs are not reread here, so an
    // index written by hand or before `cheff index` recorded the flag passes silently.
    if (synthetic.length > 0) {
      const warn = settings.warn ?? ((message: string) => console.error(`cheff: warning: ${message}`));
      warn(syntheticWarning(settings.index, synthetic, samples.length));
    }
    return new TrainingData(settings, samples);
  }

  /** Returns the sample at data position `position` (epochs follow each other, each in its own shuffled order). */
  sampleAt(position: number): Sample {
    const count = this.samples.length;
    const epoch = Math.floor(position / count);
    let order = this.#orders.get(epoch);
    if (!order) {
      order = epochOrder(count, this.settings.seed, epoch);
      this.#orders.clear();
      this.#orders.set(epoch, order);
    }
    return this.samples[order[position % count]];
  }

  /**
   * Returns the batch starting at `position` and starts decoding the one after
   * it, so the host prepares images while the device runs the step.
   */
  async batch(position: number): Promise<Batch> {
    const pending = this.#pending?.position === position ? this.#pending.batch : this.load(position);
    const next = position + this.settings.batchSize;
    this.#pending = { position: next, batch: this.load(next) };
    // A failure of the read-ahead surfaces when that batch is requested.
    this.#pending.batch.catch(() => {});
    return await pending;
  }

  private async load(position: number): Promise<Batch> {
    const { size, channels, batchSize } = this.settings;
    const item = channels * size * size;
    const images = new Float32Array(batchSize * item);
    const samples: Sample[] = [];
    for (let i = 0; i < batchSize; i++) {
      const sample = this.sampleAt(position + i);
      samples.push(sample);
      const input = imageToModelInput(await loadImage(sample.path), size, channels);
      if (this.settings.flip && flipCoin(this.settings.seed, position + i)) mirror(input, channels, size);
      images.set(input, i * item);
    }
    return { position, samples, images, shape: [batchSize, channels, size, size] };
  }
}

function flipCoin(seed: number, position: number): boolean {
  return uniforms((Math.imul(seed >>> 0, 0x27d4eb2f) ^ position) >>> 0)() < 0.5;
}

/** Mirrors each [size, size] plane left–right in place. */
function mirror(input: Float32Array, channels: number, size: number): void {
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < size; y++) {
      const row = (c * size + y) * size;
      input.subarray(row, row + size).reverse();
    }
  }
}
