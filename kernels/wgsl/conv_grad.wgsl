// Weight gradients of 2-D convolution and transposed convolution on NCHW float32
// tensors. One invocation per weight element, summing over the batch and every
// position the element touched; workgroup size 64, 2-D grid (index = x + y ·
// groups_x · 64). Summing in one invocation needs no atomics or barriers, which
// suits lavapipe, where barrier-free loops were the faster form.
//
// conv2d_weight_grad:           dw[o, c, ky, kx] = Σ_{n, oy, ox} dy[n, o, oy, ox] · x[n, c, oy·SH − PT + ky, ox·SW − PL + kx]
// conv_transpose2d_weight_grad: dw[c, o, ky, kx] = Σ_{n, iy, ix} x[n, c, iy, ix] · dy[n, o, iy·SH − PT + ky, ix·SW − PL + kx]
// x is [N, C, H, W], dy is [N, O, OH, OW].
//
// These two run one long serial sum per weight element, which leaves lavapipe's SIMD
// lanes short of work; kernels/grad/conv.ts uses them only for shapes the matrix-product
// path below cannot take. That path writes both operands of the weight gradient as
// matrices with the summed (image, position) index along their rows, and the matmul
// kernel multiplies them:
//
// columns: fills `dw` (here a workspace of A_rows + B_rows rows of K values) for images
// n0 … n0 + count − 1, with k = (n − n0)·G + g over the G = GH·GW positions of a grid:
//   conv2d (transposed = 0):  grid OH × OW, A = dy[n, o, g] (O rows),
//                             B[(c, ky, kx), k] = x[n, c, gy·SH − PT + ky, gx·SW − PL + kx]
//   convTranspose2d (1):      grid H × W, A = x[n, c, g] (C rows),
//                             B[(o, ky, kx), k] = dy[n, o, gy·SH − PT + ky, gx·SW − PL + kx]
// B is zero outside the source image, and both are zero for k ≥ count·G (padding K to the
// multiple of 4 that the vec4 matmul needs). Then dw = A Bᵀ has the weight's layout.

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32,
  KH: u32, KW: u32, SH: u32, SW: u32, PT: u32, PL: u32,
  K: u32, n0: u32, count: u32, transposed: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;

fn index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * 64u;
}

@compute @workgroup_size(64)
fn conv2d_weight_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i >= p.O * p.C * p.KH * p.KW) { return; }
  let kx = i % p.KW;
  let ky = (i / p.KW) % p.KH;
  let c = (i / (p.KW * p.KH)) % p.C;
  let o = i / (p.KW * p.KH * p.C);
  var sum = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let xBase = (n * p.C + c) * p.H * p.W;
    let yBase = (n * p.O + o) * p.OH * p.OW;
    for (var oy = 0u; oy < p.OH; oy++) {
      let iy = i32(oy * p.SH + ky) - i32(p.PT);
      if (iy < 0 || iy >= i32(p.H)) { continue; }
      for (var ox = 0u; ox < p.OW; ox++) {
        let ix = i32(ox * p.SW + kx) - i32(p.PL);
        if (ix < 0 || ix >= i32(p.W)) { continue; }
        sum += dy[yBase + oy * p.OW + ox] * x[xBase + u32(iy) * p.W + u32(ix)];
      }
    }
  }
  dw[i] = sum;
}

@compute @workgroup_size(64)
fn conv_transpose2d_weight_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i >= p.C * p.O * p.KH * p.KW) { return; }
  let kx = i % p.KW;
  let ky = (i / p.KW) % p.KH;
  let o = (i / (p.KW * p.KH)) % p.O;
  let c = i / (p.KW * p.KH * p.O);
  var sum = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let xBase = (n * p.C + c) * p.H * p.W;
    let yBase = (n * p.O + o) * p.OH * p.OW;
    for (var iy = 0u; iy < p.H; iy++) {
      let oy = i32(iy * p.SH + ky) - i32(p.PT);
      if (oy < 0 || oy >= i32(p.OH)) { continue; }
      for (var ix = 0u; ix < p.W; ix++) {
        let ox = i32(ix * p.SW + kx) - i32(p.PL);
        if (ox < 0 || ox >= i32(p.OW)) { continue; }
        sum += x[xBase + iy * p.W + ix] * dy[yBase + u32(oy) * p.OW + u32(ox)];
      }
    }
  }
  dw[i] = sum;
}

// One invocation per workspace row and grid row (GW consecutive k), plus one per
// workspace row for the zero tail, so the integer divisions (scalar on lavapipe) run
// once per grid row instead of once per element.
@compute @workgroup_size(64)
fn columns(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  let t = p.transposed != 0u;
  let a_rows = select(p.O, p.C, t);
  let source_channels = select(p.C, p.O, t);
  let taps = p.KH * p.KW;
  // Grid of summed positions, and the image B reads from.
  let GH = select(p.OH, p.H, t);
  let GW = select(p.OW, p.W, t);
  let SRC_H = select(p.H, p.OH, t);
  let SRC_W = select(p.W, p.OW, t);
  let G = GH * GW;
  let units = p.count * GH + 1u;
  if (i >= (a_rows + source_channels * taps) * units) { return; }
  let row = i / units;
  let u = i % units;
  let out = row * p.K;
  if (u == p.count * GH) {
    for (var k = p.count * G; k < p.K; k++) { dw[out + k] = 0.0; }
    return;
  }
  let n = p.n0 + u / GH;
  let gy = u % GH;
  let first = out + u * GW;
  if (row < a_rows) {
    let at = (n * a_rows + row) * G + gy * GW;
    if (t) {
      for (var gx = 0u; gx < GW; gx++) { dw[first + gx] = x[at + gx]; }
    } else {
      for (var gx = 0u; gx < GW; gx++) { dw[first + gx] = dy[at + gx]; }
    }
    return;
  }
  let r = row - a_rows;
  let s = r / taps;
  let ky = (r % taps) / p.KW;
  let kx = r % p.KW;
  let iy = i32(gy * p.SH + ky) - i32(p.PT);
  if (iy < 0 || iy >= i32(SRC_H)) {
    for (var gx = 0u; gx < GW; gx++) { dw[first + gx] = 0.0; }
    return;
  }
  let src = ((n * source_channels + s) * SRC_H + u32(iy)) * SRC_W;
  for (var gx = 0u; gx < GW; gx++) {
    let ix = i32(gx * p.SW + kx) - i32(p.PL);
    let inside = ix >= 0 && ix < i32(SRC_W);
    let at = src + u32(clamp(ix, 0, i32(SRC_W) - 1));
    var v = 0.0;
    if (t) { v = dy[at]; } else { v = x[at]; }
    dw[first + gx] = select(0.0, v, inside);
  }
}
