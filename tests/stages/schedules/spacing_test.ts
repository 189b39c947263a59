import assert from "node:assert/strict";
import { parseSafetensors } from "../../../io/safetensors.ts";
import { CheffError } from "../../../io/errors.ts";
import { latentSchedule } from "../../../stages/schedules/latent.ts";
import { srCosineSchedule, srScheduleFromBetas } from "../../../stages/schedules/cosine.ts";
import {
  ddimGrid,
  latentDdimParameters,
  latentExactSpacing,
  latentReferenceSpacing,
  srDdimParameters,
  srExactSpacing,
  srReferenceSpacing,
} from "../../../stages/schedules/spacing.ts";
import { kitTest, referencePath } from "../../kit.ts";

const SCHEDULES = referencePath("schedules.safetensors");

function loadReference() {
  return parseSafetensors(Deno.readFileSync(SCHEDULES), "schedules.safetensors").tensors;
}

function assertSameBits(ours: ArrayLike<number>, expected: ArrayLike<number | bigint>, name: string): void {
  assert.equal(ours.length, expected.length, `${name}: length`);
  for (let i = 0; i < ours.length; i++) {
    assert.ok(Object.is(ours[i], Number(expected[i])), `${name}[${i}]: ${ours[i]} vs ${expected[i]}`);
  }
}

function assertStrictlyIncreasing(grid: Int32Array, low: number, high: number, name: string): void {
  for (let i = 0; i < grid.length; i++) {
    assert.ok(grid[i] >= low, `${name}[${i}] = ${grid[i]} below ${low}`);
    assert.ok(grid[i] <= high, `${name}[${i}] = ${grid[i]} above ${high}`);
    if (i > 0) assert.ok(grid[i] > grid[i - 1], `${name} is not increasing at ${i}`);
  }
}

kitTest("latent reference spacing matches the reference grids", [SCHEDULES], () => {
  const reference = loadReference();
  for (const steps of [10, 50, 100, 150, 200, 250, 500]) {
    const expected = reference.get(`ldm.ddim.${steps}.timesteps`)!.data as BigInt64Array;
    assertSameBits(latentReferenceSpacing(steps), expected, `ldm.ddim.${steps}.timesteps`);
  }
  assert.equal(latentReferenceSpacing(150).length, 167);
});

kitTest("latent exact spacing equals the reference where S divides T", [SCHEDULES], () => {
  const reference = loadReference();
  for (const steps of [10, 50, 100, 200, 250, 500]) {
    const expected = reference.get(`ldm.ddim.${steps}.timesteps`)!.data as BigInt64Array;
    assertSameBits(latentExactSpacing(steps), expected, `exact grid for ${steps} steps`);
  }
});

Deno.test("latent exact spacing gives S steps for every S", () => {
  for (let steps = 1; steps <= 1000; steps++) {
    const grid = latentExactSpacing(steps);
    assert.equal(grid.length, steps);
    assertStrictlyIncreasing(grid, 0, 999, `grid for ${steps} steps`);
  }
  assert.equal(latentExactSpacing(150)[149], 994);
  assert.deepEqual(Array.from(latentExactSpacing(1000).subarray(0, 3)), [0, 1, 2]);
  assert.equal(latentExactSpacing(1000)[999], 999);
  assert.equal(latentExactSpacing(999)[0], 1);
  assert.equal(latentExactSpacing(999)[998], 999);
  assert.deepEqual(Array.from(latentExactSpacing(1)), [1]);
});

Deno.test("latent reference spacing rejects more than 500 steps", () => {
  for (const steps of [501, 750, 1000]) {
    assert.throws(
      () => latentReferenceSpacing(steps),
      (error: Error) =>
        error instanceof CheffError && /at most 500 steps/.test(error.message) &&
        /--spacing exact/.test(error.message),
    );
  }
  assert.equal(latentReferenceSpacing(500).at(-1), 999);
});

Deno.test("latent reference spacing rejects grids that reach t = 1000", () => {
  // A stride that divides 999 puts the last grid value at 999 + 1.
  const failing = new Set([3, 9, 27, 36, 37, ...range(101, 111), ...range(251, 333)]);
  for (let steps = 1; steps <= 500; steps++) {
    if (failing.has(steps)) {
      assert.throws(() => latentReferenceSpacing(steps), /reaches t = 1000, outside the 1000-step schedule/);
    } else {
      const grid = latentReferenceSpacing(steps);
      assert.ok(grid.length >= steps, `${steps} steps give ${grid.length}`);
      assert.equal(grid[0], 1);
      assert.ok(grid[grid.length - 1] <= 999);
    }
  }
});

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

Deno.test("spacing rejects step counts outside 1 to T", () => {
  for (const fn of [latentExactSpacing, latentReferenceSpacing]) {
    for (const steps of [0, -1, 1001, 2.5, NaN]) {
      assert.throws(() => fn(steps), /expected an integer from 1 to 1000/);
    }
  }
  for (const fn of [srExactSpacing, srReferenceSpacing]) {
    for (const steps of [0, 2001, 1.5]) assert.throws(() => fn(steps), /expected an integer from 1 to 2000/);
  }
});

kitTest("super-resolution reference spacing matches the reference grids", [SCHEDULES], () => {
  const reference = loadReference();
  for (const steps of [10, 100, 150]) {
    const expected = reference.get(`sr.ddim.${steps}.timesteps`)!.data as BigInt64Array;
    assertSameBits(srReferenceSpacing(steps), expected, `sr.ddim.${steps}.timesteps`);
  }
  assert.equal(srReferenceSpacing(150).length, 154);
  assert.equal(srReferenceSpacing(300).length, 334);
});

Deno.test("super-resolution exact spacing gives S steps from 0", () => {
  for (let steps = 1; steps <= 2000; steps++) {
    const grid = srExactSpacing(steps);
    assert.equal(grid.length, steps);
    assert.equal(grid[0], 0);
    assertStrictlyIncreasing(grid, 0, 1999, `grid for ${steps} steps`);
  }
  assertSameBits(srExactSpacing(100), srReferenceSpacing(100), "exact vs reference at 100 steps");
  assert.equal(srExactSpacing(2000)[1999], 1999);
});

Deno.test("ddimGrid picks the stage and spacing", () => {
  assertSameBits(ddimGrid("latent", 150, "exact"), latentExactSpacing(150), "latent exact");
  assertSameBits(ddimGrid("latent", 150, "reference"), latentReferenceSpacing(150), "latent reference");
  assertSameBits(ddimGrid("sr", 150, "exact"), srExactSpacing(150), "sr exact");
  assertSameBits(ddimGrid("sr", 150, "reference"), srReferenceSpacing(150), "sr reference");
});

kitTest("latent DDIM parameters match the reference bit for bit", [SCHEDULES], () => {
  const reference = loadReference();
  const schedule = latentSchedule();
  for (const steps of [100, 150]) {
    const p = latentDdimParameters(schedule.alphasCumprod, latentReferenceSpacing(steps), 1);
    const name = (key: string) => `ldm.ddim.${steps}.${key}`;
    const table = (key: string) => reference.get(name(key))!.data as Float32Array | Float64Array;
    assertSameBits(p.alphas, table("alphas"), name("alphas"));
    assertSameBits(p.alphasPrev, table("alphas_prev"), name("alphas_prev"));
    assertSameBits(p.sigmas64, table("sigmas_eta1"), name("sigmas_eta1"));
    assertSameBits(p.sigmas, table("sigmas_eta1_f32"), name("sigmas_eta1_f32"));
    assertSameBits(p.sqrtOneMinusAlphas, table("sqrt_one_minus_alphas"), name("sqrt_one_minus_alphas"));
  }
});

kitTest("super-resolution DDIM parameters match the reference", [SCHEDULES], () => {
  const reference = loadReference();
  const fromBetas = srScheduleFromBetas(reference.get("sr.betas")!.data as Float32Array);
  const computed = srCosineSchedule();
  for (const steps of [100, 150]) {
    const grid = srReferenceSpacing(steps);
    const exact = srDdimParameters(fromBetas.alphasCumprod, grid, 1);
    const close = srDdimParameters(computed.alphasCumprod, grid, 1);
    for (
      const [key, file] of [
        ["alphas", "alphas"],
        ["alphasPrev", "alphas_prev"],
        ["sigmas", "sigmas_eta1"],
        ["sqrtOneMinusAlphas", "sqrt_one_minus_alphas"],
      ] as const
    ) {
      const name = `sr.ddim.${steps}.${file}`;
      const expected = reference.get(name)!.data as Float32Array;
      assertSameBits(exact[key], expected, `${name} from the reference betas`);
      for (let i = 0; i < expected.length; i++) {
        assert.ok(Math.abs(close[key][i] - expected[i]) <= 2e-6, `${name}[${i}] from the computed schedule`);
      }
    }
  }
});

Deno.test("DDIM parameters start from alphas_cumprod[0], not 1", () => {
  const latent = latentSchedule();
  const p = latentDdimParameters(latent.alphasCumprod, latentExactSpacing(100), 1);
  assert.equal(p.alphasPrev[0], latent.alphasCumprod[0]);
  assert.ok(Math.abs(p.sigmas[0] - 0.02744) < 1e-5);
  const sr = srCosineSchedule();
  const q = srDdimParameters(sr.alphasCumprod, srExactSpacing(100), 1);
  assert.equal(q.alphasPrev[0], sr.alphasCumprod[0]);
  assert.equal(q.sigmas[0], 0);
});

Deno.test("DDIM parameters with eta 0 have no noise", () => {
  const latent = latentSchedule();
  const p = latentDdimParameters(latent.alphasCumprod, latentExactSpacing(50), 0);
  assert.ok(p.sigmas.every((s) => s === 0));
  const sr = srCosineSchedule();
  const q = srDdimParameters(sr.alphasCumprod, srExactSpacing(50), 0);
  assert.ok(q.sigmas.every((s) => s === 0));
});

Deno.test("DDIM parameters reject bad grids and eta", () => {
  const latent = latentSchedule();
  assert.throws(
    () => latentDdimParameters(latent.alphasCumprod, Int32Array.of(1, 1000), 1),
    /t = 1000|timestep 1000/,
  );
  assert.throws(() => latentDdimParameters(latent.alphasCumprod, new Int32Array(0), 1), /empty/);
  assert.throws(() => latentDdimParameters(latent.alphasCumprod, latentExactSpacing(10), -1), /eta/);
  assert.throws(() => srDdimParameters(latent.alphasCumprod, latentExactSpacing(10), NaN), /eta/);
});
