/**
 * Speed and memory of one full-size super-resolution U-Net call (the cheff-sr
 * preset, random weights) at 1024×1024, batch 1: about 217.5 GFLOP
 * (108.7 G multiply-accumulates, counted on the reference network).
 */
import { getGpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { CHEFF_SR } from "../stages/presets.ts";
import { parseSuperResolutionConfig } from "../stages/superres/config.ts";
import { superResolutionParameters, SuperResolutionUnet } from "../stages/superres/network.ts";
import { randomWeights } from "./random_weights.ts";

/** GFLOP of one released SR U-Net call at 1024×1024 (2 × multiply-accumulates). */
export const SR_UNET_GFLOP_1024 = 217.5;

export interface SuperResolutionBench {
  /** Seconds of the call, GPU work included. */
  seconds: number;
  /** Achieved GFLOP/s. */
  gflops: number;
  /** Peak bytes held in the GPU buffer pool during the call (weights included). */
  peakBytes: number;
}

/**
 * Times one U-Net step of the cheff-sr network at 1024 px with random weights.
 * There is no warm-up call, because one call takes minutes on a software adapter.
 * Shader compilation adds up to about 0.35 s per pipeline on first use (measured on lavapipe).
 */
export async function benchSuperres(): Promise<SuperResolutionBench> {
  const gpu = await getGpu();
  const config = parseSuperResolutionConfig(CHEFF_SR, "cheff-sr preset");
  const model = new SuperResolutionUnet(config, randomWeights(gpu, superResolutionParameters(config), 3));
  const size = 1024;
  const x = Tensor.from(
    gpu,
    [1, 2, size, size],
    new Float32Array(2 * size * size).map((_, i) => Math.sin(i * 0.01)),
  );
  await gpu.sync();
  gpu.pool.resetPeak();

  const start = performance.now();
  const eps = model.forward(x, [999]);
  await eps.read();
  const seconds = (performance.now() - start) / 1000;
  const peakBytes = gpu.pool.peakBytes;

  eps.release();
  x.release();
  model.release();
  return { seconds, gflops: SR_UNET_GFLOP_1024 / seconds, peakBytes };
}

if (import.meta.main) {
  const result = await benchSuperres();
  console.log(
    `cheff-sr U-Net, 1024 px: ${result.seconds.toFixed(1)} s, ${result.gflops.toFixed(2)} GFLOP/s, ` +
      `peak GPU memory ${(result.peakBytes / 2 ** 20).toFixed(0)} MiB`,
  );
}

/** Entries for `deno task bench`. */
export const benches = {
  "sr-step": async () => {
    const result = await benchSuperres();
    return {
      name: "cheff-sr U-Net step, 1024 px",
      seconds: result.seconds,
      gflop: SR_UNET_GFLOP_1024,
      peakBytes: result.peakBytes,
      pytorchSeconds: 7.5,
    };
  },
};
