// 2-D transposed convolution (PyTorch's ConvTranspose2d, no output padding or dilation):
//   y[n, o, oy, ox] = b[o] + Σ x[n, c, iy, ix] · w[c, o, ky, kx]
//   over every c, ky, kx with oy = iy·SH − PT + ky and ox = ix·SW − PL + kx.
// Tensors are NCHW, row-major; the weights are read from a copy transposed once to
// [C][KH][KW][OPAD] (OPAD = O rounded up to 8, zero-filled), as conv2d.wgsl does.
//
// Written as a gather. The output pixels of one phase (oy mod SH, ox mod SW) all use the
// same taps: ky ≡ oy + PT (mod SH), kx ≡ ox + PL (mod SW). Each workgroup covers one phase
// (workgroup_id.z = image · SH · SW + phase), so the tap loops skip the taps that do not
// apply and their weight addresses stay uniform across the workgroup. An invocation
// computes 8 output channels (workgroup_id.y) × 8 output pixels of one row and phase,
// i.e. 8 consecutive input columns. Workgroup size 64.

struct Params {
  C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, OPAD: u32,
  KH: u32, KW: u32, SH: u32, SW: u32, PT: u32, PL: u32,
  QH: u32, QW: u32,  // output rows and columns per phase: ceil(OH / SH), ceil(OW / SW)
  tiles_x: u32,      // pixel tiles per phase row: ceil(QW / 8)
  has_bias: u32,
  x_offset: u32,     // element offset of the first image in x and of its output in y
  y_offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

const PX: u32 = 8u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let tile = gid.x;
  if (tile >= p.QH * p.tiles_x) { return; }
  let phases = p.SH * p.SW;
  let n = wid.z / phases;
  let ry = (wid.z % phases) / p.SW;
  let rx = wid.z % p.SW;
  let qy = tile / p.tiles_x;
  let q0 = (tile % p.tiles_x) * PX;
  let oy = ry + qy * p.SH;
  let ob = wid.y * 8u;
  let ob4 = ob / 4u;
  let o4 = p.OPAD / 4u;
  let plane = p.H * p.W;

  // First tap of this phase in each direction; later taps step by the stride.
  let ky0 = (ry + p.PT) % p.SH;
  let kx0 = (rx + p.PL) % p.SW;

  var acc: array<vec4<f32>, 16>;
  for (var c = 0u; c < p.C; c++) {
    let xc = p.x_offset + (n * p.C + c) * plane;
    for (var ky = ky0; ky < p.KH; ky += p.SH) {
      // (ry + PT − ky) is a multiple of SH by the choice of ky0.
      let iy = i32(qy) + (i32(ry + p.PT) - i32(ky)) / i32(p.SH);
      let row_ok = iy >= 0 && iy < i32(p.H);
      let xrow = xc + u32(clamp(iy, 0, i32(p.H) - 1)) * p.W;
      for (var kx = kx0; kx < p.KW; kx += p.SW) {
        let dx = (i32(rx + p.PL) - i32(kx)) / i32(p.SW);
        let wbase = ((c * p.KH + ky) * p.KW + kx) * o4 + ob4;
        let wa = wt[wbase];
        let wb = wt[wbase + 1u];
        for (var j = 0u; j < PX; j++) {
          let ix = i32(q0 + j) + dx;
          let ok = row_ok && ix >= 0 && ix < i32(p.W);
          let v = select(0.0, x[xrow + u32(clamp(ix, 0, i32(p.W) - 1))], ok);
          acc[2u * j] += v * wa;
          acc[2u * j + 1u] += v * wb;
        }
      }
    }
  }

  if (oy >= p.OH) { return; }
  for (var k = 0u; k < 8u; k++) {
    let o = ob + k;
    if (o >= p.O) { break; }
    var add = 0.0;
    if (p.has_bias != 0u) { add = bias[o]; }
    let row = p.y_offset + ((n * p.O + o) * p.OH + oy) * p.OW;
    for (var j = 0u; j < PX; j++) {
      let ox = rx + (q0 + j) * p.SW;
      if (ox < p.OW) { y[row + ox] = acc[j * 2u + k / 4u][k % 4u] + add; }
    }
  }
}
