// Weight gradients of 2-D convolution and transposed convolution on NCHW float32
// tensors. One invocation per weight element, summing over the batch and every
// position the element touched; workgroup size 64, 2-D grid (index = x + y ·
// groups_x · 64). Summing in one invocation needs no atomics or barriers, which
// suits lavapipe, where barrier-free loops were the faster form.
//
// conv2d_weight_grad:           dw[o, c, ky, kx] = Σ_{n, oy, ox} dy[n, o, oy, ox] · x[n, c, oy·SH − PT + ky, ox·SW − PL + kx]
// conv_transpose2d_weight_grad: dw[c, o, ky, kx] = Σ_{n, iy, ix} x[n, c, iy, ix] · dy[n, o, iy·SH − PT + ky, ix·SW − PL + kx]
// x is [N, C, H, W], dy is [N, O, OH, OW].

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32,
  KH: u32, KW: u32, SH: u32, SW: u32, PT: u32, PL: u32,
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
