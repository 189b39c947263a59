/**
 * Reading a single-frame DICOM image as a grey image for the pipeline.
 *
 * Stored values → Modality LUT (Rescale Slope/Intercept) → VOI window → MONOCHROME1
 * inversion → [0, 1]. The window is DICOM's VOI function (PS3.3 C.11.2.1.2) with
 * the first Window Center/Width; without a window the display range is the one
 * Bits Stored and Pixel Representation allow, after rescale. Colour becomes luma
 * (0.299 R + 0.587 G + 0.114 B).
 *
 * Error messages name the file, tags and UIDs only. No attribute value that could
 * identify a patient is ever read into a message.
 */
import { CheffError } from "../errors.ts";
import { DecodedFrame, decodeEncapsulatedFrame, ENCAPSULATED_SYNTAXES } from "./codecs.ts";
import {
  decimalValues,
  DicomDataSet,
  integerValue,
  integerValues,
  parseDataSet,
  stringValue,
  TAG,
  TRANSFER_SYNTAX,
} from "./parse.ts";

/** A grey image: row-major display values in [0, 1]. */
export interface GrayImage {
  width: number;
  height: number;
  data: Float32Array;
}

/** Container array of the stored samples, with the type Bits Allocated and Pixel Representation give. */
export type RawSamples = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;

/** The pixels of a single-frame DICOM image before any display mapping. */
export interface DicomPixels {
  width: number;
  height: number;
  samplesPerPixel: number;
  photometricInterpretation: string;
  transferSyntaxUid: string;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  /**
   * Samples as decoded, component-interleaved (planar data is interleaved), in the
   * container type: the values pydicom's `pixel_array` holds, bits above High Bit
   * included.
   */
  raw: RawSamples;
  /**
   * Stored values, component-interleaved: `raw` limited to Bits Stored. Native and
   * RLE data are masked and sign-extended from the high bit. Samples from an
   * image codec are clamped to the Bits Stored range, because lossy JPEG 2000
   * overshoots it; unsigned codec samples of signed data are sign-extended.
   */
  stored: Float64Array;
  /** True when the codec already converted YCbCr colour to RGB. */
  colourConverted: boolean;
  dataSet: DicomDataSet;
}

const SYNTAX_NAMES: Record<string, string> = {
  [TRANSFER_SYNTAX.implicitLittle]: "Implicit VR Little Endian",
  [TRANSFER_SYNTAX.explicitLittle]: "Explicit VR Little Endian",
  [TRANSFER_SYNTAX.deflatedExplicitLittle]: "Deflated Explicit VR Little Endian",
  [TRANSFER_SYNTAX.explicitBig]: "Explicit VR Big Endian",
  [TRANSFER_SYNTAX.jpegBaseline]: "JPEG Baseline",
  [TRANSFER_SYNTAX.jpegExtended]: "JPEG Extended",
  [TRANSFER_SYNTAX.jpegLossless]: "JPEG Lossless",
  [TRANSFER_SYNTAX.jpegLosslessSV1]: "JPEG Lossless SV1",
  [TRANSFER_SYNTAX.jpegLsLossless]: "JPEG-LS Lossless",
  [TRANSFER_SYNTAX.jpegLsNearLossless]: "JPEG-LS Near-Lossless",
  [TRANSFER_SYNTAX.jpeg2000Lossless]: "JPEG 2000 Lossless",
  [TRANSFER_SYNTAX.jpeg2000]: "JPEG 2000",
  [TRANSFER_SYNTAX.rle]: "RLE Lossless",
};

const NATIVE_SYNTAXES = new Set<string>([
  TRANSFER_SYNTAX.implicitLittle,
  TRANSFER_SYNTAX.explicitLittle,
  TRANSFER_SYNTAX.deflatedExplicitLittle,
  TRANSFER_SYNTAX.explicitBig,
]);

/** The Bits Stored range of stored values: [min, max]. */
function storedRange(bitsStored: number, signed: boolean): [number, number] {
  return signed ? [-(2 ** (bitsStored - 1)), 2 ** (bitsStored - 1) - 1] : [0, 2 ** bitsStored - 1];
}

function containerFor(bitsAllocated: number, signed: boolean, length: number): RawSamples {
  if (bitsAllocated === 8) return signed ? new Int8Array(length) : new Uint8Array(length);
  if (bitsAllocated === 16) return signed ? new Int16Array(length) : new Uint16Array(length);
  return signed ? new Int32Array(length) : new Uint32Array(length);
}

/** Reads native (uncompressed) pixel data into the container type, swapping big-endian words. */
function readNativeSamples(
  value: Uint8Array,
  dataSet: DicomDataSet,
  count: number,
  bitsAllocated: number,
  signed: boolean,
): RawSamples {
  const bytesPerSample = bitsAllocated / 8;
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const little = dataSet.littleEndian;
  const raw = containerFor(bitsAllocated, signed, count);
  for (let i = 0; i < count; i++) {
    const at = i * bytesPerSample;
    if (bytesPerSample === 1) raw[i] = signed ? view.getInt8(at) : view.getUint8(at);
    else if (bytesPerSample === 2) raw[i] = signed ? view.getInt16(at, little) : view.getUint16(at, little);
    else raw[i] = signed ? view.getInt32(at, little) : view.getUint32(at, little);
  }
  return raw;
}

/** Reorders colour-by-plane samples (Planar Configuration 1) into colour-by-pixel order. */
function interleave<T extends RawSamples>(planar: T, pixels: number, components: number): T {
  const out = planar.slice() as T;
  for (let c = 0; c < components; c++) {
    for (let p = 0; p < pixels; p++) out[p * components + c] = planar[c * pixels + p];
  }
  return out;
}

/** Masks to Bits Stored (below High Bit + 1) and sign-extends signed values. */
function maskToBitsStored(
  raw: RawSamples,
  bitsStored: number,
  highBit: number,
  signed: boolean,
): Float64Array {
  const stored = new Float64Array(raw.length);
  const shift = highBit + 1 - bitsStored;
  const modulus = 2 ** bitsStored;
  const half = modulus / 2;
  for (let i = 0; i < raw.length; i++) {
    let v = Math.floor(raw[i] / 2 ** shift);
    v = ((v % modulus) + modulus) % modulus;
    stored[i] = signed && v >= half ? v - modulus : v;
  }
  return stored;
}

function clampToBitsStored(
  raw: RawSamples,
  bitsStored: number,
  signed: boolean,
  frame: DecodedFrame,
): Float64Array {
  const stored = new Float64Array(raw.length);
  const [lo, hi] = storedRange(bitsStored, signed);
  const codecSigned = frame.samples instanceof Int16Array || frame.samples instanceof Int32Array;
  const modulus = 2 ** bitsStored;
  for (let i = 0; i < raw.length; i++) {
    let v = codecSigned ? frame.samples[i] : raw[i];
    if (signed && !codecSigned) {
      // JPEG and JPEG-LS code unsigned samples; a signed image's two's complement bits come back as unsigned.
      v = frame.samples[i] % modulus;
      if (v > hi) v -= modulus;
    }
    stored[i] = v < lo ? lo : v > hi ? hi : v;
  }
  return stored;
}

function required(dataSet: DicomDataSet, tag: number, name: string, source: string): number {
  const value = integerValue(dataSet, tag);
  if (value === undefined) throw new CheffError(`${source}: image is missing ${name}`);
  return value;
}

/**
 * Decodes the stored pixel values of a single-frame DICOM image.
 * Throws CheffError for multi-frame images, objects without Pixel Data and
 * unsupported transfer syntaxes, naming `source`.
 */
export async function parseDicomPixels(bytes: Uint8Array, source: string): Promise<DicomPixels> {
  const dataSet = parseDataSet(bytes, source);
  const pixelElement = dataSet.elements.get(TAG.pixelData);
  if (!pixelElement) {
    const sopClass = stringValue(dataSet, TAG.sopClassUid);
    throw new CheffError(
      `${source}: no Pixel Data (7FE0,0010)${
        sopClass ? ` in this SOP class ${sopClass}` : ""
      }; expected an image`,
    );
  }
  const frames = decimalValues(dataSet, TAG.numberOfFrames)?.[0] ?? 1;
  if (frames > 1) {
    throw new CheffError(`${source}: multi-frame image (${frames} frames); expected a single-frame image`);
  }

  const syntax = dataSet.transferSyntaxUid;
  const native = NATIVE_SYNTAXES.has(syntax);
  if (!native && !ENCAPSULATED_SYNTAXES.has(syntax)) {
    throw new CheffError(
      `${source}: transfer syntax ${syntax} is not supported; expected uncompressed, deflated, RLE, JPEG, JPEG-LS or JPEG 2000`,
    );
  }

  const rows = required(dataSet, TAG.rows, "Rows (0028,0010)", source);
  const columns = required(dataSet, TAG.columns, "Columns (0028,0011)", source);
  const bitsAllocated = required(dataSet, TAG.bitsAllocated, "Bits Allocated (0028,0100)", source);
  const bitsStored = integerValue(dataSet, TAG.bitsStored) ?? bitsAllocated;
  const highBit = integerValue(dataSet, TAG.highBit) ?? bitsStored - 1;
  const pixelRepresentation = integerValue(dataSet, TAG.pixelRepresentation) ?? 0;
  const samplesPerPixel = integerValue(dataSet, TAG.samplesPerPixel) ?? 1;
  const planar = integerValue(dataSet, TAG.planarConfiguration) ?? 0;
  const photometric = (stringValue(dataSet, TAG.photometricInterpretation) ?? "MONOCHROME2").toUpperCase();
  const signed = pixelRepresentation === 1;

  if (![8, 16, 32].includes(bitsAllocated)) {
    throw new CheffError(`${source}: Bits Allocated (0028,0100) is ${bitsAllocated}; expected 8, 16 or 32`);
  }
  if (bitsStored < 1 || bitsStored > bitsAllocated || highBit >= bitsAllocated || highBit + 1 < bitsStored) {
    throw new CheffError(
      `${source}: Bits Stored ${bitsStored} and High Bit ${highBit} do not fit Bits Allocated ${bitsAllocated}`,
    );
  }
  if (samplesPerPixel !== 1 && samplesPerPixel !== 3) {
    throw new CheffError(`${source}: Samples per Pixel (0028,0002) is ${samplesPerPixel}; expected 1 or 3`);
  }

  const pixels = rows * columns;
  const count = pixels * samplesPerPixel;
  let raw: RawSamples;
  let stored: Float64Array;
  let colourConverted = false;

  if (native) {
    const needed = count * (bitsAllocated / 8);
    if (pixelElement.value.length < needed) {
      throw new CheffError(
        `${source}: Pixel Data holds ${pixelElement.value.length} bytes; expected ${needed} for ${columns}x${rows}x${samplesPerPixel} at ${bitsAllocated} bits`,
      );
    }
    raw = readNativeSamples(pixelElement.value, dataSet, count, bitsAllocated, signed);
    if (samplesPerPixel > 1 && planar === 1) raw = interleave(raw, pixels, samplesPerPixel);
    stored = maskToBitsStored(raw, bitsStored, highBit, signed);
  } else {
    const fragments = dataSet.fragments;
    if (!fragments || fragments.length === 0) {
      throw new CheffError(`${source}: ${SYNTAX_NAMES[syntax]} Pixel Data has no encapsulated fragments`);
    }
    const frameBytes = concatenate(fragments);
    let frame: DecodedFrame;
    try {
      frame = await decodeEncapsulatedFrame(syntax, frameBytes, {
        rows,
        columns,
        samplesPerPixel,
        bitsAllocated,
        pixelRepresentation,
      });
    } catch (error) {
      throw new CheffError(
        `${source}: ${SYNTAX_NAMES[syntax]} pixel data cannot be decoded (${(error as Error).message})`,
      );
    }
    if (frame.width !== columns || frame.height !== rows || frame.components !== samplesPerPixel) {
      throw new CheffError(
        `${source}: the ${
          SYNTAX_NAMES[syntax]
        } stream is ${frame.width}x${frame.height}x${frame.components}; the data set says ${columns}x${rows}x${samplesPerPixel}`,
      );
    }
    raw = containerFor(bitsAllocated, signed, count);
    raw.set(frame.samples.subarray(0, count));
    colourConverted = frame.colourConverted;
    if (syntax === TRANSFER_SYNTAX.rle) {
      stored = maskToBitsStored(raw, bitsStored, highBit, signed);
    } else {
      stored = clampToBitsStored(raw, bitsStored, signed, frame);
    }
  }

  return {
    width: columns,
    height: rows,
    samplesPerPixel,
    photometricInterpretation: photometric,
    transferSyntaxUid: syntax,
    bitsAllocated,
    bitsStored,
    pixelRepresentation,
    raw,
    stored,
    colourConverted,
    dataSet,
  };
}

function concatenate(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Maps modality values to [0, 1] with the first VOI window, or the Bits Stored range after rescale. */
function applyVoi(
  modality: Float64Array,
  pixels: DicomPixels,
  slope: number,
  intercept: number,
): Float32Array {
  const { dataSet } = pixels;
  const out = new Float32Array(modality.length);
  const center = decimalValues(dataSet, TAG.windowCenter)?.[0];
  const width = decimalValues(dataSet, TAG.windowWidth)?.[0];
  const fn = (stringValue(dataSet, TAG.voiLutFunction) ?? "LINEAR").toUpperCase();

  if (
    center !== undefined && width !== undefined && Number.isFinite(center) && Number.isFinite(width) &&
    width >= 1
  ) {
    if (fn === "SIGMOID") {
      for (let i = 0; i < modality.length; i++) {
        out[i] = 1 / (1 + Math.exp((-4 * (modality[i] - center)) / width));
      }
      return out;
    }
    if (fn === "LINEAR_EXACT") {
      for (let i = 0; i < modality.length; i++) {
        const x = modality[i];
        out[i] = x <= center - width / 2 ? 0 : x > center + width / 2 ? 1 : (x - center) / width + 0.5;
      }
      return out;
    }
    const lower = center - 0.5 - (width - 1) / 2;
    const upper = center - 0.5 + (width - 1) / 2;
    for (let i = 0; i < modality.length; i++) {
      const x = modality[i];
      out[i] = x <= lower ? 0 : x > upper ? 1 : width === 1 ? 1 : (x - (center - 0.5)) / (width - 1) + 0.5;
    }
    return out;
  }

  // NOTE: a VOI LUT Sequence (0028,3010) without a window is not applied; the Bits Stored range is used instead.
  const [storedLo, storedHi] = storedRange(pixels.bitsStored, pixels.pixelRepresentation === 1);
  const a = storedLo * slope + intercept;
  const b = storedHi * slope + intercept;
  const lo = Math.min(a, b);
  const span = Math.max(a, b) - lo;
  for (let i = 0; i < modality.length; i++) {
    const y = span > 0 ? (modality[i] - lo) / span : 0;
    out[i] = y < 0 ? 0 : y > 1 ? 1 : y;
  }
  return out;
}

function grayFromMonochrome(pixels: DicomPixels): Float32Array {
  const slope = decimalValues(pixels.dataSet, TAG.rescaleSlope)?.[0] ?? 1;
  const intercept = decimalValues(pixels.dataSet, TAG.rescaleIntercept)?.[0] ?? 0;
  const modality = new Float64Array(pixels.stored.length);
  for (let i = 0; i < modality.length; i++) modality[i] = pixels.stored[i] * slope + intercept;
  const out = applyVoi(modality, pixels, slope, intercept);
  // MONOCHROME1 shows its minimum as white. Presentation LUT Shape INVERSE restates the same inversion (the
  // DX IOD requires it for MONOCHROME1), so the image is inverted once.
  if (pixels.photometricInterpretation === "MONOCHROME1") {
    for (let i = 0; i < out.length; i++) out[i] = 1 - out[i];
  }
  return out;
}

function luma(red: number, green: number, blue: number): number {
  return 0.299 * red + 0.587 * green + 0.114 * blue;
}

function grayFromColour(pixels: DicomPixels, source: string): Float32Array {
  const n = pixels.width * pixels.height;
  const max = 2 ** pixels.bitsStored - 1;
  const out = new Float32Array(n);
  const photometric = pixels.photometricInterpretation;
  const s = pixels.stored;
  if (pixels.colourConverted || photometric === "RGB") {
    for (let p = 0; p < n; p++) out[p] = luma(s[3 * p], s[3 * p + 1], s[3 * p + 2]) / max;
  } else if (photometric.startsWith("YBR_FULL")) {
    // Y of full-range YCbCr is the luma of the RGB it encodes.
    for (let p = 0; p < n; p++) out[p] = s[3 * p] / max;
  } else {
    throw new CheffError(
      `${source}: Photometric Interpretation ${photometric} is not supported for colour images`,
    );
  }
  return clampUnit(out);
}

function grayFromPalette(pixels: DicomPixels, source: string): Float32Array {
  const { dataSet } = pixels;
  if (dataSet.elements.has(TAG.segmentedRedPaletteData)) {
    throw new CheffError(`${source}: segmented palette colour lookup tables are not supported`);
  }
  const tables = [
    [TAG.redPaletteDescriptor, TAG.redPaletteData],
    [TAG.greenPaletteDescriptor, TAG.greenPaletteData],
    [TAG.bluePaletteDescriptor, TAG.bluePaletteData],
  ].map(([descriptorTag, dataTag]) => {
    const descriptor = integerValues(dataSet, descriptorTag);
    const data = dataSet.elements.get(dataTag);
    if (!descriptor || descriptor.length < 3 || !data) {
      throw new CheffError(
        `${source}: PALETTE COLOR image is missing its palette lookup tables (0028,1101-1203)`,
      );
    }
    const entries = descriptor[0] === 0 ? 65536 : descriptor[0];
    const firstMapped = descriptor[1] > 32767 && pixels.pixelRepresentation === 1
      ? descriptor[1] - 65536
      : descriptor[1];
    const bits = descriptor[2];
    const view = new DataView(data.value.buffer, data.value.byteOffset, data.value.byteLength);
    // Entries are 16-bit words; 8-bit tables written one byte per entry are recognised by their length.
    const bytePerEntry = bits === 8 && data.value.length === entries;
    const values = new Float64Array(entries);
    for (let i = 0; i < entries; i++) {
      values[i] = bytePerEntry ? data.value[i] : view.getUint16(2 * i, dataSet.littleEndian);
    }
    return { entries, firstMapped, max: 2 ** bits - 1, values };
  });

  const n = pixels.width * pixels.height;
  const out = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    const rgb = tables.map((table) => {
      const index = Math.min(Math.max(pixels.stored[p] - table.firstMapped, 0), table.entries - 1);
      return Math.min(table.values[index] / table.max, 1);
    });
    out[p] = luma(rgb[0], rgb[1], rgb[2]);
  }
  return clampUnit(out);
}

function clampUnit(data: Float32Array): Float32Array {
  for (let i = 0; i < data.length; i++) data[i] = data[i] < 0 ? 0 : data[i] > 1 ? 1 : data[i];
  return data;
}

/**
 * Loads a single-frame DICOM image as display values in [0, 1], row-major.
 * `source` names the file in error messages.
 *
 * @example
 * const image = await loadDicom(await Deno.readFile("chest.dcm"), "chest.dcm");
 * console.log(image.width, image.height, image.data[0]);
 */
export async function loadDicom(bytes: Uint8Array, source: string): Promise<GrayImage> {
  const pixels = await parseDicomPixels(bytes, source);
  let data: Float32Array;
  if (pixels.samplesPerPixel === 3) {
    data = grayFromColour(pixels, source);
  } else if (pixels.photometricInterpretation === "PALETTE COLOR") {
    data = grayFromPalette(pixels, source);
  } else if (
    pixels.photometricInterpretation === "MONOCHROME1" || pixels.photometricInterpretation === "MONOCHROME2"
  ) {
    data = grayFromMonochrome(pixels);
  } else {
    throw new CheffError(
      `${source}: Photometric Interpretation ${pixels.photometricInterpretation} is not supported for one-sample images; expected MONOCHROME1, MONOCHROME2 or PALETTE COLOR`,
    );
  }
  return { width: pixels.width, height: pixels.height, data };
}
