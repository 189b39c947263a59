/**
 * A small RFC 4180 CSV reader for the datasets' metadata files: quoted fields,
 * doubled quotes, CRLF or LF line ends, a UTF-8 byte-order mark, and gzip
 * compression when the file name ends in `.gz` (MIMIC-CXR ships its tables so).
 */
import { CheffError } from "../io/errors.ts";

export interface CsvTable {
  /** The file the table was read from, for error messages. */
  file: string;
  /** Column names from the first line, trimmed of surrounding spaces. */
  header: string[];
  /** One record per data line, keyed by the trimmed column name. */
  rows: Record<string, string>[];
}

/**
 * Splits CSV text into records of fields; a quoted field may span lines. A
 * quote left open at the end is an error naming `file` and the line it opened on.
 */
export function parseCsvRecords(text: string, file = "CSV"): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let quoted = false;
  let line = 1;
  let quoteLine = 0;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;

  for (; i < text.length; i++) {
    const c = text[i];
    if (c === "\n" || (c === "\r" && text[i + 1] !== "\n")) line++;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
      quoteLine = line;
    } else if (c === ",") {
      record.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") {
        i++;
        line++;
      }
      record.push(field);
      records.push(record);
      record = [];
      field = "";
    } else {
      field += c;
    }
  }
  if (quoted) {
    throw new CheffError(`${file}: line ${quoteLine}: a quoted field is never closed (expected a closing ")`);
  }
  if (field !== "" || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  // Blank lines carry no record.
  return records.filter((r) => !(r.length === 1 && r[0] === ""));
}

/** Parses CSV text whose first line is the header. */
export function parseCsv(text: string, file: string): CsvTable {
  const records = parseCsvRecords(text, file);
  if (records.length === 0) throw new CheffError(`${file}: empty CSV file, expected a header line`);
  const header = records[0].map((name) => name.trim());
  const rows = records.slice(1).map((record) => {
    const row: Record<string, string> = {};
    header.forEach((name, column) => (row[name] = record[column] ?? ""));
    return row;
  });
  return { file, header, rows };
}

/** Reads a whole text file, gunzipping it when its name ends in `.gz`. */
export async function readTextFile(path: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new CheffError(`${path}: file not found`);
    throw new CheffError(`${path}: cannot be read (${(error as Error).message})`);
  }
  if (path.endsWith(".gz")) {
    try {
      const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip"));
      bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    } catch (error) {
      throw new CheffError(`${path}: invalid gzip file (${(error as Error).message})`);
    }
  }
  return new TextDecoder().decode(bytes);
}

/** Reads a CSV file and checks that it has the `required` columns. */
export async function readCsv(path: string, required: string[] = []): Promise<CsvTable> {
  const table = parseCsv(await readTextFile(path), path);
  requireColumns(table, required);
  return table;
}

/** Columns that a missing-column message lists before "…and N more". */
const LISTED_COLUMNS = 12;

/** Throws naming the file and the first missing column unless every name in `columns` is in the header. */
export function requireColumns(table: CsvTable, columns: string[]): void {
  const missing = columns.find((column) => !table.header.includes(column));
  if (missing !== undefined) {
    const more = table.header.length - LISTED_COLUMNS;
    const found = table.header.slice(0, LISTED_COLUMNS).join(", ") + (more > 0 ? ` …and ${more} more` : "");
    throw new CheffError(`${table.file}: missing column '${missing}' (found: ${found})`);
  }
}
