/**
 * The MaCheX index: `index.json` in each dataset's output folder maps 6-digit,
 * zero-padded ids ("000000", "000001", …) to `{path, key, report?, class_label?,
 * synthetic?}`. `path` is relative to that folder; `key` is the dataset's own
 * key for the image, without a file extension. Images are grouped 10,000 to a
 * subfolder named after the id without its last four digits: id 054321 is
 * stored as `05/054321.jpg`.
 * Ids past 999999 grow to 7 digits (folder `100/` for 1000000).
 */
import { CheffError } from "../io/errors.ts";
import { writeFileAtomic } from "../io/files.ts";

export interface IndexEntry {
  path: string;
  key: string;
  report?: string;
  class_label?: number[];
  /** True when the image is a PNG that cheff generated (text chunk cheff:synthetic=true); absent otherwise. */
  synthetic?: boolean;
}

export type Index = Record<string, IndexEntry>;

/** Formats the id of the image at plan `position`: at least 6 digits, zero-padded. */
export function formatId(position: number): string {
  return String(position).padStart(6, "0");
}

/** Returns the path of an id's JPEG, relative to the dataset's output folder. */
export function imagePathFor(id: string): string {
  return `${id.slice(0, id.length - 4)}/${id}.jpg`;
}

/** Returns the entries sorted by id (numerically, so 7-digit ids follow 6-digit ones). */
export function sortIndex(index: Index): Index {
  const ids = Object.keys(index).sort(compareIds);
  return Object.fromEntries(ids.map((id) => [id, index[id]]));
}

function compareIds(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/** Writes an index as pretty-printed JSON, replacing an existing file only when `overwrite` is set. */
export async function writeIndex(path: string, index: Index, overwrite: boolean): Promise<void> {
  const text = JSON.stringify(sortIndex(index), null, 2) + "\n";
  await writeFileAtomic(path, new TextEncoder().encode(text), { overwrite });
}

/** Reads an index file, checking its shape. */
export async function readIndex(path: string): Promise<Index> {
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new CheffError(`${path}: index file not found`);
    throw new CheffError(`${path}: invalid index file (${(error as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new CheffError(`${path}: invalid index file, expected a JSON object of id → entry`);
  }
  for (const [id, entry] of Object.entries(json)) {
    if (!/^\d{6,}$/.test(id) || typeof entry?.path !== "string" || typeof entry?.key !== "string") {
      throw new CheffError(`${path}: invalid entry '${id}', expected a 6-digit id with 'path' and 'key'`);
    }
  }
  return json as Index;
}
