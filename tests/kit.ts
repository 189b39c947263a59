/**
 * Where tests find the reference kit and the shared radiographs. Both live outside
 * the repository (`../shared` beside a CI clone, or `$CHEFF_REFERENCE` /
 * `$CHEFF_DATA`). On a clone without them the tests that need them report
 * themselves skipped by name; under CI (`CI=true`) a missing kit fails them.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = join(fileURLToPath(import.meta.url), "..", "..");

export const REFERENCE_DIR = Deno.env.get("CHEFF_REFERENCE") ?? join(repoRoot, "..", "shared", "reference");
export const DATA_DIR = Deno.env.get("CHEFF_DATA") ?? join(repoRoot, "..", "shared", "data");
export const FIXTURES_DIR = join(repoRoot, "tests", "fixtures");
export const REPO_ROOT = repoRoot;

export function referencePath(name: string): string {
  return join(REFERENCE_DIR, name);
}

export function dataPath(name: string): string {
  return join(DATA_DIR, name);
}

/** Returns whether a file or folder exists at `path`. */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Registers a test that needs files of the kit (paths from referencePath/dataPath).
 * Missing files skip it outside CI and fail it under CI.
 */
export function kitTest(name: string, needs: string[], fn: () => Promise<void> | void): void {
  const missing = needs.filter((path) => !exists(path));
  if (missing.length === 0) {
    Deno.test({ name, fn, sanitizeResources: false, sanitizeOps: false });
  } else if (Deno.env.get("CI") === "true") {
    Deno.test(name, () => {
      throw new Error(`reference kit missing under CI: ${missing.join(", ")}`);
    });
  } else {
    Deno.test({ name: `${name} (skipped: reference kit not found)`, ignore: true, fn });
  }
}
