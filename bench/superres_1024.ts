/**
 * The full-size super-resolution run, end to end on a real radiograph. The first
 * PNG of a folder (default `$CHEFF_DATA/cxr/nih-1024`) is reduced to 256 px by
 * cheff's image loader and upsampled by bicubic interpolation to 1024 px. Two DDIM
 * steps of a random-weight cheff-sr U-Net then sample the 1024 px image. Prints
 * the time and the peak GPU buffer memory. Not part of the tests: on a software adapter
 * it takes minutes (two U-Net calls of about 217.5 GFLOP each).
 *
 * Usage: deno run -A bench/superres_1024.ts [FOLDER] [--out big.png]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { readImageInputs, writeImageOutputs } from "../cli/images.ts";
import { getGpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { continueStream } from "../io/stream.ts";
import { resizeBicubic } from "../kernels/resize.ts";
import { CHEFF_SR } from "../stages/presets.ts";
import { srCosineSchedule } from "../stages/schedules/cosine.ts";
import { parseSuperResolutionConfig } from "../stages/superres/config.ts";
import { superResolutionParameters, SuperResolutionUnet } from "../stages/superres/network.ts";
import { philoxNoise, sampleSuperResolution } from "../stages/superres/sampler.ts";
import { randomWeights } from "./random_weights.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: { out: { type: "string" } },
  allowPositionals: true,
});
const dataDir = Deno.env.get("CHEFF_DATA") ?? join(import.meta.dirname!, "..", "..", "shared", "data");
const folder = positionals[0] ?? join(dataDir, "cxr", "nih-1024");
const names = [...Deno.readDirSync(folder)].filter((e) => e.isFile && e.name.endsWith(".png")).map((e) =>
  e.name
).sort();
if (names.length === 0) throw new Error(`${folder}: no PNG radiographs found`);
const source = join(folder, names[0]);

const gpu = await getGpu();
const low = await readImageInputs([source], { size: 256, channels: 1 });
const config = parseSuperResolutionConfig(CHEFF_SR, "cheff-sr preset");
const model = new SuperResolutionUnet(config, randomWeights(gpu, superResolutionParameters(config), 4));
await gpu.sync();
const weightBytes = gpu.pool.liveBytes;
gpu.pool.resetPeak();

const start = performance.now();
const lowTensor = Tensor.from(gpu, [1, 1, 256, 256], low.tensor.data);
const upsampled = resizeBicubic(lowTensor, 1024, 1024);
lowTensor.release();
const sample = await sampleSuperResolution(model, srCosineSchedule(), upsampled, {
  settings: { sampler: "ddim", steps: 2, eta: 0, spacing: "exact" },
  noise: philoxNoise(0),
  progress: (done, total) =>
    console.error(`step ${done}/${total}: ${((performance.now() - start) / 1000).toFixed(1)} s`),
});
upsampled.release();
const data = await sample.read();
const seconds = (performance.now() - start) / 1000;
sample.release();

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
console.log(
  `${names[0]}: 256 → 1024 px, 2 DDIM steps of a random-weight cheff-sr U-Net on ${gpu.adapterDescription}`,
);
console.log(
  `time ${seconds.toFixed(1)} s; peak GPU memory ${mib(gpu.pool.peakBytes)} (weights ${mib(weightBytes)})`,
);
if (values.out) {
  const stream = continueStream(low, "image", { shape: [1, 1, 1024, 1024], data }, {
    command: "bench superres_1024",
    steps: 2,
  });
  await writeImageOutputs(stream, values.out, { bits: 8, format: "png", overwrite: true });
}
model.release();
