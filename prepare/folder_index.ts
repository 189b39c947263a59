/**
 * `cheff index`: an index.json for a folder of images used where they are.
 * Every PNG, JPEG and DICOM file under the folder is listed, sorted by its
 * relative path, and numbered from "000000". Its key is the file name without
 * extension. Reports and labels come from CSV files whose key column holds
 * the same file name, with or without its extension.
 */
import { join } from "node:path";
import { CheffError } from "../io/errors.ts";
import { fileStem, isFolder, listFiles, mapChexpertLabel } from "./adapters/common.ts";
import { readCsv } from "./csv.ts";
import { formatId, type Index, writeIndex } from "./index_file.ts";

export const IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg", ".dcm", ".dicom"];

export interface FolderIndexOptions {
  /** CSV with one report per image. */
  reports?: string;
  /** CSV with CheXpert-style labels (1, 0, -1, blank) per image. */
  labels?: string;
  /** Column of both CSVs that contains the image's file name. */
  keyColumn?: string;
  /** Report column of the reports CSV. */
  textColumn?: string;
  /** Label columns of the labels CSV, in class_label order (default: every other column). */
  labelColumns?: string[];
}

function csvKey(value: string): string {
  const name = value.trim().replace(/^.*[\\/]/, "");
  const lower = name.toLowerCase();
  const extension = IMAGE_EXTENSIONS.find((ext) => lower.endsWith(ext));
  return extension ? name.slice(0, name.length - extension.length) : name;
}

/** Builds the index of `folder`; see the module comment for the rules. */
export async function buildFolderIndex(folder: string, options: FolderIndexOptions = {}): Promise<Index> {
  if (!isFolder(folder)) throw new CheffError(`${folder}: folder not found`);
  const keyColumn = options.keyColumn ?? "key";

  const reports = new Map<string, string>();
  if (options.reports !== undefined) {
    const textColumn = options.textColumn ?? "report";
    const table = await readCsv(options.reports, [keyColumn, textColumn]);
    for (const row of table.rows) {
      const text = row[textColumn].replace(/\s+/g, " ").trim();
      if (text !== "") reports.set(csvKey(row[keyColumn]), text);
    }
  }

  const labels = new Map<string, number[]>();
  if (options.labels !== undefined) {
    const file = options.labels;
    const probe = await readCsv(file, [keyColumn]);
    const columns = options.labelColumns ?? probe.header.filter((name) => name !== keyColumn);
    const table = await readCsv(file, [keyColumn, ...columns]);
    if (columns.length === 0) throw new CheffError(`${file}: no label columns besides '${keyColumn}'`);
    table.rows.forEach((row, index) => {
      const vector = columns.map((column) =>
        mapChexpertLabel(row[column], () => `${file}: line ${index + 2}, column '${column}'`)
      );
      labels.set(csvKey(row[keyColumn]), vector);
    });
  }

  const index: Index = {};
  listFiles(folder, IMAGE_EXTENSIONS).forEach((path, position) => {
    const key = fileStem(path);
    index[formatId(position)] = {
      path,
      key,
      ...(reports.has(key) ? { report: reports.get(key)! } : {}),
      ...(labels.has(key) ? { class_label: labels.get(key)! } : {}),
    };
  });
  return index;
}

/** Writes `<folder>/index.json`, rejecting an existing one unless `overwrite` is set. Returns the entry count. */
export async function writeFolderIndex(
  folder: string,
  options: FolderIndexOptions,
  overwrite: boolean,
): Promise<number> {
  const index = await buildFolderIndex(folder, options);
  await writeIndex(join(folder, "index.json"), index, overwrite);
  return Object.keys(index).length;
}
