/**
 * Antialiased resizing of grayscale float images with the triangle (bilinear)
 * filter, computed as Pillow's `Image.resize(size, Image.BILINEAR)` computes it
 * for a 32-bit float ("F" mode) image, in Pillow's `Resample.c`:
 *
 * - separable: a horizontal pass into a float32 intermediate, then a vertical pass;
 * - output pixel i has its centre at source coordinate (i + 0.5)·scale, where
 *   scale = input size / output size;
 * - when shrinking, the filter is stretched by the scale factor (support 1·scale,
 *   weights tri((x − centre + 0.5) / scale)), so every source pixel contributes
 *   and the result is antialiased. When enlarging it is plain linear
 *   interpolation between pixel centres (support 1);
 * - taps are those source pixels j with ⌊centre − support + 0.5⌋ ≤ j <
 *   ⌊centre + support + 0.5⌋, cut to the image, and their weights are divided by
 *   their sum. At the borders this renormalises over the pixels that exist
 *   instead of repeating edge pixels.
 *
 * Pillow resizes 8-bit images with fixed-point weights and rounds to 8 bits after
 * each pass; that path differs from this one by up to about one grey level.
 */
import { CheffError } from "../errors.ts";
import type { GrayImage } from "./load.ts";

/** The taps of one output pixel: source indices first … first + weights.length − 1. */
interface Taps {
  first: number;
  weights: Float64Array;
}

function triangle(x: number): number {
  const a = Math.abs(x);
  return a < 1 ? 1 - a : 0;
}

/** Filter taps mapping `inSize` source pixels to `outSize` output pixels along one axis. */
export function triangleTaps(inSize: number, outSize: number): Taps[] {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle filter's support is 1
  const inverseFilterScale = 1 / filterScale; // multiplied, as Pillow does, for the same rounding
  const taps: Taps[] = [];

  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    const first = Math.max(0, Math.floor(centre - support + 0.5));
    const end = Math.min(inSize, Math.floor(centre + support + 0.5));
    const weights = new Float64Array(Math.max(0, end - first));
    let sum = 0;
    for (let j = first; j < end; j++) {
      const w = triangle((j - centre + 0.5) * inverseFilterScale);
      weights[j - first] = w;
      sum += w;
    }
    if (sum !== 0) { for (let k = 0; k < weights.length; k++) weights[k] /= sum; }
    taps.push({ first, weights });
  }
  return taps;
}

function checkSize(width: number, height: number, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new CheffError(`${what} ${width}x${height} is invalid; expected positive whole numbers of pixels`);
  }
}

/** Resizes a gray image to `width` x `height` with Pillow's antialiased bilinear filter. */
export function resizeBilinear(image: GrayImage, width: number, height: number): GrayImage {
  checkSize(width, height, "resize target");
  checkSize(image.width, image.height, "image size");
  if (image.data.length !== image.width * image.height) {
    throw new CheffError(
      `image data contains ${image.data.length} values, expected ${image.width}x${image.height}`,
    );
  }
  let result = image;
  if (width !== image.width) result = resizeRows(result, width);
  if (height !== image.height) result = resizeColumns(result, height);
  return result === image ? { width, height, data: image.data.slice() } : result;
}

/** Horizontal pass: every row resampled to `width` pixels. */
function resizeRows(image: GrayImage, width: number): GrayImage {
  const { width: inWidth, height, data } = image;
  const taps = triangleTaps(inWidth, width);
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * inWidth;
    for (let x = 0; x < width; x++) {
      const { first, weights } = taps[x];
      let sum = 0;
      for (let k = 0; k < weights.length; k++) sum += data[row + first + k] * weights[k];
      out[y * width + x] = sum;
    }
  }
  return { width, height, data: out };
}

/** Vertical pass: every column resampled to `height` pixels. */
function resizeColumns(image: GrayImage, height: number): GrayImage {
  const { width, height: inHeight, data } = image;
  const taps = triangleTaps(inHeight, height);
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const { first, weights } = taps[y];
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = 0; k < weights.length; k++) sum += data[(first + k) * width + x] * weights[k];
      out[y * width + x] = sum;
    }
  }
  return { width, height, data: out };
}

/** Copies the `width` x `height` window whose top-left corner is at (`left`, `top`). */
export function crop(image: GrayImage, left: number, top: number, width: number, height: number): GrayImage {
  if (left < 0 || top < 0 || left + width > image.width || top + height > image.height) {
    throw new CheffError(
      `crop ${width}x${height} at (${left}, ${top}) does not fit in a ${image.width}x${image.height} image`,
    );
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const start = (top + y) * image.width + left;
    out.set(image.data.subarray(start, start + width), y * width);
  }
  return { width, height, data: out };
}

/**
 * Resizes so that the shorter side is `size` pixels, then crops the centre
 * `size` x `size` square, offset ⌊(L − size)/2⌋ along the longer side L.
 * The longer side becomes ⌊size · long / short⌋ pixels, as torchvision's
 * `Resize(size)` computes it.
 */
export function resizeShortSideAndCenterCrop(image: GrayImage, size: number): GrayImage {
  checkSize(size, size, "crop size");
  const { width, height } = image;
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  const resizedLong = Math.max(size, Math.floor((size * long) / short));
  const resized = width <= height
    ? resizeBilinear(image, size, resizedLong)
    : resizeBilinear(image, resizedLong, size);
  const left = Math.floor((resized.width - size) / 2);
  const top = Math.floor((resized.height - size) / 2);
  return left === 0 && top === 0 && resized.width === size && resized.height === size
    ? resized
    : crop(resized, left, top, size, size);
}
