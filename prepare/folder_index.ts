/**
 * `cheff index`: an index.json for a folder of images used where they are.
 * Every PNG, JPEG and DICOM file under the folder is listed, sorted by its
 * relative path, and numbered from "000000". Its key is the file name without
 * extension. Reports and labels come from CSV files whose key column holds
 * the same file name, with or without its extension. A PNG that cheff
 * generated gets `"synthetic": true` in its entry. A file whose first bytes are
 * not those of a PNG, JPEG or DICOM file is left out and reported.
 */
import { join } from "node:path";
import { CheffError } from "../io/errors.ts";
import { checkWritable, fileSize, writeFileAtomic } from "../io/files.ts";
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
  /** Paths (relative to the folder) left out because they do not start like a PNG, JPEG or DICOM file. */
  unreadable: string[];
}

/**
 * Checks whether a file starts like an image cheff reads: the PNG signature, a JPEG
 * start-of-image marker, or DICOM ("DICM" after the 128-byte preamble, or a
 * file without preamble that starts with a group 0002 or 0008 tag).
 */
async function startsLikeImage(path: string): Promise<boolean> {
  let head: Uint8Array;
  try {
    using file = await Deno.open(path);
    head = new Uint8Array(132);
    let filled = 0;
    while (filled < head.length) {
      const n = await file.read(head.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    head = head.subarray(0, filled);
  } catch {
    return false;
  }
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((b, i) => head[i] === b);
  const jpeg = head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff;
  const dicm = head.length >= 132 && new TextDecoder().decode(head.subarray(128, 132)) === "DICM";
  const bareDicom = head.length >= 8 && (head[0] === 0x02 || head[0] === 0x08) && head[1] === 0x00;
  return png || jpeg || dicm || bareDicom;
}

/** Builds the index of `folder`; see the module comment for the rules. */
export async function buildFolderIndex(folder: string, options: FolderIndexOptions = {}): Promise<FolderIndex> {
  if (!isFolder(folder)) {
    let isFile = false;
    try {
      isFile = Deno.statSync(folder).isFile;
    } catch {
      // Neither a file nor a folder: not found.
    }
    throw new CheffError(isFile ? `${folder}: is a file, expected a folder of images` : `${folder}: folder not found`);
  }
  const listed = listFiles(folder, IMAGE_EXTENSIONS);
  // Checked 64 at a time, so a large collection does not open every file at once.
  const readable: boolean[] = [];
  for (let start = 0; start < listed.length; start += 64) {
    const chunk = listed.slice(start, start + 64);
    readable.push(...await Promise.all(chunk.map((path) => startsLikeImage(join(folder, path)))));
  }
  const paths = listed.filter((_, i) => readable[i]);
  const unreadable = listed.filter((_, i) => !readable[i]);
  if (listed.length > 0 && paths.length === 0) {
    throw new CheffError(
      `${folder}: none of the ${listed.length} image file(s) starts like a PNG, JPEG or DICOM file, e.g. ${listed[0]}`,
    );
  }
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
    unreadable,
  };
}

/**
 * Writes `<folder>/index.json`, and `<folder>/classes.json` (the label column
 * names) when labels were given. An existing file is rejected unless
 * `overwrite` is set. Replacing an index without labels removes a
 * classes.json left from an earlier labelled one, since it no longer
 * describes any class_label; `removedClasses` then names it. Without
 * `overwrite` such a file is kept and named in `staleClasses`.
 */
export async function writeFolderIndex(
  folder: string,
  options: FolderIndexOptions,
  overwrite: boolean,
): Promise<FolderIndex & { removedClasses?: string; staleClasses?: string }> {
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
    return built;
  }
  if (fileSize(classesPath) !== undefined) {
    if (!overwrite) return { ...built, staleClasses: classesPath };
    await Deno.remove(classesPath);
    return { ...built, removedClasses: classesPath };
  }
  return built;
}
