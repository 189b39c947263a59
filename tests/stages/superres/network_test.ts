import assert from "node:assert/strict";
import { getGpu } from "../../../gpu/device.ts";
import { Tensor } from "../../../gpu/tensor.ts";
import { CheffError } from "../../../io/errors.ts";
import { parseSafetensors } from "../../../io/safetensors.ts";
import { CHEFF_SR } from "../../../stages/presets.ts";
import {
  hasLinearAttention,
  parseSuperResolutionConfig,
  sizeMultiple,
} from "../../../stages/superres/config.ts";
import { loadSuperResolution } from "../../../stages/superres/load.ts";
import { sinusoidalEmbedding, superResolutionParameters } from "../../../stages/superres/network.ts";
import { relativeError } from "../../kernels/helpers.ts";
import { kitTest, referencePath } from "../../kit.ts";

const SR = referencePath("sr.pt");
const IO = referencePath("sr_io.safetensors");
const MANIFEST = referencePath("manifests/cheff_sr.json");

function readIo() {
  const file = parseSafetensors(Deno.readFileSync(IO), IO);
  const get = (name: string) => {
    const t = file.tensors.get(name)!;
    return { shape: t.shape, data: t.data as Float32Array };
  };
  const timesteps = Array.from(file.tensors.get("unet.t")!.data as BigInt64Array, Number);
  return { get, timesteps, config: JSON.parse(file.metadata.unet) };
}

kitTest("SR U-Net predicts the reference eps on the GPU", [SR, IO], async () => {
  const gpu = await getGpu();
  const io = readIo();
  const { model, configSource } = await loadSuperResolution(gpu, SR, { config: io.config });
  assert.equal(configSource, "config");
  const x = io.get("unet.x");
  const input = Tensor.from(gpu, x.shape, x.data);
  const eps = model.forward(input, io.timesteps);
  input.release();
  const error = relativeError(await eps.read(), io.get("unet.eps").data);
  console.log(`unet.eps on the GPU: ${error.toExponential(2)} of scale`);
  assert.ok(error <= 1e-4, `unet.eps error ${error}`);
  eps.release();
  model.release();
});

kitTest("SR U-Net host reference path predicts the reference eps", [SR, IO], async () => {
  const io = readIo();
  const { model } = await loadSuperResolution(undefined, SR, { config: io.config });
  const x = io.get("unet.x");
  const eps = model.forward(Tensor.host(x.shape, x.data.slice()), io.timesteps);
  const error = relativeError(eps.data, io.get("unet.eps").data);
  console.log(`unet.eps on the host: ${error.toExponential(2)} of scale`);
  assert.ok(error <= 1e-4, `unet.eps error ${error}`);
});

kitTest("cheff-sr preset names every key of the released SR model", [MANIFEST], () => {
  const manifest = JSON.parse(Deno.readTextFileSync(MANIFEST));
  const keys: Record<string, { shape: number[] }> = manifest.top_level.model;
  const config = parseSuperResolutionConfig(CHEFF_SR, "cheff-sr preset");
  const expected = superResolutionParameters(config).shapes;
  for (const [key, { shape }] of Object.entries(keys)) {
    assert.deepEqual(expected.get(key), shape, `key ${key}`);
  }
  assert.equal(expected.size, Object.keys(keys).length, "no preset parameter is missing from the manifest");
  let parameters = 0;
  for (const shape of expected.values()) parameters += shape.reduce((a, b) => a * b, 1);
  assert.equal(parameters, manifest.total_parameters);
  assert.deepEqual(
    { ...manifest.config, init_dim: undefined },
    { ...CHEFF_SR.model, init_dim: undefined },
    "the preset's arguments are the manifest's",
  );
});

kitTest("SR loader rejects a file whose shapes fit no preset without --config", [SR], async () => {
  await assert.rejects(
    loadSuperResolution(undefined, SR),
    (e: unknown) =>
      e instanceof CheffError && /do not match the cheff-sr preset; pass --config/.test(e.message),
  );
});

Deno.test("SR loader reports a missing model file in one line", async () => {
  await assert.rejects(
    loadSuperResolution(undefined, "/nonexistent/cheff_sr_fine.pt"),
    (e: unknown) => e instanceof CheffError && /cheff_sr_fine\.pt: file not found/.test(e.message),
  );
});

Deno.test("SR config is read from plain, wrapped and {model, schedule} shapes", () => {
  const network = { dim: 16, dim_mults: [1, 2, 4, 4], channels: 2, out_dim: 1, num_attention_layer: 3 };
  const plain = parseSuperResolutionConfig(network, "plain");
  const wrapped = parseSuperResolutionConfig({ target: "cheff.sr.model.Unet", params: network }, "wrapped");
  const nested = parseSuperResolutionConfig({
    model: network,
    schedule: { name: "cosine", timesteps: 1000, s: 0.01 },
  }, "nested");
  for (const config of [plain, wrapped, nested]) {
    assert.equal(config.initDim, 10, "init_dim defaults to dim // 3 * 2");
    assert.equal(config.blockGroups, 8);
    assert.deepEqual(config.dimMults, [1, 2, 4, 4]);
  }
  assert.equal(plain.schedule.timesteps, 2000);
  assert.equal(nested.schedule.timesteps, 1000);
  assert.equal(nested.schedule.s, 0.01);
  assert.equal(sizeMultiple(plain), 8);
});

Deno.test("SR config rejects bad fields naming them", () => {
  const base = { dim: 16, dim_mults: [1, 2], channels: 2, out_dim: 1 };
  const cases: [unknown, RegExp][] = [
    [{ ...base, dim: 0 }, /field 'dim' is 0/],
    [{ ...base, dim_mults: [] }, /field 'dim_mults'/],
    [{ ...base, block_groups: 5 }, /not divisible into 5 GroupNorm groups/],
    [{ model: base, schedule: { name: "linear" } }, /schedule: name 'linear' is not supported/],
    [{ ch: 128 }, /no super-resolution config/],
  ];
  for (const [raw, pattern] of cases) {
    assert.throws(
      () => parseSuperResolutionConfig(raw, "cfg.json"),
      (e: unknown) => e instanceof CheffError && pattern.test(e.message),
    );
  }
});

Deno.test("released SR network has linear attention at down levels 4-7 and up entries 4-6", () => {
  const config = parseSuperResolutionConfig(CHEFF_SR, "cheff-sr preset");
  const withAttention = [0, 1, 2, 3, 4, 5, 6, 7].filter((i) => hasLinearAttention(config, i));
  assert.deepEqual(withAttention, [4, 5, 6, 7]);
  const keys = [...superResolutionParameters(config).shapes.keys()];
  const upAttention = [0, 1, 2, 3, 4, 5, 6].filter((j) => keys.includes(`ups.${j}.2.fn.norm.weight`));
  assert.deepEqual(upAttention, [4, 5, 6]);
  assert.ok(
    !keys.some((k) => k.startsWith("downs.7.3.")),
    "the deepest level has no downsampling convolution",
  );
});

Deno.test("sinusoidal embedding puts sin before cos with the last frequency 1e-4", () => {
  const embedding = sinusoidalEmbedding([0, 1234], 16);
  assert.deepEqual([...embedding.slice(0, 16)], [...new Array(8).fill(0), ...new Array(8).fill(1)]);
  assert.equal(embedding[16], Math.fround(Math.sin(1234)));
  assert.ok(Math.abs(embedding[16 + 7] - Math.sin(1234e-4)) < 1e-6);
  assert.ok(Math.abs(embedding[16 + 15] - Math.cos(1234e-4)) < 1e-6);
});
