/**
 * Builders for miniature copies of the public datasets' folder layouts, made in
 * temporary folders from the shared radiographs, and a runner for `prepare`.
 */
import { dirname, join } from "node:path";
import dicomParser from "dicom-parser";
import { dataPath } from "../kit.ts";
import { encodeJpeg, grayTo8Bit } from "../../io/image/jpeg.ts";
import { loadImage } from "../../io/image/load.ts";
import { readConfig } from "../../prepare/config.ts";
import { type DatasetSummary, prepare, type PrepareOptions } from "../../prepare/run.ts";

export const NIH_PNGS = [
  "00000001_001.png",
  "00000001_002.png",
  "00000003_000.png",
  "00000004_000.png",
  "00000005_000.png",
]
  .map((name) => dataPath(`cxr/nih-64/${name}`));
export const PNG16 = dataPath("png16/RG1_chest_12bit_sBIT12.png");
export const DICOM_PA = dataPath("dicom-chest/chest_dx12_explicit_le.dcm");
export const KIT_FILES = [...NIH_PNGS, PNG16, DICOM_PA];

/** Fake patient identifiers carried by the shared DICOM files; they must never reach an output. */
export const DICOM_PATIENT_STRINGS = ["Testperson", "CHEFF-TEST-0001"];

const createdFolders: string[] = [];
globalThis.addEventListener("unload", () => {
  for (const folder of createdFolders) Deno.removeSync(folder, { recursive: true });
});

/** Creates a temporary folder that is removed when the test process exits. */
export async function tempDir(): Promise<string> {
  const folder = await Deno.makeTempDir({ prefix: "cheff-prepare-" });
  createdFolders.push(folder);
  return folder;
}

export async function write(path: string, text: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, text);
}

export async function copy(from: string, to: string): Promise<void> {
  await Deno.mkdir(dirname(to), { recursive: true });
  await Deno.copyFile(from, to);
}

/** Writes one of the shared PNGs re-encoded as a JPEG (as CheXpert and MIMIC-CXR-JPG ship). */
export async function writeJpegFrom(png: string, to: string): Promise<void> {
  const image = await loadImage(png);
  await Deno.mkdir(dirname(to), { recursive: true });
  await Deno.writeFile(to, encodeJpeg(grayTo8Bit(image), 95));
}

/** Copies the shared DICOM file, replacing its two-letter View Position (PA) with `view`. */
export async function writeDicomWithView(to: string, view: string): Promise<void> {
  const bytes = await Deno.readFile(DICOM_PA);
  if (view !== "PA") {
    if (view.length !== 2) throw new Error("only two-letter views keep the element length");
    const element = dicomParser.parseDicom(bytes, { untilTag: "x7fe00010" }).elements["x00185101"];
    bytes.set(new TextEncoder().encode(view), element.dataOffset);
  }
  await Deno.mkdir(dirname(to), { recursive: true });
  await Deno.writeFile(to, bytes);
}

export async function writeConfig(folder: string, config: Record<string, unknown>): Promise<string> {
  const path = join(folder, "config.json");
  await Deno.writeTextFile(
    path,
    JSON.stringify({ cheff: 1, output: "out", size: 64, quality: 95, ...config }),
  );
  return path;
}

/** Writes a config for `datasets`, prepares it quietly and returns the summaries. */
export async function runConfig(
  folder: string,
  config: Record<string, unknown>,
  options: PrepareOptions = {},
): Promise<DatasetSummary[]> {
  return await prepare(await readConfig(await writeConfig(folder, config)), { quiet: true, ...options });
}

export async function readJson(path: string): Promise<any> {
  return JSON.parse(await Deno.readTextFile(path));
}

/** Lists every file under `folder` as sorted relative paths. */
export function filesUnder(folder: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isDirectory) walk(join(dir, entry.name), `${prefix}${entry.name}/`);
      else found.push(`${prefix}${entry.name}`);
    }
  };
  walk(folder, "");
  return found.sort();
}

/** Reads the width and height of a baseline JPEG from its SOF0 segment. */
export function jpegSize(bytes: Uint8Array): { width: number; height: number } {
  for (let i = 2; i < bytes.length - 8;) {
    if (bytes[i] !== 0xff) throw new Error("not a JPEG marker");
    const marker = bytes[i + 1];
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    if (marker === 0xc0 || marker === 0xc1 || marker === 0xc2) {
      return { height: (bytes[i + 5] << 8) | bytes[i + 6], width: (bytes[i + 7] << 8) | bytes[i + 8] };
    }
    i += 2 + length;
  }
  throw new Error("no SOF segment");
}

/** Reads `<output>/<name>/index.json` and checks every listed image is a size × size JPEG. */
export async function readPreparedIndex(
  folder: string,
  name: string,
  size = 64,
): Promise<Record<string, any>> {
  const datasetFolder = join(folder, "out", name);
  const index = await readJson(join(datasetFolder, "index.json"));
  for (const [id, entry] of Object.entries(index) as [string, any][]) {
    const bytes = await Deno.readFile(join(datasetFolder, entry.path));
    const { width, height } = jpegSize(bytes);
    if (width !== size || height !== size) {
      throw new Error(`${id}: image is ${width}x${height}, expected ${size}x${size}`);
    }
  }
  return index;
}

/** Writes `text` gzip-compressed. */
export async function writeGzip(path: string, text: string): Promise<void> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeFile(path, new Uint8Array(await new Response(stream).arrayBuffer()));
}
