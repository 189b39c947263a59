/**
 * The shape every CLI command has, and the argument parsing they share. Each
 * command lives in its own file under cli/ and is listed in cli/main.ts.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { CheffError } from "../io/errors.ts";
import { applyCommonOptions } from "./common.ts";

export interface Command {
  name: string;
  /** One line for `cheff --help`. */
  summary: string;
  /** The full help text, with at least one example. */
  help: string;
  run(args: string[]): Promise<void>;
}

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/** Options every command accepts. */
export const COMMON_OPTIONS: OptionSpec = {
  help: { type: "boolean", short: "h" },
  adapter: { type: "string" },
  overwrite: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
};

export const COMMON_HELP = `Common options:
  --adapter high-performance|low-power|fallback   which WebGPU adapter to request
  --overwrite    replace existing output files (without it an existing file is an error)
  -q, --quiet    no progress on stderr
  -h, --help     this help

Synthetic radiographs are for research, not for diagnosis.`;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Parses `args` against `options` (plus the common ones); unknown options are a one-line error. */
export function parseOptions(command: string, args: string[], options: OptionSpec, maxPositionals = Infinity): Parsed {
  const spec = { ...COMMON_OPTIONS, ...options };
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeValues(args, spec), options: spec, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CheffError(`${command}: ${cleanParserMessage((error as Error).message)} (see cheff ${command} --help)`);
  }
  applyCommonOptions(args);
  if (parsed.positionals.length > maxPositionals) {
    throw new CheffError(
      `${command}: unexpected argument '${parsed.positionals[maxPositionals]}' (see cheff ${command} --help)`,
    );
  }
  return parsed as Parsed;
}

/**
 * Joins `--name -1` into `--name=-1` for string options, so negative numbers
 * (a guidance scale, say) are taken as values rather than as unknown options.
 */
function joinNegativeValues(args: string[], spec: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith("--") ? args[i].slice(2) : undefined;
    const next = args[i + 1];
    if (name && !name.includes("=") && spec[name]?.type === "string" && next !== undefined && /^-\d|^-\.\d/.test(next)) {
      out.push(`${args[i]}=${next}`);
      i++;
    } else {
      out.push(args[i]);
    }
  }
  return out;
}

/** The argument parser's first sentence, without its suggestion to use '--' and with balanced quotes. */
function cleanParserMessage(message: string): string {
  const first = message.split("\n")[0].replace(/\. To specify a positional argument.*$/, "").replace(/\.$/, "");
  const unknown = /^Unknown option '([^']+)'/.exec(first);
  if (unknown) return `unknown option ${unknown[1]}`;
  return first;
}

/** Reads a string option, or undefined. */
export function stringOption(parsed: Parsed, name: string): string | undefined {
  const v = parsed.values[name];
  return typeof v === "string" ? v : undefined;
}

/** Reads an integer option within [min, max], or the default. */
export function intOption(parsed: Parsed, name: string, fallback: number, min = -Infinity, max = Infinity): number {
  const text = stringOption(parsed, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Infinity ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
    throw new CheffError(`--${name}: invalid value '${text}', expected ${range}`);
  }
  return value;
}

/** Reads a finite number option within [min, max], or the default. */
export function numberOption(parsed: Parsed, name: string, fallback: number, min = -Infinity, max = Infinity): number {
  const text = stringOption(parsed, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < min || value > max) {
    throw new CheffError(`--${name}: invalid value '${text}', expected a number from ${min} to ${max}`);
  }
  return value;
}

/** Reads an option that must be one of `choices`. */
export function choiceOption<T extends string>(parsed: Parsed, name: string, choices: readonly T[], fallback: T): T {
  const text = stringOption(parsed, name);
  if (text === undefined) return fallback;
  if (!choices.includes(text as T)) {
    throw new CheffError(`--${name}: invalid value '${text}', expected one of ${choices.join(", ")}`);
  }
  return text as T;
}
