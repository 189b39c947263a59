// Backward of GroupNorm and LayerNorm (each optionally followed by SiLU), on
// float32 rows of `row_len` contiguous values that are normalised together:
// GroupNorm's rows are the (n, group) blocks of an NCHW tensor, LayerNorm's the
// vectors along the last axis. Element j of row r uses the affine channel
// c = (r % groups) · channels_per_row + j / span (GroupNorm: groups = G,
// channels_per_row = C / G, span = H·W; LayerNorm: groups = 1, channels_per_row = D, span = 1).
//
// input_grad: one invocation per row (barrier-free loops, the faster form on
// lavapipe). It recomputes the row's mean and 1/σ (two passes, biased variance),
// stores them in `stats` for param_grad, and writes
//   dx = (1/σ) · (g − mean(g) − x̂ · mean(g · x̂)),  g = dz · γ,
// where dz is dy, or dy · SiLU'(γ x̂ + β) when `silu` is 1.
// param_grad: one invocation per channel, after input_grad in the same submit;
// writes dγ at out[c] and dβ at out[channels + c].

struct Params {
  rows: u32,
  row_len: u32,
  groups: u32,
  channels_per_row: u32,
  span: u32,
  silu: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

fn index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * 64u;
}

fn channel(r: u32, j: u32) -> u32 {
  return (r % p.groups) * p.channels_per_row + j / p.span;
}

// dL/dz for normalised value xh of channel c: dy itself, or through SiLU(γ x̂ + β).
fn output_grad(g: f32, xh: f32, c: u32) -> f32 {
  if (p.silu == 0u) { return g; }
  let z = gamma[c] * xh + beta[c];
  let s = 1.0 / (1.0 + exp(-z));
  return g * s * (1.0 + z * (1.0 - s));
}

@compute @workgroup_size(64)
fn input_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r = index(gid, groups);
  if (r >= p.rows) { return; }
  let base = r * p.row_len;
  let m = f32(p.row_len);
  var sum = 0.0;
  for (var j = 0u; j < p.row_len; j++) { sum += x[base + j]; }
  let mean = sum / m;
  var squares = 0.0;
  for (var j = 0u; j < p.row_len; j++) {
    let d = x[base + j] - mean;
    squares += d * d;
  }
  let rstd = inverseSqrt(squares / m + p.eps);
  stats[2u * r] = mean;
  stats[2u * r + 1u] = rstd;

  var sum_g = 0.0;
  var sum_gx = 0.0;
  for (var j = 0u; j < p.row_len; j++) {
    let c = channel(r, j);
    let xh = (x[base + j] - mean) * rstd;
    let g = output_grad(dy[base + j], xh, c) * gamma[c];
    sum_g += g;
    sum_gx += g * xh;
  }
  let mean_g = sum_g / m;
  let mean_gx = sum_gx / m;
  for (var j = 0u; j < p.row_len; j++) {
    let c = channel(r, j);
    let xh = (x[base + j] - mean) * rstd;
    let g = output_grad(dy[base + j], xh, c) * gamma[c];
    out[base + j] = rstd * (g - mean_g - xh * mean_gx);
  }
}

@compute @workgroup_size(64)
fn param_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let c = index(gid, groups);
  let channels = p.groups * p.channels_per_row;
  if (c >= channels) { return; }
  let g = c / p.channels_per_row;
  let first = (c % p.channels_per_row) * p.span;
  var d_gamma = 0.0;
  var d_beta = 0.0;
  for (var r = g; r < p.rows; r += p.groups) {
    let base = r * p.row_len;
    let mean = stats[2u * r];
    let rstd = stats[2u * r + 1u];
    for (var j = first; j < first + p.span; j++) {
      let xh = (x[base + j] - mean) * rstd;
      let dz = output_grad(dy[base + j], xh, c);
      d_gamma += dz * xh;
      d_beta += dz;
    }
  }
  out[c] = d_gamma;
  out[channels + c] = d_beta;
}
