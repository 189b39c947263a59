/**
 * The plugin contract: a plugin names itself, the kinds of work it does (each
 * taking a stream kind, or nothing, and giving one), its presets, and runs a
 * kind on a stream with settings. The CLI commands and `cheff generate` run the
 * same plugin code, so a shell pipe and a pipeline file give the same bytes.
 */
import type { Stream, StreamKind } from "../io/stream.ts";
import type { RunContext } from "./context.ts";

export interface PluginKind {
  /** Stream kinds accepted as input; an empty list means the kind takes no input. */
  takes: StreamKind[];
  gives: StreamKind;
  /** Whether the input may be omitted (e.g. diffusion samples from noise without a latent). */
  inputOptional?: boolean;
}

export interface Plugin {
  name: string;
  description: string;
  kinds: Record<string, PluginKind>;
  presets: string[];
  /** Size and channels that image files are prepared at when `kind` takes images (pipeline inputs). */
  inputSize?(kind: string, settings: Record<string, unknown>, context: RunContext): Promise<{ size: number; channels: 1 | 3 }>;
  /** Runs `kind` on `input` with `settings` (plain JSON values, as in a pipeline file). */
  run(kind: string, input: Stream | undefined, settings: Record<string, unknown>, context: RunContext): Promise<Stream>;
}
