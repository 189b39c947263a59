/**
 * JPEG decoding to a grayscale float image in [0, 1], and 8-bit grayscale JPEG
 * encoding at a given quality (MaCheX-style dataset preparation uses 95).
 *
 * The codec is `jpeg-js` 0.4. It is plain JavaScript, so it needs no native
 * library and runs unchanged under Deno. It decodes baseline and progressive
 * 8-bit JPEGs and encodes baseline JPEGs with the usual 1–100 quality scale.
 * It does not decode lossless, arithmetic-coded or 12-bit JPEGs, which
 * `inspectJpeg` rejects with a message before decoding starts.
 */
import jpeg from "jpeg-js";
import { CheffError } from "../errors.ts";
import { oneLine } from "./png.ts";
import type { GrayImage } from "./load.ts";

/** An 8-bit grayscale image, row-major, one byte per pixel. */
export interface Gray8Image {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Frame header fields that `inspectJpeg` reads. */
export interface JpegInfo {
  /** The SOF marker's second byte: 0xC0 baseline, 0xC1 extended, 0xC2 progressive, … */
  frameType: number;
  /** Bits per sample (8 for almost every JPEG; 12 for some medical files). */
  precision: number;
  width: number;
  height: number;
  components: number;
}

/** Returns true when `bytes` starts with a JPEG start-of-image marker followed by another marker. */
export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/** jpeg-js's default limit (its `maxResolutionInMP` option, 100 megapixels), checked here for a clear message. */
const MAX_DECODER_PIXELS = 100_000_000;

/** Frame types jpeg-js decodes: baseline, extended sequential (Huffman) and progressive (Huffman). */
const DECODABLE_FRAMES = new Set([0xc0, 0xc1, 0xc2]);

/**
 * Walks the marker segments of a JPEG file from SOI to EOI (skipping over the
 * entropy-coded data after each SOS) and returns the frame header. Throws a
 * CheffError when the file ends before EOI, a segment is malformed, or the frame
 * is of a kind the decoder cannot read. Bytes after EOI are ignored.
 */
export function inspectJpeg(bytes: Uint8Array, source: string): JpegInfo {
  if (!isJpeg(bytes)) throw new CheffError(`${source}: not a JPEG file (no start-of-image marker)`);
  const truncated = () =>
    new CheffError(
      `${source}: truncated JPEG (the file ends after ${bytes.length} bytes, before the end-of-image marker)`,
    );
  let info: JpegInfo | undefined;
  let scans = 0;
  let offset = 2;

  while (true) {
    if (offset + 2 > bytes.length) throw truncated();
    if (bytes[offset] !== 0xff) {
      throw new CheffError(`${source}: corrupt JPEG (expected a marker at byte ${offset})`);
    }
    // A marker may be preceded by any number of 0xFF fill bytes.
    while (offset + 1 < bytes.length && bytes[offset + 1] === 0xff) offset++;
    if (offset + 2 > bytes.length) throw truncated();
    const marker = bytes[offset + 1];

    if (marker === 0xd9) break;
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      offset += 2;
      continue;
    }

    if (offset + 4 > bytes.length) throw truncated();
    const length = (bytes[offset + 2] << 8) | bytes[offset + 3];
    if (length < 2) {
      throw new CheffError(`${source}: corrupt JPEG (segment length ${length} at byte ${offset})`);
    }
    if (offset + 2 + length > bytes.length) throw truncated();
    const segment = bytes.subarray(offset + 4, offset + 2 + length);

    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (segment.length < 6) {
        throw new CheffError(`${source}: corrupt JPEG (frame header of ${segment.length} bytes)`);
      }
      info = {
        frameType: marker,
        precision: segment[0],
        height: (segment[1] << 8) | segment[2],
        width: (segment[3] << 8) | segment[4],
        components: segment[5],
      };
    }
    offset += 2 + length;

    if (marker === 0xda) {
      scans++;
      offset = skipEntropyCodedData(bytes, offset);
      if (offset >= bytes.length) throw truncated();
    }
  }

  if (!info) throw new CheffError(`${source}: corrupt JPEG (no frame header)`);
  if (scans === 0) throw new CheffError(`${source}: corrupt JPEG (no image data: the file has no scan)`);
  if (!DECODABLE_FRAMES.has(info.frameType)) {
    const kind =
      info.frameType === 0xc3 || info.frameType === 0xc7 || info.frameType === 0xcb || info.frameType === 0xcf
        ? "lossless"
        : "arithmetic-coded or hierarchical";
    throw new CheffError(`${source}: unsupported JPEG (${kind}); expected a baseline or progressive JPEG`);
  }
  if (info.precision !== 8) {
    throw new CheffError(
      `${source}: unsupported JPEG (${info.precision} bits per sample); expected 8-bit samples`,
    );
  }
  if (info.width * info.height > MAX_DECODER_PIXELS) {
    throw new CheffError(
      `${source}: JPEG image size ${info.width}x${info.height} is too large; the decoder accepts at most 100 megapixels`,
    );
  }
  if (info.width === 0 || info.height === 0) {
    throw new CheffError(
      `${source}: unsupported JPEG (image size ${info.width}x${info.height} in the frame header)`,
    );
  }
  return info;
}

/**
 * Returns the offset of the first marker after the entropy-coded data that
 * starts at `offset`, or `bytes.length` if the data runs to the end of the file.
 * Inside that data 0xFF is followed by 0x00 (a stuffed byte) or a restart marker.
 */
function skipEntropyCodedData(bytes: Uint8Array, offset: number): number {
  for (let i = offset; i + 1 < bytes.length; i++) {
    if (bytes[i] !== 0xff) continue;
    const next = bytes[i + 1];
    if (next !== 0x00 && !(next >= 0xd0 && next <= 0xd7)) return i;
  }
  return bytes.length;
}

/** Decodes a JPEG file (grayscale or colour) to a grayscale image with values in [0, 1]. */
export function decodeJpeg(bytes: Uint8Array, source: string): GrayImage {
  const info = inspectJpeg(bytes, source);
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
  } catch (error) {
    throw new CheffError(`${source}: corrupt JPEG (${oneLine(error)})`);
  }
  const { width, height, data: rgb } = decoded;
  if (width !== info.width || height !== info.height || rgb.length !== width * height * 3) {
    throw new CheffError(
      `${source}: corrupt JPEG (decoded ${width}x${height}, the frame header gives ${info.width}x${info.height})`,
    );
  }

  // jpeg-js returns RGB for every JPEG, with R = G = B for a one-component file.
  // ITU-R 601 luma in integer thousandths keeps such a file's gray values exact.
  const gray = new Float32Array(width * height);
  for (let i = 0; i < gray.length; i++) {
    gray[i] = (299 * rgb[3 * i] + 587 * rgb[3 * i + 1] + 114 * rgb[3 * i + 2]) / 255_000;
  }
  return { width, height, data: gray };
}

/**
 * Encodes an 8-bit grayscale image as a baseline JPEG at `quality` (1–100, the
 * libjpeg scale). jpeg-js always writes three YCbCr components; for gray input
 * the chroma planes are constant, so they cost little and decode back to gray.
 */
export function encodeJpeg(image: Gray8Image, quality = 95): Uint8Array {
  const { width, height, data } = image;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new CheffError(`JPEG quality ${quality} is invalid; expected an integer from 1 to 100`);
  }
  if (
    !Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 65535 ||
    height > 65535
  ) {
    throw new CheffError(
      `image size ${width}x${height} cannot be stored as JPEG; expected 1 to 65535 pixels per side`,
    );
  }
  if (data.length !== width * height) {
    throw new CheffError(
      `image data contains ${data.length} values, expected ${width}x${height} = ${width * height}`,
    );
  }

  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i++) {
    rgba[4 * i] = data[i];
    rgba[4 * i + 1] = data[i];
    rgba[4 * i + 2] = data[i];
    rgba[4 * i + 3] = 255;
  }
  const encoded = jpeg.encode({ width, height, data: rgba }, quality).data;
  return new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength).slice();
}

/** Converts a [0, 1] gray image to 8 bits: round(255·v), with values outside [0, 1] clamped. */
export function grayTo8Bit(image: GrayImage): Gray8Image {
  const data = new Uint8Array(image.data.length);
  for (let i = 0; i < data.length; i++) {
    const v = image.data[i];
    data[i] = Math.round(255 * Math.min(1, Math.max(0, v)));
  }
  return { width: image.width, height: image.height, data };
}
