/**
 * Measures the scale_factor for a latent diffusion model trained on an
 * autoencoder's latents: 1 / the standard deviation of the posterior means of
 * the training images, so the diffusion sees latents of unit variance (the
 * latent-diffusion recipe's "scale by std").
 *
 * Usage: deno run -A --config deno.json pipelines/builtin/latent_scale.ts AUTOENCODER INDEX.json [COUNT] [EXCLUDE.txt]
 *
 * EXCLUDE.txt lists held-out images (as the train section's `exclude` does):
 * entries whose file name appears there are left out.
 */
import { dirname, join } from "node:path";
import { getGpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { imageToModelInput, loadImage } from "../../io/image/load.ts";
import { loadAutoencoder } from "../../stages/autoencoder/load.ts";

const [modelPath, indexPath, countText, excludePath] = Deno.args;
if (!modelPath || !indexPath) {
  console.error("usage: latent_scale.ts AUTOENCODER INDEX.json [COUNT] [EXCLUDE.txt]");
  Deno.exit(2);
}
const gpu = await getGpu();
const { model } = await loadAutoencoder(gpu, modelPath);
const index = JSON.parse(Deno.readTextFileSync(indexPath)) as Record<string, { path: string }>;
const excluded = new Set(
  excludePath ? Deno.readTextFileSync(excludePath).split("\n").map((line) => line.trim().split("/").pop()) : [],
);
const entries = Object.values(index)
  .filter((entry) => !excluded.has(entry.path.split("/").pop()))
  .slice(0, Number(countText ?? 128));
const size = model.config.resolution;
let sum = 0, sumSquares = 0, n = 0;
for (const entry of entries) {
  const image = await loadImage(join(dirname(indexPath), entry.path));
  const x = Tensor.from(gpu, [1, 3, size, size], imageToModelInput(image, size, 3));
  const { mean, logvar } = model.encode(x);
  for (const v of await mean.read()) {
    sum += v;
    sumSquares += v * v;
    n++;
  }
  x.release();
  mean.release();
  logvar.release();
}
const average = sum / n;
const std = Math.sqrt(sumSquares / n - average * average);
console.log(JSON.stringify({ images: entries.length, mean: average, std, scale_factor: 1 / std }));
