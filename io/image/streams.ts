/**
 * Images ⇄ streams for the commands and the pipeline runner. Inputs are image files (PNG, JPEG,
 * DICOM), image streams, or NumPy arrays, gathered into one image stream.
 * Outputs are PNG or DICOM files, numbered for batches, or an image stream.
 * Every output path is checked before anything is written, so a bad path never
 * leaves half of a batch behind.
 */
import { basename, extname, join } from "node:path";
import { encodeSecondaryCapture } from "../dicom/write.ts";
import { CheffError } from "../errors.ts";
import { checkStreamOutput, checkWritable, readInput, writeFileAtomic, type WriteOptions } from "../files.ts";
import { decodeImage, imageToModelInput, sniffImageFormat } from "./load.ts";
import { encodePng, tensorToGrayImages } from "./write.ts";
import { isNpy, parseNpy } from "../npy.ts";
import { looksLikeSafetensors } from "../checkpoint/load.ts";
import { CHEFF_VERSION, continueStream, parseStream, type Stream, writeStream } from "../stream.ts";

export interface ImageInputOptions {
  /** Side length image files are resized and centre-cropped to. */
  size: number;
  /** Channels image files are given (gray repeated). */
  channels: 1 | 3;
}

/**
 * Reads inputs into one image stream [N, C, H, W] in [-1, 1]. Image files are
 * resized and cropped to `size`; streams and arrays are used as they are and must
 * agree in shape with the rest of the batch.
 */
export async function readImageInputs(paths: string[], options: ImageInputOptions): Promise<Stream> {
  if (paths.length === 0) throw new CheffError("no input given; name image files, an image stream, or '-' for standard input");
  if (paths.filter((p) => p === "-").length > 1) throw new CheffError("standard input ('-') can be named only once");
  const items: { shape: number[]; data: Float32Array; source: string }[] = [];
  let previous: Stream | undefined;
  for (const path of paths) {
    const source = path === "-" ? "standard input" : path;
    const bytes = await readInput(path);
    if (isNpy(bytes)) {
      const array = parseNpy(bytes, source);
      items.push(...splitBatch(checkImageTensor(array.shape, source), array.data, source));
    } else if (sniffImageFormat(bytes) !== undefined) {
      const image = await decodeImage(bytes, source);
      items.push({ shape: [options.channels, options.size, options.size], data: imageToModelInput(image, options.size, options.channels), source });
    } else {
      if (!looksLikeSafetensors(bytes)) {
        throw new CheffError(`${source}: not an image; expected a PNG, JPEG or DICOM file, an image stream (.safetensors) or a NumPy .npy array`);
      }
      const stream = parseStream(bytes, source, "image");
      previous ??= stream;
      items.push(...splitBatch(checkImageTensor(stream.tensor.shape, source), stream.tensor.data, source));
    }
  }
  const [first] = items;
  for (const item of items) {
    if (item.shape.join() !== first.shape.join()) {
      throw new CheffError(
        `${item.source}: image of shape [${item.shape}] does not match [${first.shape}] of ${first.source}; inputs of one run must share a size`,
      );
    }
  }
  const itemLength = first.data.length;
  const data = new Float32Array(items.length * itemLength);
  items.forEach((item, i) => data.set(item.data, i * itemLength));
  return continueStream(previous, "image", { shape: [items.length, ...first.shape], data }, {
    command: "read",
    inputs: paths.map((p) => (p === "-" ? "-" : basename(p))),
  });
}

function checkImageTensor(shape: number[], source: string): number[] {
  if (shape.length !== 4 || (shape[1] !== 1 && shape[1] !== 3)) {
    throw new CheffError(`${source}: expected an image tensor of shape [N, 1 or 3, H, W], got [${shape}]`);
  }
  return shape;
}

function splitBatch(shape: number[], data: Float32Array, source: string) {
  const itemLength = shape[1] * shape[2] * shape[3];
  return Array.from({ length: shape[0] }, (_, n) => ({
    shape: shape.slice(1),
    data: data.subarray(n * itemLength, (n + 1) * itemLength),
    source: `${source}[${n}]`,
  }));
}

export interface ImageOutputOptions extends WriteOptions {
  bits: 8 | 16;
  format: "png" | "dicom";
  /** First index used in numbered names (a shard's offset), default 0. */
  firstIndex?: number;
  /** More PNG text chunks for every image (ignored for DICOM). */
  extraText?: Record<string, string>;
}

/** Where each image of an N-image batch goes for `--out`: a folder, a single file, or numbered files. */
export function imageOutputPaths(
  out: string,
  count: number,
  format: "png" | "dicom",
  firstIndex = 0,
  inputNames?: string[],
): string[] {
  const extension = format === "dicom" ? ".dcm" : ".png";
  let isFolder = out.endsWith("/");
  try {
    isFolder ||= Deno.statSync(out).isDirectory;
  } catch {
    // A path that does not exist yet names a file.
  }
  const number = (i: number) => String(firstIndex + i).padStart(4, "0");
  if (isFolder) {
    // Images read from named files keep their names, so outputs pair with inputs (cheff evaluate images).
    const stems = inputNames?.map((n) => n.replace(/\.[^.]*$/, ""));
    const unique = stems && stems.length === count && new Set(stems).size === count && !stems.some((s) => s === "-" || s === "");
    return Array.from({ length: count }, (_, i) => join(out, unique ? `${stems![i]}${extension}` : `image-${number(i)}${extension}`));
  }
  const given = extname(out).toLowerCase();
  if (given !== extension && !(format === "dicom" && given === ".dicom")) {
    const hint = format === "png" && (given === ".dcm" || given === ".dicom")
      ? " (pass --format dicom to write DICOM)"
      : format === "dicom" && given === ".png"
      ? " (drop --format dicom to write PNG)"
      : "";
    throw new CheffError(
      `--out ${out}: expected a name ending in ${extension}, a folder, or .safetensors for an image stream${hint}`,
    );
  }
  if (count === 1) return [out];
  const stem = out.slice(0, out.length - given.length);
  return Array.from({ length: count }, (_, i) => `${stem}-${number(i)}${given}`);
}

/** PNG text chunks (or DICOM comments) describing an image's provenance. */
export function provenanceText(stream: Stream): Record<string, string> {
  const settings = stream.history.find((h) => "seed" in h || "steps" in h) ?? {};
  return {
    Software: `cheff ${CHEFF_VERSION}`,
    Description: stream.synthetic
      ? "Synthetic radiograph generated by cheff; for research, not for diagnosis"
      : "Radiograph processed by cheff (autoencoder or super-resolution reconstruction); for research, not for diagnosis",
    "cheff:synthetic": String(stream.synthetic),
    "cheff:models": JSON.stringify(stream.models),
    "cheff:history": JSON.stringify(stream.history),
    ...("seed" in settings ? { "cheff:seed": String(settings.seed) } : {}),
    ...("steps" in settings ? { "cheff:steps": String(settings.steps) } : {}),
  };
}

/**
 * Throws unless the images made from `input` (one per item of its batch, named
 * after the files it was read from) can be written to `out`, so a command fails
 * before its work rather than after. Returns the image paths (none for a stream
 * output).
 */
export function checkImageOutputs(input: Stream, out: string | undefined, options: ImageOutputOptions): string[] {
  if (out === undefined || out === "-" || out.toLowerCase().endsWith(".safetensors")) {
    checkStreamOutput(out, options);
    return [];
  }
  const read = input.history.filter((h) => h.command === "read").at(-1);
  const inputNames = Array.isArray(read?.inputs) ? (read.inputs as string[]) : undefined;
  const paths = imageOutputPaths(out, input.tensor.shape[0], options.format, options.firstIndex, inputNames);
  for (const path of paths) checkWritable(path, options);
  return paths;
}

/**
 * Writes an image stream: to standard output when `out` is undefined, as a
 * stream file when it ends in .safetensors, else as PNG or DICOM images.
 * Returns the paths written.
 */
export async function writeImageOutputs(stream: Stream, out: string | undefined, options: ImageOutputOptions): Promise<string[]> {
  if (out === undefined || out === "-" || out.toLowerCase().endsWith(".safetensors")) {
    await writeStream(stream, out, options);
    return out && out !== "-" ? [out] : [];
  }
  const images = tensorToGrayImages(stream.tensor.shape, stream.tensor.data);
  const paths = checkImageOutputs(stream, out, options);
  const text = provenanceText(stream);
  const seed = Number(text["cheff:seed"]);
  const reports = stream.history.flatMap((h) => (Array.isArray(h.reports) ? [h.reports as string[]] : [])).at(-1);
  // One report applies to every image; otherwise image i has report i.
  const reportOf = (i: number): string | undefined => {
    if (!reports || reports.length === 0) return undefined;
    return reports.length === 1 ? reports[0] : reports[i];
  };
  for (const [i, image] of images.entries()) {
    const bytes = options.format === "dicom"
      ? encodeSecondaryCapture(image, {
        bits: options.bits,
        model: Object.entries(stream.models).map(([stage, hash]) => `${stage} sha256 ${hash}`).join(", ") || "none",
        seed: Number.isFinite(seed) ? seed + i : undefined,
        steps: text["cheff:steps"] ? Number(text["cheff:steps"]) : undefined,
        description: stream.synthetic ? "cheff synthetic radiograph" : "cheff reconstruction",
        synthetic: stream.synthetic,
      })
      : encodePng(image, {
        bits: options.bits,
        text: {
          ...text,
          ...(options.extraText ?? {}),
          ...(Number.isFinite(seed) ? { "cheff:seed": String(seed + i) } : {}),
          ...(reportOf(i) !== undefined ? { "cheff:report": reportOf(i)! } : {}),
        },
      });
    await writeFileAtomic(paths[i], bytes, options);
  }
  return paths;
}
