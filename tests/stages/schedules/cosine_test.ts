import assert from "node:assert/strict";
import { parseSafetensors } from "../../../io/safetensors.ts";
import { CheffError } from "../../../io/errors.ts";
import { srCosineSchedule, srScheduleFromBetas } from "../../../stages/schedules/cosine.ts";
import { type ScheduleTables, TABLE_NAMES } from "../../../stages/schedules/latent.ts";
import { kitTest, referencePath } from "../../kit.ts";

const SCHEDULES = referencePath("schedules.safetensors");

function loadReference() {
  return parseSafetensors(Deno.readFileSync(SCHEDULES), "schedules.safetensors").tensors;
}

type Key = keyof ScheduleTables<Float32Array>;

/** The tables the reference file stores for the super-resolution stage. */
const SR_KEYS = (Object.keys(TABLE_NAMES) as Key[]).filter((key) => key !== "logOneMinusAlphasCumprod");

function maxAbsDifference(ours: ArrayLike<number>, reference: ArrayLike<number>): number {
  assert.equal(ours.length, reference.length);
  let max = 0;
  for (let i = 0; i < ours.length; i++) max = Math.max(max, Math.abs(ours[i] - reference[i]));
  return max;
}

function maxAbs(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]));
  return max;
}

kitTest("cosine schedule alphas_cumprod within 2e-6 of the reference", [SCHEDULES], () => {
  const reference = loadReference().get("sr.alphas_cumprod")!.data as Float32Array;
  const ours = srCosineSchedule().alphasCumprod;
  const difference = maxAbsDifference(ours, reference);
  assert.ok(difference <= 2e-6, `max |ours − reference| = ${difference}`);
});

kitTest("cosine schedule betas within 0.15 % of the reference", [SCHEDULES], () => {
  // torch's float32 cos differs from a correctly rounded one by 1 ulp in places,
  // which moves a neighbouring pair of betas by up to 0.12 % (t = 68).
  const reference = loadReference().get("sr.betas")!.data as Float32Array;
  const ours = srCosineSchedule().betas;
  for (let t = 0; t < reference.length; t++) {
    const relative = Math.abs(ours[t] - reference[t]) / reference[t];
    assert.ok(relative <= 1.5e-3, `betas[${t}]: ${ours[t]} vs ${reference[t]}`);
  }
});

kitTest("cosine schedule derived tables within 3e-5 of scale", [SCHEDULES], () => {
  const reference = loadReference();
  const ours = srCosineSchedule();
  for (const key of SR_KEYS) {
    const expected = reference.get(`sr.${TABLE_NAMES[key]}`)!.data as Float32Array;
    const difference = maxAbsDifference(ours[key], expected);
    const bound = 3e-5 * maxAbs(expected);
    assert.ok(difference <= bound, `sr.${TABLE_NAMES[key]}: max difference ${difference} > ${bound}`);
  }
});

kitTest("cosine tables from the reference betas match bit for bit", [SCHEDULES], () => {
  const reference = loadReference();
  const ours = srScheduleFromBetas(reference.get("sr.betas")!.data as Float32Array);
  for (const key of SR_KEYS) {
    const expected = reference.get(`sr.${TABLE_NAMES[key]}`)!.data as Float32Array;
    for (let t = 0; t < expected.length; t++) {
      if (key === "posteriorLogVarianceClipped") {
        // torch's float32 log is within 1 ulp, not correctly rounded (two entries differ).
        const ulp = 2 ** (Math.floor(Math.log2(Math.abs(expected[t]))) - 23);
        assert.ok(
          Math.abs(ours[key][t] - expected[t]) <= ulp,
          `${key}[${t}]: ${ours[key][t]} vs ${expected[t]}`,
        );
      } else {
        assert.ok(Object.is(ours[key][t], expected[t]), `${key}[${t}]: ${ours[key][t]} vs ${expected[t]}`);
      }
    }
  }
});

Deno.test("cosine schedule clips as the reference does", () => {
  const schedule = srCosineSchedule();
  assert.equal(schedule.timesteps, 2000);
  for (let t = 0; t < 66; t++) {
    assert.equal(schedule.betas[t], Math.fround(1e-4), `betas[${t}] is clipped up`);
  }
  assert.ok(schedule.betas[66] > Math.fround(1e-4), "betas[66] is above the lower clip");
  assert.equal(schedule.betas[1999], Math.fround(0.9999));
  assert.ok(schedule.betas[1998] < Math.fround(0.9999));
  assert.equal(schedule.alphasCumprod[0], Math.fround(0.9999));
  assert.ok(Math.abs(schedule.alphasCumprod[1999] - 6.06e-11) < 0.01e-11);
  assert.ok(Math.abs(schedule.sqrtRecipm1AlphasCumprod[1999] - 128483) < 1);
  assert.equal(schedule.alphasCumprodPrev[0], 1);
  assert.equal(schedule.posteriorMeanCoef1[0], Math.fround(0.99983406));
  assert.equal(schedule.posteriorLogVarianceClipped[0], Math.fround(Math.log(Math.fround(1e-20))));
  assert.ok(schedule.betas.every((b) => b >= Math.fround(1e-4) && b <= Math.fround(0.9999)));
});

Deno.test("cosine schedule rejects invalid settings", () => {
  assert.throws(() => srCosineSchedule({ timesteps: 0, s: 0.008, betaClip: [1e-4, 0.9999] }), CheffError);
  assert.throws(() => srCosineSchedule({ timesteps: 2000, s: -1, betaClip: [1e-4, 0.9999] }), /s must be/);
  assert.throws(() => srCosineSchedule({ timesteps: 2000, s: 0.008, betaClip: [0.5, 0.1] }), /betaClip/);
});
