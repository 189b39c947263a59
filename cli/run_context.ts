/**
 * The RunContext the commands use: the chosen GPU, a model cache, progress and
 * warnings on stderr.
 */
import { gpuContext, type RunContext } from "../plugins/context.ts";
import { note, Progress, warn } from "./common.ts";

export function cliContext(): Promise<RunContext> {
  const bars = new Map<string, Progress>();
  return gpuContext((label, done, total, unit) => {
    let bar = bars.get(label);
    if (!bar || done === 0) bars.set(label, bar = new Progress(label, total, unit ?? "step"));
    bar.update(done);
  }, (message) => (message.includes("ignored") ? note(message) : warn(message)));
}
