/**
 * cheff's Gaussian noise: Philox4x32-10 (Salmon et al., "Parallel random numbers:
 * as easy as 1, 2, 3", SC 2011) turned into normals by Box–Muller. The same
 * integer stream comes out of `kernels/wgsl/philox.wgsl`, bit for bit, and the
 * normals agree with it to 1e-5.
 *
 * For element e of one image's tensor (row-major C, H, W):
 * - key = the image's 64-bit seed, low word first;
 * - counter = (⌊e/4⌋, slot, stream, stage);
 * - each output word w gives u = ((w >> 8) + 0.5) / 2^24, in (0, 1);
 * - (w0, w1) and (w2, w3) each give two normals: r = √(−2 ln u_a),
 *   z_a = r cos(2π u_b), z_b = r sin(2π u_b);
 * - element e takes z number e mod 4.
 *
 * @example
 * ```ts
 * const xT = normals(42n, 3 * 64 * 64, { slot: 0, stream: STREAM.xT, stage: STAGE.latent });
 * ```
 */
import { CheffError } from "../../io/errors.ts";

/** Philox4x32 round multipliers. */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
/** Weyl-sequence key increments (golden ratio and √3 − 1, as 32-bit fractions). */
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const ROUNDS = 10;

/** The stream ids of the counter's third word: what a draw is for. */
export const STREAM = {
  /** The starting noise x_T. */
  xT: 0,
  /** The noise a sampling step adds. */
  step: 1,
  /** The forward noise that takes a kept original to a step's noise level (inpainting). */
  qNoise: 2,
  /** A training step's posterior sample (the autoencoder's latent). */
  posterior: 3,
  /** A training step's target noise eps. */
  trainingEps: 4,
  /** A training step's timestep. */
  timestep: 5,
  /** A training step's crop position (super-resolution on crops). */
  trainingCrop: 6,
} as const;

/** The stage ids of the counter's fourth word. */
export const STAGE = {
  latent: 0,
  superResolution: 1,
  autoencoder: 2,
} as const;

/** Position of a draw in the stream: the counter words after the block index. */
export interface NoiseAddress {
  /** The sampling step's index in sampling order (0 for x_T and the first step), or the training step. */
  slot: number;
  stream: number;
  stage: number;
}

/** Computes the 32-bit high and low halves of a·b with 16-bit limbs, as the WGSL kernel does. */
function mulhilo(a: number, b: number): [number, number] {
  const aLow = a & 0xffff;
  const aHigh = a >>> 16;
  const bLow = b & 0xffff;
  const bHigh = b >>> 16;
  const lowLow = aLow * bLow;
  const lowHigh = aLow * bHigh;
  const highLow = aHigh * bLow;
  const highHigh = aHigh * bHigh;
  const middle = (lowLow >>> 16) + (lowHigh & 0xffff) + (highLow & 0xffff);
  const high = (highHigh + (lowHigh >>> 16) + (highLow >>> 16) + (middle >>> 16)) >>> 0;
  const low = ((middle << 16) | (lowLow & 0xffff)) >>> 0;
  return [high, low];
}

/**
 * Computes one Philox4x32-10 block: four 32-bit output words for a four-word counter and a
 * two-word key. All values are unsigned 32-bit integers.
 */
export function philox4x32(
  counter: readonly number[],
  key: readonly number[],
): [number, number, number, number] {
  let c0 = counter[0] >>> 0;
  let c1 = counter[1] >>> 0;
  let c2 = counter[2] >>> 0;
  let c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let round = 0; round < ROUNDS; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const [high0, low0] = mulhilo(M0, c0);
    const [high1, low1] = mulhilo(M1, c2);
    const next0 = (high1 ^ c1 ^ k0) >>> 0;
    const next2 = (high0 ^ c3 ^ k1) >>> 0;
    c0 = next0;
    c1 = low1;
    c2 = next2;
    c3 = low0;
  }
  return [c0, c1, c2, c3];
}

/** Splits a seed into the Philox key (low word, high word). Throws unless 0 ≤ seed < 2^64. */
export function seedKey(seed: number | bigint): [number, number] {
  let value: bigint;
  if (typeof seed === "bigint") {
    value = seed;
  } else {
    if (!Number.isSafeInteger(seed)) {
      throw new CheffError(
        `seed ${seed}: expected an integer from 0 to 2^53 − 1 (pass a bigint for larger seeds)`,
      );
    }
    value = BigInt(seed);
  }
  if (value < 0n || value >= 1n << 64n) {
    throw new CheffError(`seed ${seed}: expected an integer from 0 to 2^64 − 1`);
  }
  return [Number(value & 0xffffffffn), Number(value >> 32n)];
}

function checkAddress(address: NoiseAddress): void {
  for (const name of ["slot", "stream", "stage"] as const) {
    const value = address[name];
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new CheffError(`noise ${name} ${value}: expected an integer from 0 to 2^32 − 1`);
    }
  }
}

function checkCount(count: number): void {
  // ⌊e/4⌋ must fit the 32-bit first counter word.
  if (!Number.isInteger(count) || count < 0 || count > 4 * 2 ** 32) {
    throw new CheffError(`noise element count ${count}: expected an integer from 0 to 2^34`);
  }
}

/**
 * Returns the raw words for elements 0 … count−1: element e gets word number e mod 4 of
 * the block for counter (⌊e/4⌋, slot, stream, stage).
 */
export function philoxWords(seed: number | bigint, count: number, address: NoiseAddress): Uint32Array {
  checkCount(count);
  checkAddress(address);
  const key = seedKey(seed);
  const out = new Uint32Array(count);
  for (let block = 0; 4 * block < count; block++) {
    const words = philox4x32([block, address.slot, address.stream, address.stage], key);
    for (let j = 0; j < 4 && 4 * block + j < count; j++) out[4 * block + j] = words[j];
  }
  return out;
}

/** Maps a word to u = ((w >> 8) + 0.5) / 2^24, the centre of one of 2^24 equal cells of (0, 1). */
export function wordToUniform(word: number): number {
  return ((word >>> 8) + 0.5) / 16777216;
}

/**
 * Computes the four normals of one block by Box–Muller, in float64. The angle is taken as
 * 2π(u − ½) ∈ [−π, π] with the sign flipped (cos(2πu) = −cos(2π(u − ½)), sin
 * likewise), the form the WGSL kernel evaluates.
 */
export function boxMuller(words: readonly number[]): [number, number, number, number] {
  const out: [number, number, number, number] = [0, 0, 0, 0];
  for (const pair of [0, 2]) {
    const radius = Math.sqrt(-2 * Math.log(wordToUniform(words[pair])));
    const angle = 2 * Math.PI * (wordToUniform(words[pair + 1]) - 0.5);
    out[pair] = -radius * Math.cos(angle);
    out[pair + 1] = -radius * Math.sin(angle);
  }
  return out;
}

/** Draws standard normals for elements 0 … count−1 of one image's tensor (see the file header). */
export function normals(seed: number | bigint, count: number, address: NoiseAddress): Float32Array {
  checkCount(count);
  checkAddress(address);
  const key = seedKey(seed);
  const out = new Float32Array(count);
  for (let block = 0; 4 * block < count; block++) {
    const z = boxMuller(philox4x32([block, address.slot, address.stream, address.stage], key));
    for (let j = 0; j < 4 && 4 * block + j < count; j++) out[4 * block + j] = z[j];
  }
  return out;
}

/**
 * Draws uniform integers in [0, bound) for elements 0 … count−1, one per output word:
 * element e takes word w = number e mod 4 of the block for counter (⌊e/4⌋, slot,
 * stream, stage) and gives ⌊w · bound / 2^32⌋. This multiply-shift keeps each
 * value's probability within bound / 2^32 of uniform (below 5e-7 for 2000 steps),
 * and the WGSL kernel can compute it from the same words. Used for training
 * timesteps with `STREAM.timestep`.
 */
export function uniformInts(
  seed: number | bigint,
  count: number,
  bound: number,
  address: NoiseAddress,
): Int32Array {
  if (!Number.isInteger(bound) || bound < 1 || bound > 2 ** 31) {
    throw new CheffError(`uniform integer bound ${bound}: expected an integer from 1 to 2^31`);
  }
  const words = philoxWords(seed, count, address);
  const out = new Int32Array(count);
  // w · bound < 2^63 would overflow a double's 53 bits, so split w into 16-bit halves.
  for (let i = 0; i < count; i++) {
    const w = words[i];
    const high = (w >>> 16) * bound;
    const low = (w & 0xffff) * bound;
    out[i] = Math.floor((high + Math.floor(low / 65536)) / 65536);
  }
  return out;
}

/** Workgroup width of `kernels/wgsl/philox.wgsl`. */
export const PHILOX_WORKGROUP_SIZE = 64;

/**
 * Builds the kernel's uniform Params (8 u32: seed_lo, seed_hi, slot, stream, stage,
 * count, offset, padding) for elements offset … offset+count−1 of one image.
 */
export function philoxKernelParams(
  seed: number | bigint,
  count: number,
  address: NoiseAddress,
  offset = 0,
): Uint32Array<ArrayBuffer> {
  checkAddress(address);
  if (
    !Number.isInteger(count) || !Number.isInteger(offset) || count < 0 || offset < 0 ||
    offset + count > 0xffffffff
  ) {
    throw new CheffError(
      `noise slice [${offset}, ${offset + count}): the kernel takes element indices below 2^32`,
    );
  }
  const [low, high] = seedKey(seed);
  return Uint32Array.of(low, high, address.slot, address.stream, address.stage, count, offset, 0);
}

/**
 * Computes the workgroup counts [x, y] covering the blocks that elements offset … offset+count−1
 * touch, spilling into y when x would exceed `maxPerDimension` (the device's
 * maxComputeWorkgroupsPerDimension).
 */
export function philoxWorkgroups(count: number, offset = 0, maxPerDimension = 65535): [number, number] {
  if (count === 0) return [0, 0];
  const blocks = Math.ceil(((offset % 4) + count) / 4);
  const groups = Math.ceil(blocks / PHILOX_WORKGROUP_SIZE);
  if (groups <= maxPerDimension) return [groups, 1];
  const y = Math.ceil(groups / maxPerDimension);
  return [Math.ceil(groups / y), y];
}
