// Backward of the embedding lookup: the gradient of a [rows, width] table chunk
// whose first row is table row `first_row`. Row v's gradient is the sum of the
// output-gradient rows of every position that looked v up. The host sorts the
// positions by id into `positions` and gives, in `starts`, where each id's run
// begins (starts[v] … starts[v + 1] − 1; an empty run for an id not looked up).
// One invocation per table element, so every element, zero or not, is written
// once, with no atomics. The integer arrays travel as the raw bits of float32 tensors.

struct Params {
  width: u32,
  first_row: u32,
  rows: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> starts: array<u32>;
@group(0) @binding(2) var<storage, read> positions: array<u32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dtable: array<f32>;

@compute @workgroup_size(64)
fn scatter_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * 64u;
  if (i >= p.rows * p.width) { return; }
  let row = i / p.width;
  let column = i % p.width;
  let id = p.first_row + row;
  var sum = 0.0;
  for (var k = starts[id]; k < starts[id + 1u]; k++) {
    sum += dy[positions[k] * p.width + column];
  }
  dtable[i] = sum;
}
