/**
 * The RunContext the commands use: the chosen GPU, a model cache, progress and
 * warnings on stderr.
 */
import { gpuContext, type RunContext } from "../plugins/context.ts";
import { note, Progress, warn } from "./common.ts";

export function cliContext(): Promise<RunContext> {
  const bars = new Map<string, { bar: Progress; done: number }>();
  return gpuContext((label, done, total, unit) => {
    let entry = bars.get(label);
    // A count that does not grow starts a new run of the same stage (the next batch).
    if (!entry || done <= entry.done) bars.set(label, entry = { bar: new Progress(label, total, unit ?? "step"), done });
    entry.done = done;
    entry.bar.update(done);
  }, (message) => (message.includes("ignored") ? note(message) : warn(message)));
}
