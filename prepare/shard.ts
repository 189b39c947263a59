/**
 * Sharding: a run with `--shard i/n` (0 ≤ i < n, numbered from 0 as
 * `cheff generate` numbers its shards) prepares the images whose position in
 * the dataset's plan satisfies position mod n = i and writes
 * `index.shard-i-of-n.json` (and `skipped.shard-i-of-n.log`). Ids are the plan
 * positions, so the shards never collide, and `--merge` joins the n shard
 * indexes into the same `index.json` an unsharded run writes.
 */
import { join } from "node:path";
import { CheffError } from "../io/errors.ts";
import { writeFileAtomic } from "../io/files.ts";
import { type Index, readIndex, writeIndex } from "./index_file.ts";

export interface Shard {
  /** Shard number, from 0. */
  index: number;
  count: number;
}

/** Parses `i/n` with 0 ≤ i < n. */
export function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = match ? Number(match[1]) : NaN;
  const count = match ? Number(match[2]) : NaN;
  if (!match || count < 1 || index < 0 || index >= count) {
    throw new CheffError(`--shard: invalid value '${text}', expected i/n with 0 ≤ i < n, e.g. 0/4`);
  }
  return { index, count };
}

export function inShard(position: number, shard: Shard | undefined): boolean {
  return shard === undefined || position % shard.count === shard.index;
}

export function indexFileName(shard: Shard | undefined): string {
  return shard === undefined ? "index.json" : `index.shard-${shard.index}-of-${shard.count}.json`;
}

export function skippedLogName(shard: Shard | undefined): string {
  return shard === undefined ? "skipped.log" : `skipped.shard-${shard.index}-of-${shard.count}.log`;
}

/**
 * Merges the shard indexes in `folder` into index.json (and the shard logs into
 * skipped.log). Every shard of one count n must be present; returns the number of entries.
 */
export async function mergeShards(folder: string): Promise<number> {
  const found = new Map<number, Set<number>>();
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(folder)];
  } catch {
    throw new CheffError(`${folder}: output folder not found; run the shards before --merge`);
  }
  for (const entry of entries) {
    const match = /^index\.shard-(\d+)-of-(\d+)\.json$/.exec(entry.name);
    if (!match) continue;
    const count = Number(match[2]);
    if (!found.has(count)) found.set(count, new Set());
    found.get(count)!.add(Number(match[1]));
  }
  if (found.size === 0) throw new CheffError(`${folder}: no index.shard-i-of-n.json files to merge`);
  if (found.size > 1) {
    throw new CheffError(
      `${folder}: shard indexes of different counts (${[...found.keys()].join(", ")}); remove the stale ones`,
    );
  }
  const [count, present] = [...found][0];
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !present.has(i));
  if (missing.length > 0) {
    throw new CheffError(
      `${folder}: shard ${
        missing.map((i) => `${i}/${count}`).join(", ")
      } not finished; run it before --merge`,
    );
  }

  const merged: Index = {};
  const logLines: string[] = [];
  for (let i = 0; i < count; i++) {
    const shard = { index: i, count };
    const path = join(folder, indexFileName(shard));
    for (const [id, entry] of Object.entries(await readIndex(path))) {
      if (id in merged) throw new CheffError(`${path}: id ${id} also appears in another shard`);
      merged[id] = entry;
    }
    try {
      logLines.push(
        ...(await Deno.readTextFile(join(folder, skippedLogName(shard)))).split("\n").filter(Boolean),
      );
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  await writeIndex(join(folder, "index.json"), merged, true);
  const uniqueLines = [...new Set(logLines)].sort();
  const log = uniqueLines.length > 0 ? uniqueLines.join("\n") + "\n" : "";
  await writeFileAtomic(join(folder, "skipped.log"), new TextEncoder().encode(log), { overwrite: true });
  return Object.keys(merged).length;
}
