// Gaussian noise from Philox4x32-10 and Box–Muller, bit-identical in its integer
// words to stages/noise/philox.ts and within 1e-5 of it in the normals.
//
// Element e of one image's tensor (row-major C, H, W) uses counter
// (e / 4, slot, stream, stage) and key (seed_lo, seed_hi); the block's words
// (w0, w1) and (w2, w3) give two normals each and element e takes normal e % 4.
// One invocation computes one block of four elements and writes those of them
// that fall in [offset, offset + count) to out[e - offset], so a dispatch can
// produce any slice of a tensor. Invocations needed: the number of blocks that
// slice touches, ceil((offset % 4 + count) / 4).
//
// Layout: binding 0 is the uniform Params below, binding 1 the output storage
// buffer (f32 normals for `philox_normals`, u32 words for `philox_words`).
// Workgroups are 64 wide along x; the global index is
// gid.x + gid.y * num_workgroups.x * 64, so a count beyond 64 · 65535 · 4
// elements runs as a 2-D dispatch.
//
// WGSL has no 64-bit integers, so the 32×32 → 64-bit products are built from
// 16-bit limbs. Box–Muller runs in f32 without the built-in log, sin and cos,
// whose accuracy WGSL leaves loose (absolute 2^-11 for sin and cos, 2^-21 for log
// near 1); the polynomials below keep every normal within about 1e-6.

struct Params {
  seed_lo: u32,
  seed_hi: u32,
  slot: u32,
  stream: u32,
  stage: u32,
  count: u32,
  offset: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out_normals: array<f32>;
@group(0) @binding(1) var<storage, read_write> out_words: array<u32>;

const M0: u32 = 0xD2511F53u;
const M1: u32 = 0xCD9E8D57u;
const W0: u32 = 0x9E3779B9u;
const W1: u32 = 0xBB67AE85u;

const LN2: f32 = 0.693147180559945;
const SQRT2: f32 = 1.4142135623730951;
const HALF_PI: f32 = 1.5707963267948966;

// (high, low) 32-bit halves of a * b.
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
  let a_lo = a & 0xFFFFu;
  let a_hi = a >> 16u;
  let b_lo = b & 0xFFFFu;
  let b_hi = b >> 16u;
  let lo_lo = a_lo * b_lo;
  let lo_hi = a_lo * b_hi;
  let hi_lo = a_hi * b_lo;
  let hi_hi = a_hi * b_hi;
  let middle = (lo_lo >> 16u) + (lo_hi & 0xFFFFu) + (hi_lo & 0xFFFFu);
  let high = hi_hi + (lo_hi >> 16u) + (hi_lo >> 16u) + (middle >> 16u);
  return vec2<u32>(high, a * b);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = counter;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    if (r > 0u) {
      k = k + vec2<u32>(W0, W1);
    }
    let p0 = mulhilo(M0, c.x);
    let p1 = mulhilo(M1, c.z);
    c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
  }
  return c;
}

// ln(u) for u = ((w >> 8) + 0.5) / 2^24 = n / 2^25 with n = 2 (w >> 8) + 1.
// Writes u = 2^E · g with g in [√½, √2], where g − 1 is an exact f32 taken from
// the integer n, then ln g = 2 atanh(s), s = (g − 1)/(g + 1), |s| ≤ 0.172,
// by its series to s^11 (truncation below 1e-10 relative).
fn log_uniform(w: u32) -> f32 {
  let n = 2u * (w >> 8u) + 1u;
  let b = firstLeadingBit(n);
  var exponent = i32(b) - 25;
  var g_minus_1: f32;
  if (f32(n) > f32(1u << b) * SQRT2) {
    // g = n / 2^(b+1) in [√½, 1): g − 1 = −(2^(b+1) − n) / 2^(b+1).
    exponent = exponent + 1;
    g_minus_1 = -ldexp(f32((2u << b) - n), -i32(b + 1u));
  } else {
    // g = n / 2^b in [1, √2]: g − 1 = (n − 2^b) / 2^b.
    g_minus_1 = ldexp(f32(n - (1u << b)), -i32(b));
  }
  let s = g_minus_1 / (g_minus_1 + 2.0);
  let s2 = s * s;
  let series = 1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0 + s2 * (1.0 / 11.0)))));
  return f32(exponent) * LN2 + 2.0 * s * series;
}

// (cos 2πu, sin 2πu) for u = ((w >> 8) + 0.5) / 2^24, evaluated as
// −(cos, sin)(2π(u − ½)). u − ½ = d / 2^25 with the integer d = n − 2^24; the
// quarter turns k = round(d / 2^23) are split off exactly and the rest,
// x in [−π/4, π/4], goes through Taylor polynomials (to x^11 and x^12).
fn cos_sin_turn(w: u32) -> vec2<f32> {
  let d = i32(2u * (w >> 8u) + 1u) - (1 << 24u);
  let k = (d + (1 << 22u)) >> 23u;
  let rest = d - (k << 23u);
  let x = f32(rest) * (HALF_PI / 8388608.0);
  let x2 = x * x;
  let sin_x = x * (1.0 - x2 / 6.0 * (1.0 - x2 / 20.0 * (1.0 - x2 / 42.0 * (1.0 - x2 / 72.0 * (1.0 - x2 / 110.0)))));
  let cos_x = 1.0 - x2 / 2.0 * (1.0 - x2 / 12.0 * (1.0 - x2 / 30.0 * (1.0 - x2 / 56.0 * (1.0 - x2 / 90.0 * (1.0 - x2 / 132.0)))));
  // Rotate by k quarter turns, then negate for the half turn taken off above.
  var rotated: vec2<f32>;
  switch (k & 3) {
    case 0: { rotated = vec2<f32>(cos_x, sin_x); }
    case 1: { rotated = vec2<f32>(-sin_x, cos_x); }
    case 2: { rotated = vec2<f32>(-cos_x, -sin_x); }
    default: { rotated = vec2<f32>(sin_x, -cos_x); }
  }
  return -rotated;
}

fn box_muller(words: vec4<u32>) -> vec4<f32> {
  let r01 = sqrt(-2.0 * log_uniform(words.x));
  let r23 = sqrt(-2.0 * log_uniform(words.z));
  let a01 = cos_sin_turn(words.y);
  let a23 = cos_sin_turn(words.w);
  return vec4<f32>(r01 * a01.x, r01 * a01.y, r23 * a23.x, r23 * a23.y);
}

// The block this invocation computes, or false when it lies past the slice.
fn block_index(gid: vec3<u32>, groups: vec3<u32>, block: ptr<function, u32>) -> bool {
  let index = gid.x + gid.y * groups.x * 64u;
  let first_block = params.offset / 4u;
  let last_block = (params.offset + params.count - 1u) / 4u;
  if (params.count == 0u || index > last_block - first_block) {
    return false;
  }
  *block = first_block + index;
  return true;
}

fn block_words(block: u32) -> vec4<u32> {
  return philox4x32_10(
    vec4<u32>(block, params.slot, params.stream, params.stage),
    vec2<u32>(params.seed_lo, params.seed_hi),
  );
}

@compute @workgroup_size(64)
fn philox_normals(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  var block: u32;
  if (!block_index(gid, groups, &block)) {
    return;
  }
  let z = box_muller(block_words(block));
  for (var j = 0u; j < 4u; j++) {
    let e = 4u * block + j;
    if (e >= params.offset && e - params.offset < params.count) {
      out_normals[e - params.offset] = z[j];
    }
  }
}

// The raw words in the same layout, for checking the integer stream.
@compute @workgroup_size(64)
fn philox_words(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  var block: u32;
  if (!block_index(gid, groups, &block)) {
    return;
  }
  let words = block_words(block);
  for (var j = 0u; j < 4u; j++) {
    let e = 4u * block + j;
    if (e >= params.offset && e - params.offset < params.count) {
      out_words[e - params.offset] = words[j];
    }
  }
}
