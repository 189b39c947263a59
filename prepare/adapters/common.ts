/**
 * Helpers the dataset adapters share: locating metadata files, walking image
 * folders, the CheXpert-style label mapping and reading a DICOM file's view
 * position without decoding its pixels.
 */
import { isAbsolute, join, relative, sep } from "node:path";
import dicomParser from "dicom-parser";
import { CheffError } from "../../io/errors.ts";
import type { CsvTable } from "../csv.ts";
import { runPool } from "../pool.ts";
import type { PlannedImage, PlanSkip } from "./types.ts";

/**
 * The 14 observations of the CheXpert labeler, in the column order of CheXpert's
 * train.csv, MIMIC-CXR-JPG's chexpert.csv and BRAX's spreadsheet.
 */
export const CHEXPERT_CLASSES = [
  "No Finding",
  "Enlarged Cardiomediastinum",
  "Cardiomegaly",
  "Lung Opacity",
  "Lung Lesion",
  "Edema",
  "Consolidation",
  "Pneumonia",
  "Atelectasis",
  "Pneumothorax",
  "Pleural Effusion",
  "Pleural Other",
  "Fracture",
  "Support Devices",
] as const;

/** Views kept when only frontal images are requested. */
export const FRONTAL_VIEWS = new Set(["AP", "PA"]);

/** Resolves an option value against the dataset root unless it is absolute. */
export function resolveIn(root: string, path: string): string {
  return isAbsolute(path) ? path : join(root, path);
}

export function pathExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

export function isFolder(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Returns the option's file resolved against the root, or else the first of
 * `candidates` that exists there; throws naming every candidate when none does.
 */
export function locateFile(
  root: string,
  option: string | undefined,
  candidates: string[],
  what: string,
): string {
  if (option !== undefined) {
    const path = resolveIn(root, option);
    if (!pathExists(path)) throw new CheffError(`${path}: ${what} not found`);
    return path;
  }
  for (const name of candidates) {
    const path = join(root, name);
    if (pathExists(path)) return path;
  }
  throw new CheffError(`${root}: ${what} not found, expected one of ${candidates.join(", ")}`);
}

/** Lists the files under `folder` whose names end in one of `extensions`, as sorted paths relative to it. */
export function listFiles(folder: string, extensions: string[]): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch (error) {
      throw new CheffError(`${dir}: cannot list folder (${(error as Error).message})`);
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) {
        walk(path);
      } else if (extensions.some((ext) => entry.name.toLowerCase().endsWith(ext))) {
        found.push(relative(folder, path).split(sep).join("/"));
      }
    }
  };
  walk(folder);
  return found.sort();
}

/** Extensions of the image files that prepare and `cheff index` read, in lower case. */
export const IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg", ".dcm", ".dicom"];

/**
 * Returns a dataset key without a trailing image file extension (any case), so
 * that the keys of `cheff prepare` and `cheff index` name an image the same way.
 * A folder part of the key is kept.
 */
export function withoutImageExtension(key: string): string {
  const lower = key.toLowerCase();
  const extension = IMAGE_EXTENSIONS.find((ext) => lower.endsWith(ext));
  return extension ? key.slice(0, key.length - extension.length) : key;
}

/** Returns the file name without its folder and without its last extension. */
export function fileStem(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}

/**
 * Maps a CheXpert-style label cell as MaCheX does: 1 (positive) stays 1, 0
 * (negative) becomes -1, and -1 (uncertain) or a blank cell (not mentioned)
 * becomes 0. Numbers written as `1.0` are accepted.
 */
export function mapChexpertLabel(cell: string, where: () => string): number {
  const text = cell.trim();
  if (text === "") return 0;
  const value = Number(text);
  if (value === 1) return 1;
  if (value === 0) return -1;
  if (value === -1) return 0;
  throw new CheffError(`${where()}: invalid label '${cell}', expected 1, 0, -1 or blank`);
}

/** Reads the CheXpert-style label vector of one row (columns in CHEXPERT_CLASSES order). */
export function chexpertLabels(table: CsvTable, row: Record<string, string>, line: number): number[] {
  return CHEXPERT_CLASSES.map((column) =>
    mapChexpertLabel(row[column] ?? "", () => `${table.file}: line ${line}, column '${column}'`)
  );
}

/** Bytes read first when looking for a DICOM header attribute; the header almost always fits. */
const DICOM_HEADER_PREFIX = 64 * 1024;

/**
 * Reads the View Position attribute (0018,5101) of a DICOM file, upper-cased,
 * or "" when the file has none. Only the header is parsed (the first 64 KiB,
 * or the whole file when the header is longer), and only this one attribute
 * leaves the function, so no patient attribute reaches an output.
 */
export async function readDicomViewPosition(path: string): Promise<string> {
  const file = await Deno.open(path, { read: true });
  let prefix: Uint8Array;
  try {
    const buffer = new Uint8Array(DICOM_HEADER_PREFIX);
    let filled = 0;
    while (filled < buffer.length) {
      const read = await file.read(buffer.subarray(filled));
      if (read === null) break;
      filled += read;
    }
    prefix = buffer.subarray(0, filled);
  } finally {
    file.close();
  }
  let dataset;
  try {
    dataset = dicomParser.parseDicom(prefix, { untilTag: "x7fe00010" });
  } catch {
    dataset = dicomParser.parseDicom(await Deno.readFile(path), { untilTag: "x7fe00010" });
  }
  return (dataset.string("x00185101") ?? "").trim().toUpperCase();
}

/**
 * Keeps the DICOM images whose View Position is AP or PA, or that carry no View
 * Position (those are kept, since the dataset documents only chest views).
 * Files whose header cannot be parsed are returned as skips with the reason.
 */
export async function keepFrontalDicoms(
  images: PlannedImage[],
  workers = 4,
): Promise<{ images: PlannedImage[]; skipped: PlanSkip[] }> {
  const views: (string | Error)[] = new Array(images.length);
  await runPool(images, workers, async (image, index) => {
    try {
      views[index] = await readDicomViewPosition(image.source);
    } catch (error) {
      views[index] = error as Error;
    }
  });
  const kept: PlannedImage[] = [];
  const skipped: PlanSkip[] = [];
  images.forEach((image, index) => {
    const view = views[index];
    if (view instanceof Error) {
      const reason = view instanceof Deno.errors.NotFound
        ? "file not found"
        : `unreadable DICOM header (${view.message})`;
      skipped.push({ key: image.key, reason });
    } else if (view === "" || FRONTAL_VIEWS.has(view)) {
      kept.push(image);
    }
  });
  return { images: kept, skipped };
}
