import assert from "node:assert/strict";
import { getGpu } from "../../../gpu/device.ts";
import { Tensor } from "../../../gpu/tensor.ts";
import { CheffError } from "../../../io/errors.ts";
import { type HostTensor, parseSafetensors } from "../../../io/safetensors.ts";
import { concat } from "../../../kernels/layout.ts";
import { resizeBicubic } from "../../../kernels/resize.ts";
import { srCosineSchedule } from "../../../stages/schedules/cosine.ts";
import { loadSuperResolution } from "../../../stages/superres/load.ts";
import {
  ddimStep,
  ddpmStep,
  philoxNoise,
  planSampling,
  recordedNoise,
  sampleSuperResolution,
} from "../../../stages/superres/sampler.ts";
import { relativeError } from "../../kernels/helpers.ts";
import { kitTest, referencePath } from "../../kit.ts";

const SR = referencePath("sr.pt");
const IO = referencePath("sr_io.safetensors");
const STEPS = referencePath("ddpm_steps.safetensors");

function reader(path: string) {
  const file = parseSafetensors(Deno.readFileSync(path), path);
  return {
    file,
    get(name: string) {
      const t = file.tensors.get(name);
      if (!t) throw new Error(`${path} has no ${name}`);
      return { shape: t.shape, data: t.data as Float32Array };
    },
  };
}

/** Splits an [S, …] tensor into S tensors of batch 1 on `gpu` (the host when undefined). */
function rows(
  t: { shape: number[]; data: Float32Array },
  gpu: Awaited<ReturnType<typeof getGpu>> | undefined,
) {
  const shape = [1, ...t.shape.slice(1)];
  const item = t.data.length / t.shape[0];
  return Array.from(
    { length: t.shape[0] },
    (_, i) => Tensor.from(gpu, shape, t.data.subarray(i * item, (i + 1) * item)),
  );
}

kitTest("bicubic upsampling reproduces ddim.upsampled from ddim.low", [IO], async () => {
  const io = reader(IO);
  const low = io.get("ddim.low");
  const expected = io.get("ddim.upsampled").data;
  const gpu = await getGpu();
  for (const device of [undefined, gpu]) {
    const up = resizeBicubic(Tensor.from(device, low.shape, low.data), 64, 64);
    const error = relativeError(await up.read(), expected);
    console.log(`ddim.upsampled (${device ? "GPU" : "host"}): ${error.toExponential(2)} of scale`);
    assert.ok(error <= 1e-5, `upsampled error ${error}`);
  }
});

kitTest("ancestral steps reproduce the sr.* steps of ddpm_steps", [STEPS], async () => {
  const steps = reader(STEPS);
  const schedule = srCosineSchedule();
  const t = Array.from(steps.file.tensors.get("sr.t")!.data as BigInt64Array, Number);
  const gpu = await getGpu();
  for (const device of [undefined, gpu]) {
    const x = rows(steps.get("sr.x_t"), device);
    const eps = rows(steps.get("sr.model_out"), device);
    const noise = rows(steps.get("sr.noise"), device);
    const expected = rows(steps.get("sr.x_prev"), undefined);
    let worst = 0;
    for (let i = 0; i < t.length; i++) {
      const out = ddpmStep(x[i], eps[i], t[i], schedule, noise[i]);
      const error = relativeError(await out.read(), expected[i].data);
      assert.ok(error <= 1e-4, `t = ${t[i]} (${device ? "GPU" : "host"}): error ${error}`);
      worst = Math.max(worst, error);
    }
    console.log(`sr.x_prev (${device ? "GPU" : "host"}): ${worst.toExponential(2)} of scale at worst`);
  }
});

kitTest("ancestral steps with the network reproduce anc_t1500 and anc_t0", [SR, IO], async () => {
  const io = reader(IO);
  const gpu = await getGpu();
  const { model } = await loadSuperResolution(gpu, SR, { config: JSON.parse(io.file.metadata.unet) });
  const schedule = srCosineSchedule();
  const x = Tensor.from(gpu, io.get("anc.x").shape, io.get("anc.x").data);
  const sr = Tensor.from(gpu, io.get("anc.sr").shape, io.get("anc.sr").data);
  const input = concat([x, sr], 1);
  for (const t of [1500, 0]) {
    const eps = model.forward(input, [t, t]);
    const noise = Tensor.from(gpu, io.get(`anc_t${t}.noise`).shape, io.get(`anc_t${t}.noise`).data);
    const out = ddpmStep(x, eps, t, schedule, noise);
    const error = relativeError(await out.read(), io.get(`anc_t${t}.out`).data);
    console.log(`anc_t${t}.out: ${error.toExponential(2)} of scale`);
    assert.ok(error <= 1e-4, `anc_t${t}.out error ${error}`);
    for (const tensor of [eps, noise, out]) tensor.release();
  }
  for (const tensor of [x, sr, input]) tensor.release();
  model.release();
});

kitTest("DDIM sigmas and tables match the reference's 10-step eta-1 run", [IO], () => {
  const io = reader(IO);
  const plan = planSampling(srCosineSchedule(), { sampler: "ddim", steps: 10, eta: 1, spacing: "exact" });
  assert.deepEqual(plan.map((s) => s.t), [1800, 1600, 1400, 1200, 1000, 800, 600, 400, 200, 0]);
  const byGridIndex = [...plan].reverse();
  const sigmas = io.get("ddim_eta1.sigmas").data;
  const alphas = io.get("ddim.alphas_cumprod_sel").data;
  const alphasPrev = io.get("ddim.alphas_cumprod_prev_sel").data;
  for (let i = 0; i < 10; i++) {
    assert.ok(Math.abs(byGridIndex[i].ddim!.sigma - sigmas[i]) <= 1e-7, `sigma ${i}`);
    assert.ok(Math.abs(byGridIndex[i].ddim!.alpha - alphas[i]) <= 2e-6, `alpha ${i}`);
    assert.ok(Math.abs(byGridIndex[i].ddim!.alphaPrev - alphasPrev[i]) <= 2e-6, `alpha_prev ${i}`);
  }
});

Deno.test("DDIM spacing: exact gives S steps, reference every floor(T/S)-th from 0", () => {
  const schedule = srCosineSchedule();
  const exact = planSampling(schedule, { sampler: "ddim", steps: 150, eta: 0, spacing: "exact" });
  const reference = planSampling(schedule, { sampler: "ddim", steps: 150, eta: 0, spacing: "reference" });
  assert.equal(exact.length, 150);
  assert.equal(reference.length, 154);
  assert.equal(reference[0].t, 1989);
  assert.equal(exact.at(-1)!.t, 0);
  assert.ok(exact.every((s) => !s.noisy), "eta 0 adds no noise");
  const ddpm = planSampling(schedule, { sampler: "ddpm", steps: 2000, eta: 0, spacing: "exact" });
  assert.equal(ddpm.length, 2000);
  assert.deepEqual([ddpm[0].t, ddpm.at(-1)!.t, ddpm.at(-1)!.noisy, ddpm.at(-2)!.noisy], [
    1999,
    0,
    false,
    true,
  ]);
});

Deno.test("Philox noise of image i with seed s is image 0's with seed s + i", () => {
  const a = philoxNoise(41);
  const b = philoxNoise(42);
  assert.deepEqual(a.xT(1, 64), b.xT(0, 64));
  assert.deepEqual(a.step(1, 3, 64), b.step(0, 3, 64));
  assert.notDeepEqual(a.step(0, 3, 64), a.step(0, 4, 64));
  assert.notDeepEqual(a.xT(0, 64), a.step(0, 0, 64));
});

Deno.test("recorded noise rejects a noise tensor that does not match x_T", () => {
  const xT: HostTensor = { dtype: "F32", shape: [1, 1, 8, 8], data: new Float32Array(64) };
  const noise: HostTensor = { dtype: "F32", shape: [10, 1, 1, 8, 4], data: new Float32Array(320) };
  assert.throws(
    () => recordedNoise(new Map([["x_T", xT], ["noise", noise]]), "n.safetensors"),
    (e: unknown) =>
      e instanceof CheffError && /'noise' must be a float32 tensor \[S, 1, 1, 8, 8\]/.test(e.message),
  );
  assert.throws(
    () => recordedNoise(new Map([["noise", noise]]), "n.safetensors"),
    (e: unknown) => e instanceof CheffError && /no 'x_T' tensor/.test(e.message),
  );
  const withoutNoise = recordedNoise(new Map([["x_T", xT]]), "n.safetensors");
  assert.throws(
    () => withoutNoise.step(0, 0, 64),
    (e: unknown) => e instanceof CheffError && /no 'noise' tensor/.test(e.message),
  );
});

kitTest("DDIM samples reproduce ddim.sample and ddim_eta1.sample on the GPU", [SR, IO], async () => {
  const io = reader(IO);
  const gpu = await getGpu();
  const { model } = await loadSuperResolution(gpu, SR, { config: JSON.parse(io.file.metadata.unet) });
  const schedule = srCosineSchedule();
  const up = io.get("ddim.upsampled");
  const upsampled = Tensor.from(gpu, up.shape, up.data);
  for (const [prefix, eta] of [["ddim", 0], ["ddim_eta1", 1]] as const) {
    const tensors = new Map([["x_T", io.file.tensors.get(`${prefix}.x_T`)!]]);
    if (eta === 1) tensors.set("noise", io.file.tensors.get("ddim_eta1.noise")!);
    const sample = await sampleSuperResolution(model, schedule, upsampled, {
      settings: { sampler: "ddim", steps: 10, eta, spacing: "exact" },
      noise: recordedNoise(tensors, prefix),
    });
    const error = relativeError(await sample.read(), io.get(`${prefix}.sample`).data);
    console.log(`${prefix}.sample: ${error.toExponential(2)} of scale`);
    assert.ok(error <= 1e-3, `${prefix}.sample error ${error}`);
    sample.release();
  }
  upsampled.release();
  model.release();
});

Deno.test("DDIM step with clip clamps x0 and recomputes eps", () => {
  const step = { alpha: 0.01, alphaPrev: 0.2, sigma: 0 };
  const x = Tensor.host([1, 1, 2, 2], Float32Array.of(0.5, -0.3, 0.05, 0.9));
  const eps = Tensor.host([1, 1, 2, 2], Float32Array.of(0.1, 0.2, 0.05, -0.4));
  const clipped = ddimStep(x, eps, step, undefined, true).data;
  const plain = ddimStep(x, eps, step).data;
  const a = Math.sqrt(step.alpha), b = Math.sqrt(1 - step.alpha);
  for (let i = 0; i < 4; i++) {
    const x0 = (x.data[i] - b * eps.data[i]) / a;
    const clampedX0 = Math.min(1, Math.max(-1, x0));
    const recomputed = (x.data[i] - a * clampedX0) / b;
    const expected = Math.sqrt(step.alphaPrev) * clampedX0 + Math.sqrt(1 - step.alphaPrev) * recomputed;
    assert.ok(Math.abs(clipped[i] - expected) < 1e-5, `clipped ${i}: ${clipped[i]} vs ${expected}`);
    const unclipped = Math.sqrt(step.alphaPrev) * x0 + Math.sqrt(1 - step.alphaPrev) * eps.data[i];
    assert.ok(Math.abs(plain[i] - unclipped) < 1e-5, `plain ${i}: ${plain[i]} vs ${unclipped}`);
  }
  // x0 leaves [-1, 1] for these values, so clipping changes the result.
  assert.ok(Math.abs(clipped[0] - plain[0]) > 0.1);
});
