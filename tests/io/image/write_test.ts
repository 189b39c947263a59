import assert from "node:assert/strict";
import { join } from "node:path";
import { decode as fastPngDecode } from "fast-png";
import { zlibSync } from "fflate";
import { CheffError } from "../../../io/errors.ts";
import { decodePng, readPngChunks } from "../../../io/image/png.ts";
import {
  encodePng,
  type OutputImage,
  readPngText,
  tensorToGrayImages,
  writePng,
} from "../../../io/image/write.ts";
import { buildPng, concat, pngChunk } from "./png_builder.ts";

/** Builds an image whose values are levels k of a PNG with maximum M, exactly: x = 2k/M − 1. */
function levelsImage(levels: number[], width: number, maxValue: number): OutputImage {
  return {
    width,
    height: levels.length / width,
    channels: 1,
    data: Float32Array.from(levels, (k) => (2 * k) / maxValue - 1),
  };
}

function randomLevels(count: number, max: number, seed: number): number[] {
  const out = [0, max];
  let state = seed;
  while (out.length < count) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    out.push(state % (max + 1));
  }
  return out;
}

function assertCheffError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CheffError, `expected a CheffError, got ${error}`);
    assert.match(error.message, pattern);
    return true;
  });
}

for (const bits of [8, 16] as const) {
  const maxValue = 2 ** bits - 1;

  Deno.test(`${bits}-bit PNG round-trips levels exactly`, () => {
    const levels = randomLevels(40 * 30, maxValue, bits);
    const bytes = encodePng(levelsImage(levels, 40, maxValue), { bits });
    const raw = fastPngDecode(bytes);
    assert.equal(raw.depth, bits);
    assert.equal(raw.channels, 1);
    assert.deepEqual(Array.from(raw.data), levels);

    const image = decodePng(bytes, "round-trip.png");
    assert.equal(image.width, 40);
    assert.equal(image.height, 30);
    image.data.forEach((v, i) => assert.equal(v, Math.fround(levels[i] / maxValue), `pixel ${i}`));
  });
}

Deno.test("dark 16-bit PNG keeps its scale", () => {
  // All values below 256: without sBIT = 16 a reader would take them for 8-bit.
  const levels = randomLevels(64, 255, 3);
  const bytes = encodePng(levelsImage(levels, 8, 65535), { bits: 16 });
  const image = decodePng(bytes, "dark.png");
  image.data.forEach((v, i) => assert.equal(v, Math.fround(levels[i] / 65535), `pixel ${i}`));
});

Deno.test("PNG writing clamps and rounds", () => {
  const image: OutputImage = {
    width: 7,
    height: 1,
    channels: 1,
    data: Float32Array.of(-1, 0, 1, -3, 5, -Infinity, Infinity),
  };
  assert.deepEqual(Array.from(fastPngDecode(encodePng(image)).data), [0, 128, 255, 0, 255, 0, 255]);
  assert.deepEqual(Array.from(fastPngDecode(encodePng(image, { bits: 16 })).data), [
    0,
    32768,
    65535,
    0,
    65535,
    0,
    65535,
  ]);
});

Deno.test("PNG writing rejects NaN and bad shapes", () => {
  const nan: OutputImage = { width: 2, height: 2, channels: 1, data: Float32Array.of(0, 0, 0, NaN) };
  assertCheffError(() => encodePng(nan), /row 1, column 1 is NaN/);
  assertCheffError(
    () => encodePng({ width: 2, height: 2, channels: 1, data: new Float32Array(3) }),
    /contains 3 values/,
  );
  assertCheffError(
    () => encodePng({ width: 1, height: 1, channels: 1, data: new Float32Array(1) }, { bits: 12 as 8 }),
    /bit depth 12/,
  );
  assertCheffError(
    () => encodePng({ width: 1, height: 1, channels: 3 as 1, data: new Float32Array(1) }),
    /3-channel image/,
  );
});

Deno.test("text chunks are written and read back", () => {
  const text = {
    Software: "cheff 0.1.0",
    "cheff:synthetic": "true",
    "cheff:seed": "1234",
    "cheff:steps": "100",
    "cheff:models": JSON.stringify({ autoencoder: "ab".repeat(32) }),
    Comment: "Lunge – Röntgenbild, 肺",
    Description: "Latin-1 only: café\nsecond line",
  };
  const image: OutputImage = { width: 3, height: 2, channels: 1, data: new Float32Array(6) };
  for (const bits of [8, 16] as const) {
    const bytes = encodePng(image, { bits, text });
    assert.deepEqual(readPngText(bytes, "out.png"), text);

    const types = readPngChunks(bytes, "out.png").map((c) => c.type);
    assert.deepEqual(types.slice(0, 2), bits === 16 ? ["IHDR", "sBIT"] : ["IHDR", "tEXt"]);
    assert.equal(types.filter((t) => t === "iTXt").length, 1, "the non-Latin-1 value goes into iTXt");
    assert.equal(types.filter((t) => t === "tEXt").length, 6);
    assert.ok(types.indexOf("IDAT") > types.lastIndexOf("tEXt"), "text chunks come before the pixels");

    // Another reader: fast-png reads tEXt chunks.
    const fastPngText = fastPngDecode(bytes).text;
    assert.equal(fastPngText["cheff:synthetic"], "true");
    assert.equal(fastPngText.Description, text.Description);
  }
});

Deno.test("readPngText reads zTXt and compressed iTXt", () => {
  const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const ztxt = pngChunk(
    "zTXt",
    concat([latin1("Title"), Uint8Array.of(0, 0), zlibSync(latin1("compressed café"))]),
  );
  const itxt = pngChunk(
    "iTXt",
    concat([
      latin1("Note"),
      Uint8Array.of(0, 1, 0),
      latin1("de"),
      Uint8Array.of(0),
      latin1("Notiz"),
      Uint8Array.of(0),
      zlibSync(new TextEncoder().encode("Röntgen 肺")),
    ]),
  );
  const png = buildPng({ width: 1, height: 1, colorType: 0, bitDepth: 8, samples: [0] });
  const withText = concat([png.subarray(0, 33), ztxt, itxt, png.subarray(33)]);
  assert.deepEqual(readPngText(withText), { Title: "compressed café", Note: "Röntgen 肺" });
});

Deno.test("invalid text keywords and values are rejected", () => {
  const image: OutputImage = { width: 1, height: 1, channels: 1, data: new Float32Array(1) };
  for (const keyword of ["", " lead", "trail ", "dou  ble", "x".repeat(80), "tab\there", "肺"]) {
    assertCheffError(() => encodePng(image, { text: { [keyword]: "v" } }), /PNG text keyword .* is invalid/);
  }
  assertCheffError(() => encodePng(image, { text: { Key: "a\u0000b" } }), /contains a NUL character/);
});

Deno.test("writePng writes atomically and refuses to overwrite", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cheff-write-test-" });
  try {
    const path = join(dir, "out.png");
    const image: OutputImage = { width: 2, height: 2, channels: 1, data: Float32Array.of(-1, -0.5, 0.5, 1) };
    await writePng(path, image, { text: { "cheff:synthetic": "true" } });
    const bytes = await Deno.readFile(path);
    assert.deepEqual(readPngText(bytes), { "cheff:synthetic": "true" });
    assert.deepEqual(Array.from(fastPngDecode(bytes).data), [0, 64, 191, 255]);

    await assert.rejects(() => writePng(path, image), (error: unknown) => {
      assert.ok(error instanceof CheffError);
      assert.match(error.message, /already exists/);
      return true;
    });
    await writePng(path, image, { bits: 16, overwrite: true });
    assert.equal(fastPngDecode(await Deno.readFile(path)).depth, 16);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out.png"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tensorToGrayImages takes luma of 3 channels and keeps 1", () => {
  const rgb = Float32Array.of(
    // image 0: R plane, G plane, B plane (2 pixels each)
    1,
    -1,
    0.5,
    -1,
    -1,
    1,
    // image 1
    0,
    0,
    0,
    0,
    0,
    0,
  );
  const images = tensorToGrayImages([2, 3, 1, 2], rgb);
  assert.equal(images.length, 2);
  assert.equal(images[0].width, 2);
  assert.equal(images[0].height, 1);
  const expected = [0.299 * 1 + 0.587 * 0.5 + 0.114 * -1, 0.299 * -1 + 0.587 * -1 + 0.114 * 1];
  images[0].data.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `pixel ${i}: ${v}`));
  assert.deepEqual(Array.from(images[1].data), [0, 0]);

  const gray = tensorToGrayImages([1, 1, 2, 2], Float32Array.of(0.1, 0.2, 0.3, 0.4));
  assert.deepEqual(Array.from(gray[0].data), Array.from(Float32Array.of(0.1, 0.2, 0.3, 0.4)));

  assertCheffError(
    () => tensorToGrayImages([1, 2, 2, 2], new Float32Array(8)),
    /expected \[N, 1 or 3, H, W\]/,
  );
  assertCheffError(() => tensorToGrayImages([1, 1, 2, 2], new Float32Array(3)), /contains 3 values/);
});
