// Embedding lookup: out[i, :] = table[ids[i], :] for a row-major [V, D] float32
// table and [count, D] output. The table may be one of several row chunks (rows
// first_row … first_row + rows − 1 of the whole table); a dispatch writes only the
// output rows whose id falls in its chunk, so one dispatch per chunk fills the
// output. The ids arrive as int32 values in a buffer otherwise used for float32.
//
// One invocation per output element (consecutive invocations copy consecutive
// values of a row); workgroup size 64, 2-D grid (index = x + y · groups_x · 64).

struct Params {
  count: u32,
  width: u32,
  first_row: u32,
  rows: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let index = gid.x + gid.y * groups.x * 64u;
  if (index >= p.count * p.width) { return; }
  let i = index / p.width;
  let column = index % p.width;
  // An id before this chunk wraps round to a huge row, so the one test skips ids on either side of it.
  let row = u32(ids[i]) - p.first_row;
  if (row >= p.rows) { return; }
  out[index] = table[row * p.width + column];
}
