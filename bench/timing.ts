/** Timing helpers shared by the benchmarks. */
import { getGpu } from "../gpu/device.ts";

export interface BenchResult {
  name: string;
  seconds: number;
  /** GFLOP of one run (2 × multiply-accumulates). */
  gflop: number;
  peakBytes?: number;
  /** PyTorch CPU seconds on the 2-core reference machine, when known. */
  pytorchSeconds?: number;
  note?: string;
}

export type Bench = () => Promise<BenchResult>;

/** Times `run` after one warm-up call (pipeline compilation), waiting for the GPU each time. */
export async function timeIt(run: () => Promise<void> | void, repeats = 1): Promise<number> {
  const gpu = await getGpu();
  await run();
  await gpu.sync();
  const start = performance.now();
  for (let i = 0; i < repeats; i++) await run();
  await gpu.sync();
  return (performance.now() - start) / 1000 / repeats;
}
