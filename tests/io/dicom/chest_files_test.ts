/**
 * The chest radiograph stored in 17 encodings and pixel conventions: lossless
 * files give the expected display image within one grey level of 65,535, lossy
 * files stay within the manifest's error bound (+2 for decoder rounding) of the
 * source pixels, and no fake patient identifier reaches an error message.
 */
import assert from "node:assert/strict";
import { decode as decodePng } from "fast-png";
import { CheffError } from "../../../io/errors.ts";
import { loadDicom, parseDicomPixels } from "../../../io/dicom/read.ts";
import { dataPath, kitTest } from "../../kit.ts";
import { CHEST_IDENTIFIERS } from "./chest_identifiers.ts";
import { parseCsv } from "./csv.ts";

const folder = dataPath("dicom-chest");
const manifestPath = dataPath("dicom-chest/MANIFEST.csv");
const needs = [manifestPath, `${folder}/expected_display.png`, `${folder}/expected_display_no_window.png`];

function rows(): Record<string, string>[] {
  return parseCsv(Deno.readTextFileSync(manifestPath));
}

function read(name: string): Uint8Array {
  return Deno.readFileSync(`${folder}/${name}`);
}

function png16(name: string): Uint16Array {
  const image = decodePng(read(name));
  assert.equal(image.depth, 16);
  assert.equal(image.channels, 1);
  return image.data as Uint16Array;
}

/** Stored values of the reference encoding: v12, the 12-bit source. */
async function sourcePixels(): Promise<Float64Array> {
  return (await parseDicomPixels(read("chest_dx12_explicit_le.dcm"), "chest_dx12_explicit_le.dcm")).stored;
}

/** Undoes a file's pixel convention, giving values comparable to v12 (or v8 for the 8-bit file). */
async function modalityAsSource(name: string): Promise<Float64Array> {
  const pixels = await parseDicomPixels(read(name), name);
  const out = new Float64Array(pixels.stored.length);
  for (let i = 0; i < out.length; i++) {
    let v = pixels.stored[i];
    if (name.includes("monochrome1")) v = 4095 - v;
    if (name.includes("slope0.5")) v = v * 0.5 + 100;
    if (name.includes("shift-2048")) v += 2048;
    out[i] = v;
  }
  return out;
}

kitTest("chest files: lossless files give the expected display", needs, async () => {
  const expected = png16("expected_display.png");
  const expectedNoWindow = png16("expected_display_no_window.png");
  const lossless = rows().filter((row) => row.lossless_or_lossy === "lossless");
  assert.equal(lossless.length, 13);
  for (const row of lossless) {
    const image = await loadDicom(read(row.file), row.file);
    assert.equal(image.width, 512);
    assert.equal(image.height, 512);
    const target = row.window_center === "" ? expectedNoWindow : expected;
    let worst = 0;
    for (let i = 0; i < target.length; i++) {
      worst = Math.max(worst, Math.abs(image.data[i] * 65535 - target[i]));
    }
    assert.ok(worst <= 1, `${row.file}: display differs by ${worst.toFixed(2)} of 65535`);
  }
});

kitTest("chest files: lossy files stay within their error bound", needs, async () => {
  const v12 = await sourcePixels();
  const lossy = rows().filter((row) => row.lossless_or_lossy === "lossy");
  assert.equal(lossy.length, 4);
  for (const row of lossy) {
    const values = await modalityAsSource(row.file);
    const eightBit = row.bits_stored === "8";
    const bound = Number(row.max_abs_error_vs_source) + 2;
    let worst = 0;
    for (let i = 0; i < v12.length; i++) {
      const source = eightBit ? Math.round((v12[i] * 255) / 4095) : v12[i];
      worst = Math.max(worst, Math.abs(values[i] - source));
    }
    assert.ok(worst <= bound, `${row.file}: max error ${worst}, bound ${bound}`);
    const image = await loadDicom(read(row.file), row.file);
    assert.ok(image.data.every((v) => v >= 0 && v <= 1), `${row.file}: display values in [0, 1]`);
  }
});

kitTest("chest files: MONOCHROME1 file shows lungs darker", needs, async () => {
  const name = "chest_dx12_monochrome1_explicit_le.dcm";
  const image = await loadDicom(read(name), name);
  const mean = (x0: number, x1: number, y0: number, y1: number) => {
    let sum = 0;
    let n = 0;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        sum += image.data[y * 512 + x];
        n++;
      }
    }
    return sum / n;
  };
  const lungs = (mean(100, 180, 150, 300) + mean(332, 412, 150, 300)) / 2;
  const mediastinum = mean(236, 276, 150, 300);
  assert.ok(lungs < mediastinum, `lungs ${lungs.toFixed(3)}, mediastinum ${mediastinum.toFixed(3)}`);
});

kitTest("chest files: identifiers stay out of error messages", needs, async () => {
  // Damage each file's pixel data so that decoding fails after the identifiers were parsed.
  for (const row of rows()) {
    const bytes = read(row.file).slice();
    const truncated = bytes.subarray(0, bytes.length - 1000);
    let rejected = false;
    try {
      await loadDicom(truncated, row.file);
    } catch (error) {
      rejected = true;
      assert.ok(error instanceof CheffError, `${row.file}: ${error}`);
      for (const identifier of CHEST_IDENTIFIERS) {
        assert.ok(!error.message.includes(identifier), `${row.file}: message contains ${identifier}`);
      }
    }
    assert.ok(rejected, `${row.file}: truncated file was accepted`);
  }
});
