/**
 * Paired image-quality metrics: MSE, PSNR, SSIM and MS-SSIM, computed in float64
 * on single-channel images with values in [0, 1] (peak 1).
 *
 * Conventions, chosen to match the values the Cheff paper's tools report:
 * - PSNR is per image, 10·log10(1/MSE), +Infinity for identical images.
 * - SSIM (Wang et al. 2004, as scikit-image 0.19 `structural_similarity` with
 *   `gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1`):
 *   an 11×11 Gaussian window of σ 1.5, population variances σ² = G∗x² − (G∗x)²,
 *   C1 = (0.01·L)², C2 = (0.03·L)², L = 1, averaged over the valid window positions
 *   only, so no padding mode enters.
 * - MS-SSIM (Wang, Simoncelli & Bovik 2003): 5 scales, 2×2 mean pooling between
 *   them, cs at scales 1–4 and SSIM at scale 5 each clamped at 0 and raised to its weight.
 *
 * Images are flat row-major arrays of `width·height` values.
 */
import { CheffError } from "../io/errors.ts";

/** Width and height of a single-channel image. */
export interface ImageSize {
  width: number;
  height: number;
}

/** A flat row-major single-channel image in float64. */
export interface Plane extends ImageSize {
  data: Float64Array;
}

/** SSIM window and constants. */
export interface SsimOptions {
  /** "gaussian" (default): a Gaussian window of `sigma`; "uniform": a box of `windowSize`. */
  window?: "gaussian" | "uniform";
  /** Gaussian σ in pixels (default 1.5). The window radius is ⌊3.5σ + 0.5⌋, scikit-image's truncation. */
  sigma?: number;
  /** Side of the uniform window (default 7). */
  windowSize?: number;
  /** Scale variances and covariance by N/(N−1), N the window's pixel count (default false). */
  sampleCovariance?: boolean;
  /** The value range L in C1 = (K1·L)², C2 = (K2·L)² (default 1). */
  dataRange?: number;
  k1?: number;
  k2?: number;
}

/** The rule for halving an odd side between MS-SSIM scales. */
export type OddSizeConvention = "repeat" | "floor" | "zeropad";

export interface MsSsimOptions extends SsimOptions {
  /**
   * "repeat" (default): repeat the last row or column, then pool, so n → ⌈n/2⌉
   * (Wang's MATLAB msssim.m, TensorFlow). "floor": drop it, n → ⌊n/2⌋ (torchmetrics).
   * "zeropad": prepend a zero row or column counted in the mean, n → ⌈n/2⌉ (pytorch-msssim 1.0).
   */
  oddSize?: OddSizeConvention;
  /** Per-scale exponents; their count sets the number of scales. */
  weights?: readonly number[];
}

/** Per-scale means of MS-SSIM, scale 1 first, before clamping at 0. */
export interface MsSsimScales {
  cs: number[];
  ssim: number[];
  /** The image size at each scale. */
  sizes: ImageSize[];
}

/** The MS-SSIM exponents of Wang, Simoncelli & Bovik 2003. */
export const MS_SSIM_WEIGHTS: readonly number[] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

/**
 * Returns the mean of (a − b)² over all elements.
 *
 * @example
 * mse([0, 1], [0, 0.5]); // 0.125
 */
export function mse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkSameLength(a, b);
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    sum += d * d;
  }
  return sum / a.length;
}

/** Returns 10·log10(peak² / mse): +Infinity when `mse` is 0. */
export function psnrFromMse(meanSquaredError: number, peak = 1): number {
  return 10 * Math.log10((peak * peak) / meanSquaredError);
}

/**
 * Returns the PSNR of one image pair in dB with peak 1 (values in [0, 1]); identical
 * images give +Infinity. Average per-image values for a table, not the MSE.
 *
 * @example
 * psnr([0, 1], [0, 0.9]); // 10·log10(1/0.005) ≈ 23.01
 */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return psnrFromMse(mse(a, b));
}

/**
 * Returns the SSIM map at every valid window position: (height − k + 1) × (width − k + 1)
 * for a k×k window.
 */
export function ssimMap(a: ArrayLike<number>, b: ArrayLike<number>, size: ImageSize, options: SsimOptions = {}): Plane {
  const { luminance, contrastStructure } = ssimComponents(a, b, size, options);
  const data = new Float64Array(luminance.data.length);
  for (let i = 0; i < data.length; i++) data[i] = luminance.data[i] * contrastStructure.data[i];
  return { width: luminance.width, height: luminance.height, data };
}

/**
 * Returns the mean SSIM over the valid window positions. The default is the
 * Gaussian SSIM of Wang et al. 2004 (11×11, σ 1.5, population variances, L = 1).
 *
 * @example
 * ssim(real, reconstruction, { width: 256, height: 256 }); // 1 for identical images
 */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, size: ImageSize, options: SsimOptions = {}): number {
  return meanOf(ssimMap(a, b, size, options).data);
}

/**
 * Returns scikit-image's default SSIM with `data_range` 1: a 7×7 uniform window,
 * variances scaled by 49/48. It differs from `ssim` by several percent, so a table
 * must name the variant it reports.
 */
export function ssimDefault(a: ArrayLike<number>, b: ArrayLike<number>, size: ImageSize): number {
  return ssim(a, b, size, { window: "uniform", windowSize: 7, sampleCovariance: true });
}

/**
 * Returns the mean contrast-structure term and mean SSIM at each MS-SSIM scale,
 * before clamping. Throws a CheffError when the last scale is smaller than the window.
 */
export function msSsimScales(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  size: ImageSize,
  options: MsSsimOptions = {},
): MsSsimScales {
  checkPlane(a, size, "first image");
  checkPlane(b, size, "second image");
  const oddSize = options.oddSize ?? "repeat";
  const scaleCount = (options.weights ?? MS_SSIM_WEIGHTS).length;
  const window = windowSide(options);
  const sizes = msSsimSizes(size, scaleCount, oddSize);
  const last = sizes[sizes.length - 1];
  if (last.width < window || last.height < window) {
    throw new CheffError(
      `MS-SSIM: a ${size.width}×${size.height} image shrinks to ${last.width}×${last.height} at scale ${scaleCount}, ` +
        `smaller than the ${window}×${window} window; it needs at least ${minimumMsSsimSide(window, scaleCount, oddSize)} px per side`,
    );
  }

  let x: Plane = toPlane(a, size);
  let y: Plane = toPlane(b, size);
  const cs: number[] = [];
  const ssimValues: number[] = [];
  for (let scale = 0; scale < scaleCount; scale++) {
    if (scale > 0) {
      x = downsample2x(x, oddSize);
      y = downsample2x(y, oddSize);
    }
    const { luminance, contrastStructure } = ssimComponents(x.data, y.data, x, options);
    let csSum = 0;
    let ssimSum = 0;
    for (let i = 0; i < luminance.data.length; i++) {
      csSum += contrastStructure.data[i];
      ssimSum += luminance.data[i] * contrastStructure.data[i];
    }
    cs.push(csSum / luminance.data.length);
    ssimValues.push(ssimSum / luminance.data.length);
  }
  return { cs, ssim: ssimValues, sizes };
}

/**
 * Returns MS-SSIM = ∏_{j<M} max(cs_j, 0)^{w_j} · max(ssim_M, 0)^{w_M} over M = 5
 * scales. A negative term is clamped to 0, so the result is 0 rather than NaN.
 *
 * @example
 * msSsim(real, fake, { width: 256, height: 256 }, { oddSize: "repeat" });
 */
export function msSsim(a: ArrayLike<number>, b: ArrayLike<number>, size: ImageSize, options: MsSsimOptions = {}): number {
  const weights = options.weights ?? MS_SSIM_WEIGHTS;
  const scales = msSsimScales(a, b, size, options);
  let product = 1;
  for (let j = 0; j < weights.length; j++) {
    const term = j < weights.length - 1 ? scales.cs[j] : scales.ssim[j];
    product *= Math.max(term, 0) ** weights[j];
  }
  return product;
}

/** Returns whether MS-SSIM can be computed on an image of this size (every scale at least the window). */
export function msSsimSupported(size: ImageSize, options: MsSsimOptions = {}): boolean {
  const scaleCount = (options.weights ?? MS_SSIM_WEIGHTS).length;
  const window = windowSide(options);
  const last = msSsimSizes(size, scaleCount, options.oddSize ?? "repeat").at(-1)!;
  return last.width >= window && last.height >= window;
}

/** Returns the smallest side that leaves a full window at the last MS-SSIM scale (161 by default). */
export function minimumMsSsimSide(window = 11, scaleCount = 5, oddSize: OddSizeConvention = "repeat"): number {
  let side = window;
  while (halvedSide(side, scaleCount - 1, oddSize) < window) side++;
  return side;
}

/**
 * Halves an image by 2×2 block means, with `oddSize` deciding what happens to an
 * odd row or column count (each axis on its own).
 */
export function downsample2x(image: Plane, oddSize: OddSizeConvention): Plane {
  const rows = poolTaps(image.height, oddSize);
  const columns = poolTaps(image.width, oddSize);
  const width = columns.first.length;
  const height = rows.first.length;
  const data = new Float64Array(width * height);
  const at = (row: number, column: number) => (row < 0 || column < 0 ? 0 : image.data[row * image.width + column]);
  for (let i = 0; i < height; i++) {
    const r0 = rows.first[i];
    const r1 = rows.second[i];
    for (let j = 0; j < width; j++) {
      const c0 = columns.first[j];
      const c1 = columns.second[j];
      data[i * width + j] = (at(r0, c0) + at(r0, c1) + at(r1, c0) + at(r1, c1)) / 4;
    }
  }
  return { width, height, data };
}

/** Returns the 1-D Gaussian window g[k] ∝ exp(−(k − r)²/(2σ²)), k = 0…2r, r = ⌊3.5σ + 0.5⌋, summing to 1. */
export function gaussianWindow(sigma: number): Float64Array {
  const radius = Math.trunc(3.5 * sigma + 0.5);
  const taps = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let k = 0; k < taps.length; k++) {
    const x = k - radius;
    taps[k] = Math.exp((-x * x) / (2 * sigma * sigma));
    sum += taps[k];
  }
  for (let k = 0; k < taps.length; k++) taps[k] /= sum;
  return taps;
}

/** Computes the luminance map l = (2μxμy + C1)/(μx² + μy² + C1) and cs = (2σxy + C2)/(σx² + σy² + C2) over valid positions. */
function ssimComponents(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  size: ImageSize,
  options: SsimOptions,
): { luminance: Plane; contrastStructure: Plane } {
  checkPlane(a, size, "first image");
  checkPlane(b, size, "second image");
  const taps = windowTaps(options);
  if (size.width < taps.length || size.height < taps.length) {
    throw new CheffError(
      `SSIM: a ${size.width}×${size.height} image is smaller than the ${taps.length}×${taps.length} window`,
    );
  }
  const dataRange = options.dataRange ?? 1;
  const c1 = ((options.k1 ?? 0.01) * dataRange) ** 2;
  const c2 = ((options.k2 ?? 0.03) * dataRange) ** 2;
  const pixelsPerWindow = taps.length * taps.length;
  const covarianceScale = options.sampleCovariance ? pixelsPerWindow / (pixelsPerWindow - 1) : 1;

  const count = size.width * size.height;
  const xx = new Float64Array(count);
  const yy = new Float64Array(count);
  const xy = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    xx[i] = a[i] * a[i];
    yy[i] = b[i] * b[i];
    xy[i] = a[i] * b[i];
  }
  const muX = filterValid(a, size, taps);
  const muY = filterValid(b, size, taps);
  const meanXX = filterValid(xx, size, taps);
  const meanYY = filterValid(yy, size, taps);
  const meanXY = filterValid(xy, size, taps);

  const n = muX.data.length;
  const luminance = new Float64Array(n);
  const contrastStructure = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const mx = muX.data[i];
    const my = muY.data[i];
    const varianceX = covarianceScale * (meanXX.data[i] - mx * mx);
    const varianceY = covarianceScale * (meanYY.data[i] - my * my);
    const covariance = covarianceScale * (meanXY.data[i] - mx * my);
    luminance[i] = (2 * mx * my + c1) / (mx * mx + my * my + c1);
    contrastStructure[i] = (2 * covariance + c2) / (varianceX + varianceY + c2);
  }
  const shape = { width: muX.width, height: muX.height };
  return { luminance: { ...shape, data: luminance }, contrastStructure: { ...shape, data: contrastStructure } };
}

/** Correlates the image with the separable window taps⊗taps at every position where the window fits. */
function filterValid(image: ArrayLike<number>, size: ImageSize, taps: Float64Array): Plane {
  const k = taps.length;
  const outWidth = size.width - k + 1;
  const outHeight = size.height - k + 1;
  const rowsFiltered = new Float64Array(size.height * outWidth);
  for (let y = 0; y < size.height; y++) {
    const row = y * size.width;
    for (let x = 0; x < outWidth; x++) {
      let sum = 0;
      for (let t = 0; t < k; t++) sum += taps[t] * image[row + x + t];
      rowsFiltered[y * outWidth + x] = sum;
    }
  }
  const out = new Float64Array(outHeight * outWidth);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      let sum = 0;
      for (let t = 0; t < k; t++) sum += taps[t] * rowsFiltered[(y + t) * outWidth + x];
      out[y * outWidth + x] = sum;
    }
  }
  return { width: outWidth, height: outHeight, data: out };
}

function windowTaps(options: SsimOptions): Float64Array {
  if ((options.window ?? "gaussian") === "gaussian") return gaussianWindow(options.sigma ?? 1.5);
  const side = options.windowSize ?? 7;
  if (!Number.isInteger(side) || side < 1) throw new RangeError(`SSIM window size must be a positive integer, got ${side}`);
  return new Float64Array(side).fill(1 / side);
}

function windowSide(options: SsimOptions): number {
  return windowTaps(options).length;
}

/** For each output index along one axis, the two source indices it averages (−1 is a zero pad). */
function poolTaps(n: number, oddSize: OddSizeConvention): { first: Int32Array; second: Int32Array } {
  const out = halvedSide(n, 1, oddSize);
  const first = new Int32Array(out);
  const second = new Int32Array(out);
  const padFront = oddSize === "zeropad" && n % 2 === 1 ? 1 : 0;
  for (let i = 0; i < out; i++) {
    first[i] = 2 * i - padFront;
    second[i] = Math.min(2 * i + 1 - padFront, n - 1);
  }
  return { first, second };
}

function halvedSide(n: number, times: number, oddSize: OddSizeConvention): number {
  for (let i = 0; i < times; i++) n = oddSize === "floor" ? Math.floor(n / 2) : Math.ceil(n / 2);
  return n;
}

function msSsimSizes(size: ImageSize, scaleCount: number, oddSize: OddSizeConvention): ImageSize[] {
  const sizes: ImageSize[] = [];
  for (let scale = 0; scale < scaleCount; scale++) {
    sizes.push({ width: halvedSide(size.width, scale, oddSize), height: halvedSide(size.height, scale, oddSize) });
  }
  return sizes;
}

function toPlane(data: ArrayLike<number>, size: ImageSize): Plane {
  return { width: size.width, height: size.height, data: Float64Array.from(data) };
}

function meanOf(values: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) {
    throw new CheffError(`image sizes differ: ${a.length} values against ${b.length}`);
  }
  if (a.length === 0) throw new CheffError("cannot compare empty images");
}

function checkPlane(data: ArrayLike<number>, size: ImageSize, name: string): void {
  if (!(Number.isInteger(size.width) && Number.isInteger(size.height) && size.width > 0 && size.height > 0)) {
    throw new CheffError(`${name}: invalid image size ${size.width}×${size.height}`);
  }
  if (data.length !== size.width * size.height) {
    throw new CheffError(
      `${name}: has ${data.length} values, expected ${size.width}×${size.height} = ${size.width * size.height}`,
    );
  }
}
