/**
 * Kernel benchmarks for `deno task bench`.
 *
 * `benchConv` times the 3×3 convolution 128 → 128 channels at 256×256 (batch 1), the
 * shape that dominates the KL autoencoder's decoder.
 */
import { getGpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { conv2d } from "../kernels/conv.ts";

export interface BenchResult {
  /** Mean seconds per call. */
  seconds: number;
  gflops: number;
}

/** Times `conv2d` for a 3×3, 128 → 128 channel convolution at 256×256, after a warm-up call. */
export async function benchConv(repetitions = 3): Promise<BenchResult> {
  const gpu = await getGpu();
  const channels = 128, size = 256;
  const values = (count: number, seed: number) =>
    new Float32Array(count).map((_, i) => Math.sin(i * 0.37 + seed));
  const x = Tensor.from(gpu, [1, channels, size, size], values(channels * size * size, 1));
  const w = Tensor.from(
    gpu,
    [channels, channels, 3, 3],
    values(channels * channels * 9, 2).map((v) => v * 0.03),
  );
  const b = Tensor.from(gpu, [channels], values(channels, 3));

  // The warm-up call compiles the pipeline and transposes the weights.
  conv2d(x, w, b, { padding: 1 }).release();
  await gpu.sync();

  const start = performance.now();
  for (let i = 0; i < repetitions; i++) conv2d(x, w, b, { padding: 1 }).release();
  await gpu.sync();
  const seconds = (performance.now() - start) / 1000 / repetitions;

  x.release();
  w.release();
  b.release();
  const flop = 2 * channels * channels * 9 * size * size;
  return { seconds, gflops: flop / seconds / 1e9 };
}

if (import.meta.main) {
  const result = await benchConv();
  console.error(
    `conv2d 3×3 128→128 at 256×256: ${result.seconds.toFixed(3)} s, ${result.gflops.toFixed(2)} GFLOP/s`,
  );
}
