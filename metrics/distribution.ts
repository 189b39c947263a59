/**
 * Distribution metrics on feature sets: the Fréchet distance (FID) and the kernel
 * distance (KID), in float64.
 *
 * FID = |μ1 − μ2|² + tr Σ1 + tr Σ2 − 2·tr √(Σ1Σ2), with Σ the sample covariance
 * (divided by N − 1). The square-root trace is Σ_i √max(λ_i, 0) over the eigenvalues
 * of the symmetric matrix Σ1^{1/2}·Σ2·Σ1^{1/2}, which has the eigenvalues of Σ1Σ2, so
 * no general matrix square root is needed.
 *
 * KID is the unbiased MMD² with the cubic polynomial kernel k(x, y) = (x·y/d + 1)³,
 * as torch-fidelity's `mmd2(..., 'unbiased')` and clean-fid's `kernel_distance` compute it.
 */
import { CheffError } from "../io/errors.ts";
import { addDiagonal, pivotedCholesky, type SquareMatrix, symmetricEigenRows, trace } from "./linalg.ts";

/** A feature matrix [N, D], row-major (a safetensors tensor fits). */
export interface Features {
  shape: readonly number[];
  data: ArrayLike<number>;
}

/** The mean and sample covariance of a feature set. */
export interface FeatureStatistics {
  count: number;
  mu: Float64Array;
  sigma: SquareMatrix;
}

/**
 * When FID takes pytorch-fid's ε fallback, which computes the square-root term as
 * tr √((Σ1 + εI)(Σ2 + εI)):
 * - "auto": exactly when pytorch-fid would (see `pytorchFidTakesFallback`);
 * - "always" / "never": regardless of the data.
 */
export type FidFallback = "auto" | "always" | "never";

export interface FidOptions {
  /** The diagonal offset of the fallback (default 1e-6, pytorch-fid's). */
  eps?: number;
  /** Default "auto". */
  fallback?: FidFallback;
}

/** FID and its terms. */
export interface FidResult {
  fid: number;
  /** |μ1 − μ2|². */
  meanDistance: number;
  traceReal: number;
  traceFake: number;
  /** tr √(Σ1Σ2), or its ε-offset form when `epsApplied`. */
  traceSqrt: number;
  epsApplied: boolean;
}

/** MMD² values of KID subsets with their mean and population standard deviation (ddof 0). */
export interface KidSubsetResult {
  values: Float64Array;
  mean: number;
  std: number;
}

/** One KID subset: row indices into the fake and the real feature sets. */
export interface KidSubset {
  fake: ArrayLike<number>;
  real: ArrayLike<number>;
}

/**
 * Computes the mean and the covariance (divided by N − 1, as `np.cov(X, rowvar=False)`)
 * of features [N, D]. A constant column gets exactly zero variance and covariances,
 * which the fallback rule of `fid` relies on.
 *
 * @example
 * const stats = featureStatistics({ shape: [3, 2], data: [0, 1, 1, 1, 2, 1] }); // mu [1, 1], sigma [[1, 0], [0, 0]]
 */
export function featureStatistics(features: Features, name = "features"): FeatureStatistics {
  const [count, dims] = checkFeatures(features, name);
  if (count < 2) throw new CheffError(`${name}: a covariance needs at least 2 samples, got ${count}`);
  const x = features.data;

  const mu = new Float64Array(dims);
  for (let d = 0; d < dims; d++) {
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < count; i++) {
      const value = x[i * dims + d];
      sum += value;
      if (value < min) min = value;
      if (value > max) max = value;
    }
    // A sum of N equal values divided by N need not give the value back exactly.
    mu[d] = min === max ? min : sum / count;
  }

  const centered = new Float64Array(count * dims);
  for (let i = 0; i < count; i++) {
    for (let d = 0; d < dims; d++) centered[i * dims + d] = x[i * dims + d] - mu[d];
  }
  const sigma = new Float64Array(dims * dims);
  for (let i = 0; i < count; i++) {
    const row = i * dims;
    for (let p = 0; p < dims; p++) {
      const cp = centered[row + p];
      if (cp === 0) continue;
      for (let q = p; q < dims; q++) sigma[p * dims + q] += cp * centered[row + q];
    }
  }
  for (let p = 0; p < dims; p++) {
    for (let q = p; q < dims; q++) {
      const value = sigma[p * dims + q] / (count - 1);
      sigma[p * dims + q] = value;
      sigma[q * dims + p] = value;
    }
  }
  return { count, mu, sigma: { n: dims, data: sigma } };
}

/**
 * Returns whether pytorch-fid (scipy 1.10 `sqrtm`) would retry with the ε offset.
 *
 * pytorch-fid retries only when `scipy.linalg.sqrtm(Σ1Σ2)` returns a non-finite
 * value, which depends on scipy's Schur algorithm rather than on the covariances
 * being singular. The rule used here is the one observed: the retry happens when
 * some feature has zero variance in the real set only and another has zero variance
 * in the fake set only. Rank-deficient covariances (fewer samples than features), or
 * zero-variance features shared by both sets or found in one set only, keep the
 * first, finite result.
 *
 * NOTE: this is an empirical rule checked on the cases in cheff's reference data,
 * not a proof about scipy. Pass `fallback: "always"` or `"never"` to `fid` to choose
 * the branch yourself.
 */
export function pytorchFidTakesFallback(real: FeatureStatistics, fake: FeatureStatistics): boolean {
  let onlyReal = false;
  let onlyFake = false;
  const n = real.sigma.n;
  for (let d = 0; d < n; d++) {
    const realConstant = real.sigma.data[d * n + d] === 0;
    const fakeConstant = fake.sigma.data[d * n + d] === 0;
    if (realConstant && !fakeConstant) onlyReal = true;
    if (fakeConstant && !realConstant) onlyFake = true;
  }
  return onlyReal && onlyFake;
}

/**
 * Computes FID as pytorch-fid does, with every term. The ε offset enters only the
 * square-root term; the two trace terms always use the covariances as they are.
 */
export function fidDetails(
  real: Features | FeatureStatistics,
  fake: Features | FeatureStatistics,
  options: FidOptions = {},
): FidResult {
  const realStats = asStatistics(real, "real features");
  const fakeStats = asStatistics(fake, "fake features");
  checkSameDims(realStats, fakeStats);
  const eps = options.eps ?? 1e-6;
  const fallback = options.fallback ?? "auto";
  const epsApplied = fallback === "always" || (fallback === "auto" && pytorchFidTakesFallback(realStats, fakeStats));
  return fidTerms(realStats, fakeStats, epsApplied ? eps : 0, epsApplied);
}

/**
 * Returns FID(real, fake) as pytorch-fid computes it, including its ε fallback
 * (see `pytorchFidTakesFallback`).
 *
 * @example
 * fid(realFeatures, fakeFeatures); // features [N, D]; or pass featureStatistics(...) results
 */
export function fid(
  real: Features | FeatureStatistics,
  fake: Features | FeatureStatistics,
  options: FidOptions = {},
): number {
  return fidDetails(real, fake, options).fid;
}

/**
 * Returns FID by torch-fidelity's eigenvalue formula, tr √(Σ1Σ2) = Σ Re √eig(Σ1Σ2),
 * which never falls back. With `eps` the square-root term uses (Σ1 + εI)(Σ2 + εI),
 * the quantity of pytorch-fid's fallback.
 */
export function fidEig(
  real: Features | FeatureStatistics,
  fake: Features | FeatureStatistics,
  options: { eps?: number } = {},
): number {
  const realStats = asStatistics(real, "real features");
  const fakeStats = asStatistics(fake, "fake features");
  checkSameDims(realStats, fakeStats);
  const eps = options.eps ?? 0;
  return fidTerms(realStats, fakeStats, eps, eps !== 0).fid;
}

/**
 * Returns tr √(AB) for symmetric positive semi-definite A and B: the sum of
 * √max(λ, 0) over the eigenvalues λ of AB.
 *
 * With A = Lᵀ·L (pivoted Cholesky, L of A's numerical rank r by n), AB = Lᵀ·(L·B)
 * has the nonzero eigenvalues of the r×r symmetric matrix L·B·Lᵀ, so only the
 * eigenvalues of that matrix are needed, never eigenvectors. These are the
 * eigenvalues of A^{1/2}·B·A^{1/2}, the matrix of the usual formula. A whole FID
 * with D = 2048 and 2,500 samples per set took 33 s of CPU time (statistics
 * included; Deno 2.9.6, 2-core x86-64 container).
 */
export function traceSqrtProduct(a: SquareMatrix, b: SquareMatrix): number {
  const n = a.n;
  const { rank: r, rows: l } = pivotedCholesky(a);
  if (r === 0) return 0;

  // C = L·B (r×n), then M = C·Lᵀ (r×r, symmetric); both loops walk rows.
  const c = new Float64Array(r * n);
  for (let i = 0; i < r; i++) {
    const ci = i * n;
    for (let k = 0; k < n; k++) {
      const lik = l[ci + k];
      if (lik === 0) continue;
      const bk = k * n;
      for (let j = 0; j < n; j++) c[ci + j] += lik * b.data[bk + j];
    }
  }
  const m = new Float64Array(r * r);
  for (let i = 0; i < r; i++) {
    for (let j = i; j < r; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += c[i * n + k] * l[j * n + k];
      m[i * r + j] = sum;
      m[j * r + i] = sum;
    }
  }
  const { values } = symmetricEigenRows({ n: r, data: m }, false);
  let sum = 0;
  for (const lambda of values) sum += Math.sqrt(Math.max(lambda, 0));
  return sum;
}

/**
 * Returns the unbiased MMD² between two whole feature sets with the cubic kernel
 * (x·y/d + 1)³. It can be slightly negative for close distributions; it is not clamped.
 *
 * @example
 * kid(fakeFeatures, realFeatures);
 */
export function kid(fake: Features, real: Features): number {
  const [fakeCount, dims] = checkFeatures(fake, "fake features");
  const [realCount, realDims] = checkFeatures(real, "real features");
  if (dims !== realDims) throw new CheffError(`KID: feature sizes differ: fake ${dims}, real ${realDims}`);
  return unbiasedMmd2(fake.data, range(fakeCount), real.data, range(realCount), dims);
}

/**
 * Returns KID over given subsets (each a list of fake rows and a list of real rows):
 * the MMD² of each subset, their mean and their population standard deviation, as
 * torch-fidelity's `kid_features_to_metric` reports them.
 */
export function kidSubsets(fake: Features, real: Features, subsets: readonly KidSubset[]): KidSubsetResult {
  const [fakeCount, dims] = checkFeatures(fake, "fake features");
  const [realCount, realDims] = checkFeatures(real, "real features");
  if (dims !== realDims) throw new CheffError(`KID: feature sizes differ: fake ${dims}, real ${realDims}`);
  if (subsets.length === 0) throw new CheffError("KID: no subsets given");

  const values = new Float64Array(subsets.length);
  subsets.forEach((subset, s) => {
    checkIndices(subset.fake, fakeCount, `KID subset ${s} (fake)`);
    checkIndices(subset.real, realCount, `KID subset ${s} (real)`);
    values[s] = unbiasedMmd2(fake.data, subset.fake, real.data, subset.real, dims);
  });

  let sum = 0;
  for (const value of values) sum += value;
  const mean = sum / values.length;
  let squares = 0;
  for (const value of values) squares += (value - mean) * (value - mean);
  return { values, mean, std: Math.sqrt(squares / values.length) };
}

/**
 * Draws KID subsets without replacement from cheff's own seeded generator.
 *
 * The draws do not reproduce numpy's `RandomState(2020).choice`, which
 * torch-fidelity uses, so subset values from the same features differ from
 * torch-fidelity's by sampling noise. To reproduce them, pass its indices to `kidSubsets`.
 */
export function drawKidSubsets(
  fakeCount: number,
  realCount: number,
  options: { subsets?: number; subsetSize?: number; seed?: number } = {},
): KidSubset[] {
  const count = options.subsets ?? 100;
  const size = options.subsetSize ?? Math.min(1000, fakeCount, realCount);
  if (size < 2 || size > fakeCount || size > realCount) {
    throw new CheffError(
      `KID: subset size ${size} needs 2 to min(fake ${fakeCount}, real ${realCount}) samples per set`,
    );
  }
  const random = seededUniform(options.seed ?? 2020);
  const subsets: KidSubset[] = [];
  for (let s = 0; s < count; s++) {
    subsets.push({ fake: sampleWithoutReplacement(fakeCount, size, random), real: sampleWithoutReplacement(realCount, size, random) });
  }
  return subsets;
}

function fidTerms(real: FeatureStatistics, fake: FeatureStatistics, eps: number, epsApplied: boolean): FidResult {
  let meanDistance = 0;
  for (let d = 0; d < real.mu.length; d++) {
    const diff = real.mu[d] - fake.mu[d];
    meanDistance += diff * diff;
  }
  const traceReal = trace(real.sigma);
  const traceFake = trace(fake.sigma);
  const traceSqrt = eps === 0
    ? traceSqrtProduct(real.sigma, fake.sigma)
    : traceSqrtProduct(addDiagonal(real.sigma, eps), addDiagonal(fake.sigma, eps));
  return {
    fid: meanDistance + traceReal + traceFake - 2 * traceSqrt,
    meanDistance,
    traceReal,
    traceFake,
    traceSqrt,
    epsApplied,
  };
}

/**
 * (Σ_{i≠j} k(x_i, x_j))/(m(m−1)) + (Σ_{i≠j} k(y_i, y_j))/(n(n−1)) − 2·Σ_{i,j} k(x_i, y_j)/(mn),
 * over the rows `xRows` of x and `yRows` of y. The diagonal is left out of the
 * within-set sums and kept in the cross sum.
 */
function unbiasedMmd2(
  x: ArrayLike<number>,
  xRows: ArrayLike<number>,
  y: ArrayLike<number>,
  yRows: ArrayLike<number>,
  dims: number,
): number {
  const xs = gatherRows(x, xRows, dims);
  const ys = gatherRows(y, yRows, dims);
  const m = xRows.length;
  const n = yRows.length;
  const kernel = (a: Float64Array, i: number, b: Float64Array, j: number) => {
    let dot = 0;
    for (let d = 0; d < dims; d++) dot += a[i * dims + d] * b[j * dims + d];
    const base = dot / dims + 1;
    return base * base * base;
  };

  let sumXX = 0;
  for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) sumXX += kernel(xs, i, xs, j);
  let sumYY = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) sumYY += kernel(ys, i, ys, j);
  let sumXY = 0;
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) sumXY += kernel(xs, i, ys, j);

  return (2 * sumXX) / (m * (m - 1)) + (2 * sumYY) / (n * (n - 1)) - (2 * sumXY) / (m * n);
}

function gatherRows(data: ArrayLike<number>, rows: ArrayLike<number>, dims: number): Float64Array {
  const out = new Float64Array(rows.length * dims);
  for (let r = 0; r < rows.length; r++) {
    const from = rows[r] * dims;
    for (let d = 0; d < dims; d++) out[r * dims + d] = data[from + d];
  }
  return out;
}

function range(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

/**
 * A uniform generator on [0, 1): a Weyl sequence (step 0x9E3779B9) through
 * MurmurHash3's 32-bit finaliser, two words per 53-bit draw.
 */
function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  const next32 = () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  return () => ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
}

/** Draws `size` distinct indices from 0…n−1 by a partial Fisher–Yates shuffle. */
function sampleWithoutReplacement(n: number, size: number, random: () => number): Int32Array {
  const pool = range(n);
  for (let i = 0; i < size; i++) {
    const j = i + Math.floor(random() * (n - i));
    const swap = pool[i];
    pool[i] = pool[j];
    pool[j] = swap;
  }
  return pool.slice(0, size);
}

function asStatistics(value: Features | FeatureStatistics, name: string): FeatureStatistics {
  return "mu" in value ? value : featureStatistics(value, name);
}

function checkSameDims(real: FeatureStatistics, fake: FeatureStatistics): void {
  if (real.mu.length !== fake.mu.length) {
    throw new CheffError(`FID: feature sizes differ: real ${real.mu.length}, fake ${fake.mu.length}`);
  }
}

function checkFeatures(features: Features, name: string): [number, number] {
  if (features.shape.length !== 2) {
    throw new CheffError(`${name}: expected a feature matrix [N, D], got shape [${features.shape.join(", ")}]`);
  }
  const [count, dims] = features.shape;
  if (count < 1 || dims < 1) throw new CheffError(`${name}: empty feature matrix [${count}, ${dims}]`);
  if (features.data.length !== count * dims) {
    throw new CheffError(`${name}: ${features.data.length} values do not fill shape [${count}, ${dims}]`);
  }
  for (let i = 0; i < features.data.length; i++) {
    if (!Number.isFinite(features.data[i])) {
      throw new CheffError(`${name}: value ${features.data[i]} at row ${Math.floor(i / dims)}, column ${i % dims} is not finite`);
    }
  }
  return [count, dims];
}

function checkIndices(indices: ArrayLike<number>, count: number, name: string): void {
  if (indices.length < 2) throw new CheffError(`${name}: needs at least 2 indices, got ${indices.length}`);
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i];
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new CheffError(`${name}: index ${index} is outside 0…${count - 1}`);
    }
  }
}
