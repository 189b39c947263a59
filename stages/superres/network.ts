/**
 * The SR3-style super-resolution U-Net of Cheff (the reference's `Unet` in
 * `cheff/sr/model.py`), built from a config out of kernel calls. Tensors are
 * NCHW float32. The input is [noisy image, bicubic-upsampled low-resolution
 * image] concatenated on the channel axis; the output is the predicted noise.
 *
 * Data flow for L levels with dims = [init_dim, dim·dim_mults…]:
 * - a 7×7 input convolution to init_dim channels;
 * - down level i: two residual blocks (dims[i] → dims[i+1]), linear attention
 *   when `hasLinearAttention(i)`, a skip taken there, then a 4×4 stride-2
 *   convolution except at the last level;
 * - middle: residual block, full softmax attention (when num_attention_layer ≥ 1),
 *   residual block;
 * - up entry j (0 … L−2): concatenate [path, skip of level L−1−j], two residual
 *   blocks, linear attention when `hasLinearAttention(j)`, then a 4×4 stride-2
 *   transposed convolution on every entry. The skip of level 0 is never used.
 * - a residual pair of blocks without time input, then a 1×1 convolution.
 *
 * Linear attention runs one head at a time (32 channels), so no tensor contains
 * all 384 q/k/v channels. At 512 px those would be 384 MiB per image, over the
 * 128 MiB storage binding limit of llvmpipe. Activations are released as soon as
 * they are dead.
 */
import { Tensor } from "../../gpu/tensor.ts";
import {
  add,
  attention,
  concat,
  conv2d,
  convTranspose2d,
  gelu,
  groupNorm,
  linear,
  matmul,
  permute,
  silu,
  slice,
  softmax,
} from "../../kernels/grad/ops.ts";
import { ParameterList, type Weights } from "../weights.ts";
import { hasLinearAttention, levelChannels, type SuperResolutionConfig } from "./config.ts";

/** Both attentions use 4 heads of 32 channels, whatever the width. */
export const ATTENTION_HEADS = 4;
export const ATTENTION_HEAD_CHANNELS = 32;
const HIDDEN = ATTENTION_HEADS * ATTENTION_HEAD_CHANNELS;
/** Every GroupNorm of the network, including the one-group norms around attention. */
const NORM_EPS = 1e-5;

/** Lists every parameter the config implies, with the reference's key names. */
export function superResolutionParameters(config: SuperResolutionConfig): ParameterList {
  const list = new ParameterList();
  const dims = levelChannels(config);
  const levels = config.dimMults.length;
  const timeDim = 4 * config.dim;

  const block = (name: string, cin: number, cout: number) => {
    list.conv(`${name}.proj`, cin, cout, 3);
    list.norm(`${name}.norm`, cout);
  };
  const resBlock = (name: string, cin: number, cout: number) => {
    list.linear(`${name}.mlp.1`, timeDim, cout);
    block(`${name}.block1`, cin, cout);
    block(`${name}.block2`, cout, cout);
    if (cin !== cout) list.conv(`${name}.res_conv`, cin, cout, 1);
  };
  const linearAttention = (name: string, c: number) => {
    list.conv(`${name}.fn.fn.to_qkv`, c, 3 * HIDDEN, 1, false);
    list.conv(`${name}.fn.fn.to_out.0`, HIDDEN, c, 1);
    list.norm(`${name}.fn.fn.to_out.1`, c);
    list.norm(`${name}.fn.norm`, c);
  };

  list.conv("init_conv", config.channels, config.initDim, 7);
  list.linear("time_mlp.1", config.dim, timeDim);
  list.linear("time_mlp.3", timeDim, timeDim);
  for (let i = 0; i < levels; i++) {
    const [cin, cout] = [dims[i], dims[i + 1]];
    resBlock(`downs.${i}.0`, cin, cout);
    resBlock(`downs.${i}.1`, cout, cout);
    if (hasLinearAttention(config, i)) linearAttention(`downs.${i}.2`, cout);
    if (i < levels - 1) list.conv(`downs.${i}.3`, cout, cout, 4);
  }
  const mid = dims[levels];
  resBlock("mid_block1", mid, mid);
  if (config.numAttentionLayer >= 1) {
    list.conv("mid_attn.fn.fn.to_qkv", mid, 3 * HIDDEN, 1, false);
    list.conv("mid_attn.fn.fn.to_out", HIDDEN, mid, 1);
    list.norm("mid_attn.fn.norm", mid);
  }
  resBlock("mid_block2", mid, mid);
  for (let j = 0; j < levels - 1; j++) {
    const [cin, cout] = [dims[levels - 1 - j], dims[levels - j]];
    resBlock(`ups.${j}.0`, 2 * cout, cin);
    resBlock(`ups.${j}.1`, cin, cin);
    if (hasLinearAttention(config, j)) linearAttention(`ups.${j}.2`, cin);
    // ConvTranspose2d weights are [in, out, kH, kW]; in = out here.
    list.conv(`ups.${j}.3`, cin, cin, 4);
  }
  block("final_conv.0.fn.0", config.dim, config.dim);
  block("final_conv.0.fn.1", config.dim, config.dim);
  list.conv("final_conv.1", config.dim, config.outDim, 1);
  return list;
}

/**
 * Computes the sinusoidal timestep embedding [N, dim] of raw integer timesteps in
 * float32 as the reference does: freq_k = exp(−k · ln(10000)/(half − 1)),
 * embedding = [sin(t·freq), cos(t·freq)].
 */
export function sinusoidalEmbedding(timesteps: readonly number[], dim: number): Float32Array {
  const f32 = Math.fround;
  const half = Math.floor(dim / 2);
  const step = f32(-Math.log(10000) / (half - 1));
  const frequencies = Float32Array.from({ length: half }, (_, k) => f32(Math.exp(f32(k * step))));
  const out = new Float32Array(timesteps.length * dim);
  timesteps.forEach((t, n) => {
    for (let k = 0; k < half; k++) {
      const angle = f32(t * frequencies[k]);
      out[n * dim + k] = f32(Math.sin(angle));
      out[n * dim + half + k] = f32(Math.cos(angle));
    }
  });
  return out;
}

export class SuperResolutionUnet {
  constructor(readonly config: SuperResolutionConfig, readonly weights: Weights) {}

  /** Frees the uploaded weights (and the per-head weight slices made from them). */
  release(): void {
    this.weights.release();
  }

  /**
   * Predicts the noise eps [N, out_dim, H, W] for x [N, channels, H, W] at the
   * integer timesteps `t` (one per image). H and W must be multiples of `sizeMultiple(config)`.
   */
  forward(x: Tensor, t: readonly number[]): Tensor {
    const { config } = this;
    const levels = config.dimMults.length;
    const [n] = x.shape;
    if (t.length !== n) throw new Error(`SuperResolutionUnet: ${t.length} timesteps for a batch of ${n}`);

    const time = this.timeEmbedding(t);
    let h = this.conv("init_conv", x);
    const skips: Tensor[] = [];
    for (let i = 0; i < levels; i++) {
      h = this.replace(h, this.resBlock(`downs.${i}.0`, h, time));
      h = this.replace(h, this.resBlock(`downs.${i}.1`, h, time));
      if (hasLinearAttention(config, i)) h = this.replace(h, this.linearAttention(`downs.${i}.2`, h));
      if (i === levels - 1) break;
      const down = conv2d(h, this.weights.get(`downs.${i}.3.weight`), this.weights.get(`downs.${i}.3.bias`), {
        stride: 2,
        padding: 1,
      });
      // The skip of level 0 is pushed by the reference but never popped.
      if (i === 0) h.release();
      else skips.push(h);
      h = down;
    }
    // The deepest level's output is both the middle's input and the first up entry's skip.
    const deepest = h;
    h = this.resBlock("mid_block1", deepest, time);
    if (levels > 1) skips.push(deepest);
    else deepest.release();
    if (config.numAttentionLayer >= 1) h = this.replace(h, this.fullAttention("mid_attn", h));
    h = this.replace(h, this.resBlock("mid_block2", h, time));

    for (let j = 0; j < levels - 1; j++) {
      const skip = skips.pop()!;
      const joined = concat([h, skip], 1);
      h.release();
      skip.release();
      h = this.resBlock(`ups.${j}.0`, joined, time);
      joined.release();
      h = this.replace(h, this.resBlock(`ups.${j}.1`, h, time));
      if (hasLinearAttention(config, j)) h = this.replace(h, this.linearAttention(`ups.${j}.2`, h));
      h = this.replace(
        h,
        convTranspose2d(h, this.weights.get(`ups.${j}.3.weight`), this.weights.get(`ups.${j}.3.bias`), {
          stride: 2,
          padding: 1,
        }),
      );
    }
    time.release();

    const inner = this.block("final_conv.0.fn.0", h);
    const outer = this.replace(inner, this.block("final_conv.0.fn.1", inner));
    const residual = add(outer, h);
    outer.release();
    h.release();
    return this.replace(residual, this.conv("final_conv.1", residual));
  }

  /** SiLU(MLP(sinusoid(t))) [N, 4·dim]: the activated embedding every residual block projects. */
  private timeEmbedding(t: readonly number[]): Tensor {
    const dim = this.config.dim;
    const sinusoid = Tensor.from(this.weights.gpu, [t.length, dim], sinusoidalEmbedding(t, dim));
    let h = linear(sinusoid, this.weights.get("time_mlp.1.weight"), this.weights.get("time_mlp.1.bias"));
    sinusoid.release();
    h = this.replace(h, gelu(h));
    h = this.replace(
      h,
      linear(h, this.weights.get("time_mlp.3.weight"), this.weights.get("time_mlp.3.bias")),
    );
    return this.replace(h, silu(h));
  }

  /** Block: 3×3 convolution → GroupNorm(block_groups) → SiLU. */
  private block(name: string, x: Tensor): Tensor {
    const h = this.conv(`${name}.proj`, x);
    const out = groupNorm(
      h,
      this.config.blockGroups,
      this.weights.get(`${name}.norm.weight`),
      this.weights.get(`${name}.norm.bias`),
      NORM_EPS,
      { silu: true },
    );
    h.release();
    return out;
  }

  /** ResnetBlock: block2(block1(x) + Linear(time)) + shortcut(x); the time shift comes after block1's SiLU. */
  private resBlock(name: string, x: Tensor, time: Tensor): Tensor {
    let h = this.block(`${name}.block1`, x);
    const projected = linear(
      time,
      this.weights.get(`${name}.mlp.1.weight`),
      this.weights.get(`${name}.mlp.1.bias`),
    );
    const shift = projected.reshape([projected.shape[0], projected.shape[1], 1, 1]);
    projected.release();
    h = this.replace(h, add(h, shift));
    shift.release();
    h = this.replace(h, this.block(`${name}.block2`, h));
    if (!this.weights.has(`${name}.res_conv.weight`)) return this.replace(h, add(h, x));
    const shortcut = this.conv(`${name}.res_conv`, x);
    const out = add(h, shortcut);
    h.release();
    shortcut.release();
    return out;
  }

  /**
   * x + LinearAttention(GroupNorm(1)(x)). Per head of 32 channels: q is
   * softmaxed over its channels at each position, k over all positions, then
   * q is scaled by 32^−½; context = k vᵀ [32, 32] and out = contextᵀ q. The output
   * convolution is applied head by head and summed, then GroupNorm(1).
   */
  private linearAttention(name: string, x: Tensor): Tensor {
    const [n, c, height, width] = x.shape;
    const positions = height * width;
    const d = ATTENTION_HEAD_CHANNELS;
    const prefix = `${name}.fn.fn`;
    const normed = groupNorm(
      x,
      1,
      this.weights.get(`${name}.fn.norm.weight`),
      this.weights.get(`${name}.fn.norm.bias`),
      NORM_EPS,
    );
    const qkvWeight = this.weights.get(`${prefix}.to_qkv.weight`);
    const outWeight = this.weights.get(`${prefix}.to_out.0.weight`);

    let projected: Tensor | undefined;
    for (let head = 0; head < ATTENTION_HEADS; head++) {
      const part = (index: number) => {
        const w = weightSlice(qkvWeight, 0, index * HIDDEN + head * d, d);
        const y = conv2d(normed, w, undefined);
        const flat = y.reshape([n, d, positions]);
        y.release();
        return flat;
      };
      const q = part(0), k = part(1), v = part(2);

      // Softmax of k over positions: rows of [N·32, P].
      const kRows = k.reshape([n * d, positions]);
      k.release();
      const kSoft = softmax(kRows);
      kRows.release();
      const kSoftBatched = kSoft.reshape([n, d, positions]);
      kSoft.release();
      const context = matmul(kSoftBatched, v, { transposeB: true }); // [N, d, e]
      kSoftBatched.release();
      v.release();

      // Softmax of q over its 32 channels: positions become rows.
      const qRows = permute(q, [0, 2, 1]); // [N, P, d]
      q.release();
      const qSoft = softmax(qRows);
      qRows.release();
      const outRows = matmul(qSoft, context, { alpha: 1 / Math.sqrt(d) }); // [N, P, e]
      qSoft.release();
      context.release();
      const out = permute(outRows, [0, 2, 1]); // [N, e, P]
      outRows.release();
      const image = out.reshape([n, d, height, width]);
      out.release();

      // to_out.0 summed over heads: W[:, head·32 … head·32+31] · out_head (+ bias once).
      const w = weightSlice(outWeight, 1, head * d, d);
      const next = conv2d(image, w, projected ? undefined : this.weights.get(`${prefix}.to_out.0.bias`), {
        residual: projected,
      });
      image.release();
      projected?.release();
      projected = next;
    }
    normed.release();

    const normedOut = groupNorm(
      projected!,
      1,
      this.weights.get(`${prefix}.to_out.1.weight`),
      this.weights.get(`${prefix}.to_out.1.bias`),
      NORM_EPS,
    );
    projected!.release();
    const result = add(normedOut, x);
    normedOut.release();
    if (c !== result.shape[1]) throw new Error(`${name}: channel count changed`);
    return result;
  }

  /** x + to_out(softmax attention over positions of GroupNorm(1)(x)), 4 heads of 32, no norm after to_out. */
  private fullAttention(name: string, x: Tensor): Tensor {
    const [n, , height, width] = x.shape;
    const positions = height * width;
    const d = ATTENTION_HEAD_CHANNELS;
    const normed = groupNorm(
      x,
      1,
      this.weights.get(`${name}.fn.norm.weight`),
      this.weights.get(`${name}.fn.norm.bias`),
      NORM_EPS,
    );
    const qkv = conv2d(normed, this.weights.get(`${name}.fn.fn.to_qkv.weight`), undefined);
    normed.release();
    const tokens = (index: number) => {
      const part = slice(qkv, 1, index * HIDDEN, (index + 1) * HIDDEN);
      const heads = part.reshape([n, ATTENTION_HEADS, d, positions]);
      part.release();
      const rows = permute(heads, [0, 1, 3, 2]); // [N, heads, P, d]
      heads.release();
      const batched = rows.reshape([n * ATTENTION_HEADS, positions, d]);
      rows.release();
      return batched;
    };
    const q = tokens(0), k = tokens(1), v = tokens(2);
    qkv.release();
    const o = attention(q, k, v, 1 / Math.sqrt(d));
    q.release();
    k.release();
    v.release();
    const heads = o.reshape([n, ATTENTION_HEADS, positions, d]);
    o.release();
    const channels = permute(heads, [0, 1, 3, 2]); // [N, heads, d, P]: channel = head·32 + d
    heads.release();
    const image = channels.reshape([n, HIDDEN, height, width]);
    channels.release();
    const out = conv2d(
      image,
      this.weights.get(`${name}.fn.fn.to_out.weight`),
      this.weights.get(`${name}.fn.fn.to_out.bias`),
      {
        residual: x,
      },
    );
    image.release();
    return out;
  }

  /** A convolution with "same" padding for its (odd) kernel size. */
  private conv(name: string, x: Tensor): Tensor {
    const w = this.weights.get(`${name}.weight`);
    return conv2d(x, w, this.weights.get(`${name}.bias`), { padding: (w.shape[2] - 1) / 2 });
  }

  /** Releases `old` (unless it is the result) and returns `result`: h = replace(h, f(h)). */
  private replace(old: Tensor, result: Tensor): Tensor {
    if (old !== result) old.release();
    return result;
  }
}

/**
 * Returns `length` entries of a weight along `axis` from `start`, copied once and
 * kept in the weight's `derived` map, so it is released with the weight.
 */
function weightSlice(w: Tensor, axis: number, start: number, length: number): Tensor {
  const key = `slice:${axis}:${start}:${length}`;
  let part = w.derived.get(key);
  if (!part) {
    part = slice(w, axis, start, start + length);
    w.derived.set(key, part);
  }
  return part;
}
