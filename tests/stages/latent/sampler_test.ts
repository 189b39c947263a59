/**
 * The latent samplers' arithmetic against the reference's recorded single
 * ancestral steps, and the samplers' behaviour with a stand-in noise model:
 * seeding, recorded-noise replay, and the inpainting blends.
 */
import assert from "node:assert/strict";
import { parseSafetensors } from "../../../io/safetensors.ts";
import { CheffError } from "../../../io/errors.ts";
import {
  blendKept,
  ddimStep,
  ddpmStep,
  ddpmTables,
  type EpsFunction,
  guide,
  qSample,
  sampleLatent,
  samplingTimesteps,
} from "../../../stages/latent/sampler.ts";
import { philoxNoise, RecordedNoise } from "../../../stages/noise/source.ts";
import { latentSchedule } from "../../../stages/schedules/latent.ts";
import { latentExactSpacing } from "../../../stages/schedules/spacing.ts";
import { kitTest, referencePath } from "../../kit.ts";

const schedule = latentSchedule();

function maxScaledError(ours: ArrayLike<number>, reference: ArrayLike<number>): number {
  assert.equal(ours.length, reference.length);
  let error = 0, scale = 0;
  for (let i = 0; i < reference.length; i++) {
    error = Math.max(error, Math.abs(ours[i] - reference[i]));
    scale = Math.max(scale, Math.abs(reference[i]));
  }
  return error / scale;
}

kitTest("ancestral step matches the reference p_sample within 1e-4", [referencePath("ddpm_steps.safetensors")], () => {
  const file = parseSafetensors(Deno.readFileSync(referencePath("ddpm_steps.safetensors")));
  const get = (name: string) => file.tensors.get(`ldm.${name}`)!.data as Float32Array;
  const t = Array.from(file.tensors.get("ldm.t")!.data as BigInt64Array, Number);
  const tables = ddpmTables(schedule, latentExactSpacing(1000));
  const ours = ddpmStep(tables, get("x_t"), get("model_out"), t, get("noise"));
  const error = maxScaledError(ours, get("x_prev"));
  assert.ok(error <= 1e-4, `x_prev differs by ${error} of scale`);
  // The reference latent sampler does not clamp x0; the clamped variant must differ.
  assert.ok(maxScaledError(ours, get("x_prev_if_clipped")) > 1e-2, "the step matches the clamped variant");
});

// ---------------------------------------------------------------- a stand-in model

const SHAPE = [2, 3, 4, 4];
const SIZE = SHAPE.reduce((a, d) => a * d, 1);

/** ε(x, t) = 0.1·x + t/1000: cheap, smooth, and different at every step. */
function standIn(calls?: { x: Float32Array; t: number }[]): EpsFunction {
  return (x, t) => {
    calls?.push({ x: x.slice(), t });
    return Promise.resolve(x.map((v) => Math.fround(0.1 * v + t / 1000)));
  };
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

Deno.test("same seed gives the same latent, another seed differs", async () => {
  for (const sampler of ["ddim", "ddpm"] as const) {
    const run = (seed: number) =>
      sampleLatent(schedule, standIn(), { shape: SHAPE, noise: philoxNoise(seed), sampler, steps: 10 });
    const first = await run(11);
    const second = await run(11);
    const other = await run(12);
    assert.deepEqual(first, second, `${sampler}: seed 11 twice`);
    assert.ok(maxDifference(first, other) > 1e-3, `${sampler}: seeds 11 and 12 give the same latent`);
  }
});

Deno.test("image seeds follow the run index, not the batch", async () => {
  const options = { steps: 5, sampler: "ddim" as const };
  const pair = await sampleLatent(schedule, standIn(), { ...options, shape: SHAPE, noise: philoxNoise(100) });
  const single = [1, ...SHAPE.slice(1)];
  const second = await sampleLatent(schedule, standIn(), { ...options, shape: single, noise: philoxNoise(100, 1) });
  const alone = await sampleLatent(schedule, standIn(), { ...options, shape: single, noise: philoxNoise(101) });
  assert.deepEqual(second, pair.subarray(SIZE / 2), "image 1 of a batch equals image 1 sampled alone");
  assert.deepEqual(alone, second, "seed + 1 at index 0 equals seed at index 1");
});

Deno.test("recorded noise replays the seeded draws exactly", async () => {
  const steps = 6;
  const seeded = philoxNoise(5);
  const perStep = (draw: (k: number) => Float32Array) => {
    const data = new Float32Array(steps * SIZE);
    for (let k = 0; k < steps; k++) data.set(draw(k), k * SIZE);
    return { dtype: "F32" as const, shape: [steps, ...SHAPE], data };
  };
  const tensors = new Map([
    ["x_T", { dtype: "F32" as const, shape: SHAPE, data: seeded.xT(SHAPE) }],
    ["noise", perStep((k) => seeded.step(k, SHAPE))],
    ["q_noise", perStep((k) => seeded.qNoise(k, SHAPE))],
  ]);
  const x0 = Float32Array.from({ length: SIZE }, (_, i) => Math.sin(i));
  const mask = Float32Array.from({ length: 16 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  for (const sampler of ["ddim", "ddpm"] as const) {
    const options = { shape: SHAPE, sampler, steps, inpainting: { x0, mask } };
    const fromSeed = await sampleLatent(schedule, standIn(), { ...options, noise: philoxNoise(5) });
    const fromFile = await sampleLatent(schedule, standIn(), { ...options, noise: new RecordedNoise(tensors, "noise.safetensors") });
    assert.deepEqual(fromFile, fromSeed, sampler);
  }
});

Deno.test("DDIM blends the noised original before each model call", async () => {
  const steps = 4;
  const calls: { x: Float32Array; t: number }[] = [];
  const noise = philoxNoise(9);
  const x0 = Float32Array.from({ length: SIZE }, (_, i) => (i % 7) - 3);
  const mask = Float32Array.from({ length: 16 }, (_, i) => (i < 8 ? 1 : 0));
  const out = await sampleLatent(schedule, standIn(calls), { shape: SHAPE, noise, steps, inpainting: { x0, mask } });
  const timesteps = samplingTimesteps(schedule, "ddim", steps);
  assert.deepEqual(calls.map((c) => c.t), timesteps);
  for (const [k, call] of calls.entries()) {
    const kept = qSample(schedule, x0, timesteps[k], noise.qNoise(k, SHAPE));
    for (let i = 0; i < SIZE; i++) {
      if (mask[i % 16] === 0) assert.equal(call.x[i], kept[i], `step ${k}, element ${i}`);
    }
  }
  // The first call's synthesised region is x_T itself.
  const xT = noise.xT(SHAPE);
  for (let i = 0; i < SIZE; i++) if (mask[i % 16] === 1) assert.equal(calls[0].x[i], xT[i]);
  // After the final blend the kept region is the original.
  for (let i = 0; i < SIZE; i++) if (mask[i % 16] === 0) assert.equal(out[i], x0[i]);
});

Deno.test("DDPM blends after each step at the level just reached", async () => {
  const steps = 5;
  const calls: { x: Float32Array; t: number }[] = [];
  const noise = philoxNoise(21);
  const x0 = Float32Array.from({ length: SIZE }, (_, i) => Math.cos(i));
  const mask = Float32Array.from({ length: 16 }, (_, i) => (i % 2));
  const options = { shape: SHAPE, noise, steps, sampler: "ddpm" as const };
  const out = await sampleLatent(schedule, standIn(calls), { ...options, inpainting: { x0, mask } });
  const timesteps = samplingTimesteps(schedule, "ddpm", steps);
  assert.deepEqual(calls.map((c) => c.t), timesteps);
  // The first model call sees x_T unblended; call k + 1 sees the original noised to timesteps[k + 1] with draw k.
  assert.deepEqual(calls[0].x, noise.xT(SHAPE));
  for (let k = 0; k + 1 < steps; k++) {
    const kept = qSample(schedule, x0, timesteps[k + 1], noise.qNoise(k, SHAPE));
    for (let i = 0; i < SIZE; i++) {
      if (mask[i % 16] === 0) assert.equal(calls[k + 1].x[i], kept[i], `call ${k + 1}, element ${i}`);
    }
  }
  for (let i = 0; i < SIZE; i++) if (mask[i % 16] === 0) assert.equal(out[i], x0[i]);

  const unblended = await sampleLatent(schedule, standIn(), { ...options, inpainting: { x0, mask, finalBlend: false } });
  let keptDiffers = false;
  for (let i = 0; i < SIZE; i++) if (mask[i % 16] === 0 && unblended[i] !== x0[i]) keptDiffers = true;
  assert.ok(keptDiffers, "without the final blend the kept region is the sampler's own");
});

Deno.test("mask with nothing to synthesise returns the original", async () => {
  const x0 = Float32Array.from({ length: SIZE }, (_, i) => i / 10);
  const mask = new Float32Array(16);
  for (const sampler of ["ddim", "ddpm"] as const) {
    const out = await sampleLatent(schedule, standIn(), { shape: SHAPE, noise: philoxNoise(3), sampler, steps: 3, inpainting: { x0, mask } });
    assert.deepEqual(out, x0, sampler);
  }
});

Deno.test("full-grid DDPM uses the schedule's float32 buffers", () => {
  const tables = ddpmTables(schedule, latentExactSpacing(1000));
  assert.equal(tables.posteriorMeanCoef1, schedule.posteriorMeanCoef1);
  const respaced = ddpmTables(schedule, latentExactSpacing(10));
  // The last respaced step ends at ᾱ = 1: no variance, x̂0 weighted fully.
  assert.equal(respaced.posteriorLogVarianceClipped[0], Math.fround(Math.log(1e-20)));
  assert.ok(Math.abs(respaced.posteriorMeanCoef1[0] - 1) < 1e-6);
  assert.ok(Math.abs(respaced.posteriorMeanCoef2[0]) < 1e-6);
});

Deno.test("DDIM step follows the reference update", () => {
  const x = Float32Array.of(1, -2, 0.5);
  const eps = Float32Array.of(0.3, 0.1, -0.2);
  const z = Float32Array.of(1, 0, -1);
  const c = { alpha: 0.5, alphaPrev: 0.8, sigma: 0.1, sqrtOneMinusAlpha: Math.fround(Math.sqrt(0.5)) };
  const out = ddimStep(x, eps, z, c);
  for (let i = 0; i < 3; i++) {
    const x0 = (x[i] - Math.sqrt(0.5) * eps[i]) / Math.sqrt(0.5);
    const expected = Math.sqrt(0.8) * x0 + Math.sqrt(1 - 0.8 - 0.01) * eps[i] + 0.1 * z[i];
    assert.ok(Math.abs(out[i] - expected) < 1e-6, `element ${i}: ${out[i]} vs ${expected}`);
  }
});

Deno.test("guidance combines the branches as eps_u + g·(eps_c − eps_u)", () => {
  const u = Float32Array.of(1, 2, -1);
  const c = Float32Array.of(2, 2, 1);
  assert.deepEqual([...guide(u, c, 3)], [4, 2, 5]);
  assert.deepEqual([...guide(u, c, 1)], [...c]);
  assert.deepEqual([...guide(u, c, 0)], [...u]);
});

Deno.test("blend keeps where the mask is 0 and broadcasts over channels", () => {
  const x = new Float32Array(2 * 2 * 1 * 2).fill(9);
  const kept = Float32Array.from({ length: 8 }, (_, i) => i);
  const out = blendKept(x, kept, Float32Array.of(1, 0), [2, 2, 1, 2]);
  assert.deepEqual([...out], [9, 1, 9, 3, 9, 5, 9, 7]);
});

Deno.test("recorded noise is checked before any step", async () => {
  let calls = 0;
  const counting: EpsFunction = (x) => {
    calls++;
    return Promise.resolve(x);
  };
  const f32 = (shape: number[]) => ({ dtype: "F32" as const, shape, data: new Float32Array(shape.reduce((a, d) => a * d, 1)) });
  const cases: [string, Map<string, ReturnType<typeof f32>>, RegExp, boolean][] = [
    ["no x_T", new Map([["noise", f32([3, ...SHAPE])]]), /missing noise tensor 'x_T'/, false],
    ["x_T of another shape", new Map([["x_T", f32([1, 3, 4, 4])], ["noise", f32([3, ...SHAPE])]]), /'x_T' has shape \[1,3,4,4\], expected \[2,3,4,4\]/, false],
    ["too few steps", new Map([["x_T", f32(SHAPE)], ["noise", f32([2, ...SHAPE])]]), /'noise' has shape \[2,2,3,4,4\], expected \[3,2,3,4,4\]/, false],
    ["no q_noise when inpainting", new Map([["x_T", f32(SHAPE)], ["noise", f32([3, ...SHAPE])]]), /missing noise tensor 'q_noise'/, true],
  ];
  for (const [name, tensors, message, inpaint] of cases) {
    const inpainting = inpaint ? { x0: new Float32Array(SIZE), mask: new Float32Array(16) } : undefined;
    await assert.rejects(
      sampleLatent(schedule, counting, { shape: SHAPE, steps: 3, noise: new RecordedNoise(tensors, "n.safetensors"), inpainting }),
      (error: Error) => error instanceof CheffError && message.test(error.message),
      name,
    );
  }
  assert.equal(calls, 0, "the model ran before the noise file was checked");

  // With eta 0 DDIM adds no noise, so the file may hold x_T alone.
  const xOnly = new Map([["x_T", f32(SHAPE)]]);
  await sampleLatent(schedule, counting, { shape: SHAPE, steps: 3, eta: 0, noise: new RecordedNoise(xOnly, "n.safetensors") });
  assert.equal(calls, 3);
});
