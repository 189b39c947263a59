// Resizing of x [N, C, H, W] (row-major) to [N, C, OH, OW], one invocation per output
// element, workgroup size 64, on a grid that may be 2-D (index = x + y · groups_x · 64).

struct Params {
  total: u32,        // N · C · OH · OW
  H: u32, W: u32,
  OH: u32, OW: u32,
  scale_y: f32,      // H / OH, rounded to float32 as PyTorch computes it
  scale_x: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn linear(gid: vec3<u32>, grid: vec3<u32>) -> u32 {
  return gid.x + gid.y * grid.x * 64u;
}

// Nearest-neighbour upsampling by 2: y[.., oy, ox] = x[.., oy / 2, ox / 2].
@compute @workgroup_size(64)
fn upsample_nearest2x(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>) {
  let i = linear(gid, grid);
  if (i >= p.total) { return; }
  let ox = i % p.OW;
  let oy = (i / p.OW) % p.OH;
  let plane = i / (p.OW * p.OH);
  y[i] = x[(plane * p.H + oy / 2u) * p.W + ox / 2u];
}

// Keys' cubic convolution weights with A = −0.75 for the four taps at distances
// 1 + t, t, 1 − t, 2 − t from the source point (PyTorch's bicubic coefficients).
fn cubic_weights(t: f32) -> vec4<f32> {
  let A = -0.75;
  let x0 = t + 1.0;
  let x3 = 2.0 - t;
  let s = 1.0 - t;
  return vec4<f32>(
    ((A * x0 - 5.0 * A) * x0 + 8.0 * A) * x0 - 4.0 * A,
    ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0,
    ((A + 2.0) * s - (A + 3.0)) * s * s + 1.0,
    ((A * x3 - 5.0 * A) * x3 + 8.0 * A) * x3 - 4.0 * A,
  );
}

// PyTorch's interpolate(mode="bicubic", align_corners=False, antialias=False): the source
// coordinate is (o + 0.5) · scale − 0.5, not clamped; taps ⌊src⌋ − 1 … ⌊src⌋ + 2 are
// clamped to the edge. Each of the four rows is interpolated along x first, then the
// four results along y.
@compute @workgroup_size(64)
fn bicubic(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>) {
  let i = linear(gid, grid);
  if (i >= p.total) { return; }
  let ox = i % p.OW;
  let oy = (i / p.OW) % p.OH;
  let plane = i / (p.OW * p.OH);

  let sx = (f32(ox) + 0.5) * p.scale_x - 0.5;
  let sy = (f32(oy) + 0.5) * p.scale_y - 0.5;
  let fx = floor(sx);
  let fy = floor(sy);
  let wx = cubic_weights(sx - fx);
  let wy = cubic_weights(sy - fy);
  let ix = i32(fx);
  let iy = i32(fy);

  var cols: vec4<u32>;
  for (var k = 0; k < 4; k++) { cols[k] = u32(clamp(ix - 1 + k, 0, i32(p.W) - 1)); }
  var out = 0.0;
  for (var k = 0; k < 4; k++) {
    let row = (plane * p.H + u32(clamp(iy - 1 + k, 0, i32(p.H) - 1))) * p.W;
    let h = x[row + cols[0]] * wx[0] + x[row + cols[1]] * wx[1] + x[row + cols[2]] * wx[2] + x[row + cols[3]] * wx[3];
    out += h * wy[k];
  }
  y[i] = out;
}
