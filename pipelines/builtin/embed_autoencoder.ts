/**
 * Replaces the first stage inside a latent diffusion model file with another
 * autoencoder file's weights, so that `--model LDM` in encode and decode uses
 * the same autoencoder as the pipelines. Meant for an autoencoder whose decoder
 * was fine-tuned with its encoder frozen: the file is rejected unless every
 * encoder and quant_conv tensor is identical, since other latents would no
 * longer match what the U-Net learned. The other tensors and the metadata are
 * kept.
 *
 * Usage: deno run -A --config deno.json pipelines/builtin/embed_autoencoder.ts LDM.safetensors AUTOENCODER.safetensors
 */
import { parseSafetensors, serializeSafetensors, type TensorToWrite } from "../../io/safetensors.ts";
import { writeFileAtomic } from "../../io/files.ts";

const PREFIX = "first_stage_model.";
const [ldmPath, aePath] = Deno.args;
if (!ldmPath || !aePath) {
  console.error("usage: embed_autoencoder.ts LDM.safetensors AUTOENCODER.safetensors");
  Deno.exit(2);
}

/** Prints one error line and exits with status 1. */
function fail(message: string): never {
  console.error(`embed_autoencoder: ${message}`);
  Deno.exit(1);
}

function read(path: string) {
  try {
    return parseSafetensors(Deno.readFileSync(path), path);
  } catch (error) {
    return fail(error instanceof Deno.errors.NotFound ? `${path}: file not found` : (error as Error).message);
  }
}

const ldm = read(ldmPath);
const ae = read(aePath);
const embedded = [...ldm.tensors.keys()].filter((name) => name.startsWith(PREFIX));
const incoming = [...ae.tensors.keys()].map((name) => PREFIX + name);
if (embedded.length !== incoming.length || !incoming.every((name) => ldm.tensors.has(name))) {
  fail(`${aePath}: its tensor names do not match the first stage inside ${ldmPath}`);
}
for (const [name, t] of ae.tensors) {
  const old = ldm.tensors.get(PREFIX + name)!;
  if (old.shape.join(",") !== t.shape.join(",")) {
    fail(`${aePath}: ${name} has shape [${t.shape}], the first stage inside ${ldmPath} has [${old.shape}]`);
  }
  const frozen = /^(encoder|quant_conv)\./.test(name);
  if (frozen && old.data.some((v, i) => v !== t.data[i])) {
    fail(`${aePath}: ${name} differs from the first stage inside ${ldmPath}; the latents would change`);
  }
}

const out = new Map<string, TensorToWrite>();
let changed = 0;
for (const [name, t] of ldm.tensors) {
  const fresh = name.startsWith(PREFIX) ? ae.tensors.get(name.slice(PREFIX.length))! : t;
  if (fresh.data.some((v, i) => v !== t.data[i])) changed++;
  out.set(name, { shape: fresh.shape, data: fresh.data as TensorToWrite["data"], dtype: fresh.dtype });
}
await writeFileAtomic(ldmPath, serializeSafetensors(out, ldm.metadata), { overwrite: true });
console.error(`${ldmPath}: first stage now ${aePath} (${changed} of ${embedded.length} tensors changed)`);
