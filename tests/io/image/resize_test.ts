import assert from "node:assert/strict";
import { join } from "node:path";
import { CheffError } from "../../../io/errors.ts";
import { decodePng } from "../../../io/image/png.ts";
import { crop, resizeBilinear, resizeShortSideAndCenterCrop } from "../../../io/image/resize.ts";
import type { GrayImage } from "../../../io/image/load.ts";
import { parseSafetensors } from "../../../io/safetensors.ts";
import { dataPath, kitTest, referencePath } from "../../kit.ts";

function row(values: number[]): GrayImage {
  return { width: values.length, height: 1, data: Float32Array.from(values) };
}

function assertAllClose(
  actual: ArrayLike<number>,
  expected: number[],
  tolerance: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tolerance,
      `${what}[${i}] = ${actual[i]}, expected ${expected[i]}`,
    );
  }
}

// Expected values below are worked out by hand from Pillow's rule: centre
// c = (i + 0.5)·scale, taps j in [⌊c − s + 0.5⌋, ⌊c + s + 0.5⌋) cut to the image,
// weight tri((j − c + 0.5)/s) with s = max(scale, 1), weights divided by their sum.

Deno.test("resize 4 to 2 renormalises at the borders", () => {
  // Output 0: c = 1, taps 0..2, weights 0.75, 0.75, 0.25 (sum 1.75) → 0.75/1.75.
  // Output 1: c = 3, taps 1..3, weights 0.25, 0.75, 0.75 → 1/1.75.
  assertAllClose(resizeBilinear(row([0, 1, 0, 1]), 2, 1).data, [3 / 7, 4 / 7], 1e-7, "4→2");
});

Deno.test("resize 3 to 1 weights 2:3:2", () => {
  // c = 1.5, s = 3: weights tri(−1/3), tri(0), tri(1/3) = 2/3, 1, 2/3.
  assertAllClose(resizeBilinear(row([0, 0, 7]), 1, 1).data, [2], 1e-6, "3→1");
  assertAllClose(resizeBilinear(row([7, 0, 0]), 1, 1).data, [2], 1e-6, "3→1 mirrored");
});

Deno.test("resize 5 to 2 with a non-integer scale", () => {
  // scale 2.5. Output 0: c = 1.25, taps 0..3, weights 0.7, 0.9, 0.5, 0.1 (sum 2.2).
  // Output 1: c = 3.75, taps 1..4, weights 0.1, 0.5, 0.9, 0.7.
  assertAllClose(resizeBilinear(row([0, 10, 20, 30, 40]), 2, 1).data, [10, 30], 1e-5, "ramp");
  assertAllClose(resizeBilinear(row([1, 0, 0, 0, 0]), 2, 1).data, [7 / 22, 0], 1e-7, "impulse");
});

Deno.test("enlarging interpolates between pixel centres", () => {
  // 2 → 4: centres 0.25, 0.75, 1.25, 1.75; the outer ones have a single tap.
  assertAllClose(resizeBilinear(row([0, 1]), 4, 1).data, [0, 0.25, 0.75, 1], 1e-7, "2→4");
  // 3 → 5: scale 0.6, centres 0.3, 0.9, 1.5, 2.1, 2.7.
  assertAllClose(resizeBilinear(row([0, 10, 20]), 5, 1).data, [0, 4, 10, 16, 20], 1e-5, "3→5");
});

Deno.test("vertical pass matches the horizontal one", () => {
  const column: GrayImage = { width: 1, height: 5, data: Float32Array.of(0, 10, 20, 30, 40) };
  assertAllClose(resizeBilinear(column, 1, 2).data, [10, 30], 1e-5, "column");
});

Deno.test("separable resize of an outer product is the outer product of the 1D resizes", () => {
  const u = [1, 3, 2, 8, 5, 4, 7];
  const v = [2, 9, 4, 1, 6];
  const image: GrayImage = { width: u.length, height: v.length, data: new Float32Array(u.length * v.length) };
  v.forEach((vy, y) => u.forEach((ux, x) => (image.data[y * u.length + x] = ux * vy)));
  const U = resizeBilinear(row(u), 3, 1).data;
  const V = resizeBilinear(row(v), 4, 1).data;
  const resized = resizeBilinear(image, 3, 4);
  const expected: number[] = [];
  for (let y = 0; y < 4; y++) for (let x = 0; x < 3; x++) expected.push(U[x] * V[y]);
  assertAllClose(resized.data, expected, 1e-4, "outer product");
});

Deno.test("constant image stays constant at any size", () => {
  const sizes: [number, number, number, number][] = [[64, 48, 17, 9], [5, 7, 31, 2], [100, 3, 1, 1], [
    9,
    9,
    9,
    9,
  ], [13, 29, 40, 11]];
  for (const [w0, h0, w1, h1] of sizes) {
    const image: GrayImage = { width: w0, height: h0, data: new Float32Array(w0 * h0).fill(0.3125) };
    const resized = resizeBilinear(image, w1, h1);
    assert.equal(resized.width, w1);
    assert.equal(resized.height, h1);
    for (const value of resized.data) {
      assert.ok(Math.abs(value - 0.3125) < 1e-6, `${w0}x${h0} → ${w1}x${h1}: ${value}`);
    }
  }
});

Deno.test("halving a 2-pixel-periodic pattern averages it", () => {
  // Away from the borders the taps are j = 2i − 1 … 2i + 2 with weights 0.25, 0.75,
  // 0.75, 0.25, covering each phase of the pattern with weight 1.
  const width = 32, height = 8;
  const image: GrayImage = { width, height, data: new Float32Array(width * height) };
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) image.data[y * width + x] = (x + y) % 2;
  const resized = resizeBilinear(image, width / 2, height / 2);
  for (let y = 1; y < height / 2 - 1; y++) {
    for (let x = 1; x < width / 2 - 1; x++) {
      assert.ok(Math.abs(resized.data[y * (width / 2) + x] - 0.5) < 1e-6, `(${x}, ${y})`);
    }
  }
});

Deno.test("same size is an exact copy", () => {
  const image = row([0.1, 0.7, 0.3]);
  const same = resizeBilinear(image, 3, 1);
  assert.deepEqual(Array.from(same.data), Array.from(image.data));
  assert.notEqual(same.data, image.data);
});

Deno.test("resize rejects invalid sizes", () => {
  assert.throws(() => resizeBilinear(row([1, 2]), 0, 1), CheffError);
  assert.throws(() => resizeBilinear(row([1, 2]), 1.5, 1), CheffError);
  assert.throws(() => resizeBilinear({ width: 2, height: 2, data: new Float32Array(3) }, 1, 1), CheffError);
  assert.throws(() => crop(row([1, 2, 3]), 2, 0, 2, 1), CheffError);
});

function ramp(width: number, height: number): GrayImage {
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 101 / 100;
  return { width, height, data };
}

Deno.test("short side resize and centre crop, portrait", () => {
  // 10x20 → 5x10, then rows ⌊(10 − 5)/2⌋ = 2 … 6.
  const image = ramp(10, 20);
  const result = resizeShortSideAndCenterCrop(image, 5);
  const expected = crop(resizeBilinear(image, 5, 10), 0, 2, 5, 5);
  assert.equal(result.width, 5);
  assert.equal(result.height, 5);
  assert.deepEqual(Array.from(result.data), Array.from(expected.data));
});

Deno.test("short side resize and centre crop, landscape and odd sizes", () => {
  // 21x10 → ⌊4·21/10⌋ = 8 wide, columns 2 … 5.
  const landscape = ramp(21, 10);
  assert.deepEqual(
    Array.from(resizeShortSideAndCenterCrop(landscape, 4).data),
    Array.from(crop(resizeBilinear(landscape, 8, 4), 2, 0, 4, 4).data),
  );
  // 7x10 → 3 x ⌊3·10/7⌋ = 3x4, top row ⌊(4 − 3)/2⌋ = 0.
  const odd = ramp(7, 10);
  assert.deepEqual(
    Array.from(resizeShortSideAndCenterCrop(odd, 3).data),
    Array.from(crop(resizeBilinear(odd, 3, 4), 0, 0, 3, 3).data),
  );
  // Square input: a plain resize.
  const square = ramp(12, 12);
  assert.deepEqual(
    Array.from(resizeShortSideAndCenterCrop(square, 5).data),
    Array.from(resizeBilinear(square, 5, 5).data),
  );
  // Enlarging works the same way.
  const small = ramp(3, 2);
  assert.deepEqual(
    Array.from(resizeShortSideAndCenterCrop(small, 4).data),
    Array.from(crop(resizeBilinear(small, 6, 4), 1, 0, 4, 4).data),
  );
});

const GRADIENTS = referencePath("gradients.safetensors");
const NIH_00000002 = dataPath(join("cxr", "nih-256", "00000002_000.png"));

kitTest("256 to 16 px matches Pillow's bilinear resize", [GRADIENTS, NIH_00000002], async () => {
  // `sr.lowres` batch 0 is this radiograph resized to 16x16 by Pillow's bilinear
  // filter on the 8-bit image, divided by 255. Pillow's 8-bit path rounds after
  // each pass, so agreement is within one grey level, not exact.
  const reference = parseSafetensors(await Deno.readFile(GRADIENTS), "gradients.safetensors").tensors.get(
    "sr.lowres",
  )!;
  assert.deepEqual(reference.shape, [2, 1, 16, 16]);
  const expected = (reference.data as Float32Array).subarray(0, 256);
  const image = decodePng(await Deno.readFile(NIH_00000002), "00000002_000.png");
  const resized = resizeBilinear(image, 16, 16);

  let maxLevels = 0;
  let sameAfterRounding = 0;
  for (let i = 0; i < 256; i++) {
    maxLevels = Math.max(maxLevels, Math.abs(resized.data[i] - expected[i]) * 255);
    if (Math.round(resized.data[i] * 255) === Math.round(expected[i] * 255)) sameAfterRounding++;
  }
  // Measured: 0.58 levels at most, 247 of 256 pixels equal after rounding.
  assert.ok(maxLevels < 1, `largest difference ${maxLevels} grey levels`);
  assert.ok(sameAfterRounding >= 240, `${sameAfterRounding} of 256 pixels equal after rounding`);
});
