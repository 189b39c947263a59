/**
 * Settings shared by every command: the WebGPU adapter choice and progress
 * reporting on stderr.
 */
import { ADAPTER_CHOICES, type AdapterChoice, chooseAdapter } from "../gpu/device.ts";
import { CheffError } from "../io/errors.ts";

let quiet = false;

/** Applies `--adapter` and `--quiet` from raw arguments (before a command parses the rest). */
export function applyCommonOptions(args: string[]): void {
  const at = args.findIndex((a) => a === "--adapter" || a.startsWith("--adapter="));
  if (at >= 0) {
    const value = args[at].includes("=") ? args[at].split("=")[1] : args[at + 1];
    if (!ADAPTER_CHOICES.includes(value as AdapterChoice)) {
      throw new CheffError(`--adapter: invalid value '${value}', expected one of ${ADAPTER_CHOICES.join(", ")}`);
    }
    chooseAdapter(value as AdapterChoice);
  }
  if (args.includes("--quiet") || args.includes("-q")) quiet = true;
}

/** Progress of a long loop on stderr: step, rate and time left, rewritten in place on a terminal. */
export class Progress {
  private lastPrint = 0;
  private readonly terminal = Deno.stderr.isTerminal();
  /** The first update seen: the rate counts steps finished after it. */
  private first: { done: number; time: number } | undefined;

  constructor(private label: string, public total: number, private unit = "step") {}

  /** Reports that `done` of `total` steps are finished. */
  update(done: number, detail = ""): void {
    if (quiet) return;
    const now = performance.now();
    this.first ??= { done, time: now };
    if (done === 0) return;
    const finished = done >= this.total;
    if (!finished && now - this.lastPrint < (this.terminal ? 200 : 2000)) return;
    this.lastPrint = now;
    const steps = done - this.first.done;
    const seconds = (now - this.first.time) / 1000;
    let timing = "";
    if (steps > 0 && seconds > 0) {
      const rate = steps / seconds;
      const rateText = rate >= 1 ? `${rate.toFixed(2)} ${this.unit}/s` : `${(1 / rate).toFixed(1)} s/${this.unit}`;
      timing = `, ${rateText}, ${finished ? `done in ${formatSeconds(seconds)}` : `${formatSeconds((this.total - done) / rate)} left`}`;
    }
    const line = `${this.label}: ${this.unit} ${done}/${this.total}${timing}${detail ? `, ${detail}` : ""}`;
    const bytes = new TextEncoder().encode(this.terminal ? `\r\x1b[K${line}${finished ? "\n" : ""}` : `${line}\n`);
    Deno.stderr.writeSync(bytes);
  }
}

/** Prints an informational line on stderr unless --quiet. */
export function note(message: string): void {
  if (!quiet) console.error(`cheff: ${message}`);
}

/** Prints a warning on stderr (always). */
export function warn(message: string): void {
  console.error(`cheff: warning: ${message}`);
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}
