/**
 * Every file of the pydicom sample set does what its manifest row expects:
 * decodes, or is rejected as multi-frame or as having no image. Lossless files
 * match pydicom 2.3.1's `pixel_array` (SHA-256 of the little-endian array in the
 * manifest's dtype); lossy files stay close to a lossless or decoded twin.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { CheffError } from "../../../io/errors.ts";
import { loadDicom, parseDicomPixels } from "../../../io/dicom/read.ts";
import { dataPath, kitTest } from "../../kit.ts";
import { parseCsv } from "./csv.ts";

const folder = dataPath("dicom");
const manifestPath = dataPath("dicom/MANIFEST.csv");

function manifest(): Record<string, string>[] {
  return parseCsv(Deno.readTextFileSync(manifestPath));
}

function read(name: string): Uint8Array {
  return Deno.readFileSync(`${folder}/${name}`);
}

kitTest("sample files: decode or rejection as the manifest expects", [manifestPath], async () => {
  const rows = manifest();
  assert.equal(rows.length, 67);
  for (const row of rows) {
    const name = row.file;
    // One colour JPEG row has an empty `expect`; it is a valid single-frame image.
    const expect = row.expect || "decode";
    if (expect === "decode") {
      const image = await loadDicom(read(name), name);
      assert.equal(image.width, Number(row.columns), `${name}: width`);
      assert.equal(image.height, Number(row.rows), `${name}: height`);
      assert.equal(image.data.length, image.width * image.height, `${name}: data length`);
      assert.ok(image.data.every((v) => v >= 0 && v <= 1), `${name}: display values in [0, 1]`);
      continue;
    }
    let error: unknown;
    try {
      await loadDicom(read(name), name);
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof CheffError, `${name}: expected a CheffError, got ${error}`);
    assert.ok(error.message.startsWith(`${name}: `), `${name}: message names the file`);
    if (expect === "refuse multi-frame") {
      assert.match(error.message, new RegExp(`multi-frame image \\(${row.frames} frames\\)`), name);
    } else {
      assert.equal(expect, "refuse no-image", `${name}: unknown expect value`);
      assert.match(error.message, /no Pixel Data/, name);
    }
  }
});

kitTest("sample files: lossless pixels match pydicom hashes", [manifestPath], async () => {
  const rows = manifest().filter((row) => row.expect === "decode" && row.lossless_or_lossy === "lossless");
  assert.ok(rows.length >= 35, `${rows.length} lossless rows`);
  const typeNames: Record<string, string> = {
    uint8: "Uint8Array",
    int8: "Int8Array",
    uint16: "Uint16Array",
    int16: "Int16Array",
    uint32: "Uint32Array",
    int32: "Int32Array",
  };
  for (const row of rows) {
    const pixels = await parseDicomPixels(read(row.file), row.file);
    assert.equal(pixels.raw.constructor.name, typeNames[row.pixels_dtype], `${row.file}: dtype`);
    const bytes = new Uint8Array(pixels.raw.buffer, pixels.raw.byteOffset, pixels.raw.byteLength);
    const hash = createHash("sha256").update(bytes).digest("hex");
    assert.equal(hash, row.pixels_sha256, `${row.file}: pixel hash`);
  }
});

/**
 * Lossy file, twin, and bounds on |lossy − twin| over stored samples. Bounds are a
 * little above this reader's measured differences. A `_UNCI` twin is the lossy image
 * as GDCM decoded it, so there the two decoders agree.
 */
const LOSSY_TWINS: [string, string, { max?: number; mean: number }][] = [
  ["693_J2KI.dcm", "693_UNCI.dcm", { max: 1, mean: 0.01 }],
  ["MR2_J2KI.dcm", "MR2_UNCI.dcm", { max: 1, mean: 0.01 }],
  ["JPEG2000.dcm", "JPEG2000_UNC.dcm", { max: 1, mean: 0.01 }],
  ["RG3_J2KI.dcm", "RG3_J2KR.dcm", { max: 16, mean: 1.5 }],
  ["US1_J2KI.dcm", "US1_UNCR.dcm", { mean: 3 }],
  ["SC_rgb_jpeg_dcmtk.dcm", "SC_rgb.dcm", { max: 12, mean: 1.5 }],
  ["SC_rgb_dcmtk_+eb+cr.dcm", "SC_rgb.dcm", { max: 6, mean: 0.5 }],
  ["SC_rgb_jpeg_lossy_gdcm.dcm", "SC_rgb.dcm", { mean: 4 }],
  ["SC_rgb_dcmtk_+eb+cy+np.dcm", "SC_rgb.dcm", { mean: 4 }],
  ["JPGExtended.dcm", "JPEG-lossy.dcm", { max: 0, mean: 0 }],
];

kitTest("sample files: lossy files stay close to their twins", [manifestPath], async () => {
  for (const [lossy, twin, bound] of LOSSY_TWINS) {
    const a = (await parseDicomPixels(read(lossy), lossy)).stored;
    const b = (await parseDicomPixels(read(twin), twin)).stored;
    assert.equal(a.length, b.length, `${lossy}: size`);
    let max = 0;
    let sum = 0;
    for (let i = 0; i < a.length; i++) {
      const difference = Math.abs(a[i] - b[i]);
      max = Math.max(max, difference);
      sum += difference;
    }
    if (bound.max !== undefined) assert.ok(max <= bound.max, `${lossy} vs ${twin}: max difference ${max}`);
    assert.ok(sum / a.length <= bound.mean, `${lossy} vs ${twin}: mean difference ${sum / a.length}`);
  }
});

kitTest("sample files: MONOCHROME1 chest shows lungs dark", [manifestPath], async () => {
  const image = await loadDicom(read("RG1_J2KI.dcm"), "RG1_J2KI.dcm");
  const { width, height, data } = image;
  const mean = (x0: number, x1: number, y0: number, y1: number) => {
    let sum = 0;
    let n = 0;
    for (let y = Math.floor(y0 * height); y < y1 * height; y++) {
      for (let x = Math.floor(x0 * width); x < x1 * width; x++) {
        sum += data[y * width + x];
        n++;
      }
    }
    return sum / n;
  };
  // PA chest: lung fields left and right of centre, mediastinum in the middle.
  const lungs = (mean(0.2, 0.35, 0.3, 0.6) + mean(0.65, 0.8, 0.3, 0.6)) / 2;
  const mediastinum = mean(0.45, 0.55, 0.3, 0.6);
  assert.ok(
    lungs < mediastinum,
    `lungs ${lungs.toFixed(3)} should be darker than mediastinum ${mediastinum.toFixed(3)}`,
  );
});
