/**
 * Output folders that a failed run takes back. A command creates its output
 * folder (and any missing parents) through createOutputFolder, and on failure
 * calls removeCreatedFolders, which removes only the folders this call created
 * and only while they are empty; withOutputFolder does both around a piece of
 * work. A folder that existed before, or that contains any file, is left as it is.
 */
import { dirname, resolve } from "node:path";
import { CheffError } from "./errors.ts";

export interface CreatedFolder {
  /** The folder as the caller named it. */
  path: string;
  /** Absolute paths of the folders this call created, deepest first. */
  created: string[];
}

/** Creates `path` with its missing parents and returns which of them did not exist before. */
export async function createOutputFolder(path: string): Promise<CreatedFolder> {
  const created: string[] = [];
  let current = resolve(path);
  while (!pathExists(current)) {
    created.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  await Deno.mkdir(path, { recursive: true });
  return { path, created };
}

/**
 * Removes the folders that createOutputFolder created, deepest first. A folder
 * with anything in it is kept, and so are the folders above it.
 */
export async function removeCreatedFolders(folder: CreatedFolder): Promise<void> {
  for (const path of folder.created) {
    try {
      // Without `recursive`, removing a folder that is not empty fails, and that failure keeps it.
      await Deno.remove(path);
    } catch {
      return;
    }
  }
}

/**
 * Runs `work` in the output folder `path`, created if needed. When `work` throws,
 * the folders this call created are removed again (only while empty) and the
 * error is rethrown.
 */
export async function withOutputFolder<T>(path: string, work: () => Promise<T>): Promise<T> {
  const created = await createOutputFolder(path).catch((error) => {
    throw new CheffError(`${path}: output folder cannot be created (${(error as Error).message})`);
  });
  try {
    return await work();
  } catch (error) {
    await removeCreatedFolders(created);
    throw error;
  }
}

function pathExists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
