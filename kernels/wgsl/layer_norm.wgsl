// Layer normalisation over the last axis of x [rows, D] (row-major):
//   y = (x − mean) / sqrt(var + eps) · gamma + beta, with the biased variance.
// One workgroup of 64 per row: the invocations take strided shares of the row; the
// mean comes first (pass 1), then the sum of squared deviations from it (pass 2), each
// reduced through workgroup memory by invocation 0, then every invocation writes its
// share (pass 3). Rows are x + y · groups_x over a grid that may be 2-D.

struct Params {
  rows: u32,
  D: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, 64>;
var<workgroup> row_value: f32;

// Sums `value` over the workgroup; every invocation receives the total.
fn workgroup_sum(lane: u32, value: f32) -> f32 {
  partial[lane] = value;
  workgroupBarrier();
  if (lane == 0u) {
    var s = 0.0;
    for (var k = 0u; k < 64u; k++) { s += partial[k]; }
    row_value = s;
  }
  workgroupBarrier();
  let total = row_value;
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(64)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
  @builtin(num_workgroups) grid: vec3<u32>,
) {
  let row = wid.x + wid.y * grid.x;
  let valid = row < p.rows;
  let base = row * p.D;
  let end = select(0u, p.D, valid);

  // Summing x − x[row, 0] keeps the sum small when the mean is large next to the spread.
  var shift = 0.0;
  if (valid) { shift = x[base]; }
  var sum = 0.0;
  for (var i = lane; i < end; i += 64u) { sum += x[base + i] - shift; }
  let mean = shift + workgroup_sum(lane, sum) / f32(p.D);

  var m2 = 0.0;
  for (var i = lane; i < end; i += 64u) {
    let d = x[base + i] - mean;
    m2 += d * d;
  }
  let rstd = inverseSqrt(workgroup_sum(lane, m2) / f32(p.D) + p.eps);

  for (var i = lane; i < end; i += 64u) {
    y[base + i] = (x[base + i] - mean) * rstd * gamma[i] + beta[i];
  }
}
