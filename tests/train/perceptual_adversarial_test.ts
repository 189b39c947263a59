/**
 * The autoencoder step with the perceptual and adversarial terms, on a tiny
 * model on the host. The tests check the perceptual term's scale in the loss and
 * the adaptive weight against the gradients that define it. They check the
 * generator's and the discriminator's gradients by finite differences.
 */
import assert from "node:assert/strict";
import { Tensor } from "../../gpu/tensor.ts";
import { parseAutoencoderConfig } from "../../stages/autoencoder/config.ts";
import { Autoencoder, autoencoderParameters } from "../../stages/autoencoder/network.ts";
import { Weights } from "../../stages/weights.ts";
import { Tape } from "../../train/autograd.ts";
import { hingeLoss, initialDiscriminatorWeights, PatchDiscriminator } from "../../train/discriminator.ts";
import { Lpips } from "../../train/lpips.ts";
import {
  autoencoderStep,
  type AutoencoderStepOptions,
  drawPosteriorNoise,
} from "../../train/recipes/autoencoder.ts";
import { initialWeights } from "../../train/setup.ts";
import { randomValues } from "../kernels/helpers.ts";
import { randomLpipsWeights, TINY_AUTOENCODER } from "./helpers.ts";

const SHAPE = [2, 3, 16, 16];
const config = parseAutoencoderConfig(
  { ...TINY_AUTOENCODER, ddconfig: { ...TINY_AUTOENCODER.ddconfig, resolution: 16 } },
  "test",
);
const model = new Autoencoder(
  config,
  Weights.upload(undefined, initialWeights(autoencoderParameters(config), 3)),
);
const params = [...model.weights.tensors].filter(([name]) => !name.includes("#"));
const images = Tensor.host(SHAPE, randomValues(2 * 3 * 16 * 16, 21));
const noise = (latentSize: number) => drawPosteriorNoise(0, 1, [0, 1], latentSize);
const lpips = Lpips.fromTensors(undefined, randomLpipsWeights(11), "test weights");
const discriminatorConfig = { inChannels: 3, ndf: 4, layers: 2 };
const discriminator = PatchDiscriminator.upload(
  undefined,
  discriminatorConfig,
  initialDiscriminatorWeights(discriminatorConfig, 4),
);
const lastLayer = model.weights.get("decoder.conv_out.weight");

/** Runs one step and returns its loss, terms and gradients by name (the discriminator's under "D."). */
async function step(options: Partial<AutoencoderStepOptions>) {
  const tape = new Tape();
  for (const [, t] of params) tape.watch(t);
  const result = await autoencoderStep(tape, model, images, noise, { klWeight: 1e-6, ...options });
  const grads = new Map<string, Float32Array>();
  for (const [name, t] of params) {
    const g = result.grads.get(t);
    if (g) grads.set(name, g.data.slice());
  }
  for (const [name, t] of discriminator.weights.tensors) {
    const g = result.grads.get(t);
    if (g) grads.set(`D.${name}`, g.data.slice());
  }
  result.grads.release();
  tape.release();
  return { ...result, grads };
}

const norm = (values: ArrayLike<number>) => Math.sqrt(Array.from(values).reduce((a, v) => a + v * v, 0));

/**
 * Measures the slope of `f` along the unit vector of `gradient` in `weight`'s values,
 * by central differences. For the true gradient it equals the gradient's norm.
 * The step is small because the tiny discriminator's LeakyReLUs and batch
 * statistics put kinks close together. Moving all values at once keeps the slope
 * well above float32 rounding.
 */
function directionalSlope(weight: Tensor, gradient: Float32Array, f: () => number): number {
  const saved = weight.data.slice();
  const length = norm(gradient);
  const h = 1e-4;
  const at = (t: number) => {
    for (let i = 0; i < saved.length; i++) weight.data[i] = saved[i] + (t * gradient[i]) / length;
    return f();
  };
  const slope = (at(h) - at(-h)) / (2 * h);
  weight.data.set(saved);
  return slope;
}

Deno.test("the perceptual term adds weight · C·H·W · mean LPIPS to the loss", async () => {
  const plain = await step({});
  const perceptual = await step({ perceptual: { lpips, weight: 0.5 } });
  const pixels = 3 * 16 * 16;
  const added = perceptual.loss - plain.loss;
  const expected = 0.5 * pixels * perceptual.perceptualLoss!;
  assert.ok(perceptual.perceptualLoss! > 0);
  assert.ok(Math.abs(added - expected) <= 1e-4 * expected, `added ${added}, expected ${expected}`);
});

Deno.test("the adversarial terms: adaptive weight, generator gradient and discriminator gradients", async () => {
  const perceptual = { lpips, weight: 1 };
  const adversarial = { discriminator, weight: 0.5, lastLayer };
  const off = await step({ perceptual, adversarial: { ...adversarial, active: false } });
  const on = await step({ perceptual, adversarial: { ...adversarial, active: true } });
  assert.equal(off.adversarial, undefined);
  assert.ok(
    ![...off.grads.keys()].some((name) => name.startsWith("D.")),
    "no discriminator gradients before disc_start",
  );
  const { weight: lambda, generatorLoss } = on.adversarial!;
  assert.ok(lambda > 0);

  // on − off = λ · ∇g for every autoencoder parameter; at the last layer it defines λ itself.
  const generatorGrad = (name: string) =>
    on.grads.get(name)!.map((v, i) => (v - off.grads.get(name)![i]) / lambda);
  const nllAtLast = norm(off.grads.get("decoder.conv_out.weight")!);
  const generatorAtLast = norm(generatorGrad("decoder.conv_out.weight"));
  const expected = 0.5 * nllAtLast / (generatorAtLast + 1e-4);
  assert.ok(
    Math.abs(lambda - expected) <= 1e-3 * expected,
    `adaptive weight ${lambda}, expected ${expected}`,
  );
  assert.ok(Math.abs(on.loss - off.loss - lambda * generatorLoss) <= 1e-5 * Math.abs(on.loss));

  // g = −mean(D(decode(z))) with the posterior sample fixed: its gradient by finite differences.
  const posterior = model.encode(images);
  const draws = noise(posterior.mean.size / 2);
  const z = Tensor.host(
    posterior.mean.shape,
    posterior.mean.data.map((m, i) => m + Math.exp(0.5 * posterior.logvar.data[i]) * draws[i]),
  );
  const g = () => {
    const logits = discriminator.forward(model.decode(z));
    return -logits.data.reduce((a, v) => a + v, 0) / logits.size;
  };
  for (const name of ["decoder.conv_out.weight", "decoder.conv_in.weight", "post_quant_conv.weight"]) {
    const analytic = generatorGrad(name);
    const slope = directionalSlope(model.weights.get(name), analytic, g);
    assert.ok(
      Math.abs(slope - norm(analytic)) <= 0.05 * norm(analytic),
      `${name}: ${norm(analytic)} against ${slope}`,
    );
  }

  // The discriminator's gradients: the hinge loss on D(x) and D(x̂), with x̂ fixed, by finite differences.
  const reconstruction = model.decode(z);
  const hinge = () =>
    hingeLoss(discriminator.forward(images).data, discriminator.forward(reconstruction).data).loss;
  assert.ok(Math.abs(hinge() - on.adversarial!.discriminatorLoss) <= 1e-5);
  for (const name of ["main.0.bias", "main.3.weight", "main.5.weight", "main.8.weight"]) {
    const analytic = on.grads.get(`D.${name}`)!;
    const slope = directionalSlope(discriminator.weights.get(name), analytic, hinge);
    assert.ok(
      Math.abs(slope - norm(analytic)) <= 0.05 * norm(analytic),
      `D.${name}: ${norm(analytic)} against ${slope}`,
    );
  }
});
