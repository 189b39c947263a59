/**
 * Dense float64 linear algebra for the distribution metrics: square matrices in
 * row-major Float64Arrays, a cyclic Jacobi eigendecomposition for symmetric
 * matrices, and the symmetric square root built from it.
 */

/** A square n×n matrix, row-major. */
export interface SquareMatrix {
  n: number;
  data: Float64Array;
}

/** Eigenvalues (in no particular order) and, when requested, the eigenvectors as the columns of `vectors`. */
export interface SymmetricEigen {
  values: Float64Array;
  vectors?: SquareMatrix;
}

/** Maximum number of Jacobi sweeps; a symmetric matrix converges in well under 20. */
const MAX_SWEEPS = 100;

/**
 * Computes the eigenvalues (and optionally eigenvectors) of a symmetric matrix
 * by cyclic Jacobi rotations in float64. Only the upper triangle of `matrix` is
 * read. Jacobi keeps small eigenvalues accurate relative to their size, which
 * the square roots in FID depend on.
 *
 * NOTE: the cost is about 8·n³ operations per sweep with vectors, over 6 to 10
 * sweeps, and the column updates miss the cache once the matrix outgrows it. A
 * whole FID took 1 s with 256 features and 22 s with 512 (Deno 2.9.6, 2-core
 * x86-64 container), so InceptionV3's 2048 features would take an estimated
 * 20 minutes or more. A Householder tridiagonalisation followed by QL iterations
 * would cut that several times over.
 *
 * @example
 * const { values } = symmetricEigen({ n: 2, data: new Float64Array([2, 1, 1, 2]) }); // values 1 and 3
 */
export function symmetricEigen(matrix: SquareMatrix, withVectors = true): SymmetricEigen {
  const n = matrix.n;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      a[i * n + j] = matrix.data[i * n + j];
      a[j * n + i] = matrix.data[i * n + j];
    }
  }
  const v = withVectors ? identity(n).data : undefined;

  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let offDiagonal = 0;
    let diagonal = 0;
    for (let i = 0; i < n; i++) {
      diagonal += a[i * n + i] * a[i * n + i];
      for (let j = i + 1; j < n; j++) offDiagonal += a[i * n + j] * a[i * n + j];
    }
    // Stop once the off-diagonal part is at rounding level of the whole matrix.
    if (offDiagonal === 0 || offDiagonal <= 1e-32 * (diagonal + 2 * offDiagonal)) break;

    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const app = a[p * n + p];
        const aqq = a[q * n + q];
        // The rotation angle that zeroes a[p][q]: t = tan(angle), the smaller root of t² + 2θt − 1 = 0.
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;

        a[p * n + p] = app - t * apq;
        a[q * n + q] = aqq + t * apq;
        a[p * n + q] = 0;
        a[q * n + p] = 0;
        for (let r = 0; r < n; r++) {
          if (r === p || r === q) continue;
          const arp = a[r * n + p];
          const arq = a[r * n + q];
          const newRp = c * arp - s * arq;
          const newRq = s * arp + c * arq;
          a[r * n + p] = newRp;
          a[p * n + r] = newRp;
          a[r * n + q] = newRq;
          a[q * n + r] = newRq;
        }
        if (v) {
          for (let r = 0; r < n; r++) {
            const vrp = v[r * n + p];
            const vrq = v[r * n + q];
            v[r * n + p] = c * vrp - s * vrq;
            v[r * n + q] = s * vrp + c * vrq;
          }
        }
      }
    }
  }

  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return v ? { values, vectors: { n, data: v } } : { values };
}

/** Returns the n×n identity matrix. */
export function identity(n: number): SquareMatrix {
  const data = new Float64Array(n * n);
  for (let i = 0; i < n; i++) data[i * n + i] = 1;
  return { n, data };
}

/** Returns a + scale·I. */
export function addDiagonal(a: SquareMatrix, scale: number): SquareMatrix {
  const data = a.data.slice();
  for (let i = 0; i < a.n; i++) data[i * a.n + i] += scale;
  return { n: a.n, data };
}

/** Returns the trace of a square matrix. */
export function trace(a: SquareMatrix): number {
  let sum = 0;
  for (let i = 0; i < a.n; i++) sum += a.data[i * a.n + i];
  return sum;
}

/** Returns the product a·b of two n×n matrices. */
export function multiply(a: SquareMatrix, b: SquareMatrix): SquareMatrix {
  const n = a.n;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a.data[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += aik * b.data[k * n + j];
    }
  }
  return { n, data: out };
}

/**
 * Returns the symmetric positive semi-definite square root V·diag(√max(λ, 0))·Vᵀ
 * of a symmetric matrix. Negative eigenvalues, which a positive semi-definite
 * matrix shows only as rounding noise, are clamped to 0.
 */
export function symmetricSqrt(a: SquareMatrix): SquareMatrix {
  const n = a.n;
  const { values, vectors } = symmetricEigen(a, true);
  const v = vectors!.data;
  const roots = values.map((lambda) => Math.sqrt(Math.max(lambda, 0)));
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += v[i * n + k] * roots[k] * v[j * n + k];
      out[i * n + j] = sum;
      out[j * n + i] = sum;
    }
  }
  return { n, data: out };
}
