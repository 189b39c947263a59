/**
 * Benchmarks of the full-size latent diffusion U-Nets (random weights): one
 * noise prediction at 64×64 latents, unconditional and with a 150-token report
 * context. Costs are the multiply-accumulate counts of the released networks
 * (FLOP = 2 × MAC); PyTorch CPU timing on the 2-core reference machine where known.
 */
import { getGpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { parseLatentDiffusionConfig } from "../stages/latent/config.ts";
import { UNet, unetParameters } from "../stages/latent/unet.ts";
import { CHEFF_LDM_T2I, CHEFF_LDM_UNCOND } from "../stages/presets.ts";
import { type BenchResult, timeIt } from "./timing.ts";
import { randomWeights } from "./random_weights.ts";

async function unetStep(preset: unknown, name: string, gflop: number, pytorchSeconds?: number): Promise<BenchResult> {
  const gpu = await getGpu();
  const config = parseLatentDiffusionConfig(preset, name).unet;
  const unet = new UNet(config, randomWeights(gpu, unetParameters(config), 3));
  const x = Tensor.from(gpu, [1, 3, 64, 64], new Float32Array(3 * 64 * 64).map((_, i) => Math.sin(i)));
  const context = config.contextDim
    ? Tensor.from(gpu, [1, 150, config.contextDim], new Float32Array(150 * config.contextDim).map((_, i) => Math.cos(i) * 0.1))
    : undefined;
  gpu.pool.resetPeak();
  const seconds = await timeIt(async () => {
    const eps = unet.eps(x, [500], context);
    await eps.read();
    eps.release();
  });
  const peakBytes = gpu.pool.peakBytes;
  x.release();
  context?.release();
  unet.release();
  return { name, seconds, gflop, peakBytes, pytorchSeconds };
}

export const benches = {
  "unet-uncond": () => unetStep(CHEFF_LDM_UNCOND, "cheff-ldm-uncond U-Net step, 64×64", 202, 1.95),
  "unet-t2i": () => unetStep(CHEFF_LDM_T2I, "cheff-ldm-t2i U-Net step, 64×64, 150 tokens", 322),
};
