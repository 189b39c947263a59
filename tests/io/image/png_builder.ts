/**
 * A plain PNG writer for tests, written from the PNG specification. It packs
 * samples of any colour type and bit depth, applies each of the five scanline
 * filters in turn (row r uses filter r mod 5) and can interlace with Adam7. The
 * decoder thus meets every case on small images whose pixel values are known.
 */
import { zlibSync } from "fflate";

export interface PngSpec {
  width: number;
  height: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  bitDepth: 1 | 2 | 4 | 8 | 16;
  /** Samples, pixel-interleaved and unpacked: width · height · channels values (palette indices for type 3). */
  samples: ArrayLike<number>;
  /** RGB entries for colour type 3. */
  palette?: [number, number, number][];
  /** Content of an sBIT chunk. */
  sbit?: number[];
  /** Content of a tRNS chunk. */
  trns?: number[];
  interlace?: boolean;
}

const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as const;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Builds one chunk: length, type, data, CRC. */
export function pngChunk(type: string, data: Uint8Array | number[]): Uint8Array {
  const body = data instanceof Uint8Array ? data : Uint8Array.from(data);
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc(out.subarray(4, 8 + body.length)));
  return out;
}

export const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/** Packs one row of samples into bytes: sub-byte samples high bits first, 16-bit big-endian. */
function packRow(samples: number[], bitDepth: number): Uint8Array {
  if (bitDepth === 16) {
    const out = new Uint8Array(samples.length * 2);
    samples.forEach((v, i) => {
      out[2 * i] = v >> 8;
      out[2 * i + 1] = v & 0xff;
    });
    return out;
  }
  const out = new Uint8Array(Math.ceil((samples.length * bitDepth) / 8));
  samples.forEach((v, i) => {
    const bit = i * bitDepth;
    out[bit >> 3] |= v << (8 - bitDepth - (bit % 8));
  });
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/** Filters one packed row with `filter` (0–4), given the previous packed row and bytes per complete pixel. */
function filterRow(filter: number, row: Uint8Array, previous: Uint8Array, bpp: number): Uint8Array {
  const out = new Uint8Array(row.length + 1);
  out[0] = filter;
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp] : 0;
    const b = previous[i] ?? 0;
    const c = i >= bpp ? previous[i - bpp] ?? 0 : 0;
    const predictor = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter];
    out[i + 1] = (row[i] - predictor) & 0xff;
  }
  return out;
}

/** Builds a complete PNG file from `spec`. */
export function buildPng(spec: PngSpec): Uint8Array {
  const { width, height, colorType, bitDepth, samples } = spec;
  const channels = CHANNELS[colorType];
  const bpp = Math.max(1, (channels * bitDepth) / 8);
  const passes = spec.interlace
    ? [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]]
    : [[0, 0, 1, 1]];

  const raw: Uint8Array[] = [];
  let rowNumber = 0;
  for (const [x0, y0, dx, dy] of passes) {
    let previous: Uint8Array = new Uint8Array(0);
    for (let y = y0; y < height; y += dy) {
      const rowSamples: number[] = [];
      for (let x = x0; x < width; x += dx) {
        for (let c = 0; c < channels; c++) rowSamples.push(samples[(y * width + x) * channels + c]);
      }
      if (rowSamples.length === 0) continue;
      const packed = packRow(rowSamples, bitDepth);
      raw.push(filterRow(rowNumber++ % 5, packed, previous, bpp));
      previous = packed;
    }
  }

  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = bitDepth;
  header[9] = colorType;
  header[12] = spec.interlace ? 1 : 0;

  const chunks = [SIGNATURE, pngChunk("IHDR", header)];
  if (spec.sbit) chunks.push(pngChunk("sBIT", spec.sbit));
  if (spec.palette) chunks.push(pngChunk("PLTE", spec.palette.flat()));
  if (spec.trns) chunks.push(pngChunk("tRNS", spec.trns));
  const compressed = zlibSync(concat(raw));
  // Two IDAT chunks, as large files have, to check that they are joined.
  const half = Math.floor(compressed.length / 2);
  chunks.push(pngChunk("IDAT", compressed.subarray(0, half)), pngChunk("IDAT", compressed.subarray(half)));
  chunks.push(pngChunk("IEND", []));
  return concat(chunks);
}
