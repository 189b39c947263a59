import assert from "node:assert/strict";
import { CheffError } from "../../io/errors.ts";
import {
  downsample2x,
  gaussianWindow,
  minimumMsSsimSide,
  mse,
  msSsim,
  msSsimScales,
  psnr,
  ssim,
  ssimDefault,
  ssimMap,
} from "../../metrics/image.ts";
import { kitTest } from "../kit.ts";
import { assertCloseOfScale, loadMetricsReference, METRICS_REFERENCE } from "./reference.ts";

/** Relative tolerance of the reference comparisons. Against the float64 values the measured errors are below 1e-12. */
const TOLERANCE = 1e-4;
const SIZE = { width: 256, height: 256 };
const PIXELS = 256 * 256;
const ODD_SIZE = { width: 181, height: 200 };

async function referencePairs() {
  const reference = await loadMetricsReference();
  const a = reference.tensor("images.a").data as Float32Array;
  const b = reference.tensor("images.b").data as Float32Array;
  const pairs = Array.from({ length: 6 }, (_, i) => ({
    a: a.subarray(i * PIXELS, (i + 1) * PIXELS),
    b: b.subarray(i * PIXELS, (i + 1) * PIXELS),
  }));
  const odd = { a: reference.tensor("odd.a").data as Float32Array, b: reference.tensor("odd.b").data as Float32Array };
  return { reference, pairs, odd };
}

function seededImage(width: number, height: number, seed: number): Float64Array {
  const out = new Float64Array(width * height);
  let state = seed;
  for (let i = 0; i < out.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 32;
  }
  return out;
}

kitTest("mse matches the reference per pair", [METRICS_REFERENCE], async () => {
  const { reference, pairs, odd } = await referencePairs();
  assertCloseOfScale(pairs.map(({ a, b }) => mse(a, b)), reference.expected("mse"), TOLERANCE, "mse");
  assertCloseOfScale([mse(odd.a, odd.b)], reference.expected("odd.mse"), TOLERANCE, "odd.mse");
});

kitTest("psnr matches the reference, identical pair exactly +inf", [METRICS_REFERENCE], async () => {
  const { reference, pairs, odd } = await referencePairs();
  const values = pairs.map(({ a, b }) => psnr(a, b));
  assert.equal(values[5], Infinity);
  assertCloseOfScale(values, reference.expected("psnr"), TOLERANCE, "psnr");
  assertCloseOfScale([psnr(odd.a, odd.b)], reference.expected("odd.psnr"), TOLERANCE, "odd.psnr");
});

kitTest("gaussian ssim matches skimage's reference values", [METRICS_REFERENCE], async () => {
  const { reference, pairs, odd } = await referencePairs();
  assertCloseOfScale(pairs.map(({ a, b }) => ssim(a, b, SIZE)), reference.expected("ssim"), TOLERANCE, "ssim");
  assertCloseOfScale([ssim(odd.a, odd.b, ODD_SIZE)], reference.expected("odd.ssim"), TOLERANCE, "odd.ssim");
});

kitTest("default ssim matches skimage's 7x7 uniform variant", [METRICS_REFERENCE], async () => {
  const { reference, pairs, odd } = await referencePairs();
  const values = pairs.map(({ a, b }) => ssimDefault(a, b, SIZE));
  assertCloseOfScale(values, reference.expected("ssim_default"), TOLERANCE, "ssim_default");
  assertCloseOfScale([ssimDefault(odd.a, odd.b, ODD_SIZE)], reference.expected("odd.ssim_default"), TOLERANCE, "odd.ssim_default");
});

kitTest("ssim map of pair 0 matches at every valid position", [METRICS_REFERENCE], async () => {
  const { reference, pairs } = await referencePairs();
  const map = ssimMap(pairs[0].a, pairs[0].b, SIZE);
  assert.equal(map.width, 246);
  assert.equal(map.height, 246);
  assertCloseOfScale(map.data, reference.tensor("ssim_map0").data as Float32Array, TOLERANCE, "ssim_map0");
});

kitTest("ms-ssim and its per-scale means match the reference", [METRICS_REFERENCE], async () => {
  const { reference, pairs } = await referencePairs();
  const scales = pairs.map(({ a, b }) => msSsimScales(a, b, SIZE));
  assertCloseOfScale(scales.flatMap((s) => s.cs), reference.expected("ms_ssim_scales.cs"), TOLERANCE, "ms_ssim_scales.cs");
  assertCloseOfScale(scales.flatMap((s) => s.ssim), reference.expected("ms_ssim_scales.ssim"), TOLERANCE, "ms_ssim_scales.ssim");
  assertCloseOfScale(pairs.map(({ a, b }) => msSsim(a, b, SIZE)), reference.expected("ms_ssim"), TOLERANCE, "ms_ssim");
});

kitTest("ms-ssim odd-size conventions match the reference", [METRICS_REFERENCE], async () => {
  const { reference, odd } = await referencePairs();
  const repeat = msSsim(odd.a, odd.b, ODD_SIZE, { oddSize: "repeat" });
  const floor = msSsim(odd.a, odd.b, ODD_SIZE, { oddSize: "floor" });
  const zeropad = msSsim(odd.a, odd.b, ODD_SIZE, { oddSize: "zeropad" });
  assertCloseOfScale([repeat], reference.expected("odd.ms_ssim"), TOLERANCE, "odd.ms_ssim");
  assertCloseOfScale([floor], reference.expected("odd.ms_ssim_floor"), TOLERANCE, "odd.ms_ssim_floor");
  assertCloseOfScale([zeropad], reference.expected("odd.ms_ssim_zeropad"), TOLERANCE, "odd.ms_ssim_zeropad");
  assert.equal(msSsim(odd.a, odd.b, ODD_SIZE), repeat, "repeat is the default convention");

  const scales = msSsimScales(odd.a, odd.b, ODD_SIZE);
  assert.deepEqual(scales.sizes.map((s) => s.height), [200, 100, 50, 25, 13]);
  assert.deepEqual(scales.sizes.map((s) => s.width), [181, 91, 46, 23, 12]);
  assertCloseOfScale(scales.cs, reference.expected("odd.ms_ssim_scales.cs"), TOLERANCE, "odd.ms_ssim_scales.cs");
  assertCloseOfScale(scales.ssim, reference.expected("odd.ms_ssim_scales.ssim"), TOLERANCE, "odd.ms_ssim_scales.ssim");
});

Deno.test("gaussian window has 11 taps summing to 1", () => {
  const taps = gaussianWindow(1.5);
  assert.equal(taps.length, 11);
  assert.ok(Math.abs(taps.reduce((sum, t) => sum + t, 0) - 1) < 1e-15);
  assert.ok(Math.abs(taps[5] / taps[4] - Math.exp(1 / (2 * 1.5 * 1.5))) < 1e-12);
  assert.equal(taps[0], taps[10]);
});

Deno.test("identical images give ssim 1, ms-ssim 1, psnr +inf", () => {
  const image = seededImage(170, 165, 7);
  const size = { width: 170, height: 165 };
  assert.equal(ssim(image, image, size), 1);
  assert.equal(msSsim(image, image, size), 1);
  assert.equal(psnr(image, image), Infinity);
  assert.equal(mse(image, image), 0);
});

Deno.test("ssim is symmetric and below 1 for different images", () => {
  const size = { width: 40, height: 30 };
  const a = seededImage(40, 30, 1);
  const b = seededImage(40, 30, 2);
  assert.equal(ssim(a, b, size), ssim(b, a, size));
  assert.ok(ssim(a, b, size) < 0.1);
});

Deno.test("psnr uses peak 1, not the image maximum", () => {
  const a = new Float64Array([0, 0, 0, 0]);
  const b = new Float64Array([0.1, 0.1, 0.1, 0.1]);
  assert.ok(Math.abs(psnr(a, b) - 20) < 1e-12);
});

Deno.test("downsample conventions on a 3x3 image", () => {
  const image = { width: 3, height: 3, data: new Float64Array([1, 2, 3, 4, 5, 6, 7, 8, 9]) };
  assert.deepEqual(Array.from(downsample2x(image, "repeat").data), [3, 4.5, 7.5, 9]);
  assert.deepEqual(Array.from(downsample2x(image, "floor").data), [3]);
  assert.deepEqual(Array.from(downsample2x(image, "zeropad").data), [0.25, 1.25, 2.75, 7]);
});

Deno.test("ms-ssim rejects images too small for 5 scales", () => {
  assert.equal(minimumMsSsimSide(), 161);
  const small = seededImage(160, 200, 3);
  assert.throws(() => msSsim(small, small, { width: 160, height: 200 }), CheffError);
  const fits = seededImage(161, 161, 3);
  assert.equal(msSsim(fits, fits, { width: 161, height: 161 }), 1);
  assert.equal(minimumMsSsimSide(11, 5, "floor"), 176);
});

Deno.test("metrics reject mismatched image sizes", () => {
  assert.throws(() => mse([0, 1, 2], [0, 1]), CheffError);
  assert.throws(() => ssim(new Float64Array(100), new Float64Array(100), { width: 20, height: 20 }), CheffError);
  assert.throws(() => ssim(new Float64Array(100), new Float64Array(100), { width: 10, height: 10 }), /smaller than the 11×11 window/);
});
