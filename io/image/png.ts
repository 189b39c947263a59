/**
 * PNG decoding to a grayscale float image in [0, 1].
 *
 * The chunk structure (signature, lengths, CRCs, IEND) is checked here first, so a
 * truncated or corrupt file gets one precise message. The pixels are then decoded
 * by `fast-png`. Every PNG colour type and bit depth is accepted:
 *
 * - gray, gray+alpha: the gray sample divided by the maximum sample value;
 * - RGB, RGBA, palette: ITU-R 601 luma, 0.299 R + 0.587 G + 0.114 B;
 * - alpha (an alpha channel or a tRNS chunk) is dropped;
 * - 1, 2, 4 and 8-bit samples are divided by 2^depth − 1;
 * - 16-bit samples are divided by 2^b − 1, where b is the number of significant
 *   bits (see `significantBits16`), so a 12-bit radiograph in a 16-bit container
 *   keeps its contrast instead of coming out nearly black.
 */
import { decode as decodeWithFastPng } from "fast-png";
import { unzlibSync } from "fflate";
import { CheffError } from "../errors.ts";
import type { GrayImage } from "./load.ts";

export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

const COLOR_GRAY = 0;
const COLOR_RGB = 2;
const COLOR_PALETTE = 3;
const COLOR_GRAY_ALPHA = 4;
const COLOR_RGBA = 6;

/** Samples per pixel of each PNG colour type. */
const CHANNELS: Record<number, number> = {
  [COLOR_GRAY]: 1,
  [COLOR_RGB]: 3,
  [COLOR_PALETTE]: 1,
  [COLOR_GRAY_ALPHA]: 2,
  [COLOR_RGBA]: 4,
};

/** Bit depths the PNG specification allows for each colour type. */
const ALLOWED_DEPTHS: Record<number, number[]> = {
  [COLOR_GRAY]: [1, 2, 4, 8, 16],
  [COLOR_RGB]: [8, 16],
  [COLOR_PALETTE]: [1, 2, 4, 8],
  [COLOR_GRAY_ALPHA]: [8, 16],
  [COLOR_RGBA]: [8, 16],
};

/** Candidate significant-bit counts for a 16-bit PNG without an sBIT chunk. */
const INFERRED_BIT_COUNTS = [8, 10, 12, 14, 16];

/** Largest image accepted, 2^28 pixels (16384 x 16384): a 1 GiB float image, far above any radiograph. */
const MAX_PIXELS = 2 ** 28;

export interface PngChunk {
  /** Four-letter chunk type, e.g. `IHDR`, `IDAT`, `tEXt`. */
  type: string;
  /** Chunk data, without the length, type and CRC fields. */
  data: Uint8Array;
}

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
}

/** Returns true when `bytes` starts with the 8-byte PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  if (bytes.length < PNG_SIGNATURE.length) return false;
  return PNG_SIGNATURE.every((byte, i) => bytes[i] === byte);
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO 3309, as PNG uses it) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Splits a PNG file into its chunks, up to and including IEND, checking the
 * signature, every chunk's length and CRC, and that IHDR comes first.
 * `source` names the file in error messages.
 */
export function readPngChunks(bytes: Uint8Array, source: string): PngChunk[] {
  if (!isPng(bytes)) throw new CheffError(`${source}: not a PNG file (the PNG signature is missing)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: PngChunk[] = [];
  let offset = PNG_SIGNATURE.length;

  while (true) {
    if (offset + 8 > bytes.length) {
      throw new CheffError(
        `${source}: truncated PNG (the file ends after ${bytes.length} bytes, before the IEND chunk)`,
      );
    }
    const length = view.getUint32(offset);
    const typeBytes = bytes.subarray(offset + 4, offset + 8);
    const type = String.fromCharCode(...typeBytes);
    if (!/^[A-Za-z]{4}$/.test(type)) {
      throw new CheffError(`${source}: corrupt PNG (invalid chunk type at byte ${offset + 4})`);
    }
    if (length > 0x7fffffff || offset + 12 + length > bytes.length) {
      throw new CheffError(
        `${source}: truncated PNG (chunk ${type} at byte ${offset} needs ${length} bytes, the file ends after ${bytes.length})`,
      );
    }

    const stored = view.getUint32(offset + 8 + length);
    if (crc32(bytes.subarray(offset + 4, offset + 8 + length)) !== stored) {
      throw new CheffError(`${source}: corrupt PNG (CRC mismatch in chunk ${type} at byte ${offset})`);
    }
    if (chunks.length === 0 && type !== "IHDR") {
      throw new CheffError(`${source}: corrupt PNG (the first chunk is ${type}, expected IHDR)`);
    }

    chunks.push({ type, data: bytes.subarray(offset + 8, offset + 8 + length) });
    offset += 12 + length;
    if (type === "IEND") return chunks;
  }
}

/** Reads and validates the IHDR chunk (the first chunk, as readPngChunks guarantees). */
export function readPngHeader(chunks: PngChunk[], source: string): PngHeader {
  const ihdr = chunks[0].data;
  if (ihdr.length !== 13) {
    throw new CheffError(`${source}: corrupt PNG (IHDR has ${ihdr.length} bytes, expected 13)`);
  }
  const view = new DataView(ihdr.buffer, ihdr.byteOffset, ihdr.byteLength);
  const header: PngHeader = {
    width: view.getUint32(0),
    height: view.getUint32(4),
    bitDepth: ihdr[8],
    colorType: ihdr[9],
    interlaced: ihdr[12] === 1,
  };

  if (header.width === 0 || header.height === 0) {
    throw new CheffError(`${source}: corrupt PNG (image size ${header.width}x${header.height})`);
  }
  if (header.width * header.height > MAX_PIXELS) {
    throw new CheffError(
      `${source}: image size ${header.width}x${header.height} is too large; expected at most ${MAX_PIXELS} pixels`,
    );
  }
  const depths = ALLOWED_DEPTHS[header.colorType];
  if (!depths) throw new CheffError(`${source}: corrupt PNG (unknown colour type ${header.colorType})`);
  if (!depths.includes(header.bitDepth)) {
    throw new CheffError(
      `${source}: corrupt PNG (bit depth ${header.bitDepth} is not allowed for colour type ${header.colorType})`,
    );
  }
  if (ihdr[10] !== 0 || ihdr[11] !== 0 || ihdr[12] > 1) {
    throw new CheffError(`${source}: corrupt PNG (unknown compression, filter or interlace method in IHDR)`);
  }
  if (!chunks.some((chunk) => chunk.type === "IDAT")) {
    throw new CheffError(`${source}: corrupt PNG (no IDAT chunk, so no pixel data)`);
  }
  if (header.colorType === COLOR_PALETTE && !chunks.some((chunk) => chunk.type === "PLTE")) {
    throw new CheffError(`${source}: corrupt PNG (a palette image without a PLTE chunk)`);
  }
  return header;
}

/** Decodes a PNG file to a grayscale image with values in [0, 1]. `source` names the file in error messages. */
export function decodePng(bytes: Uint8Array, source: string): GrayImage {
  const chunks = readPngChunks(bytes, source);
  const header = readPngHeader(chunks, source);
  const samples = decodeSamples(bytes, chunks, header, source);
  const { width, height, colorType } = header;
  const pixelCount = width * height;
  const channels = CHANNELS[colorType];
  const data = new Float32Array(pixelCount);

  if (colorType === COLOR_PALETTE) {
    const palette = chunks.find((chunk) => chunk.type === "PLTE")!.data;
    const entries = Math.floor(palette.length / 3);
    for (let i = 0; i < pixelCount; i++) {
      const index = samples[i];
      if (index >= entries) {
        throw new CheffError(
          `${source}: corrupt PNG (palette index ${index} but the palette has ${entries} entries)`,
        );
      }
      data[i] = luma8(palette[3 * index], palette[3 * index + 1], palette[3 * index + 2]);
    }
    return { width, height, data };
  }

  const isColor = colorType === COLOR_RGB || colorType === COLOR_RGBA;
  const maxValue = header.bitDepth === 16
    ? 2 ** significantBits16(samples, channels, isColor ? 3 : 1, readSbit(chunks, colorType, source)) - 1
    : 2 ** header.bitDepth - 1;

  if (isColor) {
    // The weights are applied in integer thousandths and divided once, so equal
    // channels (a gray image stored as RGB) give exactly the gray value.
    for (let i = 0; i < pixelCount; i++) {
      const p = i * channels;
      data[i] = (299 * samples[p] + 587 * samples[p + 1] + 114 * samples[p + 2]) / (1000 * maxValue);
    }
  } else {
    for (let i = 0; i < pixelCount; i++) data[i] = samples[i * channels] / maxValue;
  }
  return { width, height, data };
}

/** ITU-R 601 luma of 8-bit RGB, in [0, 1]. */
function luma8(r: number, g: number, b: number): number {
  return (299 * r + 587 * g + 114 * b) / 255_000;
}

/**
 * Significant bits b of a 16-bit PNG, which is scaled by 2^b − 1:
 *
 * - with an sBIT chunk, its value (the largest over the colour channels) when
 *   every sample fits in b bits. PadChest-style files store 12-bit values as
 *   they are and declare sBIT = 12;
 * - with an sBIT chunk but larger samples, 16. The PNG specification requires
 *   sBIT-declared samples to be scaled up to the full 16-bit range, and such a
 *   file follows it;
 * - without sBIT, the smallest b in {8, 10, 12, 14, 16} that fits the largest
 *   colour sample.
 *
 * NOTE: without sBIT, a 12-bit image whose brightest pixel is below 256 is read
 * as 8-bit, because nothing in the file distinguishes the two.
 *
 * `colorSamples` is how many of the `channels` samples of a pixel are colour (the
 * rest is alpha, which does not count).
 */
export function significantBits16(
  samples: ArrayLike<number>,
  channels: number,
  colorSamples: number,
  sbit: number | undefined,
): number {
  let max = 0;
  for (let p = 0; p < samples.length; p += channels) {
    for (let c = 0; c < colorSamples; c++) if (samples[p + c] > max) max = samples[p + c];
  }
  if (sbit !== undefined) return max <= 2 ** sbit - 1 ? sbit : 16;
  return INFERRED_BIT_COUNTS.find((bits) => max <= 2 ** bits - 1)!;
}

/** Significant bits declared by an sBIT chunk (the largest over colour channels), or undefined without one. */
function readSbit(chunks: PngChunk[], colorType: number, source: string): number | undefined {
  const sbit = chunks.find((chunk) => chunk.type === "sBIT");
  if (!sbit) return undefined;
  const colorBytes = colorType === COLOR_GRAY || colorType === COLOR_GRAY_ALPHA ? 1 : 3;
  if (sbit.data.length < colorBytes) {
    throw new CheffError(
      `${source}: corrupt PNG (sBIT chunk has ${sbit.data.length} bytes, expected ${colorBytes} or more)`,
    );
  }
  const bits = Math.max(...sbit.data.subarray(0, colorBytes));
  if (bits < 1 || bits > 16) {
    throw new CheffError(`${source}: corrupt PNG (sBIT declares ${bits} significant bits, expected 1 to 16)`);
  }
  return bits;
}

/**
 * Decodes the pixel samples, one array element per sample (pixel-interleaved,
 * `channels` per pixel; palette indices for a palette image). fast-png returns
 * sub-byte samples packed, and mis-handles Adam7 interlacing below 8 bits, so
 * those cases go through `decodePackedSamples`.
 */
function decodeSamples(
  bytes: Uint8Array,
  chunks: PngChunk[],
  header: PngHeader,
  source: string,
): Uint8Array | Uint16Array {
  const { width, height, bitDepth, colorType } = header;
  const expected = width * height * CHANNELS[colorType];
  if (bitDepth < 8) return decodePackedSamples(chunks, header, source);

  let decoded;
  try {
    decoded = decodeWithFastPng(bytes);
  } catch (error) {
    // fast-png reads a missing row's filter byte as undefined.
    if (oneLine(error).endsWith("filter: undefined")) {
      throw new CheffError(`${source}: corrupt PNG (the compressed image data ends before the last row)`);
    }
    throw new CheffError(`${source}: corrupt PNG (${oneLine(error)})`);
  }
  const samples = decoded.data as Uint8Array | Uint16Array;
  if (samples.length !== expected) {
    throw new CheffError(`${source}: corrupt PNG (${samples.length} samples decoded, expected ${expected})`);
  }
  return samples;
}

/**
 * Decodes 1, 2 and 4-bit images (gray or palette, one sample per pixel): inflates
 * the IDAT data, reverses the scanline filters and unpacks the samples, for both
 * plain and Adam7-interlaced images.
 */
function decodePackedSamples(chunks: PngChunk[], header: PngHeader, source: string): Uint8Array {
  const { width, height, bitDepth, interlaced } = header;
  const idat = concatenate(chunks.filter((chunk) => chunk.type === "IDAT").map((chunk) => chunk.data));
  let raw: Uint8Array;
  try {
    raw = unzlibSync(idat);
  } catch (error) {
    throw new CheffError(
      `${source}: corrupt PNG (the compressed image data cannot be inflated: ${oneLine(error)})`,
    );
  }

  // Adam7 passes: start column and row, column and row step.
  const passes = interlaced
    ? [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]]
    : [[0, 0, 1, 1]];
  const samples = new Uint8Array(width * height);
  const mask = (1 << bitDepth) - 1;
  let offset = 0;

  for (const [x0, y0, dx, dy] of passes) {
    const passWidth = Math.ceil((width - x0) / dx);
    const passHeight = Math.ceil((height - y0) / dy);
    if (passWidth <= 0 || passHeight <= 0) continue;
    const rowBytes = Math.ceil((passWidth * bitDepth) / 8);
    let previous: Uint8Array = new Uint8Array(rowBytes);

    for (let y = 0; y < passHeight; y++) {
      if (offset + 1 + rowBytes > raw.length) {
        throw new CheffError(`${source}: corrupt PNG (the compressed image data ends before the last row)`);
      }
      const row = unfilterRow(raw[offset], raw.subarray(offset + 1, offset + 1 + rowBytes), previous, source);
      offset += 1 + rowBytes;
      previous = row;

      for (let x = 0; x < passWidth; x++) {
        const bit = x * bitDepth;
        const value = (row[bit >> 3] >> (8 - bitDepth - (bit & 7))) & mask;
        samples[(y0 + y * dy) * width + x0 + x * dx] = value;
      }
    }
  }
  return samples;
}

/**
 * Reverses one scanline's filter (PNG specification, section 9). Sub-byte rows
 * filter bytewise with a one-byte left neighbour.
 */
function unfilterRow(filter: number, row: Uint8Array, previous: Uint8Array, source: string): Uint8Array {
  const out = new Uint8Array(row.length);
  for (let i = 0; i < row.length; i++) {
    const left = i > 0 ? out[i - 1] : 0;
    const up = previous[i];
    const upLeft = i > 0 ? previous[i - 1] : 0;
    let predictor: number;
    switch (filter) {
      case 0:
        predictor = 0;
        break;
      case 1:
        predictor = left;
        break;
      case 2:
        predictor = up;
        break;
      case 3:
        predictor = (left + up) >> 1;
        break;
      case 4:
        predictor = paeth(left, up, upLeft);
        break;
      default:
        throw new CheffError(`${source}: corrupt PNG (unknown scanline filter type ${filter})`);
    }
    out[i] = (row[i] + predictor) & 0xff;
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

function concatenate(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Returns an exception's message on one line, for wrapping a library error in a CheffError. */
export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, " ").trim();
}
