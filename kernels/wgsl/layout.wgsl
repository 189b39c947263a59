// Copies that change a tensor's layout: block copies (concat and slice) and axis
// permutations, on row-major float32 tensors. One invocation per output element,
// workgroup size 64, on a grid that may be 2-D (index = x + y · groups_x · 64) for
// tensors of more than 65,535 · 64 elements.

struct Params {
  n: u32,            // output elements written by this dispatch
  // copy_block: n = rows · row_len
  row_len: u32,
  src_stride: u32, src_offset: u32,
  dst_stride: u32, dst_offset: u32,
  // permute (rank padded to 5 on the left): output dims 1…4 and the source stride of each output axis
  d1: u32, d2: u32, d3: u32, d4: u32,
  s0: u32, s1: u32, s2: u32, s3: u32, s4: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn linear(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * 64u;
}

// dst[dst_offset + row · dst_stride + i] = src[src_offset + row · src_stride + i] for i < row_len.
// A concat is one such copy per input (into a column range of the output rows); a slice is one
// copy out of a column range of the input rows.
@compute @workgroup_size(64)
fn copy_block(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = linear(gid, groups);
  if (i >= p.n) { return; }
  let row = i / p.row_len;
  let col = i % p.row_len;
  dst[p.dst_offset + row * p.dst_stride + col] = src[p.src_offset + row * p.src_stride + col];
}

// dst[i] = src[Σ_k index_k · s_k], where index is output element i's coordinate in the
// output's dims (d0 implied by n).
@compute @workgroup_size(64)
fn permute(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = linear(gid, groups);
  if (i >= p.n) { return; }
  let i4 = i % p.d4;
  let r3 = i / p.d4;
  let i3 = r3 % p.d3;
  let r2 = r3 / p.d3;
  let i2 = r2 % p.d2;
  let r1 = r2 / p.d2;
  let i1 = r1 % p.d1;
  let i0 = r1 / p.d1;
  dst[i] = src[i0 * p.s0 + i1 * p.s1 + i2 * p.s2 + i3 * p.s3 + i4 * p.s4];
}
