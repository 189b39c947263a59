import assert from "node:assert/strict";
import { parseSafetensors } from "../../../io/safetensors.ts";
import { CheffError } from "../../../io/errors.ts";
import {
  checkStoredBetas,
  CHEFF_LATENT_SCHEDULE,
  fusedMultiplyAdd,
  latentSchedule,
  type ScheduleTables,
  TABLE_NAMES,
} from "../../../stages/schedules/latent.ts";
import { kitTest, referencePath } from "../../kit.ts";

const SCHEDULES = referencePath("schedules.safetensors");

function loadReference() {
  return parseSafetensors(Deno.readFileSync(SCHEDULES), "schedules.safetensors").tensors;
}

/** Index of the first entry whose bits differ, or -1. */
function firstDifference(ours: ArrayLike<number>, reference: ArrayLike<number>): number {
  if (ours.length !== reference.length) return 0;
  for (let i = 0; i < ours.length; i++) if (!Object.is(ours[i], reference[i])) return i;
  return -1;
}

kitTest("latent schedule float64 tables match the reference bit for bit", [SCHEDULES], () => {
  const reference = loadReference();
  const schedule = latentSchedule(CHEFF_LATENT_SCHEDULE);
  for (const [key, name] of Object.entries(TABLE_NAMES)) {
    const expected = reference.get(`ldm.${name}`)!.data as Float64Array;
    const ours = schedule.float64[key as keyof ScheduleTables<Float64Array>];
    const i = firstDifference(ours, expected);
    assert.equal(i, -1, `ldm.${name}[${i}]: ${ours[i]} vs ${expected[i]}`);
  }
  const alphas = reference.get("ldm.alphas")!.data as Float64Array;
  assert.equal(firstDifference(schedule.alphas, alphas), -1, "ldm.alphas");
});

kitTest("latent schedule float32 buffers match the reference bit for bit", [SCHEDULES], () => {
  const reference = loadReference();
  const schedule = latentSchedule();
  for (const [key, name] of Object.entries(TABLE_NAMES)) {
    const expected = reference.get(`ldm.f32.${name}`)!.data as Float32Array;
    const ours = schedule[key as keyof ScheduleTables<Float32Array>];
    assert.ok(ours instanceof Float32Array, `${key} is float32`);
    const i = firstDifference(ours, expected);
    assert.equal(i, -1, `ldm.f32.${name}[${i}]: ${ours[i]} vs ${expected[i]}`);
  }
});

Deno.test("latent schedule has the documented end points", () => {
  const schedule = latentSchedule();
  assert.equal(schedule.timesteps, 1000);
  assert.equal(schedule.float64.betas[0], 0.0015);
  assert.ok(Math.abs(schedule.float64.betas[999] - 0.0295) < 1e-17);
  assert.ok(Math.abs(schedule.alphasCumprod[999] - 3.1514e-6) < 1e-9);
  assert.equal(schedule.alphasCumprodPrev[0], 1);
  assert.equal(schedule.posteriorVariance[0], 0);
  assert.equal(schedule.posteriorMeanCoef1[0], 1);
  assert.equal(schedule.posteriorMeanCoef2[0], 0);
  assert.equal(schedule.posteriorLogVarianceClipped[0], Math.fround(Math.log(1e-20)));
});

Deno.test("latent schedule rejects invalid settings", () => {
  assert.throws(() => latentSchedule({ timesteps: 1, linear_start: 0.001, linear_end: 0.02 }), CheffError);
  assert.throws(() => latentSchedule({ timesteps: 10.5, linear_start: 0.001, linear_end: 0.02 }), CheffError);
  assert.throws(() => latentSchedule({ timesteps: 100, linear_start: 0, linear_end: 0.02 }), /linear_start/);
  assert.throws(() => latentSchedule({ timesteps: 100, linear_start: 0.001, linear_end: 1.5 }), /linear_end/);
  assert.throws(() => latentSchedule({ timesteps: 100, linear_start: NaN, linear_end: 0.02 }), CheffError);
});

Deno.test("fusedMultiplyAdd rounds once", () => {
  // (1 + 2^-52)(1 − 2^-52) − 1 = −2^-104 exactly; a separate multiply rounds the product to 1 and gives 0.
  const e = 2 ** -52;
  assert.equal((1 + e) * (1 - e) - 1, 0);
  assert.equal(fusedMultiplyAdd(1 + e, 1 - e, -1), -(2 ** -104));
  assert.equal(fusedMultiplyAdd(3, 4, 5), 17);
  assert.equal(fusedMultiplyAdd(-2.5, 4, 10), 0);
  assert.equal(fusedMultiplyAdd(0.1, 10, -1), 5.551115123125783e-17);
  // A result in the subnormal range.
  assert.equal(fusedMultiplyAdd(2 ** -537, 2 ** -537, 2 ** -1074), 2 ** -1073);
  assert.equal(fusedMultiplyAdd(2 ** -600, 2 ** -500, 2 ** -1074), 2 ** -1074);
});

Deno.test("checkStoredBetas accepts the configured betas", () => {
  const schedule = latentSchedule();
  checkStoredBetas(schedule.betas, schedule, "model.pt");
  checkStoredBetas(Float64Array.from(schedule.float64.betas), schedule, "model.pt");
});

Deno.test("checkStoredBetas names a different schedule", () => {
  const schedule = latentSchedule();
  const ldmDefault = latentSchedule({ timesteps: 1000, linear_start: 0.0015, linear_end: 0.0195 });
  assert.throws(
    () => checkStoredBetas(ldmDefault.betas, schedule, "model.pt"),
    (error: Error) => {
      assert.ok(error instanceof CheffError);
      assert.match(error.message, /^model\.pt: betas\[1\] is /);
      assert.match(error.message, /linear_end 0\.0295/);
      assert.match(error.message, /run from 0\.0015 to 0\.0195/);
      assert.ok(!error.message.includes("\n"));
      return true;
    },
  );
});

Deno.test("checkStoredBetas rejects a length mismatch", () => {
  const schedule = latentSchedule();
  assert.throws(
    () => checkStoredBetas(new Float32Array(2000), schedule, "sr.pt"),
    /sr\.pt: betas has 2000 entries but the configured linear schedule, 1000 steps/,
  );
});

Deno.test("checkStoredBetas rejects NaN entries", () => {
  const schedule = latentSchedule();
  const stored = Float32Array.from(schedule.betas);
  stored[500] = NaN;
  assert.throws(() => checkStoredBetas(stored, schedule, "model.pt"), /betas\[500\] is NaN/);
});
