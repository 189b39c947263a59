// Backward of the elementwise activations: out = dy · f'(x) for contiguous float32
// tensors of n elements. One invocation per element, workgroup size 64, and a 2-D
// grid (index = x + y · groups_x · 64) for more than 65,535 · 64 elements.

struct Params {
  n: u32,
  low: f32,
  high: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * 64u;
}

// d/dx [x · σ(x)] = σ(x) · (1 + x · (1 − σ(x)))
@compute @workgroup_size(64)
fn silu_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i >= p.n) { return; }
  let v = x[i];
  let s = 1.0 / (1.0 + exp(-v));
  dx[i] = dy[i] * s * (1.0 + v * (1.0 - s));
}

// The erfc fit of Numerical Recipes (2nd ed., §6.2, `erfcc`), as the forward GELU kernel uses.
fn erf_approx(v: f32) -> f32 {
  let z = abs(v);
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let r = 1.0 - t * exp(poly);
  return select(r, -r, v < 0.0);
}

// d/dx [x · Φ(x)] = Φ(x) + x · φ(x)
@compute @workgroup_size(64)
fn gelu_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i >= p.n) { return; }
  let v = x[i];
  let cdf = 0.5 * (1.0 + erf_approx(v * 0.70710678118654752));
  let pdf = 0.39894228040143268 * exp(-0.5 * v * v);
  dx[i] = dy[i] * (cdf + v * pdf);
}

// The gradient passes where low ≤ x ≤ high, as PyTorch's clamp backward does.
@compute @workgroup_size(64)
fn clamp_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i >= p.n) { return; }
  let v = x[i];
  dx[i] = select(0.0, dy[i], v >= p.low && v <= p.high);
}

// d/dx leaky_relu(x) = 1 where x > 0, else the negative slope (held in `low`), as PyTorch's backward.
@compute @workgroup_size(64)
fn leaky_relu_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i >= p.n) { return; }
  dx[i] = select(p.low * dy[i], dy[i], x[i] > 0.0);
}
