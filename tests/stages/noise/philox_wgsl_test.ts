/**
 * Runs kernels/wgsl/philox.wgsl directly through WebGPU (lavapipe on CI) and
 * compares it with the reference noise file and with the TypeScript generator.
 */
import assert from "node:assert/strict";
import { parseSafetensors } from "../../../io/safetensors.ts";
import {
  boxMuller,
  type NoiseAddress,
  normals,
  philoxKernelParams,
  philoxWords,
  philoxWorkgroups,
  STAGE,
  STREAM,
} from "../../../stages/noise/philox.ts";
import { kitTest, referencePath, REPO_ROOT } from "../../kit.ts";
import { join } from "node:path";

if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", Deno.makeTempDirSync());

const NOISE = referencePath("noise_philox.safetensors");
const SHADER = join(REPO_ROOT, "kernels", "wgsl", "philox.wgsl");

interface Kernel {
  device: GPUDevice;
  normals: GPUComputePipeline;
  words: GPUComputePipeline;
}

async function createKernel(): Promise<Kernel | undefined> {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) return undefined;
  const device = await adapter.requestDevice();
  const code = Deno.readTextFileSync(SHADER);
  const module = device.createShaderModule({ code });
  device.pushErrorScope("validation");
  const pipeline = (entryPoint: string) =>
    device.createComputePipeline({ layout: "auto", compute: { module, entryPoint } });
  const result = { device, normals: pipeline("philox_normals"), words: pipeline("philox_words") };
  const error = await device.popErrorScope();
  if (error) throw new Error(`philox.wgsl failed validation: ${error.message}`);
  return result;
}

const kernel = await createKernel();

/** Runs one entry point over elements offset … offset+count−1 and reads the output back. */
async function runKernel(
  k: Kernel,
  entry: "normals" | "words",
  seed: number | bigint,
  count: number,
  address: NoiseAddress,
  offset = 0,
  maxPerDimension = 65535,
): Promise<ArrayBuffer> {
  const { device } = k;
  const params = device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(params, 0, philoxKernelParams(seed, count, address, offset));
  const size = Math.max(4, count * 4);
  const output = device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const readBack = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const pipeline = entry === "normals" ? k.normals : k.words;
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: params } }, { binding: 1, resource: { buffer: output } }],
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  const [x, y] = philoxWorkgroups(count, offset, maxPerDimension);
  if (x > 0) pass.dispatchWorkgroups(x, y);
  pass.end();
  encoder.copyBufferToBuffer(output, 0, readBack, 0, size);
  device.queue.submit([encoder.finish()]);
  await readBack.mapAsync(GPUMapMode.READ);
  const data = readBack.getMappedRange().slice(0, count * 4);
  readBack.unmap();
  for (const buffer of [params, output, readBack]) buffer.destroy();
  return data;
}

/** Registers a test that needs a WebGPU adapter: reported as skipped without one, failed under CI. */
function gpuTest(name: string, needs: string[], fn: (k: Kernel) => Promise<void>): void {
  if (kernel) {
    kitTest(name, needs, () => fn(kernel));
  } else if (Deno.env.get("CI") === "true") {
    Deno.test(name, () => {
      throw new Error("no WebGPU adapter under CI");
    });
  } else {
    Deno.test({ name: `${name} (skipped: no WebGPU adapter)`, ignore: true, fn() {} });
  }
}

interface ReferenceCase {
  name: string;
  seed: number;
  slot: number;
  stream: number;
  shape: number[];
}

function loadReference() {
  const file = parseSafetensors(Deno.readFileSync(NOISE), "noise_philox.safetensors");
  const cases = JSON.parse(file.metadata.cases) as ReferenceCase[];
  return { tensors: file.tensors, cases };
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

gpuTest("WGSL philox words match the reference exactly", [NOISE, SHADER], async (k) => {
  const { tensors, cases } = loadReference();
  for (const c of cases) {
    const count = c.shape.reduce((a, b) => a * b, 1);
    const address = { slot: c.slot, stream: c.stream, stage: 0 };
    const words = new Uint32Array(await runKernel(k, "words", BigInt(c.seed), count, address));
    const expected = tensors.get(`${c.name}.words`)!.data as BigInt64Array;
    for (let i = 0; i < count; i++) {
      assert.equal(BigInt(words[i]), expected[i], `case ${c.name}, element ${i}`);
    }
  }
});

gpuTest("WGSL philox normals within 1e-5 of the reference", [NOISE, SHADER], async (k) => {
  const { tensors, cases } = loadReference();
  for (const c of cases) {
    const count = c.shape.reduce((a, b) => a * b, 1);
    const address = { slot: c.slot, stream: c.stream, stage: 0 };
    const z = new Float32Array(await runKernel(k, "normals", BigInt(c.seed), count, address));
    const expected = tensors.get(`${c.name}.normals`)!.data as Float32Array;
    const difference = maxAbsDifference(z, expected);
    assert.ok(difference <= 1e-5, `case ${c.name}: max |gpu − reference| = ${difference}`);
  }
});

gpuTest("WGSL philox matches TypeScript on a large tensor", [SHADER], async (k) => {
  // 2^18 elements = 2^16 blocks: every word value class and both log branches occur.
  const count = 1 << 18;
  const address = { slot: 3, stream: STREAM.step, stage: STAGE.superResolution };
  const seed = 0xfedcba9876543210n;
  const words = new Uint32Array(await runKernel(k, "words", seed, count, address));
  const expectedWords = philoxWords(seed, count, address);
  for (let i = 0; i < count; i++) assert.equal(words[i], expectedWords[i], `word ${i}`);
  const z = new Float32Array(await runKernel(k, "normals", seed, count, address));
  const difference = maxAbsDifference(z, normals(seed, count, address));
  assert.ok(difference <= 1e-5, `max |gpu − typescript| = ${difference}`);
});

gpuTest("WGSL philox writes an offset slice", [SHADER], async (k) => {
  const address = { slot: 0, stream: STREAM.xT, stage: STAGE.latent };
  const whole = normals(7, 64, address);
  for (const [offset, count] of [[0, 1], [3, 10], [5, 3], [6, 2], [17, 47], [63, 1]]) {
    const z = new Float32Array(await runKernel(k, "normals", 7, count, address, offset));
    const difference = maxAbsDifference(z, whole.subarray(offset, offset + count));
    assert.ok(difference <= 1e-5, `slice at ${offset} of ${count}: ${difference}`);
  }
});

gpuTest("WGSL philox covers a 2-D dispatch", [SHADER], async (k) => {
  // Force y > 1 with a small per-dimension limit: 5000 elements = 1250 blocks = 20 workgroups.
  const address = { slot: 11, stream: STREAM.qNoise, stage: STAGE.latent };
  const [x, y] = philoxWorkgroups(5000, 2, 3);
  assert.ok(y > 1, `dispatch ${x} × ${y}`);
  assert.ok(x <= 3, `dispatch ${x} × ${y}`);
  const words = new Uint32Array(await runKernel(k, "words", 99, 5000, address, 2, 3));
  const expected = philoxWords(99, 5002, address).subarray(2);
  for (let i = 0; i < 5000; i++) assert.equal(words[i], expected[i], `word ${i}`);
});

gpuTest("WGSL Box-Muller is accurate at the ends of the uniform range", [SHADER], async (k) => {
  const { device } = k;
  // The kernel's own functions, driven by chosen words: u near 0, ½ and 1, and the
  // quarter-turn boundaries of the angle (w >> 8 = 2^22 · j, j = 0 … 3, and ±1).
  const probe = `
@group(0) @binding(2) var<storage, read> probe_words: array<vec4<u32>>;
@compute @workgroup_size(64)
fn probe(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= arrayLength(&probe_words)) { return; }
  let z = box_muller(probe_words[gid.x]);
  for (var j = 0u; j < 4u; j++) { out_normals[4u * gid.x + j] = z[j]; }
}`;
  const module = device.createShaderModule({ code: Deno.readTextFileSync(SHADER) + probe });
  const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "probe" } });

  const cells: number[] = [
    0,
    1,
    2,
    3,
    255,
    0x3fffff,
    0x400000,
    0x400001,
    0x7fffff,
    0x800000,
    0x800001,
    0xbfffff,
  ];
  cells.push(
    0xc00000,
    0xc00001,
    0xfffffe,
    0xffffff,
    0xb504f3,
    0xb504f4,
    0x5a827a,
    0x5a8279,
    0x1000,
    0xfff000,
  );
  const words: number[] = [];
  for (const radius of cells) {
    for (const angle of cells) words.push(radius << 8, (angle << 8) | 0xff, (radius << 8) | 0x7f, angle << 8);
  }
  const input = new Uint32Array(words.map((w) => w >>> 0));
  const blocks = input.length / 4;
  const inputBuffer = device.createBuffer({
    size: input.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(inputBuffer, 0, input);
  const output = device.createBuffer({
    size: input.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  const readBack = device.createBuffer({
    size: input.byteLength,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 1, resource: { buffer: output } }, {
      binding: 2,
      resource: { buffer: inputBuffer },
    }],
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(Math.ceil(blocks / 64));
  pass.end();
  encoder.copyBufferToBuffer(output, 0, readBack, 0, input.byteLength);
  device.queue.submit([encoder.finish()]);
  await readBack.mapAsync(GPUMapMode.READ);
  const z = new Float32Array(readBack.getMappedRange().slice(0));
  readBack.unmap();

  for (let b = 0; b < blocks; b++) {
    const expected = boxMuller(Array.from(input.subarray(4 * b, 4 * b + 4)));
    for (let j = 0; j < 4; j++) {
      const difference = Math.abs(z[4 * b + j] - expected[j]);
      assert.ok(
        difference <= 2e-6,
        `words ${input.subarray(4 * b, 4 * b + 4)}: z${j} ${z[4 * b + j]} vs ${expected[j]}`,
      );
    }
  }
});
