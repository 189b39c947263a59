// Group normalisation of x [N, C, spatial…] (row-major, so each group of C/G channels is
// one contiguous run of M = (C/G) · spatial elements), in three dispatches:
//
//   partial_stats  one workgroup of 64 per (group, part): each invocation takes a strided
//                  share of the part, computes its mean (of values shifted by the part's
//                  first element), then its sum of squared deviations
//                  (two passes over data still in cache); invocation 0 merges the 64 results
//                  by Chan's pairwise formula. Splitting a group into parts keeps every core
//                  busy when there are few groups (GroupNorm(1) on one image, say).
//   finish_stats   one invocation per group merges its parts the same way and stores the
//                  mean and 1 / sqrt(variance + eps) (biased variance, as PyTorch).
//   normalize      one invocation per run of 16 elements of one channel:
//                  (x − mean) · rstd · gamma[c] + beta[c], then SiLU when asked.
//
// Variances never come from E[x²] − E[x]², which loses all precision when the mean is large
// next to the spread. Each entry point binds its own buffers from binding 1 upwards.

struct Params {
  M: u32,            // elements per group
  parts: u32,        // parts per group
  groups: u32,       // N · G
  C: u32,            // channels
  spatial: u32,      // elements per channel
  channels_per_group: u32,
  total: u32,        // N · C · spatial
  silu: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

// A running (count, mean, M2) triple, merged by Chan et al.'s formula:
// δ = mean_b − mean_a, mean = mean_a + δ·n_b/n, M2 = M2_a + M2_b + δ²·n_a·n_b/n.
fn merge(a: vec3<f32>, b: vec3<f32>) -> vec3<f32> {
  let n = a.x + b.x;
  if (n == 0.0) { return a; }
  let delta = b.y - a.y;
  let fb = b.x / n;
  return vec3<f32>(n, a.y + delta * fb, a.z + b.z + delta * delta * a.x * fb);
}

// partial_stats bindings
@group(0) @binding(1) var<storage, read> ps_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> ps_partial: array<f32>;  // [groups][parts][3]

var<workgroup> shared_stats: array<vec3<f32>, 64>;

// The workgroup's slot (group · parts + part) is x + y · groups_x, so large grids can be 2-D.
@compute @workgroup_size(64)
fn partial_stats(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
  @builtin(num_workgroups) grid: vec3<u32>,
) {
  let slot = wid.x + wid.y * grid.x;   // group · parts + part
  let valid = slot < p.groups * p.parts;
  let group = slot / p.parts;
  let part = slot % p.parts;
  let start = group * p.M + (part * p.M) / p.parts;
  let end = group * p.M + ((part + 1u) * p.M) / p.parts;

  // Summing x − shift (any value of the part) keeps the sum small when the mean is large
  // next to the spread, so the mean keeps its precision.
  var shift = 0.0;
  if (valid && start < end) { shift = ps_x[start]; }
  var sum = 0.0;
  var count = 0.0;
  if (valid) {
    for (var i = start + lane; i < end; i += 64u) {
      sum += ps_x[i] - shift;
      count += 1.0;
    }
  }
  let mean = shift + select(0.0, sum / count, count > 0.0);
  var m2 = 0.0;
  if (valid) {
    for (var i = start + lane; i < end; i += 64u) {
      let d = ps_x[i] - mean;
      m2 += d * d;
    }
  }
  shared_stats[lane] = vec3<f32>(count, mean, m2);
  workgroupBarrier();
  if (lane == 0u && valid) {
    var s = shared_stats[0];
    for (var k = 1u; k < 64u; k++) { s = merge(s, shared_stats[k]); }
    ps_partial[slot * 3u] = s.x;
    ps_partial[slot * 3u + 1u] = s.y;
    ps_partial[slot * 3u + 2u] = s.z;
  }
}

// finish_stats bindings
@group(0) @binding(1) var<storage, read> fs_partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> fs_stats: array<f32>;  // [groups][mean, rstd]

@compute @workgroup_size(64)
fn finish_stats(@builtin(global_invocation_id) gid: vec3<u32>) {
  let group = gid.x;
  if (group >= p.groups) { return; }
  var s = vec3<f32>(0.0);
  for (var k = 0u; k < p.parts; k++) {
    let i = (group * p.parts + k) * 3u;
    s = merge(s, vec3<f32>(fs_partial[i], fs_partial[i + 1u], fs_partial[i + 2u]));
  }
  fs_stats[group * 2u] = s.y;
  fs_stats[group * 2u + 1u] = inverseSqrt(s.z / s.x + p.eps);
}

// normalize bindings
@group(0) @binding(1) var<storage, read> nm_x: array<f32>;
@group(0) @binding(2) var<storage, read> nm_stats: array<f32>;
@group(0) @binding(3) var<storage, read> nm_gamma: array<f32>;
@group(0) @binding(4) var<storage, read> nm_beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> nm_y: array<f32>;

const RUN: u32 = 16u;   // elements per invocation, all of one channel

// One run of up to RUN elements of one channel per invocation, on a grid that may be 2-D
// (index = x + y · groups_x · 64). Channel, group and affine factors are worked out once per
// run: per element, the integer divisions cost more than the normalisation on lavapipe.
@compute @workgroup_size(64)
fn normalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>) {
  let runs = (p.spatial + RUN - 1u) / RUN;
  let id = gid.x + gid.y * grid.x * 64u;
  if (id >= (p.total / p.spatial) * runs) { return; }
  let nc = id / runs;                  // n · C + c
  let start = (id % runs) * RUN;
  let c = nc % p.C;
  let group = (nc / p.C) * (p.C / p.channels_per_group) + c / p.channels_per_group;
  let mean = nm_stats[group * 2u];
  let rstd = nm_stats[group * 2u + 1u];
  let gamma = nm_gamma[c];
  let beta = nm_beta[c];
  let base = nc * p.spatial + start;
  let count = min(RUN, p.spatial - start);
  for (var k = 0u; k < count; k++) {
    var v = (nm_x[base + k] - mean) * rstd * gamma + beta;
    if (p.silu != 0u) { v = v / (1.0 + exp(-v)); }
    nm_y[base + k] = v;
  }
}
