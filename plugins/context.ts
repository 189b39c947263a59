/**
 * What a plugin run gets from its caller: the device to run on, a cache so each
 * model file is loaded once per process, and a progress callback.
 */
import { type Gpu, getGpu } from "../gpu/device.ts";

export type ProgressCallback = (label: string, done: number, total: number, detail?: string) => void;

export interface RunContext {
  /** The GPU to run on; undefined runs the plain TypeScript reference kernels on the host. */
  gpu: Gpu | undefined;
  models: ModelCache;
  progress?: ProgressCallback;
  /** Warnings for the user (the CLI prints them on stderr). */
  warn?: (message: string) => void;
}

/** Loaded models by key (path + settings), each loaded once. */
export class ModelCache {
  private entries = new Map<string, Promise<unknown>>();

  get<T>(key: string, load: () => Promise<T>): Promise<T> {
    let entry = this.entries.get(key) as Promise<T> | undefined;
    if (!entry) {
      entry = load();
      this.entries.set(key, entry);
      // A failed load is not cached, so a corrected retry loads again.
      entry.catch(() => this.entries.delete(key));
    }
    return entry;
  }

  /** Releases every cached model that has a release() method. */
  async clear(): Promise<void> {
    for (const entry of this.entries.values()) {
      const model = await entry.catch(() => undefined) as { release?: () => void } | undefined;
      model?.release?.();
    }
    this.entries.clear();
  }
}

/** A context on the process-wide GPU with a fresh model cache. */
export async function gpuContext(progress?: ProgressCallback, warn?: (message: string) => void): Promise<RunContext> {
  return { gpu: await getGpu(), models: new ModelCache(), progress, warn };
}
