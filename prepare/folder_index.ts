/**
 * `cheff index`: an index.json for a folder of images used where they are.
 * Every PNG, JPEG and DICOM file under the folder is listed, sorted by its
 * relative path, and numbered from "000000". Its key is the file name without
 * extension. Reports and labels come from CSV files whose key column holds
 * the same file name, with or without its extension. A PNG that cheff
 * generated gets `"synthetic": true` in its entry.
 */
import { join } from "node:path";
import { CheffError } from "../io/errors.ts";
import { checkWritable, writeFileAtomic } from "../io/files.ts";
import {
  fileStem,
  IMAGE_EXTENSIONS,
  isFolder,
  listFiles,
  mapChexpertLabel,
  withoutImageExtension,
} from "./adapters/common.ts";
import { readCsv } from "./csv.ts";
import { formatId, type Index, writeIndex } from "./index_file.ts";
import { findSyntheticImages } from "./synthetic.ts";

export { IMAGE_EXTENSIONS };

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
  return withoutImageExtension(value.trim().replace(/^.*[\\/]/, ""));
}

/** A folder's index with what the command reports about it. */
export interface FolderIndex {
  index: Index;
  /** The label columns in class_label order, when labels were given (written to classes.json). */
  classNames?: string[];
  /** Keys of the images that no row of the reports CSV names, when reports were given. */
  withoutReport: string[];
  /** Paths (relative to the folder) of the PNGs that cheff generated. */
  synthetic: string[];
}

/** Builds the index of `folder`; see the module comment for the rules. */
export async function buildFolderIndex(folder: string, options: FolderIndexOptions = {}): Promise<FolderIndex> {
  if (!isFolder(folder)) throw new CheffError(`${folder}: folder not found`);
  const paths = listFiles(folder, IMAGE_EXTENSIONS);
  if (paths.length === 0) {
    throw new CheffError(
      `no PNG, JPEG or DICOM files found under ${folder} (expected names ending in ${IMAGE_EXTENSIONS.join(", ")})`,
    );
  }
  const keyColumn = options.keyColumn ?? "key";

  const reports = new Map<string, string>();
  const reportRows = new Set<string>();
  if (options.reports !== undefined) {
    const textColumn = options.textColumn ?? "report";
    const table = await readCsv(options.reports, [keyColumn, textColumn]);
    for (const row of table.rows) {
      const key = csvKey(row[keyColumn]);
      reportRows.add(key);
      const text = row[textColumn].replace(/\s+/g, " ").trim();
      if (text !== "") reports.set(key, text);
    }
  }

  const labels = new Map<string, number[]>();
  let classNames: string[] | undefined;
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
    classNames = columns;
  }

  const synthetic = new Set(await findSyntheticImages(paths.map((path) => join(folder, path))));
  const index: Index = {};
  const withoutReport: string[] = [];
  paths.forEach((path, position) => {
    const key = fileStem(path);
    if (options.reports !== undefined && !reportRows.has(key)) withoutReport.push(key);
    index[formatId(position)] = {
      path,
      key,
      ...(reports.has(key) ? { report: reports.get(key)! } : {}),
      ...(labels.has(key) ? { class_label: labels.get(key)! } : {}),
      ...(synthetic.has(join(folder, path)) ? { synthetic: true } : {}),
    };
  });
  return {
    index,
    classNames,
    withoutReport,
    synthetic: paths.filter((path) => synthetic.has(join(folder, path))),
  };
}

/**
 * Writes `<folder>/index.json`, and `<folder>/classes.json` (the label column
 * names) when labels were given. An existing file is rejected unless
 * `overwrite` is set.
 */
export async function writeFolderIndex(
  folder: string,
  options: FolderIndexOptions,
  overwrite: boolean,
): Promise<FolderIndex> {
  const built = await buildFolderIndex(folder, options);
  const indexPath = join(folder, "index.json");
  const classesPath = join(folder, "classes.json");
  // Both files are checked first, so a rejected classes.json leaves no new index.json behind.
  checkWritable(indexPath, { overwrite });
  if (built.classNames !== undefined) checkWritable(classesPath, { overwrite });

  await writeIndex(indexPath, built.index, overwrite);
  if (built.classNames !== undefined) {
    const classes = JSON.stringify(built.classNames, null, 2) + "\n";
    await writeFileAtomic(classesPath, new TextEncoder().encode(classes), { overwrite });
  }
  return built;
}
