/**
 * The latent-diffusion U-Net (the reference `UNetModel` of CompVis latent
 * diffusion, as Cheff configures it): it predicts the noise eps in a noisy
 * latent x_t, given the timestep t and, for the report-conditioned model, a
 * text context it attends to.
 *
 * Tensors are NCHW float32. Every 3×3 convolution has stride 1 and padding 1
 * unless stated otherwise. GroupNorm has 32 groups, with eps 1e-5 in ResBlocks,
 * legacy attention blocks and the `out` head, and eps 1e-6 at the input of a
 * SpatialTransformer. LayerNorms use eps 1e-5.
 *
 * @example
 * ```ts
 * const unet = new UNet(config.unet, weights);
 * const eps = unet.eps(xt, [901, 901], context); // xt [2, 3, 64, 64], context [2, 150, 1280]
 * ```
 */
import {
  add,
  attention,
  concat,
  conv2d,
  gelu,
  groupNorm,
  layerNorm,
  linear,
  mul,
  permute,
  silu,
  slice,
  upsampleNearest2x,
} from "../../kernels/grad/ops.ts";
import { shapeString, Tensor } from "../../gpu/tensor.ts";
import { CheffError } from "../../io/errors.ts";
import { ParameterList, type Weights } from "../weights.ts";
import type { UNetConfig } from "./config.ts";

const GROUPS = 32;
/** GroupNorm32 of ResBlocks, legacy attention and the output head. */
const GROUP_NORM_EPS = 1e-5;
/** The SpatialTransformer's input GroupNorm (the reference's `Normalize`). */
const TRANSFORMER_GROUP_NORM_EPS = 1e-6;
const LAYER_NORM_EPS = 1e-5;
/** The sinusoid's longest period, in timesteps. */
const MAX_PERIOD = 10000;

/** One module of a U-Net block, named by its state-dict prefix (e.g. `input_blocks.4.1`). */
type Layer =
  | { kind: "conv"; name: string; inChannels: number; outChannels: number }
  | { kind: "resBlock"; name: string; inChannels: number; outChannels: number }
  | { kind: "attentionBlock"; name: string; channels: number; heads: number }
  | {
    kind: "spatialTransformer";
    name: string;
    channels: number;
    heads: number;
    headWidth: number;
    depth: number;
    contextDim: number;
  }
  | { kind: "downsample"; name: string; channels: number }
  | { kind: "upsample"; name: string; channels: number };

/** The U-Net's modules in the order they run, as the reference builds them from its config. */
export interface UNetLayout {
  /** `input_blocks.i`: each block's output is kept as a skip tensor. */
  inputBlocks: Layer[][];
  middleBlock: Layer[];
  /** `output_blocks.i`: each block first concatenates [h, skip] along channels. */
  outputBlocks: Layer[][];
  /** Channels entering the `out` head. */
  outChannels: number;
}

/**
 * Builds the attention module of a level with `channels` channels. The head
 * count follows the reference. When num_head_channels is set, it fixes the head
 * width. Otherwise num_heads fixes the count (num_heads_upsample in the
 * decoder's legacy blocks), and `legacy` changes how the head width is derived.
 */
function attentionLayer(config: UNetConfig, name: string, channels: number, decoder: boolean): Layer {
  let heads = config.numHeads;
  let headWidth: number;
  if (config.numHeadChannels === -1) {
    headWidth = Math.floor(channels / heads);
  } else {
    heads = Math.floor(channels / config.numHeadChannels);
    headWidth = config.numHeadChannels;
  }
  if (config.legacy) {
    headWidth = config.useSpatialTransformer ? Math.floor(channels / heads) : config.numHeadChannels;
  }

  if (config.useSpatialTransformer) {
    if (heads < 1 || headWidth < 1) {
      throw new CheffError(
        `unet_config: ${channels} channels cannot be split into ${heads} heads at ${name}`,
      );
    }
    return {
      kind: "spatialTransformer",
      name,
      channels,
      heads,
      headWidth,
      depth: config.transformerDepth,
      contextDim: config.contextDim!,
    };
  }

  // The legacy AttentionBlock takes its head count from its own num_heads argument unless it is given a head width.
  let blockHeads = channels / headWidth;
  if (headWidth === -1) blockHeads = decoder ? config.numHeadsUpsample : config.numHeads;
  if (!Number.isInteger(blockHeads) || blockHeads < 1 || channels % blockHeads !== 0) {
    throw new CheffError(`unet_config: ${channels} channels cannot be split into attention heads at ${name}`);
  }
  return { kind: "attentionBlock", name, channels, heads: blockHeads };
}

/** Works out every block of the U-Net from its config, as the reference's constructor does. */
export function unetLayout(config: UNetConfig): UNetLayout {
  const { modelChannels, channelMult, numResBlocks, attentionResolutions } = config;
  const inputBlocks: Layer[][] = [[{
    kind: "conv",
    name: "input_blocks.0.0",
    inChannels: config.inChannels,
    outChannels: modelChannels,
  }]];
  const skipChannels = [modelChannels];
  let channels = modelChannels;
  let ds = 1;

  for (const [level, mult] of channelMult.entries()) {
    for (let i = 0; i < numResBlocks; i++) {
      const index = inputBlocks.length;
      const block: Layer[] = [{
        kind: "resBlock",
        name: `input_blocks.${index}.0`,
        inChannels: channels,
        outChannels: modelChannels * mult,
      }];
      channels = modelChannels * mult;
      if (attentionResolutions.includes(ds)) {
        block.push(attentionLayer(config, `input_blocks.${index}.1`, channels, false));
      }
      inputBlocks.push(block);
      skipChannels.push(channels);
    }
    if (level !== channelMult.length - 1) {
      inputBlocks.push([{ kind: "downsample", name: `input_blocks.${inputBlocks.length}.0`, channels }]);
      skipChannels.push(channels);
      ds *= 2;
    }
  }

  const middleBlock: Layer[] = [
    { kind: "resBlock", name: "middle_block.0", inChannels: channels, outChannels: channels },
    attentionLayer(config, "middle_block.1", channels, false),
    { kind: "resBlock", name: "middle_block.2", inChannels: channels, outChannels: channels },
  ];

  const outputBlocks: Layer[][] = [];
  for (let level = channelMult.length - 1; level >= 0; level--) {
    for (let i = 0; i < numResBlocks + 1; i++) {
      const index = outputBlocks.length;
      const skip = skipChannels.pop()!;
      const block: Layer[] = [{
        kind: "resBlock",
        name: `output_blocks.${index}.0`,
        inChannels: channels + skip,
        outChannels: modelChannels * channelMult[level],
      }];
      channels = modelChannels * channelMult[level];
      if (attentionResolutions.includes(ds)) {
        block.push(attentionLayer(config, `output_blocks.${index}.1`, channels, true));
      }
      if (level !== 0 && i === numResBlocks) {
        block.push({ kind: "upsample", name: `output_blocks.${index}.${block.length}`, channels });
        ds /= 2;
      }
      outputBlocks.push(block);
    }
  }
  return { inputBlocks, middleBlock, outputBlocks, outChannels: channels };
}

/** Lists every parameter the config implies, with the reference's names (without `model.diffusion_model.`). */
export function unetParameters(config: UNetConfig): ParameterList {
  const list = new ParameterList();
  const timeWidth = 4 * config.modelChannels;
  list.linear("time_embed.0", config.modelChannels, timeWidth);
  list.linear("time_embed.2", timeWidth, timeWidth);

  const declare = (layer: Layer) => {
    const { name } = layer;
    switch (layer.kind) {
      case "conv":
        list.conv(name, layer.inChannels, layer.outChannels, 3);
        break;
      case "resBlock":
        list.norm(`${name}.in_layers.0`, layer.inChannels);
        list.conv(`${name}.in_layers.2`, layer.inChannels, layer.outChannels, 3);
        list.linear(`${name}.emb_layers.1`, timeWidth, layer.outChannels);
        list.norm(`${name}.out_layers.0`, layer.outChannels);
        list.conv(`${name}.out_layers.3`, layer.outChannels, layer.outChannels, 3);
        if (layer.inChannels !== layer.outChannels) {
          list.conv(`${name}.skip_connection`, layer.inChannels, layer.outChannels, 1);
        }
        break;
      case "attentionBlock":
        list.norm(`${name}.norm`, layer.channels);
        list.conv1d(`${name}.qkv`, layer.channels, 3 * layer.channels);
        list.conv1d(`${name}.proj_out`, layer.channels, layer.channels);
        break;
      case "spatialTransformer": {
        const inner = layer.heads * layer.headWidth;
        list.norm(`${name}.norm`, layer.channels);
        list.conv(`${name}.proj_in`, layer.channels, inner, 1);
        for (let d = 0; d < layer.depth; d++) {
          const block = `${name}.transformer_blocks.${d}`;
          const crossAttention = (prefix: string, keyWidth: number) => {
            list.linear(`${prefix}.to_q`, inner, inner, false);
            list.linear(`${prefix}.to_k`, keyWidth, inner, false);
            list.linear(`${prefix}.to_v`, keyWidth, inner, false);
            list.linear(`${prefix}.to_out.0`, inner, inner);
          };
          crossAttention(`${block}.attn1`, inner);
          list.linear(`${block}.ff.net.0.proj`, inner, 8 * inner);
          list.linear(`${block}.ff.net.2`, 4 * inner, inner);
          crossAttention(`${block}.attn2`, layer.contextDim);
          for (const norm of ["norm1", "norm2", "norm3"]) list.norm(`${block}.${norm}`, inner);
        }
        list.conv(`${name}.proj_out`, inner, layer.channels, 1);
        break;
      }
      case "downsample":
        list.conv(`${name}.op`, layer.channels, layer.channels, 3);
        break;
      case "upsample":
        list.conv(`${name}.conv`, layer.channels, layer.channels, 3);
        break;
    }
  };

  const layout = unetLayout(config);
  for (const block of layout.inputBlocks) block.forEach(declare);
  layout.middleBlock.forEach(declare);
  for (const block of layout.outputBlocks) block.forEach(declare);
  list.norm("out.0", layout.outChannels);
  list.conv("out.2", config.modelChannels, config.outChannels, 3);
  return list;
}

/**
 * Computes the sinusoidal timestep embedding [N, dim]: [cos(t·f_i) | sin(t·f_i)] with
 * f_i = exp(−ln(10000)·i/half), i < half = ⌊dim/2⌋ (a zero column is appended
 * when dim is odd). Each step is rounded to float32 because the reference computes
 * in float32: near t = 1000 a float64 argument t·f_i would differ from the
 * reference's by up to half a float32 ulp, about 3e-5 radians.
 */
export function timestepEmbedding(t: readonly number[], dim: number): Float32Array {
  const half = Math.floor(dim / 2);
  const f32 = Math.fround;
  const frequencies = new Float32Array(half);
  const logPeriod = f32(-Math.log(MAX_PERIOD));
  for (let i = 0; i < half; i++) frequencies[i] = f32(Math.exp(f32(f32(logPeriod * i) / half)));

  const out = new Float32Array(t.length * dim);
  for (const [n, step] of t.entries()) {
    const row = n * dim;
    for (let i = 0; i < half; i++) {
      const argument = f32(f32(step) * frequencies[i]);
      out[row + i] = Math.cos(argument);
      out[row + half + i] = Math.sin(argument);
    }
  }
  return out;
}

export class UNet {
  readonly layout: UNetLayout;

  constructor(readonly config: UNetConfig, readonly weights: Weights) {
    this.layout = unetLayout(config);
  }

  /**
   * Predicts the noise in x_t [N, in_channels, h, w] at timesteps `t` (one per
   * item), attending to `context` [N, L, context_dim] when the model is
   * report-conditioned. h and w must be divisible by 2^(levels − 1).
   */
  eps(x: Tensor, t: readonly number[], context?: Tensor): Tensor {
    this.checkInputs(x, t, context);
    const embedding = this.timeEmbedding(x, t);

    const skips: Tensor[] = [];
    let h = x;
    for (const block of this.layout.inputBlocks) {
      h = this.runBlock(block, h, embedding, context);
      skips.push(h);
    }

    h = this.runBlock(this.layout.middleBlock, h, embedding, context);

    for (const block of this.layout.outputBlocks) {
      const skip = skips.pop()!;
      const joined = concat([h, skip], 1);
      h.release();
      skip.release();
      h = this.replace(joined, this.runBlock(block, joined, embedding, context));
    }
    embedding.release();

    const normed = this.groupNorm("out.0", h, GROUP_NORM_EPS, true);
    h.release();
    const eps = this.conv3x3("out.2", normed);
    normed.release();
    return eps;
  }

  /** Releases the uploaded weights. */
  release(): void {
    this.weights.release();
  }

  private checkInputs(x: Tensor, t: readonly number[], context: Tensor | undefined): void {
    const { config } = this;
    const [n, c, height, width] = x.shape;
    const factor = 2 ** (config.channelMult.length - 1);
    if (x.shape.length !== 4 || c !== config.inChannels || height % factor !== 0 || width % factor !== 0) {
      throw new CheffError(
        `U-Net: expected a latent of shape [N, ${config.inChannels}, h, w] with h and w divisible by ${factor}, got ${
          shapeString(x.shape)
        }`,
      );
    }
    if (t.length !== n) throw new CheffError(`U-Net: ${t.length} timesteps for a batch of ${n}`);
    if (config.useSpatialTransformer) {
      if (!context) throw new CheffError("U-Net: this model is report-conditioned and needs a context");
      if (context.shape.length !== 3 || context.shape[0] !== n || context.shape[2] !== config.contextDim) {
        throw new CheffError(
          `U-Net: expected a context of shape [${n}, L, ${config.contextDim}], got ${
            shapeString(context.shape)
          }`,
        );
      }
      if (context.isGpu !== x.isGpu) {
        throw new CheffError("U-Net: the latent and the context live on different devices");
      }
    }
  }

  /**
   * SiLU(time_embed(sinusoid(t))) [N, 4·model_channels]. Every ResBlock starts
   * its own emb_layers with a SiLU of this same vector, so it is applied once here.
   */
  private timeEmbedding(like: Tensor, t: readonly number[]): Tensor {
    const sinusoid = Tensor.from(
      like.gpu,
      [t.length, this.config.modelChannels],
      timestepEmbedding(t, this.config.modelChannels),
    );
    let h = linear(sinusoid, this.weight("time_embed.0.weight"), this.weight("time_embed.0.bias"));
    sinusoid.release();
    h = this.replace(h, silu(h));
    h = this.replace(h, linear(h, this.weight("time_embed.2.weight"), this.weight("time_embed.2.bias")));
    return this.replace(h, silu(h));
  }

  /** Runs the layers of one block in order; the block's input `x` is left to the caller. */
  private runBlock(block: Layer[], x: Tensor, embedding: Tensor, context: Tensor | undefined): Tensor {
    let h = x;
    for (const layer of block) {
      const next = this.runLayer(layer, h, embedding, context);
      if (h !== x) h.release();
      h = next;
    }
    return h;
  }

  private runLayer(layer: Layer, x: Tensor, embedding: Tensor, context: Tensor | undefined): Tensor {
    switch (layer.kind) {
      case "conv":
        return this.conv3x3(layer.name, x);
      case "resBlock":
        return this.resBlock(layer.name, x, embedding);
      case "attentionBlock":
        return this.attentionBlock(layer.name, x, layer.heads);
      case "spatialTransformer":
        return this.spatialTransformer(layer, x, context!);
      case "downsample":
        return conv2d(x, this.weight(`${layer.name}.op.weight`), this.weight(`${layer.name}.op.bias`), {
          stride: 2,
          padding: 1,
        });
      case "upsample": {
        const up = upsampleNearest2x(x);
        const out = this.conv3x3(`${layer.name}.conv`, up);
        up.release();
        return out;
      }
    }
  }

  /**
   * ResBlock: in_layers (GroupNorm → SiLU → conv), plus the projected time
   * embedding per channel, then out_layers (GroupNorm → SiLU → conv), plus the
   * input (through a 1×1 convolution when the channel count changes).
   */
  private resBlock(name: string, x: Tensor, embedding: Tensor): Tensor {
    const [n] = x.shape;
    let h = this.groupNorm(`${name}.in_layers.0`, x, GROUP_NORM_EPS, true);
    h = this.replace(h, this.conv3x3(`${name}.in_layers.2`, h));

    const perChannel = linear(
      embedding,
      this.weight(`${name}.emb_layers.1.weight`),
      this.weight(`${name}.emb_layers.1.bias`),
    );
    const perChannel4d = perChannel.reshape([n, h.shape[1], 1, 1]);
    h = this.replace(h, add(h, perChannel4d));
    perChannel4d.release();
    perChannel.release();

    h = this.replace(h, this.groupNorm(`${name}.out_layers.0`, h, GROUP_NORM_EPS, true));
    const shortcut = this.weights.has(`${name}.skip_connection.weight`)
      ? this.conv(`${name}.skip_connection`, x, 0)
      : x;
    const out = conv2d(
      h,
      this.weight(`${name}.out_layers.3.weight`),
      this.weight(`${name}.out_layers.3.bias`),
      {
        padding: 1,
        residual: shortcut,
      },
    );
    h.release();
    if (shortcut !== x) shortcut.release();
    return out;
  }

  /**
   * Legacy AttentionBlock (QKVAttentionLegacy): self-attention over the H·W
   * positions. The qkv 1×1 convolution's channels are split per head first
   * (channel = head·3d + {q: 0…d−1, k: d…2d−1, v: 2d…3d−1}). The reference scales
   * q and k each by d^−1/4; here the scores are scaled by d^−1/2 once, which is
   * the same product.
   */
  private attentionBlock(name: string, x: Tensor, heads: number): Tensor {
    const [n, c, height, width] = x.shape;
    const positions = height * width;
    const d = c / heads;
    const normed = this.groupNorm(`${name}.norm`, x, GROUP_NORM_EPS, false);
    const qkv = conv2d(normed, this.weights.conv1x1(`${name}.qkv.weight`), this.weight(`${name}.qkv.bias`));
    normed.release();

    // [N, heads, 3, d, T] → [3, N, heads, T, d]: q, k and v each as [N·heads, T, d].
    const qkvView = qkv.reshape([n, heads, 3, d, positions]);
    qkv.release();
    const split = permute(qkvView, [2, 0, 1, 4, 3]);
    qkvView.release();
    const part = (index: number) => {
      const sliced = slice(split, 0, index, index + 1);
      const view = sliced.reshape([n * heads, positions, d]);
      sliced.release();
      return view;
    };
    const q = part(0), k = part(1), v = part(2);
    split.release();

    const o = attention(q, k, v, 1 / Math.sqrt(d));
    q.release();
    k.release();
    v.release();

    // [N·heads, T, d] → [N, heads, d, T] = [N, C, H, W] with channel = head·d + j.
    const oView = o.reshape([n, heads, positions, d]);
    o.release();
    const channelsFirst = permute(oView, [0, 1, 3, 2]);
    oView.release();
    const image = channelsFirst.reshape([n, c, height, width]);
    channelsFirst.release();
    const out = conv2d(
      image,
      this.weights.conv1x1(`${name}.proj_out.weight`),
      this.weight(`${name}.proj_out.bias`),
      {
        residual: x,
      },
    );
    image.release();
    return out;
  }

  /**
   * SpatialTransformer: GroupNorm (eps 1e-6) → proj_in (1×1) → H·W tokens →
   * `depth` BasicTransformerBlocks → proj_out (1×1) → + input. Each block is
   * x += attn1(LN x); x += attn2(LN x, context); x += GEGLU feed-forward(LN x).
   * The context's padding tokens are attended to: the reference masks nothing.
   */
  private spatialTransformer(
    layer: Extract<Layer, { kind: "spatialTransformer" }>,
    x: Tensor,
    context: Tensor,
  ): Tensor {
    const { name, heads, headWidth } = layer;
    const [n, , height, width] = x.shape;
    const inner = heads * headWidth;
    const normed = this.groupNorm(`${name}.norm`, x, TRANSFORMER_GROUP_NORM_EPS, false);
    const projected = this.conv(`${name}.proj_in`, normed, 0);
    normed.release();
    const flat = projected.reshape([n, inner, height * width]);
    projected.release();
    let tokens = permute(flat, [0, 2, 1]);
    flat.release();

    for (let d = 0; d < layer.depth; d++) {
      const block = `${name}.transformer_blocks.${d}`;

      let normedTokens = this.layerNorm(`${block}.norm1`, tokens);
      let update = this.crossAttention(`${block}.attn1`, normedTokens, normedTokens, heads, headWidth);
      normedTokens.release();
      tokens = this.replace(tokens, add(tokens, update));
      update.release();

      normedTokens = this.layerNorm(`${block}.norm2`, tokens);
      update = this.crossAttention(`${block}.attn2`, normedTokens, context, heads, headWidth);
      normedTokens.release();
      tokens = this.replace(tokens, add(tokens, update));
      update.release();

      normedTokens = this.layerNorm(`${block}.norm3`, tokens);
      update = this.gegluFeedForward(`${block}.ff`, normedTokens);
      normedTokens.release();
      tokens = this.replace(tokens, add(tokens, update));
      update.release();
    }

    const channelsFirst = permute(tokens, [0, 2, 1]);
    tokens.release();
    const image = channelsFirst.reshape([n, inner, height, width]);
    channelsFirst.release();
    const out = conv2d(image, this.weight(`${name}.proj_out.weight`), this.weight(`${name}.proj_out.bias`), {
      residual: x,
    });
    image.release();
    return out;
  }

  /**
   * CrossAttention: q from `x` [N, Lq, inner], k and v from `source` [N, Lk, ·]
   * (x itself for self-attention), all without bias, split head-major
   * (channel = head·d + j), scores scaled by d^−1/2, then to_out.0 with bias.
   */
  private crossAttention(name: string, x: Tensor, source: Tensor, heads: number, headWidth: number): Tensor {
    const [n, lq] = x.shape;
    const q = splitHeads(linear(x, this.weight(`${name}.to_q.weight`)), heads, headWidth);
    const k = splitHeads(linear(source, this.weight(`${name}.to_k.weight`)), heads, headWidth);
    const v = splitHeads(linear(source, this.weight(`${name}.to_v.weight`)), heads, headWidth);
    const o = attention(q, k, v, 1 / Math.sqrt(headWidth));
    q.release();
    k.release();
    v.release();
    const merged = mergeHeads(o, n, lq, heads, headWidth);
    o.release();
    const out = linear(merged, this.weight(`${name}.to_out.0.weight`), this.weight(`${name}.to_out.0.bias`));
    merged.release();
    return out;
  }

  /** GEGLU feed-forward: [value | gate] = proj(x), value·GELU(gate) (exact erf GELU), then Linear(4·inner, inner). */
  private gegluFeedForward(name: string, x: Tensor): Tensor {
    const projected = linear(
      x,
      this.weight(`${name}.net.0.proj.weight`),
      this.weight(`${name}.net.0.proj.bias`),
    );
    const axis = projected.shape.length - 1;
    const half = projected.shape[axis] / 2;
    const value = slice(projected, axis, 0, half);
    const gate = slice(projected, axis, half, 2 * half);
    projected.release();
    const activated = gelu(gate);
    gate.release();
    const gated = mul(value, activated);
    value.release();
    activated.release();
    const out = linear(gated, this.weight(`${name}.net.2.weight`), this.weight(`${name}.net.2.bias`));
    gated.release();
    return out;
  }

  private groupNorm(name: string, x: Tensor, eps: number, withSilu: boolean): Tensor {
    return groupNorm(x, GROUPS, this.weight(`${name}.weight`), this.weight(`${name}.bias`), eps, {
      silu: withSilu,
    });
  }

  private layerNorm(name: string, x: Tensor): Tensor {
    return layerNorm(x, this.weight(`${name}.weight`), this.weight(`${name}.bias`), LAYER_NORM_EPS);
  }

  private conv3x3(name: string, x: Tensor): Tensor {
    return this.conv(name, x, 1);
  }

  private conv(name: string, x: Tensor, padding: number): Tensor {
    return conv2d(x, this.weight(`${name}.weight`), this.weight(`${name}.bias`), { padding });
  }

  private weight(name: string): Tensor {
    return this.weights.get(name);
  }

  /** Releases `old` (unless it is the result) and returns `result`: h = replace(h, f(h)). */
  private replace(old: Tensor, result: Tensor): Tensor {
    if (old !== result) old.release();
    return result;
  }
}

/** [N, L, heads·d] → [N·heads, L, d] (head-major channels); releases its input. */
export function splitHeads(x: Tensor, heads: number, headWidth: number): Tensor {
  const [n, length] = x.shape;
  const view = x.reshape([n, length, heads, headWidth]);
  x.release();
  const perHead = permute(view, [0, 2, 1, 3]);
  view.release();
  const out = perHead.reshape([n * heads, length, headWidth]);
  perHead.release();
  return out;
}

/** [N·heads, L, d] → [N, L, heads·d], the inverse of splitHeads; leaves its input alone. */
export function mergeHeads(x: Tensor, n: number, length: number, heads: number, headWidth: number): Tensor {
  const view = x.reshape([n, heads, length, headWidth]);
  const merged = permute(view, [0, 2, 1, 3]);
  view.release();
  const out = merged.reshape([n, length, heads * headWidth]);
  merged.release();
  return out;
}
