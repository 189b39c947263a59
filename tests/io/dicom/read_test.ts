import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { CheffError } from "../../../io/errors.ts";
import { loadDicom, parseDicomPixels, type RawSamples } from "../../../io/dicom/read.ts";
import { FIXTURES_DIR } from "../../kit.ts";
import { buildBareImplicit, buildPart10, imageElements, type TestElement } from "./build_dataset.ts";

const fixture = (name: string) => Deno.readFileSync(join(FIXTURES_DIR, "dicom", name));

function sha256(raw: RawSamples): string {
  return createHash("sha256").update(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)).digest(
    "hex",
  );
}

/** pixel_array hash of pydicom 2.3.1 for the MR_small image (int16, little-endian). */
const MR_SMALL_SHA256 = "88617aaa46138fb1b6e2a951e762d962382354d69f47f8c04d4abff2f6a6a63e";

async function rejection(bytes: Uint8Array, source = "test.dcm"): Promise<CheffError> {
  try {
    await loadDicom(bytes, source);
  } catch (error) {
    assert.ok(error instanceof CheffError, `expected CheffError, got ${error}`);
    assert.ok(!error.message.includes("\n"), "error message is one line");
    assert.ok(error.message.startsWith(`${source}: `), `message names the file: ${error.message}`);
    return error;
  }
  throw new Error("expected the file to be rejected");
}

function window(center: number, width: number): TestElement[] {
  return [
    { tag: 0x00281050, vr: "DS", value: String(center) },
    { tag: 0x00281051, vr: "DS", value: String(width) },
  ];
}

Deno.test("RLE fixture decodes to pydicom's pixels", async () => {
  const pixels = await parseDicomPixels(fixture("MR_small_RLE.dcm"), "MR_small_RLE.dcm");
  assert.ok(pixels.raw instanceof Int16Array);
  assert.equal(sha256(pixels.raw), MR_SMALL_SHA256);
});

Deno.test("JPEG 2000 lossless fixture decodes to pydicom's pixels", async () => {
  const pixels = await parseDicomPixels(fixture("MR_small_jp2klossless.dcm"), "MR_small_jp2klossless.dcm");
  assert.equal(sha256(pixels.raw), MR_SMALL_SHA256);
});

Deno.test("deflated fixture decodes to pydicom's pixels", async () => {
  const pixels = await parseDicomPixels(fixture("image_dfl.dcm"), "image_dfl.dcm");
  assert.equal(pixels.width, 512);
  assert.equal(sha256(pixels.raw), "1f5f1b1c1a57606a55d7e4212ee2655c8205b45e264bd55057f7388c258deef8");
});

Deno.test("12-bit JPEG extended fixture decodes", async () => {
  const pixels = await parseDicomPixels(fixture("JPEG-lossy.dcm"), "JPEG-lossy.dcm");
  assert.equal(pixels.width, 256);
  assert.equal(pixels.height, 1024);
  assert.equal(pixels.bitsStored, 12);
  const max = pixels.stored.reduce((a, b) => Math.max(a, b), 0);
  // GDCM and DCMTK decode this file to 0..264; this decoder is within one grey level of DCMTK 3.6.7.
  assert.ok(max >= 263 && max <= 265, `maximum ${max}`);
  assert.equal(sha256(pixels.raw), RECORDED_JPEG_LOSSY_SHA256);
});

Deno.test("linear VOI window follows the DICOM formula", async () => {
  // c = 100, w = 11: values ≤ 94.5 are 0, values > 104.5 are 1, else (x − 99.5)/10 + 0.5.
  const values = [94, 95, 100, 104, 105, 4000];
  const bytes = buildPart10([...imageElements(6, 1, values, { stored: 12 }), ...window(100, 11)]);
  const image = await loadDicom(bytes, "window.dcm");
  const expected = [0, 0.05, 0.55, 0.95, 1, 1];
  expected.forEach((e, i) =>
    assert.ok(Math.abs(image.data[i] - e) < 1e-6, `pixel ${i}: ${image.data[i]} vs ${e}`)
  );
});

Deno.test("first window is used when several are given", async () => {
  const bytes = buildPart10([
    ...imageElements(1, 1, [100], { stored: 12 }),
    { tag: 0x00281050, vr: "DS", value: "100\\3000" },
    { tag: 0x00281051, vr: "DS", value: "11\\20" },
  ]);
  const image = await loadDicom(bytes, "windows.dcm");
  assert.ok(Math.abs(image.data[0] - 0.55) < 1e-6);
});

Deno.test("no window maps the Bits Stored range, not the image range", async () => {
  const bytes = buildPart10(imageElements(3, 1, [100, 200, 4095], { stored: 12 }));
  const image = await loadDicom(bytes, "nowindow.dcm");
  assert.ok(Math.abs(image.data[0] - 100 / 4095) < 1e-6);
  assert.ok(Math.abs(image.data[1] - 200 / 4095) < 1e-6);
  assert.equal(image.data[2], 1);
});

Deno.test("rescale applies before the window", async () => {
  // m = 2·s − 100; window c = 0, w = 101 passes −50.5…49.5.
  const bytes = buildPart10([
    ...imageElements(3, 1, [50, 0, 75], { stored: 12 }),
    { tag: 0x00281052, vr: "DS", value: "-100" },
    { tag: 0x00281053, vr: "DS", value: "2" },
    ...window(0, 101),
  ]);
  const image = await loadDicom(bytes, "rescale.dcm");
  assert.ok(Math.abs(image.data[0] - 0.505) < 1e-6, `${image.data[0]}`); // m = 0
  assert.equal(image.data[1], 0); // m = −100
  assert.equal(image.data[2], 1); // m = 50
});

Deno.test("MONOCHROME1 is inverted once", async () => {
  const bytes = buildPart10([
    ...imageElements(2, 1, [0, 4095], { stored: 12, photometric: "MONOCHROME1" }),
    { tag: 0x20500020, vr: "CS", value: "INVERSE" },
  ]);
  const image = await loadDicom(bytes, "mono1.dcm");
  assert.equal(image.data[0], 1);
  assert.equal(image.data[1], 0);
});

Deno.test("bits above High Bit are masked", async () => {
  const pixels = await parseDicomPixels(
    buildPart10(imageElements(1, 1, [0xf123], { stored: 12 })),
    "mask.dcm",
  );
  assert.equal(pixels.raw[0], 0xf123);
  assert.equal(pixels.stored[0], 0x123);
});

Deno.test("signed values are sign-extended from Bits Stored", async () => {
  const bytes = buildPart10(imageElements(2, 1, [0x0800, 0x07ff], { stored: 12, signed: true }));
  const pixels = await parseDicomPixels(bytes, "signed.dcm");
  assert.deepEqual([...pixels.stored], [-2048, 2047]);
  const image = await loadDicom(bytes, "signed.dcm");
  assert.equal(image.data[0], 0);
  assert.equal(image.data[1], 1);
});

Deno.test("bare implicit VR data set is read", async () => {
  const bytes = buildBareImplicit([
    { tag: 0x00080060, vr: "CS", value: "OT" },
    ...imageElements(2, 2, [0, 85, 170, 255], { bits: 8 }),
  ]);
  const image = await loadDicom(bytes, "bare.dcm");
  assert.deepEqual([...image.data].map((v) => Math.round(v * 255)), [0, 85, 170, 255]);
});

Deno.test("RGB becomes ITU-R 601 luma", async () => {
  const rgb = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255]);
  const bytes = buildPart10([
    { tag: 0x00280002, vr: "US", value: 3 },
    { tag: 0x00280004, vr: "CS", value: "RGB" },
    { tag: 0x00280006, vr: "US", value: 0 },
    { tag: 0x00280010, vr: "US", value: 1 },
    { tag: 0x00280011, vr: "US", value: 3 },
    { tag: 0x00280100, vr: "US", value: 8 },
    { tag: 0x00280101, vr: "US", value: 8 },
    { tag: 0x00280102, vr: "US", value: 7 },
    { tag: 0x00280103, vr: "US", value: 0 },
    { tag: 0x7fe00010, vr: "OB", value: rgb },
  ]);
  const image = await loadDicom(bytes, "rgb.dcm");
  [0.299, 0.587, 0.114].forEach((e, i) => assert.ok(Math.abs(image.data[i] - e) < 1e-6));
});

Deno.test("object without Pixel Data is rejected", async () => {
  const error = await rejection(buildPart10([{ tag: 0x00080060, vr: "CS", value: "SR" }]));
  assert.match(error.message, /no Pixel Data/);
});

Deno.test("multi-frame image is rejected", async () => {
  const bytes = buildPart10([...imageElements(1, 1, [1, 2]), { tag: 0x00280008, vr: "IS", value: "2" }]);
  const error = await rejection(bytes);
  assert.match(error.message, /multi-frame image \(2 frames\)/);
});

Deno.test("unsupported transfer syntax is rejected by UID", async () => {
  const bytes = buildPart10(imageElements(1, 1, [1]), "1.2.840.10008.1.2.4.100");
  const error = await rejection(bytes);
  assert.match(error.message, /transfer syntax 1\.2\.840\.10008\.1\.2\.4\.100 is not supported/);
});

Deno.test("short Pixel Data is rejected", async () => {
  const elements = imageElements(4, 4, [1, 2, 3]);
  const error = await rejection(buildPart10(elements));
  assert.match(error.message, /Pixel Data holds 6 bytes; expected 32/);
});

Deno.test("truncated file is rejected", async () => {
  const bytes = buildPart10(imageElements(8, 8, new Array(64).fill(7)));
  const error = await rejection(bytes.subarray(0, bytes.length - 40));
  assert.match(error.message, /not a readable DICOM file|Pixel Data holds/);
});

Deno.test("non-DICOM bytes are rejected", async () => {
  const error = await rejection(new TextEncoder().encode("this is not a DICOM file at all, only text"));
  assert.match(error.message, /test\.dcm: /);
});

Deno.test("corrupt JPEG stream is rejected with the syntax name", async () => {
  const encapsulated = new Uint8Array([
    0xfe,
    0xff,
    0x00,
    0xe0,
    0,
    0,
    0,
    0, // empty Basic Offset Table
    0xfe,
    0xff,
    0x00,
    0xe0,
    4,
    0,
    0,
    0,
    0xff,
    0xd8,
    0xff,
    0xd9, // a JPEG with no frame
    0xfe,
    0xff,
    0xdd,
    0xe0,
    0,
    0,
    0,
    0,
  ]);
  const elements = imageElements(2, 2, [0, 0, 0, 0], { stored: 12 }).filter((e) => e.tag !== 0x7fe00010);
  const header = buildPart10(
    [...elements, { tag: 0x00100010, vr: "PN", value: "Doe^Jane" }],
    "1.2.840.10008.1.2.4.51",
  );
  // Pixel Data with undefined length, appended by hand because the builder writes defined lengths only.
  const pixelHeader = new Uint8Array([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  const bytes = new Uint8Array([...header, ...pixelHeader, ...encapsulated]);
  const error = await rejection(bytes);
  assert.match(error.message, /JPEG Extended pixel data cannot be decoded/);
  assert.ok(!error.message.includes("Doe"), "no patient name in the message");
});

/** SHA-256 of this decoder's output for JPEG-lossy.dcm, recorded when it was checked against DCMTK's dcmdjpeg. */
const RECORDED_JPEG_LOSSY_SHA256 = "3e571988ed84a9d29e90c0fcf1e77636d27b374b69aa20f6bd317d88518710b3";
