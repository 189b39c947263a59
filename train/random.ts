/**
 * The seeded random streams of training that are not noise: mulberry32 for the
 * data order and for fresh weights (uniforms in (0, 1), and normals by
 * Box–Muller). It is not Philox: nothing drawn here has to match the
 * reference's noise.
 */

/** Returns a function that draws 32-bit unsigned integers from a mulberry32 stream seeded with `seed`. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Returns a function that draws uniforms in (0, 1) from a mulberry32 stream seeded with `seed`. */
export function uniformStream(seed: number): () => number {
  const bits = mulberry32(seed);
  return () => (bits() + 0.5) / 2 ** 32;
}

/** Draws one standard normal from two uniforms of `random` (Box–Muller, cosine branch). */
export function standardNormal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random())) * Math.cos(2 * Math.PI * random());
}
