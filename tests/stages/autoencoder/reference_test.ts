import assert from "node:assert/strict";
import { getGpu } from "../../../gpu/device.ts";
import { Tensor } from "../../../gpu/tensor.ts";
import { parseSafetensors } from "../../../io/safetensors.ts";
import { loadAutoencoder } from "../../../stages/autoencoder/load.ts";
import { autoencoderParameters } from "../../../stages/autoencoder/network.ts";
import { parseAutoencoderConfig } from "../../../stages/autoencoder/config.ts";
import { CHEFF_AE } from "../../../stages/presets.ts";
import { relativeError } from "../../kernels/helpers.ts";
import { kitTest, referencePath } from "../../kit.ts";

const AE = referencePath("ae.pt");
const IO = referencePath("ae_io.safetensors");
const LDM = referencePath("ldm_uncond.pt");

function storedConfig(): unknown {
  return JSON.parse(parseSafetensors(Deno.readFileSync(IO), IO).metadata.config);
}

function reference(name: string): { shape: number[]; data: Float32Array } {
  const file = parseSafetensors(Deno.readFileSync(IO), IO);
  const t = file.tensors.get(name)!;
  return { shape: t.shape, data: t.data as Float32Array };
}

kitTest("autoencoder reproduces the reference posterior and decoder on the GPU", [AE, IO], async () => {
  const gpu = await getGpu();
  const { model } = await loadAutoencoder(gpu, AE, { config: storedConfig() });
  const x = reference("x");
  const posterior = model.encode(Tensor.from(gpu, x.shape, x.data));
  const mean = reference("posterior.mean");
  const logvar = reference("posterior.logvar");
  const meanError = relativeError(await posterior.mean.read(), mean.data);
  const logvarError = relativeError(await posterior.logvar.read(), logvar.data);
  assert.ok(meanError <= 1e-4, `posterior.mean error ${meanError}`);
  assert.ok(logvarError <= 1e-4, `posterior.logvar error ${logvarError}`);

  const decoded = model.decode(Tensor.from(gpu, mean.shape, mean.data));
  const decodedError = relativeError(await decoded.read(), reference("decoded").data);
  assert.ok(decodedError <= 1e-4, `decoded error ${decodedError}`);
  console.log(
    `ae: mean ${meanError.toExponential(2)}, logvar ${logvarError.toExponential(2)}, decoded ${
      decodedError.toExponential(2)
    }`,
  );
  model.release();
});

kitTest(
  "autoencoder inside the latent diffusion checkpoint gives the same posterior",
  [LDM, IO],
  async () => {
    const gpu = await getGpu();
    const { model } = await loadAutoencoder(gpu, LDM, {
      config: JSON.parse(parseSafetensors(Deno.readFileSync(IO), IO).metadata.config),
    });
    const x = reference("x");
    const posterior = model.encode(Tensor.from(gpu, x.shape, x.data));
    const error = relativeError(await posterior.mean.read(), reference("posterior.mean").data);
    assert.ok(error <= 1e-4, `posterior.mean error ${error}`);
    model.release();
  },
);

kitTest("autoencoder host reference path matches the reference decoder", [AE, IO], async () => {
  const { model } = await loadAutoencoder(undefined, AE, { config: storedConfig() });
  const mean = reference("posterior.mean");
  const decoded = model.decode(Tensor.host(mean.shape, mean.data.slice(0, mean.data.length)));
  const error = relativeError(decoded.data, reference("decoded").data);
  assert.ok(error <= 1e-4, `decoded error ${error}`);
});

kitTest("autoencoder without a stored config and with other shapes asks for --config", [AE], async () => {
  await assert.rejects(() => loadAutoencoder(undefined, AE), /pass --config FILE/);
});

kitTest("cheff-ae preset names every autoencoder key of the released file", [
  referencePath("manifests/cheff_autoencoder.json"),
], () => {
  const manifest = JSON.parse(Deno.readTextFileSync(referencePath("manifests/cheff_autoencoder.json")));
  const expected = autoencoderParameters(parseAutoencoderConfig(CHEFF_AE, "preset")).shapes;
  const entries: { key: string; shape: number[] }[] = manifest.state_dict;
  let ignored = 0;
  const seen = new Set<string>();
  for (const { key, shape } of entries) {
    if (key.startsWith("loss.")) {
      ignored++;
      continue;
    }
    assert.deepEqual(expected.get(key), shape, `key ${key}`);
    seen.add(key);
  }
  assert.equal(seen.size, expected.size, "every preset parameter appears in the manifest");
  assert.ok(ignored > 0, "the manifest's loss keys are counted");
});

Deno.test("autoencoder GPU path matches the host reference path on a real radiograph", async () => {
  const { loadImage, imageToModelInput } = await import("../../../io/image/load.ts");
  const weights = new URL("../../../weights/test/autoencoder.safetensors", import.meta.url).pathname;
  const image = await loadImage(new URL("../../fixtures/images/nih_00000001_001_64.png", import.meta.url).pathname);
  const x = imageToModelInput(image, 64, 3);
  const gpu = await getGpu();
  const onGpu = (await loadAutoencoder(gpu, weights)).model;
  const onHost = (await loadAutoencoder(undefined, weights)).model;
  const gpuLatent = onGpu.encode(Tensor.from(gpu, [1, 3, 64, 64], x)).mean;
  const hostLatent = onHost.encode(Tensor.host([1, 3, 64, 64], x.slice())).mean;
  const latentError = relativeError(await gpuLatent.read(), hostLatent.data);
  assert.ok(latentError <= 1e-5, `latent error ${latentError}`);
  const gpuImage = await onGpu.decode(gpuLatent).read();
  const hostImage = onHost.decode(hostLatent).data;
  const imageError = relativeError(gpuImage, hostImage);
  assert.ok(imageError <= 1e-5, `image error ${imageError}`);
  onGpu.release();
});
