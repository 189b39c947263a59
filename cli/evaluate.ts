/**
 * `cheff evaluate`: reconstruction metrics (MSE, PSNR, SSIM, MS-SSIM) over paired
 * images or over a model's reconstructions, synthesis metrics (FID, KID) over
 * feature files or features computed from images, and a memorisation check.
 * Networks run on the GPU; every metric is computed in float64 on the CPU by metrics/.
 */
import { existsSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { CheffError } from "../io/errors.ts";
import { readInput, writeFileAtomic, checkWritable } from "../io/files.ts";
import { parseSafetensors, serializeSafetensors } from "../io/safetensors.ts";
import { loadImage } from "../io/image/load.ts";
import { resizeShortSideAndCenterCrop } from "../io/image/resize.ts";
import {
  choiceOption,
  type Command,
  COMMON_HELP,
  intOption,
  numberOption,
  type Parsed,
  parseOptions,
  stringOption,
} from "./command.ts";
import { mse, msSsim, msSsimSupported, psnrFromMse, ssim, minimumMsSsimSide } from "../metrics/image.ts";
import { drawKidSubsets, type Features, fidDetails, type FidFallback, kid, kidSubsets } from "../metrics/distribution.ts";
import { formatTable, histogramPanelsSvg, histogramSvg, summarize, type Summary, toJson } from "../metrics/report.ts";
import { nearestByDistance, nearestBySsim } from "../metrics/memorisation.ts";
import { PAPER_RECONSTRUCTION } from "../metrics/paper.ts";
import { continueStream, type HistoryEntry, type Stream, writeStream } from "../io/stream.ts";
import { autoencoderFor, autoencoderPlugin } from "../plugins/autoencoder.ts";
import type { RunContext } from "../plugins/context.ts";
import { superResolutionPlugin } from "../plugins/super_resolution.ts";
import { downsamplingFactor } from "../stages/autoencoder/config.ts";
import { Tensor } from "../gpu/tensor.ts";
import { resizeBicubic } from "../kernels/resize.ts";
import { autoencoderFeatureSpace, type FeatureSpace, inceptionFeatureSpace } from "../stages/features.ts";
import { loadInception } from "../stages/inception/load.ts";
import { findSyntheticImages, syntheticWarning } from "../prepare/synthetic.ts";
import { warn } from "./common.ts";
import { cliContext } from "./run_context.ts";

/** A single-channel image with values in [0, 1]. */
export interface EvaluatedImage {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

/** Two images to compare, under the name that matched them. */
export interface ImagePair {
  name: string;
  real: EvaluatedImage;
  fake: EvaluatedImage;
}

/** Per-image paired metrics; `msSsim` is null when the image is too small for 5 scales. */
export interface PairedMetrics {
  name: string;
  width: number;
  height: number;
  mse: number;
  psnr: number;
  ssim: number;
  msSsim: number | null;
}

export interface PairedReport {
  images: PairedMetrics[];
  summary: { mse: Summary; psnr: Summary; ssim: Summary; msSsim: Summary };
}

const PAIRED_METRICS = ["mse", "psnr", "ssim", "ms-ssim"] as const;
type PairedMetricName = (typeof PAIRED_METRICS)[number];

const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg", ".dcm", ".dicom"]);

const CONVENTIONS = {
  mse: "mean of (real − fake)² per image, values in [0, 1]",
  psnr: "10·log10(1/MSE) per image (peak 1), averaged over images; identical images give +inf",
  ssim: "Gaussian 11×11 window, σ 1.5, population variances, K1 0.01, K2 0.03, L 1, mean over valid positions",
  msSsim: "5 scales, weights 0.0448 0.2856 0.3001 0.2363 0.1333, 2×2 mean pooling, odd sides repeat the last row or column",
};

/**
 * Computes MSE, PSNR, SSIM and MS-SSIM for each pair, in the order given, and
 * summarises them. Pairs of different sizes are an error. MS-SSIM is null for an
 * image with a side under 161 px. `onProgress` is called after each pair.
 *
 * This is the per-image loop behind `cheff evaluate images`. Other commands that
 * produce the fake images themselves (an autoencoder round trip, say) pass their
 * own pairs.
 */
export async function evaluatePairs(
  pairs: Iterable<ImagePair> | AsyncIterable<ImagePair>,
  onProgress?: (done: number, name: string) => void,
): Promise<PairedReport> {
  const images: PairedMetrics[] = [];
  for await (const { name, real, fake } of pairs) {
    if (real.width !== fake.width || real.height !== fake.height) {
      throw new CheffError(
        `${name}: real image is ${real.width}×${real.height} but fake image is ${fake.width}×${fake.height}; pass --size N to resize both`,
      );
    }
    const size = { width: real.width, height: real.height };
    const meanSquaredError = mse(real.data, fake.data);
    images.push({
      name,
      width: real.width,
      height: real.height,
      mse: meanSquaredError,
      psnr: psnrFromMse(meanSquaredError),
      ssim: ssim(real.data, fake.data, size),
      msSsim: msSsimSupported(size) ? msSsim(real.data, fake.data, size) : null,
    });
    onProgress?.(images.length, name);
  }
  return {
    images,
    summary: {
      mse: summarize(images.map((row) => row.mse)),
      psnr: summarize(images.map((row) => row.psnr)),
      ssim: summarize(images.map((row) => row.ssim)),
      msSsim: summarize(images.map((row) => row.msSsim ?? NaN)),
    },
  };
}

/** One image of a source: the name it is matched by and its path. */
export interface ImageEntry {
  name: string;
  path: string;
}

/**
 * Lists the images of a folder or of a MaCheX `index.json`, sorted by name. A
 * folder's PNG, JPEG and DICOM files are named by their file name without its
 * extension. An index is a JSON object mapping ids to `{path, ...}`, with paths
 * relative to the index's folder, and its images are named by their ids.
 */
export async function listImageSource(source: string): Promise<ImageEntry[]> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(source);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new CheffError(`${source}: folder or index file not found`);
    throw new CheffError(`${source}: cannot be read (${(error as Error).message})`);
  }
  const entries = stat.isDirectory ? await listFolder(source) : await listIndex(source);
  if (entries.length === 0) {
    throw new CheffError(
      stat.isDirectory
        ? `${source}: no images found (expected .png, .jpg, .jpeg or .dcm files)`
        : `${source}: the index lists no images`,
    );
  }
  return entries.sort((a, b) => compareNames(a.name, b.name));
}

/** Orders names by UTF-16 code units, as a plain sort does, not by locale. */
function compareNames(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

/** Pairs two image lists by name; a name present on one side only is an error. */
export function matchByName(real: ImageEntry[], fake: ImageEntry[], realSource: string, fakeSource: string): [ImageEntry, ImageEntry][] {
  const fakeByName = new Map(fake.map((entry) => [entry.name, entry]));
  const realNames = new Set(real.map((entry) => entry.name));
  const missingInFake = real.find((entry) => !fakeByName.has(entry.name));
  const missingInReal = fake.find((entry) => !realNames.has(entry.name));
  if (missingInFake || missingInReal) {
    const detail = missingInFake
      ? `'${missingInFake.name}' of ${realSource} has no match in ${fakeSource}`
      : `'${missingInReal!.name}' of ${fakeSource} has no match in ${realSource}`;
    throw new CheffError(
      `image sets differ: ${realSource} has ${real.length} images, ${fakeSource} has ${fake.length}; ${detail} (images are matched by file name without extension)`,
    );
  }
  return real.map((entry) => [entry, fakeByName.get(entry.name)!]);
}

async function listFolder(folder: string): Promise<ImageEntry[]> {
  const entries: ImageEntry[] = [];
  const seen = new Map<string, string>();
  for await (const item of Deno.readDir(folder)) {
    if (!item.isFile || !IMAGE_EXTENSIONS.has(extname(item.name).toLowerCase())) continue;
    const name = basename(item.name, extname(item.name));
    const earlier = seen.get(name);
    if (earlier) {
      throw new CheffError(`${folder}: '${earlier}' and '${item.name}' have the same name; keep one image per name`);
    }
    seen.set(name, item.name);
    entries.push({ name, path: join(folder, item.name) });
  }
  return entries;
}

async function listIndex(indexPath: string): Promise<ImageEntry[]> {
  const text = new TextDecoder().decode(await readInput(indexPath));
  let index: unknown;
  try {
    index = JSON.parse(text);
  } catch {
    throw new CheffError(`${indexPath}: not valid JSON; expected a folder of images or a MaCheX index.json`);
  }
  if (typeof index !== "object" || index === null || Array.isArray(index)) {
    throw new CheffError(`${indexPath}: expected a MaCheX index (a JSON object mapping ids to {"path": ...})`);
  }
  const folder = dirname(resolve(indexPath));
  return Object.entries(index as Record<string, unknown>).map(([id, item]) => {
    const path = (item as { path?: unknown } | null)?.path;
    if (typeof path !== "string" || path === "") {
      throw new CheffError(`${indexPath}: entry '${id}' has no "path" string`);
    }
    return { name: id, path: resolve(folder, path) };
  });
}

/** Warns on stderr when images of a real or training set are PNGs that cheff generated. */
async function warnIfSynthetic(source: string, entries: ImageEntry[]): Promise<void> {
  const synthetic = await findSyntheticImages(entries.map((entry) => entry.path));
  if (synthetic.length > 0) warn(syntheticWarning(source, synthetic, entries.length));
}

async function* loadPairs(
  matched: [ImageEntry, ImageEntry][],
  size: number | undefined,
): AsyncGenerator<ImagePair> {
  const prepare = async (entry: ImageEntry): Promise<EvaluatedImage> => {
    const image = await loadImage(entry.path);
    return size === undefined ? image : resizeShortSideAndCenterCrop(image, size);
  };
  for (const [realEntry, fakeEntry] of matched) {
    yield { name: realEntry.name, real: await prepare(realEntry), fake: await prepare(fakeEntry) };
  }
}

const IMAGES_HELP = `cheff evaluate images REAL FAKE [options]

Compares images pairwise: MSE, PSNR (peak 1, in dB), SSIM and MS-SSIM, per image
and averaged. REAL and FAKE are each a folder of images (PNG, JPEG, DICOM) or a
MaCheX index.json. Images are matched by file name without extension (by id in an
index); both sets must hold the same names. Images are read as grayscale in [0, 1].

Options:
  --size N            resize each image's short side to N px and crop the centre to N×N
                      (without it, paired images must already have the same size)
  --json FILE         also write every per-image value and the summary as JSON ("-": stdout)
  --plot FILE.svg     write a histogram of one per-image metric as an SVG file
  --plot-metric NAME  the metric --plot shows: psnr (default), ssim, ms-ssim or mse

SSIM uses an 11×11 Gaussian window (σ 1.5) with data range 1, the settings of
Wang et al. 2004. MS-SSIM uses 5 scales and needs sides of at least 161 px; it is
reported as "-" for smaller images. PSNR of identical images is inf.

Example:
  cheff evaluate images data/holdout reconstructions --size 256 --json metrics.json

${COMMON_HELP}`;

function distributionHelp(command: "features" | "fid" | "kid"): string {
  const metricNames = { features: "FID and KID", fid: "FID", kid: "KID" };
  const what = metricNames[command];
  return `cheff evaluate ${command} REAL FAKE [options]

Computes ${what} between two sets. REAL and FAKE are each a safetensors file with a
float tensor "features" of shape [N, D] (for example InceptionV3 pool features,
D = 2048), or a folder of images (PNG, JPEG, DICOM) or a MaCheX index.json, whose
features come from the feature space chosen below.

FID follows pytorch-fid: mean and covariance (divided by N − 1) per set, and the
square-root term with the ε = 1e-6 offset only where pytorch-fid retries with it
(some feature constant in the real set only and another in the fake set only).
KID is the unbiased MMD² with kernel (x·y/D + 1)³, over random subsets: the mean
and population standard deviation are reported. The subsets come from cheff's own
seeded generator, so they differ from torch-fidelity's numpy draws.

Options:
  --kid-subsets N       number of KID subsets (default 100)
  --kid-subset-size N   samples per subset (default min(1000, N_real, N_fake))
  --kid-full            also compute KID over all samples at once (cost grows with N²)
  --seed N              seed of the subset draw (default 2020)
  --fid-eps X           the ε of the FID fallback (default 1e-6)
  --fid-fallback MODE   auto (default: as pytorch-fid), always or never
  --save-features DIR   write the features computed from images to DIR/real.safetensors
                        and DIR/fake.safetensors, for reuse
  --json FILE           also write the results as JSON ("-": stdout)
  --plot FILE.svg       write a histogram of the KID subset values as an SVG file

${FEATURE_HELP}

Examples:
  cheff evaluate ${command} real_features.safetensors fake_features.safetensors --json result.json
  cheff evaluate ${command} data/holdout generated/ --features ae --autoencoder cheff_autoencoder.pt

${COMMON_HELP}`;
}

const EVALUATE_HELP = `cheff evaluate SUBCOMMAND ...

Measures reconstruction and synthesis quality. Networks run on the GPU; the
metrics are computed in float64 on the CPU.

Subcommands:
  images REAL FAKE               MSE, PSNR, SSIM, MS-SSIM over images paired by name
  reconstruct IMAGES             autoencoder (and SR, chain) reconstructions of a set, with
                                 the image metrics next to the Cheff paper's values
  features REAL FAKE             FID and KID between feature files or image sets
  fid REAL FAKE                  FID only
  kid REAL FAKE                  KID only
  memorisation GENERATED TRAINING  nearest training image of each generated image

Run cheff evaluate SUBCOMMAND --help for the options of each.

Examples:
  cheff evaluate images real/ fake/ --size 256
  cheff evaluate reconstruct data/holdout --autoencoder cheff_autoencoder.pt
  cheff evaluate fid data/holdout generated/ --features ae --autoencoder cheff_autoencoder.pt
  cheff evaluate memorisation generated/ data/train --autoencoder cheff_autoencoder.pt

${COMMON_HELP}`;

async function runImages(args: string[]): Promise<void> {
  const parsed = parseOptions("evaluate images", args, {
    size: { type: "string" },
    json: { type: "string" },
    plot: { type: "string" },
    "plot-metric": { type: "string" },
  }, 2);
  if (parsed.values.help) {
    console.log(IMAGES_HELP);
    return;
  }
  const [realSource, fakeSource] = requirePositionals(parsed, 2, "evaluate images", "REAL and FAKE (folders or index.json files)");
  const size = stringOption(parsed, "size") === undefined ? undefined : intOption(parsed, "size", 0, 1);
  const plotMetric = choiceOption<PairedMetricName>(parsed, "plot-metric", PAIRED_METRICS, "psnr");
  const outputs = outputOptions(parsed);

  const realEntries = await listImageSource(realSource);
  const matched = matchByName(realEntries, await listImageSource(fakeSource), realSource, fakeSource);
  await warnIfSynthetic(realSource, realEntries);
  const progressStep = Math.max(1, Math.floor(matched.length / 20));
  const report = await evaluatePairs(loadPairs(matched, size), (done, name) => {
    if (parsed.values.quiet || (done % progressStep !== 0 && done !== matched.length)) return;
    console.error(`evaluate: ${done}/${matched.length} ${name}`);
  });
  const tooSmall = report.images.filter((row) => row.msSsim === null).length;
  if (tooSmall > 0 && !parsed.values.quiet) {
    console.error(`evaluate: MS-SSIM skipped for ${tooSmall} images with a side under ${minimumMsSsimSide()} px`);
  }

  const summaryRows = ([["mse", report.summary.mse], ["psnr", report.summary.psnr], ["ssim", report.summary.ssim], [
    "ms_ssim",
    report.summary.msSsim,
  ]] as const).map(([name, s]) => [name, s.count, s.mean, s.std, s.min, s.max]);
  const table = formatTable(["metric", "images", "mean", "std", "min", "max"], summaryRows);
  const json = {
    command: "evaluate images",
    real: realSource,
    fake: fakeSource,
    size: size ?? null,
    conventions: CONVENTIONS,
    summary: report.summary,
    images: report.images,
  };
  const plotValues = report.images.map((row) => {
    const value = plotMetric === "ms-ssim" ? row.msSsim : row[plotMetric];
    return value ?? NaN;
  });
  await writeOutputs(outputs, table, json, () =>
    histogramSvg(plotValues, {
      title: `${plotMetric.toUpperCase()} per image: ${fakeSource} against ${realSource}`,
      xLabel: plotMetric === "psnr" ? "PSNR (dB)" : plotMetric.toUpperCase(),
      yLabel: "images",
    }));
}

async function runDistribution(command: "features" | "fid" | "kid", args: string[]): Promise<void> {
  const name = `evaluate ${command}`;
  const wantFid = command !== "kid";
  const wantKid = command !== "fid";
  const parsed = parseOptions(name, args, {
    ...FEATURE_OPTIONS,
    "save-features": { type: "string" },
    "kid-subsets": { type: "string" },
    "kid-subset-size": { type: "string" },
    "kid-full": { type: "boolean" },
    seed: { type: "string" },
    "fid-eps": { type: "string" },
    "fid-fallback": { type: "string" },
    json: { type: "string" },
    plot: { type: "string" },
  }, 2);
  if (parsed.values.help) {
    console.log(distributionHelp(command));
    return;
  }
  const [realPath, fakePath] = requirePositionals(parsed, 2, name, "REAL and FAKE (feature files, folders or index.json files)");
  const subsetCount = intOption(parsed, "kid-subsets", 100, 1);
  const seed = intOption(parsed, "seed", 2020, 0, 2 ** 32 - 1);
  const eps = numberOption(parsed, "fid-eps", 1e-6, 0);
  const fallback = choiceOption<FidFallback>(parsed, "fid-fallback", ["auto", "always", "never"], "auto");
  const outputs = outputOptions(parsed);
  if (!wantKid && outputs.plot !== undefined) {
    throw new CheffError(`${name}: --plot shows the KID subset values; use cheff evaluate kid or features for it`);
  }
  const log = (message: string) => {
    if (!parsed.values.quiet) console.error(`evaluate: ${message}`);
  };

  const realIsFile = await isFeatureFile(realPath);
  const fakeIsFile = await isFeatureFile(fakePath);
  let space: FeatureSpace | undefined;
  if (!realIsFile || !fakeIsFile) {
    space = await featureSpaceFrom(parsed, await evaluationContext(parsed.values.quiet === true), name);
    if (!space) {
      const folder = realIsFile ? fakePath : realPath;
      throw new CheffError(
        `${name}: ${folder} is not a feature file, so its images need a feature space: --features ae --autoencoder FILE, or --features inception --inception FILE`,
      );
    }
  }
  const load = async (path: string, isFile: boolean, role: string) => {
    if (isFile) return await readFeatures(path);
    const entries = await listImageSource(path);
    if (role === "real") await warnIfSynthetic(path, entries);
    log(`features (${space!.name}) of ${entries.length} ${role} images`);
    return await extractFeatures(entries, space!);
  };
  const real = await load(realPath, realIsFile, "real");
  const fake = await load(fakePath, fakeIsFile, "fake");
  const saveDir = stringOption(parsed, "save-features");
  if (saveDir !== undefined) {
    await Deno.mkdir(saveDir, { recursive: true });
    const metadata = space ? { "cheff.features": space.name, "cheff.model": space.sha256 } : undefined;
    for (const [role, set] of [["real", real], ["fake", fake]] as const) {
      const data = set.data instanceof Float32Array ? set.data : Float32Array.from(set.data);
      await writeFileAtomic(join(saveDir, `${role}.safetensors`), serializeSafetensors({ features: { shape: set.shape, data } }, metadata), {
        overwrite: outputs.overwrite,
      });
    }
  }
  if (real.shape[1] !== fake.shape[1]) {
    throw new CheffError(`feature sizes differ: ${realPath} has D = ${real.shape[1]}, ${fakePath} has D = ${fake.shape[1]}`);
  }
  const smallest = Math.min(real.shape[0], fake.shape[0]);
  const subsetSize = intOption(parsed, "kid-subset-size", Math.min(1000, smallest), 2, smallest);

  let fidResult: ReturnType<typeof fidDetails> | null = null;
  if (wantFid) {
    log(`FID on ${real.shape[0]} real and ${fake.shape[0]} fake samples of ${real.shape[1]} features`);
    if (real.shape[1] >= 1024) log(`FID with ${real.shape[1]} features takes up to a minute on the CPU`);
    fidResult = fidDetails(real, fake, { eps, fallback });
  }
  let kidResult: ReturnType<typeof kidSubsets> | null = null;
  let kidFull: number | null = null;
  if (wantKid) {
    log(`KID over ${subsetCount} subsets of ${subsetSize}`);
    const subsets = drawKidSubsets(fake.shape[0], real.shape[0], { subsets: subsetCount, subsetSize, seed });
    kidResult = kidSubsets(fake, real, subsets);
    kidFull = parsed.values["kid-full"] ? kid(fake, real) : null;
  }

  const rows: (string | number | null)[][] = [];
  if (fidResult) rows.push(["fid", fidResult.fid]);
  if (kidResult) rows.push(["kid_mean", kidResult.mean], ["kid_std", kidResult.std]);
  if (kidFull !== null) rows.push(["kid_full", kidFull]);
  if (fidResult) rows.push(["fid_eps_applied", fidResult.epsApplied ? "yes" : "no"]);
  const table = formatTable(["metric", "value"], rows);
  const describe = (path: string, isFile: boolean, samples: number) =>
    isFile ? { file: path, samples } : { images: path, samples };
  const json = {
    command: name,
    real: describe(realPath, realIsFile, real.shape[0]),
    fake: describe(fakePath, fakeIsFile, fake.shape[0]),
    features: real.shape[1],
    featureSpace: space ? { space: space.name, description: space.description, model: space.sha256 } : null,
    fid: fidResult,
    kid: kidResult && {
      mean: kidResult.mean,
      std: kidResult.std,
      full: kidFull,
      subsets: subsetCount,
      subsetSize,
      seed,
      values: Array.from(kidResult.values),
    },
  };
  await writeOutputs(outputs, table, json, () =>
    histogramSvg(kidResult ? Array.from(kidResult.values) : [], {
      title: `KID subset values: ${fakePath} against ${realPath}`,
      xLabel: "MMD² per subset",
      yLabel: "subsets",
    }));
}

/** Reads the `features` tensor [N, D] of a safetensors file. */
async function readFeatures(path: string): Promise<Features & { shape: [number, number] }> {
  const file = parseSafetensors(await readInput(path), path);
  const tensor = file.tensors.get("features");
  if (!tensor) {
    const names = [...file.tensors.keys()];
    throw new CheffError(
      `${path}: no tensor "features" (found ${names.length === 0 ? "none" : names.slice(0, 5).join(", ")}); expected a float tensor "features" of shape [N, D]`,
    );
  }
  if (!(tensor.data instanceof Float32Array || tensor.data instanceof Float64Array)) {
    throw new CheffError(`${path}: tensor "features" has dtype ${tensor.dtype}, expected a float dtype`);
  }
  if (tensor.shape.length !== 2 || tensor.shape[0] < 2 || tensor.shape[1] < 1) {
    throw new CheffError(`${path}: tensor "features" has shape [${tensor.shape.join(", ")}], expected [N, D] with N ≥ 2`);
  }
  return { shape: [tensor.shape[0], tensor.shape[1]], data: tensor.data };
}

/** Converts item `item` of an image tensor [N, 1 or 3, H, W] in [-1, 1] to a gray image in [0, 1] (luma, then clamped). */
export function decodedToGray(shape: readonly number[], data: Float32Array, item = 0): EvaluatedImage {
  const [, channels, height, width] = shape;
  const plane = height * width;
  const base = item * channels * plane;
  const gray = new Float32Array(plane);
  for (let p = 0; p < plane; p++) {
    const value = channels === 3
      ? 0.299 * data[base + p] + 0.587 * data[base + plane + p] + 0.114 * data[base + 2 * plane + p]
      : data[base + p];
    gray[p] = Math.min(1, Math.max(0, (value + 1) / 2));
  }
  return { width, height, data: gray };
}

/** Wraps a gray image in [0, 1] as an image stream [1, channels, H, W] in [-1, 1]. */
function imageStream(image: EvaluatedImage, channels: number): Stream {
  const plane = image.width * image.height;
  const data = new Float32Array(channels * plane);
  for (let p = 0; p < plane; p++) data[p] = 2 * image.data[p] - 1;
  for (let c = 1; c < channels; c++) data.copyWithin(c * plane, 0, plane);
  return continueStream(undefined, "image", { shape: [1, channels, image.height, image.width], data }, {
    command: "evaluate",
  });
}

/** The stages `reconstruct` measures, in the order of the table. */
export type ReconstructionStage = "autoencoder" | "superResolution" | "bicubic" | "chain";

export interface ReconstructionOptions {
  /** Autoencoder model file and optional `--config`. */
  autoencoder: { model: string; config?: string };
  /** Super-resolution model and sampling settings (the `upscale` plugin's); omit to measure the autoencoder only. */
  superResolution?: Record<string, unknown> & { model: string };
  /** Whether to measure the chain (SR of each reconstruction) too; default true. */
  chain?: boolean;
  /** Side of the autoencoder's input; default the model's `resolution`. */
  size?: number;
  /** Side of the super-resolved output; default 4 × size. */
  srSize?: number;
  /** Whether to return every stage's model outputs (the report's `outputs`). */
  keepOutputs?: boolean;
  onProgress?: (done: number, total: number, name: string) => void;
}

export interface ReconstructionReport {
  size: number;
  srSize: number | null;
  models: Record<string, string>;
  stages: Partial<Record<ReconstructionStage, PairedReport>>;
  /** Images whose short side is under srSize, so their SR reference had to be upscaled. */
  upscaledReferences: number;
  /** Each stage's model outputs [N, C, H, W] in [-1, 1], unclamped, in image order (with `keepOutputs`). */
  outputs?: Partial<Record<ReconstructionStage, Stream>>;
}

/**
 * Runs each image through the autoencoder (encode to the posterior mean, decode)
 * and, with a super-resolution model, through SR from the real low-resolution
 * image and through the whole chain (SR of the autoencoder's reconstruction).
 * Each output becomes gray [0, 1] (ITU-R 601 luma, clamped, as written images
 * are) and is compared with the real image resized to the same side (short side,
 * antialiased bilinear, centre crop).
 */
export async function evaluateReconstruction(
  entries: ImageEntry[],
  options: ReconstructionOptions,
  context: RunContext,
): Promise<ReconstructionReport> {
  const aeSettings: Record<string, unknown> = { ...options.autoencoder };
  const { model: autoencoder, sha256 } = await autoencoderFor(aeSettings, context);
  const size = options.size ?? autoencoder.config.resolution;
  const factor = downsamplingFactor(autoencoder.config);
  if (size % factor !== 0) {
    throw new CheffError(`--size ${size} is not a multiple of ${factor}, the autoencoder's downsampling factor`);
  }
  const srSize = options.superResolution ? options.srSize ?? 4 * size : null;
  const models: Record<string, string> = { autoencoder: sha256 };

  const pairs: Record<ReconstructionStage, ImagePair[]> = { autoencoder: [], superResolution: [], bicubic: [], chain: [] };
  let upscaledReferences = 0;
  const outputs: Record<ReconstructionStage, Stream[]> = { autoencoder: [], superResolution: [], bicubic: [], chain: [] };
  for (const [index, entry] of entries.entries()) {
    const image = await loadImage(entry.path);
    const real = resizeShortSideAndCenterCrop(image, size);
    const encoded = await autoencoderPlugin.run("encode", imageStream(real, autoencoder.config.inChannels), aeSettings, context);
    const decoded = await autoencoderPlugin.run("decode", encoded, aeSettings, context);
    const reconstruction = decodedToGray(decoded.tensor.shape, decoded.tensor.data);
    pairs.autoencoder.push({ name: entry.name, real, fake: reconstruction });
    if (options.keepOutputs) outputs.autoencoder.push(decoded);

    if (options.superResolution && srSize !== null) {
      if (Math.min(image.width, image.height) < srSize) upscaledReferences++;
      const realHigh = resizeShortSideAndCenterCrop(image, srSize);
      const settings = { ...options.superResolution, size: srSize, firstIndex: index };
      const upscaled = await superResolutionPlugin.run("upscale", imageStream(real, 1), settings, context);
      pairs.superResolution.push({ name: entry.name, real: realHigh, fake: decodedToGray(upscaled.tensor.shape, upscaled.tensor.data) });
      const bicubic = bicubicStream(real, srSize);
      pairs.bicubic.push({ name: entry.name, real: realHigh, fake: decodedToGray(bicubic.tensor.shape, bicubic.tensor.data) });
      models["super-resolution"] = upscaled.models["super-resolution"];
      if (options.keepOutputs) {
        outputs.superResolution.push(upscaled);
        outputs.bicubic.push(bicubic);
      }
      if (options.chain !== false) {
        const chained = await superResolutionPlugin.run("upscale", imageStream(reconstruction, 1), settings, context);
        pairs.chain.push({ name: entry.name, real: realHigh, fake: decodedToGray(chained.tensor.shape, chained.tensor.data) });
        if (options.keepOutputs) outputs.chain.push(chained);
      }
    }
    options.onProgress?.(index + 1, entries.length, entry.name);
  }

  const stages: Partial<Record<ReconstructionStage, PairedReport>> = {
    autoencoder: await evaluatePairs(pairs.autoencoder),
  };
  if (options.superResolution) {
    stages.superResolution = await evaluatePairs(pairs.superResolution);
    stages.bicubic = await evaluatePairs(pairs.bicubic);
    if (options.chain !== false) stages.chain = await evaluatePairs(pairs.chain);
  }
  const report: ReconstructionReport = { size, srSize, models, stages, upscaledReferences };
  if (options.keepOutputs) {
    report.outputs = {};
    for (const stage of Object.keys(stages) as ReconstructionStage[]) {
      report.outputs[stage] = joinStreams(outputs[stage], { command: "evaluate reconstruct", stage, size, srSize }, models);
    }
  }
  return report;
}

/** Upscales a gray image in [0, 1] to `side` px with PyTorch-compatible bicubic interpolation, as a [-1, 1] image stream. */
function bicubicStream(image: EvaluatedImage, side: number): Stream {
  const low = Tensor.host([1, 1, image.height, image.width], Float32Array.from(image.data, (v) => 2 * v - 1));
  const high = resizeBicubic(low, side, side);
  return continueStream(undefined, "image", { shape: [...high.shape], data: high.data }, {
    command: "evaluate",
    stage: "bicubic",
  }, { synthetic: true });
}

/** Joins one-image streams [1, C, H, W] into one image stream [N, C, H, W] with a single history entry. */
function joinStreams(streams: Stream[], step: HistoryEntry, models: Record<string, string>): Stream {
  const [, channels, height, width] = streams[0].tensor.shape;
  const item = channels * height * width;
  const data = new Float32Array(streams.length * item);
  streams.forEach((stream, i) => data.set(stream.tensor.data, i * item));
  return continueStream(undefined, "image", { shape: [streams.length, channels, height, width], data }, step, {
    synthetic: true,
    models,
  });
}

/** The file `--save-outputs` writes for each stage. */
const RECONSTRUCTION_FILES: Record<ReconstructionStage, string> = {
  autoencoder: "autoencoder.safetensors",
  superResolution: "super-resolution.safetensors",
  bicubic: "bicubic.safetensors",
  chain: "chain.safetensors",
};

const STAGE_LABELS: Record<ReconstructionStage, string> = {
  autoencoder: "autoencoder",
  superResolution: "super-resolution",
  bicubic: "bicubic upsampling (baseline)",
  chain: "chain (autoencoder + SR)",
};

const RECONSTRUCT_HELP = `cheff evaluate reconstruct IMAGES --autoencoder AE [options]

Measures reconstruction quality, as in the Cheff paper's reconstruction table:
  autoencoder        each image at --size px, encoded (posterior mean) and decoded
  super-resolution   with --sr: the real --size px image upscaled to --sr-size px
  bicubic            with --sr: the real --size px image upscaled by bicubic interpolation
                     (PyTorch's, as the SR model's conditioning is made): the baseline
  chain              with --sr: the autoencoder's reconstruction upscaled to --sr-size px
Each output is compared with the real image at the same size: MSE and PSNR (peak 1,
in dB, averaged per image) on gray values in [0, 1], SSIM (11×11 Gaussian window,
σ 1.5) and MS-SSIM (sides of 161 px or more). Outputs are turned to gray with
ITU-R 601 luma and clamped to [0, 1], as written images are. IMAGES is a folder of
images (PNG, JPEG, DICOM) or a MaCheX index.json; each image's short side is
resized (antialiased bilinear) and the centre cropped.

The table also prints the values the paper reports for the released Cheff models
(autoencoder 256 px; SR 256 → 1024 px, base and fine-tuned; the whole chain). They
describe those weights on the paper's test set, not the models given here.

Options:
  --autoencoder FILE   autoencoder checkpoint (required)
  --config FILE        autoencoder config JSON (default: stored in the file, or the preset)
  --size N             side of the autoencoder's input in px (default: the model's resolution)
  --sr FILE            super-resolution checkpoint; adds the SR and chain rows
  --sr-config FILE     super-resolution config JSON
  --sr-size N          side of the SR output in px (default 4 × --size)
  --sr-sampler NAME    ddim (default) or ddpm
  --sr-steps N         DDIM steps (default 100)
  --sr-clip            DDIM: clamp each step's predicted x0 to [-1, 1] (see cheff upscale --help)
  --no-chain           skip the chain row, which runs SR a second time per image
  --seed N             seed of the SR noise (default 0; image i uses seed + i)
  --limit N            evaluate only the first N images (in name order)
  --save-outputs DIR   write each stage's outputs as an image stream (values in [-1, 1],
                       unclamped, images in name order): DIR/autoencoder.safetensors, and with
                       --sr DIR/super-resolution.safetensors, bicubic.safetensors and chain.safetensors
  --json FILE          also write per-image values, summaries and the paper's values as JSON ("-": stdout)
  --plot FILE.svg      write histograms of one per-image metric, one panel per stage
  --plot-metric NAME   the metric --plot shows: psnr (default), ssim, ms-ssim or mse

Example:
  cheff evaluate reconstruct data/holdout --autoencoder cheff_autoencoder.pt \\
      --sr cheff_sr_fine.pt --size 256 --json reconstruction.json --plot psnr.svg

${COMMON_HELP}`;

async function runReconstruct(args: string[]): Promise<void> {
  const parsed = parseOptions("evaluate reconstruct", args, {
    autoencoder: { type: "string" },
    config: { type: "string" },
    size: { type: "string" },
    sr: { type: "string" },
    "sr-config": { type: "string" },
    "sr-size": { type: "string" },
    "sr-sampler": { type: "string" },
    "sr-steps": { type: "string" },
    "no-chain": { type: "boolean" },
    "sr-clip": { type: "boolean" },
    seed: { type: "string" },
    limit: { type: "string" },
    "save-outputs": { type: "string" },
    json: { type: "string" },
    plot: { type: "string" },
    "plot-metric": { type: "string" },
  }, 1);
  if (parsed.values.help) {
    console.log(RECONSTRUCT_HELP);
    return;
  }
  const [source] = requirePositionals(parsed, 1, "evaluate reconstruct", "IMAGES (a folder or index.json)");
  const autoencoder = stringOption(parsed, "autoencoder");
  if (autoencoder === undefined) {
    throw new CheffError("evaluate reconstruct: missing --autoencoder FILE (see cheff evaluate reconstruct --help)");
  }
  const size = stringOption(parsed, "size") === undefined ? undefined : intOption(parsed, "size", 0, 8);
  const sr = stringOption(parsed, "sr");
  for (const name of ["sr-config", "sr-size", "sr-sampler", "sr-steps", "seed"]) {
    if (sr === undefined && stringOption(parsed, name) !== undefined) {
      throw new CheffError(`evaluate reconstruct: --${name} needs --sr FILE`);
    }
  }
  for (const flag of ["no-chain", "sr-clip"] as const) {
    if (sr === undefined && parsed.values[flag]) throw new CheffError(`evaluate reconstruct: --${flag} needs --sr FILE`);
  }
  const srSize = stringOption(parsed, "sr-size") === undefined ? undefined : intOption(parsed, "sr-size", 0, 8);
  const superResolution = sr === undefined ? undefined : {
    model: sr,
    config: stringOption(parsed, "sr-config"),
    sampler: choiceOption(parsed, "sr-sampler", ["ddim", "ddpm"], "ddim"),
    ...(stringOption(parsed, "sr-steps") === undefined ? {} : { steps: intOption(parsed, "sr-steps", 100, 1) }),
    ...(parsed.values["sr-clip"] === true ? { clip: true } : {}),
    seed: intOption(parsed, "seed", 0, 0),
  };
  const limit = intOption(parsed, "limit", Infinity, 1);
  const plotMetric = choiceOption<PairedMetricName>(parsed, "plot-metric", PAIRED_METRICS, "psnr");
  const outputs = outputOptions(parsed);
  const quiet = parsed.values.quiet === true;

  const saveOutputs = stringOption(parsed, "save-outputs");
  const withChain = parsed.values["no-chain"] !== true;
  const savedStages: ReconstructionStage[] = superResolution
    ? ["autoencoder", "superResolution", "bicubic", ...(withChain ? ["chain" as const] : [])]
    : ["autoencoder"];
  if (saveOutputs !== undefined) {
    // The folder may not exist yet (it is created), but files already in it are checked before any work.
    for (const stage of savedStages) {
      const path = join(saveOutputs, RECONSTRUCTION_FILES[stage]);
      if (existsSync(path) && parsed.values.overwrite !== true) {
        throw new CheffError(`${path}: already exists; choose another --save-outputs folder or pass --overwrite`);
      }
    }
  }
  const entries = (await listImageSource(source)).slice(0, limit);
  const context = await evaluationContext(quiet);
  const report = await evaluateReconstruction(entries, {
    autoencoder: { model: autoencoder, config: stringOption(parsed, "config") },
    superResolution,
    chain: withChain,
    size,
    srSize,
    keepOutputs: saveOutputs !== undefined,
    onProgress: (done, total, name) => {
      if (!quiet) console.error(`evaluate: ${done}/${total} ${name}`);
    },
  }, context);
  if (saveOutputs !== undefined) {
    await Deno.mkdir(saveOutputs, { recursive: true });
    for (const [stage, stream] of Object.entries(report.outputs ?? {}) as [ReconstructionStage, Stream][]) {
      await writeStream(stream, join(saveOutputs, RECONSTRUCTION_FILES[stage]), { overwrite: parsed.values.overwrite === true });
    }
  }
  if (report.upscaledReferences > 0 && !quiet) {
    console.error(
      `evaluate: ${report.upscaledReferences} of ${entries.length} images are smaller than ${report.srSize} px, so their SR references are upscaled`,
    );
  }

  const rows: (string | number | null)[][] = [];
  const stageNames = Object.keys(report.stages) as ReconstructionStage[];
  for (const stage of stageNames) {
    const s = report.stages[stage]!.summary;
    const side = stage === "autoencoder" ? report.size : report.srSize;
    rows.push([`cheff: ${STAGE_LABELS[stage]}`, `${side} px`, s.mse.count, s.mse.mean, s.psnr.mean, s.ssim.mean, s.msSsim.count > 0 ? s.msSsim.mean : null]);
  }
  for (const stage of stageNames) {
    for (const row of stage === "bicubic" ? [] : PAPER_RECONSTRUCTION[stage]) {
      rows.push([`paper: ${row.model}`, stage === "autoencoder" ? "256 px" : "1024 px", null, row.mse, row.psnr, row.ssim, null]);
    }
  }
  const table = formatTable(["stage", "size", "images", "mse", "psnr", "ssim", "ms_ssim"], rows) +
    "\nRows marked paper: values Weber et al. (PAKDD 2023) report for the released Cheff models on their test set.\n";
  const json = {
    command: "evaluate reconstruct",
    images: source,
    size: report.size,
    srSize: report.srSize,
    upscaledReferences: report.upscaledReferences,
    models: report.models,
    conventions: {
      ...CONVENTIONS,
      outputs: "model outputs in [-1, 1] turned to gray with ITU-R 601 luma, mapped to [0, 1] and clamped",
      references: "real images resized on the short side (antialiased bilinear) and centre-cropped to the output size",
    },
    stages: report.stages,
    paper: {
      source: "Weber et al., Cascaded Latent Diffusion Models for High-Resolution Chest X-ray Synthesis, PAKDD 2023",
      note: "values for the released Cheff models on the paper's test set, for comparison only",
      ...Object.fromEntries(
        stageNames.filter((stage) => stage !== "bicubic").map((stage) => [stage, PAPER_RECONSTRUCTION[stage]]),
      ),
    },
  };
  await writeOutputs(outputs, table, json, () =>
    histogramPanelsSvg(stageNames.map((stage) => ({
      values: report.stages[stage]!.images.map((row) => (plotMetric === "ms-ssim" ? row.msSsim : row[plotMetric]) ?? NaN),
      options: {
        title: `${plotMetric.toUpperCase()} per image: ${STAGE_LABELS[stage]}`,
        xLabel: plotMetric === "psnr" ? "PSNR (dB)" : plotMetric.toUpperCase(),
        yLabel: "images",
      },
    }))));
}

/**
 * Builds the CLI's run context without per-image encode and decode progress,
 * because these commands report progress per image themselves. SR sampling steps still show.
 */
async function evaluationContext(quiet: boolean): Promise<RunContext> {
  const context = await cliContext();
  const progress = context.progress;
  return {
    ...context,
    progress: quiet || !progress ? undefined : (label, done, total, unit) => {
      if (label.startsWith("upscale")) progress(label, done, total, unit);
    },
  };
}

/** Feature space options shared by fid, kid, features and memorisation. */
const FEATURE_OPTIONS = {
  features: { type: "string" },
  autoencoder: { type: "string" },
  config: { type: "string" },
  inception: { type: "string" },
} as const;

const FEATURE_HELP = `Feature spaces (for folders of images):
  --features ae          the autoencoder's pooled latents: posterior mean at the model's
                         resolution, average-pooled to 8×8 per channel (192 values for
                         3-channel latents); needs --autoencoder FILE [--config FILE].
                         Distances in this space compare cheff runs with each other and
                         are not comparable to published FIDs.
  --features inception   InceptionV3 pool3 (2048 values), needs --inception FILE: the
                         weights in pytorch-fid's layout (pt_inception-2015-12-05-6726825d.pth,
                         which cheff cannot download; PyTorch zip, legacy or safetensors)
  --features FILE        the same as --features inception --inception FILE
  --autoencoder FILE     autoencoder checkpoint for --features ae
  --config FILE          autoencoder config JSON
  --inception FILE       InceptionV3 weights for --features inception`;

/** Builds the feature space the options choose, or undefined when none is given. */
async function featureSpaceFrom(parsed: Parsed, context: RunContext, command: string): Promise<FeatureSpace | undefined> {
  let choice = stringOption(parsed, "features");
  let inception = stringOption(parsed, "inception");
  const autoencoder = stringOption(parsed, "autoencoder");
  if (choice === undefined) {
    if (autoencoder !== undefined) choice = "ae";
    else if (inception !== undefined) choice = "inception";
    else return undefined;
  }
  if (choice !== "ae" && choice !== "inception") {
    inception = choice;
    choice = "inception";
  }
  if (choice === "ae") {
    if (autoencoder === undefined) throw new CheffError(`${command}: --features ae needs --autoencoder FILE`);
    const loaded = await autoencoderFor({ model: autoencoder, config: stringOption(parsed, "config") }, context);
    return autoencoderFeatureSpace(context.gpu, loaded);
  }
  if (inception === undefined) {
    throw new CheffError(
      `${command}: --features inception needs --inception FILE (pytorch-fid's pt_inception-2015-12-05-6726825d.pth)`,
    );
  }
  const weights = inception;
  const loaded = await context.models.get(`inception:${weights}`, () => loadInception(context.gpu, weights, { note: context.warn }));
  return inceptionFeatureSpace(context.gpu, loaded);
}

/** Computes the features [N, D] of every image of a folder or index, in name order. */
export async function extractFeatures(
  entries: ImageEntry[],
  space: FeatureSpace,
  onProgress?: (done: number, name: string) => void,
): Promise<Features & { shape: [number, number]; data: Float32Array }> {
  const data = new Float32Array(entries.length * space.dims);
  for (const [index, entry] of entries.entries()) {
    const features = await space.extract(await loadImage(entry.path));
    data.set(features, index * space.dims);
    onProgress?.(index + 1, entry.name);
  }
  return { shape: [entries.length, space.dims], data };
}

/** True when a path names a file of precomputed features (a .safetensors path that is not a folder). */
async function isFeatureFile(path: string): Promise<boolean> {
  if (extname(path).toLowerCase() !== ".safetensors") return false;
  try {
    return !(await Deno.stat(path)).isDirectory;
  } catch {
    return true;
  }
}

const MEMORISATION_HELP = `cheff evaluate memorisation GENERATED TRAINING [options]

Checks whether generated images copy training images. For each image of GENERATED
it reports the training image with the highest SSIM (11×11 Gaussian window, σ 1.5,
data range 1) and the training image nearest in a feature space (Euclidean
distance), and flags the image as a near-copy when its highest SSIM reaches
--threshold. GENERATED and TRAINING are each a folder of images (PNG, JPEG, DICOM)
or a MaCheX index.json; images are read as gray in [0, 1].

Every generated image is compared with every training image, so the cost grows
with the product of the two counts.

Options:
  --threshold X     SSIM from which a generated image is flagged (default 0.95)
  --size N          resize each image's short side to N px and crop the centre to N×N
                    before SSIM (without it, all images must have the same size)
  --json FILE       also write the per-image matches as JSON ("-": stdout)
  --plot FILE.svg   write a histogram of the highest SSIM per generated image

${FEATURE_HELP}
Without a feature space, only the SSIM match is reported.

Example:
  cheff evaluate memorisation generated/ data/train --features ae \\
      --autoencoder cheff_autoencoder.pt --size 256 --json memorisation.json

${COMMON_HELP}`;

/** One generated image's nearest training images. */
export interface MemorisationRow {
  name: string;
  nearestBySsim: string;
  ssim: number;
  nearestByFeatures: string | null;
  featureDistance: number | null;
  nearCopy: boolean;
}

async function runMemorisation(args: string[]): Promise<void> {
  const parsed = parseOptions("evaluate memorisation", args, {
    ...FEATURE_OPTIONS,
    threshold: { type: "string" },
    size: { type: "string" },
    json: { type: "string" },
    plot: { type: "string" },
  }, 2);
  if (parsed.values.help) {
    console.log(MEMORISATION_HELP);
    return;
  }
  const [generatedSource, trainingSource] = requirePositionals(parsed, 2, "evaluate memorisation", "GENERATED and TRAINING (folders or index.json files)");
  const threshold = numberOption(parsed, "threshold", 0.95, -1, 1);
  const size = stringOption(parsed, "size") === undefined ? undefined : intOption(parsed, "size", 0, 1);
  const outputs = outputOptions(parsed);
  const log = (message: string) => {
    if (!parsed.values.quiet) console.error(`evaluate: ${message}`);
  };

  const generated = await listImageSource(generatedSource);
  const training = await listImageSource(trainingSource);
  await warnIfSynthetic(trainingSource, training);
  const context = await evaluationContext(parsed.values.quiet === true);
  const space = await featureSpaceFrom(parsed, context, "evaluate memorisation");

  const prepare = async (entry: ImageEntry): Promise<EvaluatedImage> => {
    const image = await loadImage(entry.path);
    return size === undefined ? image : resizeShortSideAndCenterCrop(image, size);
  };
  log(`loading ${training.length} training images`);
  const trainingImages: EvaluatedImage[] = [];
  for (const entry of training) trainingImages.push(await prepare(entry));
  const trainingFeatures: Float32Array[] = [];
  if (space) {
    log(`features (${space.name}) of ${training.length} training images`);
    for (const entry of training) trainingFeatures.push(await space.extract(await loadImage(entry.path)));
  }

  const rows: MemorisationRow[] = [];
  for (const [index, entry] of generated.entries()) {
    const image = await prepare(entry);
    const bySsim = nearestBySsim(image, trainingImages);
    const byFeatures = space ? nearestByDistance(await space.extract(await loadImage(entry.path)), trainingFeatures) : undefined;
    rows.push({
      name: entry.name,
      nearestBySsim: training[bySsim.index].name,
      ssim: bySsim.value,
      nearestByFeatures: byFeatures ? training[byFeatures.index].name : null,
      featureDistance: byFeatures ? byFeatures.value : null,
      nearCopy: bySsim.value >= threshold,
    });
    log(`${index + 1}/${generated.length} ${entry.name}`);
  }
  const flagged = rows.filter((row) => row.nearCopy).length;
  log(`${flagged} of ${rows.length} generated images are near-copies (SSIM ≥ ${threshold})`);

  const table = formatTable(
    ["generated", "nearest_ssim", "ssim", "nearest_features", "distance", "near_copy"],
    rows.map((row) => [row.name, row.nearestBySsim, row.ssim, row.nearestByFeatures, row.featureDistance, row.nearCopy ? "yes" : "no"]),
  );
  const json = {
    command: "evaluate memorisation",
    generated: generatedSource,
    training: trainingSource,
    size: size ?? null,
    threshold,
    features: space ? { space: space.name, dims: space.dims, description: space.description, model: space.sha256 } : null,
    nearCopies: flagged,
    images: rows,
  };
  await writeOutputs(outputs, table, json, () =>
    histogramSvg(rows.map((row) => row.ssim), {
      title: `Highest SSIM to a training image: ${generatedSource}`,
      xLabel: "SSIM",
      yLabel: "generated images",
    }));
}

interface Outputs {
  json?: string;
  plot?: string;
  overwrite: boolean;
}

function outputOptions(parsed: Parsed): Outputs {
  const plot = stringOption(parsed, "plot");
  if (plot !== undefined && extname(plot).toLowerCase() !== ".svg") {
    throw new CheffError(`--plot: '${plot}' must end in .svg (the plot is written as SVG)`);
  }
  const outputs = { json: stringOption(parsed, "json"), plot, overwrite: parsed.values.overwrite === true };
  // Check the output paths before any work, so a long evaluation never ends in a refused write.
  for (const path of [outputs.json, outputs.plot]) {
    if (path !== undefined && path !== "-") checkWritable(path, { overwrite: outputs.overwrite });
  }
  return outputs;
}

/** Prints the table (unless JSON goes to stdout) and writes the JSON and SVG files that were requested. */
async function writeOutputs(outputs: Outputs, table: string, json: unknown, plot: () => string): Promise<void> {
  const encoder = new TextEncoder();
  if (outputs.json === "-") {
    console.log(toJson(json).trimEnd());
  } else {
    console.log(table.trimEnd());
    if (outputs.json !== undefined) {
      await writeFileAtomic(outputs.json, encoder.encode(toJson(json)), { overwrite: outputs.overwrite });
    }
  }
  if (outputs.plot !== undefined) {
    await writeFileAtomic(outputs.plot, encoder.encode(plot()), { overwrite: outputs.overwrite });
  }
}

function requirePositionals(parsed: Parsed, count: number, command: string, what: string): string[] {
  if (parsed.positionals.length < count) {
    throw new CheffError(`${command}: expected ${what} (see cheff ${command} --help)`);
  }
  return parsed.positionals.slice(0, count);
}

/** Returns the help of the subcommand named in `args` (the process arguments), else the overview. */
function helpFor(args: readonly string[]): string {
  const subcommand = args[args.indexOf("evaluate") + 1];
  switch (subcommand) {
    case "images":
      return IMAGES_HELP;
    case "reconstruct":
      return RECONSTRUCT_HELP;
    case "features":
    case "fid":
    case "kid":
      return distributionHelp(subcommand);
    case "memorisation":
    case "memorization":
      return MEMORISATION_HELP;
    default:
      return EVALUATE_HELP;
  }
}

export const evaluateCommand: Command = {
  name: "evaluate",
  summary: "measure reconstruction (MSE, PSNR, SSIM, MS-SSIM), synthesis (FID, KID) and memorisation",
  // NOTE: cli/main.ts prints `help` itself whenever --help appears, before run() receives
  // the subcommand, so the subcommand's help is chosen from the process arguments.
  get help(): string {
    return helpFor(Deno.args);
  },
  async run(args: string[]): Promise<void> {
    const [subcommand, ...rest] = args;
    switch (subcommand) {
      case "images":
        return await runImages(rest);
      case "features":
      case "fid":
      case "kid":
        return await runDistribution(subcommand, rest);
      case "reconstruct":
        return await runReconstruct(rest);
      case "memorisation":
      case "memorization":
        return await runMemorisation(rest);
      case "--help":
      case "-h":
        console.log(EVALUATE_HELP);
        return;
      case undefined:
        throw new CheffError(
          "evaluate: missing subcommand, expected images, reconstruct, features, fid, kid or memorisation (see cheff evaluate --help)",
        );
      default:
        throw new CheffError(
          `evaluate: unknown subcommand '${subcommand}', expected images, reconstruct, features, fid, kid or memorisation (see cheff evaluate --help)`,
        );
    }
  },
};
