// Backward of max_pool (pool.wgsl): each input element gathers the output
// gradient of every window whose maximum it is. A window's maximum is its first
// largest value in row-major order, as PyTorch's max_pool2d picks it, so a tie
// sends the gradient to one element only. One invocation per input element;
// workgroup size 64, and a 2-D grid (index = x + y · groups_x · 64). Windows
// are small (2×2 in VGG16), so each invocation rescans the windows it lies in.

struct Params {
  n: u32,       // input elements: planes · H · W
  H: u32, W: u32,
  OH: u32, OW: u32,
  KH: u32, KW: u32,
  SH: u32, SW: u32,
  PH: u32, PW: u32,
  include_pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn linear(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * 64u;
}

// The flat input index of window (oh, ow)'s first largest value in `plane`.
fn window_argmax(plane: u32, oh: u32, ow: u32) -> u32 {
  let base = plane * p.H * p.W;
  let h0 = i32(oh * p.SH) - i32(p.PH);
  let w0 = i32(ow * p.SW) - i32(p.PW);
  var best = -3.4028234663852886e38;
  var at = 0xffffffffu;
  for (var kh = 0; kh < i32(p.KH); kh++) {
    let h = h0 + kh;
    if (h < 0 || h >= i32(p.H)) { continue; }
    for (var kw = 0; kw < i32(p.KW); kw++) {
      let w = w0 + kw;
      if (w < 0 || w >= i32(p.W)) { continue; }
      let index = base + u32(h) * p.W + u32(w);
      if (at == 0xffffffffu || x[index] > best) {
        best = x[index];
        at = index;
      }
    }
  }
  return at;
}

@compute @workgroup_size(64)
fn max_pool_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = linear(gid, groups);
  if (i >= p.n) { return; }
  let w = i32(i % p.W);
  let h = i32((i / p.W) % p.H);
  let plane = i / (p.W * p.H);
  // Windows oh with oh·SH − PH ≤ h < oh·SH − PH + KH, and the same for columns.
  let oh_first = max(0, (h + i32(p.PH) - i32(p.KH) + i32(p.SH)) / i32(p.SH));
  let oh_last = min(i32(p.OH) - 1, (h + i32(p.PH)) / i32(p.SH));
  let ow_first = max(0, (w + i32(p.PW) - i32(p.KW) + i32(p.SW)) / i32(p.SW));
  let ow_last = min(i32(p.OW) - 1, (w + i32(p.PW)) / i32(p.SW));
  var sum = 0.0;
  for (var oh = oh_first; oh <= oh_last; oh++) {
    for (var ow = ow_first; ow <= ow_last; ow++) {
      if (window_argmax(plane, u32(oh), u32(ow)) == i) {
        sum += dy[(plane * p.OH + u32(oh)) * p.OW + u32(ow)];
      }
    }
  }
  dx[i] = sum;
}
