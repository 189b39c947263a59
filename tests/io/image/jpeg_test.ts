import assert from "node:assert/strict";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { CheffError } from "../../../io/errors.ts";
import { decodeJpeg, encodeJpeg, grayTo8Bit, inspectJpeg } from "../../../io/image/jpeg.ts";
import { decodePng } from "../../../io/image/png.ts";
import { FIXTURES_DIR } from "../../kit.ts";

async function radiograph8() {
  const image = decodePng(
    await Deno.readFile(join(FIXTURES_DIR, "images", "nih_00000001_001_64.png")),
    "nih.png",
  );
  return grayTo8Bit(image);
}

function assertCheffError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CheffError, `expected a CheffError, got ${error}`);
    assert.ok(!error.message.includes("\n"), `message spans several lines: ${error.message}`);
    assert.match(error.message, pattern);
    return true;
  });
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

Deno.test("gray JPEG at quality 95 round-trips within a few levels", async () => {
  const source = await radiograph8();
  const bytes = encodeJpeg(source, 95);
  const info = inspectJpeg(bytes, "x.jpg");
  assert.equal(info.frameType, 0xc0);
  assert.equal(info.width, 64);
  assert.equal(info.height, 64);

  const decoded = decodeJpeg(bytes, "x.jpg");
  assert.equal(decoded.width, 64);
  assert.equal(decoded.height, 64);
  const levels = Array.from(decoded.data, (v) => v * 255);
  // Measured: 7 levels at most for this 64 px image at quality 95 (jpeg-js 0.4.4), 56 at quality 20.
  assert.ok(
    maxAbsDifference(levels, source.data) <= 10,
    `max difference ${maxAbsDifference(levels, source.data)}`,
  );
});

Deno.test("JPEG quality controls size and error", async () => {
  const source = await radiograph8();
  const high = encodeJpeg(source, 95);
  const low = encodeJpeg(source, 20);
  assert.ok(low.length < high.length, `quality 20: ${low.length} bytes, quality 95: ${high.length}`);
  const error = (bytes: Uint8Array) =>
    maxAbsDifference(Array.from(decodeJpeg(bytes, "x.jpg").data, (v) => v * 255), source.data);
  assert.ok(error(low) > error(high));
});

Deno.test("colour JPEG becomes ITU-R 601 luma", () => {
  // Flat colour 16x16 blocks survive JPEG almost unchanged.
  const width = 32, height = 16;
  const colours = [[200, 40, 40], [30, 160, 220]];
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) rgba.set([...colours[(i % width) < 16 ? 0 : 1], 255], 4 * i);
  const bytes = jpeg.encode({ width, height, data: rgba }, 100).data;
  const image = decodeJpeg(new Uint8Array(bytes), "colour.jpg");
  for (const [x, [r, g, b]] of [[4, colours[0]], [28, colours[1]]] as const) {
    const expected = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
    const actual = image.data[8 * width + x];
    assert.ok(
      Math.abs(actual - expected) < 3 / 255,
      `column ${x}: ${actual * 255}, expected ${expected * 255}`,
    );
  }
});

/**
 * Builds a minimal one-component 8x8 JPEG by hand: every quantiser 8, one Huffman
 * code "0" for DC category 3, DC difference +5 (bits 101). The DC coefficient is
 * 5·8 = 40 and the inverse DCT gives 128 + 40/8 = 133 in every pixel. The
 * baseline file has one scan with DC and an end-of-block. The progressive file
 * has only a DC first scan.
 */
function handMadeJpeg(progressive: boolean): Uint8Array {
  const sof = progressive ? 0xc2 : 0xc0;
  const acTable = progressive ? [] : [0xff, 0xc4, 0x00, 0x14, 0x10, 0x01, ...new Array(15).fill(0), 0x00];
  const scan = progressive
    ? [0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0b0101_1111] // DC "0", "101", padding 1s
    : [0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, 0b0101_0111]; // DC "0", "101", EOB "0", padding
  return Uint8Array.of(
    0xff,
    0xd8,
    0xff,
    0xdb,
    0x00,
    0x43,
    0x00,
    ...new Array(64).fill(8),
    0xff,
    sof,
    0x00,
    0x0b,
    0x08,
    0x00,
    0x08,
    0x00,
    0x08,
    0x01,
    0x01,
    0x11,
    0x00,
    0xff,
    0xc4,
    0x00,
    0x14,
    0x00,
    0x01,
    ...new Array(15).fill(0),
    0x03,
    ...acTable,
    ...scan,
    0xff,
    0xd9,
  );
}

for (const progressive of [false, true]) {
  const kind = progressive ? "progressive" : "baseline";
  Deno.test(`one-component ${kind} JPEG decodes to its gray value`, () => {
    const bytes = handMadeJpeg(progressive);
    const info = inspectJpeg(bytes, "gray.jpg");
    assert.equal(info.components, 1);
    assert.equal(info.frameType, progressive ? 0xc2 : 0xc0);
    const image = decodeJpeg(bytes, "gray.jpg");
    for (const v of image.data) assert.equal(v, Math.fround(133 / 255));
  });
}

Deno.test("truncated JPEG gives one line naming the file", async () => {
  const bytes = encodeJpeg(await radiograph8(), 90);
  for (const length of [3, 10, 200, bytes.length >> 1, bytes.length - 2, bytes.length - 1]) {
    assertCheffError(() => decodeJpeg(bytes.subarray(0, length), "cut.jpg"), /^cut\.jpg: truncated JPEG/);
  }
});

Deno.test("unsupported JPEG kinds are named", async () => {
  const bytes = encodeJpeg(await radiograph8(), 90);
  const sof = bytes.findIndex((b, i) => b === 0xff && bytes[i + 1] === 0xc0);
  const lossless = bytes.slice();
  lossless[sof + 1] = 0xc3;
  assertCheffError(() => decodeJpeg(lossless, "ll.jpg"), /^ll\.jpg: unsupported JPEG \(lossless\)/);
  const twelveBit = bytes.slice();
  twelveBit[sof + 4] = 12;
  const huge = bytes.slice();
  huge.set([0x4e, 0x20, 0x4e, 0x20], sof + 5); // 20000 x 20000
  assertCheffError(() => decodeJpeg(huge, "huge.jpg"), /20000x20000 is too large/);
  assertCheffError(
    () => decodeJpeg(twelveBit, "12.jpg"),
    /^12\.jpg: unsupported JPEG \(12 bits per sample\)/,
  );
  assertCheffError(() => decodeJpeg(Uint8Array.of(0xff, 0xd8, 0xff, 0xd9), "empty.jpg"), /no frame header/);
  assertCheffError(() => decodeJpeg(Uint8Array.of(0x89, 0x50), "x.jpg"), /not a JPEG file/);
});

Deno.test("JPEG encoder validates its input", async () => {
  const source = await radiograph8();
  assertCheffError(() => encodeJpeg(source, 0), /quality 0 is invalid/);
  assertCheffError(() => encodeJpeg(source, 101), /quality 101 is invalid/);
  assertCheffError(
    () => encodeJpeg({ width: 3, height: 3, data: new Uint8Array(8) }),
    /contains 8 values, expected 3x3/,
  );
});

Deno.test("grayTo8Bit rounds and clamps", () => {
  const image = grayTo8Bit({ width: 5, height: 1, data: Float32Array.of(-0.5, 0, 0.5, 1, 2) });
  assert.deepEqual(Array.from(image.data), [0, 0, 128, 255, 255]);
});
