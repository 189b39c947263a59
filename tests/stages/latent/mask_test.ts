/** Mask files to latent-size masks: thresholds, max-pooling, tensor checks and the paste-back. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CheffError } from "../../../io/errors.ts";
import { encodePng } from "../../../io/image/write.ts";
import { serializeSafetensors } from "../../../io/safetensors.ts";
import {
  invertMask,
  type Mask,
  pasteKept,
  readMaskFile,
  toImageMask,
  toLatentMask,
} from "../../../stages/latent/mask.ts";

const dir = Deno.makeTempDirSync({ prefix: "cheff-mask-" });
const target = { height: 4, width: 4, factor: 4 };

/** Writes an 8-bit gray PNG from pixel values 0–255. */
function writePng(name: string, width: number, height: number, pixel: (x: number, y: number) => number): string {
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = (pixel(x, y) / 255) * 2 - 1;
  const path = join(dir, name);
  Deno.writeFileSync(path, encodePng({ width, height, channels: 1, data }));
  return path;
}

function writeTensor(name: string, shape: number[], values: number[] | Float32Array): string {
  const path = join(dir, name);
  Deno.writeFileSync(path, serializeSafetensors({ mask: { shape, data: Float32Array.from(values) } }));
  return path;
}

async function rejects(promise: Promise<unknown> | (() => unknown), pattern: RegExp): Promise<void> {
  const run = typeof promise === "function" ? Promise.resolve().then(promise) : promise;
  await assert.rejects(run, (error: Error) => {
    assert.ok(error instanceof CheffError, `not a CheffError: ${error}`);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes("\n"), "one line");
    return true;
  });
}

Deno.test("mask image thresholds gray at 128", async () => {
  const path = writePng("levels.png", 4, 4, (x) => [0, 127, 128, 255][x]);
  const mask = await readMaskFile(path);
  assert.deepEqual(mask.shape, [1, 1, 4, 4]);
  assert.deepEqual([...mask.data.subarray(0, 4)], [0, 0, 1, 1]);
});

Deno.test("image-size mask is max-pooled to the latent", async () => {
  // One white pixel in the cell at latent (row 1, column 2); everything else black.
  const path = writePng("dot.png", 16, 16, (x, y) => (x === 9 && y === 7 ? 255 : 0));
  const latent = toLatentMask(await readMaskFile(path), target);
  assert.deepEqual(latent.shape, [1, 1, 4, 4]);
  const expected = new Float32Array(16);
  expected[1 * 4 + 2] = 1;
  assert.deepEqual(latent.data, expected);
});

Deno.test("latent-size mask is used as it is", async () => {
  const path = writePng("latent.png", 4, 4, (x, y) => (x === y ? 255 : 0));
  const latent = toLatentMask(await readMaskFile(path), target);
  assert.deepEqual([...latent.data], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
});

Deno.test("mask of another size is rejected", async () => {
  const path = writePng("odd.png", 8, 8, () => 255);
  const mask = await readMaskFile(path);
  await rejects(() => toLatentMask(mask, target), /mask is 8×8 \(width×height\), expected the image's 16×16 or the latent's 4×4/);
});

Deno.test("safetensors mask at both sizes", async () => {
  const latentPath = writeTensor("latent.safetensors", [2, 1, 4, 4], Array.from({ length: 32 }, (_, i) => i % 2));
  const latent = toLatentMask(await readMaskFile(latentPath), target);
  assert.deepEqual(latent.shape, [2, 1, 4, 4]);
  const image = new Float32Array(256);
  image[255] = 1;
  const imagePath = writeTensor("image.safetensors", [1, 1, 16, 16], image);
  const pooled = toLatentMask(await readMaskFile(imagePath), target);
  assert.deepEqual([...pooled.data].map((v, i) => (v ? i : -1)).filter((i) => i >= 0), [15]);
});

Deno.test("bad mask files are one clear line", async () => {
  await rejects(readMaskFile(writeTensor("half.safetensors", [1, 1, 4, 4], new Float32Array(16).fill(0.5))), /contains 0\.5 at index 0; expected only 0 \(keep\) and 1 \(synthesise\)/);
  await rejects(readMaskFile(writeTensor("rank.safetensors", [1, 4, 4], new Float32Array(16))), /'mask' has shape \[1,4,4\], expected \[N, 1, h, w\]/);
  const other = join(dir, "other.safetensors");
  Deno.writeFileSync(other, serializeSafetensors({ latent: { shape: [1, 3, 4, 4], data: new Float32Array(48) } }));
  await rejects(readMaskFile(other), /no 'mask' tensor \(the file has: latent\)/);
  const text = join(dir, "notes.txt");
  Deno.writeTextFileSync(text, "not a mask at all");
  await rejects(readMaskFile(text), /not a mask; expected a PNG, JPEG or DICOM image, or a safetensors file/);
  await rejects(readMaskFile(join(dir, "missing.png")), /missing\.png: file not found/);
});

Deno.test("inverting swaps synthesise and keep", () => {
  const mask: Mask = { shape: [1, 1, 1, 3], data: Float32Array.of(1, 0, 1), source: "m" };
  assert.deepEqual([...invertMask(mask).data], [0, 1, 0]);
});

Deno.test("paste restores exactly the kept pixels", () => {
  const latentMask: Mask = { shape: [1, 1, 2, 2], data: Float32Array.of(1, 0, 0, 0), source: "m" };
  const imageMask = toImageMask(latentMask, { height: 2, width: 2, factor: 2 });
  assert.deepEqual([...imageMask.data], [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const decoded = { shape: [2, 1, 4, 4], data: new Float32Array(32).fill(0.25) };
  const original = { shape: [1, 1, 4, 4], data: Float32Array.from({ length: 16 }, (_, i) => i / 16) };
  const out = pasteKept(decoded, original, imageMask);
  for (let b = 0; b < 2; b++) {
    for (let p = 0; p < 16; p++) {
      const expected = imageMask.data[p] === 1 ? 0.25 : original.data[p];
      assert.equal(out[b * 16 + p], expected, `image ${b}, pixel ${p}`);
    }
  }
});
