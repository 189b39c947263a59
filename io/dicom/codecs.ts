/**
 * Decoders for DICOM's compressed transfer syntaxes. Each returns the samples of
 * one frame, component-interleaved, as unsigned integers of the codec's
 * precision (or signed, where the codec itself reports signed samples).
 *
 * The WASM codecs (CharLS for JPEG-LS, OpenJPEG for JPEG 2000, libjpeg-turbo for
 * 8-bit JPEG) are Emscripten builds from @cornerstonejs. Their JavaScript glue is
 * loaded with `require`, and the `.wasm` bytes are read from node_modules and
 * passed as `wasmBinary`, because the glue's own file lookup assumes a browser
 * or Node. Each codec is instantiated once, on first use.
 */
import { createRequire } from "node:module";
import { Decoder as JpegLosslessDecoder } from "jpeg-lossless-decoder-js";
import { decodeJpegDct } from "./jpeg-dct.ts";
import { TRANSFER_SYNTAX } from "./parse.ts";

const require = createRequire(import.meta.url);

/** Samples of one decoded frame, component-interleaved. */
export interface DecodedFrame {
  width: number;
  height: number;
  components: number;
  samples: Uint8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;
  /** True when the codec converted colour to RGB (JPEG YCbCr, JPEG 2000 ICT/RCT). */
  colourConverted: boolean;
}

/** Image attributes from the data set that some decoders need (RLE has no header of its own). */
export interface FrameInfo {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  pixelRepresentation: number;
}

interface WasmCodec {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): {
    width: number;
    height: number;
    bitsPerSample: number;
    componentCount: number;
    isSigned?: boolean;
  };
  getDecodedBuffer(): Uint8Array;
  getColorSpace?(): number;
}

const codecs = new Map<string, Promise<WasmCodec>>();

function loadWasmCodec(glue: string, wasm: string, className: string): Promise<WasmCodec> {
  let codec = codecs.get(glue);
  if (!codec) {
    codec = (async () => {
      const factory = require(glue);
      const wasmBinary = await Deno.readFile(require.resolve(wasm));
      const module = await factory({ wasmBinary, print: () => {}, printErr: () => {} });
      return new module[className]() as WasmCodec;
    })();
    codecs.set(glue, codec);
  }
  return codec;
}

/** Copies the codec's output out of WASM memory as typed samples of the codec's bit depth. */
function typedSamples(bytes: Uint8Array, bitsPerSample: number, signed: boolean): DecodedFrame["samples"] {
  const copy = bytes.slice();
  if (bitsPerSample <= 8) return copy;
  if (bitsPerSample <= 16) {
    return signed
      ? new Int16Array(copy.buffer, 0, copy.length >> 1)
      : new Uint16Array(copy.buffer, 0, copy.length >> 1);
  }
  return signed
    ? new Int32Array(copy.buffer, 0, copy.length >> 2)
    : new Uint32Array(copy.buffer, 0, copy.length >> 2);
}

function decodeWithWasm(
  codec: WasmCodec,
  frame: Uint8Array,
  signed: (info: ReturnType<WasmCodec["getFrameInfo"]>) => boolean,
): { info: ReturnType<WasmCodec["getFrameInfo"]>; samples: DecodedFrame["samples"] } {
  codec.getEncodedBuffer(frame.length).set(frame);
  try {
    codec.decode();
  } catch (error) {
    // Emscripten builds throw a pointer (a number) for C++ exceptions.
    throw new Error(typeof error === "number" ? "the codec rejected the stream" : String(error));
  }
  const info = codec.getFrameInfo();
  return { info, samples: typedSamples(codec.getDecodedBuffer(), info.bitsPerSample, signed(info)) };
}

async function decodeJpegLs(frame: Uint8Array): Promise<DecodedFrame> {
  const codec = await loadWasmCodec(
    "@cornerstonejs/codec-charls/decodewasmjs",
    "@cornerstonejs/codec-charls/decodewasm",
    "JpegLSDecoder",
  );
  // CharLS decodes unsigned samples; the sign of Pixel Representation 1 data is restored from Bits Stored later.
  const { info, samples } = decodeWithWasm(codec, frame, () => false);
  return {
    width: info.width,
    height: info.height,
    components: info.componentCount,
    samples,
    colourConverted: false,
  };
}

async function decodeJpeg2000(frame: Uint8Array): Promise<DecodedFrame> {
  const codec = await loadWasmCodec(
    "@cornerstonejs/codec-openjpeg/decodewasmjs",
    "@cornerstonejs/codec-openjpeg/decodewasm",
    "J2KDecoder",
  );
  const { info, samples } = decodeWithWasm(codec, frame, (frameInfo) => frameInfo.isSigned ?? false);
  // OpenJPEG applies the inverse multiple-component transform itself, so colour comes back as RGB.
  return {
    width: info.width,
    height: info.height,
    components: info.componentCount,
    samples,
    colourConverted: info.componentCount === 3,
  };
}

async function decodeJpegBaseline8(frame: Uint8Array): Promise<DecodedFrame> {
  const codec = await loadWasmCodec(
    "@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs",
    "@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasm",
    "JPEGDecoder",
  );
  const { info, samples } = decodeWithWasm(codec, frame, () => false);
  return {
    width: info.width,
    height: info.height,
    components: info.componentCount,
    samples,
    colourConverted: info.componentCount === 3,
  };
}

/** Reads the sample precision from a JPEG stream's SOF marker, or undefined when there is none. */
function jpegPrecision(frame: Uint8Array): number | undefined {
  for (let i = 2; i + 4 < frame.length;) {
    if (frame[i] !== 0xff) return undefined;
    const marker = frame[i + 1];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return frame[i + 4];
    }
    i += 2 + ((frame[i + 2] << 8) | frame[i + 3]);
  }
  return undefined;
}

async function decodeJpegDctFrame(frame: Uint8Array): Promise<DecodedFrame> {
  if (jpegPrecision(frame) === 8) return await decodeJpegBaseline8(frame);
  const image = decodeJpegDct(frame);
  return {
    width: image.width,
    height: image.height,
    components: image.components,
    samples: image.precision <= 8 ? Uint8Array.from(image.data) : image.data,
    colourConverted: false,
  };
}

function decodeJpegLossless(frame: Uint8Array): DecodedFrame {
  const copy = frame.slice();
  const decoder = new JpegLosslessDecoder(copy.buffer, 0);
  const output = decoder.decode(copy.buffer, 0, copy.length) as unknown as Uint8Array | Uint16Array;
  const components = decoder.numComp;
  return {
    width: decoder.xDim,
    height: decoder.yDim,
    components,
    samples: output,
    colourConverted: false,
  };
}

/**
 * Decodes DICOM RLE Lossless (PS3.5 annex G): a 64-byte header of segment offsets,
 * then one PackBits segment per byte plane, most significant byte first, for
 * each sample in turn. Returns the samples interleaved, in the native byte width.
 */
export function decodeRle(frame: Uint8Array, info: FrameInfo): DecodedFrame {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segmentCount = view.getUint32(0, true);
  const bytesPerSample = info.bitsAllocated / 8;
  const expected = bytesPerSample * info.samplesPerPixel;
  if (segmentCount !== expected) {
    throw new Error(`RLE header lists ${segmentCount} segments, expected ${expected}`);
  }
  const pixels = info.rows * info.columns;
  const out = new Uint8Array(pixels * expected);

  for (let segment = 0; segment < segmentCount; segment++) {
    const start = view.getUint32(4 + segment * 4, true);
    const end = segment + 1 < segmentCount ? view.getUint32(8 + segment * 4, true) : frame.length;
    const plane = unpackBits(frame.subarray(start, end), pixels);
    const sample = Math.floor(segment / bytesPerSample);
    const byteFromTop = segment % bytesPerSample;
    const byteIndex = bytesPerSample - 1 - byteFromTop; // little-endian position
    for (let p = 0; p < pixels; p++) {
      out[(p * info.samplesPerPixel + sample) * bytesPerSample + byteIndex] = plane[p];
    }
  }

  // The bytes were placed little-endian, which is the platform order of every target Deno runs on.
  const samples = bytesPerSample === 1
    ? out
    : bytesPerSample === 2
    ? new Uint16Array(out.buffer)
    : new Uint32Array(out.buffer);
  return {
    width: info.columns,
    height: info.rows,
    components: info.samplesPerPixel,
    samples,
    colourConverted: false,
  };
}

/** Expands one PackBits segment into exactly `length` bytes (short segments are zero-filled). */
function unpackBits(segment: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let i = 0;
  let o = 0;
  while (i < segment.length && o < length) {
    const n = segment[i++];
    if (n < 128) {
      const count = Math.min(n + 1, length - o, segment.length - i);
      out.set(segment.subarray(i, i + count), o);
      i += n + 1;
      o += count;
    } else if (n > 128) {
      const count = Math.min(257 - n, length - o);
      out.fill(segment[i++], o, o + count);
      o += count;
    }
    // n === 128 is a no-op.
  }
  return out;
}

/** Transfer syntaxes with encapsulated pixel data that this reader decodes. */
export const ENCAPSULATED_SYNTAXES = new Set<string>([
  TRANSFER_SYNTAX.jpegBaseline,
  TRANSFER_SYNTAX.jpegExtended,
  TRANSFER_SYNTAX.jpegLossless,
  TRANSFER_SYNTAX.jpegLosslessSV1,
  TRANSFER_SYNTAX.jpegLsLossless,
  TRANSFER_SYNTAX.jpegLsNearLossless,
  TRANSFER_SYNTAX.jpeg2000Lossless,
  TRANSFER_SYNTAX.jpeg2000,
  TRANSFER_SYNTAX.rle,
]);

/** Decodes one encapsulated frame. Throws Error with the codec's reason on a bad stream. */
export async function decodeEncapsulatedFrame(
  transferSyntaxUid: string,
  frame: Uint8Array,
  info: FrameInfo,
): Promise<DecodedFrame> {
  switch (transferSyntaxUid) {
    case TRANSFER_SYNTAX.rle:
      return decodeRle(frame, info);
    case TRANSFER_SYNTAX.jpegBaseline:
    case TRANSFER_SYNTAX.jpegExtended:
      return await decodeJpegDctFrame(frame);
    case TRANSFER_SYNTAX.jpegLossless:
    case TRANSFER_SYNTAX.jpegLosslessSV1:
      return decodeJpegLossless(frame);
    case TRANSFER_SYNTAX.jpegLsLossless:
    case TRANSFER_SYNTAX.jpegLsNearLossless:
      return await decodeJpegLs(frame);
    case TRANSFER_SYNTAX.jpeg2000Lossless:
    case TRANSFER_SYNTAX.jpeg2000:
      return await decodeJpeg2000(frame);
  }
  throw new Error(`no decoder for transfer syntax ${transferSyntaxUid}`);
}
