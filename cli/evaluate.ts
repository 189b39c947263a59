/**
 * `cheff evaluate`: reconstruction metrics (MSE, PSNR, SSIM, MS-SSIM) over paired
 * images, and synthesis metrics (FID, KID) over feature files. Every value is
 * computed in float64 on the CPU by metrics/.
 */
import { basename, dirname, extname, join, resolve } from "node:path";
import { CheffError } from "../io/errors.ts";
import { readInput, writeFileAtomic } from "../io/files.ts";
import { parseSafetensors } from "../io/safetensors.ts";
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
import { formatTable, histogramSvg, summarize, type Summary, toJson } from "../metrics/report.ts";

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

const FEATURES_HELP = `cheff evaluate features REAL.safetensors FAKE.safetensors [options]

Computes FID and KID between two feature sets, each a safetensors file with a
float tensor "features" of shape [N, D] (for example InceptionV3 pool features, D = 2048).

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
  --json FILE           also write the results as JSON ("-": stdout)
  --plot FILE.svg       write a histogram of the KID subset values as an SVG file

Example:
  cheff evaluate features real_features.safetensors fake_features.safetensors --json fid.json

${COMMON_HELP}`;

const EVALUATE_HELP = `cheff evaluate SUBCOMMAND ...

Measures reconstruction and synthesis quality, in float64 on the CPU.

Subcommands:
  images REAL FAKE        MSE, PSNR, SSIM, MS-SSIM over images paired by name
  features REAL FAKE      FID and KID between two feature files
  reconstruct             (not available yet) autoencoder round trip of a set, then the image metrics
  memorisation            (not available yet) nearest training image of each generated image

Run cheff evaluate SUBCOMMAND --help for the options of each.

Examples:
  cheff evaluate images real/ fake/ --size 256
  cheff evaluate features real.safetensors fake.safetensors

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

  const matched = matchByName(await listImageSource(realSource), await listImageSource(fakeSource), realSource, fakeSource);
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

async function runFeatures(args: string[]): Promise<void> {
  const parsed = parseOptions("evaluate features", args, {
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
    console.log(FEATURES_HELP);
    return;
  }
  const [realPath, fakePath] = requirePositionals(parsed, 2, "evaluate features", "REAL.safetensors and FAKE.safetensors");
  const subsetCount = intOption(parsed, "kid-subsets", 100, 1);
  const seed = intOption(parsed, "seed", 2020, 0, 2 ** 32 - 1);
  const eps = numberOption(parsed, "fid-eps", 1e-6, 0);
  const fallback = choiceOption<FidFallback>(parsed, "fid-fallback", ["auto", "always", "never"], "auto");
  const outputs = outputOptions(parsed);

  const real = await readFeatures(realPath);
  const fake = await readFeatures(fakePath);
  if (real.shape[1] !== fake.shape[1]) {
    throw new CheffError(`feature sizes differ: ${realPath} has D = ${real.shape[1]}, ${fakePath} has D = ${fake.shape[1]}`);
  }
  const smallest = Math.min(real.shape[0], fake.shape[0]);
  const subsetSize = intOption(parsed, "kid-subset-size", Math.min(1000, smallest), 2, smallest);

  const log = (message: string) => {
    if (!parsed.values.quiet) console.error(`evaluate: ${message}`);
  };
  log(`FID on ${real.shape[0]} real and ${fake.shape[0]} fake samples of ${real.shape[1]} features`);
  if (real.shape[1] > 512) {
    // NOTE: the float64 Jacobi eigensolver behind FID grows as D³ (22 s at D = 512, measured).
    log(`FID with ${real.shape[1]} features can take many minutes on the CPU`);
  }
  const fidResult = fidDetails(real, fake, { eps, fallback });
  log(`KID over ${subsetCount} subsets of ${subsetSize}`);
  const subsets = drawKidSubsets(fake.shape[0], real.shape[0], { subsets: subsetCount, subsetSize, seed });
  const kidResult = kidSubsets(fake, real, subsets);
  const kidFull = parsed.values["kid-full"] ? kid(fake, real) : null;

  const rows: (string | number | null)[][] = [
    ["fid", fidResult.fid],
    ["kid_mean", kidResult.mean],
    ["kid_std", kidResult.std],
  ];
  if (kidFull !== null) rows.push(["kid_full", kidFull]);
  rows.push(["fid_eps_applied", fidResult.epsApplied ? "yes" : "no"]);
  const table = formatTable(["metric", "value"], rows);
  const json = {
    command: "evaluate features",
    real: { file: realPath, samples: real.shape[0] },
    fake: { file: fakePath, samples: fake.shape[0] },
    features: real.shape[1],
    fid: fidResult,
    kid: {
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
    histogramSvg(Array.from(kidResult.values), {
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
  return { json: stringOption(parsed, "json"), plot, overwrite: parsed.values.overwrite === true };
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

export const evaluateCommand: Command = {
  name: "evaluate",
  summary: "measure reconstruction (MSE, PSNR, SSIM, MS-SSIM) and synthesis (FID, KID) quality",
  help: EVALUATE_HELP,
  async run(args: string[]): Promise<void> {
    const [subcommand, ...rest] = args;
    switch (subcommand) {
      case "images":
        return await runImages(rest);
      case "features":
        return await runFeatures(rest);
      case "reconstruct":
      case "memorisation":
        if (rest.includes("--help") || rest.includes("-h")) {
          console.log(`cheff evaluate ${subcommand}: not available yet (it needs cheff's neural stages).`);
          return;
        }
        throw new CheffError(
          `evaluate ${subcommand}: not available yet; it needs cheff's neural stages, which this version does not include`,
        );
      case "--help":
      case "-h":
        console.log(EVALUATE_HELP);
        return;
      case undefined:
        throw new CheffError("evaluate: missing subcommand, expected images or features (see cheff evaluate --help)");
      default:
        throw new CheffError(
          `evaluate: unknown subcommand '${subcommand}', expected images or features (see cheff evaluate --help)`,
        );
    }
  },
};
