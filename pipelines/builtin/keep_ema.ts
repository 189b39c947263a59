/**
 * Makes a latent diffusion model file ship only its EMA U-Net: the EMA shadow
 * weights (`model_ema.*`) take the place of the raw weights under
 * `model.diffusion_model.*`, and the shadows and their counters are dropped. The
 * built-in pipelines sample with the EMA weights, so they give the same images
 * from the smaller file without `"ema": true`. The other tensors and the
 * metadata are kept.
 *
 * Usage: deno run -A --config deno.json pipelines/builtin/keep_ema.ts LDM.safetensors
 */
import { writeFileAtomic } from "../../io/files.ts";
import { parseSafetensors, serializeSafetensors, type TensorToWrite } from "../../io/safetensors.ts";
import { EMA_PREFIX, emaKey, UNET_PREFIX } from "../../stages/latent/load.ts";

const [path] = Deno.args;
if (!path) {
  console.error("usage: keep_ema.ts LDM.safetensors");
  Deno.exit(2);
}

/** Prints one error line and exits with status 1. */
function fail(message: string): never {
  console.error(`keep_ema: ${message}`);
  Deno.exit(1);
}

let file;
try {
  file = parseSafetensors(Deno.readFileSync(path), path);
} catch (error) {
  fail(error instanceof Deno.errors.NotFound ? `${path}: file not found` : (error as Error).message);
}

const out = new Map<string, TensorToWrite>();
let replaced = 0;
for (const [name, t] of file.tensors) {
  if (name.startsWith(EMA_PREFIX)) continue;
  let source = t;
  if (name.startsWith(UNET_PREFIX)) {
    const shadow = file.tensors.get(emaKey(name.slice(UNET_PREFIX.length)));
    if (!shadow) fail(`${path}: ${name} has no EMA shadow`);
    if (shadow.shape.join(",") !== t.shape.join(",")) {
      fail(`${path}: the EMA shadow of ${name} has shape [${shadow.shape}], the weight [${t.shape}]`);
    }
    source = shadow;
    replaced++;
  }
  out.set(name, { shape: source.shape, data: source.data as TensorToWrite["data"], dtype: source.dtype });
}
if (replaced === 0) fail(`${path}: no U-Net weights (${UNET_PREFIX}*)`);
await writeFileAtomic(path, serializeSafetensors(out, file.metadata), { overwrite: true });
console.error(`${path}: ${replaced} U-Net weights replaced by their EMA shadows; the shadows dropped`);
