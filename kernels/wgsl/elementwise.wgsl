// Elementwise operations on float32 tensors of rank ≤ 4 (shapes padded on the
// left with 1s), with NumPy-style broadcasting expressed as per-axis strides
// (stride 0 on a broadcast axis). One invocation per output element; workgroup
// size 64, and a 2-D grid (index = x + y · groups_x · 64) for tensors with more
// than 65,535 · 64 elements.

struct Params {
  n: u32,
  d1: u32, d2: u32, d3: u32,          // output dims 1..3 (dim 0 is implied by n)
  a0: u32, a1: u32, a2: u32, a3: u32, // strides of a
  b0: u32, b1: u32, b2: u32, b3: u32, // strides of b
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn linear(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * 64u;
}

fn offsets(i: u32) -> vec2<u32> {
  let i3 = i % p.d3;
  let r2 = i / p.d3;
  let i2 = r2 % p.d2;
  let r1 = r2 / p.d2;
  let i1 = r1 % p.d1;
  let i0 = r1 / p.d1;
  return vec2<u32>(i0 * p.a0 + i1 * p.a1 + i2 * p.a2 + i3 * p.a3, i0 * p.b0 + i1 * p.b1 + i2 * p.b2 + i3 * p.b3);
}

// y = alpha · a + beta · b
@compute @workgroup_size(64)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = linear(gid, groups);
  if (i >= p.n) { return; }
  let o = offsets(i);
  y[i] = p.alpha * a[o.x] + p.beta * b[o.y];
}

// y = alpha · a · b
@compute @workgroup_size(64)
fn mul(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = linear(gid, groups);
  if (i >= p.n) { return; }
  let o = offsets(i);
  y[i] = p.alpha * a[o.x] * b[o.y];
}

// Unary entry points read only `a` (b is bound but unused); y = f(alpha · a + beta).

@compute @workgroup_size(64)
fn affine(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = linear(gid, groups);
  if (i >= p.n) { return; }
  y[i] = p.alpha * a[offsets(i).x] + p.beta + 0.0 * b[0];
}

@compute @workgroup_size(64)
fn silu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = linear(gid, groups);
  if (i >= p.n) { return; }
  let x = p.alpha * a[offsets(i).x] + p.beta + 0.0 * b[0];
  y[i] = x / (1.0 + exp(-x));
}

// Exact GELU, x · Φ(x). WGSL has no erf: erf(z) = 1 − erfc(z) with the Chebyshev-fitted erfc of
// Numerical Recipes (2nd ed., §6.2, `erfcc`), fractional error below 1.2e-7 for every z ≥ 0.
fn erf_approx(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let r = 1.0 - t * exp(poly);
  return select(r, -r, x < 0.0);
}

@compute @workgroup_size(64)
fn gelu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = linear(gid, groups);
  if (i >= p.n) { return; }
  let x = p.alpha * a[offsets(i).x] + p.beta + 0.0 * b[0];
  y[i] = 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752));
}

// y = min(max(a, alpha), beta)
@compute @workgroup_size(64)
fn clamp_range(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = linear(gid, groups);
  if (i >= p.n) { return; }
  y[i] = min(max(a[offsets(i).x], p.alpha), p.beta) + 0.0 * b[0];
}

// y = a where a ≥ 0, else alpha · a (alpha 0: ReLU)
@compute @workgroup_size(64)
fn leaky_relu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = linear(gid, groups);
  if (i >= p.n) { return; }
  let v = a[offsets(i).x];
  y[i] = select(p.alpha * v, v, v >= 0.0) + 0.0 * b[0];
}
