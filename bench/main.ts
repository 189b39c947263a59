/**
 * `deno task bench`: speed and memory of the full-size networks and the heavy
 * kernels on this machine's WebGPU adapter, with random weights. Prints seconds,
 * achieved GFLOP/s, peak GPU buffer memory, and the ratio to PyTorch's CPU build
 * timed on the 2-core reference machine (ratio = PyTorch seconds / cheff seconds;
 * the target is ≥ 0.1, i.e. within 10×).
 *
 * Run one entry with `deno task bench NAME` (names below), all with no argument.
 * Full-size networks take minutes each on lavapipe.
 */
import { getGpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { parseAutoencoderConfig } from "../stages/autoencoder/config.ts";
import { Autoencoder, autoencoderParameters } from "../stages/autoencoder/network.ts";
import { CHEFF_AE } from "../stages/presets.ts";
import { randomWeights } from "./random_weights.ts";
import { type Bench, type BenchResult, timeIt } from "./timing.ts";

const aeEncoder: Bench = async () => {
  const gpu = await getGpu();
  const config = parseAutoencoderConfig(CHEFF_AE, "cheff-ae");
  const model = new Autoencoder(config, randomWeights(gpu, autoencoderParameters(config), 1));
  const x = Tensor.from(gpu, [1, 3, 256, 256], new Float32Array(3 * 256 * 256).map((_, i) => Math.sin(i)));
  gpu.pool.resetPeak();
  const seconds = await timeIt(async () => {
    const { mean, logvar } = model.encode(x);
    await mean.read();
    mean.release();
    logvar.release();
  });
  const peakBytes = gpu.pool.peakBytes;
  x.release();
  model.release();
  return { name: "cheff-ae encoder, 256 px", seconds, gflop: 345, peakBytes, pytorchSeconds: 2.4 };
};

const aeDecoder: Bench = async () => {
  const gpu = await getGpu();
  const config = parseAutoencoderConfig(CHEFF_AE, "cheff-ae");
  const model = new Autoencoder(config, randomWeights(gpu, autoencoderParameters(config), 2));
  const z = Tensor.from(gpu, [1, 3, 64, 64], new Float32Array(3 * 64 * 64).map((_, i) => Math.cos(i)));
  gpu.pool.resetPeak();
  const seconds = await timeIt(async () => {
    const x = model.decode(z);
    await x.read();
    x.release();
  });
  const peakBytes = gpu.pool.peakBytes;
  z.release();
  model.release();
  return { name: "cheff-ae decoder, 64×64 latent", seconds, gflop: 671, peakBytes, pytorchSeconds: 4.0 };
};

const conv3x3: Bench = async () => {
  const { benchConv } = await import("./kernels.ts");
  const { seconds } = await benchConv();
  const gflop = (2 * 128 * 128 * 9 * 256 * 256) / 1e9;
  return { name: "conv 3×3, 128→128 channels, 256×256", seconds, gflop };
};

const matmul1024: Bench = async () => {
  const { benchMatmul } = await import("./matmul.ts");
  const { seconds } = await benchMatmul();
  return { name: "matmul 1024×1024×1024", seconds, gflop: 2 * 1024 ** 3 / 1e9 };
};

const BENCHES: Record<string, Bench> = {
  conv: conv3x3,
  matmul: matmul1024,
  "ae-encoder": aeEncoder,
  "ae-decoder": aeDecoder,
};

/** Registers further benchmarks (the latent and super-resolution stages, training). */
export function addBench(name: string, bench: Bench): void {
  BENCHES[name] = bench;
}

function format(result: BenchResult): string {
  const rate = result.gflop / result.seconds;
  const parts = [
    `${result.name.padEnd(44)} ${result.seconds.toFixed(2).padStart(8)} s` +
    (result.gflop > 0 ? ` ${rate.toFixed(2).padStart(8)} GFLOP/s` : ""),
  ];
  if (result.peakBytes !== undefined) parts.push(`peak ${(result.peakBytes / 2 ** 20).toFixed(0)} MiB`);
  if (result.pytorchSeconds !== undefined) {
    parts.push(`PyTorch CPU ${result.pytorchSeconds} s, ratio ${(result.pytorchSeconds / result.seconds).toFixed(3)} (target ≥ 0.1)`);
  }
  if (result.note) parts.push(result.note);
  return parts.join("  ");
}

async function loadOptionalBenches(): Promise<void> {
  for (const module of ["./latent.ts", "./superres.ts", "./training.ts"]) {
    try {
      const loaded = await import(module);
      for (const [name, bench] of Object.entries(loaded.benches ?? {})) addBench(name, bench as Bench);
    } catch (error) {
      if (!(error instanceof TypeError && String(error.message).includes("Module not found"))) throw error;
    }
  }
}

if (import.meta.main) {
  await loadOptionalBenches();
  const gpu = await getGpu();
  const wanted = Deno.args.length > 0 ? Deno.args : Object.keys(BENCHES);
  console.log(`cheff bench on ${gpu.adapterDescription}`);
  for (const name of wanted) {
    const bench = BENCHES[name];
    if (!bench) {
      console.error(`bench: unknown benchmark '${name}', expected one of ${Object.keys(BENCHES).join(", ")}`);
      Deno.exit(2);
    }
    console.log(format(await bench()));
  }
}
