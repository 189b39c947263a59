import assert from "node:assert/strict";
import { join } from "node:path";
import { CheffError } from "../../../io/errors.ts";
import { encodeJpeg, grayTo8Bit } from "../../../io/image/jpeg.ts";
import {
  decodeImage,
  imageToModelInput,
  loadImage,
  loadImagesAsBatch,
  sniffImageFormat,
} from "../../../io/image/load.ts";
import { decodePng } from "../../../io/image/png.ts";
import { resizeShortSideAndCenterCrop } from "../../../io/image/resize.ts";
import { dataPath, FIXTURES_DIR, kitTest } from "../../kit.ts";

const FIXTURE = join(FIXTURES_DIR, "images", "nih_00000001_001_64.png");
const FIXTURE_RGBA = join(FIXTURES_DIR, "images", "nih_00000001_001_64_rgba.png");
const FIXTURE_PALETTE = join(FIXTURES_DIR, "images", "nih_00000001_001_64_palette4.png");

async function assertRejects(fn: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(fn, (error: unknown) => {
    assert.ok(error instanceof CheffError, `expected a CheffError, got ${error}`);
    assert.ok(!error.message.includes("\n"), `message spans several lines: ${error.message}`);
    assert.match(error.message, pattern);
    return true;
  });
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cheff-image-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("format sniffing by magic bytes", () => {
  const png = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0);
  assert.equal(sniffImageFormat(png), "png");
  assert.equal(sniffImageFormat(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0)), "jpeg");

  const withPreamble = new Uint8Array(200);
  withPreamble.set([0x44, 0x49, 0x43, 0x4d], 128); // "DICM"
  assert.equal(sniffImageFormat(withPreamble), "dicom");

  // (0008,0008) with explicit VR "CS", and with an implicit 4-byte length.
  const explicit = Uint8Array.of(0x08, 0x00, 0x08, 0x00, 0x43, 0x53, 0x02, 0x00, 0x41, 0x42);
  assert.equal(sniffImageFormat(explicit), "dicom");
  const implicit = Uint8Array.of(0x08, 0x00, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x41, 0x42);
  assert.equal(sniffImageFormat(implicit), "dicom");

  assert.equal(sniffImageFormat(new TextEncoder().encode("hello, this is a text file")), undefined);
  assert.equal(sniffImageFormat(Uint8Array.of(0x08, 0x00, 0x08, 0x00, 0xff, 0xff, 0xff, 0x7f)), undefined);
  assert.equal(sniffImageFormat(new Uint8Array(0)), undefined);
});

Deno.test("loadImage reads PNG and JPEG files", async () => {
  const png = await loadImage(FIXTURE);
  assert.deepEqual(png, decodePng(await Deno.readFile(FIXTURE), FIXTURE));

  await withTempDir(async (dir) => {
    const path = join(dir, "radiograph.jpeg");
    await Deno.writeFile(path, encodeJpeg(grayTo8Bit(png), 95));
    const jpeg = await loadImage(path);
    assert.equal(jpeg.width, 64);
    assert.equal(jpeg.height, 64);
    let max = 0;
    for (let i = 0; i < png.data.length; i++) max = Math.max(max, Math.abs(jpeg.data[i] - png.data[i]));
    assert.ok(max < 10 / 255, `JPEG differs by ${max * 255} levels`);
  });
});

Deno.test("loadImage errors name the file and what was expected", async () => {
  await withTempDir(async (dir) => {
    const missing = join(dir, "missing.png");
    await assertRejects(() => loadImage(missing), new RegExp(`^${missing}: file not found$`));

    const text = join(dir, "notes.txt");
    await Deno.writeTextFile(text, "not an image at all\n");
    await assertRejects(
      () => loadImage(text),
      /notes\.txt: not an image; expected a PNG, JPEG or DICOM file$/,
    );

    const empty = join(dir, "empty.png");
    await Deno.writeFile(empty, new Uint8Array(0));
    await assertRejects(
      () => loadImage(empty),
      /empty\.png: file is empty; expected a PNG, JPEG or DICOM file$/,
    );

    const bytes = await Deno.readFile(FIXTURE);
    const cut = join(dir, "cut.png");
    await Deno.writeFile(cut, bytes.subarray(0, 1000));
    await assertRejects(() => loadImage(cut), /cut\.png: truncated PNG/);

    const cutJpeg = join(dir, "cut.jpg");
    await Deno.writeFile(cutJpeg, encodeJpeg(grayTo8Bit(decodePng(bytes, "x")), 90).subarray(0, 700));
    await assertRejects(() => loadImage(cutJpeg), /cut\.jpg: truncated JPEG/);

    await assertRejects(() => loadImage(dir), /is a folder, expected a file/);
  });
});

Deno.test("imageToModelInput maps [0, 1] to [-1, 1] and repeats channels", () => {
  const image = { width: 4, height: 2, data: Float32Array.of(0, 0.25, 0.5, 1, 1, 0.5, 0.25, 0) };
  // 4x2 → shorter side 2 stays, 2x2 centre crop: columns 1 and 2.
  const one = imageToModelInput(image, 2, 1);
  assert.deepEqual(Array.from(one), [-0.5, 0, 0, -0.5]);
  const three = imageToModelInput(image, 2, 3);
  assert.deepEqual(Array.from(three), [-0.5, 0, 0, -0.5, -0.5, 0, 0, -0.5, -0.5, 0, 0, -0.5]);
  assert.throws(() => imageToModelInput(image, 2, 2 as 1), CheffError);
});

Deno.test("loadImagesAsBatch stacks resized images in order", async () => {
  const paths = [FIXTURE, FIXTURE_RGBA, FIXTURE_PALETTE];
  const batch = await loadImagesAsBatch(paths, 24, 3);
  assert.deepEqual(batch.shape, [3, 3, 24, 24]);
  assert.equal(batch.data.length, 3 * 3 * 24 * 24);
  for (let n = 0; n < paths.length; n++) {
    const square = resizeShortSideAndCenterCrop(await loadImage(paths[n]), 24);
    for (let c = 0; c < 3; c++) {
      const plane = batch.data.subarray((n * 3 + c) * 576, (n * 3 + c + 1) * 576);
      plane.forEach((v, i) =>
        assert.equal(v, Math.fround(2 * square.data[i] - 1), `image ${n}, channel ${c}, pixel ${i}`)
      );
    }
  }
  await assertRejects(() => loadImagesAsBatch([], 24, 3), /no input images given/);
});

Deno.test("decodeImage names the source in errors", async () => {
  await assertRejects(
    () => decodeImage(Uint8Array.of(1, 2, 3, 4), "standard input"),
    /^standard input: not an image/,
  );
});

const CHEST = dataPath("dicom-chest");

kitTest("DICOM files load through the DICOM reader", [CHEST], async () => {
  // Both files hold the same windowed image as expected_display.png (16-bit).
  const expected = await loadImage(join(CHEST, "expected_display.png"));
  for (const name of ["chest_dx12_explicit_le.dcm", "chest_dx12_implicit_le_no_preamble_no_meta.dcm"]) {
    const image = await loadImage(join(CHEST, name));
    assert.equal(image.width, 512, name);
    assert.equal(image.height, 512, name);
    let max = 0;
    for (let i = 0; i < image.data.length; i++) {
      max = Math.max(max, Math.abs(image.data[i] - expected.data[i]));
    }
    assert.ok(max <= 1.5 / 65535, `${name}: differs from the expected display by ${max * 65535} of 65535`);
  }
});
