/**
 * DICOM Part 10 data set parsing: the preamble and file meta group, the three
 * uncompressed encodings (implicit VR little endian, explicit VR little and big
 * endian), deflated data sets, and encapsulated (compressed) pixel data.
 *
 * Only the top-level elements are kept; sequences are walked over so that the
 * elements after them are found. Files without a preamble or without a file
 * meta group are accepted: the encoding is then inferred from the first tag.
 */
import { inflateSync, unzlibSync } from "fflate";
import { CheffError } from "../errors.ts";

export const TRANSFER_SYNTAX = {
  implicitLittle: "1.2.840.10008.1.2",
  explicitLittle: "1.2.840.10008.1.2.1",
  deflatedExplicitLittle: "1.2.840.10008.1.2.1.99",
  explicitBig: "1.2.840.10008.1.2.2",
  jpegBaseline: "1.2.840.10008.1.2.4.50",
  jpegExtended: "1.2.840.10008.1.2.4.51",
  jpegLossless: "1.2.840.10008.1.2.4.57",
  jpegLosslessSV1: "1.2.840.10008.1.2.4.70",
  jpegLsLossless: "1.2.840.10008.1.2.4.80",
  jpegLsNearLossless: "1.2.840.10008.1.2.4.81",
  jpeg2000Lossless: "1.2.840.10008.1.2.4.90",
  jpeg2000: "1.2.840.10008.1.2.4.91",
  rle: "1.2.840.10008.1.2.5",
} as const;

/** Tags as (group << 16 | element). */
export const TAG = {
  transferSyntaxUid: 0x00020010,
  sopClassUid: 0x00080016,
  photometricInterpretation: 0x00280004,
  samplesPerPixel: 0x00280002,
  planarConfiguration: 0x00280006,
  numberOfFrames: 0x00280008,
  rows: 0x00280010,
  columns: 0x00280011,
  bitsAllocated: 0x00280100,
  bitsStored: 0x00280101,
  highBit: 0x00280102,
  pixelRepresentation: 0x00280103,
  windowCenter: 0x00281050,
  windowWidth: 0x00281051,
  rescaleIntercept: 0x00281052,
  rescaleSlope: 0x00281053,
  voiLutFunction: 0x00281056,
  redPaletteDescriptor: 0x00281101,
  greenPaletteDescriptor: 0x00281102,
  bluePaletteDescriptor: 0x00281103,
  redPaletteData: 0x00281201,
  greenPaletteData: 0x00281202,
  bluePaletteData: 0x00281203,
  segmentedRedPaletteData: 0x00281221,
  pixelData: 0x7fe00010,
} as const;

const UNDEFINED_LENGTH = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_DELIMITER = 0xfffee00d;
const SEQUENCE_DELIMITER = 0xfffee0dd;

/** Explicit VRs whose length field is 4 bytes after 2 reserved bytes. */
const LONG_VRS = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"]);

/** VRs of the tags this reader interprets, for implicit VR data sets, which carry no VR. */
const IMPLICIT_VRS = new Map<number, string>([
  [TAG.sopClassUid, "UI"],
  [TAG.photometricInterpretation, "CS"],
  [TAG.samplesPerPixel, "US"],
  [TAG.planarConfiguration, "US"],
  [TAG.numberOfFrames, "IS"],
  [TAG.rows, "US"],
  [TAG.columns, "US"],
  [TAG.bitsAllocated, "US"],
  [TAG.bitsStored, "US"],
  [TAG.highBit, "US"],
  [TAG.pixelRepresentation, "US"],
  [TAG.windowCenter, "DS"],
  [TAG.windowWidth, "DS"],
  [TAG.rescaleIntercept, "DS"],
  [TAG.rescaleSlope, "DS"],
  [TAG.voiLutFunction, "CS"],
  [TAG.redPaletteData, "OW"],
  [TAG.greenPaletteData, "OW"],
  [TAG.bluePaletteData, "OW"],
  [TAG.pixelData, "OW"],
]);

/** One top-level element: its VR (from the file, or from the table above for implicit VR) and value bytes. */
export interface DicomElement {
  tag: number;
  vr: string;
  value: Uint8Array;
}

/** A parsed data set: its top-level elements and how its values are encoded. */
export interface DicomDataSet {
  transferSyntaxUid: string;
  /** True when the transfer syntax was inferred because the file has no file meta group. */
  inferredTransferSyntax: boolean;
  littleEndian: boolean;
  elements: Map<number, DicomElement>;
  /** Fragments of encapsulated pixel data, without the Basic Offset Table; undefined for native pixel data. */
  fragments?: Uint8Array[];
}

function tagText(tag: number): string {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");
  return `(${hex(tag >>> 16)},${hex(tag & 0xffff)})`;
}

class Reader {
  view: DataView;
  constructor(
    public bytes: Uint8Array,
    public offset: number,
    public littleEndian: boolean,
    public explicit: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  uint16(): number {
    const value = this.view.getUint16(this.offset, this.littleEndian);
    this.offset += 2;
    return value;
  }

  uint32(): number {
    const value = this.view.getUint32(this.offset, this.littleEndian);
    this.offset += 4;
    return value;
  }

  tag(): number {
    const group = this.uint16();
    const element = this.uint16();
    return ((group << 16) | element) >>> 0;
  }
}

function isVr(a: number, b: number): boolean {
  return a >= 0x41 && a <= 0x5a && b >= 0x41 && b <= 0x5a;
}

/** Reads an element header; returns its tag, VR and value length (UNDEFINED_LENGTH for undefined). */
function readHeader(reader: Reader): { tag: number; vr: string; length: number } {
  const tag = reader.tag();
  if (tag === ITEM || tag === ITEM_DELIMITER || tag === SEQUENCE_DELIMITER) {
    return { tag, vr: "", length: reader.uint32() };
  }
  if (!reader.explicit) {
    return { tag, vr: IMPLICIT_VRS.get(tag) ?? "UN", length: reader.uint32() };
  }
  const a = reader.bytes[reader.offset];
  const b = reader.bytes[reader.offset + 1];
  const vr = String.fromCharCode(a, b);
  reader.offset += 2;
  if (LONG_VRS.has(vr)) {
    reader.offset += 2;
    return { tag, vr, length: reader.uint32() };
  }
  return { tag, vr, length: reader.uint16() };
}

/** Skips the items of a sequence of undefined length, up to and including its delimiter. */
function skipUndefinedSequence(reader: Reader): void {
  while (reader.remaining >= 8) {
    const { tag, length } = readHeader(reader);
    if (tag === SEQUENCE_DELIMITER) return;
    if (tag !== ITEM) throw new Error(`expected an item in a sequence, found ${tagText(tag)}`);
    if (length !== UNDEFINED_LENGTH) {
      reader.offset += length;
      continue;
    }
    skipUndefinedItem(reader);
  }
  throw new Error("sequence without its delimiter");
}

function skipUndefinedItem(reader: Reader): void {
  while (reader.remaining >= 8) {
    const { tag, length } = readHeader(reader);
    if (tag === ITEM_DELIMITER) return;
    if (length === UNDEFINED_LENGTH) skipUndefinedSequence(reader);
    else reader.offset += length;
  }
  throw new Error("item without its delimiter");
}

/** Reads the fragments of encapsulated pixel data, dropping the Basic Offset Table (the first item). */
function readFragments(reader: Reader): Uint8Array[] {
  const items: Uint8Array[] = [];
  while (reader.remaining >= 8) {
    const { tag, length } = readHeader(reader);
    if (tag === SEQUENCE_DELIMITER) return items.slice(1);
    if (tag !== ITEM || length === UNDEFINED_LENGTH) {
      throw new Error(`expected a pixel data item, found ${tagText(tag)}`);
    }
    if (length > reader.remaining) throw new Error("pixel data item runs past the end of the file");
    items.push(reader.bytes.subarray(reader.offset, reader.offset + length));
    reader.offset += length;
  }
  // Some writers omit the final delimiter; keep what was read.
  return items.slice(1);
}

interface ParsedElements {
  elements: Map<number, DicomElement>;
  fragments?: Uint8Array[];
}

/** Reads top-level elements until the end of the bytes, or until a tag outside group `onlyGroup` if given. */
function readElements(reader: Reader, onlyGroup?: number): ParsedElements {
  const elements = new Map<number, DicomElement>();
  let fragments: Uint8Array[] | undefined;
  while (reader.remaining >= 8) {
    if (onlyGroup !== undefined && reader.view.getUint16(reader.offset, true) !== onlyGroup) break;
    const start = reader.offset;
    const { tag, vr, length } = readHeader(reader);
    if (length === UNDEFINED_LENGTH) {
      if (tag === TAG.pixelData) {
        fragments = readFragments(reader);
        elements.set(tag, { tag, vr, value: new Uint8Array(0) });
      } else {
        skipUndefinedSequence(reader);
      }
      continue;
    }
    if (length > reader.remaining) {
      // Trailing padding and truncated private tails after the pixel data are tolerated.
      if (elements.has(TAG.pixelData)) break;
      throw new Error(
        `element ${tagText(tag)} at byte ${start} has length ${length}, past the end of the file`,
      );
    }
    elements.set(tag, { tag, vr, value: reader.bytes.subarray(reader.offset, reader.offset + length) });
    reader.offset += length;
  }
  return { elements, fragments };
}

function asciiValue(element: DicomElement | undefined): string | undefined {
  if (!element) return undefined;
  return new TextDecoder("latin1").decode(element.value).replace(/[\0 ]+$/, "").trim();
}

/** Infers the encoding of a data set with no file meta group from its first element. */
function inferEncoding(
  bytes: Uint8Array,
  offset: number,
): { uid: string; littleEndian: boolean; explicit: boolean } {
  const groupLittle = bytes[offset] | (bytes[offset + 1] << 8);
  const explicitVr = isVr(bytes[offset + 4], bytes[offset + 5]);
  if (groupLittle > 0x00ff && bytes[offset] === 0x00) {
    return { uid: TRANSFER_SYNTAX.explicitBig, littleEndian: false, explicit: true };
  }
  if (explicitVr) return { uid: TRANSFER_SYNTAX.explicitLittle, littleEndian: true, explicit: true };
  return { uid: TRANSFER_SYNTAX.implicitLittle, littleEndian: true, explicit: false };
}

/**
 * Parses a DICOM file (Part 10, or a bare data set) into its top-level elements.
 * Throws CheffError naming `source` when the bytes are not DICOM.
 */
export function parseDataSet(bytes: Uint8Array, source: string): DicomDataSet {
  try {
    return parseOrThrow(bytes);
  } catch (error) {
    if (error instanceof CheffError) throw error;
    const reason = error instanceof RangeError ? "the file ends inside an element" : (error as Error).message;
    throw new CheffError(`${source}: not a readable DICOM file (${reason})`);
  }
}

function parseOrThrow(bytes: Uint8Array): DicomDataSet {
  if (bytes.length < 8) throw new Error("fewer than 8 bytes");
  const magicAt = (offset: number) =>
    bytes.length >= offset + 4 && bytes[offset] === 0x44 && bytes[offset + 1] === 0x49 &&
    bytes[offset + 2] === 0x43 && bytes[offset + 3] === 0x4d;

  let offset = 0;
  if (magicAt(128)) offset = 132;
  else if (magicAt(0)) offset = 4;

  let transferSyntaxUid: string | undefined;
  const meta = new Reader(bytes, offset, true, true);
  if (meta.view.getUint16(offset, true) === 0x0002) {
    const { elements } = readElements(meta, 0x0002);
    transferSyntaxUid = asciiValue(elements.get(TAG.transferSyntaxUid));
    offset = meta.offset;
  } else if (offset !== 0) {
    throw new Error("the DICM prefix is not followed by a file meta group");
  }

  let inferred = false;
  let littleEndian = true;
  let explicit = true;
  if (transferSyntaxUid === undefined) {
    const encoding = inferEncoding(bytes, offset);
    transferSyntaxUid = encoding.uid;
    littleEndian = encoding.littleEndian;
    explicit = encoding.explicit;
    inferred = true;
  } else if (transferSyntaxUid === TRANSFER_SYNTAX.implicitLittle) {
    explicit = false;
  } else if (transferSyntaxUid === TRANSFER_SYNTAX.explicitBig) {
    littleEndian = false;
  }

  let body = bytes;
  if (transferSyntaxUid === TRANSFER_SYNTAX.deflatedExplicitLittle) {
    const compressed = bytes.subarray(offset);
    try {
      body = inflateSync(compressed);
    } catch {
      // A few writers wrap the stream in a zlib header, which the standard does not allow.
      body = unzlibSync(compressed);
    }
    offset = 0;
  }

  const { elements, fragments } = readElements(new Reader(body, offset, littleEndian, explicit));
  return { transferSyntaxUid, inferredTransferSyntax: inferred, littleEndian, elements, fragments };
}

/** Returns the string value of an element (trailing spaces and NULs removed), or undefined. */
export function stringValue(dataSet: DicomDataSet, tag: number): string | undefined {
  return asciiValue(dataSet.elements.get(tag));
}

/** Returns the numbers of a DS or IS element (a backslash-separated list), or undefined when absent or empty. */
export function decimalValues(dataSet: DicomDataSet, tag: number): number[] | undefined {
  const text = stringValue(dataSet, tag);
  if (text === undefined || text === "") return undefined;
  return text.split("\\").map((part) => Number(part.trim()));
}

/** Returns the first value of a US or SS element (by its VR, defaulting to US), or undefined. */
export function integerValue(dataSet: DicomDataSet, tag: number): number | undefined {
  return integerValues(dataSet, tag)?.[0];
}

/** Returns all values of a US or SS element, or undefined. */
export function integerValues(dataSet: DicomDataSet, tag: number): number[] | undefined {
  const element = dataSet.elements.get(tag);
  if (!element || element.value.length < 2) return undefined;
  const view = new DataView(element.value.buffer, element.value.byteOffset, element.value.byteLength);
  const values: number[] = [];
  for (let i = 0; i + 2 <= element.value.length; i += 2) {
    values.push(
      element.vr === "SS" ? view.getInt16(i, dataSet.littleEndian) : view.getUint16(i, dataSet.littleEndian),
    );
  }
  return values;
}
