/**
 * Matching a file's tensors to the parameters a stage expects. Unlike PyTorch's
 * `load_state_dict(strict=False)`, which the original code used and which drops
 * missing and unexpected keys without a word, every difference is reported: all
 * missing, unexpected and misshapen keys together in one error, and keys the
 * stage deliberately skips (e.g. the autoencoder's training loss `loss.*`)
 * counted in one summary line that the caller prints.
 *
 * @example
 * ```ts
 * const { tensors, summary } = matchKeys(expectedShapes, stateDict(loaded), {
 *   ignorePrefixes: ["loss."], source: "ae.pt", stage: "autoencoder",
 * });
 * if (summary) console.error(summary); // "ae.pt: ignored 38 keys that are not part of the autoencoder (38 under loss.)"
 * ```
 */
import { CheffError } from "../errors.ts";
import type { HostTensor } from "../safetensors.ts";

export interface MatchOptions {
  /** The expected names sit under this prefix in the file (e.g. `first_stage_model.`); other keys are not this stage's. */
  prefix?: string;
  /** Keys (after the prefix) under these prefixes are counted and skipped, never reported as unexpected. */
  ignorePrefixes?: string[];
  /** The file, for messages. */
  source: string;
  /** The stage, for messages (e.g. "autoencoder"). */
  stage: string;
}

export interface KeyMatch {
  /** The file's tensor for every expected name. */
  tensors: Map<string, HostTensor>;
  /** How many keys were skipped under ignorePrefixes. */
  ignored: number;
  /** One line saying what was skipped, for the caller to print; undefined when nothing was. */
  summary?: string;
}

/** How many names an error lists before giving a count. */
const NAMED = 4;

function list(names: string[]): string {
  const shown = names.slice(0, NAMED).join(", ");
  return names.length > NAMED ? `${shown} and ${names.length - NAMED} more` : shown;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Returns the tensors for `expected` (name → shape) from `available`, or throws
 * one CheffError naming the missing, unexpected and misshapen keys together.
 */
export function matchKeys(
  expected: Map<string, readonly number[]>,
  available: Map<string, HostTensor>,
  options: MatchOptions,
): KeyMatch {
  const prefix = options.prefix ?? "";
  const ignorePrefixes = options.ignorePrefixes ?? [];
  const tensors = new Map<string, HostTensor>();
  const missing: string[] = [];
  const misshapen: string[] = [];
  for (const [name, shape] of expected) {
    const tensor = available.get(prefix + name);
    if (!tensor) missing.push(prefix + name);
    else if (!sameShape(tensor.shape, shape)) {
      misshapen.push(`${prefix + name} [${tensor.shape}] in the file, [${shape}] expected`);
    } else tensors.set(name, tensor);
  }

  const unexpected: string[] = [];
  const ignoredBy = new Map<string, number>();
  for (const key of available.keys()) {
    if (!key.startsWith(prefix)) continue;
    const name = key.slice(prefix.length);
    if (expected.has(name)) continue;
    const skip = ignorePrefixes.find((p) => name.startsWith(p));
    if (skip !== undefined) ignoredBy.set(skip, (ignoredBy.get(skip) ?? 0) + 1);
    else unexpected.push(key);
  }

  if (missing.length + unexpected.length + misshapen.length > 0) {
    const parts: string[] = [];
    if (missing.length) parts.push(`${missing.length} missing (${list(missing)})`);
    if (unexpected.length) parts.push(`${unexpected.length} unexpected (${list(unexpected)})`);
    if (misshapen.length) parts.push(`${misshapen.length} misshapen (${list(misshapen)})`);
    throw new CheffError(
      `${options.source}: the ${options.stage} weights do not match its config: ${parts.join("; ")}` +
        ` (is --config right for this file?)`,
    );
  }

  let ignored = 0;
  for (const count of ignoredBy.values()) ignored += count;
  const result: KeyMatch = { tensors, ignored };
  if (ignored > 0) {
    const where = [...ignoredBy].map(([p, n]) => `${n} under ${prefix}${p}`).join(", ");
    result.summary =
      `${options.source}: ignored ${ignored} keys that are not part of the ${options.stage} (${where})`;
  }
  return result;
}
