// Batched matrix product C = alpha · A B (+ bias along C's columns), float32.
//
// Layouts are given as element strides in the parameters, so one pipeline serves
// row-major, transposed and strided operands: A's element (batch t, row m, inner k)
// is a[a_offset + t·a_batch + m·a_row + k·a_col], B's (t, k, column n) is
// b[b_offset + t·b_batch + k·b_row + n·b_col], and C's (t, m, n) is
// c[c_offset + t·c_batch + m·c_row + n]. A batch stride of 0 repeats an operand.
//
// Each invocation computes an 8 × 8 block of C in registers (16 vec4 accumulators).
// Blocks are numbered row by row (block = row_block · ⌈N/8⌉ + column_block) and
// handed to invocations in that order, 64 per workgroup, so a narrow C (attention's
// 32-column value product) leaves no invocation idle. The grid is
// (x, y, batch) with block = x + y · groups_x · 64 folding large counts. On lavapipe (llvmpipe, which runs
// invocations in SIMD lanes) the number of loads per multiply-add is what limits
// speed, and an 8 × 8 block needs 16 loads per 64 multiply-adds; workgroup memory
// tiles were slower there, so none is used. Blocks that run past M or N read
// clamped (repeated) rows and columns and store only the outputs inside C.
//
// Entry points:
//   matmul       any strides, scalar loads.
//   matmul_vec4  A contiguous along k and B along n, with K, N and every offset
//                and stride of A and B a multiple of 4: vec4 loads of 4 k of A
//                and 4 n of B, 4 steps of k per iteration. With a_softmax set,
//                binding 3 holds (max, 1 / sum) for each row of A (row t·M + m),
//                and the kernel multiplies by softmax(A) instead of A: it uses
//                exp(A − max) and scales each output row by 1 / sum. Attention
//                uses this to skip a separate softmax pass over its scores.
//   transpose    a [rows, cols] matrix into [cols, rows]; one element per invocation.

struct Params {
  m: u32, n: u32, k: u32, batch: u32,
  a_offset: u32, a_batch: u32, a_row: u32, a_col: u32,
  b_offset: u32, b_batch: u32, b_row: u32, b_col: u32,
  c_offset: u32, c_batch: u32, c_row: u32, has_bias: u32,
  alpha: f32, a_softmax: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

// The same bindings seen as vec4 arrays, used by matmul_vec4 only.
@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f32>>;

// Stores alpha · v (+ bias) at columns col…col+3 of one row of C, skipping columns ≥ N.
fn store4(o: u32, col: u32, v: vec4<f32>) {
  var x = p.alpha * v;
  if (p.has_bias != 0u) {
    let last = p.n - 1u;
    x += vec4<f32>(bias[min(col, last)], bias[min(col + 1u, last)], bias[min(col + 2u, last)], bias[min(col + 3u, last)]);
  }
  if (col + 3u < p.n) {
    c[o] = x.x;
    c[o + 1u] = x.y;
    c[o + 2u] = x.z;
    c[o + 3u] = x.w;
    return;
  }
  if (col < p.n) { c[o] = x.x; }
  if (col + 1u < p.n) { c[o + 1u] = x.y; }
  if (col + 2u < p.n) { c[o + 2u] = x.z; }
}

// Stores the 8 outputs of one row of a block (columns col…col+7), skipping rows ≥ M.
fn store_row(row: u32, col: u32, c_base: u32, lo: vec4<f32>, hi: vec4<f32>) {
  if (row >= p.m) { return; }
  let o = c_base + row * p.c_row + col;
  store4(o, col, lo);
  store4(o + 4u, col + 4u, hi);
}

// Offsets of rows first…first+3, clamped to the last row, times the row stride.
fn clamped4(first: u32, last: u32, stride: u32) -> vec4<u32> {
  return vec4<u32>(min(first, last), min(first + 1u, last), min(first + 2u, last), min(first + 3u, last)) * stride;
}

// First row and column of the block an invocation computes.
fn block_origin(gid: vec3<u32>, groups: vec3<u32>) -> vec2<u32> {
  let block = gid.x + gid.y * groups.x * 64u;
  let column_blocks = (p.n + 7u) / 8u;
  return vec2<u32>(block / column_blocks * 8u, block % column_blocks * 8u);
}

@compute @workgroup_size(64)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let origin = block_origin(gid, groups);
  let row0 = origin.x;
  let col0 = origin.y;
  if (row0 >= p.m) { return; }
  let t = gid.z;
  let ra0 = p.a_offset + t * p.a_batch + clamped4(row0, p.m - 1u, p.a_row);
  let ra1 = p.a_offset + t * p.a_batch + clamped4(row0 + 4u, p.m - 1u, p.a_row);
  let cb0 = p.b_offset + t * p.b_batch + clamped4(col0, p.n - 1u, p.b_col);
  let cb1 = p.b_offset + t * p.b_batch + clamped4(col0 + 4u, p.n - 1u, p.b_col);
  var c0l = vec4<f32>(0.0);
  var c0h = vec4<f32>(0.0);
  var c1l = vec4<f32>(0.0);
  var c1h = vec4<f32>(0.0);
  var c2l = vec4<f32>(0.0);
  var c2h = vec4<f32>(0.0);
  var c3l = vec4<f32>(0.0);
  var c3h = vec4<f32>(0.0);
  var c4l = vec4<f32>(0.0);
  var c4h = vec4<f32>(0.0);
  var c5l = vec4<f32>(0.0);
  var c5h = vec4<f32>(0.0);
  var c6l = vec4<f32>(0.0);
  var c6h = vec4<f32>(0.0);
  var c7l = vec4<f32>(0.0);
  var c7h = vec4<f32>(0.0);
  for (var kk = 0u; kk < p.k; kk++) {
    let ia0 = ra0 + kk * p.a_col;
    let ia1 = ra1 + kk * p.a_col;
    let ib0 = cb0 + kk * p.b_row;
    let ib1 = cb1 + kk * p.b_row;
    let x0 = vec4<f32>(a[ia0.x], a[ia0.y], a[ia0.z], a[ia0.w]);
    let x1 = vec4<f32>(a[ia1.x], a[ia1.y], a[ia1.z], a[ia1.w]);
    let y0 = vec4<f32>(b[ib0.x], b[ib0.y], b[ib0.z], b[ib0.w]);
    let y1 = vec4<f32>(b[ib1.x], b[ib1.y], b[ib1.z], b[ib1.w]);
    c0l += x0.x * y0;
    c0h += x0.x * y1;
    c1l += x0.y * y0;
    c1h += x0.y * y1;
    c2l += x0.z * y0;
    c2h += x0.z * y1;
    c3l += x0.w * y0;
    c3h += x0.w * y1;
    c4l += x1.x * y0;
    c4h += x1.x * y1;
    c5l += x1.y * y0;
    c5h += x1.y * y1;
    c6l += x1.z * y0;
    c6h += x1.z * y1;
    c7l += x1.w * y0;
    c7h += x1.w * y1;
  }
  let c_base = p.c_offset + t * p.c_batch;
  store_row(row0 + 0u, col0, c_base, c0l, c0h);
  store_row(row0 + 1u, col0, c_base, c1l, c1h);
  store_row(row0 + 2u, col0, c_base, c2l, c2h);
  store_row(row0 + 3u, col0, c_base, c3l, c3h);
  store_row(row0 + 4u, col0, c_base, c4l, c4h);
  store_row(row0 + 5u, col0, c_base, c5l, c5h);
  store_row(row0 + 6u, col0, c_base, c6l, c6h);
  store_row(row0 + 7u, col0, c_base, c7l, c7h);
}

// acc + Σ_i x[i] · y_i: four steps of k for one row of the block.
fn madd(acc: vec4<f32>, x: vec4<f32>, y0: vec4<f32>, y1: vec4<f32>, y2: vec4<f32>, y3: vec4<f32>) -> vec4<f32> {
  return fma(vec4<f32>(x.w), y3, fma(vec4<f32>(x.z), y2, fma(vec4<f32>(x.y), y1, fma(vec4<f32>(x.x), y0, acc))));
}

@compute @workgroup_size(64)
fn matmul_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let origin = block_origin(gid, groups);
  let row0 = origin.x;
  let col0 = origin.y;
  if (row0 >= p.m) { return; }
  let t = gid.z;
  let ra0 = p.a_offset + t * p.a_batch + clamped4(row0, p.m - 1u, p.a_row);
  let ra1 = p.a_offset + t * p.a_batch + clamped4(row0 + 4u, p.m - 1u, p.a_row);
  // N is a multiple of 4 and col0 < N, so only the upper half of the block can run past N.
  let b_lo = p.b_offset + t * p.b_batch + col0;
  let b_hi = p.b_offset + t * p.b_batch + min(col0 + 4u, p.n - 4u);
  var max0 = vec4<f32>(0.0);
  var max1 = vec4<f32>(0.0);
  var inverse0 = vec4<f32>(1.0);
  var inverse1 = vec4<f32>(1.0);
  if (p.a_softmax != 0u) {
    let s0 = 2u * (t * p.m + clamped4(row0, p.m - 1u, 1u));
    let s1 = 2u * (t * p.m + clamped4(row0 + 4u, p.m - 1u, 1u));
    max0 = vec4<f32>(bias[s0.x], bias[s0.y], bias[s0.z], bias[s0.w]);
    max1 = vec4<f32>(bias[s1.x], bias[s1.y], bias[s1.z], bias[s1.w]);
    inverse0 = vec4<f32>(bias[s0.x + 1u], bias[s0.y + 1u], bias[s0.z + 1u], bias[s0.w + 1u]);
    inverse1 = vec4<f32>(bias[s1.x + 1u], bias[s1.y + 1u], bias[s1.z + 1u], bias[s1.w + 1u]);
  }
  var c0l = vec4<f32>(0.0);
  var c0h = vec4<f32>(0.0);
  var c1l = vec4<f32>(0.0);
  var c1h = vec4<f32>(0.0);
  var c2l = vec4<f32>(0.0);
  var c2h = vec4<f32>(0.0);
  var c3l = vec4<f32>(0.0);
  var c3h = vec4<f32>(0.0);
  var c4l = vec4<f32>(0.0);
  var c4h = vec4<f32>(0.0);
  var c5l = vec4<f32>(0.0);
  var c5h = vec4<f32>(0.0);
  var c6l = vec4<f32>(0.0);
  var c6h = vec4<f32>(0.0);
  var c7l = vec4<f32>(0.0);
  var c7h = vec4<f32>(0.0);
  for (var kk = 0u; kk < p.k; kk += 4u) {
    var x0 = a4[(ra0.x + kk) >> 2u];
    var x1 = a4[(ra0.y + kk) >> 2u];
    var x2 = a4[(ra0.z + kk) >> 2u];
    var x3 = a4[(ra0.w + kk) >> 2u];
    var x4 = a4[(ra1.x + kk) >> 2u];
    var x5 = a4[(ra1.y + kk) >> 2u];
    var x6 = a4[(ra1.z + kk) >> 2u];
    var x7 = a4[(ra1.w + kk) >> 2u];
    if (p.a_softmax != 0u) {
      x0 = exp(x0 - max0.x);
      x1 = exp(x1 - max0.y);
      x2 = exp(x2 - max0.z);
      x3 = exp(x3 - max0.w);
      x4 = exp(x4 - max1.x);
      x5 = exp(x5 - max1.y);
      x6 = exp(x6 - max1.z);
      x7 = exp(x7 - max1.w);
    }
    let o0 = kk * p.b_row;
    let o1 = o0 + p.b_row;
    let o2 = o1 + p.b_row;
    let o3 = o2 + p.b_row;
    let l0 = b4[(b_lo + o0) >> 2u];
    let l1 = b4[(b_lo + o1) >> 2u];
    let l2 = b4[(b_lo + o2) >> 2u];
    let l3 = b4[(b_lo + o3) >> 2u];
    let h0 = b4[(b_hi + o0) >> 2u];
    let h1 = b4[(b_hi + o1) >> 2u];
    let h2 = b4[(b_hi + o2) >> 2u];
    let h3 = b4[(b_hi + o3) >> 2u];
    c0l = madd(c0l, x0, l0, l1, l2, l3);
    c0h = madd(c0h, x0, h0, h1, h2, h3);
    c1l = madd(c1l, x1, l0, l1, l2, l3);
    c1h = madd(c1h, x1, h0, h1, h2, h3);
    c2l = madd(c2l, x2, l0, l1, l2, l3);
    c2h = madd(c2h, x2, h0, h1, h2, h3);
    c3l = madd(c3l, x3, l0, l1, l2, l3);
    c3h = madd(c3h, x3, h0, h1, h2, h3);
    c4l = madd(c4l, x4, l0, l1, l2, l3);
    c4h = madd(c4h, x4, h0, h1, h2, h3);
    c5l = madd(c5l, x5, l0, l1, l2, l3);
    c5h = madd(c5h, x5, h0, h1, h2, h3);
    c6l = madd(c6l, x6, l0, l1, l2, l3);
    c6h = madd(c6h, x6, h0, h1, h2, h3);
    c7l = madd(c7l, x7, l0, l1, l2, l3);
    c7h = madd(c7h, x7, h0, h1, h2, h3);
  }
  let c_base = p.c_offset + t * p.c_batch;
  store_row(row0 + 0u, col0, c_base, c0l * inverse0.x, c0h * inverse0.x);
  store_row(row0 + 1u, col0, c_base, c1l * inverse0.y, c1h * inverse0.y);
  store_row(row0 + 2u, col0, c_base, c2l * inverse0.z, c2h * inverse0.z);
  store_row(row0 + 3u, col0, c_base, c3l * inverse0.w, c3h * inverse0.w);
  store_row(row0 + 4u, col0, c_base, c4l * inverse1.x, c4h * inverse1.x);
  store_row(row0 + 5u, col0, c_base, c5l * inverse1.y, c5h * inverse1.y);
  store_row(row0 + 6u, col0, c_base, c6l * inverse1.z, c6h * inverse1.z);
  store_row(row0 + 7u, col0, c_base, c7l * inverse1.w, c7h * inverse1.w);
}

struct TransposeParams {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> tp: TransposeParams;
@group(0) @binding(2) var<storage, read_write> transposed: array<f32>;

// transposed[j, i] = a[i, j]; the grid is (⌈cols/8⌉, ⌈rows/8⌉) workgroups of 8 × 8.
@compute @workgroup_size(8, 8)
fn transpose(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  let i = gid.y;
  if (i >= tp.rows || j >= tp.cols) { return; }
  transposed[j * tp.rows + i] = a[i * tp.cols + j];
}
