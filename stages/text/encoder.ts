/**
 * The report encoder of the report-conditioned model: the reference
 * `BERTEmbedder`, which is an x-transformers `TransformerWrapper` over a
 * pre-norm `Encoder` (no relation to BERT's weights beyond the tokenizer). It
 * turns token ids [N, L] into the context [N, L, width] the U-Net attends to.
 *
 * x = token_emb[ids] + pos_emb[0…L−1] (neither scaled), then per layer
 * x += Attention(LayerNorm x) and x += FeedForward(LayerNorm x), then a final
 * LayerNorm. Attention has 8 heads of 64 whatever the width, scale 64^−1/2 and
 * no padding mask. Its q, k and v are 512 wide without bias, and to_out has a bias.
 * The feed-forward is Linear(width, 4·width) → GELU (exact erf) →
 * Linear(4·width, width). LayerNorms use eps 1e-5.
 *
 * @example
 * ```ts
 * const encoder = new TextEncoder(config.textEncoder, weights);
 * const context = encoder.context(ids, 2); // ids: Int32Array of 2 × 150 token ids → [2, 150, 1280]
 * ```
 */
import { add, attention, embedding, gelu, layerNorm, linear, slice, type SplitTable } from "../../kernels/grad/ops.ts";
import type { Tensor } from "../../gpu/tensor.ts";
import { CheffError } from "../../io/errors.ts";
import { mergeHeads, splitHeads } from "../latent/unet.ts";
import { ParameterList, type Weights } from "../weights.ts";
import type { TextEncoderConfig } from "./config.ts";

const LAYER_NORM_EPS = 1e-5;

/** The token table's name; the loader may upload it in row chunks (it can exceed one storage binding). */
export const TOKEN_TABLE = "token_emb.weight";

/**
 * Lists every parameter the config implies, with the reference's names under
 * `cond_stage_model.transformer.`. The unused output layer `to_logits` is not
 * listed: loaders count its keys as ignored.
 */
export function textEncoderParameters(config: TextEncoderConfig): ParameterList {
  const list = new ParameterList();
  const { width, heads, headWidth } = config;
  const inner = heads * headWidth;
  list.add(TOKEN_TABLE, [config.vocabularySize, width]);
  list.add("pos_emb.emb.weight", [config.maxSeqLen, width]);
  for (let i = 0; i < config.layers; i++) {
    const attention = `attn_layers.layers.${2 * i}`;
    list.norm(`${attention}.0`, width);
    list.linear(`${attention}.1.to_q`, width, inner, false);
    list.linear(`${attention}.1.to_k`, width, inner, false);
    list.linear(`${attention}.1.to_v`, width, inner, false);
    list.linear(`${attention}.1.to_out`, inner, width);

    const feedForward = `attn_layers.layers.${2 * i + 1}`;
    list.norm(`${feedForward}.0`, width);
    list.linear(`${feedForward}.1.net.0.0`, width, 4 * width);
    list.linear(`${feedForward}.1.net.2`, 4 * width, width);
  }
  list.norm("norm", width);
  return list;
}

export class TextEncoder {
  /**
   * `tokenTable` replaces the `token_emb.weight` entry of `weights` when the
   * table had to be uploaded in row chunks.
   */
  constructor(
    readonly config: TextEncoderConfig,
    readonly weights: Weights,
    readonly tokenTable: Tensor | SplitTable = weights.get(TOKEN_TABLE),
  ) {}

  /** Encodes `n` reports of L = ids.length / n token ids each (L ≤ max_seq_len) into the context [n, L, width]. */
  context(ids: Int32Array, n: number): Tensor {
    const { config } = this;
    const length = ids.length / n;
    if (!Number.isInteger(n) || n < 1 || !Number.isInteger(length) || length < 1) {
      throw new CheffError(
        `text encoder: ${ids.length} token ids do not split into ${n} reports of equal length`,
      );
    }
    if (length > config.maxSeqLen) {
      throw new CheffError(
        `text encoder: ${length} tokens per report exceed the model's ${config.maxSeqLen} positions`,
      );
    }
    for (const [i, id] of ids.entries()) {
      if (id < 0 || id >= config.vocabularySize) {
        throw new CheffError(
          `text encoder: token id ${id} at position ${i} is outside the vocabulary of ${config.vocabularySize}`,
        );
      }
    }

    const tokens = embedding(ids, this.tokenTable);
    const tokens3d = tokens.reshape([n, length, config.width]);
    tokens.release();
    const positions = this.positions(length);
    let x = add(tokens3d, positions);
    tokens3d.release();
    positions.release();

    for (let i = 0; i < config.layers; i++) {
      x = this.residual(x, this.selfAttention(`attn_layers.layers.${2 * i}`, x));
      x = this.residual(x, this.feedForward(`attn_layers.layers.${2 * i + 1}`, x));
    }
    return this.replace(
      x,
      layerNorm(x, this.weight("norm.weight"), this.weight("norm.bias"), LAYER_NORM_EPS),
    );
  }

  /** Releases the uploaded weights. */
  release(): void {
    if (this.tokenTable !== this.weights.tensors.get(TOKEN_TABLE)) this.tokenTable.release();
    this.weights.release();
  }

  /** Copies the first `length` rows of the learned position table, [length, width]. */
  private positions(length: number): Tensor {
    const table = this.weight("pos_emb.emb.weight");
    return slice(table, 0, 0, length);
  }

  /** Pre-norm self-attention of layer `name` (LayerNorm at `.0`, Attention at `.1`). */
  private selfAttention(name: string, x: Tensor): Tensor {
    const { heads, headWidth } = this.config;
    const [n, length] = x.shape;
    const normed = layerNorm(
      x,
      this.weight(`${name}.0.weight`),
      this.weight(`${name}.0.bias`),
      LAYER_NORM_EPS,
    );
    const q = splitHeads(linear(normed, this.weight(`${name}.1.to_q.weight`)), heads, headWidth);
    const k = splitHeads(linear(normed, this.weight(`${name}.1.to_k.weight`)), heads, headWidth);
    const v = splitHeads(linear(normed, this.weight(`${name}.1.to_v.weight`)), heads, headWidth);
    normed.release();
    const o = attention(q, k, v, 1 / Math.sqrt(headWidth));
    q.release();
    k.release();
    v.release();
    const merged = mergeHeads(o, n, length, heads, headWidth);
    o.release();
    const out = linear(merged, this.weight(`${name}.1.to_out.weight`), this.weight(`${name}.1.to_out.bias`));
    merged.release();
    return out;
  }

  /** Pre-norm feed-forward of layer `name`: Linear → GELU → Linear. */
  private feedForward(name: string, x: Tensor): Tensor {
    const normed = layerNorm(
      x,
      this.weight(`${name}.0.weight`),
      this.weight(`${name}.0.bias`),
      LAYER_NORM_EPS,
    );
    let h = linear(normed, this.weight(`${name}.1.net.0.0.weight`), this.weight(`${name}.1.net.0.0.bias`));
    normed.release();
    h = this.replace(h, gelu(h));
    return this.replace(
      h,
      linear(h, this.weight(`${name}.1.net.2.weight`), this.weight(`${name}.1.net.2.bias`)),
    );
  }

  /** x + update, releasing both. */
  private residual(x: Tensor, update: Tensor): Tensor {
    const out = add(x, update);
    x.release();
    update.release();
    return out;
  }

  private weight(name: string): Tensor {
    return this.weights.get(name);
  }

  private replace(old: Tensor, result: Tensor): Tensor {
    if (old !== result) old.release();
    return result;
  }
}
