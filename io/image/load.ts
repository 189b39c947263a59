/**
 * Loading input images for the cascade: PNG, JPEG or DICOM, recognised by their
 * first bytes, decoded to one grayscale float image in [0, 1], then resized and
 * cropped to a stage's square input and mapped to [-1, 1].
 */
import { CheffError } from "../errors.ts";
import { readInput } from "../files.ts";
import { decodeJpeg, isJpeg } from "./jpeg.ts";
import { decodePng, isPng } from "./png.ts";
import { resizeShortSideAndCenterCrop } from "./resize.ts";

/** A grayscale image: row-major values, 0 = black and 1 = white. */
export interface GrayImage {
  width: number;
  height: number;
  data: Float32Array;
}

/** A batch of model inputs, NCHW, values in [-1, 1]. */
export interface ImageBatch {
  shape: [number, number, number, number];
  data: Float32Array;
}

export type ImageFormat = "png" | "jpeg" | "dicom";

/**
 * Returns the image format of a file from its first bytes, or undefined.
 *
 * DICOM is recognised by `DICM` at byte 128, after the preamble. A bare data set
 * without preamble and file meta information is recognised by a first element of
 * group 0002 or 0008 in little-endian order. That tag must be followed by an
 * explicit VR (two upper-case letters) or by an implicit VR's 4-byte length that
 * fits in the file.
 */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (isPng(bytes)) return "png";
  if (isJpeg(bytes)) return "jpeg";
  if (bytes.length >= 132 && String.fromCharCode(...bytes.subarray(128, 132)) === "DICM") return "dicom";
  if (looksLikeBareDicom(bytes)) return "dicom";
  return undefined;
}

function looksLikeBareDicom(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  const group = bytes[0] | (bytes[1] << 8);
  if (group !== 0x0002 && group !== 0x0008) return false;
  const isUpper = (b: number) => b >= 0x41 && b <= 0x5a;
  if (isUpper(bytes[4]) && isUpper(bytes[5])) return true;
  const implicitLength = (bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (bytes[7] << 24)) >>> 0;
  return implicitLength <= bytes.length - 8;
}

/** Decodes image file bytes (PNG, JPEG or DICOM) to a gray image in [0, 1]. `source` names the file in errors. */
export async function decodeImage(bytes: Uint8Array, source: string): Promise<GrayImage> {
  if (bytes.length === 0) {
    throw new CheffError(`${source}: file is empty; expected a PNG, JPEG or DICOM file`);
  }
  switch (sniffImageFormat(bytes)) {
    case "png":
      return decodePng(bytes, source);
    case "jpeg":
      return decodeJpeg(bytes, source);
    case "dicom": {
      const { loadDicom } = await import("../dicom/read.ts");
      return await loadDicom(bytes, source);
    }
    default:
      throw new CheffError(`${source}: not an image; expected a PNG, JPEG or DICOM file`);
  }
}

/** Reads and decodes an image file (PNG, JPEG or DICOM; "-" reads standard input) to a gray image in [0, 1]. */
export async function loadImage(path: string): Promise<GrayImage> {
  const bytes = await readInput(path);
  return await decodeImage(bytes, path === "-" ? "standard input" : path);
}

/**
 * Turns a gray image into a model input of shape [channels, size, size]. The
 * shorter side is resized to `size` (antialiased bilinear) and the centre cropped.
 * Values are mapped from [0, 1] to [-1, 1], and the gray plane is repeated
 * `channels` times (3 for the autoencoder, 1 for super-resolution).
 */
export function imageToModelInput(image: GrayImage, size: number, channels: 1 | 3): Float32Array {
  if (channels !== 1 && channels !== 3) {
    throw new CheffError(`model input channels ${channels} is invalid; expected 1 or 3`);
  }
  const square = resizeShortSideAndCenterCrop(image, size);
  const plane = size * size;
  const out = new Float32Array(channels * plane);
  for (let i = 0; i < plane; i++) out[i] = 2 * square.data[i] - 1;
  for (let c = 1; c < channels; c++) out.copyWithin(c * plane, 0, plane);
  return out;
}

/** Loads image files into one [N, channels, size, size] batch in [-1, 1], in the order given. */
export async function loadImagesAsBatch(paths: string[], size: number, channels: 1 | 3): Promise<ImageBatch> {
  if (paths.length === 0) {
    throw new CheffError("no input images given; expected one or more PNG, JPEG or DICOM files");
  }
  const itemLength = channels * size * size;
  const data = new Float32Array(paths.length * itemLength);
  for (let n = 0; n < paths.length; n++) {
    const image = await loadImage(paths[n]);
    data.set(imageToModelInput(image, size, channels), n * itemLength);
  }
  return { shape: [paths.length, channels, size, size], data };
}
