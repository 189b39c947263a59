/**
 * Writing synthetic images as DICOM Secondary Capture Image Storage objects
 * (Part 10 file, explicit VR little endian, MONOCHROME2, unsigned 8 or 16 bit).
 *
 * Every file gets new Study, Series and SOP Instance UIDs and placeholder patient
 * attributes that say the image is synthetic. Nothing is copied from any input
 * file, so no patient identifier can reach the output.
 */
import { CheffError } from "../errors.ts";
import { CHEFF_VERSION } from "../stream.ts";
import { TRANSFER_SYNTAX } from "./parse.ts";
import { generateUid, IMPLEMENTATION_CLASS_UID } from "./uid.ts";

export const SECONDARY_CAPTURE_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.7";
export const SYNTHETIC_PATIENT_NAME = "SYNTHETIC^CHEFF";
export const SYNTHETIC_PATIENT_ID = "SYNTHETIC";
export const CONTENT_LABEL = "SYNTHETIC";
/** Content Label of a reconstruction of an input radiograph. */
export const RECONSTRUCTION_CONTENT_LABEL = "RECONSTRUCTION";

/** What the written file says about how the image was made. */
export interface SecondaryCaptureOptions {
  bits: 8 | 16;
  /** Model identifier, normally the hash of the weights that made the image. */
  model: string;
  seed?: number;
  steps?: number;
  /** Series Description; at most 64 characters are kept. */
  description?: string;
  /**
   * False for a reconstruction of an input radiograph (an autoencoder or
   * super-resolution round trip) rather than a generated image; default true.
   */
  synthetic?: boolean;
}

/** VRs whose explicit-VR header has 2 reserved bytes and a 4-byte length. */
const LONG_VRS = new Set(["OB", "OW", "UN", "UT", "UC", "UR", "SQ"]);

interface Element {
  tag: number;
  vr: string;
  value: Uint8Array;
}

function text(tag: number, vr: string, value: string): Element {
  const bytes = new TextEncoder().encode(value);
  if (bytes.length % 2 === 0) return { tag, vr, value: bytes };
  const padded = new Uint8Array(bytes.length + 1);
  padded.set(bytes);
  padded[bytes.length] = vr === "UI" ? 0x00 : 0x20; // UIDs pad with NUL, text with a space
  return { tag, vr, value: padded };
}

function us(tag: number, value: number): Element {
  const bytes = new Uint8Array(2);
  new DataView(bytes.buffer).setUint16(0, value, true);
  return { tag, vr: "US", value: bytes };
}

function ul(tag: number, value: number): Element {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return { tag, vr: "UL", value: bytes };
}

function binary(tag: number, vr: string, value: Uint8Array): Element {
  if (value.length % 2 === 0) return { tag, vr, value };
  const padded = new Uint8Array(value.length + 1);
  padded.set(value);
  return { tag, vr, value: padded };
}

function encodedLength(element: Element): number {
  return (LONG_VRS.has(element.vr) ? 12 : 8) + element.value.length;
}

function writeElements(elements: Element[], out: Uint8Array, offset: number): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (const element of [...elements].sort((a, b) => a.tag - b.tag)) {
    view.setUint16(offset, element.tag >>> 16, true);
    view.setUint16(offset + 2, element.tag & 0xffff, true);
    out[offset + 4] = element.vr.charCodeAt(0);
    out[offset + 5] = element.vr.charCodeAt(1);
    if (LONG_VRS.has(element.vr)) {
      view.setUint16(offset + 6, 0, true);
      view.setUint32(offset + 8, element.value.length, true);
      offset += 12;
    } else {
      if (element.value.length > 0xffff) throw new Error(`value of ${element.vr} element too long`);
      view.setUint16(offset + 6, element.value.length, true);
      offset += 8;
    }
    out.set(element.value, offset);
    offset += element.value.length;
  }
  return offset;
}

function dicomDateTime(now: Date): { date: string; time: string } {
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return {
    date: `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}`,
    time: `${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`,
  };
}

/** Converts [-1, 1] values to unsigned integers: clamp, then round(max · (x + 1) / 2). */
function quantise(data: Float32Array, bits: 8 | 16): Uint8Array {
  const max = bits === 8 ? 255 : 65535;
  const out = new Uint8Array(data.length * (bits / 8));
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (Number.isNaN(x)) {
      throw new CheffError(`image to write contains NaN at pixel ${i}; expected values in [-1, 1]`);
    }
    const clamped = x < -1 ? -1 : x > 1 ? 1 : x;
    const value = Math.round((max * (clamped + 1)) / 2);
    if (bits === 8) out[i] = value;
    else view.setUint16(2 * i, value, true);
  }
  return out;
}

/** Builds the Image Comments text: synthetic, from cheff, with the model, seed and steps. */
export function syntheticComment(options: SecondaryCaptureOptions): string {
  const parts = [
    options.synthetic === false
      ? `RECONSTRUCTION by cheff ${CHEFF_VERSION} of an input radiograph (processed by a generative model); for research, not for diagnosis`
      : `SYNTHETIC IMAGE generated by cheff ${CHEFF_VERSION}; not an image of a patient`,
    `model ${options.model}`,
  ];
  if (options.seed !== undefined) parts.push(`seed ${options.seed}`);
  if (options.steps !== undefined) parts.push(`steps ${options.steps}`);
  return parts.join("; ");
}

/**
 * Encodes a [-1, 1] grey image as a DICOM Secondary Capture Part 10 file.
 *
 * @example
 * const bytes = encodeSecondaryCapture({ width: 256, height: 256, data }, { bits: 16, model: "3f2a…", seed: 7 });
 * await Deno.writeFile("synthetic.dcm", bytes);
 */
export function encodeSecondaryCapture(
  image: { width: number; height: number; data: Float32Array },
  options: SecondaryCaptureOptions,
): Uint8Array {
  const { width, height, data } = image;
  if (
    !Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 65535 ||
    height > 65535
  ) {
    throw new CheffError(
      `DICOM image size ${width}x${height} is invalid; expected 1 to 65535 pixels per side`,
    );
  }
  if (data.length !== width * height) {
    throw new CheffError(
      `DICOM image data has ${data.length} values; expected ${width}x${height} = ${width * height}`,
    );
  }
  if (options.bits !== 8 && options.bits !== 16) {
    throw new CheffError(`DICOM bit depth ${options.bits} is invalid; expected 8 or 16`);
  }

  const sopInstanceUid = generateUid();
  const { date, time } = dicomDateTime(new Date());
  const bits = options.bits;

  const meta: Element[] = [
    binary(0x00020001, "OB", new Uint8Array([0x00, 0x01])),
    text(0x00020002, "UI", SECONDARY_CAPTURE_SOP_CLASS),
    text(0x00020003, "UI", sopInstanceUid),
    text(0x00020010, "UI", TRANSFER_SYNTAX.explicitLittle),
    text(0x00020012, "UI", IMPLEMENTATION_CLASS_UID),
    text(0x00020013, "SH", `CHEFF_${CHEFF_VERSION}`.slice(0, 16)),
  ];
  const metaLength = meta.reduce((sum, element) => sum + encodedLength(element), 0);
  meta.push(ul(0x00020000, metaLength));

  const dataSet: Element[] = [
    text(0x00080008, "CS", "DERIVED\\SECONDARY"),
    text(0x00080012, "DA", date),
    text(0x00080013, "TM", time),
    text(0x00080016, "UI", SECONDARY_CAPTURE_SOP_CLASS),
    text(0x00080018, "UI", sopInstanceUid),
    text(0x00080020, "DA", ""),
    text(0x00080023, "DA", date),
    text(0x00080030, "TM", ""),
    text(0x00080033, "TM", time),
    text(0x00080050, "SH", ""),
    text(0x00080060, "CS", "OT"),
    text(0x00080064, "CS", "WSD"),
    text(0x00080070, "LO", "cheff"),
    text(0x00080090, "PN", ""),
    text(0x0008103e, "LO", (options.description ?? "cheff synthetic image").slice(0, 64)),
    text(0x00100010, "PN", SYNTHETIC_PATIENT_NAME),
    text(0x00100020, "LO", SYNTHETIC_PATIENT_ID),
    text(0x00100030, "DA", ""),
    text(0x00100040, "CS", ""),
    text(0x00181016, "LO", "cheff"),
    text(0x00181018, "LO", `model ${options.model}`.slice(0, 64)),
    text(0x00181019, "LO", `cheff ${CHEFF_VERSION}`),
    text(0x0020000d, "UI", generateUid()),
    text(0x0020000e, "UI", generateUid()),
    text(0x00200010, "SH", ""),
    text(0x00200011, "IS", "1"),
    text(0x00200013, "IS", "1"),
    text(0x00200020, "CS", ""),
    text(0x00204000, "LT", syntheticComment(options)),
    us(0x00280002, 1),
    text(0x00280004, "CS", "MONOCHROME2"),
    us(0x00280010, height),
    us(0x00280011, width),
    us(0x00280100, bits),
    us(0x00280101, bits),
    us(0x00280102, bits - 1),
    us(0x00280103, 0),
    text(0x00280301, "CS", "NO"),
    text(0x00700080, "CS", options.synthetic === false ? RECONSTRUCTION_CONTENT_LABEL : CONTENT_LABEL),
    binary(0x7fe00010, bits === 8 ? "OB" : "OW", quantise(data, bits)),
  ];

  const total = 132 + metaLength + encodedLength(meta[meta.length - 1]) +
    dataSet.reduce((sum, element) => sum + encodedLength(element), 0);
  const out = new Uint8Array(total);
  out.set([0x44, 0x49, 0x43, 0x4d], 128); // "DICM" after the 128-byte zero preamble
  let offset = writeElements(meta, out, 132);
  offset = writeElements(dataSet, out, offset);
  if (offset !== total) throw new Error(`DICOM writer sized ${total} bytes but wrote ${offset}`);
  return out;
}
