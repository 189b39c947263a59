/**
 * Backward of nearest-neighbour ×2 upsampling: each input pixel's gradient is
 * the sum of the 2×2 output pixels it was copied to. On the GPU this is a
 * permute that gathers each 2×2 block into a row, then a row sum.
 */
import { Tensor } from "../../gpu/tensor.ts";
import { permute } from "../layout.ts";
import { sumColumns } from "./elementwise.ts";

/** Computes the gradient of x [N, C, H, W] in upsampleNearest2x(x), from dy [N, C, 2H, 2W]. */
export function upsampleNearest2xBackward(dy: Tensor): Tensor {
  const [n, c, h2, w2] = dy.shape;
  const [h, w] = [h2 / 2, w2 / 2];
  if (!dy.gpu) {
    const dx = Tensor.host([n, c, h, w]);
    const v = dy.data;
    for (let plane = 0; plane < n * c; plane++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const top = (plane * h2 + 2 * y) * w2 + 2 * x;
          dx.data[(plane * h + y) * w + x] = v[top] + v[top + 1] + v[top + w2] + v[top + w2 + 1];
        }
      }
    }
    return dx;
  }
  const blocks = dy.reshape([n * c * h, 2, w, 2]);
  const gathered = permute(blocks, [0, 2, 1, 3]);
  blocks.release();
  const sums = sumColumns(gathered, n * c * h * w, 4);
  gathered.release();
  const dx = sums.reshape([n, c, h, w]);
  sums.release();
  return dx;
}
