// 2-D pooling on NCHW float32 tensors, each plane (one n, one c) pooled on its own:
// - max_pool: the maximum over a KH×KW window with stride (SH, SW) and padding
//   (PH, PW) on each side; padded positions never win (PyTorch's max_pool2d);
// - avg_pool: the mean over the window; with include_pad = 1 the divisor counts
//   padded positions inside the padded image (PyTorch's count_include_pad=True),
//   with include_pad = 0 only positions inside the image;
// - adaptive_avg_pool: output cell (i, j) averages rows ⌊i·H/OH⌋ … ⌈(i+1)·H/OH⌉ − 1
//   and the same columns (PyTorch's adaptive_avg_pool2d).
// One invocation per output element; workgroup size 64, and a 2-D grid
// (index = x + y · groups_x · 64) for outputs with more than 65,535 · 64 elements.
// Windows are at most a few dozen taps, so a thread per output needs no shared memory.

struct Params {
  n: u32,       // output elements: planes · OH · OW
  H: u32, W: u32,
  OH: u32, OW: u32,
  KH: u32, KW: u32,
  SH: u32, SW: u32,
  PH: u32, PW: u32,
  include_pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn linear(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * 64u;
}

@compute @workgroup_size(64)
fn max_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = linear(gid, groups);
  if (i >= p.n) { return; }
  let ow = i % p.OW;
  let oh = (i / p.OW) % p.OH;
  let plane = i / (p.OW * p.OH);
  let base = plane * p.H * p.W;
  let h0 = i32(oh * p.SH) - i32(p.PH);
  let w0 = i32(ow * p.SW) - i32(p.PW);
  var best = -3.4028234663852886e38;
  for (var kh = 0; kh < i32(p.KH); kh++) {
    let h = h0 + kh;
    if (h < 0 || h >= i32(p.H)) { continue; }
    for (var kw = 0; kw < i32(p.KW); kw++) {
      let w = w0 + kw;
      if (w < 0 || w >= i32(p.W)) { continue; }
      best = max(best, x[base + u32(h) * p.W + u32(w)]);
    }
  }
  y[i] = best;
}

@compute @workgroup_size(64)
fn avg_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = linear(gid, groups);
  if (i >= p.n) { return; }
  let ow = i % p.OW;
  let oh = (i / p.OW) % p.OH;
  let plane = i / (p.OW * p.OH);
  let base = plane * p.H * p.W;
  let h0 = i32(oh * p.SH) - i32(p.PH);
  let w0 = i32(ow * p.SW) - i32(p.PW);
  var sum = 0.0;
  var inside = 0u;
  for (var kh = 0; kh < i32(p.KH); kh++) {
    let h = h0 + kh;
    if (h < 0 || h >= i32(p.H)) { continue; }
    for (var kw = 0; kw < i32(p.KW); kw++) {
      let w = w0 + kw;
      if (w < 0 || w >= i32(p.W)) { continue; }
      sum += x[base + u32(h) * p.W + u32(w)];
      inside++;
    }
  }
  var count = f32(inside);
  if (p.include_pad == 1u) {
    // The window clipped to the padded image, as PyTorch counts it.
    let h1 = min(h0 + i32(p.KH), i32(p.H + p.PH));
    let w1 = min(w0 + i32(p.KW), i32(p.W + p.PW));
    count = f32((h1 - h0) * (w1 - w0));
  }
  y[i] = sum / count;
}

@compute @workgroup_size(64)
fn adaptive_avg_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = linear(gid, groups);
  if (i >= p.n) { return; }
  let ow = i % p.OW;
  let oh = (i / p.OW) % p.OH;
  let plane = i / (p.OW * p.OH);
  let base = plane * p.H * p.W;
  let h0 = (oh * p.H) / p.OH;
  let h1 = ((oh + 1u) * p.H + p.OH - 1u) / p.OH;
  let w0 = (ow * p.W) / p.OW;
  let w1 = ((ow + 1u) * p.W + p.OW - 1u) / p.OW;
  var sum = 0.0;
  for (var h = h0; h < h1; h++) {
    for (var w = w0; w < w1; w++) {
      sum += x[base + h * p.W + w];
    }
  }
  y[i] = sum / f32((h1 - h0) * (w1 - w0));
}
