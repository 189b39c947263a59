// Softmax over the last axis of a row-major [rows, length] float32 tensor:
// y = exp(scale·x − max) / Σ exp(scale·x − max), with max the row's maximum of
// scale·x, so no exponent overflows.
//
// One invocation per row, three passes over it (maximum, exponentials and their
// sum, normalisation), with no workgroup memory and no barriers: on lavapipe
// this beat tree reductions across a workgroup. Workgroup size 64; the grid is
// 2-D (row = x + y · groups_x · 64) when there are more than 65,535 · 64 rows.
//
// Entry points: `softmax` writes y; `softmax_in_place` overwrites x; `row_stats`
// writes each row's maximum and 1 / sum for a kernel that applies the softmax itself.

struct Params {
  rows: u32,
  length: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// The in-place form binds the one tensor at binding 1.
@group(0) @binding(1) var<storage, read_write> xy: array<f32>;

@compute @workgroup_size(64)
fn softmax(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = gid.x + gid.y * groups.x * 64u;
  if (row >= p.rows) { return; }
  let start = row * p.length;
  let end = start + p.length;
  var max_value = p.scale * x[start];
  for (var i = start + 1u; i < end; i++) {
    max_value = max(max_value, p.scale * x[i]);
  }
  var sum = 0.0;
  for (var i = start; i < end; i++) {
    let e = exp(p.scale * x[i] - max_value);
    y[i] = e;
    sum += e;
  }
  let inverse = 1.0 / sum;
  for (var i = start; i < end; i++) {
    y[i] *= inverse;
  }
}

@compute @workgroup_size(64)
fn softmax_in_place(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = gid.x + gid.y * groups.x * 64u;
  if (row >= p.rows) { return; }
  let start = row * p.length;
  let end = start + p.length;
  var max_value = p.scale * xy[start];
  for (var i = start + 1u; i < end; i++) {
    max_value = max(max_value, p.scale * xy[i]);
  }
  var sum = 0.0;
  for (var i = start; i < end; i++) {
    let e = exp(p.scale * xy[i] - max_value);
    xy[i] = e;
    sum += e;
  }
  let inverse = 1.0 / sum;
  for (var i = start; i < end; i++) {
    xy[i] *= inverse;
  }
}

// Row statistics for a softmax applied later by another kernel: y[2·row] is the
// row's maximum of scale·x and y[2·row + 1] is 1 / Σ exp(scale·x − max). One pass:
// the running sum is rescaled whenever the running maximum grows.
@compute @workgroup_size(64)
fn row_stats(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = gid.x + gid.y * groups.x * 64u;
  if (row >= p.rows) { return; }
  let start = row * p.length;
  let end = start + p.length;
  var max_value = p.scale * x[start];
  var sum = 1.0;
  for (var i = start + 1u; i < end; i++) {
    let v = p.scale * x[i];
    let new_max = max(max_value, v);
    sum = sum * exp(max_value - new_max) + exp(v - new_max);
    max_value = new_max;
  }
  y[2u * row] = max_value;
  y[2u * row + 1u] = 1.0 / sum;
}
