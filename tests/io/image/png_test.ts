import assert from "node:assert/strict";
import { join } from "node:path";
import { decode as fastPngDecode } from "fast-png";
import { CheffError } from "../../../io/errors.ts";
import { decodePng, significantBits16 } from "../../../io/image/png.ts";
import { dataPath, FIXTURES_DIR, kitTest } from "../../kit.ts";
import { buildPng, concat, pngChunk, type PngSpec, SIGNATURE } from "./png_builder.ts";

const W = 13; // odd widths leave partial bytes at the end of sub-byte rows
const H = 11;

/** Deterministic samples in [0, max]. */
function pattern(count: number, max: number, seed = 1): number[] {
  const out: number[] = [];
  let state = seed;
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    out.push(i < 2 ? [0, max][i] : state % (max + 1));
  }
  return out;
}

function luma(r: number, g: number, b: number, max: number): number {
  return (0.299 * r + 0.587 * g + 0.114 * b) / max;
}

function assertClose(actual: Float32Array, expected: number[], tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tolerance,
      `${what}: pixel ${i} is ${actual[i]}, expected ${expected[i]}`,
    );
  }
}

function assertCheffError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CheffError, `expected a CheffError, got ${error}`);
    assert.ok(!error.message.includes("\n"), `message spans several lines: ${error.message}`);
    assert.match(error.message, pattern);
    return true;
  });
}

for (const interlace of [false, true]) {
  const mode = interlace ? "Adam7" : "plain";

  for (const bitDepth of [1, 2, 4, 8, 16] as const) {
    Deno.test(`gray ${bitDepth}-bit ${mode} divides by 2^depth - 1`, () => {
      const max = 2 ** bitDepth - 1;
      const samples = pattern(W * H, max);
      // 16-bit: sBIT = 16, so the maximum is 65535 whatever the values.
      const png = buildPng({
        width: W,
        height: H,
        colorType: 0,
        bitDepth,
        samples,
        interlace,
        sbit: bitDepth === 16 ? [16] : undefined,
      });
      const image = decodePng(png, "gray.png");
      assert.equal(image.width, W);
      assert.equal(image.height, H);
      assertClose(image.data, samples.map((v) => v / max), 1e-7, "gray");
    });
  }

  for (const bitDepth of [1, 2, 4, 8] as const) {
    Deno.test(`palette ${bitDepth}-bit ${mode} resolves entries to luma`, () => {
      const entries = 2 ** bitDepth;
      const palette = Array.from(
        { length: entries },
        (_, i) => [(i * 53) % 256, (i * 97 + 11) % 256, 255 - ((i * 29) % 256)],
      ) as [number, number, number][];
      const samples = pattern(W * H, entries - 1, 7);
      const png = buildPng({
        width: W,
        height: H,
        colorType: 3,
        bitDepth,
        samples,
        palette,
        interlace,
        trns: [0, 128],
      });
      const image = decodePng(png, "palette.png");
      assertClose(image.data, samples.map((i) => luma(...palette[i], 255)), 1e-6, "palette");
    });
  }

  for (const bitDepth of [8, 16] as const) {
    const max = 2 ** bitDepth - 1;
    const sbit = bitDepth === 16 ? [16, 16, 16, 16] : undefined;

    Deno.test(`RGB ${bitDepth}-bit ${mode} becomes ITU-R 601 luma`, () => {
      const samples = pattern(W * H * 3, max, 3);
      const png = buildPng({
        width: W,
        height: H,
        colorType: 2,
        bitDepth,
        samples,
        interlace,
        sbit: sbit?.slice(0, 3),
      });
      const expected = Array.from(
        { length: W * H },
        (_, i) => luma(samples[3 * i], samples[3 * i + 1], samples[3 * i + 2], max),
      );
      assertClose(decodePng(png, "rgb.png").data, expected, 1e-6, "rgb");
    });

    Deno.test(`RGBA ${bitDepth}-bit ${mode} drops alpha`, () => {
      const samples = pattern(W * H * 4, max, 5);
      const png = buildPng({ width: W, height: H, colorType: 6, bitDepth, samples, interlace, sbit });
      const expected = Array.from(
        { length: W * H },
        (_, i) => luma(samples[4 * i], samples[4 * i + 1], samples[4 * i + 2], max),
      );
      assertClose(decodePng(png, "rgba.png").data, expected, 1e-6, "rgba");
    });

    Deno.test(`gray+alpha ${bitDepth}-bit ${mode} drops alpha`, () => {
      const samples = pattern(W * H * 2, max, 9);
      const png = buildPng({
        width: W,
        height: H,
        colorType: 4,
        bitDepth,
        samples,
        interlace,
        sbit: sbit?.slice(0, 2),
      });
      const expected = Array.from({ length: W * H }, (_, i) => samples[2 * i] / max);
      assertClose(decodePng(png, "gray-alpha.png").data, expected, 1e-7, "gray+alpha");
    });
  }
}

Deno.test("RGB with equal channels gives the gray value exactly", () => {
  const gray = pattern(W * H, 255, 11);
  const samples = gray.flatMap((v) => [v, v, v, 255]);
  const image = decodePng(buildPng({ width: W, height: H, colorType: 6, bitDepth: 8, samples }), "rgba.png");
  gray.forEach((v, i) => assert.equal(image.data[i], Math.fround(v / 255)));
});

Deno.test("16-bit without sBIT infers 8, 10, 12, 14 or 16 bits", () => {
  const cases: [number, number][] = [[255, 8], [256, 10], [1023, 10], [1024, 12], [4095, 12], [4096, 14], [
    16384,
    16,
  ], [65535, 16]];
  for (const [max, bits] of cases) {
    const samples = [0, 17, max, Math.floor(max / 2)];
    const image = decodePng(buildPng({ width: 2, height: 2, colorType: 0, bitDepth: 16, samples }), "x.png");
    assertClose(image.data, samples.map((v) => v / (2 ** bits - 1)), 1e-7, `max ${max}`);
  }
});

Deno.test("16-bit sBIT sets the scale", () => {
  const samples = [0, 100, 200, 300]; // would be inferred as 10-bit without sBIT
  const image = decodePng(
    buildPng({ width: 2, height: 2, colorType: 0, bitDepth: 16, samples, sbit: [12] }),
    "x.png",
  );
  assertClose(image.data, samples.map((v) => v / 4095), 1e-7, "sBIT 12");
});

Deno.test("16-bit sBIT with full-range samples reads 16 bits", () => {
  // The PNG specification stores sBIT-declared samples scaled up to 16 bits.
  const samples = [0, 0xfff0, 0x8000, 0x1230];
  const image = decodePng(
    buildPng({ width: 2, height: 2, colorType: 0, bitDepth: 16, samples, sbit: [12] }),
    "x.png",
  );
  assertClose(image.data, samples.map((v) => v / 65535), 1e-7, "scaled-up sBIT");
});

Deno.test("16-bit inference ignores the alpha channel", () => {
  const samples = [1000, 65535, 4000, 65535]; // gray, alpha, gray, alpha
  assert.equal(significantBits16(samples, 2, 1, undefined), 12);
  const image = decodePng(buildPng({ width: 2, height: 1, colorType: 4, bitDepth: 16, samples }), "x.png");
  assertClose(image.data, [1000 / 4095, 4000 / 4095], 1e-7, "gray+alpha");
});

Deno.test("fixture RGBA file gives the luma of its channels", async () => {
  const gray =
    fastPngDecode(await Deno.readFile(join(FIXTURES_DIR, "images", "nih_00000001_001_64.png"))).data;
  const image = decodePng(
    await Deno.readFile(join(FIXTURES_DIR, "images", "nih_00000001_001_64_rgba.png")),
    "rgba.png",
  );
  assert.equal(image.width, 64);
  assert.equal(image.height, 64);
  const expected = Array.from(gray, (v) => luma(v, (v + 85) % 256, 255 - v, 255));
  assertClose(image.data, expected, 1e-6, "rgba fixture");
});

Deno.test("fixture 4-bit palette file resolves its entries", async () => {
  const gray =
    fastPngDecode(await Deno.readFile(join(FIXTURES_DIR, "images", "nih_00000001_001_64.png"))).data;
  const image = decodePng(
    await Deno.readFile(join(FIXTURES_DIR, "images", "nih_00000001_001_64_palette4.png")),
    "p.png",
  );
  const expected = Array.from(gray, (v) => luma(17 * (v >> 4), 17 * (v >> 4), 255 - 17 * (v >> 4), 255));
  assertClose(image.data, expected, 1e-6, "palette fixture");
});

Deno.test("fixture 12-bit crop is scaled by 4095", async () => {
  const bytes = await Deno.readFile(join(FIXTURES_DIR, "images", "rg1_chest_12bit_crop64.png"));
  const raw = fastPngDecode(bytes).data;
  const image = decodePng(bytes, "crop.png");
  assertClose(image.data, Array.from(raw, (v) => v / 4095), 1e-7, "12-bit crop");
  const mean = image.data.reduce((s, v) => s + v, 0) / image.data.length;
  assert.ok(mean > 0.8, `mediastinum crop mean ${mean}, expected bright (values 3460..3725 of 4095)`);
});

Deno.test("truncated PNG gives one line naming the file", async () => {
  const bytes = await Deno.readFile(join(FIXTURES_DIR, "images", "nih_00000001_001_64.png"));
  for (const length of [8, 20, 40, bytes.length >> 1, bytes.length - 12, bytes.length - 1]) {
    assertCheffError(() => decodePng(bytes.subarray(0, length), "cut.png"), /^cut\.png: truncated PNG/);
  }
});

Deno.test("corrupt PNG gives one line naming the file", async () => {
  const bytes = await Deno.readFile(join(FIXTURES_DIR, "images", "nih_00000001_001_64.png"));
  const flipped = bytes.slice();
  flipped[bytes.length >> 1] ^= 0x55;
  assertCheffError(
    () => decodePng(flipped, "flip.png"),
    /^flip\.png: corrupt PNG \(CRC mismatch in chunk IDAT/,
  );

  assertCheffError(() => decodePng(Uint8Array.of(1, 2, 3), "tiny.png"), /^tiny\.png: not a PNG file/);

  const header = (width: number, depth: number, colorType: number) => {
    const data = new Uint8Array(13);
    new DataView(data.buffer).setUint32(0, width);
    new DataView(data.buffer).setUint32(4, 1);
    data[8] = depth;
    data[9] = colorType;
    return pngChunk("IHDR", data);
  };
  const iend = pngChunk("IEND", []);
  const idat = pngChunk("IDAT", [0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
  const cases: [Uint8Array, RegExp][] = [
    [concat([SIGNATURE, header(1, 3, 0), idat, iend]), /bit depth 3 is not allowed for colour type 0/],
    [concat([SIGNATURE, header(1, 8, 5), idat, iend]), /unknown colour type 5/],
    [concat([SIGNATURE, header(2 ** 29, 8, 0), idat, iend]), /image size 536870912x1 is too large/],
    [concat([SIGNATURE, header(0, 8, 0), idat, iend]), /image size 0x1/],
    [concat([SIGNATURE, header(1, 8, 0), iend]), /no IDAT chunk/],
    [concat([SIGNATURE, header(1, 8, 3), idat, iend]), /without a PLTE chunk/],
    [concat([SIGNATURE, idat, iend]), /first chunk is IDAT, expected IHDR/],
    // A valid zlib stream with no rows in it.
    [concat([SIGNATURE, header(1, 8, 0), idat, iend]), /compressed image data ends before the last row/],
    [concat([SIGNATURE, header(4, 1, 0), idat, iend]), /compressed image data ends before the last row/],
  ];
  for (const [png, pattern] of cases) assertCheffError(() => decodePng(png, "bad.png"), pattern);
});

Deno.test("palette index beyond the palette is rejected", () => {
  const spec: PngSpec = {
    width: 2,
    height: 1,
    colorType: 3,
    bitDepth: 8,
    samples: [0, 5],
    palette: [[0, 0, 0], [9, 9, 9]],
  };
  assertCheffError(() => decodePng(buildPng(spec), "p.png"), /palette index 5 but the palette has 2 entries/);
});

const NIH_1024 = dataPath(join("cxr", "nih-1024"));
const NIH_RGBA = [
  "00000100_000",
  "00001369_000",
  "00002578_000",
  "00004934_000",
  "00005224_000",
  "00005813_000",
];
const NIH_GRAY = [
  "00000075_000",
  "00000129_000",
  "00000211_000",
  "00000282_000",
  "00000284_000",
  "00000353_000",
];

kitTest("every nih-1024 radiograph decodes", [NIH_1024], async () => {
  for (const name of [...NIH_RGBA, ...NIH_GRAY]) {
    const bytes = await Deno.readFile(join(NIH_1024, `${name}.png`));
    const raw = fastPngDecode(bytes);
    const image = decodePng(bytes, name);
    assert.equal(image.width, 1024, name);
    assert.equal(image.height, 1024, name);
    assert.equal(raw.channels, NIH_RGBA.includes(name) ? 4 : 1, `${name}: colour type`);
    // RGBA files have R = G = B, so the gray value is the red channel exactly.
    for (let i = 0; i < image.data.length; i += 997) {
      assert.equal(image.data[i], Math.fround(raw.data[i * raw.channels] / 255), `${name}: pixel ${i}`);
    }
  }
});

kitTest("nih-256 and nih-64 samples decode", [
  dataPath(join("cxr", "nih-256")),
  dataPath(join("cxr", "nih-64")),
], async () => {
  for (const [folder, size] of [["nih-256", 256], ["nih-64", 64]] as const) {
    const names = [...Deno.readDirSync(dataPath(join("cxr", folder)))].map((e) => e.name).filter((n) =>
      n.endsWith(".png")
    ).sort();
    for (const name of names.filter((_, i) => i % 50 === 0)) {
      const image = decodePng(await Deno.readFile(dataPath(join("cxr", folder, name))), name);
      assert.equal(image.width, size, `${folder}/${name}`);
      assert.equal(image.height, size, `${folder}/${name}`);
      const mean = image.data.reduce((s, v) => s + v, 0) / image.data.length;
      assert.ok(mean > 0.2, `${folder}/${name}: mean ${mean} is nearly black`);
      assert.ok(mean < 0.8, `${folder}/${name}: mean ${mean} is nearly white`);
    }
  }
});

const PNG16 = dataPath("png16");

/** Mean over rows [r0, r1) and columns [c0, c1), given as fractions of the image size. */
function regionMean(
  image: { width: number; height: number; data: Float32Array },
  r0: number,
  r1: number,
  c0: number,
  c1: number,
) {
  let sum = 0, count = 0;
  for (let y = Math.floor(r0 * image.height); y < Math.floor(r1 * image.height); y++) {
    for (let x = Math.floor(c0 * image.width); x < Math.floor(c1 * image.width); x++) {
      sum += image.data[y * image.width + x];
      count++;
    }
  }
  return sum / count;
}

kitTest("16-bit PNGs scale by their significant bits", [PNG16], async () => {
  // Value ranges and bit counts as the folder's NOTES.csv gives them.
  const files: [string, number, number, number][] = [
    ["RG1_chest_12bit_sBIT12.png", 788, 3972, 4095],
    ["RG1_chest_12bit_noSBIT.png", 788, 3972, 4095],
    ["RG1_chest_16bit_fullrange.png", 0, 65535, 65535],
    ["RG3_leg_12bit_sBIT12.png", 4, 4092, 4095],
  ];
  for (const [name, low, high, scale] of files) {
    const image = decodePng(await Deno.readFile(join(PNG16, name)), name);
    let min = Infinity, max = -Infinity, sum = 0;
    for (const v of image.data) {
      min = Math.min(min, v);
      max = Math.max(max, v);
      sum += v;
    }
    assert.equal(min, Math.fround(low / scale), `${name}: minimum`);
    assert.equal(max, Math.fround(high / scale), `${name}: maximum`);
    assert.ok(sum / image.data.length > 0.4, `${name}: mean ${sum / image.data.length} is nearly black`);
  }

  // The chest images: the mediastinum is brighter than the lungs (NOTES: centre strip 3625, lung strips 2632 of 4095).
  for (const name of ["RG1_chest_12bit_sBIT12.png", "RG1_chest_12bit_noSBIT.png"]) {
    const image = decodePng(await Deno.readFile(join(PNG16, name)), name);
    const centre = regionMean(image, 0.3, 0.6, 0.45, 0.55);
    assert.ok(Math.abs(centre - 3625 / 4095) < 0.005, `${name}: centre strip ${centre * 4095}`);
    const lungs = (regionMean(image, 0.3, 0.6, 0.15, 0.35) + regionMean(image, 0.3, 0.6, 0.65, 0.85)) / 2;
    assert.ok(lungs < centre - 0.1, `${name}: lungs ${lungs} not darker than centre ${centre}`);
  }
});
