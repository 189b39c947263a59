import assert from "node:assert/strict";
import { CheffError } from "../../io/errors.ts";
import {
  drawKidSubsets,
  type Features,
  featureStatistics,
  fid,
  fidDetails,
  fidEig,
  kid,
  type KidSubset,
  kidSubsets,
  pytorchFidTakesFallback,
} from "../../metrics/distribution.ts";
import {
  jacobiEigen,
  multiply,
  pivotedCholesky,
  type SquareMatrix,
  symmetricEigen,
  symmetricSqrt,
  trace,
} from "../../metrics/linalg.ts";
import { kitTest } from "../kit.ts";
import { assertCloseOfScale, loadMetricsReference, METRICS_REFERENCE } from "./reference.ts";

/**
 * Relative tolerance of the reference comparisons. It separates pytorch-fid's ε
 * branch from the plain one on the singular sets, which are 5.7e-4 apart. The
 * measured errors are 2.8e-8 (rank-deficient FID) or smaller; a test below
 * checks the float64 values against tighter bounds.
 */
const TOLERANCE = 1e-4;

async function referenceFeatures() {
  const reference = await loadMetricsReference();
  const real = reference.tensor("features.real") as Features;
  const fake = reference.tensor("features.fake") as Features;
  const firstRows = (features: Features, rows: number): Features => ({
    shape: [rows, features.shape[1]],
    data: (features.data as Float32Array).subarray(0, rows * features.shape[1]),
  });
  return {
    reference,
    real,
    fake,
    lowrankReal: firstRows(real, 10),
    lowrankFake: firstRows(fake, 10),
    singularReal: reference.tensor("features.singular_real") as Features,
    singularFake: reference.tensor("features.singular_fake") as Features,
  };
}

function gaussianFeatures(rows: number, dims: number, seed: number, shift = 0): Features {
  const data = new Float64Array(rows * dims);
  let state = seed >>> 0;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 2 ** 32;
  };
  for (let i = 0; i < data.length; i++) {
    data[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()) + shift;
  }
  return { shape: [rows, dims], data };
}

kitTest("feature statistics match np.mean and np.cov", [METRICS_REFERENCE], async () => {
  const { reference, real, fake } = await referenceFeatures();
  const realStats = featureStatistics(real);
  const fakeStats = featureStatistics(fake);
  assertCloseOfScale(realStats.mu, reference.tensor("fid.mu_real").data as Float32Array, 1e-6, "fid.mu_real");
  assertCloseOfScale(fakeStats.mu, reference.tensor("fid.mu_fake").data as Float32Array, 1e-6, "fid.mu_fake");
  assertCloseOfScale(realStats.sigma.data, reference.tensor("fid.sigma_real").data as Float32Array, 1e-6, "fid.sigma_real");
  assertCloseOfScale(fakeStats.sigma.data, reference.tensor("fid.sigma_fake").data as Float32Array, 1e-6, "fid.sigma_fake");
});

kitTest("fid matches pytorch-fid and the eigenvalue formula", [METRICS_REFERENCE], async () => {
  const { reference, real, fake } = await referenceFeatures();
  const details = fidDetails(real, fake);
  assert.equal(details.epsApplied, false);
  assertCloseOfScale([details.fid], reference.expected("fid"), TOLERANCE, "fid");
  assertCloseOfScale([fidEig(real, fake)], reference.expected("fid_eig"), TOLERANCE, "fid_eig");
});

kitTest("fid on rank-deficient covariances takes no eps fallback", [METRICS_REFERENCE], async () => {
  const { reference, lowrankReal, lowrankFake } = await referenceFeatures();
  const details = fidDetails(lowrankReal, lowrankFake);
  assert.equal(details.epsApplied, false);
  assertCloseOfScale([details.fid], reference.expected("fid_lowrank"), TOLERANCE, "fid_lowrank");
  assertCloseOfScale([fidEig(lowrankReal, lowrankFake)], reference.expected("fid_lowrank_eig"), TOLERANCE, "fid_lowrank_eig");
});

kitTest("fid on the singular sets takes pytorch-fid's eps fallback", [METRICS_REFERENCE], async () => {
  const { reference, singularReal, singularFake } = await referenceFeatures();
  const details = fidDetails(singularReal, singularFake);
  assert.equal(details.epsApplied, true);
  assertCloseOfScale([details.fid], reference.expected("fid_singular"), TOLERANCE, "fid_singular");
  assertCloseOfScale([fidEig(singularReal, singularFake)], reference.expected("fid_singular_eig"), TOLERANCE, "fid_singular_eig");
  assertCloseOfScale(
    [fidEig(singularReal, singularFake, { eps: 1e-6 })],
    reference.expected("fid_singular_eig_eps"),
    TOLERANCE,
    "fid_singular_eig_eps",
  );
  const withoutFallback = fid(singularReal, singularFake, { fallback: "never" });
  assertCloseOfScale([withoutFallback], reference.expected("fid_singular_eig"), TOLERANCE, "fid_singular (never)");
});

kitTest("fid reproduces the float64 reference values closely", [METRICS_REFERENCE], async () => {
  const { reference, real, fake, lowrankReal, lowrankFake, singularReal, singularFake } = await referenceFeatures();
  assertCloseOfScale([fid(real, fake)], reference.expected("fid"), 1e-12, "fid");
  assertCloseOfScale([fid(lowrankReal, lowrankFake)], reference.expected("fid_lowrank"), 1e-7, "fid_lowrank");
  assertCloseOfScale([fid(singularReal, singularFake)], reference.expected("fid_singular"), 1e-12, "fid_singular");
  assertCloseOfScale([fidEig(singularReal, singularFake)], reference.expected("fid_singular_eig"), 1e-7, "fid_singular_eig");
});

kitTest("kid over all samples matches the unbiased mmd2", [METRICS_REFERENCE], async () => {
  const { reference, real, fake } = await referenceFeatures();
  assertCloseOfScale([kid(fake, real)], reference.expected("kid_full"), TOLERANCE, "kid_full");
  assertCloseOfScale([kid(real, fake)], reference.expected("kid_full"), TOLERANCE, "kid_full (swapped)");
});

kitTest("kid over the stored subsets matches values, mean and std", [METRICS_REFERENCE], async () => {
  const { reference, real, fake } = await referenceFeatures();
  const indices = reference.tensor("kid.subsets");
  assert.deepEqual(indices.shape, [100, 2, 100]);
  const words = indices.data as BigInt64Array;
  const subsets: KidSubset[] = [];
  for (let s = 0; s < 100; s++) {
    subsets.push({
      fake: Array.from(words.subarray(s * 200, s * 200 + 100), Number),
      real: Array.from(words.subarray(s * 200 + 100, s * 200 + 200), Number),
    });
  }
  const result = kidSubsets(fake, real, subsets);
  assertCloseOfScale(result.values, reference.expected("kid.subset_values"), TOLERANCE, "kid.subset_values");
  assertCloseOfScale([result.mean], reference.expected("kid_subsets_mean"), TOLERANCE, "kid_subsets_mean");
  assertCloseOfScale([result.std], reference.expected("kid_subsets_std"), TOLERANCE, "kid_subsets_std");
});

/** Largest |V·diag(λ)·Vᵀ − A| for eigenvectors in the columns of V. */
function reconstructionError(a: SquareMatrix, values: Float64Array, vectors: Float64Array): number {
  const n = a.n;
  let worst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += vectors[i * n + k] * values[k] * vectors[j * n + k];
      worst = Math.max(worst, Math.abs(sum - a.data[i * n + j]));
    }
  }
  return worst;
}

Deno.test("eigendecompositions reconstruct the matrix", () => {
  const n = 12;
  const sigma = featureStatistics(gaussianFeatures(30, n, 5)).sigma;
  for (const [name, solve] of [["QL", symmetricEigen], ["Jacobi", jacobiEigen]] as const) {
    const { values, vectors } = solve(sigma);
    const worst = reconstructionError(sigma, values, vectors!.data);
    assert.ok(worst < 1e-13, `${name}: V·diag(λ)·Vᵀ differs from the matrix by ${worst}`);
    const sorted = Array.from(solve({ n: 2, data: new Float64Array([2, 1, 1, 2]) }).values).sort();
    assert.ok(Math.abs(sorted[0] - 1) < 1e-15, `${name}: smallest eigenvalue ${sorted[0]}, expected 1`);
    assert.ok(Math.abs(sorted[1] - 3) < 1e-15, `${name}: largest eigenvalue ${sorted[1]}, expected 3`);
  }
});

Deno.test("QL eigenvalues match Jacobi on a rank-deficient covariance", () => {
  // 40 samples in 70 dimensions: rank 39, so 31 eigenvalues are zero up to rounding.
  const sigma = featureStatistics(gaussianFeatures(40, 70, 8)).sigma;
  const fast = symmetricEigen(sigma);
  const slow = jacobiEigen(sigma, false);
  const a = Array.from(fast.values).sort((x, y) => x - y);
  const b = Array.from(slow.values).sort((x, y) => x - y);
  const scale = Math.max(...b.map(Math.abs));
  const worst = Math.max(...a.map((value, i) => Math.abs(value - b[i])));
  assert.ok(worst < 1e-12 * scale, `eigenvalues differ by ${worst} (scale ${scale})`);
  assert.ok(reconstructionError(sigma, fast.values, fast.vectors!.data) < 1e-12 * scale);
  // Orthonormal eigenvectors, including those of the zero cluster.
  const v = fast.vectors!.data;
  let worstDot = 0;
  for (let p = 0; p < 70; p++) {
    for (let q = p; q < 70; q++) {
      let dot = 0;
      for (let i = 0; i < 70; i++) dot += v[i * 70 + p] * v[i * 70 + q];
      worstDot = Math.max(worstDot, Math.abs(dot - (p === q ? 1 : 0)));
    }
  }
  assert.ok(worstDot < 1e-12, `VᵀV differs from I by ${worstDot}`);
});

Deno.test("QL eigen handles diagonal, repeated and empty matrices", () => {
  const diagonal = symmetricEigen({ n: 3, data: new Float64Array([3, 0, 0, 0, -1, 0, 0, 0, 2]) });
  assert.deepEqual(Array.from(diagonal.values).sort((x, y) => x - y), [-1, 2, 3]);
  const repeated = symmetricEigen({ n: 4, data: new Float64Array([2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2]) });
  assert.deepEqual(Array.from(repeated.values), [2, 2, 2, 2]);
  assert.equal(symmetricEigen({ n: 0, data: new Float64Array(0) }).values.length, 0);
});

Deno.test("pivoted cholesky finds the numerical rank", () => {
  const sigma = featureStatistics(gaussianFeatures(10, 64, 4)).sigma;
  const { rank, rows } = pivotedCholesky(sigma);
  assert.equal(rank, 9);
  let worst = 0;
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 64; j++) {
      let sum = 0;
      for (let k = 0; k < rank; k++) sum += rows[k * 64 + i] * rows[k * 64 + j];
      worst = Math.max(worst, Math.abs(sum - sigma.data[i * 64 + j]));
    }
  }
  assert.ok(worst < 1e-13 * trace(sigma), `LᵀL differs from the matrix by ${worst}`);
});

Deno.test("fid square-root term matches the symmetric square-root formula", () => {
  const a = featureStatistics(gaussianFeatures(150, 120, 21)).sigma;
  const b = featureStatistics(gaussianFeatures(90, 120, 22, 0.5)).sigma;
  // tr √(Σ1Σ2) from √Σ1·Σ2·√Σ1 with Jacobi, the slow and independent route.
  const root = symmetricSqrt(a);
  const { values } = jacobiEigen(multiply(multiply(root, b), root), false);
  const expected = values.reduce((sum, lambda) => sum + Math.sqrt(Math.max(lambda, 0)), 0);
  const features = gaussianFeatures(150, 120, 21);
  const other = gaussianFeatures(90, 120, 22, 0.5);
  const terms = fidDetails(features, other);
  // Σ2 has rank 89 of 120, and √ of its rounding-level eigenvalues limits the agreement to about 1e-8.
  assert.ok(Math.abs(terms.traceSqrt - expected) < 1e-7 * expected, `${terms.traceSqrt} vs ${expected}`);
});

Deno.test("symmetric square root squares back to the matrix", () => {
  const sigma = featureStatistics(gaussianFeatures(40, 8, 9)).sigma;
  const root = symmetricSqrt(sigma);
  const square = multiply(root, root);
  const worst = Math.max(...square.data.map((value, i) => Math.abs(value - sigma.data[i])));
  assert.ok(worst < 1e-13, `root² differs by ${worst}`);
});

Deno.test("fid of a set with itself is zero", () => {
  const features = gaussianFeatures(50, 6, 11);
  assert.ok(Math.abs(fid(features, features)) < 1e-10);
  assert.ok(fid(features, gaussianFeatures(50, 6, 12, 1)) > 4, "a unit shift in 6 dims adds about 6");
});

Deno.test("eps fallback rule needs a constant feature on each side", () => {
  const base = gaussianFeatures(20, 4, 3);
  const withConstant = (features: Features, column: number): Features => {
    const data = Float64Array.from(features.data);
    for (let i = 0; i < features.shape[0]; i++) data[i * features.shape[1] + column] = 0.25;
    return { shape: features.shape, data };
  };
  const other = gaussianFeatures(20, 4, 4);
  const stats = (features: Features) => featureStatistics(features);
  assert.equal(pytorchFidTakesFallback(stats(withConstant(base, 0)), stats(withConstant(other, 1))), true);
  assert.equal(pytorchFidTakesFallback(stats(withConstant(base, 0)), stats(other)), false, "one side only");
  assert.equal(pytorchFidTakesFallback(stats(withConstant(base, 2)), stats(withConstant(other, 2))), false, "shared");
  assert.equal(pytorchFidTakesFallback(stats(base), stats(other)), false);
});

Deno.test("constant feature gets exactly zero variance", () => {
  const data = new Float64Array(7 * 2);
  for (let i = 0; i < 7; i++) {
    data[i * 2] = 0.1;
    data[i * 2 + 1] = i;
  }
  const stats = featureStatistics({ shape: [7, 2], data });
  assert.equal(stats.mu[0], 0.1);
  assert.equal(stats.sigma.data[0], 0);
  assert.equal(stats.sigma.data[3], 28 / 6);
});

Deno.test("kid is near zero for one distribution", () => {
  const a = gaussianFeatures(120, 8, 21);
  const b = gaussianFeatures(120, 8, 22);
  assert.ok(Math.abs(kid(a, b)) < 0.05);
  assert.ok(kid(a, gaussianFeatures(120, 8, 23, 2)) > 1);
});

Deno.test("drawn kid subsets are seeded, distinct and in range", () => {
  const first = drawKidSubsets(50, 40, { subsets: 5, subsetSize: 30, seed: 1 });
  const again = drawKidSubsets(50, 40, { subsets: 5, subsetSize: 30, seed: 1 });
  const other = drawKidSubsets(50, 40, { subsets: 5, subsetSize: 30, seed: 2 });
  assert.deepEqual(first, again);
  assert.notDeepEqual(first, other);
  for (const subset of first) {
    assert.equal(new Set(Array.from(subset.fake)).size, 30);
    assert.equal(new Set(Array.from(subset.real)).size, 30);
    assert.ok(Array.from(subset.fake).every((i) => i >= 0 && i < 50));
    assert.ok(Array.from(subset.real).every((i) => i >= 0 && i < 40));
  }
  assert.throws(() => drawKidSubsets(50, 40, { subsetSize: 41 }), CheffError);
});

Deno.test("feature inputs are validated", () => {
  assert.throws(() => featureStatistics({ shape: [1, 4], data: new Float64Array(4) }), /at least 2 samples/);
  assert.throws(() => featureStatistics({ shape: [4], data: new Float64Array(4) }), /\[N, D\]/);
  assert.throws(() => featureStatistics({ shape: [2, 2], data: [0, NaN, 1, 1] }), /not finite/);
  assert.throws(() => fid(gaussianFeatures(5, 3, 1), gaussianFeatures(5, 4, 1)), /feature sizes differ/);
  assert.throws(
    () => kidSubsets(gaussianFeatures(5, 3, 1), gaussianFeatures(5, 3, 2), [{ fake: [0, 5], real: [0, 1] }]),
    /index 5 is outside/,
  );
});
