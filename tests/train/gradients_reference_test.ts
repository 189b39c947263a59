/**
 * Gradients of L = Σ w · network(input) through the unchanged network code on the
 * host path, against the reference kit's PyTorch gradients: the input gradient
 * and every listed parameter gradient of the autoencoder, both U-Nets (with the
 * text encoder) and the super-resolution U-Net. Tensors that are zero in exact
 * arithmetic (the reference stores only float32 rounding noise for them) get an
 * absolute bound of 1e-6 of the network's largest gradient instead.
 */
import assert from "node:assert/strict";
import { getGpu, type Gpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { type HostTensor, parseSafetensors } from "../../io/safetensors.ts";
import { loadAutoencoder } from "../../stages/autoencoder/load.ts";
import { loadUNet } from "../../stages/latent/load.ts";
import { readModelFile } from "../../stages/load.ts";
import { loadSuperResolution } from "../../stages/superres/load.ts";
import { loadTextEncoder } from "../../stages/text/load.ts";
import type { Weights } from "../../stages/weights.ts";
import { type Gradients, Tape } from "../../train/autograd.ts";
import { kitTest, referencePath } from "../kit.ts";
import { Autoencoder } from "../../stages/autoencoder/network.ts";
import { UNet } from "../../stages/latent/unet.ts";
import { TextEncoder } from "../../stages/text/encoder.ts";
import { SuperResolutionUnet } from "../../stages/superres/network.ts";

const GRADIENTS = referencePath("gradients.safetensors");
const AE = referencePath("ae.pt");
const UNCOND = referencePath("ldm_uncond.pt");
const T2I = referencePath("ldm_t2i.pt");
const SR = referencePath("sr.pt");

/** The pass bar of scale-relative error; the host path reaches about 3e-5 (the reference itself is within 1.3e-4 of float64). */
const TOLERANCE = 1e-3;
/** Rounding-noise tensors: |ours − reference| ≤ this · max |gradient| over the network. */
const NOISE_BOUND = 1e-6;
/** Tensors the reference kit lists as exactly zero in exact arithmetic. */
const ROUNDING_NOISE = new Set([
  "ae.grad.encoder.mid.attn_1.k.bias",
  "ae.grad.encoder.mid.attn_1.proj_out.bias",
  "ae.grad.encoder.mid.attn_1.v.bias",
]);

interface Reference {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

let cached: Reference | undefined;
function reference(): Reference {
  cached ??= parseSafetensors(Deno.readFileSync(GRADIENTS), GRADIENTS);
  return cached;
}

function hostTensor(name: string): Tensor {
  const t = reference().tensors.get(name);
  if (!t) throw new Error(`gradients.safetensors has no ${name}`);
  return Tensor.host(t.shape, Float32Array.from(t.data as Float32Array));
}

function expected(name: string): Float32Array {
  return reference().tensors.get(name)!.data as Float32Array;
}

function ints(name: string): number[] {
  return Array.from(reference().tensors.get(name)!.data as ArrayLike<number | bigint>, Number);
}

function maxAbs(values: Float32Array): number {
  let m = 0;
  for (const v of values) m = Math.max(m, Math.abs(v));
  return m;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/**
 * Compares each listed gradient with the reference and returns the worst
 * scale-relative error among the genuine ones. `lookup` maps a reference name to
 * our gradient.
 */
function compare(net: string, names: string[], lookup: (name: string) => Float32Array | undefined): number {
  const networkScale = Math.max(...names.map((name) => maxAbs(expected(`${net}.grad.${name}`))));
  let worst = 0;
  for (const name of names) {
    const key = `${net}.grad.${name}`;
    const ours = lookup(name);
    assert.ok(ours, `${key}: no gradient reached this parameter`);
    const reference = expected(key);
    const diff = maxDiff(ours, reference);
    if (ROUNDING_NOISE.has(key)) {
      assert.ok(
        diff <= NOISE_BOUND * networkScale,
        `${key}: ${diff.toExponential(2)} over the rounding-noise bound`,
      );
      continue;
    }
    const error = diff / maxAbs(reference);
    assert.ok(error <= TOLERANCE, `${key}: error ${error.toExponential(2)} of scale exceeds ${TOLERANCE}`);
    worst = Math.max(worst, error);
  }
  return worst;
}

function parameterList(net: string): string[] {
  return JSON.parse(reference().metadata[`params.${net}`]);
}

function gradientOf(grads: Gradients, weights: Weights, name: string): Float32Array | undefined {
  const g = grads.get(weights.get(name));
  return g?.data;
}

function checkInput(net: string, grads: Gradients, input: Tensor, name = "input"): number {
  const ours = grads.get(input);
  assert.ok(ours, `${net}: no gradient reached the ${name}`);
  const error = maxDiff(ours.data, expected(`${net}.grad.${name}`)) / maxAbs(expected(`${net}.grad.${name}`));
  assert.ok(
    error <= TOLERANCE,
    `${net}.grad.${name}: error ${error.toExponential(2)} of scale exceeds ${TOLERANCE}`,
  );
  return error;
}

function config(): Record<string, any> {
  return JSON.parse(reference().metadata.config);
}

kitTest("autoencoder gradients match the reference", [GRADIENTS, AE], async () => {
  const { model } = await loadAutoencoder(undefined, AE, { config: config().ae });
  const network = new Autoencoder(model.config, model.weights);
  const names = parameterList("ae");
  const input = hostTensor("ae.input");
  const tape = new Tape();
  tape.watch(input, ...names.map((name) => model.weights.get(name)));
  const out = tape.run(() => network.decode(network.encode(input).mean));
  assert.ok(maxDiff(out.data, expected("ae.out")) <= 1e-5 * maxAbs(expected("ae.out")), "forward output");

  const grads = tape.backward(out, hostTensor("ae.w"));
  const inputError = checkInput("ae", grads, input);
  const worst = compare("ae", names, (name) => gradientOf(grads, model.weights, name));
  console.log(
    `autoencoder: input ${inputError.toExponential(2)}, parameters ${worst.toExponential(2)} of scale`,
  );
  tape.release();
});

async function checkUnconditional(gpu: Gpu | undefined, label: string): Promise<void> {
  const file = await readModelFile(UNCOND);
  const { model } = await loadUNet(gpu, file, { config: config().ldm_uncond });
  const network = new UNet(model.config, model.weights);
  const prefix = "model.diffusion_model.";
  const names = parameterList("unet_uncond");
  const hostInput = hostTensor("unet_uncond.input");
  const input = Tensor.from(gpu, hostInput.shape, hostInput.data);
  const tape = new Tape();
  tape.watch(input, ...names.map((name) => model.weights.get(name.slice(prefix.length))));
  const out = tape.run(() => network.eps(input, ints("unet_uncond.t")));
  const w = hostTensor("unet_uncond.w");
  const grads = tape.backward(out, Tensor.from(gpu, w.shape, w.data));

  // Read the gradients back (a no-op copy on the host) before comparing.
  const values = new Map<string, Float32Array>();
  for (const name of names) {
    const g = grads.get(model.weights.get(name.slice(prefix.length)));
    if (g) values.set(name, await g.read());
  }
  const inputGrad = await grads.get(input)!.read();
  const inputError = maxDiff(inputGrad, expected("unet_uncond.grad.input")) /
    maxAbs(expected("unet_uncond.grad.input"));
  assert.ok(inputError <= TOLERANCE, `unet_uncond.grad.input: error ${inputError.toExponential(2)} of scale`);
  const worst = compare("unet_uncond", names, (name) => values.get(name));
  console.log(
    `unconditional U-Net (${label}): input ${inputError.toExponential(2)}, parameters ${
      worst.toExponential(2)
    } of scale`,
  );
  tape.release();
  model.release();
}

kitTest("unconditional U-Net gradients match the reference", [GRADIENTS, UNCOND], async () => {
  await checkUnconditional(undefined, "host");
});

kitTest("unconditional U-Net gradients on the GPU match the reference", [GRADIENTS, UNCOND], async () => {
  await checkUnconditional(await getGpu(), "GPU");
});

kitTest(
  "report-conditioned U-Net and text encoder gradients match the reference",
  [GRADIENTS, T2I],
  async () => {
    const file = await readModelFile(T2I);
    const ldmConfig = config().ldm_t2i;
    const { model: unet } = await loadUNet(undefined, file, { config: ldmConfig });
    const { model: encoder } = await loadTextEncoder(undefined, file, { config: ldmConfig });
    const network = new UNet(unet.config, unet.weights);
    const textEncoder = new TextEncoder(encoder.config, encoder.weights, encoder.tokenTable);
    const table = encoder.tokenTable as Tensor;

    const unetPrefix = "model.diffusion_model.";
    const textPrefix = "cond_stage_model.transformer.";
    const names = parameterList("unet_t2i");
    const parameter = (name: string) =>
      name.startsWith(unetPrefix)
        ? unet.weights.get(name.slice(unetPrefix.length))
        : name === `${textPrefix}token_emb.weight`
        ? table
        : encoder.weights.get(name.slice(textPrefix.length));

    const input = hostTensor("unet_t2i.input");
    const tokens = Int32Array.from(ints("unet_t2i.tokens"));
    const tape = new Tape({ retainAll: true });
    tape.watch(input, ...names.map(parameter));
    let context: Tensor | undefined;
    const out = tape.run(() => {
      context = textEncoder.context(tokens, 2);
      return network.eps(input, ints("unet_t2i.t"), context);
    });
    const contextError = maxDiff(context!.data, expected("unet_t2i.context")) /
      maxAbs(expected("unet_t2i.context"));
    assert.ok(contextError <= 1e-5, `context: error ${contextError.toExponential(2)}`);

    const grads = tape.backward(out, hostTensor("unet_t2i.w"));
    const inputError = checkInput("unet_t2i", grads, input);
    const contextGradError = checkInput("unet_t2i", grads, context!, "context");
    const lookup = tape.nodes.find((node) => node.op === "embedding");
    assert.ok(lookup, "the token embedding was recorded");
    const tokenError = checkInput("unet_t2i", grads, lookup.output, "token_emb_out");
    const worst = compare("unet_t2i", names, (name) => grads.get(parameter(name))?.data);
    console.log(
      `report-conditioned U-Net: input ${inputError.toExponential(2)}, context ${
        contextGradError.toExponential(2)
      }, ` +
        `token embeddings ${tokenError.toExponential(2)}, parameters ${worst.toExponential(2)} of scale`,
    );
    tape.release();
  },
);

kitTest("super-resolution U-Net gradients match the reference", [GRADIENTS, SR], async () => {
  const { model } = await loadSuperResolution(undefined, SR, { config: config().sr });
  const network = new SuperResolutionUnet(model.config, model.weights);
  const names = parameterList("sr");
  const input = hostTensor("sr.input");
  const tape = new Tape();
  tape.watch(input, ...names.map((name) => model.weights.get(name)));
  const out = tape.run(() => network.forward(input, ints("sr.t")));
  const grads = tape.backward(out, hostTensor("sr.w"));
  const inputError = checkInput("sr", grads, input);
  const worst = compare("sr", names, (name) => gradientOf(grads, model.weights, name));
  console.log(
    `super-resolution U-Net: input ${inputError.toExponential(2)}, parameters ${
      worst.toExponential(2)
    } of scale`,
  );
  tape.release();
});
