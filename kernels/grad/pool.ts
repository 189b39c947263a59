/**
 * Backward of max pooling: each window's output gradient goes to the window's
 * first largest input (row-major order, as PyTorch picks it). Host tensors run a
 * plain loop over the windows; GPU tensors run kernels/wgsl/pool_grad.wgsl, one
 * invocation per input element.
 */
import { shapeString, Tensor } from "../../gpu/tensor.ts";
import { type Pool2dOptions, POOL_LAYOUT, type PoolGeometry, poolGeometry, poolParams } from "../pool.ts";
import { wgsl, WORKGROUP } from "../wgsl_source.ts";

/** Computes the input gradient of `maxPool2d(x, options)` from its output gradient dy. */
export function maxPool2dBackward(x: Tensor, dy: Tensor, options: Pool2dOptions): Tensor {
  const g = poolGeometry("maxPool2dBackward", x, options);
  const expected = [x.shape[0], x.shape[1], g.OH, g.OW];
  if (dy.shape.length !== 4 || dy.shape.some((d, i) => d !== expected[i])) {
    throw new Error(
      `maxPool2dBackward: gradient ${shapeString(dy.shape)} does not match the output ${
        shapeString(expected)
      }`,
    );
  }
  if (!x.gpu) return maxPoolBackwardReference(x, dy, g);

  const gpu = x.gpu;
  const dx = Tensor.empty(gpu, x.shape);
  gpu.dispatch(
    "pool_grad.max_pool_grad",
    gpu.pipeline("pool_grad", wgsl("pool_grad"), "max_pool_grad"),
    POOL_LAYOUT,
    poolParams(g, x.size, false),
    [x.binding(), dy.binding(), dx.binding()],
    gpu.grid(Math.ceil(x.size / WORKGROUP)),
  );
  return dx;
}

/** Scatters each window's gradient onto its first largest input. */
function maxPoolBackwardReference(x: Tensor, dy: Tensor, g: PoolGeometry): Tensor {
  const dx = new Float64Array(x.size);
  let out = 0;
  for (let plane = 0; plane < g.planes; plane++) {
    const base = plane * g.H * g.W;
    for (let oh = 0; oh < g.OH; oh++) {
      for (let ow = 0; ow < g.OW; ow++) {
        const h0 = oh * g.SH - g.PH, w0 = ow * g.SW - g.PW;
        let best = -Infinity, at = -1;
        for (let h = Math.max(h0, 0); h < Math.min(h0 + g.KH, g.H); h++) {
          for (let w = Math.max(w0, 0); w < Math.min(w0 + g.KW, g.W); w++) {
            const index = base + h * g.W + w;
            if (at < 0 || x.data[index] > best) [best, at] = [x.data[index], index];
          }
        }
        dx[at] += dy.data[out++];
      }
    }
  }
  return Tensor.host(x.shape, Float32Array.from(dx));
}
