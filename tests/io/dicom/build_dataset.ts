/**
 * Builds small DICOM files element by element for reader tests: explicit VR
 * little endian (with preamble and file meta) or implicit VR little endian
 * without either. Values are given as text (padded with a space, or NUL for UI),
 * numbers (US) or raw bytes (OB/OW).
 */

export type Value = string | number | number[] | Uint8Array;

export interface TestElement {
  tag: number;
  vr: string;
  value: Value;
}

const LONG_VRS = new Set(["OB", "OW", "UN", "UT", "SQ"]);

function valueBytes(element: TestElement): Uint8Array {
  const { vr, value } = element;
  let bytes: Uint8Array;
  if (value instanceof Uint8Array) bytes = value;
  else if (typeof value === "string") bytes = new TextEncoder().encode(value);
  else {
    const numbers = typeof value === "number" ? [value] : value;
    bytes = new Uint8Array(numbers.length * 2);
    const view = new DataView(bytes.buffer);
    numbers.forEach((n, i) => vr === "SS" ? view.setInt16(2 * i, n, true) : view.setUint16(2 * i, n, true));
  }
  if (bytes.length % 2 === 0) return bytes;
  const padded = new Uint8Array(bytes.length + 1);
  padded.set(bytes);
  padded[bytes.length] = vr === "UI" || vr === "OB" ? 0 : 0x20;
  return padded;
}

function encode(elements: TestElement[], explicit: boolean): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const element of [...elements].sort((a, b) => a.tag - b.tag)) {
    const value = valueBytes(element);
    const long = !explicit || LONG_VRS.has(element.vr);
    const header = new Uint8Array(explicit ? (long ? 12 : 8) : 8);
    const view = new DataView(header.buffer);
    view.setUint16(0, element.tag >>> 16, true);
    view.setUint16(2, element.tag & 0xffff, true);
    if (explicit) {
      header[4] = element.vr.charCodeAt(0);
      header[5] = element.vr.charCodeAt(1);
      if (long) view.setUint32(8, value.length, true);
      else view.setUint16(6, value.length, true);
    } else {
      view.setUint32(4, value.length, true);
    }
    parts.push(header, value);
  }
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A Part 10 file: preamble, "DICM", file meta with `transferSyntax`, then the data set in explicit VR LE. */
export function buildPart10(elements: TestElement[], transferSyntax = "1.2.840.10008.1.2.1"): Uint8Array {
  const metaBody = encode([
    { tag: 0x00020001, vr: "OB", value: new Uint8Array([0, 1]) },
    { tag: 0x00020010, vr: "UI", value: transferSyntax },
  ], true);
  const groupLength = encode([{ tag: 0x00020000, vr: "UL", value: new Uint8Array(4) }], true);
  new DataView(groupLength.buffer).setUint32(8, metaBody.length, true);
  const body = encode(elements, true);
  const out = new Uint8Array(132 + groupLength.length + metaBody.length + body.length);
  out.set(new TextEncoder().encode("DICM"), 128);
  out.set(groupLength, 132);
  out.set(metaBody, 132 + groupLength.length);
  out.set(body, 132 + groupLength.length + metaBody.length);
  return out;
}

/** A bare implicit VR LE data set, with no preamble and no file meta. */
export function buildBareImplicit(elements: TestElement[]): Uint8Array {
  return encode(elements, false);
}

/** Image attributes for a one-sample image of `width` x `height` at `bits` allocated. */
export function imageElements(
  width: number,
  height: number,
  pixels: number[],
  options: { bits?: number; stored?: number; signed?: boolean; photometric?: string } = {},
): TestElement[] {
  const bits = options.bits ?? 16;
  const stored = options.stored ?? bits;
  const data = new Uint8Array(pixels.length * (bits / 8));
  const view = new DataView(data.buffer);
  pixels.forEach((p, i) => bits === 8 ? view.setUint8(i, p & 0xff) : view.setUint16(2 * i, p & 0xffff, true));
  return [
    { tag: 0x00280002, vr: "US", value: 1 },
    { tag: 0x00280004, vr: "CS", value: options.photometric ?? "MONOCHROME2" },
    { tag: 0x00280010, vr: "US", value: height },
    { tag: 0x00280011, vr: "US", value: width },
    { tag: 0x00280100, vr: "US", value: bits },
    { tag: 0x00280101, vr: "US", value: stored },
    { tag: 0x00280102, vr: "US", value: stored - 1 },
    { tag: 0x00280103, vr: "US", value: options.signed ? 1 : 0 },
    { tag: 0x7fe00010, vr: bits === 8 ? "OB" : "OW", value: data },
  ];
}
