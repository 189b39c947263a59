/**
 * Times a 1024 × 1024 × 1024 float32 matmul on the process's GPU (the vec4 kernel:
 * both operands row-major), after one untimed run that compiles the pipeline.
 */
import { getGpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { matmul } from "../kernels/matmul.ts";

const SIZE = 1024;
const RUNS = 3;

/** Measures seconds per product (the mean of 3 runs) and the GFLOP/s that gives, counting 2·N³ flops. */
export async function benchMatmul(): Promise<{ seconds: number; gflops: number }> {
  const gpu = await getGpu();
  const values = new Float32Array(SIZE * SIZE).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const a = Tensor.from(gpu, [SIZE, SIZE], values);
  const b = Tensor.from(gpu, [SIZE, SIZE], values);
  matmul(a, b).release();
  await gpu.sync();

  const start = performance.now();
  for (let i = 0; i < RUNS; i++) matmul(a, b).release();
  await gpu.sync();
  const seconds = (performance.now() - start) / 1000 / RUNS;

  a.release();
  b.release();
  return { seconds, gflops: (2 * SIZE ** 3) / seconds / 1e9 };
}

if (import.meta.main) {
  const { seconds, gflops } = await benchMatmul();
  console.log(`matmul ${SIZE}³: ${(seconds * 1000).toFixed(0)} ms, ${gflops.toFixed(2)} GFLOP/s`);
}
