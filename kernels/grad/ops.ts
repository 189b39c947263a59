/**
 * Differentiable versions of the kernel functions, with the kernels' own
 * signatures. Each runs the forward kernel and, while a tape is recording
 * (`Tape.run`) and some input needs a gradient, records a backward function that
 * closes over the tensors it needs (kept alive by the tape). Without a recording
 * tape they cost nothing beyond the forward kernel, so a network whose kernel
 * imports point here runs unchanged for inference.
 */
import type { Tensor } from "../../gpu/tensor.ts";
import * as attentionKernels from "../attention.ts";
import * as convKernels from "../conv.ts";
import * as elementwiseKernels from "../elementwise.ts";
import * as embeddingKernels from "../embedding.ts";
import * as layoutKernels from "../layout.ts";
import * as matmulKernels from "../matmul.ts";
import * as normKernels from "../norm.ts";
import * as poolKernels from "../pool.ts";
import * as resizeKernels from "../resize.ts";
import * as softmaxKernels from "../softmax.ts";
import { attentionBackward, softmaxBackward } from "./attention.ts";
import {
  conv2dGeometry,
  conv2dInputGrad,
  conv2dWeightGrad,
  convBiasGrad,
  convTranspose2dGeometry,
  convTranspose2dInputGrad,
  convTranspose2dWeightGrad,
} from "./conv.ts";
import { clampBackward, geluBackward, leakyReluBackward, siluBackward, sumToShape } from "./elementwise.ts";
import { embeddingBackward } from "./embedding.ts";
import { concatBackward, permuteBackward, sliceBackward } from "./layout.ts";
import { linearBiasGrad, linearInputGrad, linearWeightGrad, matmulGradA, matmulGradB } from "./matmul.ts";
import { groupNormBackward, layerNormBackward } from "./norm.ts";
import { maxPool2dBackward } from "./pool.ts";
import { upsampleNearest2xBackward } from "./resize.ts";
import { activeTape } from "./tape.ts";

export type { AttentionOptions } from "../attention.ts";
export type { Conv2dOptions, ConvTranspose2dOptions } from "../conv.ts";
export type { SplitTable } from "../embedding.ts";
export type { MatmulOptions } from "../matmul.ts";
export type { GroupNormOptions } from "../norm.ts";
export type { Pool2dOptions } from "../pool.ts";
export type { SoftmaxOptions } from "../softmax.ts";
export { broadcastShape, erf } from "../elementwise.ts";
export { splitRows } from "../embedding.ts";
export { conv2dReference, convTranspose2dReference } from "../conv.ts";
export { cubicWeights } from "../resize.ts";

/** `dy · alpha`, reduced to `shape` over broadcast axes. */
function scaledToShape(dy: Tensor, alpha: number, shape: readonly number[]): Tensor {
  const reduced = sumToShape(dy, shape);
  if (alpha === 1) return reduced;
  const scaled = elementwiseKernels.affine(reduced, alpha);
  reduced.release();
  return scaled;
}

// Elementwise.

export function add(a: Tensor, b: Tensor, alpha = 1, beta = 1): Tensor {
  const y = elementwiseKernels.add(a, b, alpha, beta);
  activeTape()?.record("add", y, [a, b], (dy, needs) => [
    needs[0] ? scaledToShape(dy, alpha, a.shape) : undefined,
    needs[1] ? scaledToShape(dy, beta, b.shape) : undefined,
  ]);
  return y;
}

export function sub(a: Tensor, b: Tensor): Tensor {
  return add(a, b, 1, -1);
}

export function mul(a: Tensor, b: Tensor, alpha = 1): Tensor {
  const y = elementwiseKernels.mul(a, b, alpha);
  const tape = activeTape();
  if (tape && (tape.requiresGrad(a) || tape.requiresGrad(b))) {
    const savedA = tape.save(a), savedB = tape.save(b);
    tape.record("mul", y, [a, b], (dy, needs) => {
      const grad = (other: Tensor, shape: readonly number[]) => {
        const full = elementwiseKernels.mul(dy, other, alpha);
        const reduced = sumToShape(full, shape);
        full.release();
        return reduced;
      };
      return [needs[0] ? grad(savedB, a.shape) : undefined, needs[1] ? grad(savedA, b.shape) : undefined];
    });
  }
  return y;
}

export function affine(x: Tensor, alpha: number, beta = 0): Tensor {
  const y = elementwiseKernels.affine(x, alpha, beta);
  activeTape()?.record("affine", y, [x], (dy) => [elementwiseKernels.affine(dy, alpha)]);
  return y;
}

export function copy(x: Tensor): Tensor {
  return affine(x, 1, 0);
}

/** Records a unary op whose backward needs its input. */
function unary(op: string, x: Tensor, y: Tensor, backward: (x: Tensor, dy: Tensor) => Tensor): Tensor {
  const tape = activeTape();
  if (tape?.requiresGrad(x)) {
    const saved = tape.save(x);
    tape.record(op, y, [x], (dy) => [backward(saved, dy)]);
  }
  return y;
}

export function silu(x: Tensor): Tensor {
  return unary("silu", x, elementwiseKernels.silu(x), siluBackward);
}

export function gelu(x: Tensor): Tensor {
  return unary("gelu", x, elementwiseKernels.gelu(x), geluBackward);
}

export function clamp(x: Tensor, low: number, high: number): Tensor {
  return unary(
    "clamp",
    x,
    elementwiseKernels.clamp(x, low, high),
    (saved, dy) => clampBackward(saved, dy, low, high),
  );
}

/** Leaky ReLU with negative slope `slope` (the patch discriminator's 0.2). */
export function leakyRelu(x: Tensor, slope: number): Tensor {
  return unary(
    "leakyRelu",
    x,
    elementwiseKernels.leakyRelu(x, slope),
    (saved, dy) => leakyReluBackward(saved, dy, slope),
  );
}

export function relu(x: Tensor): Tensor {
  return leakyRelu(x, 0);
}

// Convolutions.

export function conv2d(
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  options: convKernels.Conv2dOptions = {},
): Tensor {
  const y = convKernels.conv2d(x, w, b, options);
  const tape = activeTape();
  const residual = options.residual;
  if (tape && [x, w, b, residual].some((t) => tape.requiresGrad(t))) {
    const geometry = conv2dGeometry(options);
    const savedX = tape.requiresGrad(w) ? tape.save(x) : undefined;
    const savedW = tape.requiresGrad(x) ? tape.save(w) : undefined;
    const inputShape = x.shape, weightShape = w.shape;
    tape.record("conv2d", y, [x, w, b, residual], (dy, needs) => [
      needs[0] ? conv2dInputGrad(dy, savedW!, inputShape, geometry) : undefined,
      needs[1] ? conv2dWeightGrad(savedX!, dy, weightShape, geometry) : undefined,
      needs[2] ? convBiasGrad(dy) : undefined,
      needs[3] ? elementwiseKernels.copy(dy) : undefined,
    ]);
  }
  return y;
}

export function convTranspose2d(
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  options: convKernels.ConvTranspose2dOptions = {},
): Tensor {
  const y = convKernels.convTranspose2d(x, w, b, options);
  const tape = activeTape();
  if (tape && [x, w, b].some((t) => tape.requiresGrad(t))) {
    const geometry = convTranspose2dGeometry(options);
    const savedX = tape.requiresGrad(w) ? tape.save(x) : undefined;
    const savedW = tape.requiresGrad(x) ? tape.save(w) : undefined;
    const weightShape = w.shape;
    tape.record("convTranspose2d", y, [x, w, b], (dy, needs) => [
      needs[0] ? convTranspose2dInputGrad(dy, savedW!, geometry) : undefined,
      needs[1] ? convTranspose2dWeightGrad(savedX!, dy, weightShape, geometry) : undefined,
      needs[2] ? convBiasGrad(dy) : undefined,
    ]);
  }
  return y;
}

// Layout.

export function concat(tensors: Tensor[], axis: number): Tensor {
  const y = layoutKernels.concat(tensors, axis);
  const lengths = tensors.map((t) => t.shape[axis < 0 ? axis + t.shape.length : axis]);
  activeTape()?.record("concat", y, [...tensors], (dy, needs) => {
    const parts = concatBackward(dy, axis, lengths);
    return parts.map((part, i) => {
      if (needs[i]) return part;
      part.release();
      return undefined;
    });
  });
  return y;
}

export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const y = layoutKernels.slice(x, axis, start, end);
  const shape = x.shape;
  activeTape()?.record("slice", y, [x], (dy) => [sliceBackward(dy, shape, axis, start, end)]);
  return y;
}

export function permute(x: Tensor, perm: number[]): Tensor {
  const y = layoutKernels.permute(x, perm);
  const order = [...perm];
  activeTape()?.record("permute", y, [x], (dy) => [permuteBackward(dy, order)]);
  return y;
}

// Matrix products.

export function matmul(a: Tensor, b: Tensor, options: matmulKernels.MatmulOptions = {}): Tensor {
  const y = matmulKernels.matmul(a, b, options);
  const tape = activeTape();
  if (tape && (tape.requiresGrad(a) || tape.requiresGrad(b))) {
    const savedA = tape.save(a), savedB = tape.save(b);
    const settings = { ...options };
    tape.record("matmul", y, [a, b], (dy, needs) => [
      needs[0] ? matmulGradA(dy, savedA, savedB, settings) : undefined,
      needs[1] ? matmulGradB(dy, savedA, savedB, settings) : undefined,
    ]);
  }
  return y;
}

export function linear(x: Tensor, w: Tensor, b?: Tensor): Tensor {
  const y = matmulKernels.linear(x, w, b);
  const tape = activeTape();
  if (tape && [x, w, b].some((t) => tape.requiresGrad(t))) {
    const savedX = tape.requiresGrad(w) ? tape.save(x) : undefined;
    const savedW = tape.requiresGrad(x) ? tape.save(w) : undefined;
    const inputShape = x.shape;
    tape.record("linear", y, [x, w, b], (dy, needs) => [
      needs[0] ? linearInputGrad(dy, savedW!, inputShape) : undefined,
      needs[1] ? linearWeightGrad(dy, savedX!) : undefined,
      needs[2] ? linearBiasGrad(dy) : undefined,
    ]);
  }
  return y;
}

// Attention and softmax.

export function attention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  scale: number,
  options: attentionKernels.AttentionOptions = {},
): Tensor {
  const y = attentionKernels.attention(q, k, v, scale, options);
  const tape = activeTape();
  if (tape && [q, k, v].some((t) => tape.requiresGrad(t))) {
    const [savedQ, savedK, savedV] = [tape.save(q), tape.save(k), tape.save(v)];
    tape.record("attention", y, [q, k, v], (dy, needs) => {
      const g = attentionBackward(savedQ, savedK, savedV, scale, dy, {
        q: needs[0],
        k: needs[1],
        v: needs[2],
      });
      return [g.dq, g.dk, g.dv];
    });
  }
  return y;
}

export function softmax(x: Tensor, options: softmaxKernels.SoftmaxOptions = {}): Tensor {
  const y = softmaxKernels.softmax(x, options);
  const tape = activeTape();
  if (tape?.requiresGrad(x)) {
    const savedY = tape.save(y);
    const scale = options.scale ?? 1;
    tape.record("softmax", y, [x], (dy) => [softmaxBackward(savedY, dy, scale)]);
  }
  return y;
}

// Embedding.

export function embedding(ids: Int32Array | number[], table: Tensor | embeddingKernels.SplitTable): Tensor {
  const y = embeddingKernels.embedding(ids, table);
  const chunks = "chunks" in table ? table.chunks : [table];
  const copyOfIds = Int32Array.from(ids);
  const chunkRows = chunks.map((c) => c.shape[0]);
  activeTape()?.record("embedding", y, [...chunks], (dy) => embeddingBackward(copyOfIds, dy, chunkRows));
  return y;
}

// Normalisation.

export function groupNorm(
  x: Tensor,
  groups: number,
  gamma: Tensor,
  beta: Tensor,
  eps: number,
  options: normKernels.GroupNormOptions = {},
): Tensor {
  const y = normKernels.groupNorm(x, groups, gamma, beta, eps, options);
  const tape = activeTape();
  if (tape && [x, gamma, beta].some((t) => tape.requiresGrad(t))) {
    const [savedX, savedGamma, savedBeta] = [tape.save(x), tape.save(gamma), tape.save(beta)];
    const silu = options.silu ?? false;
    tape.record("groupNorm", y, [x, gamma, beta], (dy, needs) => {
      const g = groupNormBackward(savedX, groups, savedGamma, savedBeta, eps, silu, dy);
      return keepNeeded([g.dx, g.dgamma, g.dbeta], needs);
    });
  }
  return y;
}

/**
 * BatchNorm in training mode (the only mode training uses): each channel of
 * x [N, C, H, W] normalised by its mean and biased variance over N, H and W, then
 * scaled by gamma and shifted by beta. It runs as a GroupNorm with one group per
 * channel on x laid out channels first, so its backward is GroupNorm's. Running
 * statistics are not kept.
 */
export function batchNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
  if (x.shape.length !== 4) {
    throw new Error(`batchNorm: input must have rank 4 (NCHW), got ${x.shape.length} axes`);
  }
  const [N, C, H, W] = x.shape;
  const channelsFirst = permute(x, [1, 0, 2, 3]);
  const grouped = channelsFirst.reshape([1, C, N * H, W]);
  const normalised = groupNorm(grouped, C, gamma, beta, eps);
  const back = normalised.reshape([C, N, H, W]);
  const y = permute(back, [1, 0, 2, 3]);
  for (const t of [channelsFirst, grouped, normalised, back]) t.release();
  return y;
}

export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
  const y = normKernels.layerNorm(x, gamma, beta, eps);
  const tape = activeTape();
  if (tape && [x, gamma, beta].some((t) => tape.requiresGrad(t))) {
    const [savedX, savedGamma, savedBeta] = [tape.save(x), tape.save(gamma), tape.save(beta)];
    tape.record("layerNorm", y, [x, gamma, beta], (dy, needs) => {
      const g = layerNormBackward(savedX, savedGamma, savedBeta, eps, dy);
      return keepNeeded([g.dx, g.dgamma, g.dbeta], needs);
    });
  }
  return y;
}

// Pooling.

export function maxPool2d(x: Tensor, options: poolKernels.Pool2dOptions): Tensor {
  const y = poolKernels.maxPool2d(x, options);
  const tape = activeTape();
  if (tape?.requiresGrad(x)) {
    const saved = tape.save(x);
    tape.record("maxPool2d", y, [x], (dy) => [maxPool2dBackward(saved, dy, options)]);
  }
  return y;
}

// Resizing.

export function upsampleNearest2x(x: Tensor): Tensor {
  const y = resizeKernels.upsampleNearest2x(x);
  activeTape()?.record("upsampleNearest2x", y, [x], (dy) => [upsampleNearest2xBackward(dy)]);
  return y;
}

/**
 * Bicubic resize. It has no backward: it only prepares conditioning images, which
 * no gradient reaches, so a call on a tensor that needs one is an error.
 */
export function resizeBicubic(x: Tensor, outHeight: number, outWidth: number): Tensor {
  if (activeTape()?.requiresGrad(x)) {
    throw new Error("resizeBicubic: no backward is implemented; its input must not need a gradient");
  }
  return resizeKernels.resizeBicubic(x, outHeight, outWidth);
}

/** Releases the gradients no input needs and returns the list with them undefined. */
function keepNeeded(grads: Tensor[], needs: boolean[]): (Tensor | undefined)[] {
  return grads.map((g, i) => {
    if (needs[i]) return g;
    g.release();
    return undefined;
  });
}
