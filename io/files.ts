/**
 * File helpers shared by every command: reading a named file or standard input,
 * and writing outputs atomically (a temporary sibling renamed into place), so a
 * failed run never leaves a partial file and never replaces a file the user had
 * unless overwriting was requested.
 */
import { dirname } from "node:path";
import { CheffError } from "./errors.ts";

/** Reads a whole file, or standard input when `path` is "-". */
export async function readInput(path: string): Promise<Uint8Array> {
  if (path === "-") {
    if (Deno.stdin.isTerminal()) {
      throw new CheffError("standard input is a terminal: pipe a stream in or name an input file");
    }
    return new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
  }
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new CheffError(`${path}: file not found`);
    if (error instanceof Deno.errors.IsADirectory) throw new CheffError(`${path}: is a folder, expected a file`);
    if (error instanceof Deno.errors.PermissionDenied) throw new CheffError(`${path}: permission denied`);
    throw new CheffError(`${path}: cannot be read (${(error as Error).message})`);
  }
}

export interface WriteOptions {
  /** Replace an existing file; without it an existing file is an error. */
  overwrite?: boolean;
}

/** Throws unless `path` may be written: its folder exists and it does not exist (or overwrite is set). */
export function checkWritable(path: string, options: WriteOptions = {}): void {
  let stat: Deno.FileInfo | undefined;
  try {
    stat = Deno.statSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (stat?.isDirectory) throw new CheffError(`${path}: is a folder, expected a file name`);
  if (stat && !options.overwrite) {
    throw new CheffError(`${path}: already exists; choose another name or pass --overwrite`);
  }
  const folder = dirname(path);
  try {
    if (!Deno.statSync(folder).isDirectory) throw new CheffError(`${folder}: is not a folder`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new CheffError(`${path}: folder ${folder} does not exist`);
    throw error;
  }
}

/** Writes `bytes` to `path` through a temporary file in the same folder and a rename. */
export async function writeFileAtomic(path: string, bytes: Uint8Array, options: WriteOptions = {}): Promise<void> {
  checkWritable(path, options);
  const temporary = `${path}.partial-${Deno.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    await Deno.writeFile(temporary, bytes);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw new CheffError(`${path}: cannot be written (${(error as Error).message})`);
  }
}

/** Throws when standard output is a terminal, which must not receive binary data. */
export function checkStdoutForBinary(): void {
  if (Deno.stdout.isTerminal()) {
    throw new CheffError("standard output is a terminal, so binary data is not written there: pass --out FILE or pipe into another command");
  }
}

/** Throws unless a stream can go to `out`: a writable file, or standard output when undefined or "-". */
export function checkStreamOutput(out: string | undefined, options: WriteOptions = {}): void {
  if (out === undefined || out === "-") checkStdoutForBinary();
  else checkWritable(out, options);
}

/** Writes binary data to standard output, unless it is a terminal. */
export async function writeStdout(bytes: Uint8Array): Promise<void> {
  checkStdoutForBinary();
  let written = 0;
  while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
}

/** Size in bytes of a file, or undefined if it does not exist. */
export function fileSize(path: string): number | undefined {
  try {
    return Deno.statSync(path).size;
  } catch {
    return undefined;
  }
}
