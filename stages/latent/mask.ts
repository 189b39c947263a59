/**
 * Inpainting masks: read from an image (PNG, JPEG, DICOM) or a safetensors file
 * holding `mask` [N, 1, h, w], and brought to the latent's size.
 *
 * Convention: 1 = synthesise, 0 = keep. In a mask image a gray value of at least
 * half the range (128 of 255) is white = synthesise. A mask tensor must contain
 * only 0 and 1. A mask at the image's size (the latent's times the autoencoder's
 * downsampling factor f) is max-pooled over f×f blocks, so every latent cell that
 * touches a white pixel is synthesised. A mask at the latent's size is used as it is.
 *
 * @example
 * ```ts
 * const file = await readMaskFile("lung.png");
 * const mask = toLatentMask(file, { height: 64, width: 64, factor: 4 }); // [1, 1, 64, 64]
 * ```
 */
import { CheffError } from "../../io/errors.ts";
import { readInput } from "../../io/files.ts";
import { decodeImage, sniffImageFormat } from "../../io/image/load.ts";
import { parseSafetensors } from "../../io/safetensors.ts";

/** A mask [N, 1, h, w], 1 = synthesise, 0 = keep; `source` names its file in messages. */
export interface Mask {
  shape: [number, number, number, number];
  data: Float32Array;
  source: string;
}

/** The latent's spatial size and the autoencoder's downsampling factor. */
export interface MaskTarget {
  height: number;
  width: number;
  factor: number;
}

/** Reads a mask image or a safetensors mask at whatever size it has, with its values checked. */
export async function readMaskFile(path: string): Promise<Mask> {
  const source = path === "-" ? "standard input" : path;
  const bytes = await readInput(path);
  if (sniffImageFormat(bytes) !== undefined) {
    const image = await decodeImage(bytes, source);
    const data = new Float32Array(image.data.length);
    for (let i = 0; i < data.length; i++) data[i] = image.data[i] >= 0.5 ? 1 : 0;
    return { shape: [1, 1, image.height, image.width], data, source };
  }
  let file;
  try {
    file = parseSafetensors(bytes, source);
  } catch {
    throw new CheffError(`${source}: not a mask; expected a PNG, JPEG or DICOM image, or a safetensors file with a 'mask' tensor`);
  }
  const tensor = file.tensors.get("mask");
  if (!tensor) {
    const present = [...file.tensors.keys()].join(", ") || "none";
    throw new CheffError(`${source}: no 'mask' tensor (the file has: ${present}); expected 'mask' [N, 1, h, w]`);
  }
  if (tensor.shape.length !== 4 || tensor.shape[1] !== 1) {
    throw new CheffError(`${source}: 'mask' has shape [${tensor.shape}], expected [N, 1, h, w]`);
  }
  const data = Float32Array.from(tensor.data as ArrayLike<number>);
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== 0 && data[i] !== 1) {
      throw new CheffError(`${source}: 'mask' contains ${data[i]} at index ${i}; expected only 0 (keep) and 1 (synthesise)`);
    }
  }
  return { shape: tensor.shape as Mask["shape"], data, source };
}

/** Swaps synthesise and keep (outpainting: a white region is what is kept). */
export function invertMask(mask: Mask): Mask {
  return { ...mask, data: mask.data.map((v) => 1 - v) };
}

function sizeError(mask: Mask, target: MaskTarget): CheffError {
  const [, , h, w] = mask.shape;
  const { height, width, factor } = target;
  return new CheffError(
    `${mask.source}: mask is ${w}×${h} (width×height), expected the image's ${width * factor}×${height * factor} ` +
      `or the latent's ${width}×${height}`,
  );
}

/** Brings a mask to the latent's size: max-pooled from the image's size, or as it is. */
export function toLatentMask(mask: Mask, target: MaskTarget): Mask {
  const [n, , h, w] = mask.shape;
  const { height, width, factor } = target;
  if (h === height && w === width) return mask;
  if (h !== height * factor || w !== width * factor) throw sizeError(mask, target);
  const data = new Float32Array(n * height * width);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let value = 0;
        for (let dy = 0; dy < factor && value === 0; dy++) {
          const row = (b * h + y * factor + dy) * w + x * factor;
          for (let dx = 0; dx < factor; dx++) value = Math.max(value, mask.data[row + dx]);
        }
        data[(b * height + y) * width + x] = value;
      }
    }
  }
  return { shape: [n, 1, height, width], data, source: mask.source };
}

/** Brings a mask to the image's size: as it is, or each latent cell repeated over f×f pixels. */
export function toImageMask(mask: Mask, target: MaskTarget): Mask {
  const [n, , h, w] = mask.shape;
  const { height, width, factor } = target;
  const imageHeight = height * factor, imageWidth = width * factor;
  if (h === imageHeight && w === imageWidth) return mask;
  if (h !== height || w !== width) throw sizeError(mask, target);
  const data = new Float32Array(n * imageHeight * imageWidth);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < imageHeight; y++) {
      for (let x = 0; x < imageWidth; x++) {
        data[(b * imageHeight + y) * imageWidth + x] = mask.data[(b * h + Math.floor(y / factor)) * w + Math.floor(x / factor)];
      }
    }
  }
  return { shape: [n, 1, imageHeight, imageWidth], data, source: mask.source };
}

/** Checks that a mask of N entries fits a batch: one mask for every image, or one per image. */
export function checkMaskBatch(mask: Mask, batch: number): void {
  const n = mask.shape[0];
  if (n !== 1 && n !== batch) {
    throw new CheffError(`${mask.source}: mask holds ${n} masks for ${batch} images; expected 1 or ${batch}`);
  }
}

/**
 * Copies the kept pixels (mask 0) of `original` into `image`, both [N, C, H, W]
 * with `original` and the image-size `mask` holding 1 or N entries. The result
 * equals the original exactly there, whatever the decoder made of the latent.
 */
export function pasteKept(
  image: { shape: readonly number[]; data: Float32Array },
  original: { shape: readonly number[]; data: Float32Array },
  mask: Mask,
): Float32Array {
  const [n, c, h, w] = image.shape;
  const [originals, originalChannels, originalHeight, originalWidth] = original.shape;
  if ((originals !== 1 && originals !== n) || originalChannels !== c || originalHeight !== h || originalWidth !== w) {
    throw new CheffError(`original image of shape [${original.shape}] does not match the decoded images [${image.shape}]`);
  }
  checkMaskBatch(mask, n);
  if (mask.shape[2] !== h || mask.shape[3] !== w) {
    throw new CheffError(`${mask.source}: mask is ${mask.shape[3]}×${mask.shape[2]}, expected the image's ${w}×${h}`);
  }
  const plane = h * w;
  const out = image.data.slice();
  for (let b = 0; b < n; b++) {
    const maskBase = (mask.shape[0] === 1 ? 0 : b) * plane;
    const originalBase = (originals === 1 ? 0 : b) * c * plane;
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < plane; p++) {
        if (mask.data[maskBase + p] === 0) out[(b * c + ch) * plane + p] = original.data[originalBase + ch * plane + p];
      }
    }
  }
  return out;
}
