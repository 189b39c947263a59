// Batched matrix product C = alpha · A B (+ bias along C's columns), float32.
//
// Layouts are given as element strides in the parameters, so one pipeline serves
// row-major, transposed and strided operands: A's element (batch t, row m, inner k)
// is a[a_offset + t·a_batch + m·a_row + k·a_col], B's (t, k, column n) is
// b[b_offset + t·b_batch + k·b_row + n·b_col], and C's (t, m, n) is
// c[c_offset + t·c_batch + m·c_row + n]. A batch stride of 0 repeats an operand.
//
// Each invocation computes one block of C in registers, with no workgroup memory
// (tiles in workgroup memory were slower on lavapipe). Blocks are numbered row by
// row (block = row_block · column_blocks + column_block) and handed out 64 per
// workgroup, so a narrow C such as attention's 32-column value product leaves no
// invocation idle. The grid is (x, y, batch) with block = x + y · groups_x · 64.
// Blocks that run past M or N read repeated rows and columns and store only the
// outputs inside C.
//
// Entry points:
//   matmul               8 × 8 blocks, any strides, scalar loads.
//   matmul_vec4          8 × 8 blocks with vec4 loads, 4 steps of k per iteration:
//                        4 k of a row of A and 4 n of a row of B at once. A must be
//                        contiguous along k and B along n, and K, N and every offset
//                        and stride of A and B must be multiples of 4.
//   matmul_vec4_nt       the same for B contiguous along k (B's column n is a vec4
//                        run over k: linear's [O, K] weight, attention's keys). K,
//                        b_col and the offsets and batch strides must be multiples
//                        of 4, and N may be anything.
//   matmul_vec4_wide,    the same two with 32 × 32 blocks, for CPU adapters. lavapipe
//   matmul_vec4_nt_wide  runs invocations in SIMD lanes, so an invocation's registers
//                        are cheap and loads per multiply-add limit speed: a 32 × 32
//                        block needs 64 vec4 loads per 1024 vec4 multiply-adds, an
//                        8 × 8 block 16 per 64. On lavapipe (LLVM 15, 2 shared cores)
//                        1024³ ran at 12–21 GFLOP/s in 32 × 32 blocks against 5–8 in
//                        8 × 8 ones, with 16 × 16 and 32 × 16 blocks in between.
//                        GPUs get the 8 × 8 kernels, since that many accumulators
//                        would likely spill a GPU's registers (not measured).
//
// With the override SOFTMAX_A set, the vec4 kernels multiply by softmax(A) instead
// of A: binding 3 then holds (max, 1 / sum) for each row of A (row t·M + m), the
// kernel uses exp(A − max) and scales each output row by 1 / sum. Attention uses
// this to skip a separate softmax pass over its scores.

struct Params {
  m: u32, n: u32, k: u32, batch: u32,
  a_offset: u32, a_batch: u32, a_row: u32, a_col: u32,
  b_offset: u32, b_batch: u32, b_row: u32, b_col: u32,
  c_offset: u32, c_batch: u32, c_row: u32, has_bias: u32,
  alpha: f32,
}

override SOFTMAX_A: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
// The bias, or the softmax statistics of A's rows when SOFTMAX_A is set.
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

// The same bindings seen as vec4 arrays, used by the vec4 kernels only.
@group(0) @binding(1) var<storage, read> a4: array<vec4f>;
@group(0) @binding(2) var<storage, read> b4: array<vec4f>;

// Stores alpha · scale · v (+ bias) at columns col…col+3 of C from element o, skipping columns ≥ N.
fn store4(o: u32, col: u32, scale: f32, v: vec4f) {
  var x = (p.alpha * scale) * v;
  if (p.has_bias != 0u) {
    let last = p.n - 1u;
    x += vec4f(bias[min(col, last)], bias[min(col + 1u, last)], bias[min(col + 2u, last)], bias[min(col + 3u, last)]);
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

// Stores 8 outputs of one row of C (columns col…col+7), skipping rows ≥ M.
fn store_row8(c_base: u32, row: u32, col: u32, scale: f32, lo: vec4f, hi: vec4f) {
  if (row >= p.m) { return; }
  let o = c_base + row * p.c_row + col;
  store4(o, col, scale, lo);
  store4(o + 4u, col + 4u, scale, hi);
}

// Stores 32 outputs of one row of C (columns col…col+31), skipping rows ≥ M.
fn store_row32(c_base: u32, row: u32, col: u32, scale: f32,
               v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f, v4: vec4f, v5: vec4f, v6: vec4f, v7: vec4f) {
  store_row8(c_base, row, col, scale, v0, v1);
  store_row8(c_base, row, col + 8u, scale, v2, v3);
  store_row8(c_base, row, col + 16u, scale, v4, v5);
  store_row8(c_base, row, col + 24u, scale, v6, v7);
}

// Offsets of rows first…first+3, clamped to the last row, times the row stride.
fn clamped4(first: u32, last: u32, stride: u32) -> vec4<u32> {
  return vec4<u32>(min(first, last), min(first + 1u, last), min(first + 2u, last), min(first + 3u, last)) * stride;
}

// First row and column of the rows × cols block an invocation computes.
fn block_origin(gid: vec3<u32>, groups: vec3<u32>, rows: u32, cols: u32) -> vec2<u32> {
  let block = gid.x + gid.y * groups.x * 64u;
  let column_blocks = (p.n + cols - 1u) / cols;
  return vec2<u32>(block / column_blocks * rows, block % column_blocks * cols);
}

// (max, 1 / sum) of row m of A's softmax, for batch t; the row is clamped to M − 1.
fn row_stats(t: u32, m: u32) -> vec2f {
  let i = 2u * (t * p.m + min(m, p.m - 1u));
  return vec2f(bias[i], bias[i + 1u]);
}

// acc + x · y = acc + (dot(x, y[0]), …, dot(x, y[3])): four steps of k for four
// columns, when y's columns are B's columns at k…k+3.
fn madd_nt(acc: vec4f, x: vec4f, y: mat4x4f) -> vec4f {
  return acc + vec4f(dot(x, y[0]), dot(x, y[1]), dot(x, y[2]), dot(x, y[3]));
}

// acc + y · x: four steps of k (x holds A at k…k+3, y's columns are B's rows k…k+3).
fn madd(acc: vec4f, x: vec4f, y: mat4x4f) -> vec4f {
  return fma(vec4f(x.w), y[3], fma(vec4f(x.z), y[2], fma(vec4f(x.y), y[1], fma(vec4f(x.x), y[0], acc))));
}

@compute @workgroup_size(64)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let origin = block_origin(gid, groups, 8u, 8u);
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
  store_row8(c_base, row0 + 0u, col0, 1.0, c0l, c0h);
  store_row8(c_base, row0 + 1u, col0, 1.0, c1l, c1h);
  store_row8(c_base, row0 + 2u, col0, 1.0, c2l, c2h);
  store_row8(c_base, row0 + 3u, col0, 1.0, c3l, c3h);
  store_row8(c_base, row0 + 4u, col0, 1.0, c4l, c4h);
  store_row8(c_base, row0 + 5u, col0, 1.0, c5l, c5h);
  store_row8(c_base, row0 + 6u, col0, 1.0, c6l, c6h);
  store_row8(c_base, row0 + 7u, col0, 1.0, c7l, c7h);
}

@compute @workgroup_size(64)
fn matmul_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let origin = block_origin(gid, groups, 8u, 8u);
  let row0 = origin.x;
  let col0 = origin.y;
  if (row0 >= p.m) { return; }
  let t = gid.z;
  let a_base = p.a_offset + t * p.a_batch;
  let b_base = p.b_offset + t * p.b_batch;

  // Element offsets of the block's rows of A (rows past M repeat row M − 1) and of its
  // column groups in B (N is a multiple of 4, so a group past N repeats the last one).
  let ra0 = a_base + min(row0 + 0u, p.m - 1u) * p.a_row; let ra1 = a_base + min(row0 + 1u, p.m - 1u) * p.a_row;
  let ra2 = a_base + min(row0 + 2u, p.m - 1u) * p.a_row; let ra3 = a_base + min(row0 + 3u, p.m - 1u) * p.a_row;
  let ra4 = a_base + min(row0 + 4u, p.m - 1u) * p.a_row; let ra5 = a_base + min(row0 + 5u, p.m - 1u) * p.a_row;
  let ra6 = a_base + min(row0 + 6u, p.m - 1u) * p.a_row; let ra7 = a_base + min(row0 + 7u, p.m - 1u) * p.a_row;
  let cb0 = b_base + min(col0 + 0u, p.n - 4u); let cb1 = b_base + min(col0 + 4u, p.n - 4u);

  // Each row's softmax statistics (max, 1 / sum), or (0, 1) when A is used as it is.
  var s0 = vec2f(0.0, 1.0); var s1 = vec2f(0.0, 1.0); var s2 = vec2f(0.0, 1.0); var s3 = vec2f(0.0, 1.0);
  var s4 = vec2f(0.0, 1.0); var s5 = vec2f(0.0, 1.0); var s6 = vec2f(0.0, 1.0); var s7 = vec2f(0.0, 1.0);
  if (SOFTMAX_A) {
    s0 = row_stats(t, row0 + 0u); s1 = row_stats(t, row0 + 1u); s2 = row_stats(t, row0 + 2u); s3 = row_stats(t, row0 + 3u);
    s4 = row_stats(t, row0 + 4u); s5 = row_stats(t, row0 + 5u); s6 = row_stats(t, row0 + 6u); s7 = row_stats(t, row0 + 7u);
  }

  var c0_0 = vec4f(); var c0_1 = vec4f(); var c1_0 = vec4f(); var c1_1 = vec4f();
  var c2_0 = vec4f(); var c2_1 = vec4f(); var c3_0 = vec4f(); var c3_1 = vec4f();
  var c4_0 = vec4f(); var c4_1 = vec4f(); var c5_0 = vec4f(); var c5_1 = vec4f();
  var c6_0 = vec4f(); var c6_1 = vec4f(); var c7_0 = vec4f(); var c7_1 = vec4f();
  for (var kk = 0u; kk < p.k; kk += 4u) {
    // x_r: row r of A at k…k+3. y_j: B's rows k…k+3 of column group j, as matrix columns.
    var x0 = a4[(ra0 + kk) >> 2u]; var x1 = a4[(ra1 + kk) >> 2u]; var x2 = a4[(ra2 + kk) >> 2u]; var x3 = a4[(ra3 + kk) >> 2u];
    var x4 = a4[(ra4 + kk) >> 2u]; var x5 = a4[(ra5 + kk) >> 2u]; var x6 = a4[(ra6 + kk) >> 2u]; var x7 = a4[(ra7 + kk) >> 2u];
    if (SOFTMAX_A) {
      x0 = exp(x0 - s0.x); x1 = exp(x1 - s1.x); x2 = exp(x2 - s2.x); x3 = exp(x3 - s3.x);
      x4 = exp(x4 - s4.x); x5 = exp(x5 - s5.x); x6 = exp(x6 - s6.x); x7 = exp(x7 - s7.x);
    }
    let o0 = kk * p.b_row;
    let o1 = o0 + p.b_row;
    let o2 = o1 + p.b_row;
    let o3 = o2 + p.b_row;
    let y0 = mat4x4f(b4[(cb0 + o0) >> 2u], b4[(cb0 + o1) >> 2u], b4[(cb0 + o2) >> 2u], b4[(cb0 + o3) >> 2u]);
    let y1 = mat4x4f(b4[(cb1 + o0) >> 2u], b4[(cb1 + o1) >> 2u], b4[(cb1 + o2) >> 2u], b4[(cb1 + o3) >> 2u]);
    c0_0 = madd(c0_0, x0, y0); c0_1 = madd(c0_1, x0, y1); c1_0 = madd(c1_0, x1, y0); c1_1 = madd(c1_1, x1, y1);
    c2_0 = madd(c2_0, x2, y0); c2_1 = madd(c2_1, x2, y1); c3_0 = madd(c3_0, x3, y0); c3_1 = madd(c3_1, x3, y1);
    c4_0 = madd(c4_0, x4, y0); c4_1 = madd(c4_1, x4, y1); c5_0 = madd(c5_0, x5, y0); c5_1 = madd(c5_1, x5, y1);
    c6_0 = madd(c6_0, x6, y0); c6_1 = madd(c6_1, x6, y1); c7_0 = madd(c7_0, x7, y0); c7_1 = madd(c7_1, x7, y1);
  }

  let c_base = p.c_offset + t * p.c_batch;
  store_row8(c_base, row0 + 0u, col0, s0.y, c0_0, c0_1);
  store_row8(c_base, row0 + 1u, col0, s1.y, c1_0, c1_1);
  store_row8(c_base, row0 + 2u, col0, s2.y, c2_0, c2_1);
  store_row8(c_base, row0 + 3u, col0, s3.y, c3_0, c3_1);
  store_row8(c_base, row0 + 4u, col0, s4.y, c4_0, c4_1);
  store_row8(c_base, row0 + 5u, col0, s5.y, c5_0, c5_1);
  store_row8(c_base, row0 + 6u, col0, s6.y, c6_0, c6_1);
  store_row8(c_base, row0 + 7u, col0, s7.y, c7_0, c7_1);
}

@compute @workgroup_size(64)
fn matmul_vec4_wide(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let origin = block_origin(gid, groups, 32u, 32u);
  let row0 = origin.x;
  let col0 = origin.y;
  if (row0 >= p.m) { return; }
  let t = gid.z;
  let a_base = p.a_offset + t * p.a_batch;
  let b_base = p.b_offset + t * p.b_batch;

  // Element offsets of the block's rows of A (rows past M repeat row M − 1) and of its
  // column groups in B (N is a multiple of 4, so a group past N repeats the last one).
  let ra0 = a_base + min(row0 + 0u, p.m - 1u) * p.a_row; let ra1 = a_base + min(row0 + 1u, p.m - 1u) * p.a_row;
  let ra2 = a_base + min(row0 + 2u, p.m - 1u) * p.a_row; let ra3 = a_base + min(row0 + 3u, p.m - 1u) * p.a_row;
  let ra4 = a_base + min(row0 + 4u, p.m - 1u) * p.a_row; let ra5 = a_base + min(row0 + 5u, p.m - 1u) * p.a_row;
  let ra6 = a_base + min(row0 + 6u, p.m - 1u) * p.a_row; let ra7 = a_base + min(row0 + 7u, p.m - 1u) * p.a_row;
  let ra8 = a_base + min(row0 + 8u, p.m - 1u) * p.a_row; let ra9 = a_base + min(row0 + 9u, p.m - 1u) * p.a_row;
  let ra10 = a_base + min(row0 + 10u, p.m - 1u) * p.a_row; let ra11 = a_base + min(row0 + 11u, p.m - 1u) * p.a_row;
  let ra12 = a_base + min(row0 + 12u, p.m - 1u) * p.a_row; let ra13 = a_base + min(row0 + 13u, p.m - 1u) * p.a_row;
  let ra14 = a_base + min(row0 + 14u, p.m - 1u) * p.a_row; let ra15 = a_base + min(row0 + 15u, p.m - 1u) * p.a_row;
  let ra16 = a_base + min(row0 + 16u, p.m - 1u) * p.a_row; let ra17 = a_base + min(row0 + 17u, p.m - 1u) * p.a_row;
  let ra18 = a_base + min(row0 + 18u, p.m - 1u) * p.a_row; let ra19 = a_base + min(row0 + 19u, p.m - 1u) * p.a_row;
  let ra20 = a_base + min(row0 + 20u, p.m - 1u) * p.a_row; let ra21 = a_base + min(row0 + 21u, p.m - 1u) * p.a_row;
  let ra22 = a_base + min(row0 + 22u, p.m - 1u) * p.a_row; let ra23 = a_base + min(row0 + 23u, p.m - 1u) * p.a_row;
  let ra24 = a_base + min(row0 + 24u, p.m - 1u) * p.a_row; let ra25 = a_base + min(row0 + 25u, p.m - 1u) * p.a_row;
  let ra26 = a_base + min(row0 + 26u, p.m - 1u) * p.a_row; let ra27 = a_base + min(row0 + 27u, p.m - 1u) * p.a_row;
  let ra28 = a_base + min(row0 + 28u, p.m - 1u) * p.a_row; let ra29 = a_base + min(row0 + 29u, p.m - 1u) * p.a_row;
  let ra30 = a_base + min(row0 + 30u, p.m - 1u) * p.a_row; let ra31 = a_base + min(row0 + 31u, p.m - 1u) * p.a_row;
  let cb0 = b_base + min(col0 + 0u, p.n - 4u); let cb1 = b_base + min(col0 + 4u, p.n - 4u);
  let cb2 = b_base + min(col0 + 8u, p.n - 4u); let cb3 = b_base + min(col0 + 12u, p.n - 4u);
  let cb4 = b_base + min(col0 + 16u, p.n - 4u); let cb5 = b_base + min(col0 + 20u, p.n - 4u);
  let cb6 = b_base + min(col0 + 24u, p.n - 4u); let cb7 = b_base + min(col0 + 28u, p.n - 4u);

  // Each row's softmax statistics (max, 1 / sum), or (0, 1) when A is used as it is.
  var s0 = vec2f(0.0, 1.0); var s1 = vec2f(0.0, 1.0); var s2 = vec2f(0.0, 1.0); var s3 = vec2f(0.0, 1.0);
  var s4 = vec2f(0.0, 1.0); var s5 = vec2f(0.0, 1.0); var s6 = vec2f(0.0, 1.0); var s7 = vec2f(0.0, 1.0);
  var s8 = vec2f(0.0, 1.0); var s9 = vec2f(0.0, 1.0); var s10 = vec2f(0.0, 1.0); var s11 = vec2f(0.0, 1.0);
  var s12 = vec2f(0.0, 1.0); var s13 = vec2f(0.0, 1.0); var s14 = vec2f(0.0, 1.0); var s15 = vec2f(0.0, 1.0);
  var s16 = vec2f(0.0, 1.0); var s17 = vec2f(0.0, 1.0); var s18 = vec2f(0.0, 1.0); var s19 = vec2f(0.0, 1.0);
  var s20 = vec2f(0.0, 1.0); var s21 = vec2f(0.0, 1.0); var s22 = vec2f(0.0, 1.0); var s23 = vec2f(0.0, 1.0);
  var s24 = vec2f(0.0, 1.0); var s25 = vec2f(0.0, 1.0); var s26 = vec2f(0.0, 1.0); var s27 = vec2f(0.0, 1.0);
  var s28 = vec2f(0.0, 1.0); var s29 = vec2f(0.0, 1.0); var s30 = vec2f(0.0, 1.0); var s31 = vec2f(0.0, 1.0);
  if (SOFTMAX_A) {
    s0 = row_stats(t, row0 + 0u); s1 = row_stats(t, row0 + 1u); s2 = row_stats(t, row0 + 2u); s3 = row_stats(t, row0 + 3u);
    s4 = row_stats(t, row0 + 4u); s5 = row_stats(t, row0 + 5u); s6 = row_stats(t, row0 + 6u); s7 = row_stats(t, row0 + 7u);
    s8 = row_stats(t, row0 + 8u); s9 = row_stats(t, row0 + 9u); s10 = row_stats(t, row0 + 10u); s11 = row_stats(t, row0 + 11u);
    s12 = row_stats(t, row0 + 12u); s13 = row_stats(t, row0 + 13u); s14 = row_stats(t, row0 + 14u); s15 = row_stats(t, row0 + 15u);
    s16 = row_stats(t, row0 + 16u); s17 = row_stats(t, row0 + 17u); s18 = row_stats(t, row0 + 18u); s19 = row_stats(t, row0 + 19u);
    s20 = row_stats(t, row0 + 20u); s21 = row_stats(t, row0 + 21u); s22 = row_stats(t, row0 + 22u); s23 = row_stats(t, row0 + 23u);
    s24 = row_stats(t, row0 + 24u); s25 = row_stats(t, row0 + 25u); s26 = row_stats(t, row0 + 26u); s27 = row_stats(t, row0 + 27u);
    s28 = row_stats(t, row0 + 28u); s29 = row_stats(t, row0 + 29u); s30 = row_stats(t, row0 + 30u); s31 = row_stats(t, row0 + 31u);
  }

  var c0_0 = vec4f(); var c0_1 = vec4f(); var c0_2 = vec4f(); var c0_3 = vec4f();
  var c0_4 = vec4f(); var c0_5 = vec4f(); var c0_6 = vec4f(); var c0_7 = vec4f();
  var c1_0 = vec4f(); var c1_1 = vec4f(); var c1_2 = vec4f(); var c1_3 = vec4f();
  var c1_4 = vec4f(); var c1_5 = vec4f(); var c1_6 = vec4f(); var c1_7 = vec4f();
  var c2_0 = vec4f(); var c2_1 = vec4f(); var c2_2 = vec4f(); var c2_3 = vec4f();
  var c2_4 = vec4f(); var c2_5 = vec4f(); var c2_6 = vec4f(); var c2_7 = vec4f();
  var c3_0 = vec4f(); var c3_1 = vec4f(); var c3_2 = vec4f(); var c3_3 = vec4f();
  var c3_4 = vec4f(); var c3_5 = vec4f(); var c3_6 = vec4f(); var c3_7 = vec4f();
  var c4_0 = vec4f(); var c4_1 = vec4f(); var c4_2 = vec4f(); var c4_3 = vec4f();
  var c4_4 = vec4f(); var c4_5 = vec4f(); var c4_6 = vec4f(); var c4_7 = vec4f();
  var c5_0 = vec4f(); var c5_1 = vec4f(); var c5_2 = vec4f(); var c5_3 = vec4f();
  var c5_4 = vec4f(); var c5_5 = vec4f(); var c5_6 = vec4f(); var c5_7 = vec4f();
  var c6_0 = vec4f(); var c6_1 = vec4f(); var c6_2 = vec4f(); var c6_3 = vec4f();
  var c6_4 = vec4f(); var c6_5 = vec4f(); var c6_6 = vec4f(); var c6_7 = vec4f();
  var c7_0 = vec4f(); var c7_1 = vec4f(); var c7_2 = vec4f(); var c7_3 = vec4f();
  var c7_4 = vec4f(); var c7_5 = vec4f(); var c7_6 = vec4f(); var c7_7 = vec4f();
  var c8_0 = vec4f(); var c8_1 = vec4f(); var c8_2 = vec4f(); var c8_3 = vec4f();
  var c8_4 = vec4f(); var c8_5 = vec4f(); var c8_6 = vec4f(); var c8_7 = vec4f();
  var c9_0 = vec4f(); var c9_1 = vec4f(); var c9_2 = vec4f(); var c9_3 = vec4f();
  var c9_4 = vec4f(); var c9_5 = vec4f(); var c9_6 = vec4f(); var c9_7 = vec4f();
  var c10_0 = vec4f(); var c10_1 = vec4f(); var c10_2 = vec4f(); var c10_3 = vec4f();
  var c10_4 = vec4f(); var c10_5 = vec4f(); var c10_6 = vec4f(); var c10_7 = vec4f();
  var c11_0 = vec4f(); var c11_1 = vec4f(); var c11_2 = vec4f(); var c11_3 = vec4f();
  var c11_4 = vec4f(); var c11_5 = vec4f(); var c11_6 = vec4f(); var c11_7 = vec4f();
  var c12_0 = vec4f(); var c12_1 = vec4f(); var c12_2 = vec4f(); var c12_3 = vec4f();
  var c12_4 = vec4f(); var c12_5 = vec4f(); var c12_6 = vec4f(); var c12_7 = vec4f();
  var c13_0 = vec4f(); var c13_1 = vec4f(); var c13_2 = vec4f(); var c13_3 = vec4f();
  var c13_4 = vec4f(); var c13_5 = vec4f(); var c13_6 = vec4f(); var c13_7 = vec4f();
  var c14_0 = vec4f(); var c14_1 = vec4f(); var c14_2 = vec4f(); var c14_3 = vec4f();
  var c14_4 = vec4f(); var c14_5 = vec4f(); var c14_6 = vec4f(); var c14_7 = vec4f();
  var c15_0 = vec4f(); var c15_1 = vec4f(); var c15_2 = vec4f(); var c15_3 = vec4f();
  var c15_4 = vec4f(); var c15_5 = vec4f(); var c15_6 = vec4f(); var c15_7 = vec4f();
  var c16_0 = vec4f(); var c16_1 = vec4f(); var c16_2 = vec4f(); var c16_3 = vec4f();
  var c16_4 = vec4f(); var c16_5 = vec4f(); var c16_6 = vec4f(); var c16_7 = vec4f();
  var c17_0 = vec4f(); var c17_1 = vec4f(); var c17_2 = vec4f(); var c17_3 = vec4f();
  var c17_4 = vec4f(); var c17_5 = vec4f(); var c17_6 = vec4f(); var c17_7 = vec4f();
  var c18_0 = vec4f(); var c18_1 = vec4f(); var c18_2 = vec4f(); var c18_3 = vec4f();
  var c18_4 = vec4f(); var c18_5 = vec4f(); var c18_6 = vec4f(); var c18_7 = vec4f();
  var c19_0 = vec4f(); var c19_1 = vec4f(); var c19_2 = vec4f(); var c19_3 = vec4f();
  var c19_4 = vec4f(); var c19_5 = vec4f(); var c19_6 = vec4f(); var c19_7 = vec4f();
  var c20_0 = vec4f(); var c20_1 = vec4f(); var c20_2 = vec4f(); var c20_3 = vec4f();
  var c20_4 = vec4f(); var c20_5 = vec4f(); var c20_6 = vec4f(); var c20_7 = vec4f();
  var c21_0 = vec4f(); var c21_1 = vec4f(); var c21_2 = vec4f(); var c21_3 = vec4f();
  var c21_4 = vec4f(); var c21_5 = vec4f(); var c21_6 = vec4f(); var c21_7 = vec4f();
  var c22_0 = vec4f(); var c22_1 = vec4f(); var c22_2 = vec4f(); var c22_3 = vec4f();
  var c22_4 = vec4f(); var c22_5 = vec4f(); var c22_6 = vec4f(); var c22_7 = vec4f();
  var c23_0 = vec4f(); var c23_1 = vec4f(); var c23_2 = vec4f(); var c23_3 = vec4f();
  var c23_4 = vec4f(); var c23_5 = vec4f(); var c23_6 = vec4f(); var c23_7 = vec4f();
  var c24_0 = vec4f(); var c24_1 = vec4f(); var c24_2 = vec4f(); var c24_3 = vec4f();
  var c24_4 = vec4f(); var c24_5 = vec4f(); var c24_6 = vec4f(); var c24_7 = vec4f();
  var c25_0 = vec4f(); var c25_1 = vec4f(); var c25_2 = vec4f(); var c25_3 = vec4f();
  var c25_4 = vec4f(); var c25_5 = vec4f(); var c25_6 = vec4f(); var c25_7 = vec4f();
  var c26_0 = vec4f(); var c26_1 = vec4f(); var c26_2 = vec4f(); var c26_3 = vec4f();
  var c26_4 = vec4f(); var c26_5 = vec4f(); var c26_6 = vec4f(); var c26_7 = vec4f();
  var c27_0 = vec4f(); var c27_1 = vec4f(); var c27_2 = vec4f(); var c27_3 = vec4f();
  var c27_4 = vec4f(); var c27_5 = vec4f(); var c27_6 = vec4f(); var c27_7 = vec4f();
  var c28_0 = vec4f(); var c28_1 = vec4f(); var c28_2 = vec4f(); var c28_3 = vec4f();
  var c28_4 = vec4f(); var c28_5 = vec4f(); var c28_6 = vec4f(); var c28_7 = vec4f();
  var c29_0 = vec4f(); var c29_1 = vec4f(); var c29_2 = vec4f(); var c29_3 = vec4f();
  var c29_4 = vec4f(); var c29_5 = vec4f(); var c29_6 = vec4f(); var c29_7 = vec4f();
  var c30_0 = vec4f(); var c30_1 = vec4f(); var c30_2 = vec4f(); var c30_3 = vec4f();
  var c30_4 = vec4f(); var c30_5 = vec4f(); var c30_6 = vec4f(); var c30_7 = vec4f();
  var c31_0 = vec4f(); var c31_1 = vec4f(); var c31_2 = vec4f(); var c31_3 = vec4f();
  var c31_4 = vec4f(); var c31_5 = vec4f(); var c31_6 = vec4f(); var c31_7 = vec4f();
  for (var kk = 0u; kk < p.k; kk += 4u) {
    // x_r: row r of A at k…k+3. y_j: B's rows k…k+3 of column group j, as matrix columns.
    var x0 = a4[(ra0 + kk) >> 2u]; var x1 = a4[(ra1 + kk) >> 2u]; var x2 = a4[(ra2 + kk) >> 2u]; var x3 = a4[(ra3 + kk) >> 2u];
    var x4 = a4[(ra4 + kk) >> 2u]; var x5 = a4[(ra5 + kk) >> 2u]; var x6 = a4[(ra6 + kk) >> 2u]; var x7 = a4[(ra7 + kk) >> 2u];
    var x8 = a4[(ra8 + kk) >> 2u]; var x9 = a4[(ra9 + kk) >> 2u]; var x10 = a4[(ra10 + kk) >> 2u]; var x11 = a4[(ra11 + kk) >> 2u];
    var x12 = a4[(ra12 + kk) >> 2u]; var x13 = a4[(ra13 + kk) >> 2u]; var x14 = a4[(ra14 + kk) >> 2u]; var x15 = a4[(ra15 + kk) >> 2u];
    var x16 = a4[(ra16 + kk) >> 2u]; var x17 = a4[(ra17 + kk) >> 2u]; var x18 = a4[(ra18 + kk) >> 2u]; var x19 = a4[(ra19 + kk) >> 2u];
    var x20 = a4[(ra20 + kk) >> 2u]; var x21 = a4[(ra21 + kk) >> 2u]; var x22 = a4[(ra22 + kk) >> 2u]; var x23 = a4[(ra23 + kk) >> 2u];
    var x24 = a4[(ra24 + kk) >> 2u]; var x25 = a4[(ra25 + kk) >> 2u]; var x26 = a4[(ra26 + kk) >> 2u]; var x27 = a4[(ra27 + kk) >> 2u];
    var x28 = a4[(ra28 + kk) >> 2u]; var x29 = a4[(ra29 + kk) >> 2u]; var x30 = a4[(ra30 + kk) >> 2u]; var x31 = a4[(ra31 + kk) >> 2u];
    if (SOFTMAX_A) {
      x0 = exp(x0 - s0.x); x1 = exp(x1 - s1.x); x2 = exp(x2 - s2.x); x3 = exp(x3 - s3.x);
      x4 = exp(x4 - s4.x); x5 = exp(x5 - s5.x); x6 = exp(x6 - s6.x); x7 = exp(x7 - s7.x);
      x8 = exp(x8 - s8.x); x9 = exp(x9 - s9.x); x10 = exp(x10 - s10.x); x11 = exp(x11 - s11.x);
      x12 = exp(x12 - s12.x); x13 = exp(x13 - s13.x); x14 = exp(x14 - s14.x); x15 = exp(x15 - s15.x);
      x16 = exp(x16 - s16.x); x17 = exp(x17 - s17.x); x18 = exp(x18 - s18.x); x19 = exp(x19 - s19.x);
      x20 = exp(x20 - s20.x); x21 = exp(x21 - s21.x); x22 = exp(x22 - s22.x); x23 = exp(x23 - s23.x);
      x24 = exp(x24 - s24.x); x25 = exp(x25 - s25.x); x26 = exp(x26 - s26.x); x27 = exp(x27 - s27.x);
      x28 = exp(x28 - s28.x); x29 = exp(x29 - s29.x); x30 = exp(x30 - s30.x); x31 = exp(x31 - s31.x);
    }
    let o0 = kk * p.b_row;
    let o1 = o0 + p.b_row;
    let o2 = o1 + p.b_row;
    let o3 = o2 + p.b_row;
    let y0 = mat4x4f(b4[(cb0 + o0) >> 2u], b4[(cb0 + o1) >> 2u], b4[(cb0 + o2) >> 2u], b4[(cb0 + o3) >> 2u]);
    let y1 = mat4x4f(b4[(cb1 + o0) >> 2u], b4[(cb1 + o1) >> 2u], b4[(cb1 + o2) >> 2u], b4[(cb1 + o3) >> 2u]);
    let y2 = mat4x4f(b4[(cb2 + o0) >> 2u], b4[(cb2 + o1) >> 2u], b4[(cb2 + o2) >> 2u], b4[(cb2 + o3) >> 2u]);
    let y3 = mat4x4f(b4[(cb3 + o0) >> 2u], b4[(cb3 + o1) >> 2u], b4[(cb3 + o2) >> 2u], b4[(cb3 + o3) >> 2u]);
    let y4 = mat4x4f(b4[(cb4 + o0) >> 2u], b4[(cb4 + o1) >> 2u], b4[(cb4 + o2) >> 2u], b4[(cb4 + o3) >> 2u]);
    let y5 = mat4x4f(b4[(cb5 + o0) >> 2u], b4[(cb5 + o1) >> 2u], b4[(cb5 + o2) >> 2u], b4[(cb5 + o3) >> 2u]);
    let y6 = mat4x4f(b4[(cb6 + o0) >> 2u], b4[(cb6 + o1) >> 2u], b4[(cb6 + o2) >> 2u], b4[(cb6 + o3) >> 2u]);
    let y7 = mat4x4f(b4[(cb7 + o0) >> 2u], b4[(cb7 + o1) >> 2u], b4[(cb7 + o2) >> 2u], b4[(cb7 + o3) >> 2u]);
    c0_0 = madd(c0_0, x0, y0); c0_1 = madd(c0_1, x0, y1); c0_2 = madd(c0_2, x0, y2); c0_3 = madd(c0_3, x0, y3);
    c0_4 = madd(c0_4, x0, y4); c0_5 = madd(c0_5, x0, y5); c0_6 = madd(c0_6, x0, y6); c0_7 = madd(c0_7, x0, y7);
    c1_0 = madd(c1_0, x1, y0); c1_1 = madd(c1_1, x1, y1); c1_2 = madd(c1_2, x1, y2); c1_3 = madd(c1_3, x1, y3);
    c1_4 = madd(c1_4, x1, y4); c1_5 = madd(c1_5, x1, y5); c1_6 = madd(c1_6, x1, y6); c1_7 = madd(c1_7, x1, y7);
    c2_0 = madd(c2_0, x2, y0); c2_1 = madd(c2_1, x2, y1); c2_2 = madd(c2_2, x2, y2); c2_3 = madd(c2_3, x2, y3);
    c2_4 = madd(c2_4, x2, y4); c2_5 = madd(c2_5, x2, y5); c2_6 = madd(c2_6, x2, y6); c2_7 = madd(c2_7, x2, y7);
    c3_0 = madd(c3_0, x3, y0); c3_1 = madd(c3_1, x3, y1); c3_2 = madd(c3_2, x3, y2); c3_3 = madd(c3_3, x3, y3);
    c3_4 = madd(c3_4, x3, y4); c3_5 = madd(c3_5, x3, y5); c3_6 = madd(c3_6, x3, y6); c3_7 = madd(c3_7, x3, y7);
    c4_0 = madd(c4_0, x4, y0); c4_1 = madd(c4_1, x4, y1); c4_2 = madd(c4_2, x4, y2); c4_3 = madd(c4_3, x4, y3);
    c4_4 = madd(c4_4, x4, y4); c4_5 = madd(c4_5, x4, y5); c4_6 = madd(c4_6, x4, y6); c4_7 = madd(c4_7, x4, y7);
    c5_0 = madd(c5_0, x5, y0); c5_1 = madd(c5_1, x5, y1); c5_2 = madd(c5_2, x5, y2); c5_3 = madd(c5_3, x5, y3);
    c5_4 = madd(c5_4, x5, y4); c5_5 = madd(c5_5, x5, y5); c5_6 = madd(c5_6, x5, y6); c5_7 = madd(c5_7, x5, y7);
    c6_0 = madd(c6_0, x6, y0); c6_1 = madd(c6_1, x6, y1); c6_2 = madd(c6_2, x6, y2); c6_3 = madd(c6_3, x6, y3);
    c6_4 = madd(c6_4, x6, y4); c6_5 = madd(c6_5, x6, y5); c6_6 = madd(c6_6, x6, y6); c6_7 = madd(c6_7, x6, y7);
    c7_0 = madd(c7_0, x7, y0); c7_1 = madd(c7_1, x7, y1); c7_2 = madd(c7_2, x7, y2); c7_3 = madd(c7_3, x7, y3);
    c7_4 = madd(c7_4, x7, y4); c7_5 = madd(c7_5, x7, y5); c7_6 = madd(c7_6, x7, y6); c7_7 = madd(c7_7, x7, y7);
    c8_0 = madd(c8_0, x8, y0); c8_1 = madd(c8_1, x8, y1); c8_2 = madd(c8_2, x8, y2); c8_3 = madd(c8_3, x8, y3);
    c8_4 = madd(c8_4, x8, y4); c8_5 = madd(c8_5, x8, y5); c8_6 = madd(c8_6, x8, y6); c8_7 = madd(c8_7, x8, y7);
    c9_0 = madd(c9_0, x9, y0); c9_1 = madd(c9_1, x9, y1); c9_2 = madd(c9_2, x9, y2); c9_3 = madd(c9_3, x9, y3);
    c9_4 = madd(c9_4, x9, y4); c9_5 = madd(c9_5, x9, y5); c9_6 = madd(c9_6, x9, y6); c9_7 = madd(c9_7, x9, y7);
    c10_0 = madd(c10_0, x10, y0); c10_1 = madd(c10_1, x10, y1); c10_2 = madd(c10_2, x10, y2); c10_3 = madd(c10_3, x10, y3);
    c10_4 = madd(c10_4, x10, y4); c10_5 = madd(c10_5, x10, y5); c10_6 = madd(c10_6, x10, y6); c10_7 = madd(c10_7, x10, y7);
    c11_0 = madd(c11_0, x11, y0); c11_1 = madd(c11_1, x11, y1); c11_2 = madd(c11_2, x11, y2); c11_3 = madd(c11_3, x11, y3);
    c11_4 = madd(c11_4, x11, y4); c11_5 = madd(c11_5, x11, y5); c11_6 = madd(c11_6, x11, y6); c11_7 = madd(c11_7, x11, y7);
    c12_0 = madd(c12_0, x12, y0); c12_1 = madd(c12_1, x12, y1); c12_2 = madd(c12_2, x12, y2); c12_3 = madd(c12_3, x12, y3);
    c12_4 = madd(c12_4, x12, y4); c12_5 = madd(c12_5, x12, y5); c12_6 = madd(c12_6, x12, y6); c12_7 = madd(c12_7, x12, y7);
    c13_0 = madd(c13_0, x13, y0); c13_1 = madd(c13_1, x13, y1); c13_2 = madd(c13_2, x13, y2); c13_3 = madd(c13_3, x13, y3);
    c13_4 = madd(c13_4, x13, y4); c13_5 = madd(c13_5, x13, y5); c13_6 = madd(c13_6, x13, y6); c13_7 = madd(c13_7, x13, y7);
    c14_0 = madd(c14_0, x14, y0); c14_1 = madd(c14_1, x14, y1); c14_2 = madd(c14_2, x14, y2); c14_3 = madd(c14_3, x14, y3);
    c14_4 = madd(c14_4, x14, y4); c14_5 = madd(c14_5, x14, y5); c14_6 = madd(c14_6, x14, y6); c14_7 = madd(c14_7, x14, y7);
    c15_0 = madd(c15_0, x15, y0); c15_1 = madd(c15_1, x15, y1); c15_2 = madd(c15_2, x15, y2); c15_3 = madd(c15_3, x15, y3);
    c15_4 = madd(c15_4, x15, y4); c15_5 = madd(c15_5, x15, y5); c15_6 = madd(c15_6, x15, y6); c15_7 = madd(c15_7, x15, y7);
    c16_0 = madd(c16_0, x16, y0); c16_1 = madd(c16_1, x16, y1); c16_2 = madd(c16_2, x16, y2); c16_3 = madd(c16_3, x16, y3);
    c16_4 = madd(c16_4, x16, y4); c16_5 = madd(c16_5, x16, y5); c16_6 = madd(c16_6, x16, y6); c16_7 = madd(c16_7, x16, y7);
    c17_0 = madd(c17_0, x17, y0); c17_1 = madd(c17_1, x17, y1); c17_2 = madd(c17_2, x17, y2); c17_3 = madd(c17_3, x17, y3);
    c17_4 = madd(c17_4, x17, y4); c17_5 = madd(c17_5, x17, y5); c17_6 = madd(c17_6, x17, y6); c17_7 = madd(c17_7, x17, y7);
    c18_0 = madd(c18_0, x18, y0); c18_1 = madd(c18_1, x18, y1); c18_2 = madd(c18_2, x18, y2); c18_3 = madd(c18_3, x18, y3);
    c18_4 = madd(c18_4, x18, y4); c18_5 = madd(c18_5, x18, y5); c18_6 = madd(c18_6, x18, y6); c18_7 = madd(c18_7, x18, y7);
    c19_0 = madd(c19_0, x19, y0); c19_1 = madd(c19_1, x19, y1); c19_2 = madd(c19_2, x19, y2); c19_3 = madd(c19_3, x19, y3);
    c19_4 = madd(c19_4, x19, y4); c19_5 = madd(c19_5, x19, y5); c19_6 = madd(c19_6, x19, y6); c19_7 = madd(c19_7, x19, y7);
    c20_0 = madd(c20_0, x20, y0); c20_1 = madd(c20_1, x20, y1); c20_2 = madd(c20_2, x20, y2); c20_3 = madd(c20_3, x20, y3);
    c20_4 = madd(c20_4, x20, y4); c20_5 = madd(c20_5, x20, y5); c20_6 = madd(c20_6, x20, y6); c20_7 = madd(c20_7, x20, y7);
    c21_0 = madd(c21_0, x21, y0); c21_1 = madd(c21_1, x21, y1); c21_2 = madd(c21_2, x21, y2); c21_3 = madd(c21_3, x21, y3);
    c21_4 = madd(c21_4, x21, y4); c21_5 = madd(c21_5, x21, y5); c21_6 = madd(c21_6, x21, y6); c21_7 = madd(c21_7, x21, y7);
    c22_0 = madd(c22_0, x22, y0); c22_1 = madd(c22_1, x22, y1); c22_2 = madd(c22_2, x22, y2); c22_3 = madd(c22_3, x22, y3);
    c22_4 = madd(c22_4, x22, y4); c22_5 = madd(c22_5, x22, y5); c22_6 = madd(c22_6, x22, y6); c22_7 = madd(c22_7, x22, y7);
    c23_0 = madd(c23_0, x23, y0); c23_1 = madd(c23_1, x23, y1); c23_2 = madd(c23_2, x23, y2); c23_3 = madd(c23_3, x23, y3);
    c23_4 = madd(c23_4, x23, y4); c23_5 = madd(c23_5, x23, y5); c23_6 = madd(c23_6, x23, y6); c23_7 = madd(c23_7, x23, y7);
    c24_0 = madd(c24_0, x24, y0); c24_1 = madd(c24_1, x24, y1); c24_2 = madd(c24_2, x24, y2); c24_3 = madd(c24_3, x24, y3);
    c24_4 = madd(c24_4, x24, y4); c24_5 = madd(c24_5, x24, y5); c24_6 = madd(c24_6, x24, y6); c24_7 = madd(c24_7, x24, y7);
    c25_0 = madd(c25_0, x25, y0); c25_1 = madd(c25_1, x25, y1); c25_2 = madd(c25_2, x25, y2); c25_3 = madd(c25_3, x25, y3);
    c25_4 = madd(c25_4, x25, y4); c25_5 = madd(c25_5, x25, y5); c25_6 = madd(c25_6, x25, y6); c25_7 = madd(c25_7, x25, y7);
    c26_0 = madd(c26_0, x26, y0); c26_1 = madd(c26_1, x26, y1); c26_2 = madd(c26_2, x26, y2); c26_3 = madd(c26_3, x26, y3);
    c26_4 = madd(c26_4, x26, y4); c26_5 = madd(c26_5, x26, y5); c26_6 = madd(c26_6, x26, y6); c26_7 = madd(c26_7, x26, y7);
    c27_0 = madd(c27_0, x27, y0); c27_1 = madd(c27_1, x27, y1); c27_2 = madd(c27_2, x27, y2); c27_3 = madd(c27_3, x27, y3);
    c27_4 = madd(c27_4, x27, y4); c27_5 = madd(c27_5, x27, y5); c27_6 = madd(c27_6, x27, y6); c27_7 = madd(c27_7, x27, y7);
    c28_0 = madd(c28_0, x28, y0); c28_1 = madd(c28_1, x28, y1); c28_2 = madd(c28_2, x28, y2); c28_3 = madd(c28_3, x28, y3);
    c28_4 = madd(c28_4, x28, y4); c28_5 = madd(c28_5, x28, y5); c28_6 = madd(c28_6, x28, y6); c28_7 = madd(c28_7, x28, y7);
    c29_0 = madd(c29_0, x29, y0); c29_1 = madd(c29_1, x29, y1); c29_2 = madd(c29_2, x29, y2); c29_3 = madd(c29_3, x29, y3);
    c29_4 = madd(c29_4, x29, y4); c29_5 = madd(c29_5, x29, y5); c29_6 = madd(c29_6, x29, y6); c29_7 = madd(c29_7, x29, y7);
    c30_0 = madd(c30_0, x30, y0); c30_1 = madd(c30_1, x30, y1); c30_2 = madd(c30_2, x30, y2); c30_3 = madd(c30_3, x30, y3);
    c30_4 = madd(c30_4, x30, y4); c30_5 = madd(c30_5, x30, y5); c30_6 = madd(c30_6, x30, y6); c30_7 = madd(c30_7, x30, y7);
    c31_0 = madd(c31_0, x31, y0); c31_1 = madd(c31_1, x31, y1); c31_2 = madd(c31_2, x31, y2); c31_3 = madd(c31_3, x31, y3);
    c31_4 = madd(c31_4, x31, y4); c31_5 = madd(c31_5, x31, y5); c31_6 = madd(c31_6, x31, y6); c31_7 = madd(c31_7, x31, y7);
  }

  let c_base = p.c_offset + t * p.c_batch;
  store_row32(c_base, row0 + 0u, col0, s0.y, c0_0, c0_1, c0_2, c0_3, c0_4, c0_5, c0_6, c0_7);
  store_row32(c_base, row0 + 1u, col0, s1.y, c1_0, c1_1, c1_2, c1_3, c1_4, c1_5, c1_6, c1_7);
  store_row32(c_base, row0 + 2u, col0, s2.y, c2_0, c2_1, c2_2, c2_3, c2_4, c2_5, c2_6, c2_7);
  store_row32(c_base, row0 + 3u, col0, s3.y, c3_0, c3_1, c3_2, c3_3, c3_4, c3_5, c3_6, c3_7);
  store_row32(c_base, row0 + 4u, col0, s4.y, c4_0, c4_1, c4_2, c4_3, c4_4, c4_5, c4_6, c4_7);
  store_row32(c_base, row0 + 5u, col0, s5.y, c5_0, c5_1, c5_2, c5_3, c5_4, c5_5, c5_6, c5_7);
  store_row32(c_base, row0 + 6u, col0, s6.y, c6_0, c6_1, c6_2, c6_3, c6_4, c6_5, c6_6, c6_7);
  store_row32(c_base, row0 + 7u, col0, s7.y, c7_0, c7_1, c7_2, c7_3, c7_4, c7_5, c7_6, c7_7);
  store_row32(c_base, row0 + 8u, col0, s8.y, c8_0, c8_1, c8_2, c8_3, c8_4, c8_5, c8_6, c8_7);
  store_row32(c_base, row0 + 9u, col0, s9.y, c9_0, c9_1, c9_2, c9_3, c9_4, c9_5, c9_6, c9_7);
  store_row32(c_base, row0 + 10u, col0, s10.y, c10_0, c10_1, c10_2, c10_3, c10_4, c10_5, c10_6, c10_7);
  store_row32(c_base, row0 + 11u, col0, s11.y, c11_0, c11_1, c11_2, c11_3, c11_4, c11_5, c11_6, c11_7);
  store_row32(c_base, row0 + 12u, col0, s12.y, c12_0, c12_1, c12_2, c12_3, c12_4, c12_5, c12_6, c12_7);
  store_row32(c_base, row0 + 13u, col0, s13.y, c13_0, c13_1, c13_2, c13_3, c13_4, c13_5, c13_6, c13_7);
  store_row32(c_base, row0 + 14u, col0, s14.y, c14_0, c14_1, c14_2, c14_3, c14_4, c14_5, c14_6, c14_7);
  store_row32(c_base, row0 + 15u, col0, s15.y, c15_0, c15_1, c15_2, c15_3, c15_4, c15_5, c15_6, c15_7);
  store_row32(c_base, row0 + 16u, col0, s16.y, c16_0, c16_1, c16_2, c16_3, c16_4, c16_5, c16_6, c16_7);
  store_row32(c_base, row0 + 17u, col0, s17.y, c17_0, c17_1, c17_2, c17_3, c17_4, c17_5, c17_6, c17_7);
  store_row32(c_base, row0 + 18u, col0, s18.y, c18_0, c18_1, c18_2, c18_3, c18_4, c18_5, c18_6, c18_7);
  store_row32(c_base, row0 + 19u, col0, s19.y, c19_0, c19_1, c19_2, c19_3, c19_4, c19_5, c19_6, c19_7);
  store_row32(c_base, row0 + 20u, col0, s20.y, c20_0, c20_1, c20_2, c20_3, c20_4, c20_5, c20_6, c20_7);
  store_row32(c_base, row0 + 21u, col0, s21.y, c21_0, c21_1, c21_2, c21_3, c21_4, c21_5, c21_6, c21_7);
  store_row32(c_base, row0 + 22u, col0, s22.y, c22_0, c22_1, c22_2, c22_3, c22_4, c22_5, c22_6, c22_7);
  store_row32(c_base, row0 + 23u, col0, s23.y, c23_0, c23_1, c23_2, c23_3, c23_4, c23_5, c23_6, c23_7);
  store_row32(c_base, row0 + 24u, col0, s24.y, c24_0, c24_1, c24_2, c24_3, c24_4, c24_5, c24_6, c24_7);
  store_row32(c_base, row0 + 25u, col0, s25.y, c25_0, c25_1, c25_2, c25_3, c25_4, c25_5, c25_6, c25_7);
  store_row32(c_base, row0 + 26u, col0, s26.y, c26_0, c26_1, c26_2, c26_3, c26_4, c26_5, c26_6, c26_7);
  store_row32(c_base, row0 + 27u, col0, s27.y, c27_0, c27_1, c27_2, c27_3, c27_4, c27_5, c27_6, c27_7);
  store_row32(c_base, row0 + 28u, col0, s28.y, c28_0, c28_1, c28_2, c28_3, c28_4, c28_5, c28_6, c28_7);
  store_row32(c_base, row0 + 29u, col0, s29.y, c29_0, c29_1, c29_2, c29_3, c29_4, c29_5, c29_6, c29_7);
  store_row32(c_base, row0 + 30u, col0, s30.y, c30_0, c30_1, c30_2, c30_3, c30_4, c30_5, c30_6, c30_7);
  store_row32(c_base, row0 + 31u, col0, s31.y, c31_0, c31_1, c31_2, c31_3, c31_4, c31_5, c31_6, c31_7);
}

@compute @workgroup_size(64)
fn matmul_vec4_nt(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let origin = block_origin(gid, groups, 8u, 8u);
  let row0 = origin.x;
  let col0 = origin.y;
  if (row0 >= p.m) { return; }
  let t = gid.z;
  let a_base = p.a_offset + t * p.a_batch;
  let b_base = p.b_offset + t * p.b_batch;

  // Element offsets of the block's rows of A (rows past M repeat row M − 1) and of its
  // columns of B (columns past N repeat column N − 1).
  let ra0 = a_base + min(row0 + 0u, p.m - 1u) * p.a_row; let ra1 = a_base + min(row0 + 1u, p.m - 1u) * p.a_row;
  let ra2 = a_base + min(row0 + 2u, p.m - 1u) * p.a_row; let ra3 = a_base + min(row0 + 3u, p.m - 1u) * p.a_row;
  let ra4 = a_base + min(row0 + 4u, p.m - 1u) * p.a_row; let ra5 = a_base + min(row0 + 5u, p.m - 1u) * p.a_row;
  let ra6 = a_base + min(row0 + 6u, p.m - 1u) * p.a_row; let ra7 = a_base + min(row0 + 7u, p.m - 1u) * p.a_row;
  let cb0 = b_base + min(col0 + 0u, p.n - 1u) * p.b_col; let cb1 = b_base + min(col0 + 1u, p.n - 1u) * p.b_col;
  let cb2 = b_base + min(col0 + 2u, p.n - 1u) * p.b_col; let cb3 = b_base + min(col0 + 3u, p.n - 1u) * p.b_col;
  let cb4 = b_base + min(col0 + 4u, p.n - 1u) * p.b_col; let cb5 = b_base + min(col0 + 5u, p.n - 1u) * p.b_col;
  let cb6 = b_base + min(col0 + 6u, p.n - 1u) * p.b_col; let cb7 = b_base + min(col0 + 7u, p.n - 1u) * p.b_col;

  // Each row's softmax statistics (max, 1 / sum), or (0, 1) when A is used as it is.
  var s0 = vec2f(0.0, 1.0); var s1 = vec2f(0.0, 1.0); var s2 = vec2f(0.0, 1.0); var s3 = vec2f(0.0, 1.0);
  var s4 = vec2f(0.0, 1.0); var s5 = vec2f(0.0, 1.0); var s6 = vec2f(0.0, 1.0); var s7 = vec2f(0.0, 1.0);
  if (SOFTMAX_A) {
    s0 = row_stats(t, row0 + 0u); s1 = row_stats(t, row0 + 1u); s2 = row_stats(t, row0 + 2u); s3 = row_stats(t, row0 + 3u);
    s4 = row_stats(t, row0 + 4u); s5 = row_stats(t, row0 + 5u); s6 = row_stats(t, row0 + 6u); s7 = row_stats(t, row0 + 7u);
  }

  var c0_0 = vec4f(); var c0_1 = vec4f(); var c1_0 = vec4f(); var c1_1 = vec4f();
  var c2_0 = vec4f(); var c2_1 = vec4f(); var c3_0 = vec4f(); var c3_1 = vec4f();
  var c4_0 = vec4f(); var c4_1 = vec4f(); var c5_0 = vec4f(); var c5_1 = vec4f();
  var c6_0 = vec4f(); var c6_1 = vec4f(); var c7_0 = vec4f(); var c7_1 = vec4f();
  for (var kk = 0u; kk < p.k; kk += 4u) {
    // x_r: row r of A at k…k+3. y_j: columns 4j…4j+3 of B at k…k+3, as matrix columns.
    var x0 = a4[(ra0 + kk) >> 2u]; var x1 = a4[(ra1 + kk) >> 2u]; var x2 = a4[(ra2 + kk) >> 2u]; var x3 = a4[(ra3 + kk) >> 2u];
    var x4 = a4[(ra4 + kk) >> 2u]; var x5 = a4[(ra5 + kk) >> 2u]; var x6 = a4[(ra6 + kk) >> 2u]; var x7 = a4[(ra7 + kk) >> 2u];
    if (SOFTMAX_A) {
      x0 = exp(x0 - s0.x); x1 = exp(x1 - s1.x); x2 = exp(x2 - s2.x); x3 = exp(x3 - s3.x);
      x4 = exp(x4 - s4.x); x5 = exp(x5 - s5.x); x6 = exp(x6 - s6.x); x7 = exp(x7 - s7.x);
    }
    let y0 = mat4x4f(b4[(cb0 + kk) >> 2u], b4[(cb1 + kk) >> 2u], b4[(cb2 + kk) >> 2u], b4[(cb3 + kk) >> 2u]);
    let y1 = mat4x4f(b4[(cb4 + kk) >> 2u], b4[(cb5 + kk) >> 2u], b4[(cb6 + kk) >> 2u], b4[(cb7 + kk) >> 2u]);
    c0_0 = madd_nt(c0_0, x0, y0); c0_1 = madd_nt(c0_1, x0, y1); c1_0 = madd_nt(c1_0, x1, y0); c1_1 = madd_nt(c1_1, x1, y1);
    c2_0 = madd_nt(c2_0, x2, y0); c2_1 = madd_nt(c2_1, x2, y1); c3_0 = madd_nt(c3_0, x3, y0); c3_1 = madd_nt(c3_1, x3, y1);
    c4_0 = madd_nt(c4_0, x4, y0); c4_1 = madd_nt(c4_1, x4, y1); c5_0 = madd_nt(c5_0, x5, y0); c5_1 = madd_nt(c5_1, x5, y1);
    c6_0 = madd_nt(c6_0, x6, y0); c6_1 = madd_nt(c6_1, x6, y1); c7_0 = madd_nt(c7_0, x7, y0); c7_1 = madd_nt(c7_1, x7, y1);
  }

  let c_base = p.c_offset + t * p.c_batch;
  store_row8(c_base, row0 + 0u, col0, s0.y, c0_0, c0_1);
  store_row8(c_base, row0 + 1u, col0, s1.y, c1_0, c1_1);
  store_row8(c_base, row0 + 2u, col0, s2.y, c2_0, c2_1);
  store_row8(c_base, row0 + 3u, col0, s3.y, c3_0, c3_1);
  store_row8(c_base, row0 + 4u, col0, s4.y, c4_0, c4_1);
  store_row8(c_base, row0 + 5u, col0, s5.y, c5_0, c5_1);
  store_row8(c_base, row0 + 6u, col0, s6.y, c6_0, c6_1);
  store_row8(c_base, row0 + 7u, col0, s7.y, c7_0, c7_1);
}

@compute @workgroup_size(64)
fn matmul_vec4_nt_wide(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let origin = block_origin(gid, groups, 32u, 32u);
  let row0 = origin.x;
  let col0 = origin.y;
  if (row0 >= p.m) { return; }
  let t = gid.z;
  let a_base = p.a_offset + t * p.a_batch;
  let b_base = p.b_offset + t * p.b_batch;

  // Element offsets of the block's rows of A (rows past M repeat row M − 1) and of its
  // columns of B (columns past N repeat column N − 1).
  let ra0 = a_base + min(row0 + 0u, p.m - 1u) * p.a_row; let ra1 = a_base + min(row0 + 1u, p.m - 1u) * p.a_row;
  let ra2 = a_base + min(row0 + 2u, p.m - 1u) * p.a_row; let ra3 = a_base + min(row0 + 3u, p.m - 1u) * p.a_row;
  let ra4 = a_base + min(row0 + 4u, p.m - 1u) * p.a_row; let ra5 = a_base + min(row0 + 5u, p.m - 1u) * p.a_row;
  let ra6 = a_base + min(row0 + 6u, p.m - 1u) * p.a_row; let ra7 = a_base + min(row0 + 7u, p.m - 1u) * p.a_row;
  let ra8 = a_base + min(row0 + 8u, p.m - 1u) * p.a_row; let ra9 = a_base + min(row0 + 9u, p.m - 1u) * p.a_row;
  let ra10 = a_base + min(row0 + 10u, p.m - 1u) * p.a_row; let ra11 = a_base + min(row0 + 11u, p.m - 1u) * p.a_row;
  let ra12 = a_base + min(row0 + 12u, p.m - 1u) * p.a_row; let ra13 = a_base + min(row0 + 13u, p.m - 1u) * p.a_row;
  let ra14 = a_base + min(row0 + 14u, p.m - 1u) * p.a_row; let ra15 = a_base + min(row0 + 15u, p.m - 1u) * p.a_row;
  let ra16 = a_base + min(row0 + 16u, p.m - 1u) * p.a_row; let ra17 = a_base + min(row0 + 17u, p.m - 1u) * p.a_row;
  let ra18 = a_base + min(row0 + 18u, p.m - 1u) * p.a_row; let ra19 = a_base + min(row0 + 19u, p.m - 1u) * p.a_row;
  let ra20 = a_base + min(row0 + 20u, p.m - 1u) * p.a_row; let ra21 = a_base + min(row0 + 21u, p.m - 1u) * p.a_row;
  let ra22 = a_base + min(row0 + 22u, p.m - 1u) * p.a_row; let ra23 = a_base + min(row0 + 23u, p.m - 1u) * p.a_row;
  let ra24 = a_base + min(row0 + 24u, p.m - 1u) * p.a_row; let ra25 = a_base + min(row0 + 25u, p.m - 1u) * p.a_row;
  let ra26 = a_base + min(row0 + 26u, p.m - 1u) * p.a_row; let ra27 = a_base + min(row0 + 27u, p.m - 1u) * p.a_row;
  let ra28 = a_base + min(row0 + 28u, p.m - 1u) * p.a_row; let ra29 = a_base + min(row0 + 29u, p.m - 1u) * p.a_row;
  let ra30 = a_base + min(row0 + 30u, p.m - 1u) * p.a_row; let ra31 = a_base + min(row0 + 31u, p.m - 1u) * p.a_row;
  let cb0 = b_base + min(col0 + 0u, p.n - 1u) * p.b_col; let cb1 = b_base + min(col0 + 1u, p.n - 1u) * p.b_col;
  let cb2 = b_base + min(col0 + 2u, p.n - 1u) * p.b_col; let cb3 = b_base + min(col0 + 3u, p.n - 1u) * p.b_col;
  let cb4 = b_base + min(col0 + 4u, p.n - 1u) * p.b_col; let cb5 = b_base + min(col0 + 5u, p.n - 1u) * p.b_col;
  let cb6 = b_base + min(col0 + 6u, p.n - 1u) * p.b_col; let cb7 = b_base + min(col0 + 7u, p.n - 1u) * p.b_col;
  let cb8 = b_base + min(col0 + 8u, p.n - 1u) * p.b_col; let cb9 = b_base + min(col0 + 9u, p.n - 1u) * p.b_col;
  let cb10 = b_base + min(col0 + 10u, p.n - 1u) * p.b_col; let cb11 = b_base + min(col0 + 11u, p.n - 1u) * p.b_col;
  let cb12 = b_base + min(col0 + 12u, p.n - 1u) * p.b_col; let cb13 = b_base + min(col0 + 13u, p.n - 1u) * p.b_col;
  let cb14 = b_base + min(col0 + 14u, p.n - 1u) * p.b_col; let cb15 = b_base + min(col0 + 15u, p.n - 1u) * p.b_col;
  let cb16 = b_base + min(col0 + 16u, p.n - 1u) * p.b_col; let cb17 = b_base + min(col0 + 17u, p.n - 1u) * p.b_col;
  let cb18 = b_base + min(col0 + 18u, p.n - 1u) * p.b_col; let cb19 = b_base + min(col0 + 19u, p.n - 1u) * p.b_col;
  let cb20 = b_base + min(col0 + 20u, p.n - 1u) * p.b_col; let cb21 = b_base + min(col0 + 21u, p.n - 1u) * p.b_col;
  let cb22 = b_base + min(col0 + 22u, p.n - 1u) * p.b_col; let cb23 = b_base + min(col0 + 23u, p.n - 1u) * p.b_col;
  let cb24 = b_base + min(col0 + 24u, p.n - 1u) * p.b_col; let cb25 = b_base + min(col0 + 25u, p.n - 1u) * p.b_col;
  let cb26 = b_base + min(col0 + 26u, p.n - 1u) * p.b_col; let cb27 = b_base + min(col0 + 27u, p.n - 1u) * p.b_col;
  let cb28 = b_base + min(col0 + 28u, p.n - 1u) * p.b_col; let cb29 = b_base + min(col0 + 29u, p.n - 1u) * p.b_col;
  let cb30 = b_base + min(col0 + 30u, p.n - 1u) * p.b_col; let cb31 = b_base + min(col0 + 31u, p.n - 1u) * p.b_col;

  // Each row's softmax statistics (max, 1 / sum), or (0, 1) when A is used as it is.
  var s0 = vec2f(0.0, 1.0); var s1 = vec2f(0.0, 1.0); var s2 = vec2f(0.0, 1.0); var s3 = vec2f(0.0, 1.0);
  var s4 = vec2f(0.0, 1.0); var s5 = vec2f(0.0, 1.0); var s6 = vec2f(0.0, 1.0); var s7 = vec2f(0.0, 1.0);
  var s8 = vec2f(0.0, 1.0); var s9 = vec2f(0.0, 1.0); var s10 = vec2f(0.0, 1.0); var s11 = vec2f(0.0, 1.0);
  var s12 = vec2f(0.0, 1.0); var s13 = vec2f(0.0, 1.0); var s14 = vec2f(0.0, 1.0); var s15 = vec2f(0.0, 1.0);
  var s16 = vec2f(0.0, 1.0); var s17 = vec2f(0.0, 1.0); var s18 = vec2f(0.0, 1.0); var s19 = vec2f(0.0, 1.0);
  var s20 = vec2f(0.0, 1.0); var s21 = vec2f(0.0, 1.0); var s22 = vec2f(0.0, 1.0); var s23 = vec2f(0.0, 1.0);
  var s24 = vec2f(0.0, 1.0); var s25 = vec2f(0.0, 1.0); var s26 = vec2f(0.0, 1.0); var s27 = vec2f(0.0, 1.0);
  var s28 = vec2f(0.0, 1.0); var s29 = vec2f(0.0, 1.0); var s30 = vec2f(0.0, 1.0); var s31 = vec2f(0.0, 1.0);
  if (SOFTMAX_A) {
    s0 = row_stats(t, row0 + 0u); s1 = row_stats(t, row0 + 1u); s2 = row_stats(t, row0 + 2u); s3 = row_stats(t, row0 + 3u);
    s4 = row_stats(t, row0 + 4u); s5 = row_stats(t, row0 + 5u); s6 = row_stats(t, row0 + 6u); s7 = row_stats(t, row0 + 7u);
    s8 = row_stats(t, row0 + 8u); s9 = row_stats(t, row0 + 9u); s10 = row_stats(t, row0 + 10u); s11 = row_stats(t, row0 + 11u);
    s12 = row_stats(t, row0 + 12u); s13 = row_stats(t, row0 + 13u); s14 = row_stats(t, row0 + 14u); s15 = row_stats(t, row0 + 15u);
    s16 = row_stats(t, row0 + 16u); s17 = row_stats(t, row0 + 17u); s18 = row_stats(t, row0 + 18u); s19 = row_stats(t, row0 + 19u);
    s20 = row_stats(t, row0 + 20u); s21 = row_stats(t, row0 + 21u); s22 = row_stats(t, row0 + 22u); s23 = row_stats(t, row0 + 23u);
    s24 = row_stats(t, row0 + 24u); s25 = row_stats(t, row0 + 25u); s26 = row_stats(t, row0 + 26u); s27 = row_stats(t, row0 + 27u);
    s28 = row_stats(t, row0 + 28u); s29 = row_stats(t, row0 + 29u); s30 = row_stats(t, row0 + 30u); s31 = row_stats(t, row0 + 31u);
  }

  var c0_0 = vec4f(); var c0_1 = vec4f(); var c0_2 = vec4f(); var c0_3 = vec4f();
  var c0_4 = vec4f(); var c0_5 = vec4f(); var c0_6 = vec4f(); var c0_7 = vec4f();
  var c1_0 = vec4f(); var c1_1 = vec4f(); var c1_2 = vec4f(); var c1_3 = vec4f();
  var c1_4 = vec4f(); var c1_5 = vec4f(); var c1_6 = vec4f(); var c1_7 = vec4f();
  var c2_0 = vec4f(); var c2_1 = vec4f(); var c2_2 = vec4f(); var c2_3 = vec4f();
  var c2_4 = vec4f(); var c2_5 = vec4f(); var c2_6 = vec4f(); var c2_7 = vec4f();
  var c3_0 = vec4f(); var c3_1 = vec4f(); var c3_2 = vec4f(); var c3_3 = vec4f();
  var c3_4 = vec4f(); var c3_5 = vec4f(); var c3_6 = vec4f(); var c3_7 = vec4f();
  var c4_0 = vec4f(); var c4_1 = vec4f(); var c4_2 = vec4f(); var c4_3 = vec4f();
  var c4_4 = vec4f(); var c4_5 = vec4f(); var c4_6 = vec4f(); var c4_7 = vec4f();
  var c5_0 = vec4f(); var c5_1 = vec4f(); var c5_2 = vec4f(); var c5_3 = vec4f();
  var c5_4 = vec4f(); var c5_5 = vec4f(); var c5_6 = vec4f(); var c5_7 = vec4f();
  var c6_0 = vec4f(); var c6_1 = vec4f(); var c6_2 = vec4f(); var c6_3 = vec4f();
  var c6_4 = vec4f(); var c6_5 = vec4f(); var c6_6 = vec4f(); var c6_7 = vec4f();
  var c7_0 = vec4f(); var c7_1 = vec4f(); var c7_2 = vec4f(); var c7_3 = vec4f();
  var c7_4 = vec4f(); var c7_5 = vec4f(); var c7_6 = vec4f(); var c7_7 = vec4f();
  var c8_0 = vec4f(); var c8_1 = vec4f(); var c8_2 = vec4f(); var c8_3 = vec4f();
  var c8_4 = vec4f(); var c8_5 = vec4f(); var c8_6 = vec4f(); var c8_7 = vec4f();
  var c9_0 = vec4f(); var c9_1 = vec4f(); var c9_2 = vec4f(); var c9_3 = vec4f();
  var c9_4 = vec4f(); var c9_5 = vec4f(); var c9_6 = vec4f(); var c9_7 = vec4f();
  var c10_0 = vec4f(); var c10_1 = vec4f(); var c10_2 = vec4f(); var c10_3 = vec4f();
  var c10_4 = vec4f(); var c10_5 = vec4f(); var c10_6 = vec4f(); var c10_7 = vec4f();
  var c11_0 = vec4f(); var c11_1 = vec4f(); var c11_2 = vec4f(); var c11_3 = vec4f();
  var c11_4 = vec4f(); var c11_5 = vec4f(); var c11_6 = vec4f(); var c11_7 = vec4f();
  var c12_0 = vec4f(); var c12_1 = vec4f(); var c12_2 = vec4f(); var c12_3 = vec4f();
  var c12_4 = vec4f(); var c12_5 = vec4f(); var c12_6 = vec4f(); var c12_7 = vec4f();
  var c13_0 = vec4f(); var c13_1 = vec4f(); var c13_2 = vec4f(); var c13_3 = vec4f();
  var c13_4 = vec4f(); var c13_5 = vec4f(); var c13_6 = vec4f(); var c13_7 = vec4f();
  var c14_0 = vec4f(); var c14_1 = vec4f(); var c14_2 = vec4f(); var c14_3 = vec4f();
  var c14_4 = vec4f(); var c14_5 = vec4f(); var c14_6 = vec4f(); var c14_7 = vec4f();
  var c15_0 = vec4f(); var c15_1 = vec4f(); var c15_2 = vec4f(); var c15_3 = vec4f();
  var c15_4 = vec4f(); var c15_5 = vec4f(); var c15_6 = vec4f(); var c15_7 = vec4f();
  var c16_0 = vec4f(); var c16_1 = vec4f(); var c16_2 = vec4f(); var c16_3 = vec4f();
  var c16_4 = vec4f(); var c16_5 = vec4f(); var c16_6 = vec4f(); var c16_7 = vec4f();
  var c17_0 = vec4f(); var c17_1 = vec4f(); var c17_2 = vec4f(); var c17_3 = vec4f();
  var c17_4 = vec4f(); var c17_5 = vec4f(); var c17_6 = vec4f(); var c17_7 = vec4f();
  var c18_0 = vec4f(); var c18_1 = vec4f(); var c18_2 = vec4f(); var c18_3 = vec4f();
  var c18_4 = vec4f(); var c18_5 = vec4f(); var c18_6 = vec4f(); var c18_7 = vec4f();
  var c19_0 = vec4f(); var c19_1 = vec4f(); var c19_2 = vec4f(); var c19_3 = vec4f();
  var c19_4 = vec4f(); var c19_5 = vec4f(); var c19_6 = vec4f(); var c19_7 = vec4f();
  var c20_0 = vec4f(); var c20_1 = vec4f(); var c20_2 = vec4f(); var c20_3 = vec4f();
  var c20_4 = vec4f(); var c20_5 = vec4f(); var c20_6 = vec4f(); var c20_7 = vec4f();
  var c21_0 = vec4f(); var c21_1 = vec4f(); var c21_2 = vec4f(); var c21_3 = vec4f();
  var c21_4 = vec4f(); var c21_5 = vec4f(); var c21_6 = vec4f(); var c21_7 = vec4f();
  var c22_0 = vec4f(); var c22_1 = vec4f(); var c22_2 = vec4f(); var c22_3 = vec4f();
  var c22_4 = vec4f(); var c22_5 = vec4f(); var c22_6 = vec4f(); var c22_7 = vec4f();
  var c23_0 = vec4f(); var c23_1 = vec4f(); var c23_2 = vec4f(); var c23_3 = vec4f();
  var c23_4 = vec4f(); var c23_5 = vec4f(); var c23_6 = vec4f(); var c23_7 = vec4f();
  var c24_0 = vec4f(); var c24_1 = vec4f(); var c24_2 = vec4f(); var c24_3 = vec4f();
  var c24_4 = vec4f(); var c24_5 = vec4f(); var c24_6 = vec4f(); var c24_7 = vec4f();
  var c25_0 = vec4f(); var c25_1 = vec4f(); var c25_2 = vec4f(); var c25_3 = vec4f();
  var c25_4 = vec4f(); var c25_5 = vec4f(); var c25_6 = vec4f(); var c25_7 = vec4f();
  var c26_0 = vec4f(); var c26_1 = vec4f(); var c26_2 = vec4f(); var c26_3 = vec4f();
  var c26_4 = vec4f(); var c26_5 = vec4f(); var c26_6 = vec4f(); var c26_7 = vec4f();
  var c27_0 = vec4f(); var c27_1 = vec4f(); var c27_2 = vec4f(); var c27_3 = vec4f();
  var c27_4 = vec4f(); var c27_5 = vec4f(); var c27_6 = vec4f(); var c27_7 = vec4f();
  var c28_0 = vec4f(); var c28_1 = vec4f(); var c28_2 = vec4f(); var c28_3 = vec4f();
  var c28_4 = vec4f(); var c28_5 = vec4f(); var c28_6 = vec4f(); var c28_7 = vec4f();
  var c29_0 = vec4f(); var c29_1 = vec4f(); var c29_2 = vec4f(); var c29_3 = vec4f();
  var c29_4 = vec4f(); var c29_5 = vec4f(); var c29_6 = vec4f(); var c29_7 = vec4f();
  var c30_0 = vec4f(); var c30_1 = vec4f(); var c30_2 = vec4f(); var c30_3 = vec4f();
  var c30_4 = vec4f(); var c30_5 = vec4f(); var c30_6 = vec4f(); var c30_7 = vec4f();
  var c31_0 = vec4f(); var c31_1 = vec4f(); var c31_2 = vec4f(); var c31_3 = vec4f();
  var c31_4 = vec4f(); var c31_5 = vec4f(); var c31_6 = vec4f(); var c31_7 = vec4f();
  for (var kk = 0u; kk < p.k; kk += 4u) {
    // x_r: row r of A at k…k+3. y_j: columns 4j…4j+3 of B at k…k+3, as matrix columns.
    var x0 = a4[(ra0 + kk) >> 2u]; var x1 = a4[(ra1 + kk) >> 2u]; var x2 = a4[(ra2 + kk) >> 2u]; var x3 = a4[(ra3 + kk) >> 2u];
    var x4 = a4[(ra4 + kk) >> 2u]; var x5 = a4[(ra5 + kk) >> 2u]; var x6 = a4[(ra6 + kk) >> 2u]; var x7 = a4[(ra7 + kk) >> 2u];
    var x8 = a4[(ra8 + kk) >> 2u]; var x9 = a4[(ra9 + kk) >> 2u]; var x10 = a4[(ra10 + kk) >> 2u]; var x11 = a4[(ra11 + kk) >> 2u];
    var x12 = a4[(ra12 + kk) >> 2u]; var x13 = a4[(ra13 + kk) >> 2u]; var x14 = a4[(ra14 + kk) >> 2u]; var x15 = a4[(ra15 + kk) >> 2u];
    var x16 = a4[(ra16 + kk) >> 2u]; var x17 = a4[(ra17 + kk) >> 2u]; var x18 = a4[(ra18 + kk) >> 2u]; var x19 = a4[(ra19 + kk) >> 2u];
    var x20 = a4[(ra20 + kk) >> 2u]; var x21 = a4[(ra21 + kk) >> 2u]; var x22 = a4[(ra22 + kk) >> 2u]; var x23 = a4[(ra23 + kk) >> 2u];
    var x24 = a4[(ra24 + kk) >> 2u]; var x25 = a4[(ra25 + kk) >> 2u]; var x26 = a4[(ra26 + kk) >> 2u]; var x27 = a4[(ra27 + kk) >> 2u];
    var x28 = a4[(ra28 + kk) >> 2u]; var x29 = a4[(ra29 + kk) >> 2u]; var x30 = a4[(ra30 + kk) >> 2u]; var x31 = a4[(ra31 + kk) >> 2u];
    if (SOFTMAX_A) {
      x0 = exp(x0 - s0.x); x1 = exp(x1 - s1.x); x2 = exp(x2 - s2.x); x3 = exp(x3 - s3.x);
      x4 = exp(x4 - s4.x); x5 = exp(x5 - s5.x); x6 = exp(x6 - s6.x); x7 = exp(x7 - s7.x);
      x8 = exp(x8 - s8.x); x9 = exp(x9 - s9.x); x10 = exp(x10 - s10.x); x11 = exp(x11 - s11.x);
      x12 = exp(x12 - s12.x); x13 = exp(x13 - s13.x); x14 = exp(x14 - s14.x); x15 = exp(x15 - s15.x);
      x16 = exp(x16 - s16.x); x17 = exp(x17 - s17.x); x18 = exp(x18 - s18.x); x19 = exp(x19 - s19.x);
      x20 = exp(x20 - s20.x); x21 = exp(x21 - s21.x); x22 = exp(x22 - s22.x); x23 = exp(x23 - s23.x);
      x24 = exp(x24 - s24.x); x25 = exp(x25 - s25.x); x26 = exp(x26 - s26.x); x27 = exp(x27 - s27.x);
      x28 = exp(x28 - s28.x); x29 = exp(x29 - s29.x); x30 = exp(x30 - s30.x); x31 = exp(x31 - s31.x);
    }
    let y0 = mat4x4f(b4[(cb0 + kk) >> 2u], b4[(cb1 + kk) >> 2u], b4[(cb2 + kk) >> 2u], b4[(cb3 + kk) >> 2u]);
    let y1 = mat4x4f(b4[(cb4 + kk) >> 2u], b4[(cb5 + kk) >> 2u], b4[(cb6 + kk) >> 2u], b4[(cb7 + kk) >> 2u]);
    let y2 = mat4x4f(b4[(cb8 + kk) >> 2u], b4[(cb9 + kk) >> 2u], b4[(cb10 + kk) >> 2u], b4[(cb11 + kk) >> 2u]);
    let y3 = mat4x4f(b4[(cb12 + kk) >> 2u], b4[(cb13 + kk) >> 2u], b4[(cb14 + kk) >> 2u], b4[(cb15 + kk) >> 2u]);
    let y4 = mat4x4f(b4[(cb16 + kk) >> 2u], b4[(cb17 + kk) >> 2u], b4[(cb18 + kk) >> 2u], b4[(cb19 + kk) >> 2u]);
    let y5 = mat4x4f(b4[(cb20 + kk) >> 2u], b4[(cb21 + kk) >> 2u], b4[(cb22 + kk) >> 2u], b4[(cb23 + kk) >> 2u]);
    let y6 = mat4x4f(b4[(cb24 + kk) >> 2u], b4[(cb25 + kk) >> 2u], b4[(cb26 + kk) >> 2u], b4[(cb27 + kk) >> 2u]);
    let y7 = mat4x4f(b4[(cb28 + kk) >> 2u], b4[(cb29 + kk) >> 2u], b4[(cb30 + kk) >> 2u], b4[(cb31 + kk) >> 2u]);
    c0_0 = madd_nt(c0_0, x0, y0); c0_1 = madd_nt(c0_1, x0, y1); c0_2 = madd_nt(c0_2, x0, y2); c0_3 = madd_nt(c0_3, x0, y3);
    c0_4 = madd_nt(c0_4, x0, y4); c0_5 = madd_nt(c0_5, x0, y5); c0_6 = madd_nt(c0_6, x0, y6); c0_7 = madd_nt(c0_7, x0, y7);
    c1_0 = madd_nt(c1_0, x1, y0); c1_1 = madd_nt(c1_1, x1, y1); c1_2 = madd_nt(c1_2, x1, y2); c1_3 = madd_nt(c1_3, x1, y3);
    c1_4 = madd_nt(c1_4, x1, y4); c1_5 = madd_nt(c1_5, x1, y5); c1_6 = madd_nt(c1_6, x1, y6); c1_7 = madd_nt(c1_7, x1, y7);
    c2_0 = madd_nt(c2_0, x2, y0); c2_1 = madd_nt(c2_1, x2, y1); c2_2 = madd_nt(c2_2, x2, y2); c2_3 = madd_nt(c2_3, x2, y3);
    c2_4 = madd_nt(c2_4, x2, y4); c2_5 = madd_nt(c2_5, x2, y5); c2_6 = madd_nt(c2_6, x2, y6); c2_7 = madd_nt(c2_7, x2, y7);
    c3_0 = madd_nt(c3_0, x3, y0); c3_1 = madd_nt(c3_1, x3, y1); c3_2 = madd_nt(c3_2, x3, y2); c3_3 = madd_nt(c3_3, x3, y3);
    c3_4 = madd_nt(c3_4, x3, y4); c3_5 = madd_nt(c3_5, x3, y5); c3_6 = madd_nt(c3_6, x3, y6); c3_7 = madd_nt(c3_7, x3, y7);
    c4_0 = madd_nt(c4_0, x4, y0); c4_1 = madd_nt(c4_1, x4, y1); c4_2 = madd_nt(c4_2, x4, y2); c4_3 = madd_nt(c4_3, x4, y3);
    c4_4 = madd_nt(c4_4, x4, y4); c4_5 = madd_nt(c4_5, x4, y5); c4_6 = madd_nt(c4_6, x4, y6); c4_7 = madd_nt(c4_7, x4, y7);
    c5_0 = madd_nt(c5_0, x5, y0); c5_1 = madd_nt(c5_1, x5, y1); c5_2 = madd_nt(c5_2, x5, y2); c5_3 = madd_nt(c5_3, x5, y3);
    c5_4 = madd_nt(c5_4, x5, y4); c5_5 = madd_nt(c5_5, x5, y5); c5_6 = madd_nt(c5_6, x5, y6); c5_7 = madd_nt(c5_7, x5, y7);
    c6_0 = madd_nt(c6_0, x6, y0); c6_1 = madd_nt(c6_1, x6, y1); c6_2 = madd_nt(c6_2, x6, y2); c6_3 = madd_nt(c6_3, x6, y3);
    c6_4 = madd_nt(c6_4, x6, y4); c6_5 = madd_nt(c6_5, x6, y5); c6_6 = madd_nt(c6_6, x6, y6); c6_7 = madd_nt(c6_7, x6, y7);
    c7_0 = madd_nt(c7_0, x7, y0); c7_1 = madd_nt(c7_1, x7, y1); c7_2 = madd_nt(c7_2, x7, y2); c7_3 = madd_nt(c7_3, x7, y3);
    c7_4 = madd_nt(c7_4, x7, y4); c7_5 = madd_nt(c7_5, x7, y5); c7_6 = madd_nt(c7_6, x7, y6); c7_7 = madd_nt(c7_7, x7, y7);
    c8_0 = madd_nt(c8_0, x8, y0); c8_1 = madd_nt(c8_1, x8, y1); c8_2 = madd_nt(c8_2, x8, y2); c8_3 = madd_nt(c8_3, x8, y3);
    c8_4 = madd_nt(c8_4, x8, y4); c8_5 = madd_nt(c8_5, x8, y5); c8_6 = madd_nt(c8_6, x8, y6); c8_7 = madd_nt(c8_7, x8, y7);
    c9_0 = madd_nt(c9_0, x9, y0); c9_1 = madd_nt(c9_1, x9, y1); c9_2 = madd_nt(c9_2, x9, y2); c9_3 = madd_nt(c9_3, x9, y3);
    c9_4 = madd_nt(c9_4, x9, y4); c9_5 = madd_nt(c9_5, x9, y5); c9_6 = madd_nt(c9_6, x9, y6); c9_7 = madd_nt(c9_7, x9, y7);
    c10_0 = madd_nt(c10_0, x10, y0); c10_1 = madd_nt(c10_1, x10, y1); c10_2 = madd_nt(c10_2, x10, y2); c10_3 = madd_nt(c10_3, x10, y3);
    c10_4 = madd_nt(c10_4, x10, y4); c10_5 = madd_nt(c10_5, x10, y5); c10_6 = madd_nt(c10_6, x10, y6); c10_7 = madd_nt(c10_7, x10, y7);
    c11_0 = madd_nt(c11_0, x11, y0); c11_1 = madd_nt(c11_1, x11, y1); c11_2 = madd_nt(c11_2, x11, y2); c11_3 = madd_nt(c11_3, x11, y3);
    c11_4 = madd_nt(c11_4, x11, y4); c11_5 = madd_nt(c11_5, x11, y5); c11_6 = madd_nt(c11_6, x11, y6); c11_7 = madd_nt(c11_7, x11, y7);
    c12_0 = madd_nt(c12_0, x12, y0); c12_1 = madd_nt(c12_1, x12, y1); c12_2 = madd_nt(c12_2, x12, y2); c12_3 = madd_nt(c12_3, x12, y3);
    c12_4 = madd_nt(c12_4, x12, y4); c12_5 = madd_nt(c12_5, x12, y5); c12_6 = madd_nt(c12_6, x12, y6); c12_7 = madd_nt(c12_7, x12, y7);
    c13_0 = madd_nt(c13_0, x13, y0); c13_1 = madd_nt(c13_1, x13, y1); c13_2 = madd_nt(c13_2, x13, y2); c13_3 = madd_nt(c13_3, x13, y3);
    c13_4 = madd_nt(c13_4, x13, y4); c13_5 = madd_nt(c13_5, x13, y5); c13_6 = madd_nt(c13_6, x13, y6); c13_7 = madd_nt(c13_7, x13, y7);
    c14_0 = madd_nt(c14_0, x14, y0); c14_1 = madd_nt(c14_1, x14, y1); c14_2 = madd_nt(c14_2, x14, y2); c14_3 = madd_nt(c14_3, x14, y3);
    c14_4 = madd_nt(c14_4, x14, y4); c14_5 = madd_nt(c14_5, x14, y5); c14_6 = madd_nt(c14_6, x14, y6); c14_7 = madd_nt(c14_7, x14, y7);
    c15_0 = madd_nt(c15_0, x15, y0); c15_1 = madd_nt(c15_1, x15, y1); c15_2 = madd_nt(c15_2, x15, y2); c15_3 = madd_nt(c15_3, x15, y3);
    c15_4 = madd_nt(c15_4, x15, y4); c15_5 = madd_nt(c15_5, x15, y5); c15_6 = madd_nt(c15_6, x15, y6); c15_7 = madd_nt(c15_7, x15, y7);
    c16_0 = madd_nt(c16_0, x16, y0); c16_1 = madd_nt(c16_1, x16, y1); c16_2 = madd_nt(c16_2, x16, y2); c16_3 = madd_nt(c16_3, x16, y3);
    c16_4 = madd_nt(c16_4, x16, y4); c16_5 = madd_nt(c16_5, x16, y5); c16_6 = madd_nt(c16_6, x16, y6); c16_7 = madd_nt(c16_7, x16, y7);
    c17_0 = madd_nt(c17_0, x17, y0); c17_1 = madd_nt(c17_1, x17, y1); c17_2 = madd_nt(c17_2, x17, y2); c17_3 = madd_nt(c17_3, x17, y3);
    c17_4 = madd_nt(c17_4, x17, y4); c17_5 = madd_nt(c17_5, x17, y5); c17_6 = madd_nt(c17_6, x17, y6); c17_7 = madd_nt(c17_7, x17, y7);
    c18_0 = madd_nt(c18_0, x18, y0); c18_1 = madd_nt(c18_1, x18, y1); c18_2 = madd_nt(c18_2, x18, y2); c18_3 = madd_nt(c18_3, x18, y3);
    c18_4 = madd_nt(c18_4, x18, y4); c18_5 = madd_nt(c18_5, x18, y5); c18_6 = madd_nt(c18_6, x18, y6); c18_7 = madd_nt(c18_7, x18, y7);
    c19_0 = madd_nt(c19_0, x19, y0); c19_1 = madd_nt(c19_1, x19, y1); c19_2 = madd_nt(c19_2, x19, y2); c19_3 = madd_nt(c19_3, x19, y3);
    c19_4 = madd_nt(c19_4, x19, y4); c19_5 = madd_nt(c19_5, x19, y5); c19_6 = madd_nt(c19_6, x19, y6); c19_7 = madd_nt(c19_7, x19, y7);
    c20_0 = madd_nt(c20_0, x20, y0); c20_1 = madd_nt(c20_1, x20, y1); c20_2 = madd_nt(c20_2, x20, y2); c20_3 = madd_nt(c20_3, x20, y3);
    c20_4 = madd_nt(c20_4, x20, y4); c20_5 = madd_nt(c20_5, x20, y5); c20_6 = madd_nt(c20_6, x20, y6); c20_7 = madd_nt(c20_7, x20, y7);
    c21_0 = madd_nt(c21_0, x21, y0); c21_1 = madd_nt(c21_1, x21, y1); c21_2 = madd_nt(c21_2, x21, y2); c21_3 = madd_nt(c21_3, x21, y3);
    c21_4 = madd_nt(c21_4, x21, y4); c21_5 = madd_nt(c21_5, x21, y5); c21_6 = madd_nt(c21_6, x21, y6); c21_7 = madd_nt(c21_7, x21, y7);
    c22_0 = madd_nt(c22_0, x22, y0); c22_1 = madd_nt(c22_1, x22, y1); c22_2 = madd_nt(c22_2, x22, y2); c22_3 = madd_nt(c22_3, x22, y3);
    c22_4 = madd_nt(c22_4, x22, y4); c22_5 = madd_nt(c22_5, x22, y5); c22_6 = madd_nt(c22_6, x22, y6); c22_7 = madd_nt(c22_7, x22, y7);
    c23_0 = madd_nt(c23_0, x23, y0); c23_1 = madd_nt(c23_1, x23, y1); c23_2 = madd_nt(c23_2, x23, y2); c23_3 = madd_nt(c23_3, x23, y3);
    c23_4 = madd_nt(c23_4, x23, y4); c23_5 = madd_nt(c23_5, x23, y5); c23_6 = madd_nt(c23_6, x23, y6); c23_7 = madd_nt(c23_7, x23, y7);
    c24_0 = madd_nt(c24_0, x24, y0); c24_1 = madd_nt(c24_1, x24, y1); c24_2 = madd_nt(c24_2, x24, y2); c24_3 = madd_nt(c24_3, x24, y3);
    c24_4 = madd_nt(c24_4, x24, y4); c24_5 = madd_nt(c24_5, x24, y5); c24_6 = madd_nt(c24_6, x24, y6); c24_7 = madd_nt(c24_7, x24, y7);
    c25_0 = madd_nt(c25_0, x25, y0); c25_1 = madd_nt(c25_1, x25, y1); c25_2 = madd_nt(c25_2, x25, y2); c25_3 = madd_nt(c25_3, x25, y3);
    c25_4 = madd_nt(c25_4, x25, y4); c25_5 = madd_nt(c25_5, x25, y5); c25_6 = madd_nt(c25_6, x25, y6); c25_7 = madd_nt(c25_7, x25, y7);
    c26_0 = madd_nt(c26_0, x26, y0); c26_1 = madd_nt(c26_1, x26, y1); c26_2 = madd_nt(c26_2, x26, y2); c26_3 = madd_nt(c26_3, x26, y3);
    c26_4 = madd_nt(c26_4, x26, y4); c26_5 = madd_nt(c26_5, x26, y5); c26_6 = madd_nt(c26_6, x26, y6); c26_7 = madd_nt(c26_7, x26, y7);
    c27_0 = madd_nt(c27_0, x27, y0); c27_1 = madd_nt(c27_1, x27, y1); c27_2 = madd_nt(c27_2, x27, y2); c27_3 = madd_nt(c27_3, x27, y3);
    c27_4 = madd_nt(c27_4, x27, y4); c27_5 = madd_nt(c27_5, x27, y5); c27_6 = madd_nt(c27_6, x27, y6); c27_7 = madd_nt(c27_7, x27, y7);
    c28_0 = madd_nt(c28_0, x28, y0); c28_1 = madd_nt(c28_1, x28, y1); c28_2 = madd_nt(c28_2, x28, y2); c28_3 = madd_nt(c28_3, x28, y3);
    c28_4 = madd_nt(c28_4, x28, y4); c28_5 = madd_nt(c28_5, x28, y5); c28_6 = madd_nt(c28_6, x28, y6); c28_7 = madd_nt(c28_7, x28, y7);
    c29_0 = madd_nt(c29_0, x29, y0); c29_1 = madd_nt(c29_1, x29, y1); c29_2 = madd_nt(c29_2, x29, y2); c29_3 = madd_nt(c29_3, x29, y3);
    c29_4 = madd_nt(c29_4, x29, y4); c29_5 = madd_nt(c29_5, x29, y5); c29_6 = madd_nt(c29_6, x29, y6); c29_7 = madd_nt(c29_7, x29, y7);
    c30_0 = madd_nt(c30_0, x30, y0); c30_1 = madd_nt(c30_1, x30, y1); c30_2 = madd_nt(c30_2, x30, y2); c30_3 = madd_nt(c30_3, x30, y3);
    c30_4 = madd_nt(c30_4, x30, y4); c30_5 = madd_nt(c30_5, x30, y5); c30_6 = madd_nt(c30_6, x30, y6); c30_7 = madd_nt(c30_7, x30, y7);
    c31_0 = madd_nt(c31_0, x31, y0); c31_1 = madd_nt(c31_1, x31, y1); c31_2 = madd_nt(c31_2, x31, y2); c31_3 = madd_nt(c31_3, x31, y3);
    c31_4 = madd_nt(c31_4, x31, y4); c31_5 = madd_nt(c31_5, x31, y5); c31_6 = madd_nt(c31_6, x31, y6); c31_7 = madd_nt(c31_7, x31, y7);
  }

  let c_base = p.c_offset + t * p.c_batch;
  store_row32(c_base, row0 + 0u, col0, s0.y, c0_0, c0_1, c0_2, c0_3, c0_4, c0_5, c0_6, c0_7);
  store_row32(c_base, row0 + 1u, col0, s1.y, c1_0, c1_1, c1_2, c1_3, c1_4, c1_5, c1_6, c1_7);
  store_row32(c_base, row0 + 2u, col0, s2.y, c2_0, c2_1, c2_2, c2_3, c2_4, c2_5, c2_6, c2_7);
  store_row32(c_base, row0 + 3u, col0, s3.y, c3_0, c3_1, c3_2, c3_3, c3_4, c3_5, c3_6, c3_7);
  store_row32(c_base, row0 + 4u, col0, s4.y, c4_0, c4_1, c4_2, c4_3, c4_4, c4_5, c4_6, c4_7);
  store_row32(c_base, row0 + 5u, col0, s5.y, c5_0, c5_1, c5_2, c5_3, c5_4, c5_5, c5_6, c5_7);
  store_row32(c_base, row0 + 6u, col0, s6.y, c6_0, c6_1, c6_2, c6_3, c6_4, c6_5, c6_6, c6_7);
  store_row32(c_base, row0 + 7u, col0, s7.y, c7_0, c7_1, c7_2, c7_3, c7_4, c7_5, c7_6, c7_7);
  store_row32(c_base, row0 + 8u, col0, s8.y, c8_0, c8_1, c8_2, c8_3, c8_4, c8_5, c8_6, c8_7);
  store_row32(c_base, row0 + 9u, col0, s9.y, c9_0, c9_1, c9_2, c9_3, c9_4, c9_5, c9_6, c9_7);
  store_row32(c_base, row0 + 10u, col0, s10.y, c10_0, c10_1, c10_2, c10_3, c10_4, c10_5, c10_6, c10_7);
  store_row32(c_base, row0 + 11u, col0, s11.y, c11_0, c11_1, c11_2, c11_3, c11_4, c11_5, c11_6, c11_7);
  store_row32(c_base, row0 + 12u, col0, s12.y, c12_0, c12_1, c12_2, c12_3, c12_4, c12_5, c12_6, c12_7);
  store_row32(c_base, row0 + 13u, col0, s13.y, c13_0, c13_1, c13_2, c13_3, c13_4, c13_5, c13_6, c13_7);
  store_row32(c_base, row0 + 14u, col0, s14.y, c14_0, c14_1, c14_2, c14_3, c14_4, c14_5, c14_6, c14_7);
  store_row32(c_base, row0 + 15u, col0, s15.y, c15_0, c15_1, c15_2, c15_3, c15_4, c15_5, c15_6, c15_7);
  store_row32(c_base, row0 + 16u, col0, s16.y, c16_0, c16_1, c16_2, c16_3, c16_4, c16_5, c16_6, c16_7);
  store_row32(c_base, row0 + 17u, col0, s17.y, c17_0, c17_1, c17_2, c17_3, c17_4, c17_5, c17_6, c17_7);
  store_row32(c_base, row0 + 18u, col0, s18.y, c18_0, c18_1, c18_2, c18_3, c18_4, c18_5, c18_6, c18_7);
  store_row32(c_base, row0 + 19u, col0, s19.y, c19_0, c19_1, c19_2, c19_3, c19_4, c19_5, c19_6, c19_7);
  store_row32(c_base, row0 + 20u, col0, s20.y, c20_0, c20_1, c20_2, c20_3, c20_4, c20_5, c20_6, c20_7);
  store_row32(c_base, row0 + 21u, col0, s21.y, c21_0, c21_1, c21_2, c21_3, c21_4, c21_5, c21_6, c21_7);
  store_row32(c_base, row0 + 22u, col0, s22.y, c22_0, c22_1, c22_2, c22_3, c22_4, c22_5, c22_6, c22_7);
  store_row32(c_base, row0 + 23u, col0, s23.y, c23_0, c23_1, c23_2, c23_3, c23_4, c23_5, c23_6, c23_7);
  store_row32(c_base, row0 + 24u, col0, s24.y, c24_0, c24_1, c24_2, c24_3, c24_4, c24_5, c24_6, c24_7);
  store_row32(c_base, row0 + 25u, col0, s25.y, c25_0, c25_1, c25_2, c25_3, c25_4, c25_5, c25_6, c25_7);
  store_row32(c_base, row0 + 26u, col0, s26.y, c26_0, c26_1, c26_2, c26_3, c26_4, c26_5, c26_6, c26_7);
  store_row32(c_base, row0 + 27u, col0, s27.y, c27_0, c27_1, c27_2, c27_3, c27_4, c27_5, c27_6, c27_7);
  store_row32(c_base, row0 + 28u, col0, s28.y, c28_0, c28_1, c28_2, c28_3, c28_4, c28_5, c28_6, c28_7);
  store_row32(c_base, row0 + 29u, col0, s29.y, c29_0, c29_1, c29_2, c29_3, c29_4, c29_5, c29_6, c29_7);
  store_row32(c_base, row0 + 30u, col0, s30.y, c30_0, c30_1, c30_2, c30_3, c30_4, c30_5, c30_6, c30_7);
  store_row32(c_base, row0 + 31u, col0, s31.y, c31_0, c31_1, c31_2, c31_3, c31_4, c31_5, c31_6, c31_7);
}

