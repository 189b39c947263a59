/**
 * Writing images: a [-1, 1] float image becomes an 8 or 16-bit grayscale PNG
 * carrying text chunks (software, synthetic flag, seed, steps, model hashes), and
 * those chunks can be read back. Pixels are clamped to [-1, 1] and mapped to
 * round(M·(x + 1)/2) with M = 255 or 65535, so 0 is black and M is white.
 * 16-bit files carry sBIT = 16.
 */
import { encode as encodeWithFastPng } from "fast-png";
import { unzlibSync } from "fflate";
import { CheffError } from "../errors.ts";
import { writeFileAtomic, type WriteOptions } from "../files.ts";
import { crc32, oneLine, PNG_SIGNATURE, readPngChunks } from "./png.ts";

/** An image to write: row-major values in [-1, 1] (values outside are clamped). */
export interface OutputImage {
  width: number;
  height: number;
  channels: 1;
  data: Float32Array;
}

export interface PngWriteOptions {
  /** Bits per sample; 8 unless given. */
  bits?: 8 | 16;
  /** Text chunks, keyword → value: tEXt for Latin-1 values, iTXt (UTF-8) for others. */
  text?: Record<string, string>;
}

function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
}

/** Encodes a [-1, 1] grayscale image as a PNG with the given bit depth and text chunks. */
export function encodePng(image: OutputImage, options: PngWriteOptions = {}): Uint8Array {
  const { width, height, data } = image;
  const bits = options.bits ?? 8;
  if (bits !== 8 && bits !== 16) throw new CheffError(`PNG bit depth ${bits} is invalid; expected 8 or 16`);
  if (image.channels !== 1) {
    throw new CheffError(
      `cannot write a ${image.channels}-channel image as a grayscale PNG; expected 1 channel`,
    );
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new CheffError(
      `image size ${width}x${height} is invalid; expected positive whole numbers of pixels`,
    );
  }
  if (data.length !== width * height) {
    throw new CheffError(
      `image data contains ${data.length} values, expected ${width}x${height} = ${width * height}`,
    );
  }

  const maxValue = bits === 8 ? 255 : 65535;
  const samples = bits === 8 ? new Uint8Array(data.length) : new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (Number.isNaN(x)) {
      const row = Math.floor(i / width);
      throw new CheffError(
        `image value at row ${row}, column ${i - row * width} is NaN; expected numbers in [-1, 1]`,
      );
    }
    samples[i] = Math.round((maxValue * (Math.min(1, Math.max(-1, x)) + 1)) / 2);
  }

  const extraChunks = Object.entries(options.text ?? {}).map(([keyword, value]) => textChunk(keyword, value));
  // A 16-bit reader that infers significant bits from the largest value (as
  // cheff's does without sBIT) would read a dark image as 8 or 12-bit. sBIT = 16
  // declares that every bit counts.
  if (bits === 16) extraChunks.unshift(chunk("sBIT", [Uint8Array.of(16)]));
  const png = encodeWithFastPng({ width, height, data: samples, depth: bits, channels: 1 }, {
    zlib: { level: 6 },
  });
  return insertAfterHeader(png, extraChunks);
}

/** Encodes `image` as a PNG (see encodePng) and writes it to `path` atomically. */
export async function writePng(
  path: string,
  image: OutputImage,
  options: PngWriteOptions & WriteOptions = {},
): Promise<void> {
  await writeFileAtomic(path, encodePng(image, options), options);
}

/**
 * Returns the text chunks of a PNG file (tEXt, zTXt and iTXt) as keyword → value.
 * A keyword that occurs twice keeps its last value. `source` names the file in errors.
 */
export function readPngText(bytes: Uint8Array, source = "PNG data"): Record<string, string> {
  const text: Record<string, string> = {};
  for (const { type, data } of readPngChunks(bytes, source)) {
    if (type !== "tEXt" && type !== "zTXt" && type !== "iTXt") continue;
    const keywordEnd = data.indexOf(0);
    if (keywordEnd < 1) throw new CheffError(`${source}: corrupt PNG (${type} chunk without a keyword)`);
    const keyword = latin1Decode(data.subarray(0, keywordEnd));
    const rest = data.subarray(keywordEnd + 1);
    try {
      text[keyword] = decodeTextValue(type, rest);
    } catch (error) {
      throw new CheffError(`${source}: corrupt PNG (${type} chunk '${keyword}': ${oneLine(error)})`);
    }
  }
  return text;
}

/** Decodes the value part of a text chunk (everything after the keyword's NUL). */
function decodeTextValue(type: string, rest: Uint8Array): string {
  if (type === "tEXt") return latin1Decode(rest);
  if (type === "zTXt") return latin1Decode(unzlibSync(rest.subarray(1)));

  // iTXt: compression flag, compression method, language tag\0, translated keyword\0, UTF-8 text.
  const compressed = rest[0] === 1;
  const languageEnd = rest.indexOf(0, 2);
  const translatedEnd = languageEnd < 0 ? -1 : rest.indexOf(0, languageEnd + 1);
  if (translatedEnd < 0) throw new Error("missing language tag or translated keyword");
  const body = rest.subarray(translatedEnd + 1);
  return new TextDecoder("utf-8", { fatal: true }).decode(compressed ? unzlibSync(body) : body);
}

function latin1Decode(bytes: Uint8Array): string {
  return new TextDecoder("latin1").decode(bytes);
}

/**
 * Builds a tEXt chunk, or an uncompressed iTXt chunk (UTF-8, no language tag)
 * when the value has characters outside Latin-1. Keywords follow the PNG rules:
 * 1–79 printable Latin-1 characters, no leading, trailing or double spaces.
 */
function textChunk(keyword: string, value: string): Uint8Array {
  const printable = /^[\u0020-\u007e\u00a1-\u00ff]+$/;
  if (keyword.length < 1 || keyword.length > 79 || !printable.test(keyword) || /^ | $| {2}/.test(keyword)) {
    throw new CheffError(
      `PNG text keyword '${keyword}' is invalid; expected 1 to 79 printable Latin-1 characters without leading, trailing or double spaces`,
    );
  }
  if (value.includes("\u0000")) {
    throw new CheffError(`PNG text '${keyword}' contains a NUL character, which PNG text cannot hold`);
  }

  const keywordBytes = Uint8Array.from(keyword, (c) => c.charCodeAt(0));
  if (isLatin1(value)) {
    const valueBytes = Uint8Array.from(value, (c) => c.charCodeAt(0));
    return chunk("tEXt", [keywordBytes, Uint8Array.of(0), valueBytes]);
  }
  // Flags: not compressed, method 0; then an empty language tag and translated keyword.
  const utf8 = new TextEncoder().encode(value);
  return chunk("iTXt", [keywordBytes, Uint8Array.of(0, 0, 0, 0, 0), utf8]);
}

/** Builds a PNG chunk: length, type, data, CRC of type and data. */
function chunk(type: string, parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(12 + length);
  const view = new DataView(out.buffer);
  view.setUint32(0, length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  let offset = 8;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  view.setUint32(8 + length, crc32(out.subarray(4, 8 + length)));
  return out;
}

/** Inserts chunks right after IHDR (signature + 25-byte IHDR chunk), so readers meet them before the pixels. */
function insertAfterHeader(png: Uint8Array, chunks: Uint8Array[]): Uint8Array {
  const headerEnd = PNG_SIGNATURE.length + 25;
  const extra = chunks.reduce((sum, c) => sum + c.length, 0);
  const out = new Uint8Array(png.length + extra);
  out.set(png.subarray(0, headerEnd), 0);
  let offset = headerEnd;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  out.set(png.subarray(headerEnd), offset);
  return out;
}

/**
 * Splits an image tensor [N, C, H, W] (C = 1 or 3, values in [-1, 1]) into N
 * one-channel images. Three channels are combined with ITU-R 601 luma,
 * 0.299 R + 0.587 G + 0.114 B, which maps [-1, 1] to [-1, 1].
 */
export function tensorToGrayImages(shape: readonly number[], data: Float32Array): OutputImage[] {
  if (shape.length !== 4 || (shape[1] !== 1 && shape[1] !== 3)) {
    throw new CheffError(`image tensor has shape [${shape.join(", ")}]; expected [N, 1 or 3, H, W]`);
  }
  const [n, channels, height, width] = shape;
  const plane = height * width;
  if (data.length !== n * channels * plane) {
    throw new CheffError(
      `image tensor contains ${data.length} values, expected ${n * channels * plane} for shape [${
        shape.join(", ")
      }]`,
    );
  }

  const images: OutputImage[] = [];
  for (let i = 0; i < n; i++) {
    const base = i * channels * plane;
    let gray: Float32Array;
    if (channels === 1) {
      gray = data.slice(base, base + plane);
    } else {
      gray = new Float32Array(plane);
      for (let p = 0; p < plane; p++) {
        gray[p] = 0.299 * data[base + p] + 0.587 * data[base + plane + p] +
          0.114 * data[base + 2 * plane + p];
      }
    }
    images.push({ width, height, channels: 1, data: gray });
  }
  return images;
}
