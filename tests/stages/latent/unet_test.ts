/**
 * The U-Net against the reference kit's small random-weight models: eps with
 * raw and EMA weights, unconditional and report-conditioned, on the GPU and on
 * the host reference path, and the loader's key checks.
 */
import assert from "node:assert/strict";
import { getGpu } from "../../../gpu/device.ts";
import { type Gpu } from "../../../gpu/device.ts";
import { Tensor } from "../../../gpu/tensor.ts";
import { CheffError } from "../../../io/errors.ts";
import { type HostTensor, parseSafetensors } from "../../../io/safetensors.ts";
import { emaKey, loadUNet } from "../../../stages/latent/load.ts";
import { timestepEmbedding, unetParameters } from "../../../stages/latent/unet.ts";
import { type LoadedModelFile, readModelFile } from "../../../stages/load.ts";
import { relativeError } from "../../kernels/helpers.ts";
import { kitTest, referencePath } from "../../kit.ts";

const UNCOND = referencePath("ldm_uncond.pt");
const UNCOND_IO = referencePath("ldm_uncond_io.safetensors");
const T2I = referencePath("ldm_t2i.pt");
const T2I_IO = referencePath("ldm_t2i_io.safetensors");

/** Float32 reached by the GPU path on lavapipe is about 1e-6 of scale; a wrong GroupNorm eps alone moves eps by 4.4e-5. */
const TOLERANCE = 1e-5;

function readIo(path: string): Map<string, HostTensor> {
  return parseSafetensors(Deno.readFileSync(path), path).tensors;
}

function toDevice(gpu: Gpu | undefined, t: HostTensor): Tensor {
  return Tensor.from(gpu, t.shape, t.data as Float32Array);
}

function timesteps(t: HostTensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

async function checkEps(
  file: LoadedModelFile,
  io: Map<string, HostTensor>,
  options: { ema: boolean; context: boolean; label: string },
): Promise<number> {
  const gpu = await getGpu();
  const notes: string[] = [];
  const { model } = await loadUNet(gpu, file, { ema: options.ema, note: (line) => notes.push(line) });
  const x = toDevice(gpu, io.get("unet.x")!);
  const context = options.context ? toDevice(gpu, io.get("context")!) : undefined;
  const eps = model.eps(x, timesteps(io.get("unet.t")!), context);
  const expected = io.get(options.ema ? "unet.eps_ema" : "unet.eps")!;
  assert.deepEqual(eps.shape, expected.shape);
  const error = relativeError(await eps.read(), expected.data as Float32Array);
  console.log(`${options.label}: max error ${error.toExponential(2)} of scale`);
  x.release();
  context?.release();
  eps.release();
  model.release();
  assert.equal(notes.length, 1, "one summary line of ignored keys");
  return error;
}

Deno.test("timestep embedding puts cos before sin", () => {
  const embedding = timestepEmbedding([0, 1], 4);
  // dim 4: half 2, frequencies exp(0) = 1 and exp(−ln(10000)/2) = 0.01.
  assert.deepEqual(Array.from(embedding.slice(0, 4)), [1, 1, 0, 0]);
  const expected = [Math.cos(1), Math.cos(0.01), Math.sin(1), Math.sin(0.01)];
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(embedding[4 + i] - expected[i]) < 1e-6, `entry ${i}`);
  const odd = timestepEmbedding([3], 5);
  assert.equal(odd[4], 0, "odd widths end in a zero column");
});

kitTest("unconditional U-Net reproduces eps with raw weights on the GPU", [UNCOND, UNCOND_IO], async () => {
  const error = await checkEps(await readModelFile(UNCOND), readIo(UNCOND_IO), {
    ema: false,
    context: false,
    label: "uncond eps",
  });
  assert.ok(error <= TOLERANCE, `error ${error} of scale`);
});

kitTest("unconditional U-Net reproduces eps with EMA weights on the GPU", [UNCOND, UNCOND_IO], async () => {
  const error = await checkEps(await readModelFile(UNCOND), readIo(UNCOND_IO), {
    ema: true,
    context: false,
    label: "uncond eps_ema",
  });
  assert.ok(error <= TOLERANCE, `error ${error} of scale`);
});

kitTest(
  "report-conditioned U-Net reproduces eps with raw and EMA weights on the GPU",
  [T2I, T2I_IO],
  async () => {
    const file = await readModelFile(T2I);
    const io = readIo(T2I_IO);
    const raw = await checkEps(file, io, { ema: false, context: true, label: "t2i eps" });
    const ema = await checkEps(file, io, { ema: true, context: true, label: "t2i eps_ema" });
    assert.ok(raw <= TOLERANCE, `raw error ${raw} of scale`);
    assert.ok(ema <= TOLERANCE, `EMA error ${ema} of scale`);
  },
);

kitTest("U-Net host reference path reproduces eps", [UNCOND, UNCOND_IO], async () => {
  const io = readIo(UNCOND_IO);
  const { model } = await loadUNet(undefined, UNCOND);
  // One item of the batch keeps the plain TypeScript loops to about a second.
  const x = io.get("unet.x")!;
  const size = x.data.length / 2;
  const x0 = Tensor.host([1, ...x.shape.slice(1)], (x.data as Float32Array).slice(0, size));
  const eps = model.eps(x0, [timesteps(io.get("unet.t")!)[0]]);
  const error = relativeError(eps.data, (io.get("unet.eps")!.data as Float32Array).slice(0, size));
  console.log(`uncond eps (host): max error ${error.toExponential(2)} of scale`);
  assert.ok(error <= TOLERANCE, `error ${error} of scale`);
});

kitTest("EMA weights differ from raw ones and cover every U-Net key", [UNCOND, T2I], async () => {
  for (const path of [UNCOND, T2I]) {
    const file = await readModelFile(path);
    const { config } = await loadUNet(undefined, file);
    let differing = 0;
    for (const [name, shape] of unetParameters(config.unet).shapes) {
      const raw = file.state.get(`model.diffusion_model.${name}`)!;
      const ema = file.state.get(emaKey(name));
      assert.ok(ema, `${path}: no EMA weight for ${name}`);
      assert.deepEqual(ema.shape, shape, name);
      if (raw.data.some((v, i) => v !== ema.data[i])) differing++;
    }
    assert.ok(differing > 0, `${path}: EMA weights equal the raw weights`);
  }
});

kitTest("U-Net loader counts the keys it ignores in one line", [UNCOND], async () => {
  const notes: string[] = [];
  await loadUNet(undefined, UNCOND, { note: (line) => notes.push(line) });
  await loadUNet(undefined, UNCOND, { ema: true, note: (line) => notes.push(line) });
  assert.equal(notes.length, 2);
  // 698 entries: 240 U-Net, 240 EMA + 2 counters, 204 autoencoder, 12 schedule buffers.
  assert.match(notes[0], /ignored 458 keys that are not part of the U-Net/);
  assert.match(notes[0], /2 EMA counters, 240 EMA weights, \d+ autoencoder, 12 schedule buffers/);
  assert.match(notes[1], /ignored 458 keys that are not part of the EMA U-Net/);
  assert.match(notes[1], /240 raw U-Net weights/);
});

kitTest("U-Net loader reports missing, unexpected and misshapen keys together", [UNCOND], async () => {
  const file = await readModelFile(UNCOND);
  const state = new Map(file.state);
  state.delete("model.diffusion_model.out.2.bias");
  state.set("model.diffusion_model.extra.weight", state.get("model.diffusion_model.out.0.weight")!);
  state.set("model.diffusion_model.out.0.weight", { dtype: "F32", shape: [7], data: new Float32Array(7) });
  const broken: LoadedModelFile = { ...file, state };
  await assert.rejects(loadUNet(undefined, broken), (e: Error) => {
    assert.ok(e instanceof CheffError);
    assert.match(e.message, /1 missing \(model\.diffusion_model\.out\.2\.bias\)/);
    assert.match(e.message, /1 unexpected \(model\.diffusion_model\.extra\.weight\)/);
    assert.match(e.message, /1 misshapen \(model\.diffusion_model\.out\.0\.weight \[7\]/);
    return true;
  });
});

kitTest("U-Net loader rejects a config that does not fit the file", [UNCOND], async () => {
  const wrong = {
    unet_config: {
      image_size: 16,
      in_channels: 3,
      out_channels: 3,
      model_channels: 32,
      attention_resolutions: [8, 4, 2],
      num_res_blocks: 1,
      channel_mult: [1, 2, 2, 4],
      num_head_channels: 16,
    },
  };
  await assert.rejects(
    loadUNet(undefined, UNCOND, { config: wrong }),
    (e: Error) =>
      e instanceof CheffError && /U-Net weights do not match its config/.test(e.message) &&
      /misshapen/.test(e.message),
  );
});

kitTest("U-Net loader rejects --ema on a file without EMA weights", [T2I], async () => {
  const file = await readModelFile(T2I);
  const state = new Map([...file.state].filter(([key]) => !key.startsWith("model_ema.")));
  await assert.rejects(
    loadUNet(undefined, { ...file, state }, { ema: true }),
    (e: Error) => e instanceof CheffError && /no EMA weights/.test(e.message),
  );
});
