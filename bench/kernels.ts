/**
 * Kernel benchmarks for `deno task bench` and for running on their own:
 *
 *   deno run -A bench/kernels.ts            # every shape below
 *   deno run -A bench/kernels.ts conv1x1    # the named ones
 *
 * `benchConv` times the 3×3 convolution 128 → 128 channels at 256×256 (batch 1), the
 * shape that dominates the KL autoencoder's decoder. Run on their own, the benchmarks also
 * report the process CPU time: on a machine shared with other jobs, work divided by CPU
 * seconds varies less than work divided by wall seconds. lavapipe runs its shaders on
 * threads of this process, so the CPU time covers the GPU work.
 */
import process from "node:process";
import { getGpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { conv2d, type Conv2dOptions, convTranspose2d } from "../kernels/conv.ts";
import { groupNorm } from "../kernels/norm.ts";

export interface BenchResult {
  /** Mean seconds per call. */
  seconds: number;
  gflops: number;
}

/** One kernel call to time, with the work it does. */
interface KernelCase {
  name: string;
  /** GFLOP of one call, or GB read and written for memory-bound kernels. */
  work: number;
  unit: "GFLOP" | "GB";
  /** Makes the inputs and returns the call and a function that releases them. */
  setup: (gpu: Awaited<ReturnType<typeof getGpu>>) => { run: () => Tensor; release: () => void };
}

function values(count: number, seed: number, scale = 1): Float32Array {
  return new Float32Array(count).map((_, i) => Math.sin(i * 0.37 + seed) * scale);
}

function convCase(
  name: string,
  x: [number, number, number, number],
  w: [number, number, number, number],
  options: Conv2dOptions,
  [OH, OW]: [number, number],
): KernelCase {
  return {
    name,
    work: (2 * w.reduce((a, b) => a * b) * x[0] * OH * OW) / 1e9,
    unit: "GFLOP",
    setup: (gpu) => {
      const xt = Tensor.from(gpu, x, values(x.reduce((a, b) => a * b), 1));
      const wt = Tensor.from(gpu, w, values(w.reduce((a, b) => a * b), 2, 0.03));
      const bt = Tensor.from(gpu, [w[0]], values(w[0], 3));
      return {
        run: () => conv2d(xt, wt, bt, options),
        release: () => [xt, wt, bt].forEach((t) => t.release()),
      };
    },
  };
}

const CASES: Record<string, KernelCase> = {
  conv3x3: convCase("conv2d 3×3 128→128 at 256×256", [1, 128, 256, 256], [128, 128, 3, 3], { padding: 1 }, [
    256,
    256,
  ]),
  conv3x3_deep: convCase("conv2d 3×3 512→512 at 32×32", [1, 512, 32, 32], [512, 512, 3, 3], { padding: 1 }, [
    32,
    32,
  ]),
  conv3x3_small: convCase("conv2d 3×3 1344→448 at 8×8", [1, 1344, 8, 8], [448, 1344, 3, 3], { padding: 1 }, [
    8,
    8,
  ]),
  conv1x1: convCase("conv2d 1×1 512→512 at 64×64", [1, 512, 64, 64], [512, 512, 1, 1], {}, [64, 64]),
  conv_stride2: convCase(
    "conv2d 3×3 stride 2 128→128 at 256×256",
    [1, 128, 256, 256],
    [128, 128, 3, 3],
    { stride: 2, padding: [0, 1, 0, 1] },
    [128, 128],
  ),
  conv_transpose: {
    name: "convTranspose2d 4×4 stride 2 128→128 at 64×64",
    work: (2 * 128 * 128 * 16 * 64 * 64) / 1e9,
    unit: "GFLOP",
    setup: (gpu) => {
      const x = Tensor.from(gpu, [1, 128, 64, 64], values(128 * 64 * 64, 1));
      const w = Tensor.from(gpu, [128, 128, 4, 4], values(128 * 128 * 16, 2, 0.03));
      const b = Tensor.from(gpu, [128], values(128, 3));
      return {
        run: () => convTranspose2d(x, w, b, { stride: 2, padding: 1 }),
        release: () => [x, w, b].forEach((t) => t.release()),
      };
    },
  },
  group_norm: {
    name: "groupNorm(32) + SiLU, 128×256×256",
    work: (128 * 256 * 256 * 8) / 1e9,
    unit: "GB",
    setup: (gpu) => {
      const x = Tensor.from(gpu, [1, 128, 256, 256], values(128 * 256 * 256, 1));
      const gamma = Tensor.from(gpu, [128], values(128, 2));
      const beta = Tensor.from(gpu, [128], values(128, 3));
      return {
        run: () => groupNorm(x, 32, gamma, beta, 1e-6, { silu: true }),
        release: () => [x, gamma, beta].forEach((t) => t.release()),
      };
    },
  },
};

/** Wall and process CPU seconds per call, after a warm-up call that compiles the pipeline. */
async function timeCase(c: KernelCase, repetitions: number): Promise<{ wall: number; cpu: number }> {
  const gpu = await getGpu();
  const { run, release } = c.setup(gpu);
  run().release();
  await gpu.sync();
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < repetitions; i++) run().release();
  await gpu.sync();
  const wall = (performance.now() - start) / 1000 / repetitions;
  const cpu = process.cpuUsage(cpuStart);
  release();
  return { wall, cpu: (cpu.user + cpu.system) / 1e6 / repetitions };
}

/** Times `conv2d` for a 3×3, 128 → 128 channel convolution at 256×256, after a warm-up call. */
export async function benchConv(repetitions = 3): Promise<BenchResult> {
  const c = CASES.conv3x3;
  const { wall } = await timeCase(c, repetitions);
  return { seconds: wall, gflops: c.work / wall };
}

if (import.meta.main) {
  const names = Deno.args.length > 0 ? Deno.args : Object.keys(CASES);
  for (const name of names) {
    const c = CASES[name];
    if (!c) {
      console.error(
        `bench/kernels.ts: unknown case '${name}', expected one of ${Object.keys(CASES).join(", ")}`,
      );
      Deno.exit(2);
    }
    const { wall, cpu } = await timeCase(c, 2);
    console.error(
      `${c.name.padEnd(48)} ${wall.toFixed(3)} s  ${(c.work / wall).toFixed(2)} ${c.unit}/s wall  ` +
        `${(c.work / cpu).toFixed(2)} ${c.unit} per CPU second`,
    );
  }
}
